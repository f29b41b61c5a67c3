"""Networks and container network settings as the Engine API shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..network.model import Endpoint, Network


def endpoint_settings(network_id: str = "", aliases: list[str] | None = None,
                      ipam_config: dict[str, Any] | None = None, mac: str = "",
                      driver_opts: dict[str, str] | None = None) -> dict[str, Any]:
    """EndpointSettings of a container on a network, before it has an endpoint."""
    return {"IPAMConfig": ipam_config or None, "Links": None, "Aliases": list(aliases) if aliases else None,
            "MacAddress": mac, "DriverOpts": driver_opts or None, "NetworkID": network_id, "EndpointID": "",
            "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DNSNames": None}


def with_endpoint(settings: dict[str, Any], ep: "Endpoint", dns_names: list[str] | None) -> dict[str, Any]:
    out = dict(settings)
    out.update({"NetworkID": ep.network_id, "EndpointID": ep.id, "Gateway": ep.gateway, "IPAddress": ep.ip,
                "IPPrefixLen": ep.prefixlen, "MacAddress": ep.mac, "DNSNames": dns_names or None})
    return out


def without_endpoint(settings: dict[str, Any]) -> dict[str, Any]:
    """Back to configuration only; a MAC derived from the address goes too (a chosen one stays)."""
    from ..network.controller import mac_for
    out = dict(settings)
    ip = out.get("IPAddress") or ""
    if ip and out.get("MacAddress") == mac_for(ip):
        out["MacAddress"] = ""
    out.update({"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "DNSNames": None})
    return out


def ipam_config_view(n: "Network") -> list[dict[str, Any]]:
    out = []
    for s in n.subnets:
        cfg: dict[str, Any] = {"Subnet": s.subnet}
        if s.ip_range:
            cfg["IPRange"] = s.ip_range
        if s.gateway:
            cfg["Gateway"] = s.gateway
        if s.aux:
            cfg["AuxiliaryAddresses"] = dict(s.aux)
        out.append(cfg)
    return out


def network_view(n: "Network", with_containers: bool = True) -> dict[str, Any]:
    containers: dict[str, Any] = {}
    if with_containers:
        for ep in n.endpoints.values():
            containers[ep.container_id] = {"Name": ep.name, "EndpointID": ep.id, "MacAddress": ep.mac,
                                           "IPv4Address": f"{ep.ip}/{ep.prefixlen}", "IPv6Address": ""}
    return {
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": n.scope, "Driver": n.driver,
        "EnableIPv4": True, "EnableIPv6": n.enable_ipv6,
        "IPAM": {"Driver": n.ipam_driver or "default", "Options": dict(n.ipam_options) if n.ipam_options else None,
                 "Config": ipam_config_view(n)},
        "Internal": n.internal, "Attachable": n.attachable, "Ingress": n.ingress,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
        "Options": dict(n.options), "Labels": dict(n.labels),
    }


def port_summary(network_settings: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The Ports of GET /containers/json, from NetworkSettings.Ports."""
    out: list[dict[str, Any]] = []
    for key, binds in sorted(((network_settings or {}).get("Ports") or {}).items()):
        port_s, _, proto = key.partition("/")
        try:
            port = int(port_s)
        except ValueError:
            continue
        if not binds:
            out.append({"PrivatePort": port, "Type": proto or "tcp"})
            continue
        for b in binds:
            out.append({"IP": b.get("HostIp", ""), "PrivatePort": port,
                        "PublicPort": int(b.get("HostPort") or 0), "Type": proto or "tcp"})
    return out
