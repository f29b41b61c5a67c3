"""network create, ls, inspect, rm, connect, disconnect, prune."""

from __future__ import annotations

import sys

from ... import errdefs
from ..errors import CLIError
from ..format import INSPECT_FORMAT_HELP, LIST_FORMAT_HELP, Context, write_list
from .common import Parser, client, confirm, daemon_call, daemon_error, parse_filters, parse_key_values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class NetworkContext(Context):
    template_type = "*network.networkContext"
    FIELDS = ("CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels", "Name", "Scope")
    METHODS = ("Label",)
    HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
               "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "Label": "LABEL",
               "CreatedAt": "CREATED AT"}

    def __init__(self, n: dict[str, Any], trunc: bool) -> None:
        self.n = n
        self.trunc = trunc

    @property
    def ID(self) -> str:  # noqa: N802 - docker's template names
        i = self.n.get("Id", "")
        return i[:12] if self.trunc else i

    Name = property(lambda self: self.n.get("Name", ""))  # noqa: N815
    Driver = property(lambda self: self.n.get("Driver", ""))  # noqa: N815
    Scope = property(lambda self: self.n.get("Scope", ""))  # noqa: N815
    IPv6 = property(lambda self: str(bool(self.n.get("EnableIPv6"))).lower())  # noqa: N815
    IPv4 = property(lambda self: str(self.n.get("EnableIPv4", True) is not False).lower())  # noqa: N815
    Internal = property(lambda self: str(bool(self.n.get("Internal"))).lower())  # noqa: N815
    CreatedAt = property(lambda self: self.n.get("Created", ""))  # noqa: N815

    @property
    def Labels(self) -> str:  # noqa: N802
        labels = self.n.get("Labels") or {}
        return ",".join(f"{k}={labels[k]}" for k in sorted(labels))

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.n.get("Labels") or {}).get(name, "")


def ipam_config(subnets: list[str], ranges: list[str], gateways: list[str], aux: list[str]) -> list[dict[str, Any]]:
    """docker's consolidateIpam: each range, gateway and auxiliary address goes
    to the subnet that contains it."""
    import ipaddress
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise CLIError("every ip-range or gateway must have a corresponding subnet", 1)
    configs: list[dict[str, Any]] = []
    nets = []
    for s in subnets:
        try:
            net = ipaddress.ip_network(s, strict=False)
        except ValueError as e:
            raise CLIError(f"invalid subnet {s}: {e}", 1) from None
        for other in nets:
            if net.version == other.version and net.overlaps(other):
                raise CLIError("multiple overlapping subnet configuration is not supported", 1)
        nets.append(net)
        configs.append({"Subnet": s})

    def owner(addr: str, kind: str) -> dict[str, Any]:
        try:
            if kind == "range":
                target = ipaddress.ip_network(addr, strict=False)
                match = [c for c, n in zip(configs, nets) if n.version == target.version and target.subnet_of(n)]
            else:
                ip = ipaddress.ip_address(addr)
                match = [c for c, n in zip(configs, nets) if ip in n]
        except ValueError as e:
            raise CLIError(f"invalid {kind} {addr}: {e}", 1) from None
        if not match:
            raise CLIError(f"no matching subnet for {kind} {addr}", 1)
        return match[0]

    for r in ranges:
        c = owner(r, "range")
        if "IPRange" in c:
            raise CLIError(f"cannot configure multiple ranges ({r}, {c['IPRange']}) on the same subnet ({c['Subnet']})", 1)
        c["IPRange"] = r
    for g in gateways:
        c = owner(g, "gateway")
        if "Gateway" in c:
            raise CLIError(f"cannot configure multiple gateways ({g}, {c['Gateway']}) for the same subnet "
                           f"({c['Subnet']})", 1)
        c["Gateway"] = g
    for entry in aux:
        k, eq, v = entry.partition("=")
        if not eq:
            raise CLIError(f"invalid aux-address {entry}: expected name=ip", 1)
        owner(v, "aux-address").setdefault("AuxiliaryAddresses", {})[k] = v
    return configs


def cmd_create(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard network create", usage="dockyard network create [OPTIONS] NETWORK")
    a_ = p.add_argument
    a_("--attachable", action="store_true", help="Enable manual container attachment")
    a_("--aux-address", action="append", default=[], kind="map",
       help="Auxiliary IPv4 or IPv6 addresses used by Network driver")
    a_("--config-from", default="", help="The network from which to copy the configuration")
    a_("--config-only", action="store_true", help="Create a configuration only network")
    a_("-d", "--driver", default="bridge", help="Driver to manage the Network")
    a_("--gateway", action="append", default=[], kind="strings", help="IPv4 or IPv6 Gateway for the master subnet")
    a_("--ingress", action="store_true", help="Create swarm routing-mesh network")
    a_("--internal", action="store_true", help="Restrict external access to the network")
    a_("--ip-range", action="append", default=[], kind="strings", help="Allocate container ip from a sub-range")
    a_("--ipam-driver", default="default", help="IP Address Management Driver")
    a_("--ipam-opt", action="append", default=[], kind="map", help="Set IPAM driver specific options")
    a_("--ipv4", action="store_true", default=True, help="Enable or disable IPv4 address assignment")
    a_("--ipv6", action="store_true", help="Enable or disable IPv6 address assignment")
    a_("--label", action="append", default=[], help="Set metadata on a network")
    a_("-o", "--opt", action="append", default=[], kind="map", help="Set driver specific options")
    a_("--scope", default="", help="Control the network's scope")
    a_("--subnet", action="append", default=[], kind="strings",
       help="Subnet in CIDR format that represents a network segment")
    a_("name", metavar="NETWORK")
    a = p.parse_args(argv)
    split = lambda vals: [x for v in vals for x in v.split(",") if x]  # noqa: E731 - pflag "strings" take a,b
    body: dict[str, Any] = {
        "Name": a.name, "Driver": a.driver, "Scope": a.scope, "Internal": a.internal, "Attachable": a.attachable,
        "Ingress": a.ingress, "ConfigOnly": a.config_only, "EnableIPv6": a.ipv6,
        "IPAM": {"Driver": a.ipam_driver, "Config": ipam_config(split(a.subnet), split(a.ip_range),
                                                                 split(a.gateway), a.aux_address),
                 "Options": parse_key_values(a.ipam_opt)},
        "Options": parse_key_values(a.opt), "Labels": parse_key_values(a.label),
    }
    if not a.ipv4:
        body["EnableIPv4"] = False
    if a.config_from:
        body["ConfigFrom"] = {"Network": a.config_from}
    res = daemon_call(client(gopts).network_create, body)
    if res.get("Warning"):
        sys.stderr.write(f"WARNING: {res['Warning']}\n")
    sys.stdout.write(res.get("Id", "") + "\n")
    return 0


def cmd_ls(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard network ls", usage="dockyard network ls [OPTIONS]")
    p.add_argument("-f", "--filter", action="append", default=[], kind="filter",
                   help='Provide filter values (e.g. "driver=bridge")')
    p.add_argument("--format", default="", help=LIST_FORMAT_HELP)
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    a = p.parse_args(argv)
    fmt = "{{.ID}}" if a.quiet else a.format
    if not fmt:
        from ..config import load
        fmt = load(gopts).get("networksFormat", "")
    nets = sorted(daemon_call(client(gopts).network_list, parse_filters(a.filter)), key=lambda n: n.get("Name", ""))
    write_list(fmt, [NetworkContext(n, not a.no_trunc) for n in nets],
               "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", headers=NetworkContext.HEADERS)
    return 0


def cmd_inspect(argv: list[str], gopts: dict) -> int:
    from .inspect import finish, inspect_all
    p = Parser(prog="dockyard network inspect", usage="dockyard network inspect [OPTIONS] NETWORK [NETWORK...]")
    p.add_argument("-f", "--format", default="", help=INSPECT_FORMAT_HELP)
    p.add_argument("-v", "--verbose", action="store_true", help="Verbose output for diagnostics")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    a = p.parse_args(argv)
    api = client(gopts)
    objects, errors = inspect_all(a.names, ("network",), {"network": lambda n: api.network_inspect(n, a.verbose)},
                                  lambda n: f"Error response from daemon: network {n} not found")
    return finish(objects, errors, a.format)


def cmd_rm(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard network rm", usage="dockyard network rm NETWORK [NETWORK...]")
    p.add_argument("-f", "--force", action="store_true", help="Do not error if the network does not exist")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    a = p.parse_args(argv)
    api = client(gopts)
    errors = []
    for n in a.names:
        try:
            api.network_remove(n)
        except errdefs.NotFound as e:
            if not a.force:
                errors.append(daemon_error(e).args[0])
            continue
        except errdefs.EngineError as e:
            errors.append(daemon_error(e).args[0])
            continue
        sys.stdout.write(n + "\n")
    if errors:
        raise CLIError("\n".join(errors), 1)
    return 0


def cmd_connect(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard network connect", usage="dockyard network connect [OPTIONS] NETWORK CONTAINER")
    p.add_argument("--alias", action="append", default=[], kind="strings",
                   help="Add network-scoped alias for the container")
    p.add_argument("--driver-opt", action="append", default=[], kind="strings", help="driver options for the network")
    p.add_argument("--gw-priority", type=int, default=0,
                   help="Highest gw-priority provides the default gateway. Accepts positive and negative values.")
    p.add_argument("--ip", default="", help='IPv4 address (e.g., "172.30.100.104")')
    p.add_argument("--ip6", default="", help='IPv6 address (e.g., "2001:db8::33")')
    p.add_argument("--link", action="append", default=[], help="Add link to another container")
    p.add_argument("--link-local-ip", action="append", default=[], kind="strings",
                   help="Add a link-local address for the container")
    p.add_argument("network")
    p.add_argument("container")
    a = p.parse_args(argv)
    ep: dict[str, Any] = {}
    if a.ip or a.ip6 or a.link_local_ip:
        ep["IPAMConfig"] = {"IPv4Address": a.ip, "IPv6Address": a.ip6, "LinkLocalIPs": a.link_local_ip or None}
    if a.alias:
        ep["Aliases"] = [x for v in a.alias for x in v.split(",")]
    if a.link:
        ep["Links"] = a.link
    if a.driver_opt:
        ep["DriverOpts"] = parse_key_values([x for v in a.driver_opt for x in v.split(",")])
    if a.gw_priority:
        ep["GwPriority"] = a.gw_priority
    daemon_call(client(gopts).network_connect, a.network, a.container, ep)
    return 0


def cmd_disconnect(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard network disconnect", usage="dockyard network disconnect [OPTIONS] NETWORK CONTAINER")
    p.add_argument("-f", "--force", action="store_true", help="Force the container to disconnect from a network")
    p.add_argument("network")
    p.add_argument("container")
    a = p.parse_args(argv)
    daemon_call(client(gopts).network_disconnect, a.network, a.container, a.force)
    return 0


def cmd_prune(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard network prune", usage="dockyard network prune [OPTIONS]")
    p.add_argument("--filter", action="append", default=[], kind="filter",
                   help='Provide filter values (e.g. "until=<timestamp>")')
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    a = p.parse_args(argv)
    if not confirm("WARNING! This will remove all custom networks not used by at least one container.", a.force):
        return 0
    res = daemon_call(client(gopts).network_prune, parse_filters(a.filter))
    deleted = res.get("NetworksDeleted") or []
    if deleted:
        sys.stdout.write("Deleted Networks:\n" + "".join(n + "\n" for n in deleted))
    return 0
