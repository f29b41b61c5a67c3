#!/usr/bin/env python3
"""TCP throughput through Dockyard's networking, side by side in one run:

- container -> container on one user-defined bridge (veth, bridge, veth),
  by a sender socket made in one container's namespace and a receiver in
  the other's, and by busybox nc inside the containers;
- host -> container through a published port on 127.0.0.1: the userland
  proxy (dockyard-proxy, splice), hairpin NAT (a second daemon with
  --userland-proxy=false), and a direct connection to the container's
  address as the reference;
- the time to set up and tear down a container's sandbox.

docker0 and docker-proxy are compared when a Docker engine runs here; none
does on this machine (docker is the client only), so those rows are absent
and the ratios are against the direct path instead.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import threading
import time

from _common import REPO, docker_daemon_available

CHUNK = 1 << 20
C2C = "container->container, one bridge (sockets in the namespaces)"
DIRECT = "host->container, direct to its address"
PROXY = "host->container, 127.0.0.1 published port (dockyard-proxy)"
HAIRPIN = "host->container, 127.0.0.1 published port (hairpin NAT, --userland-proxy=false)"


def receiver(sock: socket.socket, result: list[int]) -> None:
    conn, _ = sock.accept()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while n := conn.recv_into(view):
        total += n
    conn.close()
    result.append(total)


def transfer(make_listener, make_sender, seconds: float) -> float:
    """Gbit/s of one TCP stream for ``seconds``."""
    lsock = make_listener()
    got: list[int] = []
    t = threading.Thread(target=receiver, args=(lsock, got))
    t.start()
    s = make_sender()
    payload = memoryview(bytes(CHUNK))
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    t.join()
    elapsed = time.perf_counter() - start
    s.close()
    lsock.close()
    return got[0] * 8 / elapsed / 1e9


def in_netns(key: str, family: int = socket.AF_INET, type_: int = socket.SOCK_STREAM) -> socket.socket:
    from dockyard.network import netns
    return netns.socket_in(key, family, type_)


def listen_in(key: str, port: int):
    def make() -> socket.socket:
        s = in_netns(key)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(4)
        return s
    return make


def connect_from(key: str | None, addr: tuple[str, int]):
    def make() -> socket.socket:
        s = in_netns(key) if key else socket.socket()
        s.connect(addr)
        return s
    return make


def print_report(rows: list[tuple[str, str, list[float]]], notes: list[str]) -> None:
    """Rows of (label, unit, samples); also saved as bench/results/network.json."""
    print("\n== network ==")
    width = max(len(r[0]) for r in rows)
    out = {}
    for label, unit, samples in rows:
        med = statistics.median(samples)
        print(f"  {label.ljust(width)}  median {med:8.2f} {unit:7}  min {min(samples):8.2f}  "
              f"max {max(samples):8.2f}  (n={len(samples)})")
        out[label] = {"unit": unit, "median": med, "min": min(samples), "max": max(samples), "runs": len(samples)}
    for n in notes:
        print(f"  note: {n}")
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results", "network.json"), "w") as f:
        json.dump({"bench": "network", "rows": out, "notes": notes}, f, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=5)
    a, _ = ap.parse_known_args()
    from _support.daemon import TestDaemon

    rows: list[tuple[str, str, list[float]]] = []
    notes: list[str] = []

    def docker_in(d: "TestDaemon", *args: str) -> str:
        res = subprocess.run(["docker", *args], env=d.env(), capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {res.stderr}")
        return res.stdout.strip()

    def inspect(d: "TestDaemon", name: str) -> dict:
        return json.loads(docker_in(d, "inspect", name))[0]

    # Two daemons side by side: the default (userland proxy) and --userland-proxy=false (hairpin NAT).
    d = TestDaemon().start()
    h = TestDaemon(["--userland-proxy=false"]).start()
    try:
        for x in (d, h):
            x.import_busybox()
        docker_in(d, "network", "create", "benchnet")
        docker_in(d, "run", "-d", "--name", "rx", "--network", "benchnet", "-p", "127.0.0.1::5001", "busybox",
                  "sleep", "3600")
        docker_in(d, "run", "-d", "--name", "tx", "--network", "benchnet", "busybox", "sleep", "3600")
        docker_in(h, "run", "-d", "--name", "rx", "-p", "127.0.0.1::5001", "busybox", "sleep", "3600")
        rx, tx, hrx = inspect(d, "rx"), inspect(d, "tx"), inspect(h, "rx")
        rx_key, tx_key = rx["NetworkSettings"]["SandboxKey"], tx["NetworkSettings"]["SandboxKey"]
        rx_ip = rx["NetworkSettings"]["Networks"]["benchnet"]["IPAddress"]
        port = int(rx["NetworkSettings"]["Ports"]["5001/tcp"][0]["HostPort"])
        hkey = hrx["NetworkSettings"]["SandboxKey"]
        hport = int(hrx["NetworkSettings"]["Ports"]["5001/tcp"][0]["HostPort"])
        paths = {
            C2C: (listen_in(rx_key, 5001), connect_from(tx_key, (rx_ip, 5001))),
            DIRECT: (listen_in(rx_key, 5001), connect_from(None, (rx_ip, 5001))),
            PROXY: (listen_in(rx_key, 5001), connect_from(None, ("127.0.0.1", port))),
            HAIRPIN: (listen_in(hkey, 5001), connect_from(None, ("127.0.0.1", hport))),
        }
        # Interleaved rounds, so that the load of a shared machine hits every path alike.
        raw: dict[str, list[float]] = {k: [] for k in paths}
        for _ in range(a.repeat):
            for label, (listener, sender) in paths.items():
                raw[label].append(transfer(listener, sender, a.seconds))
        for label in paths:
            rows.append((label, "Gbit/s", raw[label]))

        # busybox nc in both containers: what a user's shell pipeline gets.
        mib = 256
        samples = []
        for _ in range(a.repeat):
            docker_in(d, "run", "-d", "--name", "sink", "--network", "benchnet", "busybox", "sh", "-c",
                      "nc -l -p 5002 > /dev/null")
            t = time.perf_counter()
            docker_in(d, "run", "--rm", "--network", "benchnet", "busybox", "sh", "-c",
                      f"dd if=/dev/zero bs=1M count={mib} 2>/dev/null | nc sink 5002")
            samples.append(mib * 8 * 1.048576 / 1000 / (time.perf_counter() - t))
            docker_in(d, "rm", "-f", "sink")
        rows.append(("container->container, busybox dd | nc, 256 MiB incl. container start", "Gbit/s", samples))
        docker_in(d, "rm", "-f", "rx", "tx")
        docker_in(d, "network", "rm", "benchnet")
    finally:
        d.teardown()
        h.teardown()

    # Sandbox set-up and tear-down, through the controller itself.
    setup, teardown = sandbox_times(10)
    rows.append(("sandbox setup (netns, veth, address, route)", "ms", setup))
    rows.append(("sandbox teardown", "ms", teardown))

    if not docker_daemon_available():
        notes.append("no Docker engine runs on this machine (docker here is the client only): docker0 and "
                     "docker-proxy cannot be measured; ratios compare against a direct connection instead")
    direct = statistics.median(raw[DIRECT])
    for label in (PROXY, HAIRPIN, C2C):
        notes.append(f"{label} / direct: {statistics.median(raw[label]) / direct:.2f}x")
    print_report(rows, notes)


def sandbox_times(n: int) -> tuple[list[float], list[float]]:
    import secrets
    import shutil
    import tempfile

    from dockyard.network import ipam
    from dockyard.network.controller import Attachment, Config, Controller
    from dockyard.network.naming import Names
    from _support.daemon import claim_subnets

    tmp = tempfile.mkdtemp(prefix="dybench")
    fd, block = claim_subnets(secrets.randbelow(1 << 16))
    names = Names.for_data_root(tmp)
    first = next(block.subnets(new_prefix=24))
    cfg = Config(data_dir=os.path.join(tmp, "data"), exec_dir=os.path.join(tmp, "run"), names=names,
                 default_bridge=names.default_bridge(tmp), bip=f"{first.network_address + 1}/24",
                 pools=(ipam.Pool(list(block.subnets(new_prefix=20))[1], 24),))
    c = Controller(cfg)
    setup, teardown = [], []
    try:
        c.start()
        bridge = c.find("bridge")
        for i in range(n):
            cid = secrets.token_hex(32)
            t = time.perf_counter()
            c.create_sandbox(cid, [Attachment(bridge.id, f"b{i}")], [])
            setup.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            c.delete_sandbox(cid)
            teardown.append((time.perf_counter() - t) * 1000)
    finally:
        c.shutdown()
        os.close(fd)
        shutil.rmtree(tmp, ignore_errors=True)
    return setup, teardown


if __name__ == "__main__":
    main()
