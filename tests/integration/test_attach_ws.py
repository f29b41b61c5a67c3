"""GET /containers/{id}/attach/ws against a real daemon: docker's Python SDK
(websocket-client, over TCP as the SDK only speaks ws over tcp), aiohttp's
websocket client over the unix socket, and raw sockets for the bad cases."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time

import aiohttp
import pytest

from _support.daemon import TestDaemon


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def tcp_daemon() -> TestDaemon:
    port = free_port()
    d = TestDaemon(["-H", f"tcp://127.0.0.1:{port}"]).start()
    d.tcp = f"tcp://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        d.import_busybox()
        yield d
    finally:
        d.teardown()


ECHO = 'echo ready; while read l; do echo "out $l"; echo "err $l" >&2; done'


def run_echo(d: TestDaemon, name: str, tty: bool = False) -> str:
    args = ["run", "-d", "-i", "--name", name] + (["-t"] if tty else []) + ["busybox", "sh", "-c", ECHO]
    r = d.cli(*args)
    assert r.returncode == 0, r.stderr
    wait_logs(d, name, b"ready")
    return r.stdout.decode().strip()


def wait_logs(d: TestDaemon, name: str, want: bytes, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while want not in (lambda r: r.stdout + r.stderr)(d.cli("logs", name)):
        assert time.monotonic() < deadline, f"{name} never wrote {want!r}"
        time.sleep(0.1)


async def ws_session(d: TestDaemon, path: str, fn) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=d.socket)) as s:
        async with s.ws_connect("http://localhost" + path, autoping=False) as ws:
            await fn(ws)


async def receive_until(ws, want: bytes, timeout: float = 20) -> tuple[bytes, set]:
    got, kinds = b"", set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while want not in got:
        msg = await ws.receive(timeout=max(0.1, deadline - loop.time()))
        assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), (msg, got)
        kinds.add(msg.type)
        got += msg.data if isinstance(msg.data, bytes) else msg.data.encode()
    return got, kinds


def test_docker_sdk_attach_socket_ws(tcp_daemon: TestDaemon) -> None:
    import docker
    cid = run_echo(tcp_daemon, "sdkws")
    client = docker.DockerClient(base_url=tcp_daemon.tcp, version="auto", timeout=30)  # type: ignore[attr-defined]
    c = client.containers.get(cid)
    sock = c.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}, ws=True)
    try:
        sock.settimeout(20)
        sock.send_binary(b"one\n")
        got = b""
        while b"err one" not in got or b"out one" not in got:
            opcode, data = sock.recv_data()
            assert opcode == 2  # binary frames (API >= 1.28)
            got += data
        # Raw output: no multiplexed stream headers even without a TTY.
        assert got in (b"out one\nerr one\n", b"err one\nout one\n")
    finally:
        sock.close()
    assert c.reload() is None and c.status == "running"  # closing the websocket detaches only
    c.remove(force=True)


def test_stream_selection_logs_and_close(tcp_daemon: TestDaemon) -> None:
    run_echo(tcp_daemon, "sel")

    async def only_stdout(ws) -> None:
        await ws.send_bytes(b"two\n")
        await ws.send_bytes(b"three\n")
        got, kinds = await receive_until(ws, b"out three\n")
        assert got == b"out two\nout three\n" and kinds == {aiohttp.WSMsgType.BINARY}
        await ws.ping(b"hello?")
        msg = await ws.receive(timeout=20)
        assert msg.type == aiohttp.WSMsgType.PONG and msg.data == b"hello?"
    asyncio.run(ws_session(tcp_daemon, "/v1.45/containers/sel/attach/ws?stdin=1&stdout=1&stream=1", only_stdout))

    wait_logs(tcp_daemon, "sel", b"err three")

    async def logs_only(ws) -> None:
        got, _ = await receive_until(ws, b"err three\n")
        # stdout and stderr are separate pipes: their relative order may vary.
        assert sorted(got.splitlines()) == [b"err three", b"err two", b"out three", b"out two", b"ready"]
        msg = await ws.receive(timeout=20)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1000  # logs sent: the server closes
    asyncio.run(ws_session(tcp_daemon, "/v1.45/containers/sel/attach/ws?logs=1&stdout=1&stderr=1", logs_only))


def test_old_api_text_frames_and_all_streams(tcp_daemon: TestDaemon) -> None:
    run_echo(tcp_daemon, "old")

    async def go(ws) -> None:
        # Before 1.42 stdin/stdout/stderr are always attached; before 1.28 frames are text.
        await ws.send_str("four\n")
        got, kinds = await receive_until(ws, b"err four\n")
        assert b"out four\n" in got and kinds == {aiohttp.WSMsgType.TEXT}
    asyncio.run(ws_session(tcp_daemon, "/v1.27/containers/old/attach/ws?stream=1", go))


def test_tty_detach_keys_and_exit(tcp_daemon: TestDaemon) -> None:
    run_echo(tcp_daemon, "tty", tty=True)

    async def detach(ws) -> None:
        await ws.send_bytes(b"five\n")
        await receive_until(ws, b"out five")
        await ws.send_bytes(b"\x01\x02")  # ctrl-a ctrl-b
        while True:
            msg = await ws.receive(timeout=20)
            if msg.type == aiohttp.WSMsgType.CLOSE:
                break
            assert msg.type == aiohttp.WSMsgType.BINARY
    asyncio.run(ws_session(tcp_daemon, "/v1.45/containers/tty/attach/ws?stdin=1&stdout=1&stream=1"
                                       "&detachKeys=ctrl-a,ctrl-b", detach))
    assert tcp_daemon.client().container_inspect("tty")["State"]["Running"]

    async def exits(ws) -> None:
        await ws.send_bytes(b"six\n")
        await receive_until(ws, b"out six")
        await ws.send_bytes(b"\x04")  # ^D on the terminal: read gets EOF, the shell exits
        msg = await ws.receive(timeout=30)
        while msg.type == aiohttp.WSMsgType.BINARY:
            msg = await ws.receive(timeout=30)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1000
    asyncio.run(ws_session(tcp_daemon, "/v1.45/containers/tty/attach/ws?stdin=1&stdout=1&stream=1", exits))
    deadline = time.monotonic() + 30  # the exit is recorded as the output ends: poll
    while tcp_daemon.client().container_inspect("tty")["State"]["Running"]:
        assert time.monotonic() < deadline, "the container did not exit on ^D"
        time.sleep(0.1)


def raw_request(d: TestDaemon, head: str, body: bytes = b"") -> tuple[bytes, socket.socket]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(d.socket)
    s.sendall(head.encode() + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    if b"content-length:" in head:
        length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        while len(data) < len(head) + 4 + length:
            data += s.recv(4096)
    return data, s


def ws_head(path: str, extra: str = "") -> str:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n")


def test_bad_requests(tcp_daemon: TestDaemon) -> None:
    api = tcp_daemon.client()
    run_echo(tcp_daemon, "bad")
    data, s = raw_request(tcp_daemon, ws_head("/v1.45/containers/missing/attach/ws?stream=1"))
    s.close()
    assert data.startswith(b"HTTP/1.1 404") and b"No such container: missing" in data
    data, s = raw_request(tcp_daemon, "GET /v1.45/containers/bad/attach/ws?stream=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    s.close()
    assert data.startswith(b"HTTP/1.1 400")
    data, s = raw_request(tcp_daemon, ws_head("/v1.45/containers/bad/attach/ws?stream=1&detachKeys=ctrl-1"))
    s.close()
    assert data.startswith(b"HTTP/1.1 400")
    api.container_pause("bad")
    try:
        data, s = raw_request(tcp_daemon, ws_head("/v1.45/containers/bad/attach/ws?stream=1"))
        s.close()
        assert data.startswith(b"HTTP/1.1 409") and b"is paused" in data
    finally:
        api.container_unpause("bad")

    # An unmasked client frame: the server closes with 1002 and ends the session.
    data, s = raw_request(tcp_daemon, ws_head("/v1.45/containers/bad/attach/ws?stdin=1&stdout=1&stream=1"))
    assert data.startswith(b"HTTP/1.1 101 ") and b"Sec-WebSocket-Accept" in data
    s.sendall(bytes([0x82, 3]) + b"abc")
    rest = data.split(b"\r\n\r\n", 1)[1]
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        rest += chunk
    s.close()
    assert rest[0] == 0x88 and struct.unpack(">H", rest[2:4])[0] == 1002, rest
    assert rest[4:2 + rest[1]] == b"client frame is not masked"
    assert api.container_inspect("bad")["State"]["Running"]


def test_client_close_without_stdin_ends_the_session(tcp_daemon: TestDaemon) -> None:
    run_echo(tcp_daemon, "quiet")
    data, s = raw_request(tcp_daemon, ws_head("/v1.45/containers/quiet/attach/ws?stdout=1&stream=1"))
    assert data.startswith(b"HTTP/1.1 101 ")
    mask = os.urandom(4)
    payload = struct.pack(">H", 1001)
    s.sendall(bytes([0x89, 0x80]) + mask)  # an empty ping first
    s.sendall(bytes([0x88, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    rest = data.split(b"\r\n\r\n", 1)[1]
    while True:
        chunk = s.recv(4096)
        if not chunk:  # the server closed the connection after its close frame
            break
        rest += chunk
    s.close()
    assert rest == bytes([0x8A, 0]) + bytes([0x88, 2]) + payload  # pong, then the close echoed
    assert tcp_daemon.client().container_inspect("quiet")["State"]["Running"]
