"""A terminal for `run` and `exec` in the foreground without
--console-socket (as runc does): the runtime listens on a console socket of
its own, receives the pty master from the container, and copies between it
and its own stdio (raw mode and window size when that is a terminal)."""

from __future__ import annotations

import posix

from .._sys import fs


class TerminalProxy:
    def __init__(self, root: str, name: str) -> None:
        import _socket
        fs.makedirs(root, 0o711)
        self.path = fs.join(root, f".console-{name}-{posix.getpid()}.sock")
        self.listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            self.listener.bind(self.path)
            self.listener.listen(1)
        except OSError:
            self.close()
            raise
        self.master = -1

    def receive(self) -> None:
        """Take the pty master the container sent (its connection waits in
        the backlog since init set up its terminal)."""
        from .fdpass import recv_fds
        self.listener.settimeout(30)
        conn, _ = self.listener._accept()
        try:
            _msg, fds = recv_fds(conn)
        finally:
            posix.close(conn)
        if not fds:
            raise OSError(5, "console socket: no pty master received")
        self.master = fds[0]
        self._unlink()

    def pump(self, pid: int) -> int:
        """Copy stdin -> pty and pty -> stdout until pid exits; its exit status."""
        import _signal
        import select
        import termios
        saved = None
        if posix.isatty(0):
            saved = termios.tcgetattr(0)
            raw = termios.tcgetattr(0)
            # cfmakeraw: no echo, no line editing, no signals from keys, 8-bit.
            raw[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR
                        | termios.IGNCR | termios.ICRNL | termios.IXON)
            raw[1] &= ~termios.OPOST
            raw[2] = (raw[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
            raw[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
            termios.tcsetattr(0, termios.TCSANOW, raw)
            self._copy_size()
            _signal.signal(28, lambda _n, _f: self._copy_size())  # SIGWINCH
        from .ops import forward_signals, reap
        forward_signals(pid)
        status: int | None = None
        stdin_open = True
        try:
            while True:
                fds = [self.master] + ([0] if stdin_open else [])
                try:
                    ready, _, _ = select.select(fds, [], [], 0.1)
                except InterruptedError:
                    continue
                if self.master in ready:
                    try:
                        data = posix.read(self.master, 65536)
                    except OSError:  # EIO: the container side is closed
                        data = b""
                    if not data:
                        break
                    _write_all(1, data)
                if 0 in ready:
                    data = posix.read(0, 65536)
                    if data:
                        _write_all(self.master, data)
                    else:
                        stdin_open = False
                if status is None:
                    status = reap(pid, block=False)
            if status is None:
                status = reap(pid, block=True)
        finally:
            if saved is not None:
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
        return 255 if status is None else status

    def _copy_size(self) -> None:
        import fcntl
        import termios
        try:
            size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
        except OSError:
            pass

    def _unlink(self) -> None:
        try:
            posix.unlink(self.path)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        self._unlink()
        if self.master >= 0:
            posix.close(self.master)
            self.master = -1


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = posix.write(fd, data)
        data = data[n:]
