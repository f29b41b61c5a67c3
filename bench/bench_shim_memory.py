#!/usr/bin/env python3
"""Per-container memory: the resident size of dockyard-shim next to
containerd-shim-runc-v2's, each keeping one `sleep` container alive.

containerd's shim runs under a private containerd started here (its own
root, state and socket; busybox imported from dockyardd with docker save),
so the comparison is side by side on this machine. Also dockerd's shims
(containerd-shim-runc-v2 under the containerd dockerd starts), on the host's
Docker engine, else a private dockerd started here."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

from _common import DOCKER_CLI, docker_engine, report


def mem_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KB; PSS counts shared pages once across processes."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def pids_with(text: str, name: str) -> list[int]:
    from _support.leaks import processes_mentioning
    return [pid for pid, cmd in processes_mentioning(text) if name in cmd]


def row(label: str, values: list[int]) -> tuple[str, dict[str, float]]:
    # report() prints "ms"; the unit here is KB (said in the label).
    s = sorted(values)
    return label, {"median_ms": statistics.median(s), "p90_ms": s[int(len(s) * 0.9) - 1] if len(s) > 1 else s[0],
                   "min_ms": s[0], "runs": len(s)}


def ours(n: int) -> tuple[list[int], list[int], str]:
    from _support.daemon import TestDaemon
    from _support.engine import Engine
    d = TestDaemon().start()
    try:
        d.import_busybox()
        api = Engine(d.socket)
        ids = [api.run("sleep", "300") for _ in range(n)]
        time.sleep(1)
        rss, pss = [], []
        for cid in ids:
            with open(os.path.join(d.exec_root, "containers", cid, "shim.json")) as f:
                pid = json.load(f)["shim_pid"]
            r, p = mem_kb(pid)
            rss.append(r)
            pss.append(p)
        tar = os.path.join(d.base, "busybox.tar")
        with open(tar, "wb") as f:
            subprocess.run(["/usr/local/bin/docker", "save", "busybox:latest"], stdout=f, env=d.env(), check=True)
        saved = tempfile.mktemp(prefix="dybench-busybox-", suffix=".tar")
        shutil.copy(tar, saved)
        return rss, pss, saved
    finally:
        d.teardown()


def containerd_shims(n: int, image_tar: str) -> tuple[list[int], list[int]]:
    if not (shutil.which("containerd") and shutil.which("ctr") and shutil.which("containerd-shim-runc-v2")):
        return [], []
    base = tempfile.mkdtemp(prefix="dybench-ctrd-")
    sock = os.path.join(base, "c.sock")
    cfg = os.path.join(base, "config.toml")
    with open(cfg, "w") as f:
        f.write(f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
                f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n')
    log = open(os.path.join(base, "containerd.log"), "wb")
    proc = subprocess.Popen(["containerd", "--config", cfg], stdout=log, stderr=log)
    ctr = ["ctr", "--address", sock, "--namespace", "dybench"]
    names = [f"shim{i}" for i in range(n)]
    try:
        for _ in range(100):
            if os.path.exists(sock) and subprocess.run(ctr + ["version"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(ctr + ["images", "import", image_tar], check=True, capture_output=True)
        for name in names:
            subprocess.run(ctr + ["run", "-d", "docker.io/library/busybox:latest", name, "sleep", "300"],
                           check=True, capture_output=True)
        time.sleep(1)
        rss, pss = [], []
        for pid in pids_with(sock, "containerd-shim-runc-v2"):
            r, p = mem_kb(pid)
            rss.append(r)
            pss.append(p)
        return rss, pss
    finally:
        for name in names:
            subprocess.run(ctr + ["task", "kill", "-s", "SIGKILL", name], capture_output=True)
        time.sleep(0.5)
        for name in names:
            subprocess.run(ctr + ["task", "delete", "-f", name], capture_output=True)
            subprocess.run(ctr + ["container", "delete", name], capture_output=True)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        for pid in pids_with(sock, "containerd-shim"):
            os.kill(pid, signal.SIGKILL)
        subprocess.run(["umount", "-R", base], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        for ctrl in os.listdir("/sys/fs/cgroup"):
            p = os.path.join("/sys/fs/cgroup", ctrl, "dybench")
            if os.path.isdir(p):
                for sub in os.listdir(p):
                    if os.path.isdir(os.path.join(p, sub)):
                        try:
                            os.rmdir(os.path.join(p, sub))
                        except OSError:
                            pass
                try:
                    os.rmdir(p)
                except OSError:
                    pass


def dockerd_shims(n: int, notes: list[str]) -> tuple[list[int], list[int]]:
    rss: list[int] = []
    pss: list[int] = []
    with docker_engine(notes) as denv:
        if denv is None:
            return rss, pss
        ids = [subprocess.run([DOCKER_CLI, "run", "-d", "busybox", "sleep", "300"], env=denv, check=True,
                              capture_output=True, text=True).stdout.strip() for _ in range(n)]
        time.sleep(1)
        for cid in ids:
            pids = pids_with(cid, "containerd-shim")
            if len(pids) != 1:
                notes.append(f"dockerd shim of {cid[:12]}: {len(pids)} processes found")
                continue
            r, p = mem_kb(pids[0])
            rss.append(r)
            pss.append(p)
        subprocess.run([DOCKER_CLI, "rm", "-f", *ids], env=denv, capture_output=True)
    return rss, pss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=8)
    a, _ = ap.parse_known_args()
    rss, pss, tar = ours(a.containers)
    try:
        crss, cpss = containerd_shims(a.containers, tar)
    finally:
        os.unlink(tar)
    rows = [row("dockyard-shim RSS (KB)", rss), row("dockyard-shim PSS (KB)", pss)]
    notes: list[str] = []
    drss, dpss = dockerd_shims(a.containers, notes)
    if drss:
        rows += [row("dockerd's containerd-shim-runc-v2 RSS (KB)", drss),
                 row("dockerd's containerd-shim-runc-v2 PSS (KB)", dpss)]
    if crss:
        rows += [row("containerd-shim-runc-v2 RSS (KB)", crss), row("containerd-shim-runc-v2 PSS (KB)", cpss)]
    else:
        notes.append("containerd-shim-runc-v2 could not be measured (containerd, ctr or the shim missing)")
    notes.append("values are KB, not ms (report's columns); PSS shares the interpreter's pages across shims")
    report("shim_memory", rows, [("dockyard-shim / containerd-shim-runc-v2 RSS", "dockyard-shim RSS (KB)",
                                  "containerd-shim-runc-v2 RSS (KB)"),
                                 ("dockyard-shim / containerd-shim-runc-v2 PSS", "dockyard-shim PSS (KB)",
                                  "containerd-shim-runc-v2 PSS (KB)"),
                                 ("dockyard-shim / dockerd's shim RSS", "dockyard-shim RSS (KB)",
                                  "dockerd's containerd-shim-runc-v2 RSS (KB)"),
                                 ("dockyard-shim / dockerd's shim PSS", "dockyard-shim PSS (KB)",
                                  "dockerd's containerd-shim-runc-v2 PSS (KB)")], notes)


if __name__ == "__main__":
    main()
