#!/usr/bin/env python3
"""Container lifecycle on dockyardd, with where the time goes.

1. `run --rm busybox true` end to end (dockyard CLI and docker CLI), and the
   same through the Engine API split into create / start / run-to-exit /
   remove, with the daemon's own phase timings (rootfs mount, network
   sandbox, spec, shim+runtime create, runtime start, exit cleanup) and the
   start-up cost of each process involved.
2. Start and remove 50 detached containers, one at a time and 8 at a time.

No Docker engine runs on this machine (the docker binary is the client
only), so docker's side of every ratio is not measurable here; the figures
are absolute.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from _common import BIN, docker_daemon_available, report, run_ok, summary, timeit


def _api(d):  # type: ignore[no-untyped-def]
    from _support.engine import Engine
    return Engine(d.socket)


def phases_from_log(log: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for m in re.finditer(r"started: (.*?) runtime_create=([\d.]+)ms", log):
        for name, ms in re.findall(r"([\w+]+)=([\d.]+)ms", m.group(1)):
            out.setdefault(name, []).append(float(ms))
        out.setdefault("(in shim: runtime create)", []).append(float(m.group(2)))
    for m in re.finditer(r"exit cleanup: delete=([\d.]+)ms release=([\d.]+)ms", log):
        out.setdefault("exit: task delete (runtime delete)", []).append(float(m.group(1)))
        out.setdefault("exit: release (unmount, sandbox)", []).append(float(m.group(2)))
    return out


def startup_ms(argv: list[str], runs: int) -> float:
    return statistics.median(timeit(lambda: run_ok(argv), runs, warmup=1)) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--count", type=int, default=50)
    a, _ = ap.parse_known_args()
    from _support.daemon import TestDaemon

    rows, notes = [], []
    d = TestDaemon().start()
    try:
        d.import_busybox()
        env = d.env()
        rows.append(("dockyard run --rm busybox true", summary(timeit(
            lambda: run_ok([os.path.join(BIN, "dockyard"), "run", "--rm", "busybox", "true"], env=env), a.runs))))
        rows.append(("docker run --rm busybox true (dockyardd)", summary(timeit(
            lambda: run_ok(["/usr/local/bin/docker", "run", "--rm", "busybox", "true"], env=env), a.runs))))

        # The same through the API, phase by phase.
        api = _api(d)
        with open(d.log_path) as f:
            f.seek(0, 2)
            log_start = f.tell()
        ph: dict[str, list[float]] = {"create": [], "start": [], "run to exit": [], "remove": []}
        for _ in range(a.runs):
            t0 = time.perf_counter()
            cid = api.create(Cmd=["true"])
            t1 = time.perf_counter()
            api.ok("POST", f"/containers/{cid}/start", 204)
            t2 = time.perf_counter()
            api.wait(cid)
            t3 = time.perf_counter()
            api.ok("DELETE", f"/containers/{cid}", 204)
            t4 = time.perf_counter()
            for k, v in zip(ph, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                ph[k].append(v * 1000)
        with open(d.log_path) as f:
            f.seek(log_start)
            daemon_phases = phases_from_log(f.read())
        print("\n== run --rm breakdown (Engine API, median ms) ==")
        for k, v in ph.items():
            print(f"  {k:40s} {statistics.median(v):8.1f}")
        print("  -- inside start and exit, from the daemon's debug log --")
        for k, v in daemon_phases.items():
            print(f"  {k:40s} {statistics.median(v):8.1f}")
        print("  -- start-up of each process on the path --")
        costs = {
            "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
            "dockyard-shim --help": [os.path.join(BIN, "dockyard-shim"), "--help"],
            "dockyard-runtime --version": [os.path.join(BIN, "dockyard-runtime"), "--version"],
            "dockyard version (CLI)": [os.path.join(BIN, "dockyard"), "--help"],
        }
        for k, argv in costs.items():
            print(f"  {k:40s} {startup_ms(argv, 10):8.1f}")
        notes.append("breakdown medians (ms): " + ", ".join(f"{k}={statistics.median(v):.1f}" for k, v in
                                                           list(ph.items()) + list(daemon_phases.items())))

        # 50 detached containers started and removed, 1 and 8 at a time.
        def one(i: int) -> None:
            cid = api.create(Cmd=["sleep", "300"])
            api.ok("POST", f"/containers/{cid}/start", 204)
            api.ok("DELETE", f"/containers/{cid}", 204, query={"force": True})

        for par in (1, 8):
            t = time.perf_counter()
            with ThreadPoolExecutor(par) as ex:
                list(ex.map(one, range(a.count)))
            total = time.perf_counter() - t
            rows.append((f"start+rm {a.count} detached, parallelism {par} (per container)",
                         {"median_ms": total / a.count * 1000, "p90_ms": total / a.count * 1000,
                          "min_ms": total / a.count * 1000, "runs": a.count}))
            notes.append(f"{a.count} detached containers started and removed with parallelism {par}: "
                         f"{total:.2f} s total, {a.count / total:.1f} containers/s")
    finally:
        d.teardown()
    if not docker_daemon_available():
        notes.append("no Docker engine runs on this machine (docker here is the client only): the ratio to "
                     "docker's own latency (goal 0.25x) cannot be measured; figures are absolute")
    report("containers", rows, [("dockyard CLI / docker CLI, same daemon", "dockyard run --rm busybox true",
                                 "docker run --rm busybox true (dockyardd)")], notes)


if __name__ == "__main__":
    main()
