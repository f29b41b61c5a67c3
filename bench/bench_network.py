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

Docker's side in the same interleaved rounds, on dockerd (the host's engine,
else a private dockerd started here): container -> container on docker0 and
host -> container through a port published on 127.0.0.1 (docker-proxy, as
dockerd's OUTPUT rule skips 127.0.0.0/8), plus the direct path as its
reference. Issue 8's goal: dockyard within 10% of docker on both.
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

from _common import DOCKER_CLI, REPO, docker_engine, load_note

CHUNK = 1 << 20
C2C = "container->container, one bridge (sockets in the namespaces)"
DIRECT = "host->container, direct to its address"
PROXY = "host->container, 127.0.0.1 published port (dockyard-proxy)"
HAIRPIN = "host->container, 127.0.0.1 published port (hairpin NAT, --userland-proxy=false)"
D_C2C = "dockerd: container->container on docker0 (sockets in the namespaces)"
D_DIRECT = "dockerd: host->container, direct to its address"
D_PROXY = "dockerd: host->container, 127.0.0.1 published port (docker-proxy)"
D_NC = "dockerd: container->container on docker0, busybox dd | nc, 256 MiB incl. container start"
NC = "container->container, busybox dd | nc, 256 MiB incl. container start"


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

    # Two daemons side by side: the default (userland proxy) and --userland-proxy=false (hairpin NAT).
    d = TestDaemon().start()
    h = TestDaemon(["--userland-proxy=false"]).start()
    try:
        for x in (d, h):
            x.import_busybox()
        with docker_engine(notes) as denv:
            raw = measure(a, d, h, denv, rows, notes)
    finally:
        d.teardown()
        h.teardown()

    # Sandbox set-up and tear-down, through the controller itself.
    setup, teardown = sandbox_times(10)
    rows.append(("sandbox setup (netns, veth, address, route)", "ms", setup))
    rows.append(("sandbox teardown", "ms", teardown))

    direct = statistics.median(raw[DIRECT])
    for label in (PROXY, HAIRPIN, C2C):
        notes.append(f"{label} / direct: {statistics.median(raw[label]) / direct:.2f}x")
    if D_C2C in raw:
        goal = " (issue 8: >= 0.90x)"
        for ours, theirs, what in ((C2C, D_C2C, "container->container" + goal),
                                   (PROXY, D_PROXY, "127.0.0.1 published port, dockyard-proxy vs docker-proxy" + goal),
                                   (HAIRPIN, D_PROXY, "127.0.0.1 published port, hairpin NAT vs docker-proxy"),
                                   (DIRECT, D_DIRECT, "host->container direct")):
            r = statistics.median(raw[ours]) / statistics.median(raw[theirs])
            notes.append(f"dockyard / docker throughput, {what}: {r:.2f}x")
        nc = {label: samples for label, _, samples in rows}
        notes.append(f"dockyard / docker, busybox dd | nc incl. container start: "
                     f"{statistics.median(nc[NC]) / statistics.median(nc[D_NC]):.2f}x")
    print_report(rows, notes)


def measure(a, d, h, denv, rows, notes) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    def docker_in(env: dict[str, str], *args: str) -> str:
        res = subprocess.run([DOCKER_CLI, *args], env=env, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {res.stderr}")
        return res.stdout.strip()

    def inspect(env: dict[str, str], name: str) -> dict:
        return json.loads(docker_in(env, "inspect", name))[0]

    de, he = d.env(), h.env()
    docker_in(de, "network", "create", "benchnet")
    docker_in(de, "run", "-d", "--name", "rx", "--network", "benchnet", "-p", "127.0.0.1::5001", "busybox",
              "sleep", "3600")
    docker_in(de, "run", "-d", "--name", "tx", "--network", "benchnet", "busybox", "sleep", "3600")
    docker_in(he, "run", "-d", "--name", "rx", "-p", "127.0.0.1::5001", "busybox", "sleep", "3600")
    rx, tx, hrx = inspect(de, "rx"), inspect(de, "tx"), inspect(he, "rx")
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
    if denv is not None:
        # docker0, the default bridge; sockets made in the containers' namespaces through their init's ns file.
        docker_in(denv, "run", "-d", "--name", "rx", "-p", "127.0.0.1::5001", "busybox", "sleep", "3600")
        docker_in(denv, "run", "-d", "--name", "tx", "busybox", "sleep", "3600")
        drx, dtx = inspect(denv, "rx"), inspect(denv, "tx")
        drx_ns, dtx_ns = f"/proc/{drx['State']['Pid']}/ns/net", f"/proc/{dtx['State']['Pid']}/ns/net"
        drx_ip = drx["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        dport = int(drx["NetworkSettings"]["Ports"]["5001/tcp"][0]["HostPort"])
        proxies = [line for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
                   if line.startswith("/usr/sbin/docker-proxy") and f"-host-port {dport} " in line + " "]
        notes.append(f"dockerd publishes 127.0.0.1:{dport} through docker-proxy: {'yes' if proxies else 'NOT FOUND'}")
        paths[D_C2C] = (listen_in(drx_ns, 5001), connect_from(dtx_ns, (drx_ip, 5001)))
        paths[D_DIRECT] = (listen_in(drx_ns, 5001), connect_from(None, (drx_ip, 5001)))
        paths[D_PROXY] = (listen_in(drx_ns, 5001), connect_from(None, ("127.0.0.1", dport)))
    # Interleaved rounds, so that the load of a shared machine hits every path alike.
    raw: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(a.repeat):
        for label, (listener, sender) in paths.items():
            raw[label].append(transfer(listener, sender, a.seconds))
    for label in paths:
        rows.append((label, "Gbit/s", raw[label]))
    notes.append("throughput rounds: " + load_note())

    # busybox nc in both containers: what a user's shell pipeline gets (dockerd's by address: docker0 has no DNS).
    mib = 256
    nc: dict[str, list[float]] = {NC: []}
    if denv is not None:
        nc[D_NC] = []
    for _ in range(a.repeat):
        for label in nc:
            env, net = (de, ["--network", "benchnet"]) if label == NC else (denv, [])
            docker_in(env, "run", "-d", "--name", "sink", *net, "busybox", "sh", "-c", "nc -l -p 5002 > /dev/null")
            target = "sink" if label == NC else inspect(env, "sink")["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
            t = time.perf_counter()
            docker_in(env, "run", "--rm", *net, "busybox", "sh", "-c",
                      f"dd if=/dev/zero bs=1M count={mib} 2>/dev/null | nc {target} 5002")
            nc[label].append(mib * 8 * 1.048576 / 1000 / (time.perf_counter() - t))
            docker_in(env, "rm", "-f", "sink")
    for label, samples in nc.items():
        rows.append((label, "Gbit/s", samples))
    docker_in(de, "rm", "-f", "rx", "tx")
    docker_in(de, "network", "rm", "benchnet")
    if denv is not None:
        docker_in(denv, "rm", "-f", "rx", "tx")
    return raw


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
