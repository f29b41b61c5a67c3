#!/usr/bin/env python3
"""Log throughput: a container writes 200 MB to stdout (json-file and local
drivers); the shim frames and writes it. Side by side: the same producer on
the host writing to /dev/null (what the pipe alone costs) and `docker logs`
reading it all back through the daemon."""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from _common import report

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
        api = Engine(d.socket)
        for driver in ("json-file", "local"):
            cfg = {"Type": driver, "Config": {"max-size": "1g"} if driver == "local" else {}}
            cid = api.create(Cmd=["sh", "-c", PRODUCER.format(n=n)], HostConfig={"LogConfig": cfg})
            t = time.perf_counter()
            api.ok("POST", f"/containers/{cid}/start", 204)
            assert api.wait(cid, timeout=600)["StatusCode"] == 0
            took = time.perf_counter() - t
            path = api.inspect(cid)["LogPath"] or os.path.join(d.data_root, "containers", cid, "local-logs",
                                                               "container.log")
            size = os.path.getsize(path)
            rows.append((f"container -> shim -> {driver}", {"median_ms": took * 1000, "p90_ms": took * 1000,
                                                           "min_ms": took * 1000, "runs": 1}))
            notes.append(f"{driver}: {a.mb} MB in {took:.2f} s = {a.mb / took:.0f} MB/s of output "
                         f"({size / 1e6:.0f} MB on disk)")
            t = time.perf_counter()
            res = subprocess.run(["/usr/local/bin/docker", "logs", cid], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, env=d.env())
            took = time.perf_counter() - t
            assert len(res.stdout) == n, (len(res.stdout), n)
            rows.append((f"docker logs (read back, {driver})", {"median_ms": took * 1000, "p90_ms": took * 1000,
                                                               "min_ms": took * 1000, "runs": 1}))
            notes.append(f"docker logs read {driver} back at {a.mb / took:.0f} MB/s")
            api.rm(cid)
    finally:
        d.teardown()
    notes.append("no Docker engine runs on this machine: dockerd's figures are not measurable here")
    report("logs", rows, [("json-file / bare pipe", "container -> shim -> json-file", "host: producer to /dev/null")],
           notes)


if __name__ == "__main__":
    main()
