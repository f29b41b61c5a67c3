"""The container routes through the Engine API: shapes, status codes and
docker's messages, and that a failed create or start leaves nothing behind."""

from __future__ import annotations

import json
import os

import pytest

from _support import leaks
from _support.engine import Engine, demux, frames


@pytest.fixture(scope="module")
def api(daemon) -> Engine:
    return Engine(daemon.socket)


def _snapshots(daemon) -> set[str]:
    with open(os.path.join(daemon.data_root, "overlay", "metadata.json")) as f:
        meta = json.load(f)
    snaps = meta.get("snapshots", meta)
    return {k for k in snaps if len(k) == 64 and all(ch in "0123456789abcdef" for ch in k)}


def _state(daemon) -> tuple[set[str], set[str], set[str], list[str]]:
    cdir = os.path.join(daemon.data_root, "containers")
    vdir = os.path.join(daemon.data_root, "volumes")
    return (set(os.listdir(cdir)), set(os.listdir(vdir)) if os.path.isdir(vdir) else set(),
            _snapshots(daemon), leaks.mounts_under(daemon.base))


@pytest.mark.parametrize("body,status,message", [
    ({"Image": "busybox", "HostConfig": {"Memory": 1024}}, 400, "Minimum memory limit allowed is 6MB"),
    ({"Image": "busybox", "HostConfig": {"Memory": 10 << 20, "MemorySwap": 5 << 20}}, 400,
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ({"Image": "busybox", "HostConfig": {"NanoCpus": 10**9, "CpuQuota": 50000}}, 400,
     "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    ({"Image": "busybox", "HostConfig": {"CpuPeriod": 10}}, 400,
     "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    ({"Image": "busybox", "HostConfig": {"CpusetCpus": "0-x"}}, 400, "Invalid value 0-x for cpuset cpus"),
    ({"Image": "busybox", "HostConfig": {"CpusetCpus": "64"}}, 400, "Requested CPUs are not available - requested 64"),
    ({"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}, 400,
     "invalid restart policy: unknown policy 'sometimes'"),
    ({"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "always"}, "AutoRemove": True}}, 400,
     "can't create 'AutoRemove' container with restart policy"),
    ({"Image": "busybox", "HostConfig": {"CapAdd": ["NOPE"]}}, 400, 'invalid CapAdd: unknown capability: "CAP_NOPE"'),
    ({"Image": "busybox", "HostConfig": {"Binds": ["/tmp:rel"]}}, 400,
     "invalid volume specification: '/tmp:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"),
    ({"Image": "busybox", "HostConfig": {"Binds": ["/tmp:/x:bogus"]}}, 400, "invalid mode: bogus"),
    ({"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "bind", "Source": "/nonexistent-dy", "Target": "/x"}]}},
     400, 'invalid mount config for type "bind": bind source path does not exist: /nonexistent-dy'),
    ({"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "tmpfs", "Source": "x", "Target": "/x"}]}},
     400, 'invalid mount config for type "tmpfs": field Source must not be specified'),
    ({"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "nfs", "Target": "/x"}]}}, 400,
     'invalid mount config for type "nfs": mount type unknown'),
    ({"Image": "busybox", "HostConfig": {"Binds": ["/tmp:/x"], "Mounts": [{"Type": "volume", "Target": "/x"}]}},
     400, "Duplicate mount point: /x"),
    ({"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "syslogish"}}}, 400,
     'error looking up logging plugin syslogish: plugin "syslogish" not found'),
    ({"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "gelf"}}}, 400,
     "logger: no log driver named 'gelf' is registered"),
    ({"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-fil": "2"}}}}, 400,
     "unknown log opt 'max-fil' for json-file log driver"),
    ({"Image": "busybox", "HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 5}]}}, 400,
     "ulimit soft limit must be less than or equal to hard limit: 10 > 5"),
    ({"Image": "busybox", "HostConfig": {"SecurityOpt": ["bogus"]}}, 400, 'Invalid --security-opt: "bogus"'),
    ({"Image": "busybox", "HostConfig": {"SecurityOpt": ["seccomp={not json"]}}, 400, "Decoding seccomp profile failed"),
    ({"Image": "busybox", "HostConfig": {"IpcMode": "weird"}}, 400, "invalid IPC mode: weird"),
    ({"Image": "busybox", "HostConfig": {"Sysctls": {"kernel.panic": "1"}}}, 400, None),
    ({"Image": "busybox", "HostConfig": {"OomScoreAdj": 5000}}, 400,
     "Invalid value 5000, range for oom score adj is [-1000, 1000]"),
    ({"Image": "busybox", "HostConfig": {"VolumesFrom": ["no-such-container"]}}, 404,
     "No such container: no-such-container"),
    ({"Image": "busybox", "Healthcheck": {"Test": ["CMD", "true"], "Interval": 10}}, 400,
     "Interval in Healthcheck cannot be less than 1ms"),
    ({"Image": "busybox", "WorkingDir": "relative"}, 400,
     "the working directory 'relative' is invalid, it needs to be an absolute path"),
    ({"Image": "nosuchimage"}, 404, "No such image: nosuchimage:latest"),
    ({}, 400, "config cannot be empty in order to create a container"),
])
def test_create_rejects_bad_input_and_leaves_nothing(daemon, api, body, status, message) -> None:
    before = _state(daemon)
    got = api.err("POST", "/containers/create", status, query={"name": "bad-input"}, body=body)
    if message:
        assert message in got
    assert _state(daemon) == before
    assert api.call("GET", "/containers/bad-input/json")[0] == 404


def test_sysctl_outside_a_namespace_is_refused(api) -> None:
    msg = api.err("POST", "/containers/create", 400, body={"Image": "busybox",
                                                            "HostConfig": {"Sysctls": {"kernel.panic": "1"}}})
    assert msg == 'sysctl "kernel.panic" is not in a separate kernel namespace'


def test_name_conflict_and_invalid_name(api) -> None:
    cid = api.create("dupe", Cmd=["true"])
    msg = api.err("POST", "/containers/create", 409, query={"name": "dupe"}, body={"Image": "busybox"})
    assert msg == (f'Conflict. The container name "/dupe" is already in use by container "{cid}". '
                   "You have to remove (or rename) that container to be able to reuse that name.")
    assert "Invalid container name" in api.err("POST", "/containers/create", 400, query={"name": "bad/name"},
                                               body={"Image": "busybox"})
    api.rm(cid)


def test_failed_start_leaves_no_mounts_and_reports(daemon, api) -> None:
    cid = api.create("nostart", Cmd=["/no/such/binary"], HostConfig={"Binds": ["vol-of-failed:/data"]})
    before_mounts = leaks.mounts_under(daemon.base)
    msg = api.err("POST", f"/containers/{cid}/start", 400)
    assert "no such file or directory" in msg
    assert leaks.mounts_under(daemon.base) == before_mounts
    st = api.inspect(cid)["State"]
    assert st["Status"] == "created" and st["ExitCode"] == 127 and "no such file" in st["Error"]
    assert not os.path.exists(os.path.join(daemon.exec_root, "containers", cid))
    api.rm(cid)
    api.ok("DELETE", "/volumes/vol-of-failed", 204)


def test_inspect_shape(api) -> None:
    cid = api.create("shape", Cmd=["sleep", "30"], Labels={"a": "1"},
                     HostConfig={"Memory": 32 << 20, "Binds": ["/tmp:/host-tmp:ro"], "Tmpfs": {"/run": "size=1m"}})
    info = api.inspect("shape")
    assert info["Id"] == cid and info["Name"] == "/shape" and info["Path"] == "sleep" and info["Args"] == ["30"]
    assert set(info["State"]) >= {"Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
                                  "ExitCode", "Error", "StartedAt", "FinishedAt"}
    assert info["State"]["Status"] == "created" and info["State"]["Running"] is False
    hc = info["HostConfig"]
    assert hc["Memory"] == 32 << 20 and hc["MemorySwap"] == 64 << 20  # docker's default: twice the memory
    assert hc["ShmSize"] == 67108864 and hc["IpcMode"] == "private"
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert info["Mounts"] == [{"Type": "bind", "Source": "/tmp", "Destination": "/host-tmp", "Mode": "ro",
                               "RW": False, "Propagation": "rprivate"}]
    assert info["Config"]["Labels"] == {"a": "1"} and info["Config"]["Image"] == "busybox"
    assert info["LogPath"].endswith(f"{cid}-json.log")
    sized = api.ok("GET", f"/containers/{cid}/json", 200, query={"size": True})
    assert sized["SizeRw"] == 0 and sized["SizeRootFs"] > 0
    api.rm(cid)


def test_lifecycle_pause_rename_update_restart_kill(api) -> None:
    cid = api.run("sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done", name="life")
    assert api.call("POST", f"/containers/{cid}/start")[0] == 304
    api.ok("POST", f"/containers/{cid}/pause", 204)
    assert api.inspect(cid)["State"]["Paused"] is True
    assert api.err("POST", f"/containers/{cid}/pause", 409) == f"Container {cid} is already paused"
    assert "paused" in api.err("DELETE", f"/containers/{cid}", 409)
    assert api.err("POST", f"/containers/{cid}/exec", 409, body={"Cmd": ["true"]}) == \
        f"Container {cid} is paused, unpause the container before exec"
    api.ok("POST", f"/containers/{cid}/unpause", 204)
    assert api.err("POST", f"/containers/{cid}/unpause", 409) == f"Container {cid} is not paused"
    api.ok("POST", f"/containers/{cid}/rename", 204, query={"name": "life2"})
    assert api.inspect("life2")["Name"] == "/life2" and api.call("GET", "/containers/life/json")[0] == 404
    res = api.ok("POST", f"/containers/{cid}/update", 200, body={"Memory": 64 << 20, "PidsLimit": 99,
                                                                "RestartPolicy": {"Name": "unless-stopped"}})
    assert res == {"Warnings": None}  # docker: a nil slice (see test_api_parity)
    hc = api.inspect(cid)["HostConfig"]
    assert hc["Memory"] == 64 << 20 and hc["PidsLimit"] == 99 and hc["RestartPolicy"]["Name"] == "unless-stopped"
    code, out = api.exec(cid, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max")
    assert out.split() == [str(64 << 20).encode(), b"99"]
    assert "Minimum memory limit allowed is 6MB" in api.err("POST", f"/containers/{cid}/update", 400,
                                                            body={"Memory": 1000})
    api.ok("POST", f"/containers/{cid}/update", 200, body={"RestartPolicy": {"Name": "no"}})
    pid = api.inspect(cid)["State"]["Pid"]
    api.ok("POST", f"/containers/{cid}/restart", 204, query={"t": 5})
    st = api.inspect(cid)["State"]
    assert st["Running"] and st["Pid"] != pid
    api.ok("POST", f"/containers/{cid}/kill", 204, query={"signal": "TERM"})
    assert api.wait(cid)["StatusCode"] == 7
    assert api.err("POST", f"/containers/{cid}/kill", 409) == \
        f"cannot kill container: {cid}: container {cid} is not running"
    assert api.call("POST", f"/containers/{cid}/stop")[0] == 304
    assert api.err("POST", f"/containers/{cid}/kill", 400, query={"signal": "SIGNOPE"}) == "Invalid signal: SIGNOPE"
    api.rm(cid)


def test_stop_uses_stop_signal_and_timeout(api) -> None:
    cid = api.run("sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done", StopSignal="SIGUSR1")
    api.ok("POST", f"/containers/{cid}/stop", 204, query={"t": 10})
    assert api.inspect(cid)["State"]["ExitCode"] == 42
    api.ok("POST", f"/containers/{cid}/start", 204)
    api.ok("POST", f"/containers/{cid}/stop", 204, query={"t": 0, "signal": "SIGKILL"})
    assert api.inspect(cid)["State"]["ExitCode"] == 137
    # A process that ignores the signal is killed after the timeout.
    cid2 = api.run("sh", "-c", "trap '' TERM; while true; do sleep 0.1; done")
    api.ok("POST", f"/containers/{cid2}/stop", 204, query={"t": 1})
    assert api.inspect(cid2)["State"]["ExitCode"] == 137
    api.rm(cid)
    api.rm(cid2)


def test_wait_conditions(api) -> None:
    cid = api.create(Cmd=["sh", "-c", "exit 3"])
    assert api.wait(cid, "not-running") == {"StatusCode": 0, "Error": None}  # created: not running yet
    import threading
    box: dict = {}
    t = threading.Thread(target=lambda: box.update(api.wait(cid, "next-exit")))
    t.start()
    import time
    time.sleep(0.3)
    api.ok("POST", f"/containers/{cid}/start", 204)
    t.join(30)
    assert box == {"StatusCode": 3, "Error": None}
    t2 = threading.Thread(target=lambda: box.update(removed=api.wait(cid, "removed")))
    t2.start()
    time.sleep(0.3)
    api.rm(cid)
    t2.join(30)
    assert box["removed"]["StatusCode"] == 3
    assert "invalid condition" in api.err("POST", "/containers/x/wait", 400, query={"condition": "soon"})


def test_list_filters(api) -> None:
    a = api.run("sh", "-c", "exit 2", name="flt-a", Labels={"tier": "web"})
    api.wait(a)
    b = api.run("sleep", "60", name="flt-b", Labels={"tier": "db"}, HostConfig={"Binds": ["flt-vol:/v"]})
    c = api.create("flt-c", Cmd=["true"])

    def ids(**q):
        return {x["Id"] for x in api.ok("GET", "/containers/json", 200, query=q) if x["Id"] in (a, b, c)}
    assert ids() == {b}
    assert ids(all=True) == {a, b, c}
    assert ids(all=True, filters={"status": ["exited"]}) == {a}
    assert ids(all=True, filters={"status": ["created"]}) == {c}
    assert ids(all=True, filters={"exited": ["2"]}) == {a}
    assert ids(all=True, filters={"label": ["tier=web"]}) == {a}
    assert ids(all=True, filters={"label": ["tier"]}) == {a, b}
    assert ids(all=True, filters={"name": ["flt-[ab]"]}) == {a, b}
    assert ids(all=True, filters={"id": [c[:10]]}) == {c}
    assert ids(all=True, filters={"ancestor": ["busybox"]}) == {a, b, c}
    assert ids(all=True, filters={"before": ["flt-c"]}) == {a, b}
    assert ids(all=True, filters={"since": ["flt-a"]}) == {b, c}
    assert ids(all=True, filters={"volume": ["flt-vol"]}) == {b}
    assert len(api.ok("GET", "/containers/json", 200, query={"limit": 1})) == 1
    assert api.err("GET", "/containers/json", 400, query={"filters": {"colour": ["red"]}}) == "invalid filter 'colour'"
    assert api.err("GET", "/containers/json", 400, query={"filters": {"status": ["sleepy"]}}) == \
        "invalid filter 'status=sleepy'"
    listed = [x for x in api.ok("GET", "/containers/json", 200, query={"all": True, "size": True}) if x["Id"] == b][0]
    assert listed["Names"] == ["/flt-b"] and listed["Command"] == "sleep 60" and listed["State"] == "running"
    assert listed["Status"].startswith("Up") and "SizeRw" in listed and listed["Mounts"][0]["Name"] == "flt-vol"
    for x in (a, b, c):
        api.rm(x)
    api.ok("DELETE", "/volumes/flt-vol", 204)


def test_prune_top_resize_changes_export(api) -> None:
    cid = api.run("sh", "-c", "echo x > /created; rm /etc/group; sleep 60", Tty=True)
    api.until(lambda: api.exec(cid, "test", "-f", "/created")[0] == 0)
    top = api.ok("GET", f"/containers/{cid}/top", 200)
    assert "PID" in top["Titles"] and any("sleep 60" in p[-1] for p in top["Processes"])
    top2 = api.ok("GET", f"/containers/{cid}/top", 200, query={"ps_args": "-o pid,comm"})
    assert top2["Titles"] == ["PID", "COMMAND"]
    api.ok("POST", f"/containers/{cid}/resize", 200, query={"h": 30, "w": 90})
    assert api.exec(cid, "stty", "-F", "/dev/pts/0", "size") == (0, b"30 90\n")
    changes = {(ch["Path"], ch["Kind"]) for ch in api.ok("GET", f"/containers/{cid}/changes", 200)}
    assert ("/created", 1) in changes and ("/etc/group", 2) in changes and ("/etc", 0) in changes
    status, tar, headers = api.call("GET", f"/containers/{cid}/export")
    assert status == 200 and headers["content-type"] == "application/x-tar"
    import io
    import tarfile
    names = tarfile.open(fileobj=io.BytesIO(tar)).getnames()
    assert "created" in names and "bin/busybox" in names and "etc/group" not in names
    api.ok("POST", f"/containers/{cid}/kill", 204)
    api.wait(cid)
    keep = api.create("keep-me", Cmd=["true"], Labels={"keep": "1"})
    res = api.ok("POST", "/containers/prune", 200, query={"filters": {"label!": ["keep"]}})
    assert cid in res["ContainersDeleted"] and keep not in (res["ContainersDeleted"] or [])
    assert api.call("GET", f"/containers/{cid}/json")[0] == 404
    assert api.err("POST", "/containers/prune", 400, query={"filters": {"bogus": ["1"]}}) == "invalid filter 'bogus'"
    api.rm(keep)


def test_attach_with_logs_and_stream(api) -> None:
    cid = api.run("sh", "-c", "echo one; echo two >&2; sleep 0.3")
    api.wait(cid)
    status, data, headers = api.call("POST", f"/containers/{cid}/attach",
                                     query={"logs": True, "stream": False, "stdout": True, "stderr": True})
    assert status == 200 and headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    assert frames(data) == [(1, b"one\n"), (2, b"two\n")] or sorted(frames(data)) == [(1, b"one\n"), (2, b"two\n")]
    status, data, _ = api.call("POST", f"/containers/{cid}/attach", query={"logs": True, "stream": False,
                                                                          "stdout": True})
    assert demux(data) == b"one\n"
    assert "you must choose at least one stream" in api.err("POST", f"/containers/{cid}/attach", 400)
    api.rm(cid)


def test_stats_shapes(api) -> None:
    cid = api.run("sh", "-c", "while true; do :; done", HostConfig={"Memory": 64 << 20, "PidsLimit": 20})
    one = api.ok("GET", f"/containers/{cid}/stats", 200, query={"stream": False, "one-shot": True})
    assert one["id"] == cid and one["name"] == api.inspect(cid)["Name"]
    assert one["memory_stats"]["limit"] == 64 << 20 and one["memory_stats"]["usage"] > 0
    assert one["pids_stats"] == {"current": 1, "limit": 20}
    assert one["cpu_stats"]["online_cpus"] >= 1 and one["cpu_stats"]["system_cpu_usage"] > 0
    assert one["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    two = api.ok("GET", f"/containers/{cid}/stats", 200, query={"stream": False})
    assert two["precpu_stats"]["cpu_usage"]["total_usage"] > 0  # primed, as docker's no-stream
    assert two["cpu_stats"]["cpu_usage"]["total_usage"] > two["precpu_stats"]["cpu_usage"]["total_usage"]
    assert "cannot have stream=true and one-shot=true" in api.err(
        "GET", f"/containers/{cid}/stats", 400, query={"stream": True, "one-shot": True})
    api.rm(cid)
    stopped = api.create(Cmd=["true"])
    empty = api.ok("GET", f"/containers/{stopped}/stats", 200, query={"stream": False})
    assert empty["read"] == "0001-01-01T00:00:00Z" and empty["id"] == stopped
    api.rm(stopped)


def test_remove_running_needs_force(api) -> None:
    cid = api.run("sleep", "60", name="busy")
    msg = api.err("DELETE", f"/containers/{cid}", 409)
    assert msg == ('cannot remove container "/busy": container is running: stop the container before removing '
                   "or force remove")
    api.ok("DELETE", f"/containers/{cid}", 204, query={"force": True})
    assert api.err("DELETE", f"/containers/{cid}", 404) == f"No such container: {cid}"
