"""cgroup v1: one directory per mounted controller hierarchy."""

from __future__ import annotations

import errno
import posix

from .._sys import fs
from .common import read_file, read_int, read_kv, rmdir_retry, write_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Controllers we manage, and the named hierarchy systemd hosts have (runc
# places containers in it too).
CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
               "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc", "name=systemd")


def v1_mounts(root: str) -> tuple[dict[str, str], str]:
    """controller -> hierarchy mount point, read from mountinfo (co-mounted
    controllers such as cpu,cpuacct map to the same directory); and the
    cgroup2 mount of a hybrid host ("" if none)."""
    found: dict[str, str] = {}
    unified = ""
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    prefix = root.rstrip("/") + "/"
    for line in lines:
        pre, _, post = line.partition(" - ")
        fields = post.split()
        if len(fields) < 3 or fields[0] not in ("cgroup", "cgroup2"):
            continue
        mountpoint = pre.split()[4]
        if not mountpoint.startswith(prefix):
            continue
        if fields[0] == "cgroup2":
            unified = unified or mountpoint
            continue
        for opt in fields[2].split(","):
            if opt in CONTROLLERS:
                found.setdefault(opt, mountpoint)
    if not found:
        # Test roots are plain directories: one subdirectory per controller.
        try:
            for name in posix.listdir(root):
                for opt in name.split(","):
                    if opt in CONTROLLERS:
                        found.setdefault(opt, fs.join(root, name))
        except OSError:
            pass
    return found, unified


class V1Manager:
    def __init__(self, cgroups_path: str, root: str = "/sys/fs/cgroup") -> None:
        self.path = cgroups_path
        self.root = root
        self._mounts, unified = v1_mounts(root)
        # On a hybrid host the container also gets a cgroup in the unified
        # hierarchy (as runc does): systemd and v2-only tools look there.
        self._unified = unified + cgroups_path if unified else ""

    def _dir(self, controller: str) -> str | None:
        mp = self._mounts.get(controller)
        return None if mp is None else mp + self.path

    def paths(self) -> dict[str, str]:
        return {c: mp + self.path for c, mp in self._mounts.items()}

    def _unique_dirs(self) -> list[str]:
        seen: list[str] = []
        for d in list(self.paths().values()) + ([self._unified] if self._unified else []):
            if d not in seen:
                seen.append(d)
        return seen

    def placement(self) -> tuple[list[str], str]:
        """(v1 directories, cgroup2 directory or ""): where a process joins."""
        return [d for d in self._unique_dirs() if d != self._unified], self._unified

    def exists(self) -> bool:
        d = self._dir("memory") or self._dir("pids") or self._dir("freezer")
        return bool(d and fs.isdir(d))

    def create(self) -> None:
        for d in self._unique_dirs():
            fs.makedirs(d, exist_ok=True)
        cpuset = self._dir("cpuset")
        if cpuset:
            self._init_cpuset(cpuset)

    def _init_cpuset(self, d: str) -> None:
        # A new cpuset cgroup starts empty; copy cpus/mems down from the first
        # ancestor that has them, or tasks cannot join it.
        base = self._mounts["cpuset"]
        chain = []
        p = d
        while p.startswith(base) and p != base:
            chain.append(p)
            p = fs.dirname(p)
        for node in reversed(chain):
            parent = fs.dirname(node)
            for f in ("cpuset.cpus", "cpuset.mems"):
                try:
                    if not read_file(fs.join(node, f)).strip():
                        write_file(fs.join(node, f), read_file(fs.join(parent, f)).strip())
                except OSError:
                    pass

    def add_pid(self, pid: int) -> None:
        for d in self._unique_dirs():
            write_file(fs.join(d, "cgroup.procs"), str(pid))

    def set_resources(self, resources: dict[str, Any]) -> None:
        if not resources:
            return
        mem = resources.get("memory") or {}
        md = self._dir("memory")
        if md and mem:
            if mem.get("reservation") is not None:
                write_file(fs.join(md, "memory.soft_limit_in_bytes"), str(mem["reservation"]))
            limit, swap = mem.get("limit"), mem.get("swap")
            # memsw must stay >= limit: order the two writes accordingly.
            if limit is not None and swap is not None and fs.exists(fs.join(md, "memory.memsw.limit_in_bytes")):
                cur = read_int(fs.join(md, "memory.limit_in_bytes"))
                if swap == -1 or (cur != -1 and swap > cur):
                    write_file(fs.join(md, "memory.memsw.limit_in_bytes"), str(swap))
                    write_file(fs.join(md, "memory.limit_in_bytes"), str(limit))
                else:
                    write_file(fs.join(md, "memory.limit_in_bytes"), str(limit))
                    write_file(fs.join(md, "memory.memsw.limit_in_bytes"), str(swap))
            elif limit is not None:
                write_file(fs.join(md, "memory.limit_in_bytes"), str(limit))
            if mem.get("kernel") is not None:
                pass  # kernel memory limits are gone from modern kernels
            if mem.get("swappiness") is not None:
                write_file(fs.join(md, "memory.swappiness"), str(mem["swappiness"]))
            if mem.get("disableOOMKiller"):
                write_file(fs.join(md, "memory.oom_control"), "1")
        cpu = resources.get("cpu") or {}
        cd = self._dir("cpu")
        if cd and cpu:
            if cpu.get("shares"):
                write_file(fs.join(cd, "cpu.shares"), str(cpu["shares"]))
            if cpu.get("period"):
                write_file(fs.join(cd, "cpu.cfs_period_us"), str(cpu["period"]))
            if cpu.get("quota") is not None and cpu.get("quota") != 0:
                write_file(fs.join(cd, "cpu.cfs_quota_us"), str(cpu["quota"]))
            if cpu.get("realtimeRuntime"):
                write_file(fs.join(cd, "cpu.rt_runtime_us"), str(cpu["realtimeRuntime"]))
            if cpu.get("realtimePeriod"):
                write_file(fs.join(cd, "cpu.rt_period_us"), str(cpu["realtimePeriod"]))
        sd = self._dir("cpuset")
        if sd and cpu:
            if cpu.get("cpus"):
                write_file(fs.join(sd, "cpuset.cpus"), cpu["cpus"])
            if cpu.get("mems"):
                write_file(fs.join(sd, "cpuset.mems"), cpu["mems"])
        pids = resources.get("pids") or {}
        pd = self._dir("pids")
        if pd and pids.get("limit") is not None:
            limit = pids["limit"]
            write_file(fs.join(pd, "pids.max"), "max" if limit <= 0 else str(limit))
        blkio = resources.get("blockIO") or {}
        bd = self._dir("blkio")
        if bd and blkio:
            self._set_blkio(bd, blkio)
        devices = resources.get("devices")
        dd = self._dir("devices")
        if dd and devices is not None:
            self._set_devices(dd, devices)

    def _set_blkio(self, d: str, blkio: dict[str, Any]) -> None:
        # blkio.weight with CFQ, blkio.bfq.weight with BFQ; neither with the
        # other schedulers, where a weight cannot be honoured.
        weight_file = next((f for f in ("blkio.weight", "blkio.bfq.weight") if fs.exists(fs.join(d, f))), "")
        if blkio.get("weight"):
            if not weight_file:
                raise OSError(errno.ENOTSUP, "blockIO.weight: no blkio weight file (the I/O scheduler has no weights)")
            write_file(fs.join(d, weight_file), str(blkio["weight"]))
        for dev in blkio.get("weightDevice") or []:
            if not weight_file:
                raise OSError(errno.ENOTSUP, "blockIO.weightDevice: no blkio weight file")
            if dev.get("weight"):
                write_file(fs.join(d, weight_file + "_device"), f"{dev['major']}:{dev['minor']} {dev['weight']}")
        for key, name in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                          ("throttleReadIOPSDevice", "read_iops_device"),
                          ("throttleWriteIOPSDevice", "write_iops_device")):
            for dev in blkio.get(key) or []:
                write_file(fs.join(d, "blkio.throttle." + name), f"{dev['major']}:{dev['minor']} {dev['rate']}")

    def _set_devices(self, d: str, rules: list[dict[str, Any]]) -> None:
        for rule in rules:
            kind = rule.get("type", "a") or "a"
            major = rule.get("major")
            minor = rule.get("minor")
            access = rule.get("access", "rwm") or "rwm"
            entry = f"{kind} {'*' if major in (None, -1) else major}:{'*' if minor in (None, -1) else minor} {access}"
            if kind == "a":
                entry = "a"
            write_file(fs.join(d, "devices.allow" if rule.get("allow") else "devices.deny"), entry)

    def freeze(self) -> None:
        self._freezer_set("FROZEN")

    def thaw(self) -> None:
        self._freezer_set("THAWED")

    def _freezer_set(self, state: str) -> None:
        import time
        fd = self._dir("freezer")
        if not fd:
            raise OSError(errno.ENOTSUP, "freezer cgroup controller is not mounted")
        path = fs.join(fd, "freezer.state")
        for _ in range(1000):
            write_file(path, state)
            if read_file(path).strip() == state:
                return
            time.sleep(0.001)
        raise OSError(errno.EBUSY, f"cgroup freezer did not reach {state}")

    def is_frozen(self) -> bool:
        fd = self._dir("freezer")
        if not fd:
            return False
        try:
            return read_file(fs.join(fd, "freezer.state")).strip() in ("FROZEN", "FREEZING")
        except OSError:
            return False

    def pids(self) -> list[int]:
        for c in ("pids", "memory", "freezer", "cpu"):
            d = self._dir(c)
            if d:
                try:
                    return [int(x) for x in read_file(fs.join(d, "cgroup.procs")).split()]
                except OSError:
                    continue
        return []

    def stats(self) -> dict[str, Any]:
        md, cd, pd, ad = self._dir("memory"), self._dir("cpu"), self._dir("pids"), self._dir("cpuacct")
        out: dict[str, Any] = {}
        if md:
            out["memory"] = {
                "usage": read_int(fs.join(md, "memory.usage_in_bytes")),
                "max_usage": read_int(fs.join(md, "memory.max_usage_in_bytes")),
                "limit": read_int(fs.join(md, "memory.limit_in_bytes")),
                "failcnt": read_int(fs.join(md, "memory.failcnt")),
                "stats": read_kv(fs.join(md, "memory.stat")),
            }
        if ad:
            percpu = read_file(fs.join(ad, "cpuacct.usage_percpu")).split() if fs.exists(
                fs.join(ad, "cpuacct.usage_percpu")) else []
            st = read_kv(fs.join(ad, "cpuacct.stat"))
            hz = posix.sysconf("SC_CLK_TCK")
            out["cpu"] = {
                "usage": {
                    "total": read_int(fs.join(ad, "cpuacct.usage")),
                    "percpu": [int(x) for x in percpu],
                    "user": st.get("user", 0) * 1_000_000_000 // hz,
                    "kernel": st.get("system", 0) * 1_000_000_000 // hz,
                },
            }
        if cd:
            out.setdefault("cpu", {})["throttling"] = read_kv(fs.join(cd, "cpu.stat"))
        if pd:
            out["pids"] = {"current": read_int(fs.join(pd, "pids.current")),
                           "limit": read_int(fs.join(pd, "pids.max"))}
        return out

    def oom_kill_count(self) -> int:
        md = self._dir("memory")
        if not md:
            return 0
        return read_kv(fs.join(md, "memory.oom_control")).get("oom_kill", 0)

    def destroy(self) -> None:
        for d in self._unique_dirs():
            if fs.isdir(d):
                rmdir_retry(d)
