"""The real docker CLI (client only) driving containers, exec, cp, stats,
logs and volumes on dockyardd, interactive sessions through a real pty."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pexpect
import pytest

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")
DOCKER = "/usr/local/bin/docker"


def ok(daemon, *args: str, input: bytes | None = None) -> str:
    res = daemon.docker(*args, input=input)
    assert res.returncode == 0, f"docker {' '.join(args)}: {res.stderr.decode()}"
    return res.stdout.decode()


def test_run_detached_logs_follow_wait_inspect(daemon) -> None:
    cid = ok(daemon, "run", "-d", "--name", "cli-bg", "busybox", "sh", "-c",
             "for i in 1 2 3; do echo line $i; sleep 0.3; done; exit 6").strip()
    follow = subprocess.run([DOCKER, "logs", "-f", "cli-bg"], capture_output=True, env=daemon.env(), timeout=60)
    assert follow.stdout == b"line 1\nline 2\nline 3\n"
    assert ok(daemon, "wait", "cli-bg").strip() == "6"
    info = json.loads(ok(daemon, "inspect", "cli-bg"))[0]
    assert info["Id"] == cid and info["State"]["ExitCode"] == 6 and info["State"]["Status"] == "exited"
    assert ok(daemon, "inspect", "-f", "{{.State.ExitCode}} {{.Config.Cmd}}", "cli-bg").strip() == \
        "6 [sh -c for i in 1 2 3; do echo line $i; sleep 0.3; done; exit 6]"
    assert ok(daemon, "logs", "--tail", "1", "cli-bg") == "line 3\n"
    ok(daemon, "rm", "cli-bg")


def test_restart_stop_kill_pause_rename_update_top_port(daemon) -> None:
    ok(daemon, "run", "-d", "--name", "cli-life", "--restart", "on-failure:2", "busybox", "sleep", "300")
    pid1 = ok(daemon, "inspect", "-f", "{{.State.Pid}}", "cli-life").strip()
    ok(daemon, "restart", "-t", "1", "cli-life")
    assert ok(daemon, "inspect", "-f", "{{.State.Pid}}", "cli-life").strip() != pid1
    ok(daemon, "pause", "cli-life")
    assert "(Paused)" in ok(daemon, "ps", "--filter", "name=cli-life", "--format", "{{.Status}}")
    ok(daemon, "unpause", "cli-life")
    ok(daemon, "rename", "cli-life", "cli-life2")
    ok(daemon, "update", "--memory", "64m", "--memory-swap", "128m", "cli-life2")
    assert ok(daemon, "inspect", "-f", "{{.HostConfig.Memory}}", "cli-life2").strip() == str(64 << 20)
    top = ok(daemon, "top", "cli-life2")
    assert "sleep 300" in top and "PID" in top.splitlines()[0]
    ok(daemon, "stop", "-t", "1", "cli-life2")
    assert ok(daemon, "ps", "-aq", "--filter", "name=cli-life2", "--filter", "status=exited").strip()
    res = daemon.docker("kill", "cli-life2")
    assert res.returncode != 0 and b"is not running" in res.stderr
    ok(daemon, "rm", "cli-life2")


def test_exec_and_stats_no_stream(daemon) -> None:
    ok(daemon, "run", "-d", "--name", "cli-ex", "-m", "50m", "busybox", "sleep", "300")
    assert ok(daemon, "exec", "-e", "X=1", "-w", "/tmp", "-u", "nobody", "cli-ex", "sh", "-c", "echo $X $(pwd) $(id -un)") \
        == "1 /tmp nobody\n"
    assert ok(daemon, "exec", "-i", "cli-ex", "tr", "a-z", "A-Z", input=b"piped in\n") == "PIPED IN\n"
    res = daemon.docker("exec", "cli-ex", "sh", "-c", "exit 9")
    assert res.returncode == 9
    ok(daemon, "exec", "-d", "cli-ex", "touch", "/tmp/bg")
    time.sleep(0.5)
    ok(daemon, "exec", "cli-ex", "test", "-f", "/tmp/bg")
    stats = ok(daemon, "stats", "--no-stream", "cli-ex")
    header, row = stats.splitlines()[:2]
    assert header.split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"] and "cli-ex" in row and "50MiB" in row
    fmt = json.loads(ok(daemon, "stats", "--no-stream", "--format", "{{json .}}", "cli-ex"))
    assert fmt["Name"] == "cli-ex" and fmt["PIDs"] == "1" and fmt["MemUsage"].endswith("/ 50MiB")
    ok(daemon, "rm", "-f", "cli-ex")


def test_cp_both_directions(daemon, tmp_path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("from host\n")
    os.symlink("a.txt", tmp_path / "src" / "link")
    ok(daemon, "run", "-d", "--name", "cli-cp", "busybox", "sh", "-c", "echo inside > /made; sleep 300")
    ok(daemon, "cp", str(tmp_path / "src"), "cli-cp:/tmp/")
    assert ok(daemon, "exec", "cli-cp", "cat", "/tmp/src/link") == "from host\n"
    time.sleep(0.2)
    ok(daemon, "cp", "cli-cp:/made", str(tmp_path / "made"))
    assert (tmp_path / "made").read_text() == "inside\n"
    ok(daemon, "cp", "cli-cp:/tmp/src", str(tmp_path / "back"))
    assert (tmp_path / "back" / "a.txt").read_text() == "from host\n" and os.readlink(tmp_path / "back" / "link") == "a.txt"
    res = daemon.docker("cp", "cli-cp:/nope", str(tmp_path / "x"))
    assert res.returncode != 0 and b"Could not find the file /nope in container cli-cp" in res.stderr
    tar = subprocess.run([DOCKER, "cp", "cli-cp:/made", "-"], capture_output=True, env=daemon.env()).stdout
    import io
    import tarfile
    assert tarfile.open(fileobj=io.BytesIO(tar)).extractfile("made").read() == b"inside\n"
    ok(daemon, "rm", "-f", "cli-cp")


def test_volume_commands(daemon) -> None:
    ok(daemon, "volume", "create", "--label", "k=v", "cli-vol")
    ok(daemon, "volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m",
       "cli-tmpvol")
    ls = ok(daemon, "volume", "ls", "--format", "{{.Driver}} {{.Name}}").splitlines()
    assert "local cli-vol" in ls and "local cli-tmpvol" in ls
    assert ok(daemon, "volume", "ls", "-q", "--filter", "label=k=v").split() == ["cli-vol"]
    info = json.loads(ok(daemon, "volume", "inspect", "cli-tmpvol"))[0]
    assert info["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    ok(daemon, "run", "--rm", "-v", "cli-vol:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert ok(daemon, "run", "--rm", "-v", "cli-vol:/data:ro", "busybox", "cat", "/data/f") == "kept\n"
    ok(daemon, "run", "-d", "--name", "cli-voluser", "-v", "cli-vol:/data", "busybox", "sleep", "300")
    res = daemon.docker("volume", "rm", "cli-vol")
    assert res.returncode == 1 and b"volume is in use" in res.stderr
    ok(daemon, "rm", "-f", "cli-voluser")
    ok(daemon, "volume", "rm", "cli-vol", "cli-tmpvol")
    ok(daemon, "run", "--rm", "-v", "/anon", "busybox", "true")  # --rm takes its anonymous volume along
    assert "cli-vol" not in ok(daemon, "volume", "ls")
    assert "Total reclaimed space" in ok(daemon, "volume", "prune", "-f")


def test_run_it_through_a_pty(daemon) -> None:
    env = daemon.env()
    c = pexpect.spawn(DOCKER, ["run", "-it", "--name", "cli-tty", "busybox", "sh"], env=env, timeout=30)
    try:
        c.expect(r"/ # ")
        c.sendline("echo $TERM; tty")
        c.expect(r"/dev/pts/\d+")
        c.setwinsize(33, 101)
        time.sleep(0.5)
        c.sendline("stty size")
        c.expect("33 101")
        c.send("\x10\x11")  # ctrl-p ctrl-q: detach, the shell keeps running
        c.expect(pexpect.EOF)
    finally:
        c.close()
    assert ok(daemon, "inspect", "-f", "{{.State.Running}}", "cli-tty").strip() == "true"
    e = pexpect.spawn(DOCKER, ["exec", "-it", "cli-tty", "sh"], env=env, timeout=30)
    e.expect(r"# ")
    e.sendline("tty; exit 3")
    e.expect(pexpect.EOF)
    e.close()
    assert e.exitstatus == 3 and b"/dev/pts/" in e.before
    a = pexpect.spawn(DOCKER, ["attach", "cli-tty"], env=env, timeout=30)
    time.sleep(0.5)
    a.sendline("echo back-again")
    a.expect("back-again")
    a.sendline("exit 5")
    a.expect(pexpect.EOF)
    a.close()
    assert a.exitstatus == 5
    ok(daemon, "rm", "cli-tty")


def test_run_rm_init_and_errors(daemon) -> None:
    assert ok(daemon, "run", "--rm", "--init", "busybox", "ps", "-o", "comm").split()[1] == "docker-init"
    res = daemon.docker("run", "--rm", "-m", "1k", "busybox", "true")
    assert res.returncode == 125 and b"Minimum memory limit allowed is 6MB" in res.stderr
    res = daemon.docker("run", "--rm", "busybox", "nosuchcmd")
    assert res.returncode == 127
    assert ok(daemon, "ps", "-aq") == ""
