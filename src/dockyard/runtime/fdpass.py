"""Unix socket helpers on raw fds, through _socket (the socket module pulls
in enum and selectors, which cost milliseconds at every start)."""

from __future__ import annotations

import _socket
import sys


def connect_unix(path: str) -> int:
    """A connected SOCK_STREAM fd (close-on-exec)."""
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except BaseException:
        s.close()
        raise
    return s.detach()


def send_fds(fd: int, data: bytes, fds: list[int]) -> None:
    s = _socket.socket(fileno=fd)
    try:
        packed = b"".join(f.to_bytes(4, sys.byteorder, signed=True) for f in fds)
        s.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, packed)])
    finally:
        s.detach()


def recv_fds(fd: int, bufsize: int = 4096, maxfds: int = 1) -> tuple[bytes, list[int]]:
    s = _socket.socket(fileno=fd)
    try:
        data, ancdata, _flags, _addr = s.recvmsg(bufsize, _socket.CMSG_SPACE(maxfds * 4))
    finally:
        s.detach()
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % 4
            fds += [int.from_bytes(payload[i:i + 4], sys.byteorder, signed=True) for i in range(0, usable, 4)]
    return data, fds
