"""What a test must not leave behind: mounts, cgroups, processes, links.

find_* return descriptions of leaked resources; clean_* remove them by path
or PID (never by broad name), so one leaking test does not poison the next."""

from __future__ import annotations

import os
import signal
import time


def mounts_under(*prefixes: str) -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            for p in prefixes:
                if mp == p or mp.startswith(p.rstrip("/") + "/"):
                    out.append(mp)
    return out


def unmount_all(paths: list[str]) -> None:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for mp in sorted(paths, key=len, reverse=True):
        libc.umount2(mp.encode(), 2)  # MNT_DETACH


def cgroup_roots() -> list[str]:
    roots = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype = post.split()[0] if post else ""
            mp = pre.split()[4]
            if fstype in ("cgroup", "cgroup2") and mp.startswith("/sys/fs/cgroup"):
                roots.append(mp)
    return roots


def cgroups_under(parent: str) -> list[str]:
    """Container cgroups left below the daemon's cgroup parent."""
    out = []
    for root in cgroup_roots():
        d = root + parent
        if os.path.isdir(d):
            for name in os.listdir(d):
                if os.path.isdir(os.path.join(d, name)):
                    out.append(os.path.join(d, name))
    return out


def remove_cgroup_tree(parent: str) -> None:
    for root in cgroup_roots():
        d = root + parent
        if not os.path.isdir(d):
            continue
        for dirpath, dirnames, _ in sorted(os.walk(d), key=lambda t: len(t[0]), reverse=True):
            procs = os.path.join(dirpath, "cgroup.procs")
            try:
                for pid in open(procs).read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            except OSError:
                pass
            for _ in range(100):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def processes_mentioning(text: str, exclude: set[int] | None = None) -> list[tuple[int, str]]:
    out = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == me or (exclude and pid in exclude):
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            out.append((pid, cmd.strip()))
    return out


def kill_pids(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def links_named(prefixes: list[str]) -> list[str]:
    out = []
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return out
    for n in names:
        if any(n.startswith(p) for p in prefixes):
            out.append(n)
    return out


def iptables_rules_mentioning(text: str) -> list[str]:
    """iptables-save lines (filter and nat) that mention ``text``."""
    import subprocess
    out = []
    for table in ("filter", "nat"):
        res = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True)
        out += [f"{table}: {line}" for line in res.stdout.splitlines() if text in line]
    return out


def remove_iptables_chains(prefix: str) -> None:
    """Delete jumps into chains named ``prefix...``, then the chains themselves."""
    import subprocess
    for table in ("filter", "nat"):
        rules = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout.splitlines()
        chains = [r[1:].split()[0] for r in rules if r.startswith(":" + prefix)]
        for r in rules:
            if r.startswith("-A ") and prefix in r and not r.split()[1].startswith(prefix):
                subprocess.run(["iptables", "-w", "-t", table, "-D", *r.split()[1:]], capture_output=True)
        for ch in chains:
            subprocess.run(["iptables", "-w", "-t", table, "-F", ch], capture_output=True)
        for ch in chains:
            subprocess.run(["iptables", "-w", "-t", table, "-X", ch], capture_output=True)


def delete_links(names: list[str]) -> None:
    import subprocess
    for n in names:
        subprocess.run(["ip", "link", "del", n], capture_output=True)


def files_in(directory: str) -> list[str]:
    try:
        return [os.path.join(directory, n) for n in os.listdir(directory)]
    except OSError:
        return []


def routed_subnets() -> list[str]:
    """IPv4 destinations of the main routing table, as CIDR strings."""
    import socket
    import struct
    out = []
    try:
        with open("/proc/net/route") as f:
            next(f)
            for line in f:
                parts = line.split()
                dst = socket.inet_ntoa(struct.pack("<I", int(parts[1], 16)))
                mask = bin(int(parts[7], 16)).count("1")
                if mask:
                    out.append(f"{dst}/{mask}")
    except OSError:
        pass
    return out


def build_leftovers(data_root: str, exec_root: str) -> list[str]:
    """What a build must not leave once it is over: active build snapshots
    and views, step bundles, mount points, temporary context spools."""
    import json
    out = []
    try:
        with open(os.path.join(data_root, "overlay", "metadata.json")) as f:
            snaps = json.load(f).get("snapshots", {})
    except (OSError, ValueError):
        snaps = {}
    for key, rec in snaps.items():
        if key.startswith("build-") and rec.get("kind") != "committed":
            out.append(f"build snapshot {key} ({rec.get('kind')})")
    for d, what in ((os.path.join(exec_root, "build"), "build mount dir"),
                    (os.path.join(data_root, "builder", "tmp"), "build temp dir")):
        try:
            out += [f"{what} {n}" for n in os.listdir(d)]
        except FileNotFoundError:
            pass
    try:
        out += [f"build bundle {n}" for n in os.listdir(os.path.join(exec_root, "containers")) if n.startswith("build-")]
    except FileNotFoundError:
        pass
    return out
