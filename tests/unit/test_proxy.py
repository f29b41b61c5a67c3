"""dockyard-proxy on loopback: TCP through splice (bytes intact, half-close
kept, many connections at once) and UDP flows. No root needed."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading

import pytest

from _support.paths import binary


def tcp_echo_server() -> tuple[socket.socket, threading.Thread]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)
            conn.sendall(b"<eof>")  # the client's half-close reached us

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


@pytest.fixture
def proxy():
    backend, _ = tcp_echo_server()
    udp_backend = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_backend.bind(("127.0.0.1", 0))

    def udp_echo() -> None:
        while True:
            try:
                data, peer = udp_backend.recvfrom(65535)
            except OSError:
                return
            udp_backend.sendto(data.upper(), peer)

    threading.Thread(target=udp_echo, daemon=True).start()
    front = socket.socket()
    front.bind(("127.0.0.1", 0))
    front.listen(64)
    ufront = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ufront.bind(("127.0.0.1", 0))
    b_port, u_port = backend.getsockname()[1], udp_backend.getsockname()[1]
    proc = subprocess.Popen([binary("dockyard-proxy"), "--sandbox", "/nonexistent/test",
                             "--map", f"tcp:{front.fileno()}:127.0.0.1:{b_port}",
                             "--map", f"udp:{ufront.fileno()}:127.0.0.1:{u_port}"],
                            pass_fds=[front.fileno(), ufront.fileno()])
    addrs = front.getsockname(), ufront.getsockname()
    front.close()
    ufront.close()
    yield addrs
    proc.terminate()
    assert proc.wait(5) == 0
    backend.close()
    udp_backend.close()


def test_tcp_bytes_arrive_intact_and_eof_travels(proxy) -> None:
    (tcp_addr, _) = proxy
    payload = os.urandom(8 << 20)
    c = socket.create_connection(tcp_addr, timeout=10)
    sender = threading.Thread(target=lambda: (c.sendall(payload), c.shutdown(socket.SHUT_WR)))
    sender.start()
    got = bytearray()
    while chunk := c.recv(1 << 20):
        got += chunk
    sender.join()
    c.close()
    assert bytes(got[-5:]) == b"<eof>"
    assert hashlib.sha256(got[:-5]).digest() == hashlib.sha256(payload).digest()


def test_tcp_many_connections_at_once(proxy) -> None:
    (tcp_addr, _) = proxy
    conns = [socket.create_connection(tcp_addr, timeout=10) for _ in range(50)]
    for i, c in enumerate(conns):
        c.sendall(f"hello {i}\n".encode())
    for i, c in enumerate(conns):
        assert c.recv(100) == f"hello {i}\n".encode()
        c.close()


def test_udp_flows(proxy) -> None:
    (_, udp_addr) = proxy
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
    for i, c in enumerate(clients):
        c.settimeout(5)
        c.sendto(f"ping{i}".encode(), udp_addr)
    for i, c in enumerate(clients):
        data, peer = c.recvfrom(100)
        assert data == f"PING{i}".encode() and peer == udp_addr
        c.close()


def test_unreachable_backend_closes_the_client() -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    front = socket.socket()
    front.bind(("127.0.0.1", 0))
    front.listen(4)
    proc = subprocess.Popen([binary("dockyard-proxy"), "--sandbox", "/x", "--map",
                             f"tcp:{front.fileno()}:127.0.0.1:{dead_port}"], pass_fds=[front.fileno()])
    try:
        c = socket.create_connection(front.getsockname(), timeout=5)
        assert c.recv(10) == b""
        c.close()
    finally:
        front.close()
        proc.terminate()
        proc.wait(5)
