"""cgroup v2: one directory in the unified hierarchy."""

from __future__ import annotations

import errno

from .._sys import fs
from .common import read_file, read_int, read_kv, rmdir_retry, write_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) to cpu.weight (1..10000), as runc converts."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


class V2Manager:
    def __init__(self, cgroups_path: str, root: str = "/sys/fs/cgroup") -> None:
        self.path = cgroups_path
        self.root = root
        self.dir = root.rstrip("/") + cgroups_path

    def paths(self) -> dict[str, str]:
        return {"": self.dir}

    def placement(self) -> tuple[list[str], str]:
        """(v1 directories, cgroup2 directory): where a process joins."""
        return [], self.dir

    def exists(self) -> bool:
        return fs.isdir(self.dir)

    def create(self) -> None:
        # Enable every available controller down the chain so limits apply.
        rel = self.path.strip("/").split("/")
        cur = self.root.rstrip("/")
        for part in rel:
            try:
                avail = read_file(fs.join(cur, "cgroup.controllers")).split()
                if avail:
                    write_file(fs.join(cur, "cgroup.subtree_control"), " ".join("+" + c for c in avail))
            except OSError:
                pass
            cur = fs.join(cur, part)
            fs.makedirs(cur, exist_ok=True)

    def add_pid(self, pid: int) -> None:
        write_file(fs.join(self.dir, "cgroup.procs"), str(pid))

    def _write(self, name: str, value: str) -> None:
        path = fs.join(self.dir, name)
        try:
            write_file(path, value)
        except FileNotFoundError:
            raise OSError(errno.ENOTSUP, f"cgroup v2 file {name} is not available (controller not enabled)") from None

    def set_resources(self, resources: dict[str, Any]) -> None:
        if not resources:
            return
        mem = resources.get("memory") or {}
        if mem.get("limit") is not None:
            self._write("memory.max", "max" if mem["limit"] == -1 else str(mem["limit"]))
        if mem.get("reservation") is not None:
            self._write("memory.low", str(mem["reservation"]))
        if mem.get("swap") is not None:
            swap = mem["swap"]
            limit = mem.get("limit")
            # OCI swap is memory+swap; v2's swap.max is swap alone.
            if swap == -1:
                value = "max"
            elif limit not in (None, -1):
                value = str(max(swap - limit, 0))
            else:
                value = str(swap)
            self._write("memory.swap.max", value)
        cpu = resources.get("cpu") or {}
        if cpu.get("shares"):
            self._write("cpu.weight", str(shares_to_weight(int(cpu["shares"]))))
        if cpu.get("quota") is not None or cpu.get("period"):
            quota = cpu.get("quota")
            period = cpu.get("period") or 100000
            self._write("cpu.max", f"{'max' if quota in (None, -1, 0) else quota} {period}")
        if cpu.get("cpus"):
            self._write("cpuset.cpus", cpu["cpus"])
        if cpu.get("mems"):
            self._write("cpuset.mems", cpu["mems"])
        pids = resources.get("pids") or {}
        if pids.get("limit") is not None:
            limit = pids["limit"]
            self._write("pids.max", "max" if limit <= 0 else str(limit))
        blkio = resources.get("blockIO") or {}
        if blkio.get("weight"):
            # blkio weight 10..1000 to io.weight 1..10000
            self._write("io.weight", str(1 + (int(blkio["weight"]) - 10) * 9999 // 990))
        unified = resources.get("unified") or {}
        for k, v in unified.items():
            if "/" in k or k.startswith("."):
                raise ValueError(f"invalid unified cgroup key {k!r}")
            self._write(k, str(v))

    def freeze(self) -> None:
        self._freeze("1")

    def thaw(self) -> None:
        self._freeze("0")

    def _freeze(self, v: str) -> None:
        import time
        self._write("cgroup.freeze", v)
        want = "frozen 1" if v == "1" else "frozen 0"
        for _ in range(1000):
            try:
                if want in read_file(fs.join(self.dir, "cgroup.events")):
                    return
            except OSError:
                return
            time.sleep(0.001)

    def is_frozen(self) -> bool:
        try:
            return read_file(fs.join(self.dir, "cgroup.freeze")).strip() == "1"
        except OSError:
            return False

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in read_file(fs.join(self.dir, "cgroup.procs")).split()]
        except OSError:
            return []

    def stats(self) -> dict[str, Any]:
        d = self.dir
        cpu = read_kv(fs.join(d, "cpu.stat"))
        return {
            "memory": {
                "usage": read_int(fs.join(d, "memory.current")),
                "max_usage": read_int(fs.join(d, "memory.peak")),
                "limit": read_int(fs.join(d, "memory.max")),
                "stats": read_kv(fs.join(d, "memory.stat")),
            },
            "cpu": {
                "usage": {"total": cpu.get("usage_usec", 0) * 1000,
                          "user": cpu.get("user_usec", 0) * 1000,
                          "kernel": cpu.get("system_usec", 0) * 1000, "percpu": []},
                "throttling": {"nr_periods": cpu.get("nr_periods", 0),
                               "nr_throttled": cpu.get("nr_throttled", 0),
                               "throttled_time": cpu.get("throttled_usec", 0) * 1000},
            },
            "pids": {"current": read_int(fs.join(d, "pids.current")),
                     "limit": read_int(fs.join(d, "pids.max"))},
        }

    def oom_kill_count(self) -> int:
        return read_kv(fs.join(self.dir, "memory.events")).get("oom_kill", 0)

    def destroy(self) -> None:
        if fs.isdir(self.dir):
            rmdir_retry(self.dir)
