"""Names of everything a daemon instance creates in the host's shared kernel
state (links, iptables chains), derived from its data root so that two
daemons (or dockyardd and docker) on one host never touch each other's.

* instance id: 8 hex digits of sha256(realpath(data root)).
* links: ``dy<5 hex of the instance><kind><7 hex>``, 15 characters at most
  (IFNAMSIZ - 1): ``b`` bridge of a user-defined network, ``v`` host end of a
  veth.
* iptables chains: ``DY-<instance>-<role>`` (FWD, ISO1, ISO2, PUB in filter;
  NAT, POST in nat). Docker's DOCKER* chains and docker0 are never touched.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass

DEFAULT_DATA_ROOT = "/var/lib/dockyard"
DEFAULT_BRIDGE = "dockyard0"


def instance_id(data_root: str) -> str:
    return hashlib.sha256(os.path.realpath(data_root).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Names:
    instance: str

    @classmethod
    def for_data_root(cls, data_root: str) -> "Names":
        return cls(instance_id(data_root))

    @property
    def link_prefix(self) -> str:
        return "dy" + self.instance[:5]

    def bridge(self, network_id: str) -> str:
        return f"{self.link_prefix}b{network_id[:7]}"

    def veth(self) -> str:
        return f"{self.link_prefix}v{secrets.token_hex(4)[:7]}"

    def default_bridge(self, data_root: str) -> str:
        """docker0's counterpart: dockyard0 for the default data root, else per instance."""
        if os.path.realpath(data_root) == DEFAULT_DATA_ROOT:
            return DEFAULT_BRIDGE
        return f"{self.link_prefix}b0"

    def chain(self, role: str) -> str:
        return f"DY-{self.instance}-{role}"

    @property
    def chain_prefix(self) -> str:
        return f"DY-{self.instance}-"
