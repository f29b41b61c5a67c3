"""A small HTTP/1.1 server on asyncio with h11 doing the parsing.

Written for the Engine API's needs: streamed request bodies (image load,
build contexts), streamed responses (logs, events, pull progress), and
docker's hijacked connections (attach, exec): after a 101 (or 200) the
connection becomes a raw byte stream in both directions, and a client's
half-close only ends its stdin."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import h11

log = logging.getLogger("dockyard.api")

READ_SIZE = 256 * 1024


class Headers:
    """Case-insensitive, multi-valued request headers."""

    def __init__(self, items: list[tuple[bytes, bytes]]) -> None:
        self._items = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in items]

    def get(self, name: str, default: str = "") -> str:
        name = name.lower()
        for k, v in self._items:
            if k == name:
                return v
        return default

    def __contains__(self, name: str) -> bool:
        return any(k == name.lower() for k, _ in self._items)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


class Query:
    """Query string values, as docker's form parsing sees them."""

    def __init__(self, raw: str) -> None:
        self._d = parse_qs(raw, keep_blank_values=True)

    def get(self, name: str, default: str = "") -> str:
        v = self._d.get(name)
        return v[-1] if v else default

    def getall(self, name: str) -> list[str]:
        return list(self._d.get(name, []))

    def bool(self, name: str, default: bool = False) -> bool:
        """docker's BoolValue: present and not one of "", 0, no, false, none."""
        if name not in self._d:
            return default
        return self.get(name).strip().lower() not in ("", "0", "no", "false", "none")

    def int(self, name: str, default: int = 0) -> int:
        v = self.get(name)
        if v == "":
            return default
        try:
            return int(v)
        except ValueError:
            from ...errdefs import InvalidArgument
            raise InvalidArgument(f"invalid value for {name}: {v!r}") from None

    def json(self, name: str, default: Any = None) -> Any:
        v = self.get(name)
        if not v:
            return default
        try:
            return json.loads(v)
        except ValueError:
            from ...errdefs import InvalidArgument
            raise InvalidArgument(f"invalid {name} JSON: {v!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._d


class Response:
    def __init__(self, status: int = 200, body: bytes = b"", content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        if content_type and (body or status not in (204, 304)):
            self.headers.setdefault("Content-Type", content_type)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj, separators=(",", ":")).encode() + b"\n", "application/json", headers)


class StreamResponse:
    """A chunked response the handler writes as it goes."""

    def __init__(self, conn: "Connection", status: int, headers: dict[str, str]) -> None:
        self._conn = conn
        self.status = status
        self.headers = headers
        self.started = False

    async def start(self) -> None:
        if not self.started:
            self.started = True
            await self._conn.send(h11.Response(status_code=self.status, headers=_hdrs(self.headers)))

    async def write(self, data: bytes) -> None:
        await self.start()
        if data:
            await self._conn.send(h11.Data(data=data))

    async def write_json(self, obj: Any) -> None:
        await self.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")


class Hijacked:
    """The raw connection after a hijack: reader gets what the client sends
    (stdin), writer carries the output stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, leftover: bytes) -> None:
        self.reader = reader
        self.writer = writer
        self.leftover = leftover

    async def read(self, n: int = READ_SIZE) -> bytes:
        if self.leftover:
            data, self.leftover = self.leftover[:n], self.leftover[n:]
            return data
        return await self.reader.read(n)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:
            pass

    async def finish(self) -> None:
        """Close after what is queued has gone out (a client that left makes drain fail)."""
        try:
            await self.writer.drain()
        except Exception:
            pass
        self.close()


class Request:
    def __init__(self, conn: "Connection", event: h11.Request) -> None:
        self._conn = conn
        self.method = event.method.decode()
        target = event.target.decode("latin-1")
        parts = urlsplit(target)
        self.raw_path = parts.path
        self.path = unquote(parts.path)
        self.query = Query(parts.query)
        self.headers = Headers(event.headers)
        self.match: dict[str, str] = {}
        self.api_version = ""
        self.body_done = False
        self.stream_response: StreamResponse | None = None
        self.hijacked: Hijacked | None = None

    async def stream(self) -> AsyncIterator[bytes]:
        while not self.body_done:
            ev = await self._conn.next_event()
            if isinstance(ev, h11.Data):
                yield bytes(ev.data)
            elif isinstance(ev, h11.EndOfMessage) or ev is h11.PAUSED:
                self.body_done = True
            elif ev is None:
                self.body_done = True
                raise ConnectionError("client closed the connection mid-body")

    async def read(self, limit: int = 64 * 1024 * 1024) -> bytes:
        chunks = []
        total = 0
        async for c in self.stream():
            total += len(c)
            if total > limit:
                from ...errdefs import InvalidArgument
                raise InvalidArgument("request body too large")
            chunks.append(c)
        return b"".join(chunks)

    async def json(self, default: Any = None) -> Any:
        data = await self.read()
        if not data.strip():
            return default
        try:
            return json.loads(data)
        except ValueError as e:
            from ...errdefs import InvalidArgument
            raise InvalidArgument(f"invalid JSON: {e}") from None

    def stream_response_(self, status: int = 200, content_type: str = "application/json",
                         headers: dict[str, str] | None = None) -> StreamResponse:
        h = {"Content-Type": content_type} if content_type else {}
        h.update(headers or {})
        self.stream_response = StreamResponse(self._conn, status, h)
        return self.stream_response

    async def hijack(self, content_type: str) -> Hijacked:
        """Answer 101 Switching Protocols (or 200 for a client that did not
        ask to upgrade) and hand over the raw connection."""
        await self._drain_body()
        upgrade = "upgrade" in self.headers.get("connection").lower()
        if upgrade:
            head = (f"HTTP/1.1 101 UPGRADED\r\nContent-Type: {content_type}\r\n"
                    "Connection: Upgrade\r\nUpgrade: tcp\r\n" + self._conn.server_headers_raw() + "\r\n")
        else:
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n" + self._conn.server_headers_raw() + "\r\n"
        self._conn.writer.write(head.encode("latin-1"))
        await self._conn.writer.drain()
        leftover, _closed = self._conn.h11.trailing_data
        self.hijacked = Hijacked(self._conn.reader, self._conn.writer, bytes(leftover))
        self._conn.hijacked = True
        return self.hijacked

    async def switch_protocols(self, headers: dict[str, str]) -> Hijacked:
        """Answer 101 Switching Protocols with these headers (a websocket
        handshake) and hand over the raw connection."""
        await self._drain_body()
        head = "HTTP/1.1 101 Switching Protocols\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._conn.writer.write((head + self._conn.server_headers_raw() + "\r\n").encode("latin-1"))
        await self._conn.writer.drain()
        leftover, _closed = self._conn.h11.trailing_data
        self.hijacked = Hijacked(self._conn.reader, self._conn.writer, bytes(leftover))
        self._conn.hijacked = True
        return self.hijacked

    async def disconnected(self) -> None:
        """Returns when the client closes its connection (call once the
        body is read: a long operation is then cancelled, as docker does)."""
        await self._drain_body()
        reader = self._conn.reader
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except (ConnectionError, OSError):
                return
            if not data:
                return

    async def _drain_body(self) -> None:
        if not self.body_done:
            async for _ in self.stream():
                pass


Handler = Callable[[Request], Awaitable["Response | None"]]


def _hdrs(d: dict[str, str]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in d.items()]


class Connection:
    def __init__(self, server: "HTTPServer", reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=256 * 1024)
        self.hijacked = False

    def server_headers_raw(self) -> str:
        return "".join(f"{k}: {v}\r\n" for k, v in self.server.common_headers.items())

    async def next_event(self) -> Any:
        while True:
            ev = self.h11.next_event()
            if ev is h11.NEED_DATA:
                if self.h11.they_are_waiting_for_100_continue:
                    await self.send(h11.InformationalResponse(status_code=100, headers=[]))
                data = await self.reader.read(READ_SIZE)
                self.h11.receive_data(data)
                if not data and self.h11.their_state is h11.DONE:
                    pass
                continue
            if ev is h11.PAUSED:
                return h11.PAUSED
            if isinstance(ev, h11.ConnectionClosed):
                return None
            return ev

    async def send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def serve(self) -> None:
        try:
            while True:
                try:
                    ev = await self.next_event()
                except h11.RemoteProtocolError as e:
                    await self._send_error(e.error_status_hint, str(e))
                    return
                if ev is None or ev is h11.PAUSED:
                    return
                if not isinstance(ev, h11.Request):
                    return
                req = Request(self, ev)
                await self._handle(req)
                if self.hijacked:
                    return
                if self.h11.our_state is h11.MUST_CLOSE or self.h11.their_state is h11.MUST_CLOSE:
                    return
                try:
                    if not req.body_done:
                        await req._drain_body()
                    self.h11.start_next_cycle()
                except h11.LocalProtocolError:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if not self.hijacked:
                try:
                    self.writer.close()
                except Exception:
                    pass

    async def _handle(self, req: Request) -> None:
        try:
            resp = await self.server.handler(req)
        except asyncio.CancelledError:
            raise ConnectionError("server shutting down")
        except ConnectionError as e:
            log.debug("%s %s: connection error: %s", req.method, req.path, e)
            raise
        except Exception as e:  # the app's error handler should have caught it
            log.exception("unhandled error for %s %s", req.method, req.path)
            resp = json_response({"message": f"internal error: {e}"}, 500)
        if req.hijacked is not None:
            return
        if req.stream_response is not None:
            sr = req.stream_response
            if self.h11.our_state is h11.SEND_RESPONSE and not sr.started:
                if resp is not None:
                    await self._send_response(resp)
                    return
                await sr.start()
            if self.h11.our_state is h11.SEND_BODY:
                await self.send(h11.EndOfMessage())
            return
        if resp is None:
            resp = Response(204)
        await self._send_response(resp)

    async def _send_response(self, resp: Response) -> None:
        headers = dict(self.server.common_headers)
        headers.update(resp.headers)
        if resp.status not in (204, 304) and resp.status >= 200:
            headers["Content-Length"] = str(len(resp.body))
        await self.send(h11.Response(status_code=resp.status, headers=_hdrs(headers)))
        if resp.body and resp.status not in (204, 304):
            await self.send(h11.Data(data=resp.body))
        await self.send(h11.EndOfMessage())

    async def _send_error(self, status: int, message: str) -> None:
        if self.h11.our_state is not h11.SEND_RESPONSE:
            return
        try:
            await self._send_response(json_response({"message": message}, status))
        except Exception:
            pass


class HTTPServer:
    def __init__(self, handler: Handler, common_headers: dict[str, str] | None = None) -> None:
        self.handler = handler
        self.common_headers = dict(common_headers or {})
        self._servers: list[asyncio.base_events.Server] = []
        self._conns: set[asyncio.Task] = set()
        self._unix_paths: list[tuple[str, int, int]] = []  # (path, st_dev, st_ino) of sockets we bound

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            await Connection(self, reader, writer).serve()
        finally:
            if task is not None:
                self._conns.discard(task)

    async def listen_unix(self, path: str, mode: int = 0o660) -> None:
        if os.path.exists(path):
            os.unlink(path)
        srv = await asyncio.start_unix_server(self._on_client, path=path, limit=READ_SIZE)
        self._servers.append(srv)
        st = os.stat(path)
        self._unix_paths.append((path, st.st_dev, st.st_ino))
        os.chmod(path, mode)

    async def listen_tcp(self, host: str, port: int, ssl_ctx: Any = None) -> None:
        srv = await asyncio.start_server(self._on_client, host=host, port=port, ssl=ssl_ctx, limit=READ_SIZE)
        self._servers.append(srv)

    async def close(self) -> None:
        """Stop listening, cancel the connections and remove the socket
        files (asyncio leaves them behind before Python 3.13)."""
        for s in self._servers:
            s.close()
        self._remove_socket_files()
        for t in list(self._conns):
            t.cancel()
        for s in self._servers:
            try:
                await asyncio.wait_for(s.wait_closed(), 1)
            except (asyncio.TimeoutError, Exception):
                pass

    def _remove_socket_files(self) -> None:
        """Unlink each socket file this server bound, unless the path now
        names another file (a second daemon started on the same path)."""
        for path, dev, ino in self._unix_paths:
            try:
                st = os.lstat(path)
                if (st.st_dev, st.st_ino) == (dev, ino):
                    os.unlink(path)
            except OSError:
                pass
        self._unix_paths.clear()
