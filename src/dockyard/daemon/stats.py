"""GET /containers/{id}/stats: docker's StatsJSON from what the shim reads in
the container's cgroup, plus the host figures docker adds (system CPU time,
online CPUs, the machine's memory as the limit of an unlimited container).
A stream gives one sample a second with the previous one as precpu_stats;
stream=false waits for a second sample so CPU usage is not zero; one-shot
answers at once."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any, AsyncIterator

from .. import errdefs
from .container import Container, Status
from .timeutil import rfc3339

if TYPE_CHECKING:
    from .daemon import Daemon

ZERO = "0001-01-01T00:00:00Z"
INTERVAL = 1.0
NO_STREAM_INTERVAL = 0.5
_CLK = os.sysconf("SC_CLK_TCK")


def system_cpu_usage() -> int:
    """Host CPU time in ns, as docker reads it from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                return sum(int(x) for x in line.split()[1:8]) * 1_000_000_000 // _CLK
    return 0


def online_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def machine_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _zero_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def empty(c: Container) -> dict[str, Any]:
    """What docker answers for a container that does not run."""
    return {"read": ZERO, "preread": ZERO, "pids_stats": {}, "blkio_stats": {
        "io_service_bytes_recursive": None, "io_serviced_recursive": None, "io_queue_recursive": None,
        "io_service_time_recursive": None, "io_wait_time_recursive": None, "io_merged_recursive": None,
        "io_time_recursive": None, "sectors_recursive": None}, "num_procs": 0, "storage_stats": {},
        "cpu_stats": _zero_cpu(), "precpu_stats": _zero_cpu(), "memory_stats": {},
        "name": c.name, "id": c.id}


class StatsService:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon
        self._mem = machine_memory()

    async def sample(self, c: Container) -> dict[str, Any] | None:
        task = c.task
        if task is None or c.status not in (Status.RUNNING, Status.PAUSED):
            return None
        try:
            raw = await task.stats()
        except errdefs.EngineError:
            return None
        s: dict[str, Any] = {"read": rfc3339(time.time()), "num_procs": 0, "storage_stats": {}}
        cpu = raw.get("cpu_stats") or _zero_cpu()
        cpu["system_cpu_usage"] = system_cpu_usage()
        cpu["online_cpus"] = online_cpus()
        s["cpu_stats"] = cpu
        mem = raw.get("memory_stats") or {}
        if mem.get("limit", 0) > self._mem:
            mem["limit"] = self._mem
        s["memory_stats"] = mem
        s["pids_stats"] = raw.get("pids_stats") or {}
        s["blkio_stats"] = raw.get("blkio_stats") or {}
        if "networks" in raw:
            s["networks"] = raw["networks"]
        s["name"] = c.name
        s["id"] = c.id
        return s

    async def stream(self, ref: str, stream: bool, one_shot: bool) -> AsyncIterator[dict[str, Any]]:
        if stream and one_shot:
            raise errdefs.InvalidArgument("cannot have stream=true and one-shot=true")
        c = self.d.containers_store.get(ref)
        if not stream and (not c.is_running() or c.status is Status.RESTARTING):
            yield empty(c)
            return
        prev: dict[str, Any] | None = None
        first = True
        while True:
            cur = await self.sample(c)
            if cur is None:
                cur = empty(c)
                prev = None
            out = dict(cur)
            if prev is not None:
                out["preread"] = prev["read"]
                out["precpu_stats"] = prev["cpu_stats"]
            else:
                out["preread"] = ZERO
                out["precpu_stats"] = _zero_cpu()
            if one_shot:
                yield out
                return
            if not stream and first:
                # Prime the CPU figures, as docker's no-stream does.
                first = False
                prev = cur if cur.get("read") != ZERO else None
                await asyncio.sleep(NO_STREAM_INTERVAL)
                continue
            yield out
            if not stream:
                return
            prev = cur if cur.get("read") != ZERO else None
            await asyncio.sleep(INTERVAL)
