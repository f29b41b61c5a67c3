"""The Engine API server with a fake handler: routing, version prefixes,
errors as JSON with the right status, hijacking."""

import asyncio
import json
import os
import socket

import pytest

from dockyard import errdefs
from dockyard.api.server.http import HTTPServer, Request, json_response
from dockyard.api.server.router import Router


def _router() -> Router:
    r = Router()

    async def ok(req: Request):
        return json_response({"id": req.match.get("id"), "v": req.api_version, "q": req.query.get("a")})

    async def missing(req: Request):
        raise errdefs.NotFound("No such container: x")

    async def echo(req: Request):
        conn = await req.hijack("application/vnd.docker.raw-stream")
        data = await conn.read()
        await conn.write(data.upper())
        conn.close()

    r.get("/containers/{id}/json", ok)
    r.get("/missing", missing)
    r.post("/echo", echo)
    return r


def _request(path: str, raw: bytes) -> bytes:
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(raw)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
        if raw.startswith(b"POST /echo") and out.endswith(b"HELLO"):
            break
    s.close()
    return out


def test_routes_and_errors(tmp_path) -> None:
    sock = str(tmp_path / "api.sock")

    async def main():
        srv = HTTPServer(_router())
        await srv.listen_unix(sock)
        loop = asyncio.get_running_loop()
        r1 = await loop.run_in_executor(None, _request, sock,
                                        b"GET /v1.44/containers/abc/json?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r2 = await loop.run_in_executor(None, _request, sock,
                                        b"GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r3 = await loop.run_in_executor(None, _request, sock,
                                        b"GET /v9.99/missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r4 = await loop.run_in_executor(None, _request, sock,
                                        b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                                        b"Content-Length: 0\r\n\r\nhello")
        await srv.close()
        return r1, r2, r3, r4

    r1, r2, r3, r4 = asyncio.run(main())
    assert r1.startswith(b"HTTP/1.1 200")
    assert json.loads(r1.split(b"\r\n\r\n", 1)[1]) == {"id": "abc", "v": "1.44", "q": "1"}
    assert r2.startswith(b"HTTP/1.1 404")
    assert json.loads(r2.split(b"\r\n\r\n", 1)[1]) == {"message": "No such container: x"}
    assert r3.startswith(b"HTTP/1.1 400") and b"too new" in r3
    assert r4.startswith(b"HTTP/1.1 101") and r4.endswith(b"HELLO")


def test_close_removes_the_socket_file_it_bound(tmp_path) -> None:
    sock, other = str(tmp_path / "api.sock"), str(tmp_path / "other.sock")

    async def main() -> None:
        srv = HTTPServer(_router())
        await srv.listen_unix(sock)
        await srv.listen_unix(other)
        assert os.path.exists(sock) and os.path.exists(other)
        # Another server has since bound other.sock: that file is not ours to remove.
        os.unlink(other)
        s = socket.socket(socket.AF_UNIX)
        s.bind(other)
        try:
            await srv.close()
        finally:
            s.close()

    asyncio.run(main())
    assert not os.path.exists(sock)
    assert os.path.exists(other)
