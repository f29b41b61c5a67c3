"""Moving bytes between the terminal and a hijacked attach connection:
demultiplexing docker's frames, raw mode for -t, stdin pumping."""

from __future__ import annotations

import os
import select
import socket
import struct
import sys
import threading

HEADER = struct.Struct(">BxxxL")


class Demuxer:
    """Splits docker's multiplexed stream into stdout and stderr writes."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.buf = b""

    def feed(self, data: bytes) -> None:
        if self.tty:
            _write(sys.stdout.fileno(), data)
            return
        self.buf += data
        while len(self.buf) >= 8:
            stream, size = HEADER.unpack_from(self.buf)
            if len(self.buf) < 8 + size:
                return
            payload = self.buf[8:8 + size]
            self.buf = self.buf[8 + size:]
            _write(sys.stderr.fileno() if stream == 2 else sys.stdout.fileno(), payload)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]


def pump_stdin(sock: socket.socket, stop: threading.Event) -> threading.Thread:
    """Copy our stdin to the connection; half-close it at EOF."""
    def run() -> None:
        fd = sys.stdin.fileno()
        try:
            while not stop.is_set():
                r, _, _ = select.select([fd], [], [], 0.2)
                if not r:
                    continue
                data = os.read(fd, 65536)
                if not data:
                    break
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def copy_output(sock: socket.socket, leftover: bytes, tty: bool) -> None:
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


class RawTerminal:
    """Put the controlling terminal in raw mode for -t, restore on exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved = None

    def __enter__(self) -> "RawTerminal":
        import termios
        import tty
        if os.isatty(self.fd):
            self.saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        import termios
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


def terminal_size() -> tuple[int, int]:
    try:
        sz = os.get_terminal_size(sys.stdout.fileno())
        return sz.lines, sz.columns
    except OSError:
        return 0, 0
