"""The network package's pure parts: IPAM, the iptables rule set, DNS wire
format and resolution, /etc files, port requests, names. No root, no kernel
objects (loopback sockets only)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct

import pytest

from dockyard import errdefs
from dockyard.daemon.netviews import port_summary
from dockyard.network import dns, hostfiles, ipam, portmap
from dockyard.network.controller import mac_for
from dockyard.network.iptables import BridgeRules, PortRule, jumps, render
from dockyard.network.naming import Names

N = ipaddress.IPv4Network


# -- IPAM ---------------------------------------------------------------------------------------------------
def test_default_pools_start_with_docker0s_subnet() -> None:
    assert ipam.pick_subnet(ipam.DEFAULT_POOLS, []) == N("172.17.0.0/16")
    assert ipam.pick_subnet(ipam.DEFAULT_POOLS, [N("172.17.0.0/16")]) == N("172.18.0.0/16")


def test_pick_subnet_skips_routed_and_taken_subnets() -> None:
    routed = [N("172.17.0.0/16"), N("172.18.5.0/24"), N("172.19.0.0/17")]
    assert ipam.pick_subnet(ipam.DEFAULT_POOLS, routed) == N("172.20.0.0/16")
    pool = ipam.parse_pool("base=10.10.0.0/22,size=24")
    assert ipam.pick_subnet([pool], [N("10.10.0.0/24"), N("10.10.1.128/25")]) == N("10.10.2.0/24")
    with pytest.raises(errdefs.PermissionDenied, match="non-overlapping"):
        ipam.pick_subnet([pool], [N("10.10.0.0/22")])
    # Beyond 172.31 the defaults go on in 192.168.0.0/16 by /20.
    everything = [N(f"172.{n}.0.0/16") for n in range(17, 32)]
    assert ipam.pick_subnet(ipam.DEFAULT_POOLS, everything) == N("192.168.0.0/20")


@pytest.mark.parametrize("spec", ["10.0.0.0/8", "base=nonsense,size=24", "base=10.0.0.0/16,size=12",
                                  "base=fd00::/8,size=64"])
def test_bad_pools_are_refused(spec: str) -> None:
    with pytest.raises(errdefs.InvalidArgument):
        ipam.parse_pool(spec)


def test_addresses_are_handed_out_once_in_order_and_released() -> None:
    s = ipam.Subnet(subnet="10.0.0.0/29", gateway="10.0.0.1")
    got = [str(s.allocate(f"e{i}")) for i in range(5)]
    assert got == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(errdefs.Unavailable, match="no available IPv4 addresses"):
        s.allocate("e5")
    s.release("10.0.0.3")
    assert str(s.allocate("e6")) == "10.0.0.3"
    # After a release, docker goes on after the last address instead of reusing at once.
    s2 = ipam.Subnet(subnet="10.0.1.0/24", gateway="10.0.1.1")
    a, b = s2.allocate("a"), s2.allocate("b")
    s2.release(str(a))
    assert str(s2.allocate("c")) == "10.0.1.4" and str(b) == "10.0.1.3"


def test_static_addresses_and_ranges() -> None:
    s = ipam.Subnet(subnet="10.0.0.0/24", gateway="10.0.0.254", ip_range="10.0.0.128/25", aux={"r": "10.0.0.129"})
    assert str(s.allocate("x")) == "10.0.0.128"
    assert str(s.allocate("y")) == "10.0.0.130"  # the auxiliary address is reserved
    assert str(s.allocate("z", "10.0.0.5")) == "10.0.0.5"  # static: anywhere in the subnet
    for ip, kind in (("10.0.0.5", errdefs.Conflict), ("10.0.0.254", errdefs.Conflict),
                     ("10.0.1.5", errdefs.InvalidArgument), ("nonsense", errdefs.InvalidArgument)):
        with pytest.raises(kind):
            s.allocate("w", ip)
    assert ipam.Subnet.from_json(s.to_json()) == s


def test_ipam_config_is_checked() -> None:
    pools = [ipam.parse_pool("base=10.20.0.0/16,size=24")]
    (sub,) = ipam.resolve_config([], pools, [N("10.20.0.0/24")])
    assert sub.subnet == "10.20.1.0/24" and sub.gateway == "10.20.1.1" and not sub.user_subnet
    (sub,) = ipam.resolve_config([{"Subnet": "10.30.0.0/16", "IPRange": "10.30.5.0/24", "Gateway": "10.30.0.9",
                                   "AuxiliaryAddresses": {"h": "10.30.0.10"}}], pools, [])
    assert (sub.gateway, sub.ip_range, sub.aux, sub.user_subnet) == ("10.30.0.9", "10.30.5.0/24", {"h": "10.30.0.10"}, True)
    bad = [({"Subnet": "10.0.0.0/33"}, errdefs.InvalidArgument), ({"Subnet": "10.0.0.1/24"}, errdefs.InvalidArgument),
           ({"Subnet": "10.0.0.0/24", "Gateway": "10.0.1.1"}, errdefs.InvalidArgument),
           ({"Subnet": "10.0.0.0/24", "IPRange": "10.0.1.0/25"}, errdefs.InvalidArgument),
           ({"Subnet": "10.0.0.0/24", "AuxiliaryAddresses": {"a": "10.9.9.9"}}, errdefs.InvalidArgument),
           ({"Gateway": "10.0.0.1"}, errdefs.InvalidArgument),
           ({"Subnet": "10.20.0.0/16"}, errdefs.PermissionDenied)]
    for cfg, kind in bad:
        with pytest.raises(kind):
            ipam.resolve_config([cfg], pools, [N("10.20.0.0/24")])


def test_host_routes_steer_only_picked_subnets() -> None:
    """docker avoids the host's routes when it picks a subnet, but takes a
    subnet the user names even where the host routes it."""
    pools = [ipam.parse_pool("base=10.20.0.0/16,size=24")]
    routed = [N("10.20.0.0/23")]
    (sub,) = ipam.resolve_config([], pools, [], routed=routed)
    assert sub.subnet == "10.20.2.0/24"
    (sub,) = ipam.resolve_config([{"Subnet": "10.20.1.0/24"}], pools, [], routed=routed)
    assert sub.subnet == "10.20.1.0/24" and sub.user_subnet
    with pytest.raises(errdefs.PermissionDenied, match="Pool overlaps"):
        ipam.resolve_config([{"Subnet": "10.20.1.0/24"}], pools, [N("10.20.1.0/25")], routed=routed)


# -- iptables -------------------------------------------------------------------------------------------------
NAMES = Names("0123abcd")
BR = [BridgeRules("br1", ("10.1.0.0/24",)), BridgeRules("br2", ("10.2.0.0/24",), internal=True, icc=False)]
PORTS = [PortRule("tcp", "", 8080, "10.1.0.2", 80, "br1"), PortRule("udp", "127.0.0.1", 53, "10.1.0.3", 53, "br1")]


def rules(hairpin: bool = False) -> list[str]:
    return render(NAMES, BR, PORTS, hairpin).splitlines()


def test_rules_live_in_the_daemons_own_chains() -> None:
    out = rules()
    assert out[0] == "*filter" and ":DY-0123abcd-FWD - [0:0]" in out and "*nat" in out
    assert all(line.split()[1].startswith("DY-0123abcd-") for line in out if line.startswith("-A "))
    assert not any("DOCKER" in line or "docker0" in line for line in out)
    assert [j[1] for j in jumps(NAMES, False)] == ["FORWARD", "PREROUTING", "OUTPUT", "POSTROUTING"]
    assert "127.0.0.0/8" in " ".join(jumps(NAMES, False)[2][2])
    assert "127.0.0.0/8" not in " ".join(jumps(NAMES, True)[2][2])


def test_isolation_internal_icc_and_masquerade() -> None:
    out = rules()
    assert "-A DY-0123abcd-ISO1 -i br1 ! -o br1 -j DY-0123abcd-ISO2" in out
    assert "-A DY-0123abcd-ISO2 -o br1 -j DROP" in out and "-A DY-0123abcd-ISO2 -o br2 -j DROP" in out
    assert "-A DY-0123abcd-ISO1 -i br2 ! -o br2 -j DROP" in out  # internal: nothing leaves
    assert "-A DY-0123abcd-ISO1 ! -i br2 -o br2 -j DROP" in out  # nor enters
    assert "-A DY-0123abcd-FWD -i br2 -o br2 -j DROP" in out  # icc off
    assert "-A DY-0123abcd-FWD -i br1 ! -o br1 -j ACCEPT" in out
    assert not any("-i br2 ! -o br2 -j ACCEPT" in line for line in out)
    assert "-A DY-0123abcd-POST -s 10.1.0.0/24 ! -o br1 -j MASQUERADE" in out
    assert not any("10.2.0.0/24" in line and "MASQUERADE" in line for line in out)


def test_published_ports() -> None:
    out = rules()
    assert ("-A DY-0123abcd-NAT ! -i br1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:80") in out
    assert ("-A DY-0123abcd-NAT -d 127.0.0.1/32 ! -i br1 -p udp -m udp --dport 53 "
            "-j DNAT --to-destination 10.1.0.3:53") in out
    assert "-A DY-0123abcd-PUB -d 10.1.0.2/32 ! -i br1 -o br1 -p tcp -m tcp --dport 80 -j ACCEPT" in out
    assert "-A DY-0123abcd-NAT -i br1 -j RETURN" in out
    hp = rules(hairpin=True)
    assert "-A DY-0123abcd-NAT -i br1 -j RETURN" not in hp
    assert "-A DY-0123abcd-POST -o br1 -m addrtype --src-type LOCAL -j MASQUERADE" in hp
    assert ("-A DY-0123abcd-POST -s 10.1.0.2/32 -d 10.1.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE") in hp


# -- names ------------------------------------------------------------------------------------------------------
def test_names_fit_and_differ_between_daemons() -> None:
    a, b = Names.for_data_root("/var/lib/a"), Names.for_data_root("/var/lib/b")
    assert a.instance != b.instance and a == Names.for_data_root("/var/lib/a")
    for name in (a.bridge("f" * 64), a.veth(), a.default_bridge("/var/lib/a")):
        assert len(name) <= 15 and name.startswith(a.link_prefix)
    assert Names.for_data_root("/var/lib/dockyard").default_bridge("/var/lib/dockyard") == "dockyard0"
    assert len(a.chain("ISO1")) <= 28
    assert mac_for("172.17.0.2") == "02:42:ac:11:00:02"


# -- /etc files --------------------------------------------------------------------------------------------------
def test_hosts_file() -> None:
    text = hostfiles.hosts_file("web", "example.org", ["10.0.0.2"], ["db:10.0.0.9", "v6=::1", "x:fe80::1"])
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.0.0.9\tdb" in lines and "::1\tv6" in lines and "fe80::1\tx" in lines
    assert lines[-1] == "10.0.0.2\tweb.example.org web"
    with pytest.raises(ValueError):
        hostfiles.split_extra_host("justaname")


def test_resolv_conf() -> None:
    host = hostfiles.parse_resolv_conf("# c\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch a.test b.test\n"
                                       "options edns0\n")
    assert hostfiles.resolv_conf(host, [], [], [], embedded=False) == \
        "nameserver 10.0.0.1\nsearch a.test b.test\noptions edns0\n"
    assert hostfiles.resolv_conf(host, [], [], [], embedded=True) == \
        "nameserver 127.0.0.11\nsearch a.test b.test\noptions edns0 ndots:0\n"
    assert "nameserver 127.0.0.53" in hostfiles.resolv_conf(host, [], [], [], embedded=False, keep_loopback=True)
    assert hostfiles.resolv_conf(host, ["9.9.9.9"], ["c.test"], ["ndots:2"], embedded=False) == \
        "nameserver 9.9.9.9\nsearch c.test\noptions ndots:2\n"
    only_loopback = hostfiles.parse_resolv_conf("nameserver 127.0.0.53\n")
    assert hostfiles.resolv_conf(only_loopback, [], [], [], False).startswith("nameserver 8.8.8.8\n")
    assert hostfiles.external_servers(only_loopback, []) == ["127.0.0.53"]
    assert hostfiles.external_servers(only_loopback, ["1.1.1.1"]) == ["1.1.1.1"]


# -- ports -------------------------------------------------------------------------------------------------------
def test_port_requests() -> None:
    reqs = portmap.requests_from({"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "53/udp": [{"HostPort": ""}],
                                  "443": [{"HostIp": "127.0.0.1", "HostPort": "9000-9010"}],
                                  "22/tcp": [{"HostIp": "::", "HostPort": "2222"}]},
                                 {"80/tcp": {}, "7000/tcp": {}}, publish_all=True)
    assert portmap.PortRequest("tcp", 80, "", 8080, 8080) in reqs
    assert portmap.PortRequest("udp", 53) in reqs
    assert portmap.PortRequest("tcp", 443, "127.0.0.1", 9000, 9010) in reqs
    assert portmap.PortRequest("tcp", 7000) in reqs  # -P: exposed, not bound
    assert not any(r.container_port == 22 for r in reqs)  # IPv6 host addresses: no IPv6 here
    for bad in ({"80/sctp": [{}]}, {"x/tcp": [{}]}, {"80/tcp": [{"HostPort": "99999"}]},
                {"80/tcp": [{"HostIp": "nonsense"}]}, {"0/tcp": [{}]}):
        with pytest.raises(errdefs.InvalidArgument):
            portmap.requests_from(bad, None, False)


def test_ports_are_bound_by_the_daemon() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    with pytest.raises(errdefs.Conflict, match=f"Bind for 127.0.0.1:{port} failed: port is already allocated"):
        portmap.allocate([portmap.PortRequest("tcp", 80, "127.0.0.1", port, port)], listen=True)
    got = portmap.allocate([portmap.PortRequest("tcp", 80, "127.0.0.1", port, port + 5),
                            portmap.PortRequest("udp", 53, "127.0.0.1")], listen=True)
    try:
        assert port < got[0].host_port <= port + 5
        lo, hi = portmap.ephemeral_range()
        assert lo <= got[1].host_port <= hi
        view = portmap.api_ports(got, {"80/tcp": {}, "9/tcp": {}})
        assert view["9/tcp"] is None and view["53/udp"] == [{"HostIp": "127.0.0.1", "HostPort": str(got[1].host_port)}]
        summary = port_summary({"Ports": view})
        assert {"PrivatePort": 9, "Type": "tcp"} in summary
        assert {"IP": "127.0.0.1", "PrivatePort": 53, "PublicPort": got[1].host_port, "Type": "udp"} in summary
        assert {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": got[0].host_port, "Type": "tcp"} in summary
    finally:
        portmap.release(got)
        taken.close()


# -- DNS -----------------------------------------------------------------------------------------------------------
def query(name: str, qtype: int = dns.TYPE_A, qid: int = 0x1234) -> bytes:
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns.encode_name(name) + struct.pack(">HH", qtype, 1)


def answers(reply: bytes) -> tuple[int, list[tuple[int, bytes]]]:
    _, flags, qd, an, _, _ = struct.unpack_from(">HHHHHH", reply)
    _, off = dns._read_name(reply, 12)
    off += 4
    out = []
    for _ in range(an):
        _, off = dns._read_name(reply, off)
        rtype, _, _, rdlen = struct.unpack_from(">HHIH", reply, off)
        off += 10
        out.append((rtype, reply[off:off + rdlen]))
        off += rdlen
    return flags & 0xF, out


def resolver(upstreams: list[str] | None = None, external: bool = True) -> dns.Resolver:
    table = {"web": ["10.0.0.2"], "web.front": ["10.0.0.2"]}
    return dns.Resolver(table.get, {"10.0.0.2": "web.front"}.get, lambda: upstreams or [], lambda: external)


def test_dns_wire_format() -> None:
    q = dns.parse_question(query("Web.Example.", dns.TYPE_AAAA))
    assert q is not None and (q.id, q.name, q.qtype, q.qclass) == (0x1234, "web.example", dns.TYPE_AAAA, 1)
    assert dns.parse_question(b"\x00\x01") is None
    assert dns.parse_question(query("x")[:2] + b"\x80\x00" + query("x")[4:]) is None  # a response, not a query
    assert dns.ptr_name("2.0.0.10.in-addr.arpa") == "10.0.0.2" and dns.ptr_name("x.arpa") is None


def test_names_of_the_network_are_answered_locally() -> None:
    r = resolver()
    rcode, ans = answers(asyncio.run(r.resolve(query("web"), tcp=False)))
    assert rcode == 0 and ans == [(dns.TYPE_A, socket.inet_aton("10.0.0.2"))]
    rcode, ans = answers(asyncio.run(r.resolve(query("web", dns.TYPE_AAAA), tcp=False)))
    assert rcode == 0 and ans == []
    rcode, ans = answers(asyncio.run(r.resolve(query("2.0.0.10.in-addr.arpa", dns.TYPE_PTR), tcp=False)))
    assert ans == [(dns.TYPE_PTR, dns.encode_name("web.front"))]
    rcode, _ = answers(asyncio.run(resolver(external=False).resolve(query("elsewhere.test"), tcp=False)))
    assert rcode == dns.RCODE_REFUSED
    rcode, _ = answers(asyncio.run(resolver(["127.0.0.1:9"]).resolve(query("elsewhere.test"), tcp=False)))
    assert rcode == dns.RCODE_SERVFAIL  # the only upstream does not answer


def udp_and_tcp_on_one_port() -> tuple[socket.socket, socket.socket]:
    """A UDP socket and a TCP listener on one free port of 127.0.0.1, as an
    upstream DNS server is one address for both. A port free for UDP may be
    taken for TCP (any outgoing connection on the host can hold it), so the
    pair is bound, not guessed: retried until both binds succeed."""
    for _ in range(200):
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(8)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", tcp.getsockname()[1]))
        except OSError:
            tcp.close()
            udp.close()
            continue
        tcp.setblocking(False)
        udp.setblocking(False)
        return udp, tcp
    raise AssertionError("no port of 127.0.0.1 was free for both UDP and TCP")


def test_other_names_are_forwarded_over_udp_and_tcp() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        canned = {}

        class Upstream(asyncio.DatagramProtocol):
            def connection_made(self, transport):  # type: ignore[no-untyped-def]
                self.t = transport

            def datagram_received(self, data, addr):  # type: ignore[no-untyped-def]
                q = dns.parse_question(data)
                canned["udp"] = q.name
                self.t.sendto(dns.response(data, q, [(dns.TYPE_A, socket.inet_aton("192.0.2.9"))]), addr)

        udp_sock, tcp_sock = udp_and_tcp_on_one_port()
        port = tcp_sock.getsockname()[1]
        udp_t, _ = await loop.create_datagram_endpoint(Upstream, sock=udp_sock)

        async def tcp_client(reader, writer):  # type: ignore[no-untyped-def]
            n = struct.unpack(">H", await reader.readexactly(2))[0]
            data = await reader.readexactly(n)
            q = dns.parse_question(data)
            canned["tcp"] = q.name
            reply = dns.response(data, q, [(dns.TYPE_A, socket.inet_aton("192.0.2.10"))])
            writer.write(struct.pack(">H", len(reply)) + reply)
            await writer.drain()
            writer.close()

        srv = await asyncio.start_server(tcp_client, sock=tcp_sock)
        try:
            r = resolver([f"127.0.0.1:{port}"])
            _, ans = answers(await r.resolve(query("far.test"), tcp=False))
            assert ans == [(dns.TYPE_A, socket.inet_aton("192.0.2.9"))] and canned["udp"] == "far.test"
            _, ans = answers(await r.resolve(query("farther.test"), tcp=True))
            assert ans == [(dns.TYPE_A, socket.inet_aton("192.0.2.10"))] and canned["tcp"] == "farther.test"
            # The server end to end, on sockets like the ones made in a container's namespace.
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket()
            udp.bind(("127.0.0.1", 0))
            tcp.bind(("127.0.0.1", 0))
            tcp.listen(4)
            server = dns.Server(r)
            await server.start(udp, tcp)
            client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            client.setblocking(False)
            await loop.sock_connect(client, udp.getsockname())
            await loop.sock_sendall(client, query("web", qid=77))
            reply = await asyncio.wait_for(loop.sock_recv(client, 512), 5)
            assert reply[:2] == struct.pack(">H", 77) and answers(reply)[1][0][1] == socket.inet_aton("10.0.0.2")
            client.close()
            reader, writer = await asyncio.open_connection(*tcp.getsockname())
            msg = query("web", qid=78)
            writer.write(struct.pack(">H", len(msg)) + msg)
            n = struct.unpack(">H", await reader.readexactly(2))[0]
            assert answers(await reader.readexactly(n))[1][0][1] == socket.inet_aton("10.0.0.2")
            writer.close()
            server.close()
        finally:
            udp_t.close()
            srv.close()

    asyncio.run(scenario())


def test_jumps_go_in_with_the_chains() -> None:
    text = render(NAMES, BR, PORTS, False, with_jumps=True)
    filt, nat = text.split("*nat")
    assert "-I FORWARD 1 -j DY-0123abcd-FWD\nCOMMIT" in filt
    assert "-I PREROUTING 1 -m addrtype --dst-type LOCAL -j DY-0123abcd-NAT" in nat
    assert "-I OUTPUT 1 ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DY-0123abcd-NAT" in nat
    assert "-I POSTROUTING 1 -j DY-0123abcd-POST" in nat
    assert "-I " not in render(NAMES, BR, PORTS, False)
