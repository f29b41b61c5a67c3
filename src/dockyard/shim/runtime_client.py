"""The OCI runtime's command line as typed calls (like go-runc). The shim
talks to the runtime only through this."""

from __future__ import annotations

import json
import os
import selectors

from .._sys import libc

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of the long-lived shim's memory
    from typing import Any


def _fork_exec(argv: list[str], stdio: tuple[int, int, int]) -> int:
    """fork + exec with exactly these fds as stdio (every other fd of the
    shim is close-on-exec), every signal at its default and none blocked:
    the shim ignores some, Python ignores SIGPIPE/SIGXFSZ, whoever started
    the daemon may have left more (glibc's posix_spawn leaves its internal
    signals 32 and 33 ignored, which only the raw system call can undo), and
    ignored dispositions survive execve into the container. (posix_spawn
    would do exactly that to 32 and 33; the subprocess module would bring
    threading along.)"""
    pid = os.fork()
    if pid:
        return pid
    try:
        for i, fd in enumerate(stdio):
            os.dup2(fd, i)
        libc.default_all_signals()
        libc.unblock_all_signals()
        os.execvp(argv[0], argv)
    except BaseException as e:
        try:
            os.write(2, f"dockyard-shim: exec {argv[0]}: {e}\n".encode())
        finally:
            os._exit(127)
    os._exit(127)


def spawn(argv: list[str], stdio: tuple[int, int, int]) -> int:
    """Run argv with these fds as its stdio and wait: its exit status."""
    return _wait(_fork_exec(argv, stdio))


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        except InterruptedError:
            continue


def run_capture(argv: list[str], stdin: int | None = None) -> tuple[int, bytes, bytes]:
    """(exit status, stdout, stderr) of argv."""
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC) if stdin is None else -1
    try:
        pid = _fork_exec(argv, (stdin if stdin is not None else devnull, out_w, err_w))
    except BaseException:
        for fd in (out_r, err_r):
            os.close(fd)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
        if devnull >= 0:
            os.close(devnull)
    bufs = {out_r: bytearray(), err_r: bytearray()}
    with selectors.DefaultSelector() as sel:
        for fd in bufs:
            sel.register(fd, selectors.EVENT_READ)
        left = set(bufs)
        while left:
            for key, _ in sel.select():
                data = os.read(key.fd, 65536)
                if data:
                    bufs[key.fd] += data
                else:
                    sel.unregister(key.fd)
                    left.discard(key.fd)
    os.close(out_r)
    os.close(err_r)
    return _wait(pid), bytes(bufs[out_r]), bytes(bufs[err_r])


class RuntimeFailed(Exception):
    pass


class RuntimeClient:
    def __init__(self, binary: str, root: str | None, log_path: str) -> None:
        self.binary = binary
        self.root = root
        self.log_path = log_path

    def _base(self) -> list[str]:
        args = [self.binary]
        if self.root:
            args += ["--root", self.root]
        args += ["--log", self.log_path, "--log-format", "json"]
        return args

    def _run(self, args: list[str], stdin: int | None = None) -> str:
        code, out, err = run_capture(self._base() + args, stdin)
        if code != 0:
            raise RuntimeFailed(self.last_error() or err.decode(errors="replace").strip()
                                or f"{args[0]} exited with status {code}")
        return out.decode(errors="replace")

    def last_error(self) -> str:
        """The runtime's last error line from its JSON log."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().splitlines()
        except OSError:
            return ""
        for line in reversed(lines):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("level") == "error":
                return str(rec.get("msg", ""))
        return ""

    def create(self, cid: str, bundle: str, pid_file: str, stdio: tuple[int, int, int],
               console_socket: str | None = None) -> None:
        args = ["create", "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        # Stdio goes straight to the container: the runtime must not hold pipes of ours.
        code = spawn(self._base() + args + [cid], stdio)
        if code != 0:
            raise RuntimeFailed(self.last_error() or f"runtime create exited with status {code}")

    def start(self, cid: str) -> None:
        self._run(["start", cid])

    def kill(self, cid: str, signal: int, all_: bool = False) -> None:
        self._run(["kill"] + (["--all"] if all_ else []) + [cid, str(signal)])

    def delete(self, cid: str, force: bool = False) -> None:
        self._run(["delete"] + (["--force"] if force else []) + [cid])

    def state(self, cid: str) -> dict[str, Any]:
        return json.loads(self._run(["state", cid]))

    def pause(self, cid: str) -> None:
        self._run(["pause", cid])

    def resume(self, cid: str) -> None:
        self._run(["resume", cid])

    def ps(self, cid: str) -> list[int]:
        return json.loads(self._run(["ps", "--format", "json", cid]) or "[]")

    def update(self, cid: str, resources: dict[str, Any]) -> None:
        r, w = os.pipe()
        os.write(w, json.dumps(resources).encode())
        os.close(w)
        try:
            self._run(["update", "--resources", "-", cid], stdin=r)
        finally:
            os.close(r)

    def exec(self, cid: str, process_file: str, pid_file: str, stdio: tuple[int, int, int],
             console_socket: str | None = None) -> None:
        args = ["exec", "--process", process_file, "--detach", "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        code = spawn(self._base() + args + [cid], stdio)
        if code != 0:
            raise RuntimeFailed(self.last_error() or f"runtime exec exited with status {code}")
