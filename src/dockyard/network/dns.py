"""The embedded DNS server: 127.0.0.11:53 (UDP and TCP) inside each
container attached to a user-defined network, served by the daemon's event
loop from sockets made inside the container's namespace (netns.socket_in).

It answers A queries for the names on the container's networks (container
names, network aliases, short IDs, also as ``<name>.<network>``), PTR queries
for their addresses, empty answers for other types of those names, and
forwards everything else unchanged to the external servers. A container
attached only to internal networks gets no forwarding (REFUSED).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("dockyard.network.dns")

TYPE_A, TYPE_PTR, TYPE_AAAA = 1, 12, 28
CLASS_IN = 1
RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_REFUSED = 2, 3, 5
TTL = 600
FORWARD_TIMEOUT = 4.0


@dataclass(frozen=True)
class Question:
    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    end: int  # offset after the question section


def _read_name(msg: bytes, off: int) -> tuple[str, int]:
    labels = []
    jumped = False
    end = off
    for _ in range(128):
        n = msg[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
            continue
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    else:
        raise ValueError("name too long")
    return ".".join(labels), (end if jumped else off)


def parse_question(msg: bytes) -> Question | None:
    """The first question of a standard query, or None for anything else."""
    try:
        qid, flags, qd = struct.unpack_from(">HHH", msg, 0)
        if flags & 0x8000 or (flags >> 11) & 0xF != 0 or qd < 1:
            return None
        name, off = _read_name(msg, 12)
        qtype, qclass = struct.unpack_from(">HH", msg, off)
        return Question(qid, flags, name.lower().rstrip("."), qtype, qclass, off + 4)
    except (struct.error, IndexError, ValueError):
        return None


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            b = label.encode("ascii", "replace")[:63]
            out += bytes([len(b)]) + b
    return out + b"\0"


def response(msg: bytes, q: Question, answers: list[tuple[int, bytes]], rcode: int = 0) -> bytes:
    """A reply to ``msg`` carrying ``answers`` as (type, rdata) for the question's name."""
    flags = 0x8000 | (q.flags & 0x0100) | 0x0080 | rcode  # QR, RD copied, RA
    out = struct.pack(">HHHHHH", q.id, flags, 1, len(answers), 0, 0) + msg[12:q.end]
    for rtype, rdata in answers:
        out += b"\xc0\x0c" + struct.pack(">HHIH", rtype, CLASS_IN, TTL, len(rdata)) + rdata
    return out


def ptr_name(name: str) -> str | None:
    """'4.3.2.1.in-addr.arpa' -> '1.2.3.4'."""
    suffix = ".in-addr.arpa"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    if len(parts) != 4:
        return None
    try:
        return str(ipaddress.IPv4Address(".".join(reversed(parts))))
    except ValueError:
        return None


Lookup = Callable[[str], "list[str] | None"]  # name -> addresses (None: not ours)
ReverseLookup = Callable[[str], "str | None"]  # address -> name


class Resolver:
    """What one container's server answers; the callables read the controller's
    current tables, so connects and disconnects show at once."""

    def __init__(self, lookup: Lookup, reverse: ReverseLookup, upstreams: Callable[[], list[str]],
                 external: Callable[[], bool]) -> None:
        self.lookup = lookup
        self.reverse = reverse
        self.upstreams = upstreams
        self.external = external

    def answer_locally(self, msg: bytes, q: Question) -> bytes | None:
        if q.qclass != CLASS_IN:
            return None
        if q.qtype == TYPE_PTR:
            ip = ptr_name(q.name)
            name = self.reverse(ip) if ip else None
            return response(msg, q, [(TYPE_PTR, encode_name(name))]) if name else None
        addrs = self.lookup(q.name)
        if addrs is None:
            return None
        if q.qtype == TYPE_A:
            return response(msg, q, [(TYPE_A, socket.inet_aton(a)) for a in addrs])
        return response(msg, q, [])  # the name exists, with no record of that type (no IPv6 here)

    async def resolve(self, msg: bytes, tcp: bool) -> bytes | None:
        q = parse_question(msg)
        if q is None:
            return None
        local = self.answer_locally(msg, q)
        if local is not None:
            return local
        if not self.external():
            return response(msg, q, [], RCODE_REFUSED)
        for server in self.upstreams():
            try:
                reply = await (forward_tcp(msg, server) if tcp else forward_udp(msg, server))
            except (OSError, asyncio.TimeoutError) as e:
                log.debug("forwarding %s to %s: %s", q.name, server, e)
                continue
            if reply:
                return reply
        return response(msg, q, [], RCODE_SERVFAIL)


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, fut: asyncio.Future[bytes], qid: bytes) -> None:
        self.fut = fut
        self.qid = qid

    def datagram_received(self, data: bytes, addr: object) -> None:
        if data[:2] == self.qid and not self.fut.done():
            self.fut.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.fut.done():
            self.fut.set_exception(exc)


def _server_addr(server: str) -> tuple[str, int]:
    host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
    return (host, int(port)) if port else (server, 53)


async def forward_udp(msg: bytes, server: str) -> bytes:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(lambda: _OneReply(fut, msg[:2]),
                                                       remote_addr=_server_addr(server))
    try:
        transport.sendto(msg)
        return await asyncio.wait_for(fut, FORWARD_TIMEOUT)
    finally:
        transport.close()


async def forward_tcp(msg: bytes, server: str) -> bytes:
    host, port = _server_addr(server)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), FORWARD_TIMEOUT)
    try:
        writer.write(struct.pack(">H", len(msg)) + msg)
        await writer.drain()
        n = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), FORWARD_TIMEOUT))[0]
        return await asyncio.wait_for(reader.readexactly(n), FORWARD_TIMEOUT)
    finally:
        writer.close()


class _UDPServer(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: set[asyncio.Task] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        t = asyncio.ensure_future(self._answer(data, addr))
        self.pending.add(t)
        t.add_done_callback(self.pending.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.resolver.resolve(data, tcp=False)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class Server:
    """127.0.0.11:53 in one container, over sockets bound in its namespace."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_proto: _UDPServer | None = None
        self._tcp: asyncio.base_events.Server | None = None

    async def start(self, udp: socket.socket, tcp: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        udp.setblocking(False)
        tcp.setblocking(False)
        self._udp, self._udp_proto = await loop.create_datagram_endpoint(
            lambda: _UDPServer(self.resolver), sock=udp)  # type: ignore[assignment]
        self._tcp = await asyncio.start_server(self._tcp_client, sock=tcp)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                n = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), 30))[0]
                msg = await reader.readexactly(n)
                reply = await self.resolver.resolve(msg, tcp=True)
                if reply is None:
                    break
                writer.write(struct.pack(">H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._udp_proto is not None:
            for t in list(self._udp_proto.pending):
                t.cancel()
        if self._tcp is not None:
            self._tcp.close()


def listen_sockets(make_socket: Callable[[int, int], socket.socket]) -> tuple[socket.socket, socket.socket]:
    """UDP and TCP sockets on 127.0.0.11:53, made by ``make_socket`` (in the container's namespace)."""
    udp = make_socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = make_socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind(("127.0.0.11", 53))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.11", 53))
        tcp.listen(64)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return udp, tcp
