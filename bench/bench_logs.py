#!/usr/bin/env python3
"""Log throughput: a container writes 200 MB to stdout (json-file and local
drivers); the shim frames and writes it. Side by side: the same producer on
the host writing to /dev/null (what the pipe alone costs) and `docker logs`
reading it all back through the daemon. Docker's side in the same run, each
driver right after dockyard's: the same container on dockerd (the host's
engine, else a private dockerd started here) and `docker logs` from it."""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from _common import DOCKER_CLI, docker_engine, engine_socket, load_note, report

PRODUCER = "yes 'a log line of about sixty-four bytes, as services often write' | head -c {n}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    a, _ = ap.parse_known_args()
    n = a.mb * 1000 * 1000
    from _support.daemon import TestDaemon
    from _support.engine import Engine
    rows, notes = [], []
    t = time.perf_counter()
    subprocess.run(["busybox", "sh", "-c", PRODUCER.format(n=n) + " > /dev/null"], check=True)
    host = time.perf_counter() - t
    rows.append(("host: producer to /dev/null", {"median_ms": host * 1000, "p90_ms": host * 1000,
                                                 "min_ms": host * 1000, "runs": 1}))
    d = TestDaemon().start()
    try:
        d.import_busybox()
        with docker_engine(notes) as denv:
            engines = [("dockyardd", Engine(d.socket), d.env(), d.data_root)]
            if denv is not None:
                engines.append(("dockerd", Engine(engine_socket(denv)), denv, None))
            for driver in ("json-file", "local"):
                for name, api, env, data_root in engines:
                    one_driver(name, api, env, data_root, driver, a.mb, n, rows, notes)
    finally:
        d.teardown()
    ratios = [("json-file / bare pipe", "container -> shim -> json-file (dockyardd)", "host: producer to /dev/null")]
    for driver in ("json-file", "local"):
        ratios.append((f"{driver} write, dockyardd / dockerd", f"container -> shim -> {driver} (dockyardd)",
                       f"container -> shim -> {driver} (dockerd)"))
        ratios.append((f"docker logs read back {driver}, dockyardd / dockerd", f"docker logs (read back, {driver}, dockyardd)",
                       f"docker logs (read back, {driver}, dockerd)"))
    report("logs", rows, ratios, notes)


def one_driver(name, api, env, data_root, driver: str, mb: int, n: int, rows, notes) -> None:  # type: ignore[no-untyped-def]
    def row(label: str, secs: float) -> None:
        rows.append((label, {"median_ms": secs * 1000, "p90_ms": secs * 1000, "min_ms": secs * 1000, "runs": 1}))

    cfg = {"Type": driver, "Config": {"max-size": "1g"} if driver == "local" else {}}
    cid = api.create(Cmd=["sh", "-c", PRODUCER.format(n=n)], HostConfig={"LogConfig": cfg})
    t = time.perf_counter()
    api.ok("POST", f"/containers/{cid}/start", 204)
    assert api.wait(cid, timeout=600)["StatusCode"] == 0
    took = time.perf_counter() - t
    path = api.inspect(cid)["LogPath"]
    if not path and data_root:  # dockyardd's local driver: its file, where docker's says nothing
        path = os.path.join(data_root, "containers", cid, "local-logs", "container.log")
    size = f"{os.path.getsize(path) / 1e6:.0f} MB on disk" if path and os.path.exists(path) else "size on disk not shown"
    row(f"container -> shim -> {driver} ({name})", took)
    notes.append(f"{name} {driver}: {mb} MB in {took:.2f} s = {mb / took:.0f} MB/s of output ({size}); {load_note()}")
    t = time.perf_counter()
    res = subprocess.run([DOCKER_CLI, "logs", cid], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    took = time.perf_counter() - t
    assert len(res.stdout) == n, (name, driver, len(res.stdout), n)
    row(f"docker logs (read back, {driver}, {name})", took)
    notes.append(f"docker logs read {driver} back from {name} at {mb / took:.0f} MB/s")
    api.rm(cid)


if __name__ == "__main__":
    main()
