#!/usr/bin/env python3
"""Container lifecycle on dockyardd, with where the time goes.

1. `run --rm busybox true` end to end (dockyard CLI and docker CLI), and the
   same through the Engine API split into create / start / run-to-exit /
   remove, with the daemon's own phase timings (rootfs mount, network
   sandbox, spec, shim+runtime create, runtime start, exit cleanup) and the
   start-up cost of each process involved.
2. Start and remove 50 detached containers, one at a time and 8 at a time.

Docker's side in the same run: `docker run --rm busybox true` on dockerd
(the host's engine, else a private dockerd started here, with the same
busybox rootfs), timed interleaved with dockyard's; the same Engine API
phases on dockerd; the same 50 detached containers on dockerd. Issue 5's
goal: dockyard's run --rm at most 0.25x docker's (resolved at 0.5x).
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

from _common import (BIN, DOCKER_CLI, docker_engine, engine_socket, load_note, report, run_ok, summary, timeit,
                     timeit_interleaved)


def _api(d):  # type: ignore[no-untyped-def]
    from _support.engine import Engine
    return Engine(d.socket)


def phases_from_log(log: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    # started: rootfs=.. network=.. spec=.. shim+create=.. start=..ms (shim+create: handoff=..
    # shim_setup=.. runtime_create=.. reply=..ms); older daemons: ... runtime_create=..ms
    for m in re.finditer(r"started: ([^(\n]*?) (?:\(shim\+create: (.*?)\)|runtime_create=([\d.]+)ms)", log):
        for name, ms in re.findall(r"([\w+]+)=([\d.]+)ms", m.group(1)):
            out.setdefault(name, []).append(float(ms))
        inner = m.group(2) or f"runtime_create={m.group(3)}ms"
        for name, ms in re.findall(r"(\w+)=([\d.]+)ms", inner):
            out.setdefault(f"(in shim+create: {name.replace('_', ' ')})", []).append(float(ms))
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
        with docker_engine(notes) as denv:
            measure(a, d, env, denv, rows, notes)
    finally:
        d.teardown()
    ratios = [("dockyard CLI / docker CLI, same daemon", "dockyard run --rm busybox true",
               "docker run --rm busybox true (dockyardd)"),
              ("dockyard on dockyardd / docker on dockerd (issue 5: <= 0.25x, resolved at 0.5x)",
               "dockyard run --rm busybox true", "docker run --rm busybox true (dockerd)")]
    for par in (1, 8):
        ratios.append((f"start+rm detached, parallelism {par}: dockyardd / dockerd", detached_label(a.count, par, "dockyardd"),
                       detached_label(a.count, par, "dockerd")))
    report("containers", rows, ratios, notes)


def detached_label(count: int, par: int, engine: str) -> str:
    return f"start+rm {count} detached, parallelism {par} ({engine}, per container)"


def api_phases(api, runs: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    ph: dict[str, list[float]] = {"create": [], "start": [], "run to exit": [], "remove": []}
    for _ in range(runs):
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
    return ph


def detached(api, count: int, par: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds to create, start and force-remove ``count`` sleeping containers, ``par`` at a time."""
    def one(i: int) -> None:
        cid = api.create(Cmd=["sleep", "300"])
        api.ok("POST", f"/containers/{cid}/start", 204)
        api.ok("DELETE", f"/containers/{cid}", 204, query={"force": True})

    t = time.perf_counter()
    with ThreadPoolExecutor(par) as ex:
        list(ex.map(one, range(count)))
    return time.perf_counter() - t


def measure(a, d, env, denv, rows, notes) -> None:  # type: ignore[no-untyped-def]
    from _support.engine import Engine
    fns = {"dockyard run --rm busybox true":
           lambda: run_ok([os.path.join(BIN, "dockyard"), "run", "--rm", "busybox", "true"], env=env),
           "docker run --rm busybox true (dockyardd)":
           lambda: run_ok([DOCKER_CLI, "run", "--rm", "busybox", "true"], env=env)}
    if denv is not None:
        fns["docker run --rm busybox true (dockerd)"] = lambda: run_ok([DOCKER_CLI, "run", "--rm", "busybox", "true"],
                                                                      env=denv)
    for label, samples in timeit_interleaved(fns, a.runs).items():
        rows.append((label, summary(samples)))
    notes.append("run --rm rows: " + load_note())

    # The same through the API, phase by phase.
    api = _api(d)
    dapi = Engine(engine_socket(denv)) if denv is not None else None
    with open(d.log_path) as f:
        f.seek(0, 2)
        log_start = f.tell()
    ph = api_phases(api, a.runs)
    dph = api_phases(dapi, a.runs) if dapi else {}
    with open(d.log_path) as f:
        f.seek(log_start)
        daemon_phases = phases_from_log(f.read())
    print("\n== run --rm breakdown (Engine API, median ms) ==")
    print(f"  {'':40s} {'dockyardd':>9} {'dockerd':>9}")
    for k, v in ph.items():
        print(f"  {k:40s} {statistics.median(v):9.1f} " + (f"{statistics.median(dph[k]):9.1f}" if dph else ""))
    print("  -- inside dockyardd's start and exit, from its debug log --")
    for k, v in daemon_phases.items():
        print(f"  {k:40s} {statistics.median(v):9.1f}")
    print("  -- start-up of each process on the path --")
    costs = {
        "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
        "dockyard-shim --help": [os.path.join(BIN, "dockyard-shim"), "--help"],
        "dockyard-runtime --version": [os.path.join(BIN, "dockyard-runtime"), "--version"],
        "dockyard version (CLI)": [os.path.join(BIN, "dockyard"), "--help"],
    }
    for k, argv in costs.items():
        print(f"  {k:40s} {startup_ms(argv, 10):9.1f}")
    notes.append("breakdown medians (ms): " + ", ".join(f"{k}={statistics.median(v):.1f}" for k, v in
                                                       list(ph.items()) + list(daemon_phases.items())))
    if dph:
        notes.append("dockerd API breakdown medians (ms): " + ", ".join(f"{k}={statistics.median(v):.1f}"
                                                                       for k, v in dph.items()))

    # 50 detached containers started and removed, 1 and 8 at a time, on each engine in turn.
    engines = [("dockyardd", api)] + ([("dockerd", dapi)] if dapi else [])
    for par in (1, 8):
        for name, eng in engines:
            total = detached(eng, a.count, par)
            per = total / a.count * 1000
            rows.append((detached_label(a.count, par, name), {"median_ms": per, "p90_ms": per, "min_ms": per,
                                                              "runs": a.count}))
            notes.append(f"{name}: {a.count} detached containers started and removed with parallelism {par}: "
                         f"{total:.2f} s total, {a.count / total:.1f} containers/s; {load_note()}")


if __name__ == "__main__":
    main()
