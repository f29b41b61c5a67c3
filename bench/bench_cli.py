#!/usr/bin/env python3
"""CLI start-to-exit wall time: `dockyard ps`, `dockyard images` and
`dockyard version` next to `docker ps`, `docker images` and `docker version`
(the real docker CLI) against the same dockyardd, in one run; and both CLIs
against dockerd (the host's engine, else a private dockerd started here;
issue 6: the CLI must work against a real Docker daemon too).

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

from _common import BIN, REPO, docker_engine, interpreter_note, launcher_python, report, summary


def interleaved(cmds: dict[str, tuple[list[str], dict[str, str]]], runs: int,
                warmup: int = 3) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in cmds}
    for i in range(warmup + runs):
        for label, (argv, env) in cmds.items():
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
    notes: list[str] = []
    d = TestDaemon().start()
    try:
        d.import_busybox()
        env = d.env()
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for i in range(3):  # something to list
            d.cli("create", "--name", f"bench{i}", "busybox", "true", check=True)
        cmds = {"dockyard ps": ([dockyard, "ps", "-a"], env), "dockyard images": ([dockyard, "images"], env),
                "dockyard version": ([dockyard, "version"], env),
                "python -c pass (floor)": ([sys.executable, "-c", "pass"], env),
                "python -IS -c pass (floor)": ([launcher_python(), "-IS", "-c", "pass"], env)}
        from dockyard.launcher import is_fast_launcher
        notes.append(interpreter_note(launcher_python()))
        notes.append("dockyard is " + ("the fast launcher (python -IS)" if is_fast_launcher(dockyard)
                                       else "not the fast launcher: run tools/setup.sh"))
        if docker:
            cmds["docker ps"] = ([docker, "ps", "-a"], env)
            cmds["docker images"] = ([docker, "images"], env)
            cmds["docker version"] = ([docker, "version"], env)
        else:
            notes.append("docker CLI not installed: no reference times")
        with docker_engine(notes) as denv:
            if denv is not None:
                denv = dict(denv)
                denv.pop("PYTHONDONTWRITEBYTECODE", None)
                for i in range(3):
                    subprocess.run([docker, "create", "--name", f"bench{i}", "busybox", "true"], env=denv,
                                   check=True, capture_output=True)
                for verb in (["ps", "-a"], ["images"], ["version"]):
                    cmds[f"dockyard {verb[0]} (dockerd)"] = ([dockyard, *verb], denv)
                    cmds[f"docker {verb[0]} (dockerd)"] = ([docker, *verb], denv)
            times = interleaved(cmds, a.runs)
        rows = [(label, summary(samples)) for label, samples in times.items()]
        load = os.getloadavg()
        notes.append(f"load average during the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    finally:
        d.teardown()
    report("cli_startup", rows, [
        ("dockyard ps / docker ps", "dockyard ps", "docker ps"),
        ("dockyard images / docker images", "dockyard images", "docker images"),
        ("dockyard version / docker version", "dockyard version", "docker version"),
        ("dockyard ps / docker ps, both against dockerd", "dockyard ps (dockerd)", "docker ps (dockerd)"),
        ("dockyard images / docker images, both against dockerd", "dockyard images (dockerd)", "docker images (dockerd)"),
        ("dockyard version / docker version, both against dockerd", "dockyard version (dockerd)",
         "docker version (dockerd)"),
        ("python floor / docker ps", "python -c pass (floor)", "docker ps"),
        ("python -IS floor / docker ps", "python -IS -c pass (floor)", "docker ps"),
    ], notes)


if __name__ == "__main__":
    main()
