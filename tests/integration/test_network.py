"""Networking with the real kernel: bridges, veths, macvlan, iptables, the
userland proxy and the embedded DNS, driven through the real docker CLI and
the Engine API.

Traffic stays on loopback and in namespaces these tests create: the daemon
forwards unknown names to a fake resolver on a loopback address (--dns), and
"another host" is a namespace made here, wired to the host with a veth pair.
After every test the containers and user networks go, and nothing they used
may remain (links, namespace files, proxies, port rules)."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import socket
import struct
import sys
import subprocess
import threading
import time
import urllib.request

import pytest

from _support import leaks
from _support.daemon import TestDaemon

UPSTREAM_NAME = "upstream.test"
UPSTREAM_ADDR = "203.0.113.7"  # only ever resolved, never contacted


class FakeResolver:
    """A DNS server on a loopback address: one known name, NXDOMAIN for the rest."""

    def __init__(self) -> None:
        self.addr = f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.addr, 53))
        self.queries: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            end = data.index(b"\0", 12) + 5
            labels, i = [], 12
            while data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode())
                i += 1 + data[i]
            name = ".".join(labels)
            self.queries.append(name)
            qtype = struct.unpack(">H", data[end - 4:end - 2])[0]
            if name == UPSTREAM_NAME and qtype == 1:
                reply = data[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0) + data[12:end] + \
                    b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(UPSTREAM_ADDR)
            else:
                rcode = 0 if name == UPSTREAM_NAME else 3
                reply = data[:2] + bytes([0x81, 0x80 | rcode]) + struct.pack(">HHHH", 1, 0, 0, 0) + data[12:end]
            self.sock.sendto(reply, peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def resolver() -> FakeResolver:
    r = FakeResolver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def net(resolver: FakeResolver) -> TestDaemon:
    d = TestDaemon(["--dns", resolver.addr]).start()
    try:
        d.import_busybox()
        yield d
    finally:
        d.teardown()


def sandbox_leaks(d: TestDaemon) -> list[str]:
    """What a stopped container or a removed network must not leave behind."""
    found = [f"link {n}" for n in leaks.links_named([d.link_prefix])]
    found += [f"link {n}" for n in leaks.links_named([d.bridge]) if n != d.bridge]
    found += [f"netns file {p}" for p in leaks.files_in(os.path.join(d.exec_root, "netns"))]
    found += [f"process {pid}: {cmd}" for pid, cmd in leaks.processes_mentioning(os.path.join(d.exec_root, "netns"))]
    found += [f"iptables {r}" for r in leaks.iptables_rules_mentioning(d.chain_prefix)
              if "DNAT" in r or f"-A {d.chain_prefix}PUB" in r]
    return found


@pytest.fixture(autouse=True)
def leak_check(request: pytest.FixtureRequest) -> None:
    yield
    d = request.getfixturevalue("net") if "net" in request.fixturenames else None
    if d is None:
        return
    problems = d.remove_all_containers()
    api = d.client()
    for n in api.get_json("/networks", {"filters": json.dumps({"type": ["custom"]})}):
        try:
            api.request("DELETE", f"/networks/{n['Id']}")
        except Exception as e:  # noqa: BLE001
            problems.append(f"removing network {n['Name']}: {e}")
    problems += sandbox_leaks(d)
    assert not problems, "left behind:\n  " + "\n  ".join(problems)


def docker(d: TestDaemon, *args: str, ok: bool = True, timeout: float = 60) -> str:
    res = d.docker(*args, timeout=timeout)
    if ok:
        assert res.returncode == 0, f"docker {' '.join(args)}: {res.stderr.decode()}"
    return res.stdout.decode() if ok else res.stdout.decode() + res.stderr.decode()


def sh(d: TestDaemon, network: str, script: str, *opts: str) -> subprocess.CompletedProcess[bytes]:
    return d.docker("run", "--rm", "--network", network, *opts, "busybox", "sh", "-c", script, timeout=60)


def get(host: str) -> str:
    """An HTTP GET in busybox (its wget crashes in this static build, nc does not)."""
    return f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w2 {host} 80"


WEB = "mkdir -p /www && echo OK-$(hostname) > /www/index.html && httpd -p 80 -h /www && exec nc -ll -p 7000 -e /bin/cat"


def serve(d: TestDaemon, name: str, network: str, *opts: str) -> str:
    """A container with a web page on :80 and a TCP echo on :7000."""
    cid = docker(d, "run", "-d", "--name", name, "--hostname", name, "--network", network, *opts,
                 "busybox", "sh", "-c", WEB).strip()
    wait_for(lambda: f"OK-{name}" in sh(d, "container:" + name, get("127.0.0.1")).stdout.decode())
    return cid


def wait_for(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def inspect(d: TestDaemon, name: str) -> dict:
    return d.client().container_inspect(name)


def ip_on(d: TestDaemon, name: str, network: str) -> str:
    return inspect(d, name)["NetworkSettings"]["Networks"][network]["IPAddress"]


# -- user-defined networks --------------------------------------------------------------------------------
def test_containers_reach_each_other_by_name(net: TestDaemon) -> None:
    docker(net, "network", "create", "front")
    serve(net, "web", "front", "--network-alias", "www")
    res = sh(net, "front", "ping -c1 -W2 web && ping -c1 -W2 www && echo hello | nc -w2 web 7000 && "
             f"{get('www')} && cat /etc/resolv.conf")
    out = res.stdout.decode()
    assert res.returncode == 0, out + res.stderr.decode()
    assert "1 packets received" in out and "hello\n" in out and "\r\n\r\nOK-web\n" in out
    assert "nameserver 127.0.0.11" in out
    ns = inspect(net, "web")["NetworkSettings"]
    ep = ns["Networks"]["front"]
    assert ep["IPAddress"] and ep["Gateway"] and ep["EndpointID"] and "www" in ep["Aliases"]
    assert {"web", "www"} <= set(ep["DNSNames"])
    assert ns["SandboxKey"].startswith(os.path.join(net.exec_root, "netns"))
    # The network shows its endpoint, and cannot go while it has one.
    info = net.client().get_json("/networks/front")
    (entry,) = info["Containers"].values()
    assert entry["Name"] == "web" and entry["IPv4Address"] == f"{ep['IPAddress']}/{ep['IPPrefixLen']}"
    res = net.docker("network", "rm", "front")
    assert res.returncode != 0 and b"has active endpoints" in res.stderr


def test_embedded_dns_forwards_other_names(net: TestDaemon, resolver: FakeResolver) -> None:
    docker(net, "network", "create", "dnsnet")
    out = sh(net, "dnsnet", f"nslookup {UPSTREAM_NAME}; nslookup nosuch.test; true").stdout.decode()
    assert UPSTREAM_ADDR in out
    assert "NXDOMAIN" in out
    assert UPSTREAM_NAME in resolver.queries


def test_different_networks_are_isolated(net: TestDaemon) -> None:
    docker(net, "network", "create", "left")
    docker(net, "network", "create", "right")
    serve(net, "lhs", "left")
    ip = ip_on(net, "lhs", "left")
    res = sh(net, "right", f"ping -c1 -W1 {ip}; echo x | nc -w1 {ip} 7000; ping -c1 -W1 lhs; echo done")
    out = res.stdout.decode() + res.stderr.decode()
    assert "0 packets received" in out and "x\n" not in res.stdout.decode()
    assert "bad address 'lhs'" in out
    # The same container is reachable from its own network.
    assert sh(net, "left", f"ping -c1 -W2 {ip}").returncode == 0


def test_internal_network_has_no_way_out(net: TestDaemon) -> None:
    docker(net, "network", "create", "--internal", "vault")
    serve(net, "safe", "vault")
    bridge_gw = net.client().get_json("/networks/bridge")["IPAM"]["Config"][0]["Gateway"]
    res = sh(net, "vault", f"ip route; ping -c1 -W2 safe && ping -c1 -W1 {bridge_gw}; true")
    out = res.stdout.decode() + res.stderr.decode()
    assert "default" not in out
    assert "1 packets received" in out  # the peer on the same network
    assert "Network is unreachable" in out
    assert net.client().get_json("/networks/vault")["Internal"] is True


def test_connect_and_disconnect_a_running_container(net: TestDaemon) -> None:
    docker(net, "network", "create", "one")
    docker(net, "network", "create", "--subnet", "10.127.254.0/24", "two")
    serve(net, "target", "two")
    docker(net, "run", "-d", "--name", "roamer", "--network", "one", "busybox", "sleep", "300")

    def reach() -> str:
        return sh(net, "container:roamer", "ping -c1 -W1 target >/dev/null && echo yes || echo no; "
                  "echo $(ls /sys/class/net)").stdout.decode().strip()

    assert reach().startswith("no")
    docker(net, "network", "connect", "--alias", "wanderer", "--ip", "10.127.254.77", "two", "roamer")
    assert reach() == "yes\neth0 eth1 lo"
    assert ip_on(net, "roamer", "two") == "10.127.254.77"
    assert sh(net, "two", "ping -c1 -W2 wanderer").returncode == 0
    docker(net, "network", "disconnect", "two", "roamer")
    assert reach() == "no\neth0 lo"
    assert "two" not in inspect(net, "roamer")["NetworkSettings"]["Networks"]
    assert list(net.client().get_json("/networks/two")["Containers"]) == [inspect(net, "target")["Id"]]
    # The address went back to the pool: connecting again gets it again.
    docker(net, "network", "connect", "--ip", "10.127.254.77", "two", "roamer")
    assert ip_on(net, "roamer", "two") == "10.127.254.77"
    # A container that is not running is connected when it starts.
    docker(net, "create", "--name", "later", "--network", "one", "busybox", "sleep", "300")
    docker(net, "network", "connect", "--alias", "late", "two", "later")
    assert inspect(net, "later")["NetworkSettings"]["Networks"]["two"]["IPAddress"] == ""
    docker(net, "start", "later")
    assert sh(net, "two", "ping -c1 -W2 late").returncode == 0
    assert set(inspect(net, "later")["NetworkSettings"]["Networks"]) == {"one", "two"}


# -- published ports ----------------------------------------------------------------------------------------
def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


class OtherHost:
    """A network namespace wired to the host by a veth pair: a client on another machine."""

    def __init__(self, d: TestDaemon) -> None:
        self.ns = f"{d.bridge}h"
        self.host_if, self.peer_if = f"{d.bridge}a", f"{d.bridge}b"
        block = ipaddress.IPv4Network(d.bip, strict=False).supernet(new_prefix=19)
        link = list(block.subnets(new_prefix=30))[-1]
        self.host_ip, self.peer_ip = (str(a) for a in link.hosts())
        cmds = [["ip", "netns", "add", self.ns],
                ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if, "netns", self.ns],
                ["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if],
                ["ip", "link", "set", self.host_if, "up"],
                ["ip", "-n", self.ns, "addr", "add", f"{self.peer_ip}/30", "dev", self.peer_if],
                ["ip", "-n", self.ns, "link", "set", self.peer_if, "up"],
                ["ip", "-n", self.ns, "link", "set", "lo", "up"],
                ["ip", "-n", self.ns, "route", "add", "default", "via", self.host_ip]]
        try:
            for c in cmds:
                subprocess.run(c, check=True, capture_output=True)
        except BaseException:
            self.close()
            raise

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True, text=True, timeout=30)

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


def test_published_port_from_the_host_and_another_host(net: TestDaemon) -> None:
    serve(net, "pub", "bridge", "-p", "80", "-p", "127.0.0.1::7000")
    ports = inspect(net, "pub")["NetworkSettings"]["Ports"]
    web = int(ports["80/tcp"][0]["HostPort"])
    assert ports["80/tcp"][0]["HostIp"] == "0.0.0.0"
    assert ports["7000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": ports["7000/tcp"][0]["HostPort"]}]
    assert docker(net, "port", "pub", "80").strip() == f"0.0.0.0:{web}"
    assert f"0.0.0.0:{web}->80/tcp" in docker(net, "ps")
    # The host itself, through the userland proxy on 127.0.0.1.
    assert http_get(f"http://127.0.0.1:{web}/") == "OK-pub\n"
    echo = socket.create_connection(("127.0.0.1", int(ports["7000/tcp"][0]["HostPort"])), timeout=5)
    echo.sendall(b"ping\n")
    assert echo.recv(100) == b"ping\n"
    echo.close()
    # Another host, through DNAT (its traffic never reaches the proxy).
    other = OtherHost(net)
    try:
        res = other.run("curl", "-s", "-m", "5", f"http://{other.host_ip}:{web}/")
        assert res.stdout == "OK-pub\n", res.stderr
        # Bound to 127.0.0.1 only: not reachable from outside.
        res = other.run("curl", "-s", "-m", "2", f"http://{other.host_ip}:{ports['7000/tcp'][0]['HostPort']}/")
        assert res.returncode != 0
    finally:
        other.close()


def test_publish_all_and_port_ranges(net: TestDaemon) -> None:
    lo = 20000 + secrets.randbelow(20000)
    cid = docker(net, "run", "-d", "-P", "--expose", "7000", "-p", f"{lo}-{lo + 1}:80-81", "busybox",
                 "sleep", "300").strip()
    ports = inspect(net, cid)["NetworkSettings"]["Ports"]
    assert ports["80/tcp"][0]["HostPort"] == str(lo) and ports["81/tcp"][0]["HostPort"] == str(lo + 1)
    lo_eph, hi_eph = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    assert lo_eph <= int(ports["7000/tcp"][0]["HostPort"]) <= hi_eph
    summary = next(c for c in net.client().container_list() if c["Id"] == cid)["Ports"]
    assert {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": lo, "Type": "tcp"} in summary
    # A taken port fails the start with docker's message and leaves nothing behind.
    res = net.docker("run", "-d", "-p", f"{lo}:80", "busybox", "sleep", "300")
    assert res.returncode != 0 and b"port is already allocated" in res.stderr


# -- other drivers -------------------------------------------------------------------------------------------
def test_host_network_sees_the_host_links(net: TestDaemon) -> None:
    out = sh(net, "host", "echo $(ls /sys/class/net); hostname").stdout.decode().splitlines()
    links = set(out[0].split())
    assert {"lo", "eth0", net.bridge} <= links
    assert out[1] == socket.gethostname()
    assert inspect_networks(net, "host") == ["host"]


def inspect_networks(d: TestDaemon, mode: str) -> list[str]:
    cid = docker(d, "create", "--network", mode, "busybox", "true").strip()
    return list(inspect(d, cid)["NetworkSettings"]["Networks"])


def test_none_has_only_loopback(net: TestDaemon) -> None:
    out = sh(net, "none", "echo $(ls /sys/class/net); ip route").stdout.decode()
    assert out.strip() == "lo"


def test_container_mode_shares_the_namespace(net: TestDaemon) -> None:
    serve(net, "owner", "bridge")
    ip = ip_on(net, "owner", "bridge")
    out = sh(net, "container:owner", "ip -4 addr show eth0; " + get("127.0.0.1")).stdout.decode()
    assert ip in out and "OK-owner" in out
    res = net.docker("run", "--rm", "--network", "container:owner", "-p", "80", "busybox", "true")
    assert res.returncode != 0 and b"conflicting options" in res.stderr


def test_macvlan_containers_reach_each_other(net: TestDaemon) -> None:
    # This kernel has no dummy links (CONFIG_DUMMY is off): one end of a veth pair is the parent.
    parent, peer = f"{net.bridge}m", f"{net.bridge}n"
    subprocess.run(["ip", "link", "add", parent, "type", "veth", "peer", "name", peer], check=True)
    try:
        for link in (parent, peer):
            subprocess.run(["ip", "link", "set", link, "up"], check=True)
        docker(net, "network", "create", "-d", "macvlan", "--subnet", "10.127.253.0/24", "-o", f"parent={parent}",
               "mvl")
        serve(net, "mv1", "mvl", "--ip", "10.127.253.10")
        res = sh(net, "mvl", "ping -c1 -W2 10.127.253.10 && echo hi | nc -w2 mv1 7000")
        assert res.returncode == 0 and "hi\n" in res.stdout.decode(), res.stdout.decode() + res.stderr.decode()
        key = inspect(net, "mv1")["NetworkSettings"]["SandboxKey"]
        link = subprocess.run(["nsenter", f"--net={key}", "ip", "-d", "link", "show", "eth0"], capture_output=True,
                              text=True).stdout
        assert "macvlan mode bridge" in link and "@if" in link
    finally:
        net.remove_all_containers()
        net.docker("network", "rm", "mvl")
        subprocess.run(["ip", "link", "del", parent], capture_output=True)


# -- the API ---------------------------------------------------------------------------------------------------
def test_network_api(net: TestDaemon) -> None:
    api = net.client()
    body = {"Name": "apinet", "CheckDuplicate": True, "Driver": "bridge", "Internal": False,
            "Labels": {"tier": "db"}, "Options": {"com.docker.network.bridge.enable_icc": "true"},
            "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.127.252.0/24", "IPRange": "10.127.252.128/25",
                                                     "Gateway": "10.127.252.254"}]}}
    nid = api.post_json("/networks/create", body=body)["Id"]
    info = api.get_json(f"/networks/{nid[:12]}")
    assert info["Name"] == "apinet" and info["Labels"] == {"tier": "db"}
    assert info["IPAM"]["Config"] == [{"Subnet": "10.127.252.0/24", "IPRange": "10.127.252.128/25",
                                       "Gateway": "10.127.252.254"}]
    with pytest.raises(Exception) as e:
        api.post_json("/networks/create", body=body)
    assert getattr(e.value, "status", 0) == 409
    cid = docker(net, "run", "-d", "--network", "apinet", "busybox", "sleep", "300").strip()
    assert ipaddress.IPv4Address(ip_on(net, cid, "apinet")) in ipaddress.IPv4Network("10.127.252.128/25")

    def names(filters: dict) -> set[str]:
        return {n["Name"] for n in api.get_json("/networks", {"filters": json.dumps(filters)})}

    assert names({"label": ["tier=db"]}) == {"apinet"}
    assert names({"type": ["builtin"]}) == {"bridge", "host", "none"}
    assert names({"driver": ["null"]}) == {"none"}
    assert "apinet" in names({"dangling": ["false"]}) and "apinet" not in names({"dangling": ["true"]})
    for method, path, status in (("DELETE", "/networks/bridge", 403), ("DELETE", "/networks/apinet", 403),
                                 ("GET", "/networks/nosuch", 404), ("DELETE", "/networks/nosuch", 404)):
        resp = api.request(method, path, ok=(200, 204, 403, 404))
        assert resp.status == status, (method, path)
    resp = api.request("GET", "/networks", {"filters": json.dumps({"bogus": ["x"]})}, ok=(400,))
    assert resp.status == 400
    api.post_json("/networks/create", body={"Name": "spare", "Labels": {"keep": "no"}})
    pruned = api.post_json("/networks/prune", {"filters": json.dumps({"label": ["keep=no"]})})
    assert pruned["NetworksDeleted"] == ["spare"]
    assert "apinet" in names({})


def test_bad_network_input(net: TestDaemon) -> None:
    api = net.client()
    for body, status, msg in (
            ({"Name": "x", "Driver": "nosuch"}, 404, 'plugin "nosuch" not found'),
            ({"Name": "host"}, 403, "predefined"),
            ({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.0.0.0/33"}]}}, 400, "invalid"),
            ({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.127.251.0/24", "Gateway": "10.1.1.1"}]}}, 400,
             "gateway"),
            ({"Name": "x", "Driver": "macvlan"}, 400, "parent")):
        resp = api.request("POST", "/networks/create", json_body=body, ok=(201, 400, 403, 404))
        assert resp.status == status, body
        assert msg in json.loads(resp.read())["message"]
    taken = net.client().get_json("/networks/bridge")["IPAM"]["Config"][0]["Subnet"]
    resp = api.request("POST", "/networks/create", json_body={"Name": "x", "IPAM": {"Config": [{"Subnet": taken}]}},
                       ok=(403,))
    assert b"overlaps" in resp.read()
    res = net.docker("run", "--rm", "--network", "nosuchnet", "busybox", "true")
    assert res.returncode == 125 and b"network nosuchnet not found" in res.stderr
    res = net.docker("run", "--rm", "--ip", "10.1.1.1", "busybox", "true")
    assert res.returncode != 0 and b"user specified IP address is supported" in res.stderr
    assert leaks.links_named([net.link_prefix]) == []


# -- IPAM ------------------------------------------------------------------------------------------------------
def test_static_addresses_are_never_handed_out_twice(net: TestDaemon) -> None:
    docker(net, "network", "create", "--subnet", "10.127.250.0/29", "tiny")
    docker(net, "run", "-d", "--name", "fixed", "--network", "tiny", "--ip", "10.127.250.2", "busybox", "sleep", "300")
    res = net.docker("run", "--rm", "--network", "tiny", "--ip", "10.127.250.2", "busybox", "true")
    assert res.returncode != 0 and b"Address already in use" in res.stderr
    # A /29 has 5 addresses for containers (gateway .1); one is taken, four remain.
    ips = set()
    for i in range(4):
        docker(net, "run", "-d", "--name", f"t{i}", "--network", "tiny", "busybox", "sleep", "300")
        ips.add(ip_on(net, f"t{i}", "tiny"))
    assert len(ips) == 4 and "10.127.250.2" not in ips
    res = net.docker("run", "--rm", "--network", "tiny", "busybox", "true")
    assert res.returncode != 0 and b"no available IPv4 addresses" in res.stderr
    # Stopping releases: the address is free again.
    docker(net, "stop", "-t", "0", "t0")
    assert inspect(net, "t0")["NetworkSettings"]["Networks"]["tiny"]["IPAddress"] == ""
    docker(net, "run", "-d", "--name", "t4", "--network", "tiny", "busybox", "sleep", "300")


def test_etc_files_and_dns_options(net: TestDaemon) -> None:
    out = sh(net, "bridge", "cat /etc/hosts /etc/resolv.conf /etc/hostname", "--add-host", "db.local:10.9.8.7",
             "--dns", "10.1.2.3", "--dns-search", "corp.test", "--hostname", "box").stdout.decode()
    assert "10.9.8.7\tdb.local" in out
    assert "nameserver 10.1.2.3" in out and "search corp.test" in out
    assert out.rstrip().endswith("box") and "\tbox\n" in out


# -- daemon restarts and flags ------------------------------------------------------------------------------------
def test_networking_survives_a_daemon_restart(fresh_daemon) -> None:
    d = fresh_daemon()
    docker(d, "network", "create", "keep")
    serve(d, "svc", "keep", "-p", "80")
    port = int(inspect(d, "svc")["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
    ip = ip_on(d, "svc", "keep")
    d.restart()
    assert http_get(f"http://127.0.0.1:{port}/") == "OK-svc\n"
    assert ip_on(d, "svc", "keep") == ip
    assert sh(d, "keep", "ping -c1 -W2 svc").returncode == 0  # DNS answers again
    docker(d, "run", "-d", "--name", "late", "--network", "keep", "busybox", "sleep", "300")
    assert ip_on(d, "late", "keep") != ip
    # A crash, then the container stops while the daemon is away: all of it is released at restart.
    d.kill()
    subprocess.run(["kill", "-9", str(inspect_pid(d, "svc"))], check=True)
    d.start()
    wait_for(lambda: not inspect(d, "svc")["State"]["Running"])
    assert inspect(d, "svc")["NetworkSettings"]["Ports"] == {}
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{port}/")
    d.remove_all_containers()
    docker(d, "network", "rm", "keep")
    assert sandbox_leaks(d) == []


def inspect_pid(d: TestDaemon, name: str) -> int:
    with open(os.path.join(d.data_root, "containers", inspect_id(d, name), "config.v2.json")) as f:
        return json.load(f)["state"]["pid"]


def inspect_id(d: TestDaemon, name: str) -> str:
    for cid in os.listdir(os.path.join(d.data_root, "containers")):
        with open(os.path.join(d.data_root, "containers", cid, "config.v2.json")) as f:
            if json.load(f)["name"] == "/" + name:
                return cid
    raise KeyError(name)


def test_hairpin_nat_without_userland_proxy(fresh_daemon) -> None:
    d = fresh_daemon("--userland-proxy=false")
    serve(d, "hp", "bridge", "-p", "80")
    port = int(inspect(d, "hp")["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
    assert http_get(f"http://127.0.0.1:{port}/") == "OK-hp\n"
    assert not leaks.processes_mentioning("dockyard-proxy " + "--sandbox " + os.path.join(d.exec_root, "netns"))


def test_iptables_false_makes_no_rules(fresh_daemon) -> None:
    d = fresh_daemon("--iptables=false")
    docker(d, "network", "create", "plain")
    assert leaks.iptables_rules_mentioning(d.chain_prefix) == []
    assert sh(d, "plain", "ip -4 addr show eth0").returncode == 0


def test_default_pools_for_a_daemon_without_bip(fresh_daemon) -> None:
    """docker's defaults: 172.17.0.0/16 for the bridge unless the host routes it, then the next free pool."""
    d = fresh_daemon(busybox=False, net_defaults=False)
    routed = [ipaddress.IPv4Network(r) for r in leaks.routed_subnets()]
    bridge = ipaddress.IPv4Network(d.client().get_json("/networks/bridge")["IPAM"]["Config"][0]["Subnet"])
    expected = next(ipaddress.IPv4Network(f"172.{n}.0.0/16") for n in range(17, 32)
                    if not any(ipaddress.IPv4Network(f"172.{n}.0.0/16").overlaps(r) for r in routed
                               if r != bridge))
    assert bridge == expected
    nid = d.client().post_json("/networks/create", body={"Name": "auto"})["Id"]
    sub = ipaddress.IPv4Network(d.client().get_json(f"/networks/{nid}")["IPAM"]["Config"][0]["Subnet"])
    assert sub.prefixlen == 16 and sub != bridge and not any(sub.overlaps(r) for r in routed if r != bridge)


def test_ps_filters_by_network_and_ports(net: TestDaemon) -> None:
    docker(net, "network", "create", "flt")
    a = docker(net, "run", "-d", "--network", "flt", "--expose", "9000", "busybox", "sleep", "300").strip()
    b = docker(net, "run", "-d", "-p", "8000", "busybox", "sleep", "300").strip()
    assert docker(net, "ps", "-q", "--no-trunc", "--filter", "network=flt").split() == [a]
    assert docker(net, "ps", "-q", "--no-trunc", "--filter", "publish=8000").split() == [b]
    assert docker(net, "ps", "-q", "--no-trunc", "--filter", "expose=9000/tcp").split() == [a]
    assert docker(net, "ps", "-q", "--filter", "publish=1-100").split() == []


def test_bridge_none_disables_the_default_network(fresh_daemon) -> None:
    d = fresh_daemon("--bridge=none", net_defaults=False)
    assert "bridge" not in {n["Name"] for n in d.client().get_json("/networks")}
    assert sh(d, "default", "echo $(ls /sys/class/net)").stdout.decode().split() == ["lo"]
    docker(d, "network", "create", "still")
    assert sh(d, "still", "echo $(ls /sys/class/net)").stdout.decode().split() == ["eth0", "lo"]
    docker(d, "network", "rm", "still")


def test_outbound_traffic_is_masqueraded(net: TestDaemon) -> None:
    """A container reaches "another host" (a namespace wired to this one) from the host's address."""
    other = OtherHost(net)
    try:
        server = subprocess.Popen(
            ["ip", "netns", "exec", other.ns, sys.executable, "-c",
             "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
             f"s.bind(('{other.peer_ip}', 9000)); s.listen(4); print('ready', flush=True)\n"
             "while True:\n c, a = s.accept(); c.sendall(a[0].encode() + b'\\n'); c.close()"],
            stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout.readline().strip() == "ready"
            res = sh(net, "bridge", f"nc -w2 {other.peer_ip} 9000 </dev/null")
            assert res.stdout.decode().strip() == other.host_ip, res.stderr  # not the container's address
            docker(net, "network", "create", "--internal", "sealed")
            res = sh(net, "sealed", f"nc -w2 {other.peer_ip} 9000 </dev/null")
            assert res.returncode != 0 and res.stdout == b""
        finally:
            server.kill()
            server.wait()
    finally:
        other.close()
