#!/usr/bin/env python3
"""Image builds: a ~10-instruction Dockerfile over a 50 MB context of many
small files, cold (--no-cache) and fully cached.

Side by side in one run:
- dockyard build -> dockyardd (CLI makes and streams the context tar),
- DOCKER_BUILDKIT=0 docker build -> dockyardd (docker's Go CLI makes the tar),
- the CLI's tarball made beforehand and sent straight to POST /build (the
  daemon's share plus the socket: spool, index and hash the context, cache
  lookups, the final image record),
- on dockerd (the host's engine, else a private dockerd started here, with
  the same busybox rootfs): the classic builder (DOCKER_BUILDKIT=0 docker
  build) and BuildKit (DOCKER_BUILDKIT=1 with the 20.10 client at
  /usr/bin/docker, whose BuildKit is built into dockerd; docker 28's client
  needs the buildx plugin). Cold runs start from nothing: the image removed
  and, for BuildKit, its cache and synced context pruned (docker builder
  prune -af); cached runs follow a build that filled the cache. Cold and
  cached rounds are interleaved across the builders. Issue 7's goal: the
  cached rebuild faster with dockyard than with BuildKit.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time

from _common import BIN, DOCKER_CLI, docker_engine, load_note, report, run_ok, summary, timeit

BUILDKIT_CLI = "/usr/bin/docker"  # Debian's 20.10 client: DOCKER_BUILDKIT=1 without buildx

DOCKERFILE = """\
FROM busybox
ARG VERSION=1
ENV APP=/app
WORKDIR /app
COPY vendor/ /app/vendor/
RUN find /app/vendor -type f | wc -l > /app/vendor.count
COPY src/ /app/src/
RUN du -sk /app > /app/size
LABEL version=$VERSION
EXPOSE 8080
CMD ["sh", "-c", "cat /app/size"]
"""


def make_context(root: str, total_mb: int, file_kb: int) -> tuple[int, int]:
    """Random (incompressible) files spread over directories: 3/4 in vendor/, 1/4 in src/."""
    rnd = random.Random(42)
    n = total_mb * 1024 // file_kb
    for i in range(n):
        top = "vendor" if i % 4 else "src"
        d = os.path.join(root, top, f"pkg{i % 97:02d}", f"mod{i % 13}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i}.dat"), "wb") as f:
            f.write(rnd.randbytes(rnd.randint(file_kb * 512, file_kb * 1536)))
    with open(os.path.join(root, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    with open(os.path.join(root, ".dockerignore"), "w") as f:
        f.write("**/*.tmp\n")
    size = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(root) for fn in fns)
    return n, size


def tarball(root: str) -> bytes:
    """The very bytes `dockyard build` would send (made once, outside the timing)."""
    from dockyard.build.dockerignore import PatternMatcher, read_patterns
    from dockyard.cli.commands.build import ContextTar
    with open(os.path.join(root, ".dockerignore"), "rb") as f:
        matcher = PatternMatcher(read_patterns(f.read()))
    return b"".join(ContextTar(root, matcher, {"Dockerfile", ".dockerignore"}).chunks())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--file-kb", type=int, default=8)
    a = ap.parse_args()
    from _support.daemon import TestDaemon

    tmp = tempfile.mkdtemp(prefix="dybuild")
    rows = []
    notes = []
    ctx = os.path.join(tmp, "ctx")
    files, size = make_context(ctx, a.mb, a.file_kb)
    notes.append(f"context: {files} files, {size / 1e6:.1f} MB; Dockerfile: {DOCKERFILE.count(chr(10))} "
                 "instructions (2 COPY of the context, 2 RUN, metadata)")
    d = TestDaemon().start()
    try:
        d.import_busybox()
        env = d.env()
        with docker_engine(notes) as denv:
            measure(a, d, env, denv, ctx, rows, notes)
    finally:
        d.teardown()
        shutil.rmtree(tmp, ignore_errors=True)
    report("build", rows, [
        ("cold/cached (dockyard build)", "cold: dockyard build --no-cache", "cached: dockyard build"),
        ("dockyard CLI/docker CLI, cached, same daemon", "cached: dockyard build",
         "cached: DOCKER_BUILDKIT=0 docker build (dockyardd)"),
        ("cold: dockyard / classic builder on dockerd", "cold: dockyard build --no-cache",
         "cold: DOCKER_BUILDKIT=0 docker build --no-cache (dockerd)"),
        ("cold: dockyard / BuildKit on dockerd", "cold: dockyard build --no-cache", "cold: BuildKit (dockerd)"),
        ("cached: dockyard / classic builder on dockerd", "cached: dockyard build",
         "cached: DOCKER_BUILDKIT=0 docker build (dockerd)"),
        ("cached: dockyard / BuildKit on dockerd (issue 7: < 1)", "cached: dockyard build", "cached: BuildKit (dockerd)"),
    ], notes)


def rounds(sides: dict[str, tuple[list[str], dict[str, str], list[list[str]]]], runs: int,
           warmup: int) -> dict[str, list[float]]:
    """Each side's build once per round; its preparation commands (not timed) right before it."""
    out: dict[str, list[float]] = {k: [] for k in sides}
    for i in range(warmup + runs):
        for label, (argv, env, prepare) in sides.items():
            for cmd in prepare:
                subprocess.run(cmd, env=env, capture_output=True)
            t = time.perf_counter()
            run_ok(argv, env=env)
            if i >= warmup:
                out[label].append(time.perf_counter() - t)
    return out


def measure(a, d, env, denv, ctx: str, rows, notes) -> None:  # type: ignore[no-untyped-def]
    dockyard = os.path.join(BIN, "dockyard")
    cold = {"cold: dockyard build --no-cache":
            ([dockyard, "build", "-q", "--no-cache", "-t", "bench:1", ctx], env, [[dockyard, "rmi", "bench:1"]])}
    cached = {"cached: dockyard build": ([dockyard, "build", "-q", "-t", "bench:1", ctx], env, [])}
    if denv is not None:
        classic = dict(denv, DOCKER_BUILDKIT="0")
        buildkit = dict(denv, DOCKER_BUILDKIT="1")
        cold["cold: DOCKER_BUILDKIT=0 docker build --no-cache (dockerd)"] = (
            [DOCKER_CLI, "build", "-q", "--no-cache", "-t", "bench:classic", ctx], classic,
            [[DOCKER_CLI, "rmi", "bench:classic"]])
        cached["cached: DOCKER_BUILDKIT=0 docker build (dockerd)"] = (
            [DOCKER_CLI, "build", "-q", "-t", "bench:classic", ctx], classic, [])
        if os.path.exists(BUILDKIT_CLI):
            cold["cold: BuildKit (dockerd)"] = (
                [BUILDKIT_CLI, "build", "-q", "-t", "bench:buildkit", ctx], buildkit,
                [[BUILDKIT_CLI, "rmi", "bench:buildkit"], [BUILDKIT_CLI, "builder", "prune", "-af"]])
            cached["cached: BuildKit (dockerd)"] = (
                [BUILDKIT_CLI, "build", "-q", "-t", "bench:buildkit", ctx], buildkit, [])
        else:
            notes.append(f"BuildKit not measured: no 20.10 docker client at {BUILDKIT_CLI} (docker 28 needs buildx)")
    for label, samples in rounds(cold, a.cold_runs, warmup=1).items():
        rows.append((label, summary(samples)))
    notes.append("cold rounds: " + load_note())
    # The last cold round filled every cache; the warm-up round checks the hits.
    for label, samples in rounds(cached, a.runs, warmup=2).items():
        rows.append((label, summary(samples)))
    notes.append("cached rounds: " + load_note())
    if denv is not None:
        res = subprocess.run([BUILDKIT_CLI, "build", "--progress=plain", "-t", "bench:buildkit", ctx],
                             env=dict(denv, DOCKER_BUILDKIT="1"), capture_output=True, text=True)
        notes.append(f"BuildKit's cached rebuild reports {res.stderr.count(' CACHED')} CACHED steps")

    body = tarball(ctx)
    api = d.client()

    def api_build(**q: object) -> None:
        resp = api.request("POST", "/build", dict(q, q=1, t="bench:1"), body=body)
        out = resp.read()
        if b'"sha256:' not in out:
            raise RuntimeError(out.decode(errors="replace"))
    rows.append(("cached: POST /build, tarball ready", summary(timeit(api_build, a.runs))))
    denv0 = dict(env, DOCKER_BUILDKIT="0")
    rows.append(("cached: DOCKER_BUILDKIT=0 docker build (dockyardd)", summary(timeit(
        lambda: run_ok([DOCKER_CLI, "build", "-q", "-t", "bench:1", ctx], env=denv0), a.runs))))
    # What a fully cached rebuild touches: a cache hit per step, no container, no file written.
    res = subprocess.run([dockyard, "build", "-t", "bench:1", "--progress=plain", ctx], env=env,
                         capture_output=True, text=True)
    notes.append(f"dockyard's cached rebuild reports {res.stdout.count('CACHED')} cached steps of "
                 f"{DOCKERFILE.count(chr(10)) - 1}")

if __name__ == "__main__":
    main()
