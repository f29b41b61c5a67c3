"""HostConfig turned into the container's reality, checked from inside it:
docker's defaults (capabilities, masked and read-only paths, seccomp) and
every option a user can set."""

from __future__ import annotations

import os
import time

import pytest

from _support.engine import Engine, demux


@pytest.fixture(scope="module")
def api(daemon) -> Engine:
    return Engine(daemon.socket)


def run(api: Engine, script: str, **config) -> tuple[int, str]:
    """Run a shell script to completion: (exit code, stdout+stderr)."""
    cid = api.run("sh", "-c", script, **config)
    try:
        code = api.wait(cid)["StatusCode"]
        return code, demux(api.logs(cid)).decode()
    finally:
        api.rm(cid)


def caps(status: str, field: str) -> int:
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(f"{field} not in {status!r}")


DEFAULT_CAPS = 0xa80425fb  # docker's default set


def test_defaults(api) -> None:
    code, out = run(api, "cat /proc/self/status; echo ---; echo timer=$(cat /proc/timer_list | wc -c); "
                         "echo 1 2>/dev/null > /proc/sys/kernel/domainname || echo ro-sys; "
                         "echo firmware=$(ls /sys/firmware | wc -l); mount | grep ' /dev/shm '")
    assert code == 0, out
    status, rest = out.split("---\n")
    assert caps(status, "CapEff") == DEFAULT_CAPS and caps(status, "CapBnd") == DEFAULT_CAPS
    assert "Seccomp:\t2" in status  # docker's default profile is loaded
    assert "NoNewPrivs:\t0" in status
    # Signals start at their defaults (a Python shim and runtime must not leak SIG_IGN into it).
    assert "SigIgn:\t0000000000000000" in status and "SigBlk:\t0000000000000000" in status
    assert "timer=0\n" in rest  # /proc/timer_list is masked (bound to /dev/null)
    assert "ro-sys\n" in rest  # /proc/sys is read-only
    assert "firmware=0\n" in rest  # /sys/firmware masked
    assert "size=65536k" in rest


def test_sigpipe_ends_a_pipeline(api) -> None:
    code, out = run(api, "yes | head -c 100000 | wc -c")
    assert code == 0 and out.strip() == "100000"
    cid = api.run("sleep", "60")
    code, out = api.exec(cid, "grep", "SigIgn", "/proc/self/status")
    assert out == b"SigIgn:\t0000000000000000\n"
    api.rm(cid)


def test_seccomp_default_profile_blocks_what_docker_blocks(api) -> None:
    # unshare needs CAP_SYS_ADMIN under docker's profile; without it the call is refused.
    code, out = run(api, "unshare -U true 2>&1; echo rc=$?")
    assert "rc=0" not in out
    code, out = run(api, "unshare -U true 2>&1; echo rc=$?", HostConfig={"SecurityOpt": ["seccomp=unconfined"]})
    assert "rc=0" in out


def test_custom_seccomp_profile(api) -> None:
    import json
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    code, out = run(api, "mkdir /x 2>&1; echo rc=$?",
                    HostConfig={"SecurityOpt": [f"seccomp={json.dumps(profile)}"]})
    assert "Operation not permitted" in out and "rc=1" in out


def test_capabilities_add_drop_and_privileged(api) -> None:
    _, out = run(api, "cat /proc/self/status", HostConfig={"CapDrop": ["ALL"], "CapAdd": ["net_admin", "CAP_KILL"]})
    assert caps(out, "CapEff") == (1 << 12) | (1 << 5)
    _, out = run(api, "cat /proc/self/status", HostConfig={"CapDrop": ["chown", "CAP_NET_RAW"]})
    assert caps(out, "CapEff") == DEFAULT_CAPS & ~1 & ~(1 << 13)
    _, out = run(api, "cat /proc/self/status; ls /dev | wc -l; grep -c . /proc/self/mountinfo",
                 HostConfig={"Privileged": True})
    with open("/proc/self/status") as f:
        mine = caps(f.read(), "CapBnd")
    assert caps(out, "CapEff") == mine and "Seccomp:\t0" in out
    assert int(out.splitlines()[-2]) > 20  # the host's devices


def test_user_groups_workdir_env(api) -> None:
    code, out = run(api, "id; pwd; echo $GREETING", Env=["GREETING=hi"], User="1000:1000", WorkingDir="/tmp",
                    HostConfig={"GroupAdd": ["10", "audio"]})
    assert out.splitlines()[0].startswith("uid=1000 gid=1000") and "groups=" in out
    assert "10(" in out.splitlines()[0] and "audio" in out.splitlines()[0]
    assert out.splitlines()[1:] == ["/tmp", "hi"]
    code, out = run(api, "id -un", User="nobody")
    assert out == "nobody\n"
    cid = api.create(Cmd=["true"], User="nosuchuser")
    assert api.err("POST", f"/containers/{cid}/start", 400) == \
        "unable to find user nosuchuser: no matching entries in passwd file"
    api.rm(cid)


def test_no_new_privileges_and_readonly_rootfs(api) -> None:
    code, out = run(api, "grep NoNewPrivs /proc/self/status; touch /x 2>&1; touch /tmp/ok && echo tmp-ok",
                    HostConfig={"SecurityOpt": ["no-new-privileges"], "ReadonlyRootfs": True,
                                "Tmpfs": {"/tmp": ""}})
    assert "NoNewPrivs:\t1" in out and "Read-only file system" in out and "tmp-ok" in out


def test_resources(api) -> None:
    code, out = run(api, "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes "
                         "memory/memory.soft_limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares "
                         "cpuset/cpuset.cpus pids/pids.max memory/memory.oom_control | head -9",
                    HostConfig={"Memory": 64 << 20, "MemorySwap": 96 << 20, "MemoryReservation": 32 << 20,
                                "NanoCpus": 500_000_000, "CpuShares": 256, "CpusetCpus": "0", "PidsLimit": 30,
                                "OomKillDisable": True})
    assert out.split() == [str(64 << 20), str(96 << 20), str(32 << 20), "50000", "100000", "256", "0", "30",
                           "oom_kill_disable", "1"]
    code, out = run(api, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us",
                    HostConfig={"CpuQuota": 20000, "CpuPeriod": 40000})
    assert out.split() == ["20000", "40000"]


def test_ulimits_sysctls_shm(api) -> None:
    code, out = run(api, "ulimit -n; ulimit -Hn; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; "
                         "df -k /dev/shm | tail -1",
                    HostConfig={"Ulimits": [{"Name": "nofile", "Soft": 123, "Hard": 456}],
                                "Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1234567"},
                                "ShmSize": 8 << 20})
    lines = out.splitlines()
    assert lines[:4] == ["123", "456", "1", "1234567"] and lines[4].split()[1] == "8192"


def test_devices(api) -> None:
    code, out = run(api, "ls -l /dev/xnull; echo hi > /dev/xnull && echo wrote",
                    HostConfig={"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/xnull",
                                             "CgroupPermissions": "rwm"}]})
    assert out.startswith("crw") and "1,   3" in out and "wrote" in out
    # Read-only permission: the device cgroup refuses the write (nothing reaches the kernel log).
    code, out = run(api, "echo hi > /dev/xkmsg && echo wrote",
                    HostConfig={"Devices": [{"PathOnHost": "/dev/kmsg", "PathInContainer": "/dev/xkmsg",
                                             "CgroupPermissions": "r"}]})
    assert "wrote" not in out and "Operation not permitted" in out
    code, out = run(api, "ls /dev/kmsg 2>&1")
    assert "No such file" in out  # not there unless asked for


def test_bad_device_fails_start_cleanly(api) -> None:
    cid = api.create(Cmd=["true"], HostConfig={"Devices": [{"PathOnHost": "/dev/nosuchdev",
                                                             "PathInContainer": "/dev/x"}]})
    msg = api.err("POST", f"/containers/{cid}/start", 400)
    assert msg == ('error gathering device information while adding custom device "/dev/nosuchdev": '
                   "no such file or directory")
    api.rm(cid)


def test_hostname_domainname_extra_hosts(api) -> None:
    code, out = run(api, "hostname; cat /proc/sys/kernel/domainname; grep -E 'db|cache' /etc/hosts",
                    Hostname="box", Domainname="example.org",
                    HostConfig={"ExtraHosts": ["db:10.0.0.5", "cache=10.0.0.6"]})
    assert out.splitlines() == ["box", "example.org", "10.0.0.5\tdb", "10.0.0.6\tcache"]


def test_namespace_modes(api) -> None:
    host_uts = os.uname().nodename
    code, out = run(api, "hostname; ls /proc | grep -c '^[0-9]'; readlink /proc/self/ns/ipc",
                    HostConfig={"PidMode": "host", "UTSMode": "host", "IpcMode": "host"})
    lines = out.splitlines()
    assert lines[0] == host_uts and int(lines[1]) > 10
    assert lines[2] == os.readlink("/proc/self/ns/ipc")
    donor = api.run("sh", "-c", "echo shared > /dev/shm/marker; sleep 60", Hostname="donor",
                    HostConfig={"IpcMode": "shareable"})
    api.until(lambda: api.exec(donor, "test", "-f", "/dev/shm/marker")[0] == 0)
    dpid = api.inspect(donor)["State"]["Pid"]
    code, out = run(api, "hostname; ps -o args | grep -cx 'sleep 60'; cat /dev/shm/marker; "
                         "readlink /proc/self/ns/ipc",
                    HostConfig={"PidMode": f"container:{donor}", "UTSMode": f"container:{donor}",
                                "IpcMode": f"container:{donor}"})
    lines = out.splitlines()
    assert lines[0] == "donor" and lines[1] == "1" and lines[2] == "shared"
    assert lines[3] == os.readlink(f"/proc/{dpid}/ns/ipc")
    private = api.run("sleep", "60")
    cid = api.create(Cmd=["true"], HostConfig={"IpcMode": f"container:{private}"})
    assert "non-shareable IPC" in api.err("POST", f"/containers/{cid}/start", 400)
    api.rm(cid)
    stopped = api.create(Cmd=["true"])
    cid = api.create(Cmd=["true"], HostConfig={"PidMode": f"container:{stopped}"})
    assert api.err("POST", f"/containers/{cid}/start", 409) == \
        f"cannot join PID of a non running container: {stopped}"
    for x in (cid, stopped, private, donor):
        api.rm(x)


def test_init_reaps_and_forwards_signals(api) -> None:
    # Orphans are reaped by the init: no zombie stays behind.
    cid = api.run("sh", "-c", "sh -c 'sleep 0.2 &' ; sleep 1; ps -o stat,args; "
                              "trap 'echo got-term; exit 9' TERM; while true; do sleep 0.1; done",
                  HostConfig={"Init": True})
    api.until(lambda: b"sleep 0.1" in api.logs(cid) or b"ps" in demux(api.logs(cid)))
    time.sleep(0.3)
    t = time.monotonic()
    api.ok("POST", f"/containers/{cid}/stop", 204, query={"t": 10})
    assert time.monotonic() - t < 5  # TERM reached the shell through the init
    info = api.inspect(cid)
    out = demux(api.logs(cid)).decode()
    assert info["State"]["ExitCode"] == 9 and "got-term" in out
    assert " Z " not in out and "\nZ" not in out
    assert info["Path"] == "sh" and info["HostConfig"]["Init"] is True
    api.rm(cid)
    code, out = run(api, "cat /proc/1/cmdline | tr '\\0' ' '", HostConfig={"Init": True})
    assert out.startswith("/sbin/docker-init -- sh -c")


def test_tmpfs_and_mounts(api, tmp_path) -> None:
    (tmp_path / "f").write_text("from host")
    code, out = run(api, "cat /h/f; echo x > /h/new 2>&1; mount | grep -E ' /(t1|t2|h|ro) '; "
                         "cat /ro/f; echo y > /ro/f 2>&1",
                    HostConfig={"Tmpfs": {"/t1": "size=2m,mode=1700"},
                                "Binds": [f"{tmp_path}:/h", f"{tmp_path}:/ro:ro"],
                                "Mounts": [{"Type": "tmpfs", "Target": "/t2",
                                            "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o755}}]})
    assert "from host" in out and (tmp_path / "new").read_text() == "x\n"
    t1 = [ln for ln in out.splitlines() if " /t1 " in ln][0]
    t2 = [ln for ln in out.splitlines() if " /t2 " in ln][0]
    assert "size=2048k" in t1 and "mode=1700" in t1 and "noexec" in t1
    assert "size=1024k" in t2
    assert "Read-only file system" in out


def test_log_rotation_json_file(daemon, api) -> None:
    cid = api.run("sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done",
                  HostConfig={"LogConfig": {"Type": "json-file", "Config": {"max-size": "2k", "max-file": "3"}}})
    api.wait(cid)
    logdir = os.path.join(daemon.data_root, "containers", cid)
    files = sorted(f for f in os.listdir(logdir) if "-json.log" in f)
    assert files == [f"{cid}-json.log", f"{cid}-json.log.1", f"{cid}-json.log.2"]
    assert all(os.path.getsize(os.path.join(logdir, f)) < 2200 for f in files)
    out = demux(api.logs(cid)).decode().splitlines()
    assert out[-1] == "line-299" and len(out) < 300  # the oldest lines rotated away
    assert demux(api.logs(cid, tail=2)) == b"line-298\nline-299\n"
    api.rm(cid)


def test_log_drivers_local_and_none(daemon, api) -> None:
    cid = api.run("sh", "-c", "i=0; while [ $i -lt 400 ]; do echo local-$i; i=$((i+1)); done; printf partial",
                  HostConfig={"LogConfig": {"Type": "local", "Config": {"max-size": "4k", "max-file": "2"}}})
    api.wait(cid)
    ldir = os.path.join(daemon.data_root, "containers", cid, "local-logs")
    assert sorted(os.listdir(ldir)) == ["container.log", "container.log.1.gz"]
    lines = demux(api.logs(cid)).decode().split("\n")
    assert lines[-1] == "partial" and lines[-2] == "local-399"
    assert demux(api.logs(cid, tail=1)) == b"partial"
    assert api.inspect(cid)["LogPath"] == ""
    api.rm(cid)
    cid = api.run("echo", "gone", HostConfig={"LogConfig": {"Type": "none"}})
    api.wait(cid)
    assert not [f for f in os.listdir(os.path.join(daemon.data_root, "containers", cid)) if "log" in f]
    msg = api.err("GET", f"/containers/{cid}/logs", 501, query={"stdout": True})
    assert "configured logging driver does not support reading" in msg
    api.rm(cid)


def test_oom_kill_is_recorded(api) -> None:
    import json as _json
    t0 = time.time()
    cid = api.run("sh", "-c", "x=$(head -c 50000000 /dev/zero | tr '\\0' a); echo survived",
                  HostConfig={"Memory": 8 << 20, "MemorySwap": 8 << 20})
    assert api.wait(cid)["StatusCode"] == 137
    st = api.inspect(cid)["State"]
    assert st["OOMKilled"] is True and st["ExitCode"] == 137
    time.sleep(1.1)
    _, data, _ = api.call("GET", "/events", query={"since": f"{t0:.3f}", "until": f"{time.time():.3f}",
                                                   "filters": {"container": [cid]}})
    actions = [_json.loads(x)["Action"] for x in data.splitlines()]
    assert actions.index("oom") < actions.index("die")
    api.rm(cid)


def _hostile_signals() -> None:
    """The daemon's starter ignores every signal it can (glibc's internal 32
    and 33 included, as any child of glibc's posix_spawn has them: GNU make's
    recipes, CI's `make test`) and blocks them all."""
    from dockyard._sys import libc
    for sig in range(1, libc.NSIG):
        if sig not in (libc.SIGKILL, libc.SIGSTOP):
            libc.set_signal_disposition(sig, libc.SIG_IGN)
    libc.set_blocked_signals((1 << 64) - 1)


def test_default_signals_whatever_the_daemon_inherited() -> None:
    """Nothing the daemon inherited reaches a container: init and exec'd
    processes (through the spare shim and a freshly started one) start with
    no signal ignored or blocked; SIGPIPE ends a pipeline."""
    from _support.daemon import TestDaemon
    d = TestDaemon().start(preexec_fn=_hostile_signals)
    try:
        d.import_busybox()
        api = Engine(d.socket)
        clean = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
        for _ in range(3):  # the first start has no spare shim yet
            cid = api.run("grep", "-E", "Sig(Ign|Blk)", "/proc/self/status")
            assert api.wait(cid)["StatusCode"] == 0
            assert demux(api.logs(cid)).decode() == clean
            api.rm(cid)
        code, out = run(api, "yes | head -c 100000 | wc -c")
        assert code == 0 and out.strip() == "100000"
        cid = api.run("sleep", "60")
        code, out = api.exec(cid, "grep", "-E", "Sig(Ign|Blk)", "/proc/self/status")
        assert code == 0 and out.decode() == clean
        api.rm(cid)
    finally:
        d.teardown()
