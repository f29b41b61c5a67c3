"""One container through every layer: CLI -> API -> daemon -> core -> shim -> runtime."""

from __future__ import annotations

import json
import os


def test_run_echo(daemon) -> None:
    res = daemon.cli("run", "--rm", "busybox", "echo", "hello")
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"hello\n"


def test_exit_code_passes_through(daemon) -> None:
    res = daemon.cli("run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert res.returncode == 3


def test_stdout_and_stderr_kept_apart(daemon) -> None:
    res = daemon.cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert res.stdout == b"out\n" and res.stderr == b"err\n"


def test_stdin_piped(daemon) -> None:
    res = daemon.cli("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z", input=b"shout\n")
    assert res.returncode == 0 and res.stdout == b"SHOUT\n"


def test_container_is_isolated(daemon) -> None:
    res = daemon.cli("run", "--rm", "--hostname", "boxy", "busybox", "sh", "-c",
                     "echo $$; hostname; echo $(ls /sys/class/net); cat /proc/1/cgroup | grep memory")
    lines = res.stdout.decode().splitlines()
    assert lines[0] == "1"
    assert lines[1] == "boxy"
    assert lines[2].split() == ["eth0", "lo"]  # its own namespace on the default bridge
    assert daemon.cgroup_parent in lines[3]


def test_spare_shim_waits_at_low_priority_and_containers_run_at_normal(daemon) -> None:
    """The daemon keeps a spare shim that loads at nice 19 (it must not slow
    the start that spawned it) and then waits at the daemon's own priority, so
    that a start, and the container, run at that one."""
    res = daemon.cli("run", "--rm", "busybox", "sh", "-c", "cut -d' ' -f19 /proc/self/stat /proc/1/stat")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().split() == ["0", "0"]
    import time

    def spares() -> list[tuple[int, bytes]]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                with open(f"/proc/{pid}/stat") as f:
                    nice = int(f.read().rsplit(")", 1)[1].split()[16])
            except (OSError, ValueError, IndexError):
                continue
            if b"standby" in argv and daemon.exec_root.encode() in argv:
                found.append((nice, argv[argv.index(b"--nice") + 1]))
        return found

    # The process the daemon started and the server it forked, once loaded:
    # started at 19, waiting at 0 (a loaded machine may take a while at 19).
    deadline = time.monotonic() + 60
    while (got := spares()) != [(0, b"19"), (0, b"19")] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got == [(0, b"19"), (0, b"19")]


def test_rm_containers_write_a_volatile_layer(daemon) -> None:
    """--rm: the writable layer is thrown away, so it is mounted with
    overlayfs' volatile (no syncfs of the host filesystem at umount); a
    container that stays keeps a durable one."""
    cmd = ("busybox", "sh", "-c", "grep ' / / ' /proc/self/mountinfo")
    rm = daemon.cli("run", "--rm", *cmd)
    kept = daemon.cli("run", "--name", "durable-layer", *cmd)
    daemon.cli("rm", "durable-layer")
    assert rm.returncode == 0 and kept.returncode == 0, (rm.stderr, kept.stderr)
    assert b"overlay" in rm.stdout and b"volatile" in rm.stdout.split(b" - ")[1]
    assert b"overlay" in kept.stdout and b"volatile" not in kept.stdout


def test_unknown_command(daemon) -> None:
    res = daemon.cli("run", "--rm", "busybox", "nosuchcmd")
    assert res.returncode == 127
    assert b'exec: "nosuchcmd": executable file not found in $PATH' in res.stderr
    assert daemon.cli("ps", "-aq").stdout == b""


def test_unknown_image(daemon) -> None:
    res = daemon.cli("run", "--rm", "nosuchimage", "true")
    assert res.returncode == 125
    assert b"Unable to find image 'nosuchimage:latest' locally" in res.stderr


def test_ps_images_rm_version_info(daemon) -> None:
    cid = daemon.cli("create", "--name", "listed", "busybox", "true").stdout.decode().strip()
    ps = daemon.cli("ps", "-a").stdout.decode()
    assert "listed" in ps and cid[:12] in ps and "Created" in ps
    assert "busybox" in daemon.cli("images").stdout.decode()
    assert daemon.cli("rm", "listed").returncode == 0
    assert "listed" not in daemon.cli("ps", "-a").stdout.decode()
    assert b"API version" in daemon.cli("version").stdout
    assert b"Containers: 0" in daemon.cli("info").stdout


def test_detached_logs_stop_and_inspect(daemon) -> None:
    cid = daemon.cli("run", "-d", "--name", "bg", "busybox", "sh", "-c",
                     "echo ready; trap 'exit 0' TERM; while true; do sleep 0.1; done").stdout.decode().strip()
    for _ in range(100):
        if daemon.cli("logs", "bg").stdout == b"ready\n":
            break
    assert daemon.cli("logs", "bg").stdout == b"ready\n"
    info = json.loads(daemon.cli("inspect", "bg").stdout)[0]
    assert info["State"]["Running"] is True and info["State"]["Pid"] > 0
    assert daemon.cli("stop", "bg").returncode == 0
    info = json.loads(daemon.cli("inspect", "bg").stdout)[0]
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 0
    assert daemon.cli("rm", "bg").returncode == 0
    assert not os.path.exists(os.path.join(daemon.data_root, "containers", cid))


def test_missing_daemon_is_one_clear_line(tmp_path) -> None:
    import subprocess
    from _support.paths import binary
    env = dict(os.environ, DOCKYARD_HOST=f"unix://{tmp_path}/nope.sock")
    res = subprocess.run([binary("dockyard"), "ps"], capture_output=True, env=env)
    assert res.returncode != 0
    assert res.stderr.decode().count("\n") == 1 and b"Is the dockyard daemon running?" in res.stderr
