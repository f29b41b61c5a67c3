"""The daemon's configuration, from dockerd-compatible flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class DaemonConfig:
    data_root: str = "/var/lib/dockyard"
    exec_root: str = "/run/dockyard"
    hosts: list[str] = field(default_factory=list)
    pidfile: str = ""
    debug: bool = False
    log_level: str = "info"
    cgroup_parent: str = "/dockyard"
    runtime: str = ""  # path to the OCI runtime binary; default: dockyard-runtime
    shim: str = ""
    init_path: str = ""  # --init-path: the init binary for --init (default: dockyard-init beside us)
    bridge: str = ""  # --bridge: name of the default bridge device
    bip: str = ""
    default_address_pools: list[str] = field(default_factory=list)
    iptables: bool = True
    ip_forward: bool = True
    userland_proxy: bool = True
    dns: list[str] = field(default_factory=list)  # --dns: default servers for containers
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str = ""
    tlscert: str = ""
    tlskey: str = ""
    live_restore: bool = True
    insecure_registries: list[str] = field(default_factory=list)

    @property
    def default_host(self) -> str:
        return "unix://" + os.path.join(self.exec_root, "dockyard.sock")

    def listen_hosts(self) -> list[str]:
        return self.hosts or [self.default_host]
