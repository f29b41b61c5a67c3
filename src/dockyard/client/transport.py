"""A minimal HTTP/1.1 client over a unix or TCP socket: requests with a
body or a streamed body, responses read by Content-Length, chunked encoding
or until close, and hijacked connections after 101.

Lean on purpose (the CLI starts for every command): it uses the C `_socket`
module rather than `socket` (which pulls in enum and selectors), quotes URLs
itself rather than importing urllib, and loads `ssl` only for TLS hosts."""

from __future__ import annotations

import _socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator

AF_UNIX = _socket.AF_UNIX
SOCK_STREAM = _socket.SOCK_STREAM
SHUT_WR = _socket.SHUT_WR
USER_AGENT = "Dockyard-Client/0.1.0 (linux)"

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


class TransportError(Exception):
    pass


def quote(s: str, safe: str = "") -> str:
    """Percent-encode like urllib.parse.quote (UTF-8, unreserved kept)."""
    keep = _SAFE | frozenset(safe.encode())
    return "".join(chr(b) if b in keep else "%%%02X" % b for b in s.encode())


def urlencode(query: dict[str, Any]) -> str:
    """Query string from a dict; None values are left out, lists repeat the key."""
    parts = []
    for k, v in query.items():
        if v is None:
            continue
        for item in (v if isinstance(v, (list, tuple)) else (v,)):
            if isinstance(item, bool):
                item = "1" if item else "0"
            parts.append(f"{quote(str(k))}={quote(str(item))}")
    return "&".join(parts)


class Response:
    def __init__(self, sock: Any, status: int, reason: str, headers: dict[str, str],
                 buffered: bytes) -> None:
        self.sock = sock
        self.status = status
        self.reason = reason
        self.headers = headers
        self._buf = buffered
        self._eof = False
        te = headers.get("transfer-encoding", "").lower()
        self.chunked = "chunked" in te
        cl = headers.get("content-length")
        self._remaining = int(cl) if cl is not None and not self.chunked else -1
        self._chunk_left = 0
        if status in (204, 304) or status < 200:
            self._remaining = 0

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self._buf += data
        return True

    def _read_line(self) -> bytes:
        while b"\r\n" not in self._buf:
            if not self._fill():
                raise TransportError("connection closed mid-response")
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line

    def read_chunk(self) -> bytes:
        """The next piece of the body, b"" at the end."""
        if self._eof:
            return b""
        if self.chunked:
            if self._chunk_left == 0:
                size_line = self._read_line()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self._read_line():  # trailers
                        pass
                    self._eof = True
                    return b""
                self._chunk_left = size
            if not self._buf and not self._fill():
                raise TransportError("connection closed mid-chunk")
            data, self._buf = self._buf[: self._chunk_left], self._buf[self._chunk_left:]
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._read_line()
            return data
        if self._remaining == 0:
            self._eof = True
            return b""
        if not self._buf and not self._fill():
            self._eof = True
            if self._remaining > 0:
                raise TransportError("connection closed mid-body")
            return b""
        if self._remaining > 0:
            data, self._buf = self._buf[: self._remaining], self._buf[self._remaining:]
            self._remaining -= len(data)
        else:
            data, self._buf = self._buf, b""
        return data

    def iter_chunks(self) -> Iterator[bytes]:
        while True:
            c = self.read_chunk()
            if not c:
                return
            yield c

    def read(self) -> bytes:
        data = b"".join(self.iter_chunks())
        self.close()
        return data

    def iter_lines(self) -> Iterator[bytes]:
        pending = b""
        for chunk in self.iter_chunks():
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip():
                    yield line
        if pending.strip():
            yield pending

    def take_buffer(self) -> bytes:
        """Bytes already read past the headers (for hijacked streams)."""
        b, self._buf = self._buf, b""
        return b

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def parse_host(host: str, tls: bool = False) -> tuple[int, Any, str]:
    """(family, address, Host header) for unix:// and tcp:// hosts, as docker
    accepts them (a bare path is a unix socket; tcp without port: 2375, 2376 with TLS)."""
    if host.startswith("unix://"):
        return AF_UNIX, host[7:], "docker"
    if host.startswith("/"):
        return AF_UNIX, host, "docker"
    for scheme in ("tcp://", "http://", "https://"):
        if host.startswith(scheme):
            hp = host[len(scheme):].split("/", 1)[0]
            break
    else:
        raise TransportError(f"unable to parse docker host `{host}`: use unix:// or tcp://")
    if hp.startswith("["):  # [v6]:port
        h, _, rest = hp[1:].partition("]")
        p = rest.lstrip(":")
    else:
        h, _, p = hp.rpartition(":") if ":" in hp else (hp, "", "")
    if not p:
        p = "2376" if tls else "2375"
    if not p.isdigit():
        raise TransportError(f"invalid port in docker host `{host}`")
    return _socket.AF_INET, (h or "127.0.0.1", int(p)), hp


class Transport:
    """Opens one connection per request (the daemon is local; keep-alive
    would buy little and complicate streaming). `tls` is an ssl.SSLContext."""

    def __init__(self, host: str, tls: Any = None, timeout: float | None = None) -> None:
        self.host = host
        self.tls = tls
        self.timeout = timeout
        self.family, self.address, self.http_host = parse_host(host, tls is not None)
        # Run once, after the next request is sent and before its response is
        # read: work that overlaps with the daemon's (the CLI loads the modules
        # that print the answer while the daemon computes it).
        self.while_waiting: Callable[[], None] | None = None

    def connect(self) -> Any:
        if self.family == AF_UNIX:
            s = _socket.socket(AF_UNIX, SOCK_STREAM)
            s.settimeout(self.timeout)
            try:
                s.connect(self.address)
            except BaseException:
                s.close()
                raise
            return s
        import socket  # TCP: getaddrinfo, IPv6 and ssl want the full socket module
        s = socket.create_connection(self.address, timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            s = self.tls.wrap_socket(s, server_hostname=self.address[0])
        return s

    def request(self, method: str, path: str, query: dict[str, Any] | None = None,
                body: bytes | Iterable[bytes] | None = None,
                headers: dict[str, str] | None = None) -> Response:
        target = quote(path, safe="/:@")
        if query:
            qs = urlencode(query)
            if qs:
                target += "?" + qs
        hdrs = {"Host": self.http_host, "User-Agent": USER_AGENT}
        hdrs.update(headers or {})
        streaming = body is not None and not isinstance(body, (bytes, bytearray))
        if body is None:
            if method in ("POST", "PUT"):
                hdrs.setdefault("Content-Length", "0")
        elif streaming:
            hdrs["Transfer-Encoding"] = "chunked"
        else:
            hdrs["Content-Length"] = str(len(body))  # type: ignore[arg-type]
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        sock = self.connect()
        try:
            if streaming:
                sock.sendall(head.encode("latin-1"))
                for chunk in body:  # type: ignore[union-attr]
                    if chunk:  # framed apart: no copy of a big chunk just to frame it
                        sock.sendall(b"%x\r\n" % len(chunk))
                        sock.sendall(chunk)
                        sock.sendall(b"\r\n")
                sock.sendall(b"0\r\n\r\n")
            else:
                sock.sendall(head.encode("latin-1") + (body or b""))  # type: ignore[operator]
            if self.while_waiting is not None:
                work, self.while_waiting = self.while_waiting, None
                work()
            resp = self._read_head(sock)
            if method == "HEAD":
                resp._remaining = 0  # never a body, whatever Content-Length says
                resp.chunked = False
            return resp
        except BaseException:
            sock.close()
            raise

    @staticmethod
    def _read_head(sock: Any) -> Response:
        buf = b""
        while True:
            data = sock.recv(65536)
            if not data:
                raise TransportError("the daemon closed the connection without a response")
            buf += data
            if b"\r\n\r\n" in buf:
                head, rest = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ", 2)
                if parts[1] == "100":  # Continue: the real response follows
                    buf = rest
                    continue
                break
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return Response(sock, int(parts[1]), parts[2] if len(parts) > 2 else "", headers, rest)
