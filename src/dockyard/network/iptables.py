"""Packet filtering and NAT with iptables (nf_tables backend here).

The daemon's rules live in its own chains (naming.Names.chain) and are
*declarative*: ``Firewall.sync`` renders the whole content of those chains
from the current networks and port mappings and loads it in one
``iptables-restore --noflush`` transaction (declaring a chain there flushes
it). Built-in chains only get one jump each into ours. So a restarted daemon
converges with one call, and nothing else's rules are ever rewritten.

filter:  FORWARD -> FWD: ISO1 (isolation between bridges; internal networks
         closed both ways), established replies, PUB (published ports),
         outbound, inter-container (icc), and a final drop into the bridge.
nat:     PREROUTING/OUTPUT (to local addresses) -> NAT: DNAT of published
         ports; POSTROUTING -> POST: masquerade of each subnet's outbound
         traffic (and hairpin traffic when there is no userland proxy).
"""

from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import dataclass

from .naming import Names

log = logging.getLogger("dockyard.network")

IPTABLES = "iptables"
IPTABLES_RESTORE = "iptables-restore"


@dataclass(frozen=True)
class BridgeRules:
    bridge: str
    subnets: tuple[str, ...]
    internal: bool = False
    icc: bool = True
    masquerade: bool = True


@dataclass(frozen=True)
class PortRule:
    proto: str
    host_ip: str  # "" or 0.0.0.0: every local address
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


class FirewallError(RuntimeError):
    pass


def _any(ip: str) -> bool:
    return ip in ("", "0.0.0.0", "::")


def render(names: Names, bridges: list[BridgeRules], ports: list[PortRule], hairpin: bool,
           with_jumps: bool = False) -> str:
    fwd, iso1, iso2, pub = (names.chain(r) for r in ("FWD", "ISO1", "ISO2", "PUB"))
    nat, post = names.chain("NAT"), names.chain("POST")
    f = ["*filter"] + [f":{c} - [0:0]" for c in (fwd, iso1, iso2, pub)]
    f.append(f"-A {fwd} -j {iso1}")
    for b in bridges:
        br = b.bridge
        f.append(f"-A {fwd} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        f.append(f"-A {fwd} -o {br} -j {pub}")
        if not b.internal:
            f.append(f"-A {fwd} -i {br} ! -o {br} -j ACCEPT")
        f.append(f"-A {fwd} -i {br} -o {br} -j {'ACCEPT' if b.icc else 'DROP'}")
        f.append(f"-A {fwd} -o {br} -j DROP")
        if b.internal:
            f.append(f"-A {iso1} -i {br} ! -o {br} -j DROP")
            f.append(f"-A {iso1} ! -i {br} -o {br} -j DROP")
        else:
            f.append(f"-A {iso1} -i {br} ! -o {br} -j {iso2}")
        f.append(f"-A {iso2} -o {br} -j DROP")
    for p in ports:
        f.append(f"-A {pub} -d {p.container_ip}/32 ! -i {p.bridge} -o {p.bridge} -p {p.proto} "
                 f"-m {p.proto} --dport {p.container_port} -j ACCEPT")
    jump_lines = [(t, f"-I {c} 1 {' '.join(r)}") for t, c, r in jumps(names, hairpin)] if with_jumps else []
    f += [line for t, line in jump_lines if t == "filter"]
    f.append("COMMIT")
    n = ["*nat", f":{nat} - [0:0]", f":{post} - [0:0]"]
    if not hairpin:
        for b in bridges:
            n.append(f"-A {nat} -i {b.bridge} -j RETURN")
    for p in ports:
        dst = "" if _any(p.host_ip) else f"-d {p.host_ip}/32 "
        iif = "" if hairpin else f"! -i {p.bridge} "
        n.append(f"-A {nat} {dst}{iif}-p {p.proto} -m {p.proto} --dport {p.host_port} "
                 f"-j DNAT --to-destination {p.container_ip}:{p.container_port}")
    for b in bridges:
        if b.masquerade and not b.internal:
            for subnet in b.subnets:
                n.append(f"-A {post} -s {subnet} ! -o {b.bridge} -j MASQUERADE")
        if hairpin:
            n.append(f"-A {post} -o {b.bridge} -m addrtype --src-type LOCAL -j MASQUERADE")
    if hairpin:
        for p in ports:
            n.append(f"-A {post} -s {p.container_ip}/32 -d {p.container_ip}/32 -p {p.proto} "
                     f"-m {p.proto} --dport {p.container_port} -j MASQUERADE")
    n += [line for t, line in jump_lines if t == "nat"]
    n.append("COMMIT")
    return "\n".join(f + n) + "\n"


def jumps(names: Names, hairpin: bool) -> list[tuple[str, str, list[str]]]:
    """(table, built-in chain, rule) for every jump into our chains."""
    local = ["-m", "addrtype", "--dst-type", "LOCAL"]
    out_rule = local if hairpin else ["!", "-d", "127.0.0.0/8"] + local
    return [
        ("filter", "FORWARD", ["-j", names.chain("FWD")]),
        ("nat", "PREROUTING", local + ["-j", names.chain("NAT")]),
        ("nat", "OUTPUT", out_rule + ["-j", names.chain("NAT")]),
        ("nat", "POSTROUTING", ["-j", names.chain("POST")]),
    ]


BUILTIN = {"filter": ["INPUT", "FORWARD", "OUTPUT"], "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]}
CHAINS = {"filter": ["FWD", "ISO1", "ISO2", "PUB"], "nat": ["NAT", "POST"]}


class Firewall:
    def __init__(self, names: Names, hairpin: bool) -> None:
        self.names = names
        self.hairpin = hairpin
        self._jumps_ok = False

    @staticmethod
    def _run(argv: list[str], input_: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        for attempt in range(5):
            res = subprocess.run(argv, input=input_, capture_output=True, text=True)
            # nf_tables refuses a transaction that raced another one: try again.
            if res.returncode == 0 or not check or "temporarily unavailable" not in res.stderr:
                break
            time.sleep(0.05 * (attempt + 1))
        if check and res.returncode != 0:
            raise FirewallError(f"{' '.join(argv[:4])}: {res.stderr.strip() or res.returncode}")
        return res

    def sync(self, bridges: list[BridgeRules], ports: list[PortRule]) -> None:
        first = not self._jumps_ok
        if first:
            # First sync of this run: old jumps out (their form depends on the flags);
            # ours go in with the chains they point to, in one transaction.
            self._remove_jumps()
        self._run([IPTABLES_RESTORE, "-w", "--noflush"],
                  render(self.names, bridges, ports, self.hairpin, with_jumps=first))
        self._jumps_ok = True

    def _remove_jumps(self) -> None:
        """Every rule of a built-in chain that mentions one of our chains."""
        prefix = self.names.chain_prefix
        for table, chains in BUILTIN.items():
            saved = self._run([IPTABLES + "-save", "-t", table], check=False).stdout
            for line in saved.splitlines():
                parts = line.split()
                if prefix in line and len(parts) > 1 and parts[0] == "-A" and parts[1] in chains:
                    self._run([IPTABLES, "-w", "-t", table, "-D", *parts[1:]], check=False)

    def teardown(self) -> None:
        self._remove_jumps()
        self._jumps_ok = False
        lines = []
        for table, roles in CHAINS.items():
            lines.append(f"*{table}")
            lines += [f":{self.names.chain(r)} - [0:0]" for r in roles]
            lines += [f"-X {self.names.chain(r)}" for r in roles]
            lines.append("COMMIT")
        self._run([IPTABLES_RESTORE, "-w", "--noflush"], "\n".join(lines) + "\n", check=False)


def set_forward_policy_drop() -> None:
    Firewall._run([IPTABLES, "-w", "-P", "FORWARD", "DROP"], check=False)
