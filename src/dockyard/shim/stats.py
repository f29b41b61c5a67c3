"""The container's resource usage in docker's stats shapes (cpu_stats,
memory_stats, pids_stats, blkio_stats, networks), read straight from its
cgroup (v1 or v2) and from /proc/<init>/net/dev."""

from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of the long-lived shim's memory
    from typing import Any

from ..cgroups import open_manager
from ..cgroups.common import normalize_path

_CLK = os.sysconf("SC_CLK_TCK")
_MAX = (1 << 63) - 1


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _int(path: str, default: int = 0) -> int:
    v = _read(path).strip()
    if not v:
        return default
    if v == "max":
        return _MAX
    try:
        return int(v)
    except ValueError:
        return default


def _kv(path: str) -> dict[str, int]:
    out = {}
    for line in _read(path).splitlines():
        p = line.split()
        if len(p) == 2:
            try:
                out[p[0]] = int(p[1])
            except ValueError:
                pass
    return out


def _blkio_v1(path: str) -> list[dict[str, Any]]:
    out = []
    for line in _read(path).splitlines():
        p = line.split()
        if len(p) == 3 and ":" in p[0]:
            major, minor = p[0].split(":")
            out.append({"major": int(major), "minor": int(minor), "op": p[1], "value": int(p[2])})
    return out


def _networks(pid: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in _read(f"/proc/{pid}/net/dev").splitlines()[2:]:
        name, _, rest = line.partition(":")
        name = name.strip()
        f = rest.split()
        if name == "lo" or len(f) < 16:
            continue
        n = [int(x) for x in f]
        out[name] = {"rx_bytes": n[0], "rx_packets": n[1], "rx_errors": n[2], "rx_dropped": n[3],
                     "tx_bytes": n[8], "tx_packets": n[9], "tx_errors": n[10], "tx_dropped": n[11]}
    return out


def collect(cgroups_path: str, pid: int) -> dict[str, Any]:
    mgr = open_manager(normalize_path(cgroups_path, cgroups_path))
    paths = mgr.paths()
    out: dict[str, Any]
    if "" in paths:
        out = _v2(paths[""])
    else:
        out = _v1(paths)
    if pid:
        out["networks"] = _networks(pid)
    return out


def _v1(paths: dict[str, str]) -> dict[str, Any]:
    acct = paths.get("cpuacct", "")
    cpu = paths.get("cpu", "")
    mem = paths.get("memory", "")
    pids = paths.get("pids", "")
    blkio = paths.get("blkio", "")
    st = _kv(os.path.join(acct, "cpuacct.stat"))
    thr = _kv(os.path.join(cpu, "cpu.stat"))
    percpu = [int(x) for x in _read(os.path.join(acct, "cpuacct.usage_percpu")).split()]
    limit = _int(os.path.join(pids, "pids.max"), 0)
    return {
        "cpu_stats": {
            "cpu_usage": {"total_usage": _int(os.path.join(acct, "cpuacct.usage")), "percpu_usage": percpu,
                          "usage_in_kernelmode": st.get("system", 0) * 1_000_000_000 // _CLK,
                          "usage_in_usermode": st.get("user", 0) * 1_000_000_000 // _CLK},
            "throttling_data": {"periods": thr.get("nr_periods", 0), "throttled_periods": thr.get("nr_throttled", 0),
                                "throttled_time": thr.get("throttled_time", 0)},
        },
        "memory_stats": {
            "usage": _int(os.path.join(mem, "memory.usage_in_bytes")),
            "max_usage": _int(os.path.join(mem, "memory.max_usage_in_bytes")),
            "stats": _kv(os.path.join(mem, "memory.stat")),
            "failcnt": _int(os.path.join(mem, "memory.failcnt")),
            "limit": _int(os.path.join(mem, "memory.limit_in_bytes")),
        },
        "pids_stats": {"current": _int(os.path.join(pids, "pids.current"))} |
                      ({"limit": limit} if 0 < limit < _MAX else {}),
        "blkio_stats": {
            "io_service_bytes_recursive": _blkio_v1(os.path.join(blkio, "blkio.throttle.io_service_bytes_recursive")),
            "io_serviced_recursive": _blkio_v1(os.path.join(blkio, "blkio.throttle.io_serviced_recursive")),
            "io_queue_recursive": [], "io_service_time_recursive": [], "io_wait_time_recursive": [],
            "io_merged_recursive": [], "io_time_recursive": [], "sectors_recursive": [],
        },
    }


def _v2(path: str) -> dict[str, Any]:
    cs = _kv(os.path.join(path, "cpu.stat"))
    ms = _kv(os.path.join(path, "memory.stat"))
    io = []
    for line in _read(os.path.join(path, "io.stat")).splitlines():
        p = line.split()
        if not p or ":" not in p[0]:
            continue
        major, minor = (int(x) for x in p[0].split(":"))
        kv = dict(x.split("=", 1) for x in p[1:] if "=" in x)
        for key, op in (("rbytes", "read"), ("wbytes", "write")):
            if key in kv:
                io.append({"major": major, "minor": minor, "op": op, "value": int(kv[key])})
    limit = _int(os.path.join(path, "pids.max"), 0)
    return {
        "cpu_stats": {
            "cpu_usage": {"total_usage": cs.get("usage_usec", 0) * 1000,
                          "usage_in_kernelmode": cs.get("system_usec", 0) * 1000,
                          "usage_in_usermode": cs.get("user_usec", 0) * 1000},
            "throttling_data": {"periods": cs.get("nr_periods", 0), "throttled_periods": cs.get("nr_throttled", 0),
                                "throttled_time": cs.get("throttled_usec", 0) * 1000},
        },
        "memory_stats": {"usage": _int(os.path.join(path, "memory.current")), "stats": ms,
                         "limit": _int(os.path.join(path, "memory.max"), _MAX)},
        "pids_stats": {"current": _int(os.path.join(path, "pids.current"))} |
                      ({"limit": limit} if 0 < limit < _MAX else {}),
        "blkio_stats": {"io_service_bytes_recursive": io, "io_serviced_recursive": None, "io_queue_recursive": None,
                        "io_service_time_recursive": None, "io_wait_time_recursive": None,
                        "io_merged_recursive": None, "io_time_recursive": None, "sectors_recursive": None},
    }
