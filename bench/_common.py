"""Shared bench helpers: timing commands, a private daemon, reporting."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "tools"))
BIN = os.path.dirname(sys.executable)


def timeit(fn: Callable[[], object], runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"median_ms": statistics.median(s) * 1000, "p90_ms": s[int(len(s) * 0.9) - 1] * 1000 if len(s) > 1 else s[0] * 1000,
            "min_ms": s[0] * 1000, "runs": len(s)}


def run_ok(args: list[str], **kw) -> None:
    res = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {res.stderr.decode(errors='replace')}")


def docker_daemon_available() -> bool:
    """A real Docker engine on its default socket (not ours)."""
    docker = shutil.which("docker")
    if not docker or not os.path.exists("/var/run/docker.sock"):
        return False
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKYARD_HOST")}
    return subprocess.run([docker, "version", "--format", "{{.Server.Version}}"], env=env,
                          capture_output=True).returncode == 0


def peak_rss_kb(args: list[str], **kw) -> int:
    res = subprocess.run(["/usr/bin/time", "-f", "%M", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, **kw)
    try:
        return int(res.stderr.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return -1


def report(name: str, rows: list[tuple[str, dict[str, float]]], ratios: list[tuple[str, str, str]],
           notes: list[str] | None = None) -> dict:
    print(f"\n== {name} ==")
    width = max(len(r[0]) for r in rows) if rows else 10
    for label, s in rows:
        print(f"  {label.ljust(width)}  median {s['median_ms']:8.1f} ms   p90 {s['p90_ms']:8.1f} ms   "
              f"min {s['min_ms']:8.1f} ms   (n={s['runs']})")
    by = dict(rows)
    out_ratios = {}
    for label, a, b in ratios:
        if a in by and b in by:
            r = by[a]["median_ms"] / by[b]["median_ms"]
            out_ratios[label] = r
            print(f"  ratio {label}: {r:.2f}x")
    for n in notes or []:
        print(f"  note: {n}")
    result = {"bench": name, "rows": {k: v for k, v in rows}, "ratios": out_ratios, "notes": notes or []}
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results", f"{name}.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result
