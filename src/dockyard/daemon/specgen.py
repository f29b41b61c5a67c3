"""The OCI runtime spec for a container, made from its Config, HostConfig
and image config the way dockerd makes it (daemon/oci_linux.go)."""

from __future__ import annotations

import os
from typing import Any

from .. import errdefs
from ..oci import runtime_spec as rs
from .container import Container

SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
           "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
           "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
           "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
           "POLL": 29, "PWR": 30, "SYS": 31}


def parse_signal(value: str | int | None, default: int = 15) -> int:
    if value in (None, ""):
        return default
    if isinstance(value, int):
        return value
    v = str(value).strip().upper()
    if v.isdigit():
        n = int(v)
        if 0 < n < 65:
            return n
        raise errdefs.InvalidArgument(f"Invalid signal: {value}")
    if v.startswith("SIG"):
        v = v[3:]
    if v.startswith("RTMIN"):
        return 34 + (int(v[6:]) if "+" in v else 0)
    if v.startswith("RTMAX"):
        return 64 - (int(v[6:]) if "-" in v else 0)
    if v not in SIGNALS:
        raise errdefs.InvalidArgument(f"Invalid signal: {value}")
    return SIGNALS[v]


def merged_env(image_env: list[str], env: list[str]) -> list[str]:
    """Container env overrides image env by key, keeping image order."""
    out: dict[str, str] = {}
    for kv in list(image_env or []) + list(env or []):
        k, sep, v = kv.partition("=")
        out[k] = kv if sep else kv
    if not any(k == "PATH" for k in out):
        out["PATH"] = rs.DEFAULT_PATH_ENV
    return list(out.values())


def _lookup_id(rootfs: str, filename: str, name: str) -> tuple[int, int] | None:
    """(id, primary gid) for a passwd/group name from the container's files."""
    path = os.path.join(rootfs, "etc", filename)
    try:
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) >= 3 and parts[0] == name:
                    gid = int(parts[3]) if filename == "passwd" and len(parts) > 3 and parts[3].isdigit() else -1
                    return int(parts[2]), gid
    except (OSError, ValueError):
        return None
    return None


def _groups_of(rootfs: str, user: str) -> list[int]:
    out = []
    try:
        with open(os.path.join(rootfs, "etc", "group"), errors="replace") as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) >= 4 and user in parts[3].split(","):
                    out.append(int(parts[2]))
    except (OSError, ValueError):
        pass
    return out


def resolve_user(rootfs: str, user: str, group_add: list[str] | None = None) -> dict[str, Any]:
    """docker's user spec: name|uid[:group|gid], resolved in the container's /etc."""
    uid, gid = 0, 0
    additional: list[int] = []
    uname, _, gname = (user or "").partition(":")
    if uname:
        if uname.isdigit():
            uid = int(uname)
            found = None
            try:
                with open(os.path.join(rootfs, "etc", "passwd"), errors="replace") as f:
                    for line in f:
                        p = line.strip().split(":")
                        if len(p) > 3 and p[2] == uname and p[3].isdigit():
                            found = int(p[3])
                            uname = p[0]
                            break
            except OSError:
                pass
            gid = found if found is not None else 0
        else:
            r = _lookup_id(rootfs, "passwd", uname)
            if r is None:
                raise errdefs.InvalidArgument(
                    f"unable to find user {uname}: no matching entries in passwd file")
            uid, gid = r[0], max(r[1], 0)
        additional = _groups_of(rootfs, uname)
    if gname:
        if gname.isdigit():
            gid = int(gname)
        else:
            r = _lookup_id(rootfs, "group", gname)
            if r is None:
                raise errdefs.InvalidArgument(f"unable to find group {gname}: no matching entries in group file")
            gid = r[0]
    for g in group_add or []:
        if g.isdigit():
            additional.append(int(g))
        else:
            r = _lookup_id(rootfs, "group", g)
            if r is None:
                raise errdefs.InvalidArgument(f"Unable to find group {g}")
            additional.append(r[0])
    out: dict[str, Any] = {"uid": uid, "gid": gid}
    if additional:
        out["additionalGids"] = sorted(set(additional))
    return out


def build_spec(c: Container, image_config: dict[str, Any], rootfs: str, cgroup_parent: str,
               extra_mounts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    cfg = c.config
    hc = c.host_config
    tty = bool(cfg.get("Tty"))
    env = list(cfg.get("Env") or [])
    if not any(e.startswith("HOSTNAME=") for e in env):
        env.append(f"HOSTNAME={cfg.get('Hostname') or c.short_id}")
    if tty and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    caps = list(rs.DEFAULT_CAPABILITIES)
    spec: dict[str, Any] = {
        "ociVersion": rs.OCI_VERSION,
        "process": {
            "terminal": tty,
            "user": resolve_user(rootfs, cfg.get("User") or "", hc.get("GroupAdd")),
            "args": [c.path] + list(c.args),
            "env": env,
            "cwd": cfg.get("WorkingDir") or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": False,
        },
        "root": {"path": "rootfs", "readonly": bool(hc.get("ReadonlyRootfs"))},
        "hostname": cfg.get("Hostname") or c.short_id,
        "mounts": rs.default_mounts() + list(extra_mounts or []),
        "linux": {
            "namespaces": [{"type": t} for t in ("mount", "network", "uts", "pid", "ipc")],
            "cgroupsPath": f"{cgroup_parent.rstrip('/')}/{c.id}",
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "maskedPaths": list(rs.MASKED_PATHS),
            "readonlyPaths": list(rs.READONLY_PATHS),
        },
    }
    if cfg.get("Domainname"):
        spec["domainname"] = cfg["Domainname"]
    if tty:
        spec["process"]["consoleSize"] = {"height": 24, "width": 80}
    return spec
