"""The records the network controller keeps, persisted as JSON: one file per
network (its endpoints and address allocations included) and one per
sandbox (a container's namespace, its endpoints, published ports, proxy)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..fsutil import atomic_write_json, read_json
from .ipam import Subnet

PREDEFINED = ("bridge", "host", "none")

# docker's option names
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPT_HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
OPT_DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_PARENT = "parent"
OPT_MACVLAN_MODE = "macvlan_mode"


def _bool_opt(v: Any, default: bool) -> bool:
    if v is None or v == "":
        return default
    return str(v).lower() in ("1", "true", "yes", "on")


@dataclass
class Endpoint:
    id: str
    network_id: str
    container_id: str
    name: str  # the container's name, without the slash
    ifname: str = ""  # inside the container: eth0, eth1, ...
    host_ifname: str = ""  # host end of the veth (bridge driver)
    ip: str = ""
    prefixlen: int = 0
    gateway: str = ""
    mac: str = ""
    aliases: list[str] = field(default_factory=list)
    dns_names: list[str] = field(default_factory=list)
    static_ip: str = ""

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Endpoint":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Network:
    id: str
    name: str
    driver: str  # bridge, macvlan, host, null
    created: str
    scope: str = "local"
    internal: bool = False
    attachable: bool = False
    ingress: bool = False
    enable_ipv6: bool = False
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ipam_driver: str = "default"
    ipam_options: dict[str, str] = field(default_factory=dict)
    subnets: list[Subnet] = field(default_factory=list)
    device: str = ""  # the bridge, or the macvlan parent
    owns_device: bool = False  # we created the bridge (and delete it)
    default_bridge: bool = False
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED

    @property
    def user_defined(self) -> bool:
        """Gets the embedded DNS, aliases and static addresses (docker's IsUserDefined)."""
        return not self.predefined

    @property
    def icc(self) -> bool:
        return _bool_opt(self.options.get(OPT_ICC), True)

    @property
    def masquerade(self) -> bool:
        return _bool_opt(self.options.get(OPT_MASQUERADE), True)

    @property
    def mtu(self) -> int:
        try:
            return int(self.options.get(OPT_MTU) or 0)
        except ValueError:
            return 0

    @property
    def host_binding_ip(self) -> str:
        return self.options.get(OPT_HOST_BINDING, "")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["subnets"] = [s.to_json() for s in self.subnets]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Network":
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["subnets"] = [Subnet.from_json(s) for s in d.get("subnets") or []]
        d["endpoints"] = {k: Endpoint.from_json(v) for k, v in (d.get("endpoints") or {}).items()}
        return cls(**d)


@dataclass
class Sandbox:
    container_id: str
    key: str  # the namespace file
    endpoints: list[list[str]] = field(default_factory=list)  # [network ID, endpoint ID], in attach order
    ports: list[dict[str, Any]] = field(default_factory=list)  # portmap.Mapping.to_json()
    port_network: str = ""  # the network the ports are published on
    proxy_pid: int = 0
    proxy_start: str = ""  # /proc/<pid>/stat start time, against PID reuse
    gateway_network: str = ""
    dns_servers: list[str] = field(default_factory=list)  # the container's --dns

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Sandbox":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class Store:
    """<data-root>/network/{networks,sandboxes}/<id>.json, written atomically."""

    def __init__(self, root: str) -> None:
        self.networks_dir = os.path.join(root, "networks")
        self.sandboxes_dir = os.path.join(root, "sandboxes")
        for d in (self.networks_dir, self.sandboxes_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)

    def _load(self, directory: str) -> list[dict[str, Any]]:
        out = []
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                out.append(read_json(os.path.join(directory, name)))
            except (OSError, ValueError):
                continue
        return out

    def load_networks(self) -> list[Network]:
        return [Network.from_json(d) for d in self._load(self.networks_dir)]

    def load_sandboxes(self) -> list[Sandbox]:
        return [Sandbox.from_json(d) for d in self._load(self.sandboxes_dir)]

    def save_network(self, n: Network) -> None:
        atomic_write_json(os.path.join(self.networks_dir, f"{n.id}.json"), n.to_json(), mode=0o600)

    def delete_network(self, nid: str) -> None:
        try:
            os.unlink(os.path.join(self.networks_dir, f"{nid}.json"))
        except FileNotFoundError:
            pass

    def save_sandbox(self, sb: Sandbox) -> None:
        atomic_write_json(os.path.join(self.sandboxes_dir, f"{sb.container_id}.json"), asdict(sb), mode=0o600)

    def delete_sandbox(self, cid: str) -> None:
        try:
            os.unlink(os.path.join(self.sandboxes_dir, f"{cid}.json"))
        except FileNotFoundError:
            pass
