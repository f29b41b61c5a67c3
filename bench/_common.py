"""Shared bench helpers: timing commands, a private daemon, reporting."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Callable, Iterator

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "tools"))
BIN = os.path.dirname(sys.executable)


def launcher_python(name: str = "dockyard") -> str:
    """The interpreter a launcher in BIN starts (its shebang; see
    src/dockyard/launcher.py), for the interpreter's floor."""
    try:
        with open(os.path.join(BIN, name)) as f:
            first = f.readline()
    except OSError:
        return sys.executable
    return first[2:].split()[0] if first.startswith("#!") else sys.executable


def interpreter_note(python: str) -> str:
    version = subprocess.run([python, "-IS", "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    return f"the launchers' interpreter: {python} (Python {version})"


def timeit(fn: Callable[[], object], runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def timeit_interleaved(fns: dict[str, Callable[[], object]], runs: int, warmup: int = 2) -> dict[str, list[float]]:
    """Each function once per round, round after round, so that load from other
    processes on a shared machine hits every side alike."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(warmup + runs):
        for label, fn in fns.items():
            t = time.perf_counter()
            fn()
            dt = time.perf_counter() - t
            if i >= warmup:
                out[label].append(dt)
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


DOCKER_CLI = "/usr/local/bin/docker"


def host_docker_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKYARD_HOST", "DOCKER_CONTEXT")}


def engine_socket(env: dict[str, str]) -> str:
    """The unix socket path of the engine an env's DOCKER_HOST names."""
    host = env.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return host[len("unix://"):] if host.startswith("unix://") else host


def docker_leftovers() -> list[str]:
    """What a stopped dockerd would leave on the host: its bridge and iptables chains."""
    out = []
    if os.path.exists("/sys/class/net/docker0"):
        out.append("docker0")
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    if "DOCKER" in rules:
        out.append(f"{rules.count('DOCKER')} iptables lines naming DOCKER")
    return out


@contextlib.contextmanager
def docker_engine(notes: list[str]) -> Iterator[dict[str, str] | None]:
    """The env (DOCKER_HOST) of a Docker engine to compare with, busybox:latest
    in it (the same rootfs tar dockyard's test daemons import): the host's
    own engine when one runs, else a private dockerd started for the bench
    (tests/_support/dockerd.py), else None with a note saying why."""
    from _support.daemon import busybox_tar
    if not os.path.exists(DOCKER_CLI):
        notes.append(f"no docker CLI at {DOCKER_CLI}: docker's side is not measured")
        yield None
        return
    if docker_daemon_available():
        env = host_docker_env()
        if subprocess.run([DOCKER_CLI, "image", "inspect", "busybox:latest"], env=env,
                          capture_output=True).returncode != 0:
            subprocess.run([DOCKER_CLI, "import", "-c", 'CMD ["sh"]', "-", "busybox:latest"], env=env,
                           input=busybox_tar(), capture_output=True, check=True)
        notes.append(f"docker side: the host's Docker engine {_server_version(env)}")
        yield env
        return
    from _support.dockerd import PrivateDockerd, unavailable_reason
    reason = _wait_for_private_dockerd_slot(unavailable_reason)
    if reason:
        notes.append(f"no Docker engine to compare with: {reason}")
        yield None
        return
    with PrivateDockerd() as d:
        d.import_busybox(busybox_tar())
        notes.append(f"docker side: a private dockerd {_server_version(d.env())} (Debian docker.io, overlay2, "
                     f"own data root, bridge docker0 on {d.subnet}), docker CLI {_client_version()}")
        yield d.env()
    _check_leftovers(notes)


def _check_leftovers(notes: list[str]) -> None:
    """docker0 and DOCKER chains must be gone; checked holding the private
    dockerd lock, since another test's or bench's dockerd may start next."""
    import fcntl

    from _support.dockerd import LOCK
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            notes.append("another private dockerd started right after this one: leftovers not checked")
            return
        left = docker_leftovers()
        if left:
            notes.append("WARNING: the private dockerd left " + ", ".join(left))
            print("WARNING: the private dockerd left " + ", ".join(left), file=sys.stderr)
    finally:
        os.close(fd)


def _wait_for_private_dockerd_slot(unavailable_reason: Callable[[], str | None], timeout: float = 900) -> str | None:
    """docker0 exists while another private dockerd (a test's, another
    bench's) runs: they take turns on a lock, so wait for that one to end."""
    import fcntl

    from _support.dockerd import LOCK
    deadline = time.monotonic() + timeout
    while (reason := unavailable_reason()) and "docker0" in reason and time.monotonic() < deadline:
        fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held_by_other = False
        except OSError:
            held_by_other = True
        os.close(fd)  # closing releases it
        if not held_by_other:
            return reason  # docker0 without a private dockerd: a real engine owns it
        print("waiting for another private dockerd (docker0 in use) to stop...", file=sys.stderr)
        time.sleep(2)
    return reason


def _server_version(env: dict[str, str]) -> str:
    return subprocess.run([DOCKER_CLI, "version", "--format", "{{.Server.Version}}"], env=env,
                          capture_output=True, text=True).stdout.strip()


def _client_version() -> str:
    return subprocess.run([DOCKER_CLI, "version", "--format", "{{.Client.Version}}"], env={"DOCKER_HOST": "unix:///nonexistent"},
                          capture_output=True, text=True).stdout.strip()


def load_note() -> str:
    load = os.getloadavg()
    return f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"


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
