"""update: change resources and the restart policy of containers."""

from __future__ import annotations

import sys

from ... import errdefs
from ..errors import CLIError
from . import opts as o
from .common import Parser, client, daemon_error, flag_set


def cmd_update(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard update", usage="dockyard update [OPTIONS] CONTAINER [CONTAINER...]")
    a = p.add_argument
    a("--blkio-weight", type=int, default=0, kind="uint16",
      help="Block IO (relative weight), between 10 and 1000, or 0 to disable")
    a("--cpu-period", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) period")
    a("--cpu-quota", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) quota")
    a("--cpu-rt-period", type=int, default=0, help="Limit the CPU real-time period in microseconds")
    a("--cpu-rt-runtime", type=int, default=0, help="Limit the CPU real-time runtime in microseconds")
    a("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)")
    a("--cpus", type=o.nano_cpus, default=0, kind="decimal", help="Number of CPUs")
    a("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    a("--cpuset-mems", default="", help="MEMs in which to allow execution (0-3, 0,1)")
    a("--kernel-memory", type=o.ram_bytes, default=0, kind="bytes", help="Kernel memory limit (deprecated)",
      hidden=True)
    a("-m", "--memory", type=o.ram_bytes, default=0, kind="bytes", help="Memory limit")
    a("--memory-reservation", type=o.ram_bytes, default=0, kind="bytes", help="Memory soft limit")
    a("--memory-swap", type=o.mem_swap_bytes, default=0, kind="bytes",
      help="Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    a("--pids-limit", type=int, default=0, help="Tune container pids limit (set -1 for unlimited)")
    a("--restart", default="", help="Restart policy to apply when a container exits")
    a("containers", nargs="+", metavar="CONTAINER")
    ns = p.parse_args(argv)
    body: dict = {}
    fields = {"blkio_weight": "BlkioWeight", "cpu_period": "CpuPeriod", "cpu_quota": "CpuQuota",
              "cpu_rt_period": "CpuRealtimePeriod", "cpu_rt_runtime": "CpuRealtimeRuntime",
              "cpu_shares": "CpuShares", "cpus": "NanoCpus", "cpuset_cpus": "CpusetCpus",
              "cpuset_mems": "CpusetMems", "kernel_memory": "KernelMemory", "memory": "Memory",
              "memory_reservation": "MemoryReservation", "memory_swap": "MemorySwap", "pids_limit": "PidsLimit"}
    for dest, key in fields.items():
        if flag_set(ns, dest):
            body[key] = getattr(ns, dest)
    if ns.restart:
        try:
            body["RestartPolicy"] = o.restart_policy(ns.restart)
        except ValueError as e:
            raise CLIError(str(e), 1) from None
    if not body:
        raise CLIError("you must provide one or more flags when using this command", 1)
    api = client(gopts)
    errors = []
    for c in ns.containers:
        try:
            res = api.container_update(c, body)
        except errdefs.EngineError as e:
            errors.append(daemon_error(e).args[0])
            continue
        for w in res.get("Warnings") or []:
            sys.stderr.write(f"WARNING: {w}\n")
        sys.stdout.write(c + "\n")
    if errors:
        raise CLIError("\n".join(errors), 1)
    return 0
