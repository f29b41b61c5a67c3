"""Interactive sessions through a real pseudo-terminal (pexpect): raw mode,
window size and SIGWINCH, detach keys, re-attaching, exit status, and
signals proxied to the container when there is no terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pexpect
import pytest

from _support.paths import binary

PROMPT = "/ # "


def spawn(daemon, *args: str, rows: int = 40, cols: int = 120) -> pexpect.spawn:
    child = pexpect.spawn(binary("dockyard"), list(args), env=daemon.env(), dimensions=(rows, cols),
                          encoding="utf-8", timeout=30)
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.signalstatus is None
    return child.exitstatus


def wait_state(daemon, name: str, status: str) -> None:
    for _ in range(150):
        res = daemon.cli("inspect", "-f", "{{.State.Status}}", name)
        if res.stdout.decode().strip() == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never became {status}: {res.stdout!r} {res.stderr!r}")


def test_run_it_is_a_real_terminal_with_resize_and_exit_status(daemon) -> None:
    child = spawn(daemon, "run", "-it", "--rm", "--name", "term", "busybox", "sh")
    child.expect_exact(PROMPT)
    child.sendline("stty size; tty; echo $((6*7))")
    child.expect(r"40 120\r\n/dev/pts/\d+\r\n42\r\n")
    child.expect_exact(PROMPT)
    # the terminal is raw on our side: ctrl-c reaches the container's shell as a byte, not as our SIGINT
    child.sendline("sleep 30")
    time.sleep(0.5)
    child.sendcontrol("c")
    child.expect_exact(PROMPT)
    # a window change reaches the container's terminal
    child.setwinsize(30, 100)
    deadline = time.monotonic() + 20
    while True:
        child.sendline("stty size")
        i = child.expect([r"30 100\r\n", r"\d+ \d+\r\n"])
        child.expect_exact(PROMPT)
        if i == 0:
            break
        assert time.monotonic() < deadline, "SIGWINCH did not resize the container's terminal"
        time.sleep(0.2)
    child.sendline("exit 5")
    assert finish(child) == 5
    assert daemon.cli("ps", "-aq", "-f", "name=term").stdout == b""


def test_detach_keys_leave_it_running_and_attach_comes_back(daemon) -> None:
    child = spawn(daemon, "run", "-it", "--name", "detachable", "busybox", "sh")
    try:
        child.expect_exact(PROMPT)
        child.sendline("export MARK=still-here")
        child.expect_exact(PROMPT)
        child.sendcontrol("p")
        child.sendcontrol("q")
        assert finish(child) == 0
        wait_state(daemon, "detachable", "running")
        again = spawn(daemon, "attach", "detachable")
        again.sendline("echo $MARK")
        again.expect("still-here")
        # custom detach keys for attach; docker reports the escape and exits 1
        again.sendcontrol("p")
        again.sendcontrol("q")
        again.expect("read escape sequence")
        assert finish(again) == 1
        wait_state(daemon, "detachable", "running")
        third = spawn(daemon, "attach", "--detach-keys", "ctrl-x,x", "detachable")
        third.sendline("echo back")
        third.expect("back")
        third.sendline("exit 3")
        assert finish(third) == 3
    finally:
        daemon.cli("rm", "-f", "detachable")


def test_exec_it_in_a_running_container(daemon) -> None:
    daemon.cli("run", "-d", "--name", "execme", "busybox", "sleep", "300", check=True)
    try:
        child = spawn(daemon, "exec", "-it", "execme", "sh")
        child.expect_exact(PROMPT)
        child.sendline("stty size; echo $((2+3))")
        child.expect(r"40 120\r\n5\r\n")
        child.sendline("exit 9")
        assert finish(child) == 9
    finally:
        daemon.cli("rm", "-f", "execme")


def test_it_without_a_terminal_is_refused(daemon) -> None:
    res = daemon.cli("run", "-it", "--rm", "busybox", "true", input=b"")
    assert res.returncode == 1 and res.stderr == b"the input device is not a TTY\n"


def test_signals_are_proxied_without_a_terminal(daemon) -> None:
    # USR1 then TERM: signals the CLI gets are sent to the container (docker's --sig-proxy)
    proc = subprocess.Popen([binary("dockyard"), "run", "--rm", "--name", "proxied", "busybox", "sh", "-c",
                             "trap 'echo got USR1' USR1; trap 'echo got TERM; exit 7' TERM; echo ready; "
                             "while :; do sleep 0.1; done"],
                            env=daemon.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGUSR1)
        assert proc.stdout.readline() == b"got USR1\n"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert out == b"got TERM\n" and proc.returncode == 7, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        daemon.cli("rm", "-f", "proxied")


def test_attach_without_a_terminal(daemon) -> None:
    daemon.cli("run", "-d", "-i", "--name", "reader", "busybox", "sh", "-c", "read l; echo got $l; exit 4",
               check=True)
    try:
        res = daemon.cli("attach", "reader", input=b"hello\n", timeout=60)
        assert (res.returncode, res.stdout) == (4, b"got hello\n"), res.stderr
        res = daemon.cli("attach", "reader")
        assert res.returncode == 1 and res.stderr == b"You cannot attach to a stopped container, start it first\n"
    finally:
        daemon.cli("rm", "-f", "reader")


@pytest.mark.skipif(not os.path.exists("/usr/bin/tmux"), reason="tmux is not installed")
def test_start_ai_in_tmux(daemon) -> None:
    """start -ai on a created -it container, driven through tmux like a person at a terminal."""
    daemon.cli("create", "-it", "--name", "tmuxed", "busybox", "sh", check=True)
    session = "dy"
    sock = f"dockyard-cli-test-{os.getpid()}"  # a private tmux server, gone with the test
    tmux = ["tmux", "-L", sock]
    try:
        # the session's command runs in the tmux server's environment: name the daemon in it
        subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "90", "-y", "25",
                        f"env DOCKYARD_HOST={daemon.host} {binary('dockyard')} start -ai tmuxed; "
                        "echo EXITED=$?; sleep 30"], check=True)

        def screen() -> str:
            return subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout

        def wait_for(text: str) -> None:
            for _ in range(200):
                if text in screen():
                    return
                time.sleep(0.1)
            raise AssertionError(f"{text!r} not on screen:\n{screen()}")

        wait_for(PROMPT.rstrip())  # capture-pane drops trailing blanks
        subprocess.run([*tmux, "send-keys", "-t", session, "stty size", "Enter"], check=True)
        wait_for("25 90")
        subprocess.run([*tmux, "send-keys", "-t", session, "exit 6", "Enter"], check=True)
        wait_for("EXITED=6")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        daemon.cli("rm", "-f", "tmuxed")


def test_cp_reports_the_size_with_three_digits_on_a_terminal(daemon, tmp_path) -> None:
    # docker's cp prints units.HumanSizeWithPrecision(n, 3) when stderr is a terminal
    (tmp_path / "f").write_bytes(b"x" * 1_234_567)
    assert daemon.cli("create", "--name", "cpsize", "busybox", check=True).returncode == 0
    try:
        child = spawn(daemon, "cp", str(tmp_path / "f"), "cpsize:/f")
        child.expect(r"Successfully copied (\S+) to cpsize:/f")
        assert child.match.group(1) == "1.24MB"  # the tar stream: 1234567 bytes of content + header + padding
        assert finish(child) == 0
        child = spawn(daemon, "cp", "cpsize:/f", str(tmp_path / "back"))
        child.expect(r"Successfully copied (\S+) to ")
        assert child.match.group(1) == "1.24MB"
        assert finish(child) == 0
        assert (tmp_path / "back").stat().st_size == 1_234_567
    finally:
        daemon.cli("rm", "-f", "cpsize")
