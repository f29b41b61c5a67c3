#!/usr/bin/env python3
"""dockyard-registry next to docker-registry (distribution 2.8), on loopback.

- push: skopeo copy of a ~100 MB multi-layer OCI image into a fresh
  registry (new storage each run, so every blob is really uploaded);
- pull: skopeo copy of that image out of the registry into a new OCI layout;
- manifest GETs: many small concurrent GETs by tag, load from a second
  process (wrk, 32 connections), requests per second.

Both servers run with their defaults (access logs on; dockyard-registry
fsyncs each blob before it becomes visible, docker-registry does not), and
with those made equal (`--equal`: no access logs, no fsync) as a second view.
Runs are interleaved so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time

from _common import REPO, report, summary

from _support.registry_server import DockerRegistry, DockyardRegistry, write_layout  # noqa: E402


def build_image(path: str, total_mb: int, layers: int) -> dict:
    """An OCI layout whose gzip layers hold incompressible data (so the
    bytes on the wire are ~total_mb)."""
    per = total_mb * 1024 * 1024 // layers
    blobs = []
    for i in range(layers):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo(f"data/layer{i}.bin")
            info.size = per
            tar.addfile(info, io.BytesIO(os.urandom(per)))
        blobs.append(gzip.compress(raw.getvalue(), compresslevel=1, mtime=0))
    return write_layout(path, blobs)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process: what it cost, whatever else loads the machine."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_server(kind: str, equal: bool):
    if kind == "dockyard":
        config = {"log": {"access": not equal}, "storage": {"fsync": not equal}}
        return DockyardRegistry(config=config)
    return DockerRegistry(access_log=not equal)


def skopeo(*args: str) -> None:
    res = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(args)}: {res.stderr}")


def bench_push(src: str, kinds: list[str], runs: int, equal: bool, cpu: dict) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(runs):
        for kind in (kinds if i % 2 else list(reversed(kinds))):
            server = make_server(kind, equal).start()
            try:
                c0 = cpu_seconds(server.proc.pid)
                t = time.perf_counter()
                skopeo("copy", "--dest-tls-verify=false", f"oci:{src}:latest", f"docker://{server.host}/bench/big:1")
                times[kind].append(time.perf_counter() - t)
                cpu.setdefault(f"push {kind}", []).append(cpu_seconds(server.proc.pid) - c0)
            finally:
                server.teardown()
    return times


def bench_pull(src: str, kinds: list[str], runs: int, equal: bool, scratch: str,
               cpu: dict) -> dict[str, list[float]]:
    servers = {k: make_server(k, equal).start() for k in kinds}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for server in servers.values():
            skopeo("copy", "--dest-tls-verify=false", f"oci:{src}:latest", f"docker://{server.host}/bench/big:1")
        for i in range(runs + 1):
            order = list(servers.items()) if i % 2 else list(reversed(servers.items()))
            for kind, server in order:
                out = os.path.join(scratch, f"pull-{kind}-{i}")
                c0 = cpu_seconds(server.proc.pid)
                t = time.perf_counter()
                skopeo("copy", "--src-tls-verify=false", f"docker://{server.host}/bench/big:1", f"oci:{out}:x")
                elapsed = time.perf_counter() - t
                used = cpu_seconds(server.proc.pid) - c0
                shutil.rmtree(out)
                if i > 0:  # the first round warms the page cache for both
                    times[kind].append(elapsed)
                    cpu.setdefault(f"pull {kind}", []).append(used)
    finally:
        for server in servers.values():
            server.teardown()
    return times


def wrk_rps(url: str, accept: str, seconds: int, connections: int) -> float:
    res = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-H", f"Accept: {accept}", url],
                         capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([0-9.]+)", res.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", res.stdout)
    if not m or errors:
        raise RuntimeError(f"wrk failed: {res.stdout} {res.stderr}")
    return float(m.group(1))


def bench_manifest_gets(kinds: list[str], rounds: int, seconds: int, connections: int, equal: bool,
                        scratch: str, cpu: dict) -> dict[str, list[float]]:
    small = os.path.join(scratch, "small")
    img = write_layout(small, [gzip.compress(b"x" * 1000, mtime=0)])
    accept = img["descriptor"]["mediaType"]
    servers = {k: make_server(k, equal).start() for k in kinds}
    rps: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for server in servers.values():
            skopeo("copy", "--dest-tls-verify=false", f"oci:{small}:latest", f"docker://{server.host}/bench/small:1")
            wrk_rps(f"{server.url}/v2/bench/small/manifests/1", accept, 1, connections)  # warm up
        for i in range(rounds):
            for kind, server in (list(servers.items()) if i % 2 else list(reversed(servers.items()))):
                c0 = cpu_seconds(server.proc.pid)
                rps[kind].append(wrk_rps(f"{server.url}/v2/bench/small/manifests/1", accept, seconds, connections))
                # server CPU per 1000 requests
                cpu.setdefault(f"get {kind}", []).append(
                    (cpu_seconds(server.proc.pid) - c0) * 1000 / (rps[kind][-1] * seconds))
    finally:
        for server in servers.values():
            server.teardown()
    return rps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--equal", action="store_true", help="also run with access logs and fsync off on both")
    a = ap.parse_args()
    if not shutil.which("skopeo"):
        raise SystemExit("skopeo is not installed (tools/setup.sh installs it)")
    kinds = ["dockyard", "docker-registry"] if os.path.exists("/usr/bin/docker-registry") else ["dockyard"]
    scratch = tempfile.mkdtemp(prefix="dybench-registry-")
    results = {}
    try:
        src = os.path.join(scratch, "src")
        build_image(src, a.size_mb, a.layers)
        size = sum(os.path.getsize(os.path.join(src, "blobs", "sha256", n))
                   for n in os.listdir(os.path.join(src, "blobs", "sha256")))
        notes = [f"image: {a.layers} gzip layers, {size / 1e6:.1f} MB in blobs; skopeo {_skopeo_version()}",
                 "the client is skopeo against both registries (docker pull by dockerd: bench_images.py)"]
        for equal in ([False, True] if a.equal else [False]):
            tag = "equal (no access log, no fsync)" if equal else "defaults"
            cpu: dict[str, list[float]] = {}
            push = bench_push(src, kinds, a.runs, equal, cpu)
            pull = bench_pull(src, kinds, a.runs, equal, scratch, cpu)
            rows = [(f"push {k}", summary(push[k])) for k in kinds] + [(f"pull {k}", summary(pull[k])) for k in kinds]
            ratios = [("push dockyard/docker-registry (time; <1 is faster)", "push dockyard", "push docker-registry"),
                      ("pull dockyard/docker-registry (time; <1 is faster)", "pull dockyard", "pull docker-registry")]
            name = "registry_push_pull" + ("_equal" if equal else "")
            res = report(f"{name}: skopeo ~{a.size_mb} MB image, {tag}", rows, ratios, notes)
            if len(kinds) == 2:
                # rounds ran back to back: the median of per-round ratios cancels
                # most of the drift a shared, loaded machine adds
                for op, t in (("push", push), ("pull", pull)):
                    paired = statistics.median(x / y for x, y in zip(t["dockyard"], t["docker-registry"]))
                    res["ratios"][f"{op} paired median (time)"] = paired
                    print(f"  paired ratio {op} dockyard/docker-registry (median of per-round ratios): {paired:.2f}x")
            for k in kinds:
                mbps = size / 1e6 / statistics.median(push[k]), size / 1e6 / statistics.median(pull[k])
                print(f"  {k}: push {mbps[0]:.0f} MB/s, pull {mbps[1]:.0f} MB/s")
            for k in kinds:
                print(f"  {k}: server CPU per push {statistics.median(cpu[f'push {k}']):.2f} s, "
                      f"per pull {statistics.median(cpu[f'pull {k}']):.2f} s")
            res["server_cpu_seconds"] = {k: statistics.median(v) for k, v in cpu.items()}
            _save(name, res)
            rps = bench_manifest_gets(kinds, a.runs, a.seconds, a.connections, equal, scratch, cpu)
            print(f"\n== registry_manifest_get: wrk -c{a.connections}, {a.seconds}s x {a.runs}, {tag} ==")
            out = {}
            for k in kinds:
                out[k] = {"median_rps": statistics.median(rps[k]), "samples": rps[k]}
                print(f"  {k.ljust(16)} median {out[k]['median_rps']:9.0f} req/s   (samples {', '.join(f'{x:.0f}' for x in rps[k])})")
            for k in kinds:
                out[k]["server_cpu_ms_per_1000"] = statistics.median(cpu[f"get {k}"]) * 1000
                print(f"  {k}: server CPU {out[k]['server_cpu_ms_per_1000']:.0f} ms per 1000 GETs")
            if len(kinds) == 2:
                ratio = out["dockyard"]["median_rps"] / out["docker-registry"]["median_rps"]
                out["ratio dockyard/docker-registry (throughput; >1 is faster)"] = ratio
                print(f"  ratio dockyard/docker-registry (throughput; >1 is faster): {ratio:.2f}x")
            results["manifest_get" + ("_equal" if equal else "")] = out
            _save("registry_manifest_get" + ("_equal" if equal else ""), out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _skopeo_version() -> str:
    return subprocess.run(["skopeo", "--version"], capture_output=True, text=True).stdout.split()[-1]


def _save(name: str, data: dict) -> None:
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results", f"{name}.json"), "w") as f:
        json.dump(data, f, indent=1, default=str)


if __name__ == "__main__":
    main()
