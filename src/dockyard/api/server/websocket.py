"""RFC 6455 websockets over a hijacked connection, for the Engine API's
`/containers/{id}/attach/ws`: the server's handshake, and a stream view of
the frames (read() gives the payload bytes of the client's data frames,
write() sends one data frame per call) so the attach plumbing can use it as
it uses a raw hijacked connection.

Control frames are handled inside read(): a ping is answered with a pong, a
close is answered with a close and ends the stream (read() returns b"").
Client frames must be masked (RFC 6455 5.1); a protocol error closes the
connection with status 1002."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .http import Headers, Hijacked

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG = 1000, 1002, 1009

MAX_CONTROL = 125
READ_CHUNK = 256 * 1024


class ProtocolError(Exception):
    def __init__(self, message: str, code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1(key.strip().encode("latin-1") + GUID).digest()).decode()


def handshake_error(method: str, headers: "Headers") -> str:
    """Why a request is not a websocket opening handshake ("" if it is)."""
    if method != "GET":
        return "websocket: the handshake must be a GET request"
    if "websocket" not in [t.strip() for t in headers.get("upgrade").lower().split(",")]:
        return "websocket: not a websocket handshake: 'upgrade' token not found in 'Upgrade' header"
    if "upgrade" not in [t.strip() for t in headers.get("connection").lower().split(",")]:
        return "websocket: not a websocket handshake: 'upgrade' token not found in 'Connection' header"
    if headers.get("sec-websocket-version").strip() != "13":
        return "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header"
    key = headers.get("sec-websocket-key").strip()
    try:
        ok = len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        ok = False
    if not ok:
        return "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header must be a base64-encoded 16-byte value"
    return ""


def unmask(data: bytes, mask: bytes) -> bytes:
    """XOR with the 4-byte key repeated (as one big integer: fast in CPython)."""
    if not data:
        return data
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def encode_frame(opcode: int, payload: bytes = b"", fin: bool = True, mask: bytes | None = None) -> bytes:
    """One frame; servers send unmasked frames, tests pass a mask to act as a client."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    bit = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        head.append(bit | n)
    elif n < 1 << 16:
        head.append(bit | 126)
        head += struct.pack(">H", n)
    else:
        head.append(bit | 127)
        head += struct.pack(">Q", n)
    if mask is not None:
        return bytes(head) + mask + unmask(payload, mask)
    return bytes(head) + payload


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack(">H", code) + reason.encode()[:MAX_CONTROL - 2]


class WebSocket:
    """A server-side websocket on a hijacked connection."""

    def __init__(self, conn: "Hijacked", binary: bool = True) -> None:
        self.conn = conn
        self.opcode = OP_BINARY if binary else OP_TEXT
        self.peer_closed = asyncio.Event()  # a close frame came, or the connection ended
        self._close_sent = False
        self._buf = b""
        self._remaining = 0      # payload bytes left in the current data frame
        self._mask = b""
        self._mask_pos = 0
        self._in_message = False  # a fragmented message is in progress

    async def _read_exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = await self.conn.read(READ_CHUNK)
            if not chunk:
                raise EOFError
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    async def _read_some(self, n: int) -> bytes:
        if not self._buf:
            self._buf = await self.conn.read(READ_CHUNK)
            if not self._buf:
                raise EOFError
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    async def _next_frame_header(self) -> tuple[bool, int, int, bytes]:
        b0, b1 = await self._read_exactly(2)
        fin, rsv, opcode = bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F
        if rsv:
            raise ProtocolError("reserved bits set without an extension")
        if not b1 & 0x80:
            raise ProtocolError("client frame is not masked")
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack(">H", await self._read_exactly(2))
        elif n == 127:
            (n,) = struct.unpack(">Q", await self._read_exactly(8))
            if n >> 63:
                raise ProtocolError("frame length has the most significant bit set")
        mask = await self._read_exactly(4)
        return fin, opcode, n, mask

    async def read(self, n: int = READ_CHUNK) -> bytes:
        """Payload bytes of the next data frame(s); b"" once the peer closed."""
        if self.peer_closed.is_set():
            return b""
        try:
            while self._remaining == 0:
                fin, opcode, length, mask = await self._next_frame_header()
                if opcode >= 0x8:
                    await self._control(fin, opcode, length, mask)
                    if self.peer_closed.is_set():
                        return b""
                    continue
                if opcode == OP_CONT and not self._in_message:
                    raise ProtocolError("continuation frame without a message to continue")
                if opcode in (OP_TEXT, OP_BINARY) and self._in_message:
                    raise ProtocolError("new message before the previous one ended")
                if opcode not in (OP_CONT, OP_TEXT, OP_BINARY):
                    raise ProtocolError(f"unknown opcode {opcode}")
                self._in_message = not fin
                self._remaining, self._mask, self._mask_pos = length, mask, 0
            data = await self._read_some(min(n, self._remaining))
            self._remaining -= len(data)
            rot = self._mask[self._mask_pos:] + self._mask[:self._mask_pos]
            self._mask_pos = (self._mask_pos + len(data)) % 4
            return unmask(data, rot)
        except EOFError:
            self.peer_closed.set()
            return b""
        except ProtocolError as e:
            await self.close(e.code, str(e))
            self.peer_closed.set()
            return b""
        except (ConnectionError, OSError):
            self.peer_closed.set()
            return b""

    async def _control(self, fin: bool, opcode: int, length: int, mask: bytes) -> None:
        if not fin or length > MAX_CONTROL:
            raise ProtocolError("control frames must be final and at most 125 bytes")
        payload = unmask(await self._read_exactly(length), mask)
        if opcode == OP_PING:
            await self._send(encode_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            if len(payload) == 1:
                raise ProtocolError("close frame with a one-byte payload")
            # Echo the peer's status code, as RFC 6455 5.5.1 suggests.
            await self.close(struct.unpack(">H", payload[:2])[0] if payload else CLOSE_NORMAL)
            self.peer_closed.set()
        elif opcode != OP_PONG:
            raise ProtocolError(f"unknown control opcode {opcode}")

    async def _send(self, frame: bytes) -> None:
        # One write per frame: frames from the output task and pongs never interleave.
        await self.conn.write(frame)

    async def write(self, data: bytes) -> None:
        if self._close_sent:
            raise ConnectionError("websocket closed")
        if data:
            await self._send(encode_frame(self.opcode, data))

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame (once)."""
        if self._close_sent:
            return
        self._close_sent = True
        if code in (1005, 1006, 1015):  # reserved: never sent on the wire
            code = CLOSE_NORMAL
        try:
            await self._send(encode_frame(OP_CLOSE, close_payload(code, reason)))
        except (ConnectionError, OSError):
            pass

    async def discard_until_closed(self) -> None:
        """Read and drop data frames (answering pings) until the peer closes:
        for an attach without stdin, which would otherwise never notice a close."""
        while await self.read():
            pass
