"""A container's /etc/hosts, /etc/resolv.conf and /etc/hostname, as docker
writes them (libnetwork's etchosts and resolvconf packages)."""

from __future__ import annotations

from dataclasses import dataclass, field

EMBEDDED_DNS = "127.0.0.11"
DEFAULT_DNS = ["8.8.8.8", "8.8.4.4"]  # docker's fallback when the host has only loopback servers

_HOSTS_HEADER = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::\tip6-localnet",
    "ff00::\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
]


@dataclass
class ResolvConf:
    nameservers: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


def parse_resolv_conf(text: str) -> ResolvConf:
    rc = ResolvConf()
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split(";", 1)[0].split()
        if not parts:
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            rc.nameservers.append(parts[1])
        elif parts[0] in ("search", "domain"):
            rc.search = parts[1:]
        elif parts[0] == "options":
            rc.options += parts[1:]
    return rc


def read_host_resolv_conf(path: str = "/etc/resolv.conf") -> ResolvConf:
    try:
        with open(path) as f:
            return parse_resolv_conf(f.read())
    except OSError:
        return ResolvConf()


def is_loopback(ns: str) -> bool:
    return ns.startswith("127.") or ns == "::1"


def split_extra_host(entry: str) -> tuple[str, str]:
    """--add-host name:ip (or name=ip); the IP may be IPv6, so split at the first separator."""
    for sep in ("=", ":"):
        if sep in entry:
            name, _, ip = entry.partition(sep)
            if name and ip:
                return name, ip.strip("[]")
    raise ValueError(f"invalid argument {entry!r} for --add-host: expected host:ip")


def hosts_file(hostname: str, domainname: str, addresses: list[str], extra_hosts: list[str],
               base: str | None = None) -> str:
    """``base``: the host's own hosts file (host network) instead of the defaults."""
    lines = base.rstrip("\n").splitlines() if base is not None else list(_HOSTS_HEADER)
    for entry in extra_hosts:
        name, ip = split_extra_host(entry)
        lines.append(f"{ip}\t{name}")
    names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    for ip in addresses:
        lines.append(f"{ip}\t{names}")
    return "\n".join(lines) + "\n"


def resolv_conf(host: ResolvConf, dns: list[str], search: list[str], options: list[str],
                embedded: bool, keep_loopback: bool = False) -> str:
    """With the embedded server (user-defined networks) the container asks
    127.0.0.11, which forwards to ``dns`` or the host's servers; otherwise
    it asks them directly, minus the host's loopback ones it cannot reach
    (unless it shares the host's namespace: ``keep_loopback``)."""
    search = search or host.search
    options = options or host.options
    if embedded:
        servers = [EMBEDDED_DNS]
        if not any(o.startswith("ndots:") for o in options):
            options = options + ["ndots:0"]
    else:
        servers = dns or [ns for ns in host.nameservers if keep_loopback or not is_loopback(ns)] or list(DEFAULT_DNS)
    lines = [f"nameserver {ns}" for ns in servers]
    if search and search != ["."]:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def external_servers(host: ResolvConf, dns: list[str]) -> list[str]:
    """Where the embedded server forwards: the container's --dns, else the
    host's servers (loopback ones too: the daemon runs in the host's namespace)."""
    return list(dns) if dns else list(host.nameservers) or list(DEFAULT_DNS)
