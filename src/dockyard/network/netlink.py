"""Links, addresses and routes through rtnetlink (pyroute2), in the host's
namespace or in a namespace file. Synchronous: the daemon calls these from a
worker thread. pyroute2 is imported on first use (it costs ~0.3 s)."""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
from typing import Any

from . import netns

NETLINK_ROUTE = 0


class LinkError(OSError):
    pass


def _err(e: BaseException, what: str) -> LinkError:
    code = getattr(e, "code", 0) or errno.EIO
    return LinkError(code, f"{what}: {os.strerror(code)}")


class Netlink:
    """One rtnetlink socket, bound to the host namespace or to ``netns_path``."""

    def __init__(self, netns_path: str | None = None) -> None:
        from pyroute2 import IPRoute
        # pyroute2 resets its logger on import and logs every message at debug level.
        logging.getLogger("pyroute2").setLevel(logging.WARNING)
        if netns_path:
            sock = netns.socket_in(netns_path, socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
            self.ipr = IPRoute(fileno=sock.detach())
        else:
            self.ipr = IPRoute()

    def __enter__(self) -> "Netlink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.ipr.close()

    # -- lookups ---------------------------------------------------------------
    def index(self, name: str) -> int | None:
        found = self.ipr.link_lookup(ifname=name)
        return found[0] if found else None

    def exists(self, name: str) -> bool:
        return self.index(name) is not None

    def link_kind(self, name: str) -> str:
        idx = self.index(name)
        if idx is None:
            return ""
        link = self.ipr.get_links(idx)[0]
        return str(link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") or "")

    def routed_subnets(self) -> list[ipaddress.IPv4Network]:
        """IPv4 destinations of the main table (not the default route)."""
        out = []
        for r in self.ipr.route("dump", family=socket.AF_INET):
            if r.get("RTA_TABLE", r["table"]) != 254 or not r["dst_len"] or not r.get("RTA_DST"):
                continue
            out.append(ipaddress.IPv4Network(f"{r.get('RTA_DST')}/{r['dst_len']}", strict=False))
        return out

    def addresses(self, name: str) -> list[ipaddress.IPv4Interface]:
        idx = self.index(name)
        if idx is None:
            return []
        return [ipaddress.IPv4Interface(f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}")
                for a in self.ipr.get_addr(family=socket.AF_INET, index=idx)]

    # -- host side -----------------------------------------------------------------
    def ensure_bridge(self, name: str, address: ipaddress.IPv4Interface | None, mtu: int = 0) -> bool:
        """Create the bridge if missing, give it ``address`` and bring it up.
        Returns whether it was created."""
        created = False
        idx = self.index(name)
        if idx is None:
            try:
                self.ipr.link("add", ifname=name, kind="bridge")
            except Exception as e:
                raise _err(e, f"creating bridge {name}") from None
            created = True
            idx = self.index(name)
            assert idx is not None
        elif self.link_kind(name) != "bridge":
            raise LinkError(errno.EEXIST, f"{name} exists and is not a bridge")
        try:
            if mtu:
                self.ipr.link("set", index=idx, mtu=mtu)
            if address is not None and address not in self.addresses(name):
                self.ipr.addr("add", index=idx, address=str(address.ip), prefixlen=address.network.prefixlen,
                              broadcast=str(address.network.broadcast_address))
            self.ipr.link("set", index=idx, state="up")
        except Exception as e:
            if created:
                self.delete(name)
            raise _err(e, f"configuring bridge {name}") from None
        return created

    def delete(self, name: str) -> bool:
        """Delete a link by name (a veth takes its peer with it); False if it was not there."""
        try:
            self.ipr.link("del", ifname=name)
        except Exception as e:
            if getattr(e, "code", 0) in (errno.ENODEV, errno.ENOENT):
                return False
            raise _err(e, f"deleting link {name}") from None
        return True

    def add_veth(self, host_name: str, peer_name: str, peer_netns: str, bridge: str, mtu: int = 0,
                 peer_mac: str = "") -> None:
        """A veth pair in one request: ``host_name`` enslaved to ``bridge`` and
        up, its peer created directly inside the namespace file ``peer_netns``."""
        br = self.index(bridge)
        if br is None:
            raise LinkError(errno.ENODEV, f"bridge {bridge} not found")
        peer: dict[str, Any] = {"ifname": peer_name, "net_ns_fd": peer_netns}
        kw: dict[str, Any] = {}
        if mtu:
            peer["mtu"] = kw["mtu"] = mtu
        if peer_mac:
            peer["address"] = peer_mac
        try:
            self.ipr.link("add", ifname=host_name, kind="veth", master=br, state="up", peer=peer, **kw)
        except Exception as e:
            raise _err(e, f"creating veth {host_name}") from None

    def add_macvlan(self, name: str, parent: str, netns_path: str, mode: str = "bridge", mtu: int = 0,
                    mac: str = "") -> None:
        pidx = self.index(parent)
        if pidx is None:
            raise LinkError(errno.ENODEV, f"parent interface {parent} not found")
        kw: dict[str, Any] = {"mtu": mtu} if mtu else {}
        if mac:
            kw["address"] = mac
        try:
            self.ipr.link("add", ifname=name, kind="macvlan", link=pidx, macvlan_mode=mode,
                          net_ns_fd=netns_path, **kw)
        except Exception as e:
            raise _err(e, f"creating macvlan on {parent}") from None

    # -- inside a container's namespace --------------------------------------------------
    def loopback_up(self) -> None:
        """lo is always index 1 in a namespace."""
        self.ipr.link("set", index=1, state="up")

    def configure(self, name: str, address: ipaddress.IPv4Interface) -> int:
        """Address the link and bring it up; returns its index."""
        idx = self.index(name)
        if idx is None:
            raise LinkError(errno.ENODEV, f"link {name} not found")
        try:
            self.ipr.addr("add", index=idx, address=str(address.ip), prefixlen=address.network.prefixlen,
                          broadcast=str(address.network.broadcast_address))
            self.ipr.link("set", index=idx, state="up")
        except Exception as e:
            raise _err(e, f"configuring {name}") from None
        return idx

    def set_default_route(self, gateway: str, dev: str | int, replace: bool = True) -> None:
        idx = dev if isinstance(dev, int) else self.index(dev)
        if replace:
            self.del_default_route()
        try:
            self.ipr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=idx)
        except Exception as e:
            raise _err(e, f"default route via {gateway}") from None

    def del_default_route(self) -> None:
        for r in self.ipr.route("dump", family=socket.AF_INET):
            if r["dst_len"] == 0 and r.get("RTA_TABLE", r["table"]) == 254:
                try:
                    self.ipr.route("del", dst="0.0.0.0/0", table=254)
                except Exception:
                    pass



def write_sysctl(key: str, value: str) -> bool:
    """/proc/sys/<key with dots as slashes>; False when it does not exist."""
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return True
        with open(path, "w") as f:
            f.write(value)
        return True
    except FileNotFoundError:
        return False


def read_sysctl(key: str) -> str:
    try:
        with open("/proc/sys/" + key.replace(".", "/")) as f:
            return f.read().strip()
    except OSError:
        return ""
