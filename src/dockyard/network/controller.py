"""The network controller (libnetwork's role): networks with their devices
and address spaces, sandboxes (a container's network namespace) with their
endpoints, published ports and proxy, the firewall, and the name tables the
embedded DNS reads.

Synchronous and thread-safe (one re-entrant lock): the daemon calls it from
worker threads. Every change is persisted before the call returns, so a
restarted daemon finds what still runs (``start`` + ``restore_sandbox``)
and what must be cleaned up (``delete_sandbox``, ``gc``).

Lifecycle of a container on a bridge network:

    create_sandbox: netns file, lo up; per network: address from IPAM, veth
                    (host end on the bridge, peer created as ethN inside),
                    address, MAC, default route; ports bound, DNAT/filter
                    rules, proxy started
    connect / disconnect while it runs
    delete_sandbox: proxy stopped, rules gone, links deleted, addresses
                    released, namespace file unpinned
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import errdefs
from . import ipam, netns, portmap
from .iptables import BridgeRules, Firewall, FirewallError, PortRule, set_forward_policy_drop
from .model import (OPT_BRIDGE_NAME, OPT_DEFAULT_BRIDGE, OPT_HOST_BINDING, OPT_ICC, OPT_MACVLAN_MODE,
                    OPT_MASQUERADE, OPT_MTU, OPT_PARENT, PREDEFINED, Endpoint, Network, Sandbox, Store)
from .naming import Names
from .netlink import LinkError, Netlink, read_sysctl, write_sysctl

log = logging.getLogger("dockyard.network")

MACVLAN_MODES = ("bridge", "private", "vepa", "passthru")


@dataclass
class Config:
    data_dir: str  # <data-root>/network
    exec_dir: str  # <exec-root>: netns/ lives here
    names: Names
    default_bridge: str
    bip: str = ""
    pools: tuple[ipam.Pool, ...] = ipam.DEFAULT_POOLS
    iptables: bool = True
    ip_forward: bool = True
    userland_proxy: bool = True
    proxy_binary: str = "dockyard-proxy"
    now: Any = None  # () -> RFC 3339 string


@dataclass
class Attachment:
    """What a container asks of one network."""
    network_id: str
    name: str  # container name, no slash
    aliases: list[str] = field(default_factory=list)
    dns_names: list[str] = field(default_factory=list)
    static_ip: str = ""
    mac: str = ""


@dataclass(frozen=True)
class _DNSView:
    names: dict[str, dict[str, list[str]]]  # network ID -> name -> addresses
    reverse: dict[str, dict[str, str]]  # network ID -> address -> name
    nets: dict[str, tuple[str, ...]]  # container ID -> network IDs, in attach order
    external: dict[str, bool]  # container ID -> may forward outside


def mac_for(ip: str) -> str:
    """docker's MAC derived from the IPv4 address (02:42 + the address)."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def proc_start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] == "Z":
        return ""
    return fields[19] if len(fields) > 19 else ""


class Controller:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.names = cfg.names
        self.store = Store(cfg.data_dir)
        self.lock = threading.RLock()
        self.netns_dir = os.path.join(cfg.exec_dir, "netns")
        self._networks: dict[str, Network] = {}
        self._sandboxes: dict[str, Sandbox] = {}
        self._proxies: dict[str, subprocess.Popen[bytes]] = {}
        self._reservations: dict[str, list[socket.socket]] = {}
        self.firewall = Firewall(self.names, hairpin=not cfg.userland_proxy) if cfg.iptables else None
        self._dns = _DNSView({}, {}, {}, {})
        self._ensured: set[str] = set()  # networks whose bridge was checked in this run

    def _now(self) -> str:
        return self.cfg.now() if self.cfg.now else time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())

    # -- startup and shutdown ------------------------------------------------------
    def start(self) -> None:
        with self.lock:
            for n in self.store.load_networks():
                self._networks[n.id] = n
            for sb in self.store.load_sandboxes():
                self._sandboxes[sb.container_id] = sb
            # Bridges are (re)made when a container first joins them in this run, so that a
            # daemon that runs no container never loads pyroute2 (~0.5 s of imports).
            self._ensure_predefined()
            if self.cfg.ip_forward and read_sysctl("net.ipv4.ip_forward") != "1":
                write_sysctl("net.ipv4.ip_forward", "1")
                if self.firewall is not None:
                    # As dockerd does when it turns forwarding on: route only what the rules allow.
                    set_forward_policy_drop()
            self._sync_firewall()
            self._rebuild_dns()

    def shutdown(self) -> None:
        """Live restore: keep everything containers use. With no sandbox left,
        take down the devices and rules this daemon made (they are rebuilt at start)."""
        with self.lock:
            self._proxies.clear()  # they keep serving
            for socks in self._reservations.values():
                for s in socks:
                    s.close()
            self._reservations.clear()
            if self._sandboxes:
                return
            present = [n.device for n in self._networks.values()
                       if n.driver == "bridge" and n.owns_device and _link_exists(n.device)]
            if present:
                with Netlink() as nl:
                    for device in present:
                        try:
                            nl.delete(device)
                        except LinkError as e:
                            log.warning("deleting bridge %s: %s", device, e)
            self._ensured.clear()
            if self.firewall is not None:
                self.firewall.teardown()

    def _ensure_predefined(self) -> None:
        by_name = {n.name: n for n in self._networks.values()}
        for name, driver in (("none", "null"), ("host", "host")):
            if name not in by_name:
                n = Network(id=secrets.token_hex(32), name=name, driver=driver, created=self._now())
                self._networks[n.id] = n
                self.store.save_network(n)
        self._ensure_default_bridge(by_name.get("bridge"))

    def _ensure_default_bridge(self, existing: Network | None) -> None:
        device = self.cfg.default_bridge
        if device == "none":  # --bridge=none: no default bridge; such containers get lo only
            if existing is not None and not existing.endpoints:
                self._drop_network(existing)
            return
        bip = ipaddress.IPv4Interface(self.cfg.bip) if self.cfg.bip else None
        if existing is not None:
            same_device = existing.device == device
            same_bip = bip is None or (existing.subnets and existing.subnets[0].subnet == str(bip.network)
                                       and existing.subnets[0].gateway == str(bip.ip))
            if same_device and same_bip:
                return
            if existing.endpoints:
                log.warning("default bridge settings changed but containers still use %s: keeping it", existing.device)
                return
            self._drop_network(existing)
        if bip is not None:
            if bip.ip in (bip.network.network_address, bip.network.broadcast_address):
                raise errdefs.InvalidArgument(f"--bip {self.cfg.bip}: not a host address of its subnet")
            sub = ipam.Subnet(subnet=str(bip.network), gateway=str(bip.ip), user_subnet=True)
        else:
            with Netlink() as nl:
                addrs = nl.addresses(device)
                routed = nl.routed_subnets()
            if addrs:  # an existing bridge keeps its address (as docker0 does)
                sub = ipam.Subnet(subnet=str(addrs[0].network), gateway=str(addrs[0].ip))
            else:
                taken = routed + self._taken_subnets()
                sub = ipam.Subnet(subnet=str(ipam.pick_subnet(self.cfg.pools, taken)), gateway="")
                sub.gateway = str(next(sub.network.hosts()))
        options = {OPT_DEFAULT_BRIDGE: "true", OPT_ICC: "true", OPT_MASQUERADE: "true",
                   OPT_HOST_BINDING: "0.0.0.0", OPT_BRIDGE_NAME: device, OPT_MTU: "1500"}
        n = Network(id=secrets.token_hex(32), name="bridge", driver="bridge", created=self._now(),
                    options=options, subnets=[sub], device=device, default_bridge=True)
        self._networks[n.id] = n
        self.store.save_network(n)

    def _taken_subnets(self) -> list[ipaddress.IPv4Network]:
        return [s.network for n in self._networks.values() for s in n.subnets]

    def _ensure_bridge_device(self, n: Network) -> None:
        sub = n.subnets[0] if n.subnets else None
        addr = ipaddress.IPv4Interface(f"{sub.gateway}/{sub.prefixlen}") if sub and sub.gateway else None
        with Netlink() as nl:
            created = nl.ensure_bridge(n.device, addr, n.mtu if n.mtu and n.mtu != 1500 else 0)
        self._ensured.add(n.id)
        if created and not n.owns_device:
            n.owns_device = True
            self.store.save_network(n)
        if not self.cfg.userland_proxy:
            # Hairpin NAT of 127.0.0.1: the bridge must route loopback-sourced packets.
            write_sysctl(f"net.ipv4.conf.{n.device}.route_localnet", "1")

    # -- networks ----------------------------------------------------------------------
    def networks(self) -> list[Network]:
        with self.lock:
            return list(self._networks.values())

    def get(self, nid: str) -> Network:
        with self.lock:
            try:
                return self._networks[nid]
            except KeyError:
                raise errdefs.NotFound(f"network {nid} not found") from None

    def find(self, term: str) -> Network:
        """docker's FindNetwork: full ID, then full name, then unique ID prefix."""
        with self.lock:
            nets = list(self._networks.values())
        for n in nets:
            if n.id == term:
                return n
        by_name = [n for n in nets if n.name == term]
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:
            raise errdefs.InvalidArgument(f"network {term} is ambiguous ({len(by_name)} matches found on name)")
        by_prefix = [n for n in nets if term and n.id.startswith(term)]
        if len(by_prefix) == 1:
            return by_prefix[0]
        if len(by_prefix) > 1:
            raise errdefs.InvalidArgument(
                f"network {term} is ambiguous ({len(by_prefix)} matches found based on ID prefix)")
        raise errdefs.NotFound(f"network {term} not found")

    def create_network(self, name: str, driver: str = "bridge", ipam_config: list[dict[str, Any]] | None = None,
                       internal: bool = False, attachable: bool = False, ingress: bool = False,
                       options: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                       enable_ipv6: bool = False, ipam_driver: str = "", ipam_options: dict[str, str] | None = None
                       ) -> Network:
        options = {str(k): str(v) for k, v in (options or {}).items()}
        driver = driver or "bridge"
        with self.lock:
            if name in PREDEFINED:
                raise errdefs.PermissionDenied(f"operation is not permitted on predefined {name} network ")
            if any(n.name == name for n in self._networks.values()):
                raise errdefs.Conflict(f"network with name {name} already exists")
            if driver in ("host", "null"):
                raise errdefs.PermissionDenied(f'only one instance of "{driver}" network is allowed')
            if driver not in ("bridge", "macvlan"):
                raise errdefs.NotFound(f'plugin "{driver}" not found')
            if ipam_driver not in ("", "default"):
                raise errdefs.NotFound(f'plugin "{ipam_driver}" not found')
            if enable_ipv6:
                raise errdefs.InvalidArgument("IPv6 networks are not supported by this daemon")
            if ingress:
                raise errdefs.PermissionDenied("ingress networks need swarm mode, which is not supported")
            if OPT_MTU in options:
                try:
                    mtu = int(options[OPT_MTU])
                except ValueError:
                    raise errdefs.InvalidArgument(f"invalid MTU {options[OPT_MTU]!r}") from None
                if not 68 <= mtu <= 65535:
                    raise errdefs.InvalidArgument(f"invalid MTU {mtu}: must be between 68 and 65535")
            nid = secrets.token_hex(32)
            with Netlink() as nl:
                routed = nl.routed_subnets()
                if driver == "macvlan":
                    device = options.get(OPT_PARENT, "")
                    if not device:
                        raise errdefs.InvalidArgument(
                            "macvlan networks need a parent interface (-o parent=<interface>)")
                    if not nl.exists(device):
                        raise errdefs.InvalidArgument(f"-o parent interface was not found on the host: {device}")
                    mode = options.setdefault(OPT_MACVLAN_MODE, "bridge")
                    if mode not in MACVLAN_MODES:
                        raise errdefs.InvalidArgument(f"requested macvlan mode '{mode}' is not valid, "
                                                      f"'bridge' mode is the macvlan driver default")
                    for other in self._networks.values():
                        if other.driver == "macvlan" and other.device == device:
                            raise errdefs.Conflict(
                                f"network {other.name} is already using parent interface {device}")
                else:
                    device = options.get(OPT_BRIDGE_NAME) or self.names.bridge(nid)
                    if len(device) > 15:
                        raise errdefs.InvalidArgument(f"bridge name {device!r} is longer than 15 characters")
                    for other in self._networks.values():
                        if other.driver == "bridge" and other.device == device:
                            raise errdefs.Conflict(f"cannot create network {nid[:12]} ({device}): conflicts "
                                                   f"with network {other.id[:12]} ({other.device}): networks "
                                                   "have same bridge name")
            # Host routes count only for bridges: a macvlan subnet lives on the parent's wire.
            subnets = ipam.resolve_config(list(ipam_config or []), self.cfg.pools, self._taken_subnets(),
                                          routed=routed if driver == "bridge" else [])
            n = Network(id=nid, name=name, driver=driver, created=self._now(), internal=internal,
                        attachable=attachable, options=options, labels=dict(labels or {}),
                        ipam_options=dict(ipam_options or {}), subnets=subnets, device=device)
            if driver == "bridge":
                try:
                    self._ensure_bridge_device(n)
                    self._networks[n.id] = n
                    self._sync_firewall()
                except BaseException as e:
                    self._networks.pop(n.id, None)
                    if n.owns_device:
                        with Netlink() as nl:
                            nl.delete(n.device)
                    self.store.delete_network(n.id)
                    if isinstance(e, (LinkError, FirewallError)):
                        raise errdefs.Internal(f"failed to create network {name}: {e}") from None
                    raise
            self._networks[n.id] = n
            self.store.save_network(n)
            return n

    def delete_network(self, nid: str) -> None:
        with self.lock:
            n = self.get(nid)
            if n.predefined:
                raise errdefs.PermissionDenied(f"{n.name} is a pre-defined network and cannot be removed")
            if n.endpoints:
                raise errdefs.PermissionDenied(
                    f"error while removing network: network {n.name} id {n.id} has active endpoints")
            self._drop_network(n)
            self._sync_firewall()

    def _drop_network(self, n: Network) -> None:
        if n.driver == "bridge" and n.owns_device and _link_exists(n.device):
            with Netlink() as nl:
                nl.delete(n.device)
        self._ensured.discard(n.id)
        self._networks.pop(n.id, None)
        self.store.delete_network(n.id)

    # -- sandboxes ---------------------------------------------------------------------
    def sandbox(self, cid: str) -> Sandbox | None:
        with self.lock:
            return self._sandboxes.get(cid)

    def sandbox_key(self, cid: str) -> str:
        return os.path.join(self.netns_dir, cid[:12])

    def endpoints_of(self, cid: str) -> list[tuple[Network, Endpoint]]:
        with self.lock:
            sb = self._sandboxes.get(cid)
            if sb is None:
                return []
            out = []
            for nid, eid in sb.endpoints:
                n = self._networks.get(nid)
                if n is not None and eid in n.endpoints:
                    out.append((n, n.endpoints[eid]))
            return out

    def mappings(self, cid: str) -> list[portmap.Mapping]:
        with self.lock:
            sb = self._sandboxes.get(cid)
            return [portmap.Mapping.from_json(m) for m in sb.ports] if sb else []

    def create_sandbox(self, cid: str, attachments: list[Attachment], ports: list[portmap.PortRequest],
                       dns_servers: list[str] | None = None) -> Sandbox:
        with self.lock:
            if cid in self._sandboxes:
                self._delete_sandbox(cid)
            key = self.sandbox_key(cid)
            if os.path.lexists(key):
                netns.remove(key)
            netns.create(key)
            sb = Sandbox(container_id=cid, key=key, dns_servers=list(dns_servers or []))
            self._sandboxes[cid] = sb
            try:
                with Netlink() as host, Netlink(key) as inner:
                    inner.loopback_up()
                    for att in attachments:
                        self._join(sb, att, host, inner)
                if ports:
                    self._publish(sb, ports, attachments[0].name if attachments else cid[:12])
                self.store.save_sandbox(sb)
            except BaseException:
                self._delete_sandbox(cid)
                raise
            finally:
                self._rebuild_dns()
            return sb

    def delete_sandbox(self, cid: str) -> None:
        with self.lock:
            self._delete_sandbox(cid)
            self._rebuild_dns()

    def _delete_sandbox(self, cid: str) -> None:
        sb = self._sandboxes.get(cid)
        if sb is None:
            key = self.sandbox_key(cid)
            if os.path.lexists(key):
                netns.remove(key)
            return
        try:
            self._unpublish(sb)
        except Exception as e:  # keep going: the rest must still be released
            log.warning("container %s: removing published ports: %s", cid[:12], e)
        with Netlink() as host:
            # Deleting a veth's host end takes its peer along: the namespace is needed for macvlan only.
            needs_inner = any(ep.host_ifname == "" for _, ep in self.endpoints_of(cid))
            inner = self._inner_netlink(sb) if needs_inner else None
            try:
                for nid, _ in reversed(list(sb.endpoints)):
                    try:
                        self._leave(sb, nid, host, inner, repick=False)
                    except Exception as e:
                        log.warning("container %s: leaving network %s: %s", cid[:12], nid[:12], e)
            finally:
                if inner is not None:
                    inner.close()
        netns.remove(sb.key)
        self._sandboxes.pop(cid, None)
        self.store.delete_sandbox(cid)

    def connect(self, cid: str, att: Attachment) -> Endpoint:
        with self.lock:
            sb = self._sandboxes.get(cid)
            if sb is None:
                raise errdefs.Conflict(f"container {cid[:12]} has no network namespace to connect")
            try:
                with Netlink() as host, Netlink(sb.key) as inner:
                    ep = self._join(sb, att, host, inner)
            finally:
                self.store.save_sandbox(sb)
                self._rebuild_dns()
            return ep

    def disconnect(self, cid: str, nid: str) -> None:
        with self.lock:
            sb = self._sandboxes.get(cid)
            if sb is None or not any(n == nid for n, _ in sb.endpoints):
                raise errdefs.NotFound(f"container {cid[:12]} is not connected to network {nid[:12]}")
            inner = self._inner_netlink(sb)
            try:
                with Netlink() as host:
                    self._leave(sb, nid, host, inner)
            finally:
                if inner is not None:
                    inner.close()
                self.store.save_sandbox(sb)
                self._rebuild_dns()

    def _inner_netlink(self, sb: Sandbox) -> Netlink | None:
        if not netns.is_namespace(sb.key):
            return None
        try:
            return Netlink(sb.key)
        except OSError:
            return None

    def _join(self, sb: Sandbox, att: Attachment, host: Netlink, inner: Netlink) -> Endpoint:
        n = self.get(att.network_id)
        if n.driver not in ("bridge", "macvlan"):
            raise errdefs.InvalidArgument(f"cannot attach to network {n.name} ({n.driver} driver)")
        if any(e.container_id == sb.container_id for e in n.endpoints.values()):
            raise errdefs.PermissionDenied(f"endpoint with name {att.name} already exists in network {n.name}")
        eid = secrets.token_hex(32)
        subnet = n.subnets[0]
        if att.static_ip:
            addr = ipam.parse_address(att.static_ip, "IPv4 address")
            subnet = next((s for s in n.subnets if s.contains(addr)), subnet)
        ip = str(subnet.allocate(eid, att.static_ip))
        ep = Endpoint(id=eid, network_id=n.id, container_id=sb.container_id, name=att.name, ip=ip,
                      prefixlen=subnet.prefixlen, gateway=subnet.gateway, mac=att.mac or mac_for(ip),
                      aliases=list(att.aliases), dns_names=list(att.dns_names), static_ip=att.static_ip)
        used = {e.ifname for _, e in self.endpoints_of(sb.container_id)}
        ep.ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
        try:
            if n.driver == "bridge":
                if n.id not in self._ensured:
                    self._ensure_bridge_device(n)
                ep.host_ifname = self.names.veth()
                host.add_veth(ep.host_ifname, ep.ifname, sb.key, n.device, n.mtu, ep.mac)
                if not self.cfg.userland_proxy:
                    _write(f"/sys/class/net/{ep.host_ifname}/brport/hairpin_mode", "1")
            else:
                host.add_macvlan(ep.ifname, n.device, sb.key, n.options.get(OPT_MACVLAN_MODE, "bridge"), n.mtu,
                                 ep.mac)
            idx = inner.configure(ep.ifname, ipaddress.IPv4Interface(f"{ip}/{subnet.prefixlen}"))
            if not sb.gateway_network and not n.internal and ep.gateway:
                inner.set_default_route(ep.gateway, idx, replace=bool(sb.endpoints))
                sb.gateway_network = n.id
        except BaseException as e:
            subnet.release(ip)
            if ep.host_ifname:
                host.delete(ep.host_ifname)
            elif n.driver == "macvlan":
                inner.delete(ep.ifname)
            if isinstance(e, LinkError):
                raise errdefs.Internal(f"failed to set up container networking: {e}") from None
            raise
        n.endpoints[eid] = ep
        sb.endpoints.append([n.id, eid])
        self.store.save_network(n)
        return ep

    def _leave(self, sb: Sandbox, nid: str, host: Netlink, inner: Netlink | None, repick: bool = True) -> None:
        pair = next((p for p in sb.endpoints if p[0] == nid), None)
        if pair is None:
            return
        n = self._networks.get(nid)
        ep = n.endpoints.get(pair[1]) if n is not None else None
        if sb.port_network == nid:
            self._unpublish(sb)
        if ep is not None:
            if ep.host_ifname:
                host.delete(ep.host_ifname)  # the peer inside goes with it
            elif inner is not None:
                try:
                    inner.delete(ep.ifname)
                except LinkError as e:
                    log.debug("deleting %s in %s: %s", ep.ifname, sb.key, e)
        sb.endpoints.remove(pair)
        if n is not None:
            for s in n.subnets:
                if ep is not None and s.allocated.get(ep.ip) == pair[1]:
                    s.release(ep.ip)
            n.endpoints.pop(pair[1], None)
            self.store.save_network(n)
        if sb.gateway_network == nid:
            sb.gateway_network = ""
            if repick and inner is not None:
                self._pick_gateway(sb, inner)

    def _pick_gateway(self, sb: Sandbox, inner: Netlink) -> None:
        for n, ep in self.endpoints_of(sb.container_id):
            if not n.internal and ep.gateway:
                try:
                    inner.set_default_route(ep.gateway, ep.ifname)
                    sb.gateway_network = n.id
                except LinkError as e:
                    log.warning("default route via %s: %s", ep.gateway, e)
                return

    # -- published ports -----------------------------------------------------------------
    def _publish(self, sb: Sandbox, reqs: list[portmap.PortRequest], endpoint_name: str) -> None:
        target = next(((n, ep) for n, ep in self.endpoints_of(sb.container_id)
                       if n.driver == "bridge" and not n.internal), None)
        if target is None:
            return  # docker ignores publishing without a bridge to publish from
        n, ep = target
        if n.host_binding_ip and n.host_binding_ip not in ("0.0.0.0", "::"):
            reqs = [r if r.host_ip else portmap.PortRequest(r.proto, r.container_port, n.host_binding_ip,
                                                             r.host_port_lo, r.host_port_hi) for r in reqs]
        mappings = portmap.allocate(reqs, listen=self.cfg.userland_proxy, endpoint=f"{endpoint_name} ({ep.id[:12]})")
        try:
            for m in mappings:
                m.container_ip = ep.ip
                m.bridge = n.device
            sb.ports = [m.to_json() for m in mappings]
            sb.port_network = n.id
            self._sync_firewall()
            if self.cfg.userland_proxy:
                self._start_proxy(sb, mappings)
            else:
                self._reservations[sb.container_id] = [m.sock for m in mappings if m.sock is not None]
                for m in mappings:
                    m.sock = None
        except BaseException:
            portmap.release(mappings)
            sb.ports = []
            sb.port_network = ""
            self._sync_firewall()
            raise

    def _unpublish(self, sb: Sandbox) -> None:
        self._stop_proxy(sb)
        for s in self._reservations.pop(sb.container_id, []):
            s.close()
        if sb.ports:
            sb.ports = []
            sb.port_network = ""
            self._sync_firewall()

    def _start_proxy(self, sb: Sandbox, mappings: list[portmap.Mapping]) -> None:
        args = [self.cfg.proxy_binary, "--sandbox", sb.key]
        fds = []
        for m in mappings:
            assert m.sock is not None
            fds.append(m.sock.fileno())
            args += ["--map", f"{m.proto}:{m.sock.fileno()}:{m.container_ip}:{m.container_port}"]
        proc = subprocess.Popen(args, pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                start_new_session=True)
        portmap.release(mappings)  # the proxy holds them now
        self._proxies[sb.container_id] = proc
        sb.proxy_pid = proc.pid
        sb.proxy_start = proc_start_time(proc.pid)

    def _proxy_alive(self, sb: Sandbox) -> bool:
        if not sb.proxy_pid or proc_start_time(sb.proxy_pid) != sb.proxy_start or not sb.proxy_start:
            return False
        try:
            with open(f"/proc/{sb.proxy_pid}/cmdline", "rb") as f:
                return sb.key.encode() in f.read()
        except OSError:
            return False

    def _stop_proxy(self, sb: Sandbox) -> None:
        proc = self._proxies.pop(sb.container_id, None)
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        elif self._proxy_alive(sb):  # started by an earlier daemon: not our child
            pid = sb.proxy_pid
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while proc_start_time(pid) == sb.proxy_start and time.monotonic() < deadline:
                time.sleep(0.01)
            if proc_start_time(pid) == sb.proxy_start:
                os.kill(pid, signal.SIGKILL)
        sb.proxy_pid = 0
        sb.proxy_start = ""

    # -- restore -------------------------------------------------------------------------
    def restore_sandbox(self, cid: str, pid: int) -> Sandbox | None:
        """After a daemon restart, for a container still running: re-pin its
        namespace if the file went away, restart a proxy that died."""
        with self.lock:
            sb = self._sandboxes.get(cid)
            if sb is None:
                return None
            if not netns.is_namespace(sb.key) and pid:
                try:
                    netns.pin_process(pid, sb.key)
                except OSError as e:
                    log.warning("container %s: re-pinning its network namespace: %s", cid[:12], e)
            if sb.ports:
                mappings = [portmap.Mapping.from_json(m) for m in sb.ports]
                if self.cfg.userland_proxy and not self._proxy_alive(sb):
                    self._rebind_and_proxy(sb, mappings)
                elif not self.cfg.userland_proxy and cid not in self._reservations:
                    self._reservations[cid] = self._rebind(mappings, listen=False)
            self.store.save_sandbox(sb)
            return sb

    def _rebind(self, mappings: list[portmap.Mapping], listen: bool) -> list[socket.socket]:
        out = []
        for m in mappings:
            try:
                got = portmap.allocate([portmap.PortRequest(m.proto, m.container_port, m.host_ip, m.host_port,
                                                            m.host_port)], listen=listen)
                m.sock = got[0].sock
                if m.sock is not None:
                    out.append(m.sock)
            except errdefs.EngineError as e:
                log.warning("re-binding %s:%d/%s: %s", m.host_ip, m.host_port, m.proto, e)
        return out

    def _rebind_and_proxy(self, sb: Sandbox, mappings: list[portmap.Mapping]) -> None:
        self._rebind(mappings, listen=True)
        bound = [m for m in mappings if m.sock is not None]
        if bound:
            self._start_proxy(sb, bound)

    def gc(self, running: set[str]) -> None:
        """After restore: drop sandboxes of containers that no longer run,
        endpoints without a sandbox, and namespace files nobody owns."""
        with self.lock:
            for cid in list(self._sandboxes):
                if cid not in running:
                    self._delete_sandbox(cid)
            owned = {(nid, eid) for sb in self._sandboxes.values() for nid, eid in sb.endpoints}
            for n in self._networks.values():
                stale = [eid for eid in n.endpoints if (n.id, eid) not in owned]
                for eid in stale:
                    ep = n.endpoints.pop(eid)
                    for s in n.subnets:
                        if s.allocated.get(ep.ip) == eid:
                            s.release(ep.ip)
                    if ep.host_ifname and _link_exists(ep.host_ifname):
                        with Netlink() as host:
                            host.delete(ep.host_ifname)
                if stale:
                    self.store.save_network(n)
            keys = {sb.key for sb in self._sandboxes.values()}
            try:
                names = os.listdir(self.netns_dir)
            except FileNotFoundError:
                names = []
            for name in names:
                path = os.path.join(self.netns_dir, name)
                if path not in keys:
                    netns.remove(path)
            self._rebuild_dns()

    # -- firewall and names --------------------------------------------------------------
    def _sync_firewall(self) -> None:
        if self.firewall is None:
            return
        bridges = [BridgeRules(n.device, tuple(s.subnet for s in n.subnets), n.internal, n.icc, n.masquerade)
                   for n in self._networks.values() if n.driver == "bridge" and n.device]
        ports = [PortRule(m["proto"], m["host_ip"], int(m["host_port"]), m["container_ip"],
                          int(m["container_port"]), m["bridge"])
                 for sb in self._sandboxes.values() for m in sb.ports]
        self.firewall.sync(bridges, ports)

    def _rebuild_dns(self) -> None:
        names: dict[str, dict[str, list[str]]] = {}
        reverse: dict[str, dict[str, str]] = {}
        for n in self._networks.values():
            if not n.user_defined:
                continue
            table: dict[str, list[str]] = {}
            rev: dict[str, str] = {}
            for ep in n.endpoints.values():
                for name in ep.dns_names:
                    for key in (name.lower(), f"{name.lower()}.{n.name.lower()}"):
                        table.setdefault(key, []).append(ep.ip)
                rev[ep.ip] = f"{ep.name}.{n.name}"
            names[n.id] = table
            reverse[n.id] = rev
        nets = {cid: tuple(nid for nid, _ in sb.endpoints) for cid, sb in self._sandboxes.items()}
        external = {cid: any(not self._networks[nid].internal for nid in ids if nid in self._networks)
                    for cid, ids in nets.items()}
        self._dns = _DNSView(names, reverse, nets, external)

    def lookup(self, cid: str, name: str) -> list[str] | None:
        view = self._dns  # one consistent snapshot, without the lock (called on the event loop)
        for nid in view.nets.get(cid, ()):
            found = view.names.get(nid, {}).get(name)
            if found:
                return list(found)
        return None

    def reverse_lookup(self, cid: str, ip: str) -> str | None:
        view = self._dns
        for nid in view.nets.get(cid, ()):
            found = view.reverse.get(nid, {}).get(ip)
            if found:
                return found
        return None

    def may_forward(self, cid: str) -> bool:
        return self._dns.external.get(cid, False)


def _link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
