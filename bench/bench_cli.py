#!/usr/bin/env python3
"""CLI start-to-exit wall time: `dockyard ps`, `dockyard images` and
`dockyard version` next to `docker ps`, `docker images` and `docker version`
(the real docker CLI, client only) against the same dockyardd, in one run.

The commands are timed interleaved (dockyard, docker, dockyard, ...) so that
load from other processes on the machine hits both alike. The package is
byte-compiled first, as an installed package is (this checkout may run with
PYTHONDONTWRITEBYTECODE). Also shown: the interpreter's own floors,
`python -c pass` with the venv's site (what pip's scripts start with) and
`python -IS -c pass` (what tools/setup.sh's launcher starts with, see
src/dockyard/launcher.py), which no Python CLI can go below.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

from _common import BIN, REPO, report, summary


def interleaved(cmds: dict[str, list[str]], env: dict[str, str], runs: int, warmup: int = 3) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in cmds}
    for i in range(warmup + runs):
        for label, argv in cmds.items():
            t = time.perf_counter()
            res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            dt = time.perf_counter() - t
            if res.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed: {res.stderr.decode(errors='replace')}")
            if i >= warmup:
                out[label].append(dt)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    a = ap.parse_args()
    from _support.daemon import TestDaemon

    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(REPO, "src", "dockyard")],
                   stdout=subprocess.DEVNULL, check=True)
    dockyard = os.path.join(BIN, "dockyard")
    docker = shutil.which("docker")
    notes = ["no Docker engine runs on this machine (docker is the client only): both CLIs talk to dockyardd"]
    d = TestDaemon().start()
    try:
        d.import_busybox()
        env = d.env()
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for i in range(3):  # something to list
            d.cli("create", "--name", f"bench{i}", "busybox", "true", check=True)
        cmds = {"dockyard ps": [dockyard, "ps", "-a"], "dockyard images": [dockyard, "images"],
                "dockyard version": [dockyard, "version"], "python -c pass (floor)": [sys.executable, "-c", "pass"],
                "python -IS -c pass (floor)": [sys.executable, "-IS", "-c", "pass"]}
        from dockyard.launcher import is_fast_launcher
        notes.append("dockyard is " + ("the fast launcher (python -IS)" if is_fast_launcher(dockyard)
                                       else "not the fast launcher: run tools/setup.sh"))
        if docker:
            cmds["docker ps"] = [docker, "ps", "-a"]
            cmds["docker images"] = [docker, "images"]
            cmds["docker version"] = [docker, "version"]
        else:
            notes.append("docker CLI not installed: no reference times")
        times = interleaved(cmds, env, a.runs)
        rows = [(label, summary(samples)) for label, samples in times.items()]
        load = os.getloadavg()
        notes.append(f"load average during the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    finally:
        d.teardown()
    report("cli_startup", rows, [
        ("dockyard ps / docker ps", "dockyard ps", "docker ps"),
        ("dockyard images / docker images", "dockyard images", "docker images"),
        ("dockyard version / docker version", "dockyard version", "docker version"),
        ("python floor / docker ps", "python -c pass (floor)", "docker ps"),
        ("python -IS floor / docker ps", "python -IS -c pass (floor)", "docker ps"),
    ], notes)


if __name__ == "__main__":
    main()
