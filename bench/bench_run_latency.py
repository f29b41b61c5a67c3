#!/usr/bin/env python3
"""End-to-end `run --rm busybox true` latency.

Side by side in one run:
- dockyard CLI -> dockyardd (the whole stack),
- docker CLI -> dockyardd (same daemon, docker's client),
- docker CLI -> dockerd (the host's engine, else a private dockerd started
  here; the ratio issue 5 asks for: at most 0.25x docker's, resolved at 0.5x),
  the three timed interleaved, round after round,
- the runtime alone: dockyard-runtime run vs runc run on the same busybox bundle.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile

from _common import (BIN, DOCKER_CLI, docker_engine, load_note, peak_rss_kb, report, run_ok, summary, timeit,
                     timeit_interleaved)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    from _support.bundle import make_bundle
    from _support.daemon import TestDaemon

    rows = []
    notes = []
    d = TestDaemon().start()
    try:
        d.import_busybox()
        env = d.env()
        with docker_engine(notes) as denv:
            fns = {"dockyard run --rm (dockyardd)":
                   lambda: run_ok([os.path.join(BIN, "dockyard"), "run", "--rm", "busybox", "true"], env=env)}
            if os.path.exists(DOCKER_CLI):
                fns["docker run --rm (dockyardd)"] = lambda: run_ok([DOCKER_CLI, "run", "--rm", "busybox", "true"],
                                                                    env=env)
            if denv is not None:
                fns["docker run --rm (dockerd)"] = lambda: run_ok([DOCKER_CLI, "run", "--rm", "busybox", "true"],
                                                                  env=denv)
            times = timeit_interleaved(fns, a.runs)
            rows += [(label, summary(samples)) for label, samples in times.items()]
            notes.append(load_note())
    finally:
        d.teardown()

    tmp = tempfile.mkdtemp(prefix="dybench")
    try:
        bundle = os.path.join(tmp, "bundle")
        make_bundle(bundle, ["true"], cgroups_path="/dybench/c")
        state = os.path.join(tmp, "state")
        counter = iter(range(1_000_000))
        ours = os.path.join(BIN, "dockyard-runtime")
        rows.append(("dockyard-runtime run", summary(timeit(
            lambda: run_ok([ours, "--root", state, "run", "--bundle", bundle, f"d{next(counter)}"]), a.runs))))
        runc = shutil.which("runc")
        if runc:
            rows.append(("runc run", summary(timeit(
                lambda: run_ok([runc, "--root", state, "run", "--bundle", bundle, f"r{next(counter)}"]), a.runs))))
        rss = peak_rss_kb([ours, "--root", state, "run", "--bundle", bundle, "rss1"])
        notes.append(f"dockyard-runtime run peak RSS: {rss} KB" +
                     (f"; runc: {peak_rss_kb([runc, '--root', state, 'run', '--bundle', bundle, 'rss2'])} KB" if runc else ""))
    finally:
        subprocess.run(["rmdir", "/sys/fs/cgroup/memory/dybench"], stderr=subprocess.DEVNULL)
        for ctrl in os.listdir("/sys/fs/cgroup"):
            p = os.path.join("/sys/fs/cgroup", ctrl, "dybench")
            if os.path.isdir(p):
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)
    report("run_latency", rows, [
        ("dockyard/docker CLI on dockyardd", "dockyard run --rm (dockyardd)", "docker run --rm (dockyardd)"),
        ("dockyard on dockyardd / docker on dockerd (issue 5: <= 0.25x, resolved at 0.5x)",
         "dockyard run --rm (dockyardd)", "docker run --rm (dockerd)"),
        ("dockyard-runtime/runc", "dockyard-runtime run", "runc run"),
    ], notes)


if __name__ == "__main__":
    main()
