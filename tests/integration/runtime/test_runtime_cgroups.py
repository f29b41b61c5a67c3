"""linux.resources and the cgroup-backed commands (pause, resume, ps,
events, kill --all), checked on the host and from inside the container."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time

import pytest

from _support import leaks
from _support.runtime import Runtime, rt, wait_for  # noqa: F401  (rt: the fixture, each test on both runtimes)


def _lines(res) -> list[str]:
    assert res.returncode == 0, res.stderr
    return res.stdout.decode().splitlines()


def test_resources_applied_at_create(rt) -> None:
    def upd(s):
        s["linux"]["resources"].update({
            "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20},
            "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 50},
            "blockIO": {"weight": 300},
        })
    rt.start_detached("r1", ["sleep", "60"], upd)
    files = ["memory/memory.limit_in_bytes", "memory/memory.soft_limit_in_bytes", "cpu/cpu.shares",
             "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us", "cpuset/cpuset.cpus", "cpuset/cpuset.mems",
             "pids/pids.max"]
    want = [str(64 << 20), str(32 << 20), "512", "20000", "100000", "0", "0", "50"]
    inside = _lines(rt("exec", "r1", "cat", *[f"/sys/fs/cgroup/{f}" for f in files]))
    assert inside == want
    memsw = rt.cgroup_dir("r1", "memory") + "/memory.memsw.limit_in_bytes"
    if os.path.exists(memsw):
        assert open(memsw).read().strip() == str(96 << 20)
    blkio = rt.cgroup_dir("r1", "blkio")
    weight = next((f for f in ("blkio.weight", "blkio.bfq.weight") if os.path.exists(f"{blkio}/{f}")), None)
    if weight:
        assert open(f"{blkio}/{weight}").read().split()[-1] == "300"


def test_oom_kill_is_reported(rt) -> None:
    def upd(s):
        s["linux"]["resources"]["memory"] = {"limit": 16 << 20, "swap": 16 << 20}
    # tail keeps the last line of /dev/zero (which has none) in memory, without bound.
    rt.start_detached("oom", ["sh", "-c", "sleep 1; tail /dev/zero"], upd)
    events = subprocess.Popen([rt.exe, "--root", rt.root, "events", "--interval", "1s", "oom"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        seen = []
        while time.monotonic() < deadline:
            ready, _, _ = select.select([events.stdout], [], [], 1)
            if not ready:
                continue
            line = events.stdout.readline()
            if not line:
                break
            ev = json.loads(line)
            seen.append(ev["type"])
            assert ev["id"] == "oom"
            if ev["type"] == "oom":
                break
        assert "oom" in seen, seen
    finally:
        events.kill()
        events.wait()
    rt.wait_status("oom", "stopped")
    control = open(rt.cgroup_dir("oom", "memory") + "/memory.oom_control").read()
    assert "oom_kill 0" not in control


def test_events_stats_ps_and_list(rt) -> None:
    pid = rt.start_detached("e1", ["sh", "-c", "sleep 60 & sleep 60 & wait"])
    wait_for(lambda: len(json.loads(rt.ok("ps", "--format", "json", "e1").stdout) or []) == 3,
             what="the shell's two children")
    ev = json.loads(rt.ok("events", "--stats", "e1").stdout)
    assert ev["type"] == "stats" and ev["id"] == "e1"
    data = ev["data"]
    assert data["pids"]["current"] == 3
    assert data["memory"]["usage"]["usage"] > 0
    assert data["cpu"]["usage"]["total"] > 0
    pids = json.loads(rt.ok("ps", "--format", "json", "e1").stdout)
    assert pid in pids and len(pids) == 3
    table = rt.ok("ps", "e1").stdout.decode().splitlines()
    assert "PID" in table[0].split() and len(table) == 4
    assert any(str(pid) in line.split() for line in table[1:])
    listed = json.loads(rt.ok("list", "--format", "json").stdout)
    assert [(c["id"], c["status"], c["pid"]) for c in listed] == [("e1", "running", pid)]
    quiet = rt.ok("list", "-q").stdout.decode().split()
    assert quiet == ["e1"]


def test_pause_resume_and_kill_all(rt) -> None:
    rt.start_detached("pa", ["sh", "-c", "sleep 60 & sleep 60 & i=0; while true; do i=$((i+1)); "
                                         "echo $i > /tmp/tick; usleep 20000; done"])
    tick = os.path.join(rt.tmp, "pa", "rootfs", "tmp", "tick")
    deadline = time.monotonic() + 10
    while not os.path.exists(tick) and time.monotonic() < deadline:
        time.sleep(0.02)
    rt.ok("pause", "pa")
    assert rt.state("pa")["status"] == "paused"
    assert open(rt.cgroup_dir("pa", "freezer") + "/freezer.state").read().strip() == "FROZEN"
    frozen = open(tick).read()
    time.sleep(0.3)
    assert open(tick).read() == frozen  # nothing runs
    assert rt("exec", "pa", "true").returncode != 0  # runc refuses exec into a paused container
    rt.ok("resume", "pa")
    assert rt.state("pa")["status"] == "running"
    deadline = time.monotonic() + 20
    while open(tick).read() == frozen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert open(tick).read() != frozen
    pids = json.loads(rt.ok("ps", "--format", "json", "pa").stdout)
    assert len(pids) >= 3
    rt.ok("kill", "--all", "pa", "KILL")
    rt.wait_status("pa", "stopped")
    deadline = time.monotonic() + 10
    # (runc prints null for none)
    while json.loads(rt.ok("ps", "--format", "json", "pa").stdout) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not json.loads(rt.ok("ps", "--format", "json", "pa").stdout)
    rt.ok("delete", "pa")
    assert not os.path.exists(rt.cgroup_dir("pa", "pids"))


def test_delete_force_of_a_running_container(rt) -> None:
    pid = rt.start_detached("df", ["sh", "-c", "sleep 60 & sleep 60"])
    res = rt("delete", "df")
    assert res.returncode != 0 and b"running" in res.stderr.lower() + res.stdout.lower()
    rt.ok("delete", "--force", "df")
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert rt("state", "df").returncode != 0
    assert not os.path.exists(rt.cgroup_dir("df", "memory"))


def test_global_flags_are_accepted(rt, tmp_path) -> None:
    log = tmp_path / "runtime.log"
    res = rt("--log", str(log), "--log-format", "json", "--debug", "--systemd-cgroup", "state", "nonexistent")
    assert res.returncode != 0
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(r.get("level") == "error" and "does not exist" in r.get("msg", "") for r in recs)


@pytest.mark.skipif(not any(m for m in leaks.cgroup_roots() if m == "/sys/fs/cgroup/unified"),
                    reason="needs the cgroup2 half of a hybrid host at /sys/fs/cgroup/unified")
def test_cgroup_v2_mode_on_the_unified_hierarchy(tmp_path, monkeypatch) -> None:
    """dockyard-runtime only: runc uses v1 on a hybrid host and cannot be told
    otherwise. $DOCKYARD_CGROUP2_ROOT makes the unified half the v2 hierarchy
    (no controllers there: no limits, but placement, namespace, mount,
    freezing and killing are v2's)."""
    monkeypatch.setenv("DOCKYARD_CGROUP2_ROOT", "/sys/fs/cgroup/unified")
    rt = Runtime("dockyard-runtime", str(tmp_path))
    try:
        pid = rt.start_detached("v2", ["sh", "-c", "sleep 60 & sleep 60"])
        d = f"/sys/fs/cgroup/unified{rt.parent}/v2"
        assert open(f"{pid and '/proc/%d/cgroup' % pid}").read().splitlines()[-1] == f"0::{rt.parent}/v2"
        assert str(pid) in open(f"{d}/cgroup.procs").read().split()
        inside = _lines(rt("exec", "v2", "sh", "-c", "cat /proc/self/cgroup | tail -1; "
                                                     "grep ' /sys/fs/cgroup ' /proc/self/mountinfo; "
                                                     "wc -l < /sys/fs/cgroup/cgroup.procs"))
        assert inside[0] == "0::/"
        assert " - cgroup2 " in inside[1]
        assert int(inside[2]) >= 3  # init, its sleep, and this shell: the container's cgroup
        rt.ok("pause", "v2")
        assert rt.state("v2")["status"] == "paused"
        assert open(f"{d}/cgroup.freeze").read().strip() == "1"
        rt.ok("resume", "v2")
        assert rt.state("v2")["status"] == "running"
        rt.ok("kill", "--all", "v2", "KILL")
        rt.wait_status("v2", "stopped")
        rt.ok("delete", "v2")
        assert not os.path.exists(d)
        # a limit needs a controller the unified half does not have: a clear error
        res = rt.run("v2b", ["true"], lambda s: s["linux"]["resources"].update(pids={"limit": 5}))
        assert res.returncode != 0 and b"pids.max" in res.stderr
        assert not os.path.exists(f"/sys/fs/cgroup/unified{rt.parent}/v2b")
    finally:
        for cid in rt.ids:
            rt("delete", "--force", cid)
        leaks.remove_cgroup_tree(rt.parent)


def test_init_is_in_every_cgroup_once_created(rt) -> None:
    """`create` leaves init in the container's cgroup in every hierarchy (the
    runtime forks it into the cgroup2 one and lets it move itself into the v1
    ones, runc writes its pid): on the host, and at the root of each inside
    its cgroup namespace."""
    b = rt.bundle("cg1", ["sh", "-c", "cat /proc/self/cgroup"])
    rt.ids.append("cg1")
    with open(os.path.join(rt.tmp, "cg1.out"), "wb") as out:
        res = rt("create", "--bundle", b, "cg1", stdout=out, stderr=out)
    assert res.returncode == 0, rt.output("cg1")
    pid = rt.state("cg1")["pid"]
    lines = open(f"/proc/{pid}/cgroup").read().splitlines()
    assert lines and all(line.split(":", 2)[2] == f"{rt.parent}/cg1" for line in lines), lines
    for line in lines:
        names = line.split(":", 2)[1]
        mount = "unified" if not names else names.split(",")[0].removeprefix("name=")
        procs = f"/sys/fs/cgroup/{mount}{rt.parent}/cg1/cgroup.procs"
        if os.path.exists(procs):
            assert open(procs).read().split() == [str(pid)], procs
    rt.ok("start", "cg1")
    rt.wait_status("cg1", "stopped")
    inside = rt.output("cg1").splitlines()
    assert len(inside) == len(lines) and all(line.endswith(":/") for line in inside), inside


@pytest.mark.parametrize("old_state", [False, True], ids=["state", "state-without-cgroup-dirs"])
def test_state_and_delete_with_and_without_recorded_cgroup_dirs(tmp_path, old_state) -> None:
    """dockyard-runtime only (its state file): delete and state find the
    cgroup from the directories create recorded, and still from the cgroup
    path alone in a state file written before those were recorded."""
    rt = Runtime("dockyard-runtime", str(tmp_path))
    try:
        rt.start_detached("old", ["sleep", "60"])
        path = os.path.join(rt.root, "old", "state.json")
        saved = json.load(open(path))
        assert saved["cgroup_dirs"] and saved["cgroup_freezer"]
        if old_state:
            del saved["cgroup_dirs"], saved["cgroup_freezer"]
            with open(path, "w") as f:
                json.dump(saved, f)
        rt.ok("pause", "old")
        assert rt.state("old")["status"] == "paused"
        rt.ok("resume", "old")
        assert rt.state("old")["status"] == "running"
        rt.ok("kill", "old", "KILL")
        rt.wait_status("old", "stopped")
        rt.ok("delete", "old")
        assert not leaks.cgroups_under(rt.parent)
        assert not os.path.exists(os.path.join(rt.root, "old"))
    finally:
        for cid in rt.ids:
            rt("delete", "--force", cid)
        leaks.remove_cgroup_tree(rt.parent)
