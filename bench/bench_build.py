#!/usr/bin/env python3
"""Image builds: a ~10-instruction Dockerfile over a 50 MB context of many
small files, cold (--no-cache) and fully cached.

Side by side in one run:
- dockyard build -> dockyardd (CLI makes and streams the context tar),
- DOCKER_BUILDKIT=0 docker build -> dockyardd (docker's Go CLI makes the tar),
- the CLI's tarball made beforehand and sent straight to POST /build (the
  daemon's share plus the socket: spool, index and hash the context, cache
  lookups, the final image record),
- DOCKER_BUILDKIT=0 docker build and BuildKit on dockerd, when a Docker
  engine runs here (not on this machine: see the note).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import tempfile

from _common import BIN, docker_daemon_available, report, run_ok, summary, timeit

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
        dockyard = os.path.join(BIN, "dockyard")
        rows.append(("cold: dockyard build --no-cache", summary(timeit(
            lambda: run_ok([dockyard, "build", "-q", "--no-cache", "-t", "bench:1", ctx], env=env),
            a.cold_runs, warmup=1))))
        rows.append(("cached: dockyard build", summary(timeit(
            lambda: run_ok([dockyard, "build", "-q", "-t", "bench:1", ctx], env=env), a.runs))))
        body = tarball(ctx)
        api = d.client()

        def api_build(**q: object) -> None:
            resp = api.request("POST", "/build", dict(q, q=1, t="bench:1"), body=body)
            out = resp.read()
            if b'"sha256:' not in out:
                raise RuntimeError(out.decode(errors="replace"))
        rows.append(("cached: POST /build, tarball ready", summary(timeit(api_build, a.runs))))
        if shutil.which("docker"):
            denv = dict(env, DOCKER_BUILDKIT="0")
            rows.append(("cached: DOCKER_BUILDKIT=0 docker build (dockyardd)", summary(timeit(
                lambda: run_ok(["docker", "build", "-q", "-t", "bench:1", ctx], env=denv), a.runs))))
        # What a fully cached rebuild touches: a cache hit per step, no container, no file written.
        res = subprocess.run([dockyard, "build", "-t", "bench:1", "--progress=plain", ctx], env=env,
                             capture_output=True, text=True)
        notes.append(f"cached rebuild reports {res.stdout.count('CACHED')} cached steps of "
                     f"{DOCKERFILE.count(chr(10)) - 1}")
    finally:
        d.teardown()
        shutil.rmtree(tmp, ignore_errors=True)
    if docker_daemon_available():
        notes.append("a Docker engine is running, but this bench does not drive it yet")
    else:
        notes.append("no Docker engine runs on this machine (docker here is the client only): the classic "
                     "builder and BuildKit on dockerd cannot be measured, so only absolute figures are given")
    report("build", rows, [
        ("cold/cached (dockyard build)", "cold: dockyard build --no-cache", "cached: dockyard build"),
        ("dockyard CLI/docker CLI, cached, same daemon", "cached: dockyard build",
         "cached: DOCKER_BUILDKIT=0 docker build (dockyardd)"),
    ], notes)


if __name__ == "__main__":
    main()
