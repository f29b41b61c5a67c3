"""A fake Engine API on a unix socket, for unit tests of the client and CLI:
it records every request (method, path, query, headers, JSON body) and
answers from a table of canned responses. No daemon, no root."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def q(self, key: str) -> str | None:
        v = self.query.get(key)
        return v[-1] if v else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes as is
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None  # chunked body, sent piece by piece
    hijack: bytes | None = None  # 101 upgrade, then these raw bytes, then close


Handler = Callable[[Request], Reply]


def run_cli(capfd: Any, *argv: str) -> tuple[int, str, str]:
    """The CLI in this process (its main()): exit status, stdout, stderr."""
    from dockyard.cli import main as cli_main
    rc = cli_main.main(list(argv))
    out, err = capfd.readouterr()
    return rc, out, err


class FakeAPI:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="fakeapi")
        self.path = os.path.join(self.dir, "api.sock")
        self.host = "unix://" + self.path
        self.routes: list[tuple[str, str, Handler]] = []
        self.requests: list[Request] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def on(self, method: str, path: str, reply: Reply | Handler | Any = None) -> None:
        """Answer METHOD PATH (exact, or a prefix ending in '*') with reply."""
        if isinstance(reply, Reply):
            handler: Handler = lambda _r, rep=reply: rep  # noqa: E731
        elif callable(reply):
            handler = reply
        else:
            handler = lambda _r, body=reply: Reply(200, body)  # noqa: E731
        self.routes.insert(0, (method, path, handler))

    def find(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass

    # -- serving -------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        try:
            line = f.readline().decode()
            if not line:
                return
            method, target, _ = line.split(" ", 2)
            headers = {}
            while True:
                h = f.readline().decode()
                if h in ("\r\n", "\n", ""):
                    break
                k, _, v = h.partition(":")
                headers[k.strip().lower()] = v.strip()
            body = b""
            if headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size = int(f.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        f.readline()
                        break
                    body += f.read(size)
                    f.readline()
            elif "content-length" in headers:
                body = f.read(int(headers["content-length"]))
            parts = urlsplit(target)
            path = parts.path
            if path.startswith("/v1."):
                path = "/" + path.split("/", 2)[2]
            req = Request(method, path, parse_qs(parts.query, keep_blank_values=True), headers, body)
            self.requests.append(req)
            reply = self._route(req)
            self._send(conn, method, reply)
        except Exception as e:  # a broken test request: answer 500 so the test sees it
            try:
                self._send(conn, "GET", Reply(500, {"message": f"fakeapi: {e}"}))
            except OSError:
                pass
        finally:
            f.close()
            conn.close()

    def _route(self, req: Request) -> Reply:
        for method, path, handler in self.routes:
            if method != req.method:
                continue
            if path == req.path or (path.endswith("*") and req.path.startswith(path[:-1])):
                return handler(req)
        return Reply(404, {"message": f"page not found: {req.method} {req.path}"})

    @staticmethod
    def _send(conn: socket.socket, method: str, reply: Reply) -> None:
        if reply.hijack is not None:
            conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                         b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + reply.hijack)
            return
        headers = dict(reply.headers)
        if reply.chunks is not None:
            head = f"HTTP/1.1 {reply.status} X\r\nTransfer-Encoding: chunked\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            conn.sendall(head.encode())
            for c in reply.chunks:
                conn.sendall(b"%x\r\n%s\r\n" % (len(c), c))
            conn.sendall(b"0\r\n\r\n")
            return
        body = reply.body
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        headers["Content-Length"] = str(len(data))
        head = f"HTTP/1.1 {reply.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        conn.sendall(head.encode() + (data if method != "HEAD" else b""))
