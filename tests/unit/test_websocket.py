"""The API server's websocket framing (RFC 6455) on an in-memory connection."""

from __future__ import annotations

import asyncio
import os
import struct

from dockyard.api.server import websocket as wsmod
from dockyard.api.server.http import Headers


class FakeConn:
    """A hijacked connection: what the client sent, read in small pieces."""

    def __init__(self, incoming: bytes, piece: int = 3) -> None:
        self.incoming = incoming
        self.piece = piece
        self.sent = bytearray()

    async def read(self, n: int = 1 << 18) -> bytes:
        data, self.incoming = self.incoming[:min(n, self.piece)], self.incoming[min(n, self.piece):]
        return data

    async def write(self, data: bytes) -> None:
        self.sent += data


def client_frame(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    return wsmod.encode_frame(opcode, payload, fin, mask=os.urandom(4))


def parse_server_frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        op, n = data[0] & 0x0F, data[1] & 0x7F
        assert not data[1] & 0x80, "server frames are never masked"
        pos = 2
        if n == 126:
            (n,) = struct.unpack(">H", data[2:4])
            pos = 4
        elif n == 127:
            (n,) = struct.unpack(">Q", data[2:10])
            pos = 10
        out.append((op, data[pos:pos + n]))
        data = data[pos + n:]
    return out


async def read_all(ws: wsmod.WebSocket) -> bytes:
    out = b""
    while True:
        chunk = await ws.read(7)
        if not chunk:
            return out
        out += chunk


def test_accept_key_is_the_rfc_example() -> None:
    assert wsmod.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_checks() -> None:
    good = [(b"Upgrade", b"websocket"), (b"Connection", b"keep-alive, Upgrade"),
            (b"Sec-WebSocket-Version", b"13"), (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ==")]
    assert wsmod.handshake_error("GET", Headers(good)) == ""
    assert "GET" in wsmod.handshake_error("POST", Headers(good))
    assert "Upgrade" in wsmod.handshake_error("GET", Headers(good[1:]))
    assert "version" in wsmod.handshake_error("GET", Headers(good[:2] + [(b"Sec-WebSocket-Version", b"8")] + good[3:]))
    assert "Key" in wsmod.handshake_error("GET", Headers(good[:3] + [(b"Sec-WebSocket-Key", b"short")]))


def test_masked_frames_of_every_length_form_are_unmasked() -> None:
    small, medium, large = b"hi", os.urandom(300), os.urandom(70_000)
    conn = FakeConn(client_frame(2, small) + client_frame(1, medium) + client_frame(2, large)
                    + client_frame(8, struct.pack(">H", 1000)), piece=4096)
    ws = wsmod.WebSocket(conn)  # type: ignore[arg-type]
    assert asyncio.run(read_all(ws)) == small + medium + large
    assert ws.peer_closed.is_set()
    assert parse_server_frames(bytes(conn.sent)) == [(8, struct.pack(">H", 1000))]


def test_fragments_and_pings_between_them() -> None:
    conn = FakeConn(client_frame(2, b"abc", fin=False) + client_frame(9, b"are you there")
                    + client_frame(0, b"def", fin=True) + client_frame(10, b"unsolicited pong")
                    + client_frame(2, b"g"))
    ws = wsmod.WebSocket(conn)  # type: ignore[arg-type]
    assert asyncio.run(read_all(ws)) == b"abcdefg"
    assert parse_server_frames(bytes(conn.sent)) == [(10, b"are you there")]
    assert ws.peer_closed.is_set()  # the connection ended without a close frame


def test_unmasked_client_frame_is_a_protocol_error() -> None:
    conn = FakeConn(wsmod.encode_frame(2, b"plain") + client_frame(2, b"never read"))
    ws = wsmod.WebSocket(conn)  # type: ignore[arg-type]
    assert asyncio.run(ws.read()) == b""
    (op, payload), = parse_server_frames(bytes(conn.sent))
    assert op == 8 and struct.unpack(">H", payload[:2])[0] == 1002


def test_bad_sequences_are_protocol_errors() -> None:
    for stream in (client_frame(0, b"x"),                                     # continuation of nothing
                   client_frame(2, b"a", fin=False) + client_frame(2, b"b"),  # new message mid-message
                   client_frame(9, b"x" * 126),                               # control frame too long
                   client_frame(3, b"x")):                                    # reserved opcode
        conn = FakeConn(stream)
        ws = wsmod.WebSocket(conn)  # type: ignore[arg-type]
        asyncio.run(read_all(ws))
        assert struct.unpack(">H", parse_server_frames(bytes(conn.sent))[-1][1][:2])[0] == 1002


def test_writes_are_one_frame_each_and_close_is_sent_once() -> None:
    conn = FakeConn(b"")
    ws = wsmod.WebSocket(conn, binary=False)  # type: ignore[arg-type]

    async def go() -> None:
        await ws.write(b"out")
        await ws.write(b"x" * 70_000)
        await ws.close()
        await ws.close()
    asyncio.run(go())
    frames = parse_server_frames(bytes(conn.sent))
    assert frames == [(1, b"out"), (1, b"x" * 70_000), (8, struct.pack(">H", 1000))]
