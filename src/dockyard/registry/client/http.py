"""HTTP/1.1 for the registry client: http.client connections kept alive in
a small pool per origin, streamed bodies, redirects."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import urllib.parse
from typing import Any, BinaryIO, Iterable

CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 120.0
BLOCK = 1 << 20
_MAX_IDLE = 8
_CONTEXTS: dict[tuple[bool, str | None], ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()


class Response:
    """A response whose body may still be streaming; close() gives its
    connection back to the pool when the body was read to the end."""

    def __init__(self, client: "HTTPClient", key: tuple[str, str], conn: http.client.HTTPConnection,
                 raw: http.client.HTTPResponse, url: str) -> None:
        self._client = client
        self._key = key
        self._conn: http.client.HTTPConnection | None = conn
        self.raw = raw
        self.status = raw.status
        self.reason = raw.reason
        self.headers = raw.headers
        self.url = url

    def header(self, name: str, default: str = "") -> str:
        return self.raw.getheader(name, default) or default

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read() if n < 0 else self.raw.read(n)
        if n < 0:
            self.close()
        return data

    def readinto(self, b: Any) -> int:
        return self.raw.readinto(b)

    def read_limited(self, limit: int) -> bytes:
        data = self.raw.read(limit + 1)
        if len(data) > limit:
            self.close(force=True)
            raise ValueError(f"response body larger than {limit} bytes")
        self.close()
        return data

    def abort(self) -> None:
        """From another thread: make a blocked read return at once."""
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self, force: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not force and self.raw.isclosed() and not self.raw.will_close:
            self._client._release(self._key, conn)
        else:
            self.raw.close()
            conn.close()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(force=exc[0] is not None)


def _shutdown(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class HTTPClient:
    def __init__(self, verify_tls: bool = True, ca_file: str | None = None) -> None:
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._ca_file = ca_file

    def _context(self, verify: bool) -> ssl.SSLContext:
        """TLS contexts cost tens of milliseconds (loading the CA store):
        made once per process, on first use."""
        key = (verify, self._ca_file)
        with _CONTEXTS_LOCK:
            ctx = _CONTEXTS.get(key)
            if ctx is None:
                if verify:
                    ctx = ssl.create_default_context(cafile=self._ca_file)
                else:  # nothing to verify against: skip loading the CA store
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                _CONTEXTS[key] = ctx
            return ctx

    def _connect(self, scheme: str, netloc: str, verify: bool) -> http.client.HTTPConnection:
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                netloc, timeout=CONNECT_TIMEOUT, context=self._context(verify),
                blocksize=BLOCK)
        else:
            conn = http.client.HTTPConnection(netloc, timeout=CONNECT_TIMEOUT, blocksize=BLOCK)
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(READ_TIMEOUT)
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _acquire(self, key: tuple[str, str], verify: bool) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        return self._connect(key[0], key[1], verify), False

    def _release(self, key: tuple[str, str], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < _MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            for conns in self._idle.values():
                for c in conns:
                    c.close()
            self._idle.clear()

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                body: bytes | BinaryIO | Iterable[bytes] | None = None, verify: bool = True,
                content_length: int | None = None, cancel: Any = None) -> Response:
        """One request; a reused keep-alive connection that turns out dead is
        retried once on a fresh one (only when the body can be sent again).
        cancel (an object with hook(fn) -> remover, fn called on
        cancellation) aborts the exchange while it waits for the answer."""
        u = urllib.parse.urlsplit(url)
        key = (u.scheme, u.netloc)
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        hdrs = dict(headers or {})
        hdrs.setdefault("User-Agent", "dockyard/0.1 (registry client)")
        if body is None and method in ("POST", "PUT", "PATCH"):
            hdrs.setdefault("Content-Length", "0")
        elif content_length is not None:
            hdrs["Content-Length"] = str(content_length)
        chunked = body is not None and not isinstance(body, (bytes, bytearray)) and "Content-Length" not in hdrs \
            and not hasattr(body, "read")
        replayable = body is None or isinstance(body, (bytes, bytearray))
        for attempt in range(2):
            conn, reused = self._acquire(key, verify)
            unhook = cancel.hook(lambda c=conn: _shutdown(c)) if cancel is not None else None
            try:
                conn.request(method, path, body=body, headers=hdrs, encode_chunked=chunked)
                raw = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.BadStatusLine) as e:
                conn.close()
                if reused and replayable and attempt == 0:
                    continue
                raise ConnectionError(f"{method} {url}: {e or type(e).__name__}") from None
            except BaseException:
                conn.close()
                raise
            finally:
                if unhook is not None:
                    unhook()
            if method == "HEAD":
                raw.read()
            return Response(self, key, conn, raw, url)
        raise AssertionError("unreachable")
