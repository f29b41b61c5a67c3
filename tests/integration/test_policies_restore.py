"""Restart policies with docker's backoff, healthchecks and their events,
and live restore: a daemon killed with SIGKILL comes back to running
containers it can still fully manage, and to the true exit codes of the ones
that stopped meanwhile."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from _support.engine import Engine, demux


@pytest.fixture(scope="module")
def api(daemon) -> Engine:
    return Engine(daemon.socket)


def events(api: Engine, since: float, **filters) -> list[dict]:
    until = time.time()
    _, data, _ = api.call("GET", "/events", query={"since": f"{since:.6f}", "until": f"{until:.6f}",
                                                   "filters": filters} if filters else
                          {"since": f"{since:.6f}", "until": f"{until:.6f}"})
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_on_failure_with_limit_and_backoff(api) -> None:
    t0 = time.time()
    cid = api.run("sh", "-c", "exit 3", HostConfig={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
    api.until(lambda: api.inspect(cid)["State"]["Status"] == "exited" and api.inspect(cid)["RestartCount"] == 3)
    time.sleep(1)
    info = api.inspect(cid)
    assert info["RestartCount"] == 3 and info["State"]["ExitCode"] == 3 and info["State"]["Status"] == "exited"
    starts = [e["timeNano"] / 1e9 for e in events(api, t0, container=[cid], event=["start"])]
    dies = [e["timeNano"] / 1e9 for e in events(api, t0, container=[cid], event=["die"])]
    assert len(starts) == 4 and len(dies) == 4
    gaps = [s - d for d, s in zip(dies, starts[1:])]
    # docker's backoff: 100 ms, then doubling
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.39
    api.rm(cid)


def test_on_failure_ignores_success_and_always_restarts_until_stopped(api) -> None:
    ok = api.run("true", HostConfig={"RestartPolicy": {"Name": "on-failure"}})
    api.wait(ok)
    time.sleep(0.5)
    assert api.inspect(ok)["RestartCount"] == 0 and api.inspect(ok)["State"]["Status"] == "exited"
    cid = api.run("sh", "-c", "sleep 0.2", HostConfig={"RestartPolicy": {"Name": "always"}})
    api.until(lambda: api.inspect(cid)["RestartCount"] >= 2)
    api.ok("POST", f"/containers/{cid}/stop", 204, query={"t": 1})
    n = api.inspect(cid)["RestartCount"]
    time.sleep(1)
    info = api.inspect(cid)
    assert info["State"]["Status"] == "exited" and info["RestartCount"] == n
    # docker kill counts as a manual stop: no restart either.
    killed = api.run("sleep", "60", HostConfig={"RestartPolicy": {"Name": "unless-stopped"}})
    api.ok("POST", f"/containers/{killed}/kill", 204)
    time.sleep(1)
    assert api.inspect(killed)["State"]["Status"] == "exited"
    for x in (ok, cid, killed):
        api.rm(x)


def test_healthcheck_transitions_and_events(api) -> None:
    t0 = time.time()
    # healthy from the first probe, unhealthy once the file goes (with a 0.4 s interval and
    # 2 retries, failures before the file exists would already make it unhealthy)
    cid = api.run("sh", "-c", "touch /tmp/ok; sleep 2; rm /tmp/ok; sleep 60",
                  Healthcheck={"Test": ["CMD-SHELL", "test -f /tmp/ok && echo fine"], "Interval": 400_000_000,
                               "Timeout": 2_000_000_000, "Retries": 2, "StartPeriod": 10_000_000_000,
                               "StartInterval": 300_000_000})
    assert api.inspect(cid)["State"]["Health"]["Status"] == "starting"
    api.until(lambda: api.inspect(cid)["State"]["Health"]["Status"] == "healthy", timeout=30)
    health = api.inspect(cid)["State"]["Health"]
    assert health["FailingStreak"] == 0 and health["Log"][-1]["ExitCode"] == 0
    assert health["Log"][-1]["Output"] == "fine\n" and len(health["Log"]) <= 5
    api.until(lambda: api.inspect(cid)["State"]["Health"]["Status"] == "unhealthy", timeout=30)
    assert api.inspect(cid)["State"]["Health"]["FailingStreak"] >= 2
    listed = api.ok("GET", "/containers/json", 200, query={"filters": {"health": ["unhealthy"]}})
    assert [c["Id"] for c in listed] == [cid] and "(unhealthy)" in listed[0]["Status"]
    actions = [e["Action"] for e in events(api, t0, container=[cid], event=["health_status"])]
    assert actions[:2] == ["health_status: healthy", "health_status: unhealthy"]
    api.rm(cid)
    timeout = api.run("sleep", "60", Healthcheck={"Test": ["CMD", "sleep", "5"], "Interval": 300_000_000,
                                                  "Timeout": 200_000_000, "Retries": 1})
    api.until(lambda: api.inspect(timeout)["State"]["Health"]["Status"] == "unhealthy", timeout=30)
    last = api.inspect(timeout)["State"]["Health"]["Log"][-1]
    assert last["ExitCode"] == -1 and "Health check exceeded timeout" in last["Output"]
    api.rm(timeout)


def test_events_filters_and_bounds(api) -> None:
    t0 = time.time()
    cid = api.run("true", name="evt", Labels={"evt": "yes"})
    api.wait(cid)
    api.rm(cid)
    got = events(api, t0, container=["evt"])
    assert [e["Action"] for e in got] == ["create", "start", "die", "destroy"]
    e = got[2]
    assert e["Type"] == "container" and e["Actor"]["ID"] == cid and e["status"] == "die" and e["id"] == cid
    assert e["Actor"]["Attributes"]["exitCode"] == "0" and e["Actor"]["Attributes"]["evt"] == "yes"
    assert e["Actor"]["Attributes"]["image"] == "busybox" and e["from"] == "busybox"
    assert [x["Action"] for x in events(api, t0, label=["evt=yes"], event=["die"])] == ["die"]
    assert events(api, t0, type=["volume"]) == [] or all(x["Type"] == "volume" for x in events(api, t0, type=["volume"]))
    # docker validates no event filter key: an unknown one filters nothing out
    assert [x["Action"] for x in events(api, t0, colour=["x"])] == [x["Action"] for x in events(api, t0)]
    # A live stream sees what happens after it opened, until `until`.
    box: list = []

    def listen() -> None:
        _, data, _ = api.call("GET", "/events", query={"until": f"{time.time() + 2:.3f}", "filters": {"type": ["volume"]}})
        box.extend(json.loads(x) for x in data.splitlines())
    t = threading.Thread(target=listen)
    t.start()
    time.sleep(0.4)
    api.ok("POST", "/volumes/create", 201, body={"Name": "evvol"})
    api.ok("DELETE", "/volumes/evvol", 204)
    t.join(10)
    assert [(x["Type"], x["Action"], x["Actor"]["ID"]) for x in box] == [("volume", "create", "evvol"),
                                                                        ("volume", "destroy", "evvol")]


def test_system_df_and_version_negotiation(api) -> None:
    api.ok("POST", "/volumes/create", 201, body={"Name": "dfvol"})
    cid = api.run("sh", "-c", "head -c 5000 /dev/zero > /blob; sleep 60", HostConfig={"Binds": ["dfvol:/v"]})
    api.until(lambda: api.exec(cid, "test", "-f", "/blob")[0] == 0)
    df = api.ok("GET", "/system/df", 200)
    assert set(df) == {"LayersSize", "Images", "Containers", "Volumes", "BuildCache"}
    c = [x for x in df["Containers"] if x["Id"] == cid][0]
    assert c["SizeRw"] >= 5000 and c["SizeRootFs"] > c["SizeRw"]
    v = [x for x in df["Volumes"] if x["Name"] == "dfvol"][0]
    assert v["UsageData"] == {"Size": 0, "RefCount": 1}
    assert df["Images"][0]["Containers"] >= 1 and df["LayersSize"] > 0
    only = api.ok("GET", "/system/df", 200, query={"type": "volume"})
    assert set(only) == {"Volumes"}
    api.rm(cid)
    api.ok("DELETE", "/volumes/dfvol", 204)
    assert api.ok("GET", "/v1.41/version", 200)["ApiVersion"] == "1.45"
    assert "is too new" in api.err("GET", "/v1.99/version", 400)
    assert "is too old" in api.err("GET", "/v1.2/version", 400)


# -- live restore ------------------------------------------------------------------------
def _attach(sock_path: str, cid: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    s.sendall(f"POST /containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
              "Host: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    return s


def test_live_restore_after_sigkill(fresh_daemon) -> None:
    d = fresh_daemon()
    api = Engine(d.socket)
    talker = api.run("sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done", name="talker")
    reader = api.run("sh", "-c", "while read line; do echo got $line; done; echo eof; exit 4", name="reader",
                     OpenStdin=True, StdinOnce=True)
    quick = api.run("sh", "-c", "sleep 1; exit 42", name="quick")
    killer = api.run("sleep", "60", name="killer")
    policy = api.run("sh", "-c", "sleep 1; exit 1", name="policy", HostConfig={"RestartPolicy": {"Name": "always"}})
    unless = api.run("sleep", "60", name="unless", HostConfig={"RestartPolicy": {"Name": "unless-stopped"}})
    api.ok("POST", f"/containers/{unless}/stop", 204, query={"t": 0})
    before = api.inspect(talker)["State"]["Pid"]
    killer_pid = api.inspect(killer)["State"]["Pid"]
    d.kill()
    import os
    import signal
    os.kill(killer_pid, signal.SIGKILL)
    time.sleep(2)  # quick, killer and policy exit while no daemon runs
    d.start()
    api = Engine(d.socket)
    t = api.inspect("talker")
    assert t["State"]["Running"] and t["State"]["Pid"] == before
    n = demux(api.logs("talker")).count(b"tick")
    api.until(lambda: demux(api.logs("talker")).count(b"tick") > n)  # the log still grows
    assert api.exec("talker", "echo", "exec-after-restore") == (0, b"exec-after-restore\n")
    q = api.inspect("quick")["State"]
    assert q["Status"] == "exited" and q["ExitCode"] == 42
    assert api.inspect("killer")["State"]["ExitCode"] == 137
    # The policy still applies to what exited during the downtime.
    api.until(lambda: api.inspect("policy")["RestartCount"] >= 1, timeout=30)
    assert api.inspect("unless")["State"]["Status"] == "exited"  # manually stopped stays stopped
    # Attach and wait still work on a container the previous daemon started.
    s = _attach(d.socket, reader)
    box: dict = {}
    w = threading.Thread(target=lambda: box.update(api.wait(reader)))
    w.start()
    s.sendall(b"hello\n")
    data = b""
    while b"got hello" not in data:
        data += s.recv(4096)
    s.shutdown(socket.SHUT_WR)
    w.join(30)
    s.close()
    assert box == {"StatusCode": 4, "Error": None}
    api.ok("POST", "/containers/talker/stop", 204, query={"t": 1})
    assert api.inspect("talker")["State"]["Status"] == "exited"


def _kill_while_the_exit_is_handled(d, api: Engine, cid: str) -> None:
    """SIGKILL the daemon the moment it starts handling cid's exit: when the
    shim's exit.json, having appeared, is removed with the bundle."""
    import os
    exit_json = os.path.join(d.exec_root, "containers", cid, "exit.json")
    api.until(lambda: os.path.exists(exit_json), timeout=30, interval=0.001)
    deadline = time.monotonic() + 30
    while os.path.exists(exit_json) and time.monotonic() < deadline:
        pass  # no sleep: the kill must land right after the removal starts
    d.kill()


def test_exit_code_survives_a_kill_while_the_exit_is_handled(fresh_daemon) -> None:
    """The daemon is SIGKILLed the moment it removes the bundle (and with it
    the shim's exit.json) of a container that exited: the exit code must
    already be in the container's record."""
    d = fresh_daemon()
    for _ in range(3):
        api = Engine(d.socket)
        cid = api.run("sh", "-c", "sleep 0.3; exit 42")
        _kill_while_the_exit_is_handled(d, api, cid)
        d.start()
        api = Engine(d.socket)
        state = api.until(lambda: (s := api.inspect(cid)["State"])["Status"] == "exited" and s, timeout=30)
        assert state["ExitCode"] == 42, state
        api.rm(cid)


def test_restore_does_not_duplicate_policy_restart(fresh_daemon) -> None:
    d = fresh_daemon()
    api = Engine(d.socket)
    cid = api.run("sleep", "60", HostConfig={"RestartPolicy": {"Name": "always"}})
    pid = api.inspect(cid)["State"]["Pid"]
    d.restart()
    api = Engine(d.socket)
    info = api.inspect(cid)
    assert info["State"]["Pid"] == pid and info["RestartCount"] == 0  # still the same process


def test_autoremove_containers_that_exit_around_a_kill_are_removed_at_restore(fresh_daemon) -> None:
    """An --rm container's exit is not written to its record (it is removed
    right away): one that exits while no daemon runs, and one whose exit was
    being handled when the daemon was SIGKILLed, are both removed by restore."""
    import os
    d = fresh_daemon()
    api = Engine(d.socket)
    down = api.run("sh", "-c", "sleep 1.5", HostConfig={"AutoRemove": True})
    down_pid = api.inspect(down)["State"]["Pid"]
    racing = api.run("sh", "-c", "sleep 0.3", HostConfig={"AutoRemove": True})
    _kill_while_the_exit_is_handled(d, api, racing)
    api.until(lambda: not os.path.exists(f"/proc/{down_pid}"), timeout=30)
    d.start()
    api = Engine(d.socket)
    gone = lambda: all(api.call("GET", f"/containers/{c}/json")[0] == 404 for c in (down, racing))  # noqa: E731
    assert api.until(gone, timeout=30)
