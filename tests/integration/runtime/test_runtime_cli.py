"""runc's command line beyond the lifecycle: a foreground terminal, spec,
features, --preserve-fds, --no-pivot, run -d, kill's default signal. On
dockyard-runtime and runc."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time

from _support.runtime import rt, wait_for  # noqa: F401  (rt: the fixture, each test on both runtimes)


def _read_until(fd: int, needle: bytes, timeout: float = 20) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_foreground_terminal_without_console_socket(rt) -> None:
    """The runtime holds the pty itself and copies our terminal through it."""
    def upd(s):
        s["process"]["terminal"] = True
    b = rt.bundle("t1", ["sh", "-c", "tty; read line; echo got:$line; exit 4"], upd)
    rt.ids.append("t1")
    master, slave = pty.openpty()
    proc = subprocess.Popen([rt.exe, "--root", rt.root, "run", "--bundle", b, "t1"],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        out = _read_until(master, b"/dev/pts/")
        assert b"/dev/pts/" in out, out
        os.write(master, b"hello\r")
        out += _read_until(master, b"got:hello")
        assert b"got:hello" in out, out
        assert proc.wait(20) == 4
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_foreground_exec_tty(rt) -> None:
    rt.start_detached("t2", ["sleep", "60"])
    master, slave = pty.openpty()
    proc = subprocess.Popen([rt.exe, "--root", rt.root, "exec", "-t", "t2", "sh", "-c", "tty; exit 6"],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        out = _read_until(master, b"/dev/pts/")
        assert b"/dev/pts/" in out, out
        assert proc.wait(20) == 6
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_spec_and_features(rt, tmp_path) -> None:
    d = tmp_path / "specdir"
    d.mkdir()
    rt.ok("spec", "--bundle", str(d))
    spec = json.loads((d / "config.json").read_text())
    assert {"ociVersion", "process", "root", "hostname", "mounts", "linux"} <= set(spec)
    assert spec["process"]["terminal"] is True and spec["root"] == {"path": "rootfs", "readonly": True}
    assert {"type": "pid"} in spec["linux"]["namespaces"]
    res = rt("spec", "--bundle", str(d))
    assert res.returncode != 0 and b"exists" in res.stderr
    features = json.loads(rt.ok("features").stdout)
    assert features["ociVersionMin"].startswith("1.0")
    assert {"prestart", "poststop", "createRuntime"} <= set(features["hooks"])
    assert {"pid", "network", "mount", "user", "cgroup"} <= set(features["linux"]["namespaces"])
    assert "rbind" in features["mountOptions"]


def test_spec_written_runs_as_is(rt, tmp_path) -> None:
    """`spec`'s document runs a busybox rootfs (terminal off, as a script would)."""
    from _support.bundle import make_busybox_rootfs
    d = tmp_path / "fromspec"
    d.mkdir()
    rt.ok("spec", "--bundle", str(d))
    make_busybox_rootfs(str(d / "rootfs"))
    spec = json.loads((d / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", "hostname; id -u"]
    spec["linux"]["cgroupsPath"] = f"{rt.parent}/fromspec"
    (d / "config.json").write_text(json.dumps(spec))
    rt.ids.append("fromspec")
    lines = rt.ok("run", "--bundle", str(d), "fromspec").stdout.decode().split()
    assert lines == [spec["hostname"], "0"]


def test_preserve_fds(rt) -> None:
    b = rt.bundle("pf", ["sh", "-c", "echo through-fd3 >&3; ls /proc/self/fd | sort -n | tr '\\n' ' '"])
    rt.ids.append("pf")
    r, w = os.pipe()
    try:
        # our fd 3 in the runtime is the pipe's write end
        res = subprocess.run([rt.exe, "--root", rt.root, "run", "--preserve-fds", "1", "--bundle", b, "pf"],
                             capture_output=True, stdin=subprocess.DEVNULL, timeout=30, close_fds=False,
                             preexec_fn=lambda: os.dup2(w, 3))
    finally:
        os.close(w)
    data = os.read(r, 100)
    os.close(r)
    assert res.returncode == 0, res.stderr
    assert data == b"through-fd3\n"
    # stdio, fd 3, and the fd ls itself opens: nothing of the runtime's
    assert res.stdout.split()[:4] == [b"0", b"1", b"2", b"3"]
    assert len(res.stdout.split()) <= 5


def test_no_pivot(rt) -> None:
    lines = rt.ok("run", "--no-pivot", "--bundle", rt.bundle("np", ["sh", "-c", "ls /; cat /etc/hostname"]), "np")
    rt.ids.append("np")
    out = lines.stdout.decode().split()
    assert "bin" in out and out[-1] == "busybox"


def test_run_detached_with_pid_file_and_kill_default_term(rt, tmp_path) -> None:
    marker = tmp_path / "term" / "got"
    marker.parent.mkdir()

    def upd(s):
        s["mounts"].append({"destination": "/out", "type": "bind", "source": str(marker.parent), "options": ["rbind"]})
    b = rt.bundle("rd", ["sh", "-c", "trap 'echo term > /out/got; exit 0' TERM; while true; do sleep 0.1; done"], upd)
    rt.ids.append("rd")
    pidfile = tmp_path / "rd.pid"
    rt.ok("run", "-d", "--pid-file", str(pidfile), "--bundle", b, "rd",
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid = int(pidfile.read_text())
    assert rt.state("rd")["pid"] == pid and rt.state("rd")["status"] == "running"
    rt.ok("kill", "rd")  # SIGTERM by default
    wait_for(lambda: marker.exists(), what="the TERM trap")
    rt.wait_status("rd", "stopped")
    assert marker.read_text() == "term\n"


def test_usage_errors(rt) -> None:
    assert rt("no-such-command").returncode != 0
    assert rt("create").returncode != 0  # no id
    assert rt("kill", "x", "NOTASIGNAL").returncode != 0
    assert rt.ok("--version").stdout.strip()
