#!/usr/bin/env python3
"""dockyard-runtime against runc on the same busybox bundle running `true`,
side by side in one run (interleaved, so load from elsewhere hits both):

- `run` (create, start, wait, delete in one command),
- `create` + `start` + `delete --force` (three commands, as a shim calls them),
- both again with docker's default seccomp profile in the bundle, as the
  daemon writes it (src/dockyard/profiles, through daemon/seccomp.to_oci,
  noNewPrivileges false as docker): dockyard-runtime's compiled-filter cache
  is warm after the warm-up rounds, runc compiles through libseccomp each time,

with medians, the ratios to runc, and each runtime's peak RSS for `run`.
Also timed, in the same loop: the interpreter's floor, `python -IS -c pass`
(what every dockyard-runtime command starts with, before its first line).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import sys
import time

from _common import BIN, interpreter_note, launcher_python, peak_rss_kb, report, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    from _support.bundle import make_bundle

    ours = os.path.join(BIN, "dockyard-runtime")
    runtimes = {"dockyard-runtime": ours}
    runc = shutil.which("runc")
    if runc:
        runtimes["runc"] = runc
    tmp = tempfile.mkdtemp(prefix="dybench-rt")
    parent = f"/dybench-rt-{os.getpid()}"
    notes: list[str] = [interpreter_note(launcher_python("dockyard-runtime"))]
    try:
        bundle = os.path.join(tmp, "bundle")
        make_bundle(bundle, ["true"], cgroups_path=f"{parent}/c")
        sc_bundle = os.path.join(tmp, "bundle-seccomp")
        make_bundle(sc_bundle, ["true"], _with_docker_seccomp, cgroups_path=f"{parent}/c")
        state = os.path.join(tmp, "state")
        counter = iter(range(10_000_000))
        null = os.open(os.devnull, os.O_RDWR)

        # stdio on /dev/null: the container's init inherits it, and a pipe
        # would keep our reads open until the container exits.
        quiet = {"stdin": null, "stdout": null, "stderr": null}

        def run(exe: str, b: str = bundle) -> None:
            check(exe, "run", "--bundle", b, f"c{next(counter)}")

        parts: dict[str, list[float]] = {}

        def create_start_delete(exe: str, b: str = bundle, variant: str = "") -> None:
            cid = f"c{next(counter)}"
            for verb, args in (("create", ["create", "--bundle", b, cid]), ("start", ["start", cid]),
                               ("delete", ["delete", "--force", cid])):
                t = time.perf_counter()
                check(exe, *args)
                parts.setdefault(f"{exe}\t{verb}{variant}", []).append(time.perf_counter() - t)

        def run_seccomp(exe: str) -> None:
            run(exe, sc_bundle)

        def create_start_delete_seccomp(exe: str) -> None:
            create_start_delete(exe, sc_bundle, " docker-seccomp")

        def check(exe: str, *args: str) -> None:
            res = subprocess.run([exe, "--root", state, *args], **quiet)
            if res.returncode != 0:
                raise RuntimeError(f"{exe} {' '.join(args)} failed with {res.returncode}")

        samples: dict[str, list[float]] = {}
        floor = [launcher_python("dockyard-runtime"), "-IS", "-c", "pass"]

        def python_floor(exe: str) -> None:
            if exe == ours:
                subprocess.run(floor, check=True, **quiet)

        for label, fn in (("run", run), ("create+start+delete", create_start_delete),
                          ("run docker-seccomp", run_seccomp),
                          ("create+start+delete docker-seccomp", create_start_delete_seccomp),
                          ("python -IS -c pass (floor)", python_floor)):
            for _ in range(a.warmup):
                for exe in runtimes.values():
                    fn(exe)
            if fn in (create_start_delete, create_start_delete_seccomp):
                for key in [k for k in parts if k.endswith(" docker-seccomp") == (fn is not create_start_delete)]:
                    del parts[key]  # the warm-up's
            for _ in range(a.runs):
                for name, exe in runtimes.items():  # interleaved
                    if fn is python_floor and exe != ours:
                        continue
                    t = time.perf_counter()
                    fn(exe)
                    key = label if fn is python_floor else f"{name} {label}"
                    samples.setdefault(key, []).append(time.perf_counter() - t)
        rss = {name: peak_rss_kb([exe, "--root", state, "run", "--bundle", bundle, f"rss{next(counter)}"])
               for name, exe in runtimes.items()}
        notes.append("peak RSS of `run`: " + ", ".join(f"{n} {kb} KB" for n, kb in rss.items()))
        if not runc:
            notes.append("runc is not installed: no reference to compare with")
        notes.append(f"load average at the end: {os.getloadavg()[0]:.2f} (other work on the machine skews both)")
    finally:
        for ctrl in os.listdir("/sys/fs/cgroup"):
            p = os.path.join("/sys/fs/cgroup", ctrl, parent.strip("/"))
            for d in (os.path.join(p, "c"), p):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [(k, summary(v)) for k, v in samples.items()]
    names = {exe: name for name, exe in runtimes.items()}
    for key, v in parts.items():
        exe, verb = key.split("\t", 1)
        rows.append((f"{names[exe]} {verb} (of c+s+d)", summary(v)))
    report("runtime", rows, [
        ("run: dockyard-runtime/runc", "dockyard-runtime run", "runc run"),
        ("create+start+delete: dockyard-runtime/runc", "dockyard-runtime create+start+delete",
         "runc create+start+delete"),
        ("create alone", "dockyard-runtime create (of c+s+d)", "runc create (of c+s+d)"),
        ("start alone", "dockyard-runtime start (of c+s+d)", "runc start (of c+s+d)"),
        ("delete --force alone", "dockyard-runtime delete (of c+s+d)", "runc delete (of c+s+d)"),
        ("run, docker seccomp: dockyard-runtime/runc", "dockyard-runtime run docker-seccomp",
         "runc run docker-seccomp"),
        ("create+start+delete, docker seccomp: dockyard-runtime/runc",
         "dockyard-runtime create+start+delete docker-seccomp", "runc create+start+delete docker-seccomp"),
        ("create alone, docker seccomp", "dockyard-runtime create docker-seccomp (of c+s+d)",
         "runc create docker-seccomp (of c+s+d)"),
        ("create: docker seccomp / none", "dockyard-runtime create docker-seccomp (of c+s+d)",
         "dockyard-runtime create (of c+s+d)"),
        ("python -IS floor / runc start", "python -IS -c pass (floor)", "runc start (of c+s+d)"),
    ], notes)


def _with_docker_seccomp(spec: dict) -> None:
    """linux.seccomp as the daemon writes it for a default container."""
    from dockyard.daemon.seccomp import default_profile, to_oci
    spec["process"]["noNewPrivileges"] = False
    spec["linux"]["seccomp"] = to_oci(default_profile(), spec["process"]["capabilities"]["bounding"])


if __name__ == "__main__":
    main()
