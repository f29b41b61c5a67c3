"""IP address management, docker's default IPAM: subnets for networks from
address pools, addresses for endpoints from a network's subnet.

Pure data and arithmetic; the controller persists the state (each network's
record holds its subnets with their allocations) and serialises access."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable

from .. import errdefs

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address


@dataclass(frozen=True)
class Pool:
    """``--default-address-pool base=<cidr>,size=<prefix length>``."""
    base: IPv4Network
    size: int

    def subnets(self) -> Iterable[IPv4Network]:
        return self.base.subnets(new_prefix=self.size)


# docker's local-scope defaults (172.17.0.0/16 for the default bridge first).
DEFAULT_POOLS: tuple[Pool, ...] = tuple(
    [Pool(IPv4Network(f"172.{n}.0.0/16"), 16) for n in range(17, 32)] +
    [Pool(IPv4Network("192.168.0.0/16"), 20)])


def parse_pool(spec: str) -> Pool:
    fields: dict[str, str] = {}
    for part in spec.split(","):
        k, eq, v = part.partition("=")
        if not eq:
            raise errdefs.InvalidArgument(f"invalid default address pool {spec!r}: expected base=<cidr>,size=<int>")
        fields[k.strip().lower()] = v.strip()
    try:
        base = ipaddress.ip_network(fields["base"], strict=False)
        size = int(fields.get("size", "") or base.prefixlen)
    except (KeyError, ValueError) as e:
        raise errdefs.InvalidArgument(f"invalid default address pool {spec!r}: {e}") from None
    if not isinstance(base, IPv4Network):
        raise errdefs.InvalidArgument(f"invalid default address pool {spec!r}: only IPv4 pools are supported")
    if size < base.prefixlen or size > 30:
        raise errdefs.InvalidArgument(
            f"invalid default address pool {spec!r}: size {size} must be between {base.prefixlen} and 30")
    return Pool(base, size)


def overlaps(net: IPv4Network, others: Iterable[IPv4Network]) -> bool:
    return any(net.overlaps(o) for o in others)


def pick_subnet(pools: Iterable[Pool], taken: Iterable[IPv4Network]) -> IPv4Network:
    """The first subnet of the pools that overlaps nothing taken (networks of
    this daemon and routes already on the host)."""
    taken = list(taken)
    for pool in pools:
        candidates = [t for t in taken if t.overlaps(pool.base)]
        for sub in pool.subnets():
            if not overlaps(sub, candidates):
                return sub
    raise errdefs.PermissionDenied("could not find an available, non-overlapping IPv4 address pool among the "
                                   "defaults to assign to the network")


# docker's ValidateIPAM: "invalid network config:" and each problem on its own line.
BAD_CONFIG = "invalid network config:\n"


def _config_address(s: str, what: str, net: IPv4Network) -> IPv4Address:
    try:
        addr = IPv4Address(s)
    except ValueError:
        if ":" in s:
            raise errdefs.InvalidArgument(f"{BAD_CONFIG}invalid {what} {s}: parent subnet is an IPv4 block") from None
        raise errdefs.InvalidArgument(f"{BAD_CONFIG}invalid {what} {s}: invalid address") from None
    if addr not in net:
        raise errdefs.InvalidArgument(f"{BAD_CONFIG}invalid {what} {s}: parent subnet {net} doesn't contain this address")
    return addr


def parse_subnet(s: str) -> IPv4Network:
    try:
        net = ipaddress.ip_network(s, strict=False)
    except ValueError:
        raise errdefs.InvalidArgument(f"{BAD_CONFIG}invalid subnet {s}: invalid CIDR block notation") from None
    if not isinstance(net, IPv4Network):
        raise errdefs.InvalidArgument(f"invalid network config: subnet {s}: IPv6 is not supported")
    if str(net) != s and f"{net.network_address}/{net.prefixlen}" != s:
        raise errdefs.InvalidArgument(f"{BAD_CONFIG}invalid subnet {s}: it should be {net}")
    if net.prefixlen > 30:
        raise errdefs.InvalidArgument(f"invalid network config: subnet {s} is too small")
    return net


def parse_address(s: str, what: str = "IP address") -> IPv4Address:
    try:
        return IPv4Address(s)
    except ValueError:
        raise errdefs.InvalidArgument(f"invalid {what}: {s}") from None


@dataclass
class Subnet:
    """One IPAM config entry of a network, resolved, with its allocations."""
    subnet: str
    gateway: str = ""
    ip_range: str = ""
    aux: dict[str, str] = field(default_factory=dict)  # name -> reserved address
    user_subnet: bool = False  # configured by the user (static IPs allowed)
    allocated: dict[str, str] = field(default_factory=dict)  # address -> owner (endpoint ID)
    last: str = ""  # the last address handed out: docker continues after it

    @property
    def network(self) -> IPv4Network:
        return IPv4Network(self.subnet)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    def _range(self) -> IPv4Network:
        return IPv4Network(self.ip_range) if self.ip_range else self.network

    def _reserved(self) -> set[IPv4Address]:
        net = self.network
        out = {net.network_address, net.broadcast_address}
        if self.gateway:
            out.add(IPv4Address(self.gateway))
        out.update(IPv4Address(a) for a in self.aux.values())
        return out

    def contains(self, addr: IPv4Address) -> bool:
        return addr in self.network

    def allocate(self, owner: str, preferred: str = "") -> IPv4Address:
        if preferred:
            addr = parse_address(preferred, "IPv4 address")
            if addr not in self.network:
                raise errdefs.InvalidArgument(f"no configured subnet or ip-range contain the IP address {preferred}")
            if str(addr) in self.allocated or addr in self._reserved():
                raise errdefs.Conflict(f"Address already in use: {preferred}")
            self.allocated[str(addr)] = owner
            return addr
        rng = self._range()
        reserved = self._reserved()
        first, last = int(rng.network_address), int(rng.broadcast_address)
        size = last - first + 1
        start = int(IPv4Address(self.last)) + 1 if self.last and IPv4Address(self.last) in rng else first
        for i in range(size):
            cand = IPv4Address(first + (start - first + i) % size)
            if cand in reserved or str(cand) in self.allocated:
                continue
            self.allocated[str(cand)] = owner
            self.last = str(cand)
            return cand
        raise errdefs.Unavailable(f"no available IPv4 addresses on this network's address pools ({self.subnet})")

    def release(self, addr: str) -> None:
        self.allocated.pop(addr, None)

    def to_json(self) -> dict[str, Any]:
        return {"subnet": self.subnet, "gateway": self.gateway, "ip_range": self.ip_range, "aux": self.aux,
                "user_subnet": self.user_subnet, "allocated": self.allocated, "last": self.last}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Subnet":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def resolve_config(configs: list[dict[str, Any]], pools: Iterable[Pool], taken: list[IPv4Network],
                   with_gateway: bool = True, routed: list[IPv4Network] | None = None) -> list[Subnet]:
    """A network's IPAM.Config (Subnet, IPRange, Gateway, AuxiliaryAddresses)
    checked and completed; a subnet from the pools when none is given.
    `taken`: the other networks' subnets, which no subnet may overlap;
    `routed`: host routes, which only a subnet picked from the pools avoids
    (as docker: a subnet the user names may overlap the host's routes)."""
    out: list[Subnet] = []
    v4 = [c for c in configs if ":" not in str(c.get("Subnet") or "")]
    if any(":" in str(c.get("Subnet") or "") for c in configs):
        raise errdefs.InvalidArgument("invalid network config: IPv6 subnets are not supported")
    if not v4:
        v4 = [{}]
    for cfg in v4:
        sub_s = str(cfg.get("Subnet") or "")
        if sub_s:
            net = parse_subnet(sub_s)
            if overlaps(net, taken):
                raise errdefs.PermissionDenied("invalid pool request: Pool overlaps with other one on this address space")
            user = True
        else:
            if cfg.get("IPRange") or cfg.get("Gateway"):
                raise errdefs.InvalidArgument("invalid network config: ip-range and gateway need a subnet")
            net = pick_subnet(pools, taken + list(routed or []))
            user = False
        taken = taken + [net]
        ip_range = str(cfg.get("IPRange") or "")
        if ip_range:
            try:
                rng = ipaddress.ip_network(ip_range, strict=False)
            except ValueError:
                raise errdefs.InvalidArgument(f"{BAD_CONFIG}invalid ip-range {ip_range}: invalid CIDR block notation") from None
            if not isinstance(rng, IPv4Network):
                raise errdefs.InvalidArgument(f"{BAD_CONFIG}invalid ip-range {ip_range}: parent subnet is an IPv4 block")
            if not rng.subnet_of(net):
                raise errdefs.InvalidArgument(f"{BAD_CONFIG}invalid ip-range {ip_range}: parent subnet {net} doesn't contain ip-range")
            ip_range = str(rng)
        gw = str(cfg.get("Gateway") or "")
        if gw:
            gwa = _config_address(gw, "gateway", net)
            if gwa in (net.network_address, net.broadcast_address):
                raise errdefs.InvalidArgument(f"invalid network config: gateway {gw} is not in subnet {net}")
        elif with_gateway:
            gw = str(next(net.hosts()))
        aux: dict[str, str] = {}
        for name, a in (cfg.get("AuxiliaryAddresses") or cfg.get("AuxAddress") or {}).items():
            addr = _config_address(str(a), f"auxiliary address {name}", net)
            aux[str(name)] = str(addr)
        out.append(Subnet(subnet=str(net), gateway=gw, ip_range=ip_range, aux=aux, user_subnet=user))
    return out
