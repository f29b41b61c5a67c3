"""Published ports: docker's PortBindings/PublishAllPorts turned into host
ports. The daemon binds every host port itself (so a taken port fails the
start with docker's message, and random ports come out free); the sockets
then go to the userland proxy, or are kept as reservations when NAT alone
carries the traffic."""

from __future__ import annotations

import errno
import random
import socket
from dataclasses import dataclass, field
from typing import Any

from .. import errdefs

PROTOS = ("tcp", "udp")


@dataclass(frozen=True)
class PortRequest:
    proto: str
    container_port: int
    host_ip: str = ""
    host_port_lo: int = 0  # 0: any free port
    host_port_hi: int = 0


@dataclass
class Mapping:
    proto: str
    host_ip: str
    host_port: int
    container_port: int
    container_ip: str = ""
    bridge: str = ""
    sock: socket.socket | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"proto": self.proto, "host_ip": self.host_ip, "host_port": self.host_port,
                "container_port": self.container_port, "container_ip": self.container_ip, "bridge": self.bridge}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Mapping":
        return cls(d["proto"], d["host_ip"], int(d["host_port"]), int(d["container_port"]),
                   d.get("container_ip", ""), d.get("bridge", ""))


def parse_port_key(key: str) -> tuple[int, str]:
    """'80/tcp' -> (80, 'tcp'); the protocol defaults to tcp."""
    port_s, _, proto = str(key).partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOS:
        raise errdefs.InvalidArgument(f"invalid proto: {proto}" if proto != "sctp"
                                      else "sctp port mappings are not supported")
    try:
        port = int(port_s)
    except ValueError:
        raise errdefs.InvalidArgument(f'invalid port specification: "{port_s}"') from None
    if not 0 < port < 65536:
        raise errdefs.InvalidArgument(f'invalid port specification: "{port_s}"')
    return port, proto


def _host_range(s: str) -> tuple[int, int]:
    if not s:
        return 0, 0
    lo_s, dash, hi_s = s.partition("-")
    try:
        lo = int(lo_s)
        hi = int(hi_s) if dash else lo
    except ValueError:
        raise errdefs.InvalidArgument(f'invalid port specification: "{s}"') from None
    if not (0 <= lo <= hi < 65536):
        raise errdefs.InvalidArgument(f'invalid port specification: "{s}"')
    return lo, hi


def requests_from(port_bindings: dict[str, Any] | None, exposed: dict[str, Any] | None,
                  publish_all: bool) -> list[PortRequest]:
    """The HostConfig's bindings (and, with -P, every exposed port on a random host port)."""
    out: list[PortRequest] = []
    seen: set[tuple[int, str]] = set()
    for key, binds in sorted((port_bindings or {}).items()):
        port, proto = parse_port_key(key)
        seen.add((port, proto))
        for b in binds or [{}]:
            b = b or {}
            host_ip = str(b.get("HostIp") or "")
            if host_ip and ":" in host_ip:
                continue  # IPv6 host addresses: the bridges here are IPv4-only
            if host_ip:
                try:
                    socket.inet_aton(host_ip)
                except OSError:
                    raise errdefs.InvalidArgument(f"invalid host IP: {host_ip}") from None
            lo, hi = _host_range(str(b.get("HostPort") or ""))
            out.append(PortRequest(proto, port, host_ip, lo, hi))
    if publish_all:
        for key in sorted(exposed or {}):
            port, proto = parse_port_key(key)
            if (port, proto) not in seen:
                out.append(PortRequest(proto, port))
    return out


def ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 49153, 65535


def _bind(proto: str, host_ip: str, port: int, listen: bool) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        if proto == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host_ip or "0.0.0.0", port))
        if listen and proto == "tcp":
            s.listen(1024)
    except BaseException:
        s.close()
        raise
    return s


def allocate(reqs: list[PortRequest], listen: bool, endpoint: str = "") -> list[Mapping]:
    """Bind a host port for each request; all or nothing."""
    out: list[Mapping] = []
    try:
        for r in reqs:
            host_ip = r.host_ip or "0.0.0.0"
            if r.host_port_lo:
                candidates = list(range(r.host_port_lo, r.host_port_hi + 1))
                shown = str(r.host_port_lo) if r.host_port_lo == r.host_port_hi else f"{r.host_port_lo}-{r.host_port_hi}"
            else:
                lo, hi = ephemeral_range()
                start = random.randint(lo, hi)
                candidates = list(range(start, hi + 1)) + list(range(lo, start))
                shown = "0"
            for port in candidates:
                try:
                    sock = _bind(r.proto, r.host_ip, port, listen)
                except OSError as e:
                    if e.errno in (errno.EADDRINUSE, errno.EACCES):
                        continue
                    raise errdefs.InvalidArgument(f"Bind for {host_ip}:{port} failed: {e.strerror}") from None
                out.append(Mapping(r.proto, host_ip, port, r.container_port, sock=sock))
                break
            else:
                raise errdefs.Conflict(
                    f"driver failed programming external connectivity on endpoint {endpoint}: "
                    f"Bind for {host_ip}:{shown} failed: port is already allocated")
    except BaseException:
        release(out)
        raise
    return out


def release(mappings: list[Mapping]) -> None:
    for m in mappings:
        if m.sock is not None:
            m.sock.close()
            m.sock = None


def api_ports(mappings: list[Mapping], exposed: dict[str, Any] | None) -> dict[str, Any]:
    """NetworkSettings.Ports: every exposed or published port, null when not published."""
    out: dict[str, Any] = {k if "/" in k else f"{k}/tcp": None for k in (exposed or {})}
    for m in mappings:
        key = f"{m.container_port}/{m.proto}"
        if out.get(key) is None:
            out[key] = []
        out[key].append({"HostIp": m.host_ip, "HostPort": str(m.host_port)})
    return out
