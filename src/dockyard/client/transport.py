"""A minimal HTTP/1.1 client over a unix or TCP socket: requests with a
body or a streamed body, responses read by Content-Length, chunked encoding
or until close, and hijacked connections after 101."""

from __future__ import annotations

import socket
from typing import Iterable, Iterator
from urllib.parse import quote, urlencode


class TransportError(Exception):
    pass


class Response:
    def __init__(self, sock: socket.socket, status: int, reason: str, headers: dict[str, str],
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
        return b"".join(self.iter_chunks())

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


class Transport:
    """Opens one connection per request (the daemon is local; keep-alive
    would buy little and complicate streaming)."""

    def __init__(self, host: str, tls: object = None, timeout: float | None = None) -> None:
        self.host = host
        self.tls = tls
        self.timeout = timeout
        if host.startswith("unix://"):
            self.family, self.address, self.http_host = socket.AF_UNIX, host[7:], "docker"
        elif host.startswith("tcp://") or host.startswith("http://") or host.startswith("https://"):
            hp = host.split("://", 1)[1].rstrip("/")
            h, _, p = hp.rpartition(":")
            if not h:
                h, p = hp, "2376" if tls else "2375"
            self.family, self.address, self.http_host = socket.AF_INET, (h.strip("[]"), int(p)), hp
        else:
            raise TransportError(f"unsupported protocol in host {host!r}: use unix:// or tcp://")

    def connect(self) -> socket.socket:
        if self.family == socket.AF_UNIX:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout)
            s.connect(self.address)
            return s
        s = socket.create_connection(self.address, timeout=self.timeout)  # type: ignore[arg-type]
        if self.tls is not None:
            s = self.tls.wrap_socket(s, server_hostname=self.address[0])  # type: ignore[attr-defined]
        return s

    def request(self, method: str, path: str, query: dict | None = None, body: bytes | Iterable[bytes] | None = None,
                headers: dict[str, str] | None = None) -> Response:
        if query:
            q = {k: v for k, v in query.items() if v is not None}
            qs = urlencode(q, doseq=True)
            target = quote(path, safe="/:@") + ("?" + qs if qs else "")
        else:
            target = quote(path, safe="/:@")
        hdrs = {"Host": self.http_host, "User-Agent": "Dockyard-Client/0.1.0"}
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
            sock.sendall(head.encode("latin-1"))
            if streaming:
                for chunk in body:  # type: ignore[union-attr]
                    if chunk:
                        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sock.sendall(b"0\r\n\r\n")
            elif body:
                sock.sendall(body)  # type: ignore[arg-type]
            return self._read_head(sock)
        except BaseException:
            sock.close()
            raise

    @staticmethod
    def _read_head(sock: socket.socket) -> Response:
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                raise TransportError("the daemon closed the connection without a response")
            buf += data
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return Response(sock, status, parts[2] if len(parts) > 2 else "", headers, rest)
