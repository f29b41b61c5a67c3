"""dockyard-proxy: the userland proxy for published ports (docker-proxy's
role), one process per container, started by the daemon with the listening
sockets already bound (passed as file descriptors) and surviving daemon
restarts like the shims do.

    dockyard-proxy --sandbox <netns path> --map tcp:<fd>:<container ip>:<port> ...

It exists for what NAT cannot do: connections from the host itself to
127.0.0.1 (locally generated traffic to other local addresses and traffic
from other hosts is DNATed and never reaches it). TCP bytes move with
splice(2) through a pipe, never through Python buffers; UDP is relayed per
client flow, forgotten after 90 s of silence (docker's conntrack timeout).
Imports stay minimal: this starts once per container with published ports.
"""

from __future__ import annotations

import fcntl
import os
import selectors
import signal
import socket
import sys
import threading

CHUNK = 1 << 20
PIPE_SIZE = 1 << 20
UDP_IDLE = 90.0
CONNECT_TIMEOUT = 10.0


def _pipe() -> tuple[int, int]:
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size: the default size still works
    return r, w


def _shutdown(s: socket.socket, how: int) -> None:
    try:
        s.shutdown(how)
    except OSError:
        pass


def pump(src: socket.socket, dst: socket.socket) -> None:
    """src -> dst until EOF; then half-close dst so the peer sees the EOF too."""
    r, w = _pipe()
    sfd, dfd = src.fileno(), dst.fileno()
    flags = os.SPLICE_F_MOVE | os.SPLICE_F_MORE
    try:
        while True:
            n = os.splice(sfd, w, CHUNK, flags=flags)
            if n == 0:
                break
            while n:
                n -= os.splice(r, dfd, n, flags=flags)
        _shutdown(dst, socket.SHUT_WR)
    except OSError:
        # A reset on either side: wake the other direction's splice too.
        _shutdown(src, socket.SHUT_RDWR)
        _shutdown(dst, socket.SHUT_RDWR)
    finally:
        os.close(r)
        os.close(w)


def serve_tcp_conn(client: socket.socket, backend: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(backend, timeout=CONNECT_TIMEOUT)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    client.settimeout(None)
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


class UDPRelay:
    def __init__(self, listener: socket.socket, backend: tuple[str, int]) -> None:
        self.listener = listener
        self.backend = backend
        self.flows: dict[tuple[str, int], socket.socket] = {}
        self.lock = threading.Lock()

    def on_datagram(self) -> None:
        try:
            data, addr = self.listener.recvfrom(65535)
        except OSError:
            return
        with self.lock:
            flow = self.flows.get(addr)
            if flow is None:
                flow = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    flow.connect(self.backend)
                except OSError:
                    flow.close()
                    return
                self.flows[addr] = flow
                threading.Thread(target=self._replies, args=(addr, flow), daemon=True).start()
        try:
            flow.send(data)
        except OSError:
            pass

    def _replies(self, addr: tuple[str, int], flow: socket.socket) -> None:
        flow.settimeout(UDP_IDLE)
        try:
            while True:
                data = flow.recv(65535)
                self.listener.sendto(data, addr)
        except OSError:
            pass
        finally:
            with self.lock:
                self.flows.pop(addr, None)
            flow.close()


def parse_maps(args: list[str]) -> list[tuple[str, int, str, int]]:
    out = []
    it = iter(args)
    for a in it:
        if a == "--map":
            proto, fd, ip, port = next(it).split(":")
            out.append((proto, int(fd), ip, int(port)))
        elif a == "--sandbox":
            next(it)
        else:
            raise SystemExit(f"dockyard-proxy: unknown argument {a!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    maps = parse_maps(sys.argv[1:] if argv is None else argv)
    if not maps:
        raise SystemExit("usage: dockyard-proxy --sandbox <path> --map proto:fd:ip:port ...")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    threading.stack_size(256 * 1024)
    sel = selectors.DefaultSelector()
    for proto, fd, ip, port in maps:
        if proto == "tcp":
            s = socket.socket(fileno=fd)
            s.setblocking(True)
            sel.register(s, selectors.EVENT_READ, ("tcp", s, (ip, port)))
        else:
            s = socket.socket(fileno=fd)
            sel.register(s, selectors.EVENT_READ, ("udp", UDPRelay(s, (ip, port)), None))
    while True:
        for key, _ in sel.select():
            kind, obj, backend = key.data
            if kind == "tcp":
                try:
                    conn, _ = obj.accept()
                except OSError:
                    continue
                threading.Thread(target=serve_tcp_conn, args=(conn, backend), daemon=True).start()
            else:
                obj.on_datagram()


if __name__ == "__main__":
    sys.exit(main())
