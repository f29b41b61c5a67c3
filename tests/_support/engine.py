"""Direct Engine API calls for tests: status, headers and body as the daemon
sent them (no client library in between)."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import time
from typing import Any
from urllib.parse import urlencode


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


class Engine:
    def __init__(self, socket_path: str) -> None:
        self.path = socket_path

    def call(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
             raw: bytes | None = None, headers: dict[str, str] | None = None,
             timeout: float = 60) -> tuple[int, bytes, dict[str, str]]:
        q = {k: (json.dumps(v) if isinstance(v, (dict, list)) else str(v).lower() if isinstance(v, bool) else v)
             for k, v in (query or {}).items()}
        url = path + ("?" + urlencode(q) if q else "")
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn = _UnixConnection(self.path, timeout)
        try:
            conn.request(method, url, body=data, headers=hdrs)
            resp = conn.getresponse()
            out = resp.read()
            return resp.status, out, {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()

    def ok(self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201, 204), **kw: Any) -> Any:
        status, data, _ = self.call(method, path, **kw)
        want = (expect,) if isinstance(expect, int) else expect
        assert status in want, f"{method} {path}: {status} {data[:500]!r}"
        return json.loads(data) if data.strip() else None

    def err(self, method: str, path: str, status: int, **kw: Any) -> str:
        got, data, _ = self.call(method, path, **kw)
        assert got == status, f"{method} {path}: expected {status}, got {got} {data[:500]!r}"
        return json.loads(data)["message"]

    # -- shortcuts ---------------------------------------------------------------------
    def create(self, name: str = "", **config: Any) -> str:
        config.setdefault("Image", "busybox")
        return self.ok("POST", "/containers/create", 201, query={"name": name} if name else None,
                       body=config)["Id"]

    def run(self, *cmd: str, name: str = "", **config: Any) -> str:
        cid = self.create(name, Cmd=list(cmd), **config)
        self.ok("POST", f"/containers/{cid}/start", 204)
        return cid

    def inspect(self, ref: str) -> dict[str, Any]:
        return self.ok("GET", f"/containers/{ref}/json", 200)

    def wait(self, ref: str, condition: str = "not-running", timeout: float = 60) -> dict[str, Any]:
        return self.ok("POST", f"/containers/{ref}/wait", 200, query={"condition": condition}, timeout=timeout)

    def rm(self, ref: str) -> None:
        self.ok("DELETE", f"/containers/{ref}", (204, 404), query={"force": True, "v": True})

    def logs(self, ref: str, **query: Any) -> bytes:
        query.setdefault("stdout", True)
        query.setdefault("stderr", True)
        return self.call("GET", f"/containers/{ref}/logs", query=query)[1]

    def exec(self, ref: str, *cmd: str, **config: Any) -> tuple[int, bytes]:
        """Run cmd in the container, attached; (exit code, demuxed stdout+stderr)."""
        config.setdefault("AttachStdout", True)
        config.setdefault("AttachStderr", True)
        eid = self.ok("POST", f"/containers/{ref}/exec", 201, body=dict(config, Cmd=list(cmd)))["Id"]
        _, out, _ = self.call("POST", f"/exec/{eid}/start", body={"Detach": False, "Tty": False})
        info = self.ok("GET", f"/exec/{eid}/json", 200)
        return info["ExitCode"], demux(out)

    def until(self, fn: Any, timeout: float = 30, interval: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """docker's multiplexed stream: (stream, payload) pairs."""
    out = []
    while len(data) >= 8:
        stream, n = struct.unpack(">BxxxL", data[:8])
        out.append((stream, data[8:8 + n]))
        data = data[8 + n:]
    assert not data, f"trailing bytes in a multiplexed stream: {data!r}"
    return out


def demux(data: bytes, stream: int | None = None) -> bytes:
    return b"".join(p for s, p in frames(data) if stream is None or s == stream)
