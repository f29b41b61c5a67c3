"""docker build's resource options reach the RUN steps (moby's
hostConfigFromOptions: memory, swap, CPU shares/period/quota, cpusets,
ulimits, /dev/shm, extra hosts, cgroup parent); the ones a Linux dockerd
refuses are refused with its words; GET /system/df reports the build cache."""

from __future__ import annotations

import json
import os

from _support import leaks
from _support.build import build, leftovers

PROBE = """\
FROM busybox
RUN cd /sys/fs/cgroup && cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes cpu/cpu.shares \\
    cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpuset/cpuset.cpus cpuset/cpuset.mems > /out \\
 && ulimit -n >> /out && ulimit -Hn >> /out && grep ':memory:' /proc/self/cgroup >> /out \\
 && df -k /dev/shm | tail -1 >> /out && grep db /etc/hosts >> /out
"""


def test_run_steps_get_the_build_resources(daemon, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text(PROBE)
    parent = f"{daemon.cgroup_parent}/custom"
    try:
        res = daemon.cli("build", "-q", "--no-cache", "-t", "opts:1", "-m", "64m", "--memory-swap", "128m",
                         "-c", "512", "--cpu-period", "50000", "--cpu-quota", "25000", "--cpuset-cpus", "0",
                         "--cpuset-mems", "0", "--ulimit", "nofile=100:200", "--shm-size", "32m",
                         "--add-host", "db:10.1.2.3", "--cgroup-parent", parent, "--isolation", "default",
                         "--compress", str(tmp_path))
        assert res.returncode == 0, res.stderr.decode()
        out = daemon.cli("run", "--rm", "opts:1", "cat", "/out").stdout.decode().splitlines()
        assert out[:9] == [str(64 << 20), str(128 << 20), "512", "50000", "25000", "0", "0", "100", "200"]
        assert out[9].split(":memory:")[1].startswith(parent + "/build-")
        assert out[10].split()[1] == str(32 << 10)  # /dev/shm in KiB
        assert out[11].split() == ["10.1.2.3", "db"]
        # The RUN step's cgroup went with it; the parent the user named stays, as with docker.
        for root in leaks.cgroup_roots():
            d = root + parent
            assert not os.path.isdir(d) or not [n for n in os.listdir(d) if os.path.isdir(os.path.join(d, n))]
    finally:
        for root in leaks.cgroup_roots():
            if os.path.isdir(root + parent):
                os.rmdir(root + parent)
        daemon.cli("rmi", "opts:1")


def test_options_a_linux_daemon_refuses(daemon) -> None:
    files = {"Dockerfile": "FROM busybox\nRUN true\n"}
    for query, status, message in [
        ({"securityopt": "seccomp=unconfined"}, 400,
         "The daemon on this platform does not support setting security options on build"),
        ({"isolation": "hyperv"}, 400, 'Unsupported isolation: "hyperv"'),
        ({"ulimits": "{bad"}, 400, "error reading ulimit settings: "),
        ({"squash": "1"}, 400, "squash is only supported with experimental mode"),
    ]:
        res = build(daemon, files, **query)
        assert res.status == status and res.error.startswith(message), (query, res.status, res.error)
    # Checked as a container's HostConfig when the RUN step starts: an errorDetail, nothing left behind.
    for query, message in [({"memory": "1000"}, "Minimum memory limit allowed is 6MB"),
                           ({"memswap": str(10 << 20)}, "You should always set the Memory limit when using "
                                                        "Memoryswap limit, see usage"),
                           ({"ulimits": '[{"Name":"bogus","Soft":1,"Hard":1}]'}, "invalid ulimit type: bogus")]:
        res = build(daemon, files, nocache="1", **query)
        assert res.status == 200 and res.error == message, (query, res.error)
        assert leftovers(daemon) == []
    # Values moby reads as numbers are 0 when they are not; "default" isolation is Linux's own.
    res = build(daemon, files, memory="lots", isolation="Default")
    assert res.status == 200 and not res.error, res.error


def test_system_df_reports_the_build_cache(fresh_daemon, tmp_path) -> None:
    d = fresh_daemon()
    df = ("FROM busybox\nCOPY f.txt /f.txt\n"
          "RUN --mount=type=cache,target=/cache,id=pkgs echo data > /cache/x && cp /cache/x /y\nLABEL a=b\n")
    files = {"Dockerfile": df, "f.txt": "hello\n"}
    assert not build(d, files, t="cached:1").error
    api = d.client()

    def cache() -> dict[str, dict]:
        return {b["ID"]: b for b in api.system_df(["build-cache"])["BuildCache"]}

    first = cache()
    # BuilderSize went away in API 1.42; clients that speak older versions still get it.
    assert set(api.system_df(["build-cache"])) == {"BuildCache"}
    from dockyard.client import APIClient
    old = APIClient(d.host, version="1.41").system_df(["build-cache"])
    assert set(old) == {"BuildCache", "BuilderSize"}
    records = [b for b in first.values() if b["Type"] == "regular"]
    mounts = [b for b in first.values() if b["Type"] == "exec.cachemount"]
    assert len(records) == 3 and len(mounts) == 1
    assert mounts[0]["Description"] == "cached mount /cache (id pkgs)" and mounts[0]["Size"] > 0
    by_step = {b["Description"].split()[3] if "#(nop)" in b["Description"] else "RUN": b for b in records}
    assert by_step["COPY"]["Shared"] and by_step["RUN"]["Shared"]  # their layers are the image's too
    assert not by_step["LABEL"]["Shared"] and by_step["LABEL"]["Size"] == 0
    assert all(b["UsageCount"] == 1 and not b["InUse"] for b in first.values())
    assert old["BuilderSize"] == sum(b["Size"] for b in first.values())
    # A rebuild uses every record once more, and the cache mount too.
    again = build(d, files, t="cached:1")
    assert again.cached_steps == 3
    second = cache()
    assert set(second) == set(first)
    assert all(second[i]["UsageCount"] == 2 for i in second if second[i]["Type"] == "regular")
    assert second[mounts[0]["ID"]]["UsageCount"] == 1  # a cached RUN does not mount it again
    summary = d.cli("system", "df", "--format", "{{json .}}").stdout.decode().splitlines()
    row = [json.loads(line) for line in summary if '"Build Cache"' in line][0]
    shared = sum(b["Size"] for b in second.values() if not b["Shared"])
    assert row["TotalCount"] == "4" and row["Active"] == "0"
    assert d.cli("system", "df", "-v").stdout.decode().count("\n") >= 4 + 12
    # prune keeps what images use (the shared records), drops the rest and the cache mount's record
    res = d.cli("builder", "prune", "-f")
    assert res.returncode == 0, res.stderr.decode()
    left = cache()
    assert set(left) == {by_step["COPY"]["ID"], by_step["RUN"]["ID"]}
    assert not os.listdir(os.path.join(d.data_root, "builder", "cache-mounts"))
    assert not [n for n in os.listdir(os.path.join(d.data_root, "builder", "cache")) if n.startswith("mount-")]
    assert shared > 0
