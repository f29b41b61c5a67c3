"""Moving bytes between the terminal and a hijacked attach/exec connection.

`stream(sock, leftover, tty=..., stdin=..., detach_keys=...)` does what
docker's hijackedIOStreamer does:
- output: raw copy to stdout with a TTY, else docker's multiplexed frames
  split to stdout and stderr;
- input: stdin copied to the connection; at EOF the write side is closed so
  the process sees EOF; with a TTY the terminal is in raw mode and the detach
  sequence (ctrl-p ctrl-q by default) is caught here, ending the session
  with the container still running;
- it returns when the output ends, or "detached".

`TtyResizer` sends the terminal size on start and on every SIGWINCH;
`SignalProxy` forwards the signals the CLI receives to the container.
"""

from __future__ import annotations

import os
import select
import sys

from ..apitypes import DEFAULT_DETACH_KEYS, STREAM_HEADER as HEADER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


class EscapeDetector:
    """Finds the detach sequence in what the user types. Bytes that could be
    the start of the sequence are held back until it is clear they are not."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to forward, whether the sequence was typed)."""
        if not self.keys:
            return data, False
        out = bytearray()
        buf = self.held + data
        self.held = b""
        i = 0
        while i < len(buf):
            rest = buf[i:]
            k = len(self.keys)
            if rest[:k] == self.keys:
                return bytes(out), True
            if self.keys.startswith(rest[:k]) and len(rest) < k:
                self.held = bytes(rest)
                break
            out.append(buf[i])
            i += 1
        return bytes(out), False


class Demuxer:
    """Splits docker's multiplexed stream into stdout and stderr writes."""

    def __init__(self, tty: bool, out_fd: int | None = None, err_fd: int | None = None) -> None:
        self.tty = tty
        self.out_fd = sys.stdout.fileno() if out_fd is None else out_fd
        self.err_fd = sys.stderr.fileno() if err_fd is None else err_fd
        self.buf = b""

    def feed(self, data: bytes) -> None:
        if self.tty:
            write_all(self.out_fd, data)
            return
        self.buf += data
        while len(self.buf) >= 8:
            stream, size = HEADER.unpack_from(self.buf)
            if len(self.buf) < 8 + size:
                return
            payload = self.buf[8:8 + size]
            self.buf = self.buf[8 + size:]
            write_all(self.err_fd if stream == 2 else self.out_fd, payload)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]


class RawTerminal:
    """The terminal on fd in raw mode (for -t with stdin), restored on exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: Any = None

    def __enter__(self) -> "RawTerminal":
        import termios
        import tty
        if os.isatty(self.fd):
            self.saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)
        return self

    def restore(self) -> None:
        if self.saved is not None:
            import termios
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.saved = None

    def __exit__(self, *exc: object) -> None:
        self.restore()


def terminal_size(fd: int | None = None) -> tuple[int, int]:
    """(rows, columns) of the terminal on stdout (or fd), (0, 0) if none."""
    try:
        sz = os.get_terminal_size(sys.stdout.fileno() if fd is None else fd)
        return sz.lines, sz.columns
    except OSError:
        return 0, 0


def check_tty(attach_stdin: bool, tty: bool) -> None:
    """docker refuses -t with stdin attached when stdin is not a terminal."""
    if tty and attach_stdin and not os.isatty(sys.stdin.fileno()):
        from .errors import CLIError
        raise CLIError("the input device is not a TTY", 1)


class TtyResizer:
    """Tell the daemon the terminal's size now and after every SIGWINCH."""

    def __init__(self, resize: Callable[[int, int], None]) -> None:
        self.resize = resize
        self.previous: Any = None

    def __enter__(self) -> "TtyResizer":
        import _signal
        self.send()
        self.previous = _signal.signal(_signal.SIGWINCH, lambda *_: self.send())
        return self

    def send(self) -> None:
        h, w = terminal_size()
        if h and w:
            try:
                self.resize(h, w)
            except Exception:  # the process may be gone already; resizing is best effort
                pass

    def __exit__(self, *exc: object) -> None:
        import _signal
        if self.previous is not None:
            _signal.signal(_signal.SIGWINCH, self.previous)


PROXIED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCONT", "SIGTSTP")


class SignalProxy:
    """docker's --sig-proxy: signals the CLI gets go to the container."""

    def __init__(self, kill: Callable[[str], None]) -> None:
        self.kill = kill
        self.previous: dict[int, Any] = {}
        self.names: dict[int, str] = {}

    def __enter__(self) -> "SignalProxy":
        import _signal  # the signal module's enums cost `docker run` a few ms of imports
        self.names = {getattr(_signal, name): name for name in PROXIED_SIGNALS}
        for num in self.names:
            self.previous[num] = _signal.signal(num, self._forward)
        return self

    def _forward(self, signum: int, _frame: Any) -> None:
        try:
            self.kill(self.names[signum])
        except Exception:  # the container may be gone; nothing to forward to
            pass

    def __exit__(self, *exc: object) -> None:
        import _signal
        for num, prev in self.previous.items():
            _signal.signal(num, prev)


def session(sock: Any, leftover: bytes, tty: bool, stdin: bool, keys: bytes | None,
            resize: Callable[[int, int], None], follow_size: bool) -> str:
    """stream() for attach, run and exec: with follow_size (docker's
    MonitorTtySize: a TTY session on a terminal) the remote terminal keeps our
    size; the socket is closed at the end."""
    resizer = TtyResizer(resize) if tty and follow_size else None
    if resizer:
        resizer.__enter__()
    try:
        return stream(sock, leftover, tty, stdin, keys)
    finally:
        if resizer:
            resizer.__exit__()
        try:
            sock.close()
        except OSError:
            pass


class _Flag:
    def __init__(self) -> None:
        self.value = False

    def set(self) -> None:
        self.value = True

    def is_set(self) -> bool:
        return self.value


def stream(sock: Any, leftover: bytes, tty: bool, stdin: bool, detach_keys: bytes | None = None,
           output: bool = True) -> str:
    """Run the session; "done" when the output ended, "detached" when the
    user typed the detach keys (TTY sessions only, as docker)."""
    if stdin:  # a thread pumps stdin: flags it can wait on
        import threading
        detached: Any = threading.Event()
        stop: Any = threading.Event()
    else:  # one thread: plain flags, and no threading imported on `run`'s path
        detached, stop = _Flag(), _Flag()
    raw = RawTerminal(sys.stdin.fileno()) if (tty and stdin) else None

    def pump() -> None:
        fd = sys.stdin.fileno()
        detector = EscapeDetector(detach_keys if detach_keys is not None else DEFAULT_DETACH_KEYS) if tty else None
        try:
            while not stop.is_set():
                r, _, _ = select.select([fd], [], [], 0.2)
                if not r:
                    continue
                data = os.read(fd, 65536)
                if not data:
                    break
                if detector is not None:
                    data, hit = detector.feed(data)
                    if data:
                        sock.sendall(data)
                    if hit:
                        detached.set()
                        shutdown_both(sock)
                        return
                else:
                    sock.sendall(data)
            shutdown_write(sock)
        except OSError:
            pass
        finally:
            if not output:
                stop.set()

    if raw:
        raw.__enter__()
    try:
        t = None
        if stdin:
            t = threading.Thread(target=pump, daemon=True)
            t.start()
        if output:
            demux = Demuxer(tty)
            if leftover:
                demux.feed(leftover)
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                demux.feed(data)
        elif t is not None:
            t.join()
    finally:
        stop.set()
        if raw:
            raw.restore()
    return "detached" if detached.is_set() else "done"


def shutdown_write(sock: Any) -> None:
    """Half-close: the process reads EOF on stdin, its output keeps coming."""
    try:
        sock.shutdown(1)  # SHUT_WR
    except OSError:
        pass


def shutdown_both(sock: Any) -> None:
    try:
        sock.shutdown(2)
    except OSError:
        pass
