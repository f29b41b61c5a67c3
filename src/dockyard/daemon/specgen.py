"""The OCI runtime spec for a container, made from its Config, HostConfig
and image config the way dockerd makes it (daemon/oci_linux.go)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

from .. import errdefs
from ..oci import runtime_spec as rs
from . import caps as capsmod
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


INIT_PATH_IN_CONTAINER = "/sbin/docker-init"
RLIMITS = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
           "rss", "rtprio", "rttime", "sigpending", "stack")
# sysctls that live in a namespace the container has (runc's validation).
IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
               "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
# Host /dev entries never passed to a privileged container (runc's HostDevices).
_SKIP_DEV_DIRS = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}


@dataclass
class SpecContext:
    """What the container service resolved before the spec can be written."""

    rootfs: str
    cgroup_parent: str
    files: list[dict[str, Any]] = field(default_factory=list)  # hostname, hosts, resolv.conf binds
    # namespace type -> "" (new), "host" (none: share the host's) or a /proc/<pid>/ns/<x> path
    namespaces: dict[str, str] = field(default_factory=dict)
    shm_source: str = ""  # a host path bound at /dev/shm (ipc host/container/shareable)
    init_path: str = ""
    seccomp_default: dict[str, Any] | None = None


def parse_sysctl_ns(key: str, namespaces: dict[str, str]) -> None:
    """Refuse a sysctl that is not in a namespace the container owns."""
    if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if namespaces.get("ipc") == "host":
            raise errdefs.InvalidArgument(f'sysctl "{key}" not allowed in host IPC namespace')
        return
    if key.startswith("net."):
        if namespaces.get("network") == "host":
            raise errdefs.InvalidArgument(f'sysctl "{key}" not allowed in host network namespace')
        return
    if key in ("kernel.domainname", "kernel.hostname"):
        if namespaces.get("uts") == "host":
            raise errdefs.InvalidArgument(f'sysctl "{key}" not allowed in host UTS namespace')
        return
    raise errdefs.InvalidArgument(f'sysctl "{key}" is not in a separate kernel namespace')


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """docker's MergeTmpfsOptions: the last of opposite flags wins, data keys
    (size=, mode=) keep their last value."""
    opposites = {"rw": "ro", "ro": "rw", "exec": "noexec", "noexec": "exec", "suid": "nosuid", "nosuid": "suid",
                 "dev": "nodev", "nodev": "dev", "atime": "noatime", "noatime": "atime",
                 "diratime": "nodiratime", "nodiratime": "diratime"}
    out: list[str] = []
    seen_keys: set[str] = set()
    seen_flags: set[str] = set()
    for o in reversed([x for x in options if x]):
        if "=" in o:
            k = o.split("=", 1)[0]
            if k in seen_keys:
                continue
            seen_keys.add(k)
            out.insert(0, o)
            continue
        if o in seen_flags or opposites.get(o) in seen_flags:
            continue
        seen_flags.add(o)
        out.insert(0, o)
    return out


def host_device(path_on_host: str, path_in_container: str, perms: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(linux.devices entries, cgroup rules) for --device; directories recurse."""
    try:
        st = os.stat(path_on_host)
    except OSError as e:
        raise errdefs.InvalidArgument(f'error gathering device information while adding custom device '
                                      f'"{path_on_host}": {e.strerror.lower() if e.strerror else e}') from None
    perms = perms or "rwm"
    if any(ch not in "rwm" for ch in perms):
        raise errdefs.InvalidArgument(f"invalid device cgroup permissions: {perms}")
    devices: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    if stat.S_ISDIR(st.st_mode):
        for dirpath, dirnames, filenames in os.walk(path_on_host):
            for fn in filenames:
                p = os.path.join(dirpath, fn)
                try:
                    s2 = os.stat(p)
                except OSError:
                    continue
                if stat.S_ISCHR(s2.st_mode) or stat.S_ISBLK(s2.st_mode):
                    inner = os.path.join(path_in_container or path_on_host, os.path.relpath(p, path_on_host))
                    d, r = _device_entry(p, inner, s2, perms)
                    devices.append(d)
                    rules.append(r)
        return devices, rules
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise errdefs.InvalidArgument(f'error gathering device information while adding custom device '
                                      f'"{path_on_host}": not a device node')
    d, r = _device_entry(path_on_host, path_in_container or path_on_host, st, perms)
    return [d], [r]


def _device_entry(host: str, inner: str, st: os.stat_result, perms: str) -> tuple[dict[str, Any], dict[str, Any]]:
    kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    dev = {"path": inner, "type": kind, "major": major, "minor": minor, "fileMode": stat.S_IMODE(st.st_mode),
           "uid": st.st_uid, "gid": st.st_gid}
    return dev, {"allow": True, "type": kind, "major": major, "minor": minor, "access": perms}


def privileged_devices() -> list[dict[str, Any]]:
    out = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DEV_DIRS]
        for fn in filenames:
            if dirpath == "/dev" and fn == "console":
                continue
            p = os.path.join(dirpath, fn)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                out.append(_device_entry(p, p, st, "rwm")[0])
    return out


def parse_cgroup_rule(rule: str) -> dict[str, Any]:
    parts = rule.split()
    if len(parts) != 3 or parts[0] not in ("a", "b", "c") or ":" not in parts[1] \
            or any(ch not in "rwm" for ch in parts[2]):
        raise errdefs.InvalidArgument(f"invalid device cgroup rule format: '{rule}'")
    major, _, minor = parts[1].partition(":")
    def num(x: str) -> int | None:
        if x == "*":
            return None
        if not x.isdigit():
            raise errdefs.InvalidArgument(f"invalid device cgroup rule format: '{rule}'")
        return int(x)
    return {"allow": True, "type": parts[0], "major": num(major), "minor": num(minor), "access": parts[2]}


def security_opts(hc: dict[str, Any]) -> tuple[bool, str | None]:
    """(no_new_privileges, seccomp profile: None=default, "unconfined", or JSON)."""
    nnp = False
    seccomp: str | None = None
    for opt in hc.get("SecurityOpt") or []:
        if not isinstance(opt, str):
            raise errdefs.InvalidArgument(f"Invalid --security-opt: {opt!r}")
        if opt == "no-new-privileges":
            nnp = True
            continue
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if not sep:
            raise errdefs.InvalidArgument(f'Invalid --security-opt: "{opt}"')
        if key == "no-new-privileges":
            if value.lower() not in ("true", "false", "1", "0"):
                raise errdefs.InvalidArgument(f'invalid --security-opt 2: "{opt}"')
            nnp = value.lower() in ("true", "1")
        elif key == "seccomp":
            seccomp = value
        elif key in ("apparmor", "label", "systempaths", "writable-cgroups"):
            continue  # no LSM here; accepted as docker does on hosts without one
        else:
            raise errdefs.InvalidArgument(f'invalid --security-opt 2: "{opt}"')
    return nnp, seccomp


def _resources(hc: dict[str, Any], privileged: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    devices: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    if privileged:
        rules = [{"allow": True, "access": "rwm"}]
        devices = privileged_devices()
    for d in hc.get("Devices") or []:
        if not isinstance(d, dict):
            raise errdefs.InvalidArgument("invalid device mapping: must be an object")
        devs, rs_ = host_device(d.get("PathOnHost") or "", d.get("PathInContainer") or "",
                                d.get("CgroupPermissions") or "rwm")
        devices = [x for x in devices if x["path"] not in {y["path"] for y in devs}] + devs
        if not privileged:
            rules += rs_
    for r in hc.get("DeviceCgroupRules") or []:
        rules.append(parse_cgroup_rule(r))
    res: dict[str, Any] = {"devices": rules}
    mem: dict[str, Any] = {}
    if hc.get("Memory"):
        mem["limit"] = int(hc["Memory"])
    if hc.get("MemoryReservation"):
        mem["reservation"] = int(hc["MemoryReservation"])
    if hc.get("MemorySwap"):
        mem["swap"] = int(hc["MemorySwap"])
    if hc.get("MemorySwappiness") not in (None, -1):
        mem["swappiness"] = int(hc["MemorySwappiness"])
    if hc.get("OomKillDisable"):
        mem["disableOOMKiller"] = True
    if mem:
        res["memory"] = mem
    cpu: dict[str, Any] = {}
    if hc.get("CpuShares"):
        cpu["shares"] = int(hc["CpuShares"])
    if hc.get("NanoCpus"):
        cpu["period"] = 100000
        cpu["quota"] = int(hc["NanoCpus"]) * 100000 // 1_000_000_000
    if hc.get("CpuPeriod"):
        cpu["period"] = int(hc["CpuPeriod"])
    if hc.get("CpuQuota"):
        cpu["quota"] = int(hc["CpuQuota"])
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    if hc.get("CpuRealtimePeriod"):
        cpu["realtimePeriod"] = int(hc["CpuRealtimePeriod"])
    if hc.get("CpuRealtimeRuntime"):
        cpu["realtimeRuntime"] = int(hc["CpuRealtimeRuntime"])
    if cpu:
        res["cpu"] = cpu
    if hc.get("PidsLimit") is not None and hc["PidsLimit"] != 0:
        res["pids"] = {"limit": int(hc["PidsLimit"]) if hc["PidsLimit"] > 0 else -1}
    if hc.get("BlkioWeight"):
        res["blockIO"] = {"weight": int(hc["BlkioWeight"])}
    return res, devices


def update_resources(hc: dict[str, Any]) -> dict[str, Any]:
    """linux.resources for `update` of a running container (no devices)."""
    res, _ = _resources({k: v for k, v in hc.items() if k not in ("Devices", "DeviceCgroupRules")}, False)
    res.pop("devices", None)
    return res


def _mount_spec(mp: dict[str, Any]) -> dict[str, Any]:
    dest = mp["Destination"]
    if mp["Type"] == "tmpfs":
        opts = ["noexec", "nosuid", "nodev", "rprivate"] + [o for o in (mp.get("_tmpfs") or "").split(",") if o]
        if not mp.get("RW", True):
            opts.append("ro")
        return {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": merge_tmpfs_options(opts)}
    source = mp.get("_host_source") or mp.get("Source") or ""
    opts = ["bind" if mp.get("_nonrec") else "rbind"]
    opts.append(mp.get("Propagation") or "rprivate")
    if not mp.get("RW", True):
        opts.append("ro")
    return {"destination": dest, "type": "bind", "source": source, "options": opts}


def _default_mounts(c: Container, ctx: SpecContext, privileged: bool, user_dests: set[str]) -> list[dict[str, Any]]:
    hc = c.host_config
    ipc = hc.get("IpcMode") or "private"
    out = []
    mount_dev = "/dev" in user_dests
    for m in rs.default_mounts():
        dest = m["destination"]
        if dest in user_dests or (mount_dev and dest.startswith("/dev/")):
            continue
        m = dict(m, options=list(m["options"]))
        if privileged and dest in ("/sys", "/sys/fs/cgroup"):
            m["options"] = [o for o in m["options"] if o != "ro"] + (["rw"] if dest == "/sys/fs/cgroup" else [])
        if dest == "/dev/shm":
            if ipc == "none":
                continue
            if ctx.shm_source:
                m = {"destination": dest, "type": "bind", "source": ctx.shm_source, "options": ["rbind", "rprivate"]}
            else:
                size = int(hc.get("ShmSize") or 67108864)
                m["options"] = [o for o in m["options"] if not o.startswith("size=")] + [f"size={size}"]
        out.append(m)
    return out


def build_spec(c: Container, image_config: dict[str, Any], ctx: SpecContext) -> dict[str, Any]:
    cfg = c.config
    hc = c.host_config
    tty = bool(cfg.get("Tty"))
    privileged = bool(hc.get("Privileged"))
    env = list(cfg.get("Env") or [])
    if not any(e.startswith("HOSTNAME=") for e in env):
        env.append(f"HOSTNAME={cfg.get('Hostname') or c.short_id}")
    if tty and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    cap_list = capsmod.tweak(hc.get("CapAdd"), hc.get("CapDrop"), privileged)
    nnp, seccomp_opt = security_opts(hc)
    args = [c.path] + list(c.args)
    if hc.get("Init"):
        args = [INIT_PATH_IN_CONTAINER, "--"] + args
    process: dict[str, Any] = {
        "terminal": tty,
        "user": resolve_user(ctx.rootfs, cfg.get("User") or "", hc.get("GroupAdd")),
        "args": args,
        "env": env,
        "cwd": cfg.get("WorkingDir") or "/",
        "capabilities": {"bounding": cap_list, "effective": cap_list, "permitted": cap_list},
        "noNewPrivileges": nnp,
    }
    if tty:
        size = hc.get("ConsoleSize") or [0, 0]
        h, w = (int(size[0] or 0), int(size[1] or 0)) if isinstance(size, list) and len(size) == 2 else (0, 0)
        process["consoleSize"] = {"height": h or 24, "width": w or 80}
    rlimits = []
    for u in hc.get("Ulimits") or []:
        rlimits.append({"type": "RLIMIT_" + str(u["Name"]).upper(), "soft": int(u["Soft"]), "hard": int(u["Hard"])})
    if rlimits:
        process["rlimits"] = rlimits
    if hc.get("OomScoreAdj"):
        process["oomScoreAdj"] = int(hc["OomScoreAdj"])

    # Namespaces: new ones unless shared with the host or another container.
    namespaces = []
    for t in ("mount", "network", "uts", "pid", "ipc"):
        where = ctx.namespaces.get(t, "")
        if where == "host":
            continue
        namespaces.append({"type": t, "path": where} if where else {"type": t})
    resources, devices = _resources(hc, privileged)
    user_mounts = [m for m in c.mounts]
    user_dests = {m["Destination"] for m in user_mounts}
    mounts = _default_mounts(c, ctx, privileged, user_dests)
    for f in ctx.files:
        if f["destination"] not in user_dests:
            mounts.append(f)
    if hc.get("Init"):
        if not ctx.init_path:
            raise errdefs.InvalidArgument('exec: "docker-init": executable file not found in $PATH')
        mounts.append({"destination": INIT_PATH_IN_CONTAINER, "type": "bind", "source": ctx.init_path,
                       "options": ["bind", "ro", "rprivate"]})
    # Parents before children, as docker sorts them.
    for mp in sorted(user_mounts, key=lambda m: m["Destination"].rstrip("/").count("/")):
        mounts.append(_mount_spec(mp))

    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": f"{(hc.get('CgroupParent') or ctx.cgroup_parent).rstrip('/')}/{c.id}",
        "resources": resources,
        "maskedPaths": [] if privileged else list(rs.MASKED_PATHS if hc.get("MaskedPaths") is None else hc["MaskedPaths"]),
        "readonlyPaths": [] if privileged else list(rs.READONLY_PATHS if hc.get("ReadonlyPaths") is None else hc["ReadonlyPaths"]),
    }
    if devices:
        linux["devices"] = devices
    sysctls = hc.get("Sysctls") or {}
    if sysctls:
        for k in sysctls:
            parse_sysctl_ns(k, ctx.namespaces)
        linux["sysctl"] = {str(k): str(v) for k, v in sysctls.items()}
    if not privileged and seccomp_opt != "unconfined":
        from . import seccomp as sc
        profile = sc.parse_profile(seccomp_opt) if seccomp_opt else (ctx.seccomp_default or sc.default_profile())
        linux["seccomp"] = sc.to_oci(profile, cap_list)

    spec: dict[str, Any] = {
        "ociVersion": rs.OCI_VERSION,
        "process": process,
        "root": {"path": "rootfs", "readonly": bool(hc.get("ReadonlyRootfs"))},
        "mounts": mounts,
        "linux": linux,
    }
    if ctx.namespaces.get("uts", "") == "":
        spec["hostname"] = cfg.get("Hostname") or c.short_id
        if cfg.get("Domainname"):
            spec["domainname"] = cfg["Domainname"]
    return spec
