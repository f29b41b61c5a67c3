"""Container commands beyond run/ps, end to end through the CLI: exec, cp,
stats, top, pause, restart, rename, update, diff, export, commit, volumes,
system df, prune, and HostConfig flags seen from inside the container."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time

import pexpect

from _support.paths import binary


def ok(res) -> str:
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout.decode()


def background(daemon, name: str, *extra: str) -> str:
    return ok(daemon.cli("run", "-d", "--name", name, *extra, "busybox", "sh", "-c",
                         "trap 'exit 0' TERM; while :; do sleep 0.1; done")).strip()


def test_exec_options_and_status(daemon) -> None:
    background(daemon, "ex")
    try:
        res = daemon.cli("exec", "-e", "X=1", "-u", "65534", "-w", "/tmp", "ex", "sh", "-c",
                         'echo "$X $(id -u) $(pwd)"; echo err >&2; exit 3')
        assert (res.returncode, res.stdout, res.stderr) == (3, b"1 65534 /tmp\n", b"err\n")
        assert ok(daemon.cli("exec", "-i", "ex", "cat", input=b"through exec\n")) == "through exec\n"
        assert ok(daemon.cli("exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/marker")) == ""
        for _ in range(50):
            if daemon.cli("exec", "ex", "cat", "/tmp/marker").stdout == b"detached\n":
                break
            time.sleep(0.1)
        assert ok(daemon.cli("exec", "ex", "cat", "/tmp/marker")) == "detached\n"
        res = daemon.cli("exec", "ex", "/no/such/binary")
        assert res.returncode == 127 and b"/no/such/binary" in res.stdout + res.stderr
        res = daemon.cli("exec", "ghost", "true")
        assert res.returncode == 1 and b"No such container: ghost" in res.stderr
    finally:
        daemon.cli("rm", "-f", "ex")


def test_cp_both_ways_and_tar_streams(daemon, tmp_path) -> None:
    background(daemon, "cpy")
    try:
        src = tmp_path / "tree"
        (src / "sub").mkdir(parents=True)
        (src / "a.txt").write_text("alpha")
        (src / "sub" / "b.txt").write_text("beta")
        ok(daemon.cli("cp", str(src), "cpy:/tmp"))
        assert ok(daemon.cli("exec", "cpy", "cat", "/tmp/tree/a.txt", "/tmp/tree/sub/b.txt")) == "alphabeta"
        ok(daemon.cli("cp", str(src / "a.txt"), "cpy:/tmp/renamed.txt"))
        assert ok(daemon.cli("exec", "cpy", "cat", "/tmp/renamed.txt")) == "alpha"
        back = tmp_path / "back"
        ok(daemon.cli("cp", "cpy:/tmp/tree", str(back)))
        assert (back / "sub" / "b.txt").read_text() == "beta"
        dest = tmp_path / "into"
        dest.mkdir()
        ok(daemon.cli("cp", "cpy:/tmp/tree", str(dest)))
        assert (dest / "tree" / "a.txt").read_text() == "alpha"
        ok(daemon.cli("cp", "cpy:/tmp/tree/.", str(dest)))
        assert (dest / "a.txt").read_text() == "alpha"
        # "-": a tar archive on stdout, and from stdin
        raw = daemon.cli("cp", "cpy:/etc/hostname", "-").stdout
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            assert tf.getnames() == ["hostname"]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("from-stdin.txt")
            info.size = 5
            tf.addfile(info, io.BytesIO(b"stdin"))
        ok(daemon.cli("cp", "-", "cpy:/tmp", input=buf.getvalue()))
        assert ok(daemon.cli("exec", "cpy", "cat", "/tmp/from-stdin.txt")) == "stdin"
        res = daemon.cli("cp", "cpy:/does/not/exist", str(tmp_path / "x"))
        assert res.returncode == 1 and res.stderr.startswith(b"Error response from daemon: ")
    finally:
        daemon.cli("rm", "-f", "cpy")


def test_stats_top_pause_restart_rename_update(daemon) -> None:
    cid = background(daemon, "busy")
    try:
        lines = ok(daemon.cli("stats", "--no-stream", "busy")).splitlines()
        assert lines[0].split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%",
                                    "NET", "I/O", "BLOCK", "I/O", "PIDS"]
        assert lines[1].startswith(cid[:12] + "   busy ") and "%" in lines[1] and "iB / " in lines[1]
        doc = json.loads(ok(daemon.cli("stats", "--no-stream", "--format", "json", "busy")))
        assert doc["Name"] == "busy" and int(doc["PIDs"]) >= 1 and doc["CPUPerc"].endswith("%")
        top = ok(daemon.cli("top", "busy")).splitlines()
        assert "PID" in top[0].split() and any("sleep" in line or "sh -c" in line for line in top[1:])
        assert ok(daemon.cli("pause", "busy")) == "busy\n"
        assert "(Paused)" in ok(daemon.cli("ps", "-f", "name=busy"))
        assert ok(daemon.cli("unpause", "busy")) == "busy\n"
        assert ok(daemon.cli("restart", "-t", "2", "busy")) == "busy\n"
        assert ok(daemon.cli("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", "busy")).split()[0] == "true"
        ok(daemon.cli("rename", "busy", "busier"))
        assert ok(daemon.cli("ps", "--format", "{{.Names}}", "-f", f"id={cid}")) == "busier\n"
        assert ok(daemon.cli("update", "-m", "64m", "--memory-swap", "128m", "--restart", "on-failure:2",
                             "busier")) == "busier\n"
        assert ok(daemon.cli("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}",
                             "busier")) == f"{64 << 20} on-failure\n"
    finally:
        daemon.cli("rm", "-f", cid)


def test_live_stats_redraw_on_a_terminal(daemon) -> None:
    background(daemon, "live")
    try:
        child = pexpect.spawn(binary("dockyard"), ["stats", "live"], env=daemon.env(), dimensions=(30, 150),
                              encoding="utf-8", timeout=30)
        # the table is redrawn in place: clear screen, cursor home, header, row; at least twice
        for _ in range(2):
            child.expect_exact("\x1b[2J\x1b[H")
            child.expect(r"CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS")
            child.expect(r"live +\d+\.\d\d%")
        child.sendintr()
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0 and child.signalstatus is None
    finally:
        daemon.cli("rm", "-f", "live")


def test_diff_export_commit(daemon, tmp_path) -> None:
    ok(daemon.cli("run", "--name", "changer", "busybox", "sh", "-c", "echo new > /etc/added; rm /etc/hostname.x 2>/dev/null;"
                  " mkdir /made"))
    try:
        changes = ok(daemon.cli("diff", "changer")).splitlines()
        assert "A /etc/added" in changes and "A /made" in changes and "C /etc" in changes
        out = tmp_path / "fs.tar"
        ok(daemon.cli("export", "-o", str(out), "changer"))
        with tarfile.open(out) as tf:
            names = set(tf.getnames())
        assert "etc/added" in names and "bin/busybox" in names
        res = daemon.cli("export", "changer")  # to a pipe is fine; to a terminal docker refuses
        assert res.returncode == 0 and res.stdout[:512].strip(b"\0")
        iid = ok(daemon.cli("commit", "-m", "with a file", "-c", "ENV COMMITTED=yes", "changer", "committed:v1"))
        assert iid.startswith("sha256:")
        assert ok(daemon.cli("run", "--rm", "committed:v1", "sh", "-c", "cat /etc/added; echo $COMMITTED")) == \
            "new\nyes\n"
        assert ok(daemon.cli("history", "--format", "{{.Comment}}", "committed:v1")).splitlines()[0] == "with a file"
    finally:
        daemon.cli("rm", "-f", "changer")
        daemon.cli("rmi", "committed:v1")


def test_volumes_through_the_cli(daemon) -> None:
    assert ok(daemon.cli("volume", "create", "--label", "owner=cli", "clivol")) == "clivol\n"
    try:
        assert "local     clivol" in ok(daemon.cli("volume", "ls"))
        assert ok(daemon.cli("volume", "ls", "-q", "-f", "label=owner=cli")) == "clivol\n"
        doc = json.loads(ok(daemon.cli("volume", "inspect", "clivol")))[0]
        assert doc["Name"] == "clivol" and doc["Labels"] == {"owner": "cli"}
        assert ok(daemon.cli("volume", "inspect", "-f", "{{.Driver}}", "clivol")) == "local\n"
        ok(daemon.cli("run", "--rm", "-v", "clivol:/data", "busybox", "sh", "-c", "echo kept > /data/f"))
        assert ok(daemon.cli("run", "--rm", "--mount", "type=volume,source=clivol,target=/d,readonly", "busybox",
                             "sh", "-c", "cat /d/f; touch /d/g 2>/dev/null || echo ro")) == "kept\nro\n"
        res = daemon.cli("volume", "rm", "nosuchvolume")
        assert res.returncode == 1 and res.stderr.startswith(b"Error response from daemon: ")
    finally:
        assert ok(daemon.cli("volume", "rm", "clivol")) == "clivol\n"
    ok(daemon.cli("volume", "create", "dangling1"))
    pruned = ok(daemon.cli("volume", "prune", "-a", "-f"))
    assert pruned.startswith("Deleted Volumes:\n") and "dangling1" in pruned and "Total reclaimed space:" in pruned
    assert "dangling1" not in ok(daemon.cli("volume", "ls", "-q"))


def test_host_config_flags_seen_inside(daemon, tmp_path) -> None:
    bind = tmp_path / "bind"
    bind.mkdir()
    (bind / "in.txt").write_text("from host")
    script = ("cat /b/in.txt; echo; touch /b/w 2>/dev/null || echo b-ro; "
              "grep -c ' /t tmpfs' /proc/mounts; touch /root/x 2>/dev/null || echo rootfs-ro; "
              "ulimit -n; cat /proc/self/status | grep CapEff; echo $HOSTNAME")
    res = daemon.cli("run", "--rm", "-v", f"{bind}:/b:ro", "--tmpfs", "/t", "--read-only", "--ulimit",
                     "nofile=256:512", "--cap-drop", "ALL", "-h", "flagged", "busybox", "sh", "-c", script)
    lines = ok(res).splitlines()
    assert lines[:4] == ["from host", "b-ro", "1", "rootfs-ro"]
    assert lines[4] == "256" and lines[5].split()[1] == "0000000000000000" and lines[6] == "flagged"
    res = daemon.cli("run", "--rm", "-m", "32m", "--pids-limit", "50", "busybox", "sh", "-c",
                     "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max;"
                     "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
    assert ok(res).split() == [str(32 << 20), "50"]


def test_system_df_and_container_prune(daemon) -> None:
    ok(daemon.cli("create", "--name", "prunable", "busybox", "true"))
    df = ok(daemon.cli("system", "df")).splitlines()
    assert df[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert df[1].startswith("Images ") and df[2].startswith("Containers ") and df[3].startswith("Local Volumes")
    assert ok(daemon.cli("system", "df", "--format", "{{.Type}}")).splitlines()[:2] == ["Images", "Containers"]
    out = ok(daemon.cli("container", "prune", "-f"))
    assert out.startswith("Deleted Containers:\n") and "Total reclaimed space:" in out
    assert daemon.cli("ps", "-aq", "-f", "name=prunable").stdout == b""
    # without -f it asks; "n" keeps everything
    ok(daemon.cli("create", "--name", "kept", "busybox", "true"))
    res = daemon.cli("container", "prune", input=b"n\n")
    assert res.returncode == 0 and b"Are you sure you want to continue? [y/N]" in res.stdout
    assert ok(daemon.cli("ps", "-aq", "-f", "name=kept")) != ""
    daemon.cli("rm", "kept")
    assert os.path.exists(daemon.data_root)


def test_system_prune(daemon) -> None:
    ok(daemon.cli("create", "--name", "leftover", "busybox", "true"))
    ok(daemon.cli("network", "create", "leftover-net"))
    res = daemon.cli("system", "prune", input=b"y\n")
    out = ok(res)
    assert out.startswith("WARNING! This will remove:\n  - all stopped containers\n"
                          "  - all networks not used by at least one container\n  - all dangling images\n"
                          "  - unused build cache\n")
    assert "Deleted Containers:\n" in out and "Deleted Networks:\nleftover-net\n" in out
    assert out.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    assert daemon.cli("ps", "-aq", "-f", "name=leftover").stdout == b""
    assert b"busybox" in daemon.cli("images").stdout  # used by nothing, but tagged: kept without -a
