"""Networks for the Engine API and for containers: the /networks routes'
operations, and the hooks the container service calls around a container's
life (moby's daemon/network.go and container_operations.go).

Hooks, in order:
  settings_for_create  at create: NetworkMode and EndpointsConfig checked,
                       NetworkSettings.Networks filled with configuration
  setup                at start, before the task: sandbox (namespace,
                       endpoints, ports, DNS server)
  container_files      /etc/hostname, /etc/hosts, /etc/resolv.conf mounts
  apply_spec           the OCI spec joins the sandbox (or the host's, or
                       another container's namespace)
  teardown             at exit (and on a failed start, and at removal)
  restore / restored   after a daemon restart
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from .. import errdefs
from ..fsutil import atomic_write
from ..network import hostfiles
from . import netviews
from .filters import labels_match

if TYPE_CHECKING:
    from ..network.controller import Controller
    from .container import Container
    from .daemon import Daemon

log = logging.getLogger("dockyard.daemon.networks")

NETWORK_FILTERS = {"dangling", "driver", "id", "label", "name", "scope", "type"}


def network_mode(c: "Container") -> str:
    mode = c.host_config.get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


def _container_mode_ref(mode: str) -> str:
    return mode.split(":", 1)[1] if mode.startswith("container:") else ""


class NetworkService:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon
        self.ctrl: "Controller | None" = None
        self._dns: dict[str, Any] = {}  # container ID -> dns.Server
        self._plans: dict[str, tuple[str, str]] = {}  # container ID -> (kind, namespace path)
        self._lock = asyncio.Lock()

    # -- startup ---------------------------------------------------------------------------
    def _build_controller(self) -> "Controller":
        from ..core.tasks import sibling_binary
        from ..network import ipam
        from ..network.controller import Config, Controller
        from ..network.naming import Names
        from .timeutil import now_rfc3339
        cfg = self.d.config
        names = Names.for_data_root(cfg.data_root)
        pools = tuple(ipam.parse_pool(p) for p in cfg.default_address_pools) or ipam.DEFAULT_POOLS
        if cfg.bip:
            import ipaddress
            try:
                ipaddress.IPv4Interface(cfg.bip)
            except ValueError:
                raise errdefs.InvalidArgument(f"invalid --bip {cfg.bip!r}") from None
        return Controller(Config(
            data_dir=os.path.join(cfg.data_root, "network"), exec_dir=cfg.exec_root, names=names,
            default_bridge=cfg.bridge or names.default_bridge(cfg.data_root), bip=cfg.bip, pools=pools,
            iptables=cfg.iptables, ip_forward=cfg.ip_forward, userland_proxy=cfg.userland_proxy,
            proxy_binary=sibling_binary("dockyard-proxy"), now=now_rfc3339))

    async def start(self) -> None:
        self.ctrl = self._build_controller()
        await asyncio.to_thread(self.ctrl.start)

    async def restored(self) -> None:
        """After the containers were restored: what no running container owns goes."""
        running = {c.id for c in self.d.containers_store.all() if c.is_running()}
        await asyncio.to_thread(self.c.gc, running)

    async def shutdown(self) -> None:
        for server in self._dns.values():
            server.close()
        self._dns.clear()
        if self.ctrl is not None:
            await asyncio.to_thread(self.ctrl.shutdown)

    @property
    def c(self) -> "Controller":
        if self.ctrl is None:
            raise errdefs.Unavailable("networking is not initialised")
        return self.ctrl

    # -- /networks -------------------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("invalid network config")
        name = body.get("Name") or ""
        if not name:
            raise errdefs.InvalidArgument("network name is required") if "Name" in body else \
                errdefs.InvalidArgument("invalid network config: Name is required")
        if body.get("ConfigOnly") or body.get("ConfigFrom"):
            raise errdefs.NotImplementedKind("config-only networks are not supported")
        if (body.get("Scope") or "local") != "local":
            raise errdefs.PermissionDenied(f"{body['Scope']} scoped networks need swarm mode, which is not supported")
        ipam_body = body.get("IPAM") or {}
        async with self._lock:
            n = await asyncio.to_thread(
                self.c.create_network, name, body.get("Driver") or "bridge", ipam_body.get("Config") or [],
                bool(body.get("Internal")), bool(body.get("Attachable")), bool(body.get("Ingress")),
                body.get("Options") or {}, body.get("Labels") or {}, bool(body.get("EnableIPv6")),
                ipam_body.get("Driver") or "", ipam_body.get("Options") or {})
        self.d.events.publish("network", "create", n.id, {"name": n.name, "type": n.driver})
        return {"Id": n.id, "Warning": ""}

    def inspect(self, ref: str, scope: str = "") -> dict[str, Any]:
        n = self.c.find(ref)
        if scope and scope != n.scope:
            raise errdefs.NotFound(f"network {ref} not found")
        return netviews.network_view(n)

    def list(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        for key in filters:
            if key not in NETWORK_FILTERS:
                raise errdefs.InvalidArgument(f"invalid filter '{key}'")
        for t in filters.get("type", []):
            if t not in ("custom", "builtin"):
                raise errdefs.InvalidArgument(f"invalid filter: 'type'='{t}'")
        out = []
        for n in sorted(self.c.networks(), key=lambda n: n.created):
            if self._matches(n, filters):
                out.append(netviews.network_view(n, with_containers=False))
        return out

    def _matches(self, n: Any, f: dict[str, list[str]]) -> bool:
        if "driver" in f and n.driver not in f["driver"]:
            return False
        if "id" in f and not any(n.id.startswith(x) for x in f["id"]):
            return False
        if "name" in f and not any(x in n.name for x in f["name"]):
            return False
        if "scope" in f and n.scope not in f["scope"]:
            return False
        if "type" in f and ("builtin" if n.predefined else "custom") not in f["type"]:
            return False
        if "label" in f and not labels_match(n.labels, f["label"]):
            return False
        if "dangling" in f:
            want = f["dangling"][-1].lower() in ("1", "true")
            if want != (not n.endpoints and not n.predefined):
                return False
        return True

    async def remove(self, ref: str) -> None:
        async with self._lock:
            n = self.c.find(ref)
            await asyncio.to_thread(self.c.delete_network, n.id)
        self.d.events.publish("network", "destroy", n.id, {"name": n.name, "type": n.driver})

    async def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        from .timeutil import parse_rfc3339, parse_time_filter
        filters = filters or {}
        for key in filters:
            if key not in ("until", "label", "label!"):
                raise errdefs.InvalidArgument(f"invalid filter '{key}'")
        until = parse_time_filter(filters["until"][-1]) if filters.get("until") else None
        deleted = []
        async with self._lock:
            for n in list(self.c.networks()):
                if n.predefined or n.endpoints:
                    continue
                if until is not None and parse_rfc3339(n.created) >= until:
                    continue
                if "label" in filters and not labels_match(n.labels, filters["label"]):
                    continue
                if "label!" in filters and any(labels_match(n.labels, [w]) for w in filters["label!"]):
                    continue
                try:
                    await asyncio.to_thread(self.c.delete_network, n.id)
                except errdefs.EngineError:
                    continue
                deleted.append(n.name)
                self.d.events.publish("network", "destroy", n.id, {"name": n.name, "type": n.driver})
        return {"NetworksDeleted": deleted or None}  # docker's nil slice when none

    async def connect(self, ref: str, body: dict[str, Any]) -> None:
        body = body or {}
        n = self.c.find(ref)
        c = self.d.containers_store.get(str(body.get("Container") or ""))
        epcfg = body.get("EndpointConfig") or {}
        mode = network_mode(c)
        if n.driver in ("host", "null") or mode == "host" or mode.startswith("container:"):
            if mode == "host" or n.driver == "host":
                raise errdefs.InvalidArgument(
                    "container cannot be disconnected from host network or connected to host network")
            if mode.startswith("container:"):
                raise errdefs.InvalidArgument("container sharing network namespace with another container or "
                                              "host cannot be connected to any other network")
            raise errdefs.InvalidArgument("container cannot be connected to multiple networks with one of the "
                                          "networks in private (none) mode")
        if mode == "none":
            raise errdefs.InvalidArgument("container cannot be connected to multiple networks with one of the "
                                          "networks in private (none) mode")
        settings = self._endpoint_config(n, epcfg)
        nets = c.network_settings.setdefault("Networks", {})
        async with c.lock:
            if n.name in nets and (not c.is_running() or nets[n.name].get("EndpointID")):
                raise errdefs.PermissionDenied(f"endpoint with name {c.name.lstrip('/')} already exists "
                                               f"in network {n.name}")
            if c.is_running() and self.c.sandbox(c.id) is not None:
                att = self._attachment(c, n, settings)
                async with self._lock:
                    ep = await asyncio.to_thread(self.c.connect, c.id, att)
                nets[n.name] = netviews.with_endpoint(settings, ep, att.dns_names if n.user_defined else None)
                await self._ensure_dns(c)
                await asyncio.to_thread(self._rewrite_hosts, c)
            else:
                nets[n.name] = settings
            self.d.containers_store.save(c)
        self.d.events.publish("network", "connect", n.id, {"container": c.id, "name": n.name, "type": n.driver})

    async def disconnect(self, ref: str, body: dict[str, Any]) -> None:
        body = body or {}
        n = self.c.find(ref)
        c = self.d.containers_store.get(str(body.get("Container") or ""))
        if network_mode(c) == "host" or n.driver == "host":
            raise errdefs.InvalidArgument(
                "container cannot be disconnected from host network or connected to host network")
        nets = c.network_settings.setdefault("Networks", {})
        async with c.lock:
            name = next((k for k, v in nets.items() if k == n.name or v.get("NetworkID") == n.id), None)
            if name is None:
                raise errdefs.InvalidArgument(f"container {c.id} is not connected to network {n.name}")
            sb = self.c.sandbox(c.id)
            if c.is_running() and sb is not None and any(nid == n.id for nid, _ in sb.endpoints):
                async with self._lock:
                    await asyncio.to_thread(self.c.disconnect, c.id, n.id)
                if sb.port_network == "" and c.network_settings.get("Ports"):
                    c.network_settings["Ports"] = {}
                await self._ensure_dns(c)
            del nets[name]  # HostConfig.NetworkMode stays, as in docker: Networks is what a start joins
            if c.is_running():
                await asyncio.to_thread(self._rewrite_hosts, c)
            self._refresh_legacy_fields(c)
            self.d.containers_store.save(c)
        self.d.events.publish("network", "disconnect", n.id, {"container": c.id, "name": n.name, "type": n.driver})

    # -- container create ---------------------------------------------------------------------
    def _endpoint_config(self, n: Any, cfg: dict[str, Any]) -> dict[str, Any]:
        cfg = cfg or {}
        ipam_cfg = cfg.get("IPAMConfig") or {}
        static = str(ipam_cfg.get("IPv4Address") or "")
        aliases = [str(a) for a in (cfg.get("Aliases") or [])]
        if ipam_cfg.get("IPv6Address"):
            raise errdefs.InvalidArgument("invalid endpoint settings: IPv6 addresses are not supported")
        if static:
            from ..network.ipam import parse_address
            parse_address(static, "IPv4 address")
            if not n.user_defined:
                raise errdefs.InvalidArgument("invalid endpoint settings:\nuser specified IP address is supported "
                                              "on user defined networks only")
            if not any(s.user_subnet for s in n.subnets):
                raise errdefs.InvalidArgument("invalid endpoint settings:\nuser specified IP address is supported "
                                              "only when connecting to networks with user configured subnets")
        if aliases and not n.user_defined:
            raise errdefs.InvalidArgument("invalid endpoint settings:\nnetwork-scoped alias is supported only "
                                          "for containers in user defined networks")
        mac = str(cfg.get("MacAddress") or "")
        return netviews.endpoint_settings(n.id, aliases, {"IPv4Address": static} if static else None, mac,
                                          cfg.get("DriverOpts"))

    def _find_for_create(self, ref: str) -> Any:
        # 400, not 404: a 404 from create makes docker clients try to pull the image.
        try:
            return self.c.find(ref)
        except errdefs.NotFound as e:
            raise errdefs.InvalidArgument(e.message) from None

    def settings_for_create(self, config: dict[str, Any], host_config: dict[str, Any],
                            networking: dict[str, Any] | None) -> dict[str, Any]:
        """Check NetworkMode and NetworkingConfig; the Networks of the new container."""
        mode = host_config.get("NetworkMode") or "default"
        eps = dict((networking or {}).get("EndpointsConfig") or {})
        nets: dict[str, Any] = {}
        if mode.startswith("container:"):
            other = _container_mode_ref(mode)
            if not other:
                raise errdefs.InvalidArgument("invalid network mode: container: needs a container name or ID")
            try:
                self.d.containers_store.get(other)
            except errdefs.NotFound as e:  # 400, as _find_for_create: a 404 makes clients pull the image
                raise errdefs.InvalidArgument(e.message) from None
            for opt, what in (("Hostname", "hostname"),):
                if config.get(opt):
                    raise errdefs.InvalidArgument(f"conflicting options: {what} and the network mode")
            if host_config.get("Dns") or host_config.get("DnsSearch") or host_config.get("DnsOptions"):
                raise errdefs.InvalidArgument("conflicting options: dns and the network mode")
            if host_config.get("ExtraHosts"):
                raise errdefs.InvalidArgument("conflicting options: custom host-to-IP mapping and the network mode")
            if host_config.get("PortBindings") or host_config.get("PublishAllPorts"):
                raise errdefs.InvalidArgument("conflicting options: port publishing and the container type network mode")
            if eps:
                raise errdefs.InvalidArgument("container sharing network namespace with another container or host "
                                              "cannot be connected to any other network")
            return {"Networks": {}}
        if mode in ("default", "bridge") and self.d.config.bridge == "none":
            # dockerd --bridge=none: the default network is disabled, the container gets lo only.
            if eps:
                raise errdefs.InvalidArgument("the default bridge is disabled (--bridge=none)")
            return {"Networks": {}}
        primary = self._find_for_create("bridge" if mode == "default" else mode)
        if primary.driver == "host" and not config.get("Hostname"):
            config["Hostname"] = socket.gethostname()
        first = eps.pop(mode, None) or eps.pop(primary.name, None) or eps.pop(primary.id, None)
        nets[primary.name] = self._endpoint_config(primary, first or {})
        if primary.driver in ("host", "null"):
            if eps:
                raise errdefs.InvalidArgument(
                    f"container cannot be connected to multiple networks with one of the networks in "
                    f"{'host' if primary.driver == 'host' else 'private (none)'} mode")
            if primary.driver == "host" and (host_config.get("PortBindings") or host_config.get("PublishAllPorts")):
                log.info("published ports are discarded when using host network mode")
        for ref, cfg in eps.items():
            n = self._find_for_create(ref)
            if n.driver in ("host", "null"):
                raise errdefs.InvalidArgument(f"container cannot be connected to multiple networks with one of "
                                              f"the networks in {n.name} mode")
            nets[n.name] = self._endpoint_config(n, cfg or {})
        for entry in host_config.get("ExtraHosts") or []:
            try:
                hostfiles.split_extra_host(entry)
            except ValueError as e:
                raise errdefs.InvalidArgument(str(e)) from None
        from ..network import portmap
        portmap.requests_from(host_config.get("PortBindings"), config.get("ExposedPorts"),
                              bool(host_config.get("PublishAllPorts")))
        return {"Networks": nets}

    # -- container start / exit -------------------------------------------------------------------
    def _attachment(self, c: "Container", n: Any, settings: dict[str, Any]) -> Any:
        from ..network.controller import Attachment
        name = c.name.lstrip("/")
        aliases = list(settings.get("Aliases") or [])
        dns_names = [name] + aliases + [c.short_id] if n.user_defined else []
        hostname = c.config.get("Hostname") or ""
        if n.user_defined and hostname and hostname not in dns_names and hostname != c.short_id:
            dns_names.append(hostname)
        return Attachment(network_id=n.id, name=name, aliases=aliases, dns_names=dns_names,
                          static_ip=str((settings.get("IPAMConfig") or {}).get("IPv4Address") or ""),
                          mac=str(settings.get("MacAddress") or ""))

    async def setup(self, c: "Container") -> None:
        """Before the task is created: the container's sandbox, or the plan to share one."""
        mode = network_mode(c)
        if mode.startswith("container:"):
            other = self.d.containers_store.get(_container_mode_ref(mode))
            if not other.is_running():
                raise errdefs.Conflict(f"cannot join network namespace of a non running container: {other.id}")
            sb = self.c.sandbox(other.id)
            path = sb.key if sb is not None else f"/proc/{other.state.pid}/ns/net"
            self._plans[c.id] = ("join", path)
            c.network_settings["SandboxKey"] = ""
            return
        nets = c.network_settings.setdefault("Networks", {})
        resolved = []
        for name, settings in nets.items():
            try:
                n = self.c.find(settings.get("NetworkID") or name)
            except errdefs.NotFound:
                n = self.c.find(name)
            resolved.append((name, n, settings))
        if any(n.driver == "host" for _, n, _ in resolved):
            self._plans[c.id] = ("host", "")
            return
        if not resolved or all(n.driver == "null" for _, n, _ in resolved):
            self._plans[c.id] = ("none", "")
            return
        from ..network import portmap
        atts = [self._attachment(c, n, s) for _, n, s in resolved]
        reqs = portmap.requests_from(c.host_config.get("PortBindings"), c.config.get("ExposedPorts"),
                                     bool(c.host_config.get("PublishAllPorts")))
        async with self._lock:
            sb = await asyncio.to_thread(self.c.create_sandbox, c.id, atts, reqs, c.host_config.get("Dns") or [])
        try:
            self._plans[c.id] = ("join", sb.key)
            self._fill_settings(c, resolved, sb)
            await self._ensure_dns(c)
        except BaseException:
            await self.teardown(c)
            raise
        for n, _ in self.c.endpoints_of(c.id):
            self.d.events.publish("network", "connect", n.id, {"container": c.id, "name": n.name, "type": n.driver})

    def _fill_settings(self, c: "Container", resolved: list[tuple[str, Any, dict[str, Any]]], sb: Any) -> None:
        from ..network import portmap
        nets = c.network_settings.setdefault("Networks", {})
        eps = {n.id: ep for n, ep in self.c.endpoints_of(c.id)}
        for name, n, settings in resolved:
            ep = eps.get(n.id)
            if ep is not None:
                nets[name] = netviews.with_endpoint(settings, ep, ep.dns_names if n.user_defined else None)
        c.network_settings["SandboxID"] = _sandbox_id(c.id)
        c.network_settings["SandboxKey"] = sb.key
        c.network_settings["Ports"] = portmap.api_ports(self.c.mappings(c.id), c.config.get("ExposedPorts"))
        self._refresh_legacy_fields(c)

    def _refresh_legacy_fields(self, c: "Container") -> None:
        """The top-level IPAddress/Gateway/... are the default bridge's (deprecated, still shown)."""
        ns = c.network_settings
        b = (ns.get("Networks") or {}).get("bridge") or {}
        ns["Bridge"] = ""
        ns["EndpointID"] = b.get("EndpointID", "")
        ns["Gateway"] = b.get("Gateway", "")
        ns["IPAddress"] = b.get("IPAddress", "")
        ns["IPPrefixLen"] = b.get("IPPrefixLen", 0)
        ns["MacAddress"] = b.get("MacAddress", "") if b.get("EndpointID") else ""

    def apply_spec(self, c: "Container", spec: dict[str, Any]) -> None:
        kind, path = self._plans.get(c.id, ("none", ""))
        nss = spec.setdefault("linux", {}).setdefault("namespaces", [])
        if kind == "host":
            nss[:] = [ns for ns in nss if ns.get("type") != "network"]
            return
        if kind == "join":
            for ns in nss:
                if ns.get("type") == "network":
                    ns["path"] = path
                    return
            nss.append({"type": "network", "path": path})

    async def teardown(self, c: "Container") -> None:
        """The container stopped (or failed to start, or goes): release its sandbox."""
        self._plans.pop(c.id, None)
        server = self._dns.pop(c.id, None)
        if server is not None:
            server.close()
        if self.ctrl is not None and self.ctrl.sandbox(c.id) is not None:
            left = self.ctrl.endpoints_of(c.id)
            async with self._lock:
                await asyncio.to_thread(self.ctrl.delete_sandbox, c.id)
            for n, _ in left:
                self.d.events.publish("network", "disconnect", n.id,
                                      {"container": c.id, "name": n.name, "type": n.driver})
        nets = c.network_settings.get("Networks") or {}
        for name in list(nets):
            nets[name] = netviews.without_endpoint(nets[name])
        for k, v in (("SandboxID", ""), ("SandboxKey", ""), ("Ports", {})):
            c.network_settings[k] = v
        self._refresh_legacy_fields(c)

    async def restore(self, c: "Container") -> None:
        """A container still running after a daemon restart."""
        mode = network_mode(c)
        if mode.startswith("container:"):
            return
        sb = await asyncio.to_thread(self.c.restore_sandbox, c.id, c.state.pid)
        if sb is not None:
            self._plans[c.id] = ("join", sb.key)
            try:
                await self._ensure_dns(c)
            except OSError as e:
                log.warning("container %s: embedded DNS: %s", c.short_id, e)

    async def _ensure_dns(self, c: "Container") -> None:
        """The embedded DNS server runs while the container is on a user-defined network."""
        from ..network import dns, netns
        wanted = any(n.user_defined for n, _ in self.c.endpoints_of(c.id))
        server = self._dns.get(c.id)
        if not wanted:
            if server is not None:
                self._dns.pop(c.id).close()
            return
        if server is not None:
            return
        sb = self.c.sandbox(c.id)
        if sb is None:
            return
        udp, tcp = await asyncio.to_thread(netns.run_in, sb.key, lambda: dns.listen_sockets(socket.socket))
        cid = c.id
        ctrl = self.c
        upstreams = hostfiles.external_servers(hostfiles.read_host_resolv_conf(),
                                               list(c.host_config.get("Dns") or []) or list(self.d.config.dns))
        resolver = dns.Resolver(lambda name: ctrl.lookup(cid, name), lambda ip: ctrl.reverse_lookup(cid, ip),
                                lambda: upstreams, lambda: ctrl.may_forward(cid))
        server = dns.Server(resolver)
        await server.start(udp, tcp)
        self._dns[c.id] = server

    # -- build steps ----------------------------------------------------------------------------
    def build_sandbox(self, run_id: str) -> str:
        """A namespace on the default bridge for a RUN step (docker builds get
        the default network): returns its path for the spec's network
        namespace. Thread-safe and blocking (the builder calls it from its
        spec thread); release it with ``release_build_sandbox``."""
        from ..network.controller import Attachment
        bridge = next((n for n in self.c.networks() if n.default_bridge), None)
        if bridge is None:
            raise errdefs.InvalidArgument("the default bridge is disabled (--bridge=none)")
        return self.c.create_sandbox(run_id, [Attachment(bridge.id, run_id[:12])], []).key

    def release_build_sandbox(self, run_id: str) -> None:
        if self.ctrl is not None:
            self.ctrl.delete_sandbox(run_id)

    # -- /etc files -----------------------------------------------------------------------------
    def container_files(self, c: "Container") -> list[dict[str, Any]]:
        """hostname, hosts and resolv.conf of the container, bind-mounted."""
        mode = network_mode(c)
        opts = ["rbind", "rprivate"]
        if mode.startswith("container:"):
            other = self.d.containers_store.get(_container_mode_ref(mode))
            src = self.d.containers_store.dir(other.id)
        else:
            src = self.d.containers_store.dir(c.id)
            for name, data in self._files(c).items():
                atomic_write(os.path.join(src, name), data.encode(), durable=False)
        return [{"destination": f"/etc/{n}", "type": "bind", "source": os.path.join(src, n), "options": opts}
                for n in ("resolv.conf", "hostname", "hosts")]

    def etc_files(self, c: "Container") -> dict[str, str]:
        """hostname, hosts and resolv.conf contents (builds write them where they want)."""
        return self._files(c)

    def _files(self, c: "Container") -> dict[str, str]:
        hc = c.host_config
        mode = network_mode(c)
        hostname = c.config.get("Hostname") or c.short_id
        host_mode = self._plans.get(c.id, ("", ""))[0] == "host" or mode == "host"
        eps = self.c.endpoints_of(c.id) if self.ctrl is not None else []
        extra = [self._host_gateway(e) for e in (hc.get("ExtraHosts") or [])]
        base = None
        if host_mode:
            try:
                with open("/etc/hosts") as f:
                    base = f.read()
            except OSError:
                base = None
        hosts = hostfiles.hosts_file(hostname, c.config.get("Domainname") or "", [ep.ip for _, ep in eps][:1],
                                     extra, base=base)
        embedded = any(n.user_defined for n, _ in eps)
        dns = list(hc.get("Dns") or []) or list(self.d.config.dns)
        resolv = hostfiles.resolv_conf(hostfiles.read_host_resolv_conf(), dns,
                                       list(hc.get("DnsSearch") or []) or list(self.d.config.dns_search),
                                       list(hc.get("DnsOptions") or []) or list(self.d.config.dns_options),
                                       embedded=embedded, keep_loopback=host_mode)
        return {"hostname": hostname + "\n", "hosts": hosts, "resolv.conf": resolv}

    def _host_gateway(self, entry: str) -> str:
        name, ip = hostfiles.split_extra_host(entry)
        if ip == "host-gateway" and self.ctrl is not None:
            bridge = next((n for n in self.ctrl.networks() if n.default_bridge), None)
            if bridge is not None and bridge.subnets:
                return f"{name}:{bridge.subnets[0].gateway}"
        return entry

    def _rewrite_hosts(self, c: "Container") -> None:
        """A live change: rewrite in place, the container sees the file through a bind mount."""
        if network_mode(c).startswith("container:"):
            return
        data = self._files(c)
        cdir = self.d.containers_store.dir(c.id)
        for name in ("hosts", "resolv.conf"):
            try:
                with open(os.path.join(cdir, name), "r+") as f:
                    f.truncate(0)
                    f.write(data[name])
            except FileNotFoundError:
                pass


def _sandbox_id(cid: str) -> str:
    import hashlib
    return hashlib.sha256(f"sandbox:{cid}".encode()).hexdigest()


