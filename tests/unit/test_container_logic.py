"""Pure pieces of the container layer: log formats, HostConfig checks,
mount specs, capabilities, seccomp profile conversion, restart backoff."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import struct

import pytest

from dockyard import errdefs
from dockyard.daemon import caps, hostconfig, mounts, seccomp, specgen
from dockyard.daemon.containers import merge_image_config, parse_ps
from dockyard.daemon.logs import decode_entry, json_block_fast, read_logs
from dockyard.daemon.restart import RestartManager
from dockyard.shim.logs import JSONFileLogger, LocalLogger, encode_entry


def collect(path: str, driver: str, **kw) -> bytes:
    async def run() -> bytes:
        out = b""
        async for chunk in read_logs(path, driver, kw.pop("opts", {}), kw.pop("tty", False), **kw):
            out += chunk
        return out
    return asyncio.run(run())


def demux(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        s, n = struct.unpack(">BxxxL", data[:8])
        out.append((s, data[8:8 + n]))
        data = data[8 + n:]
    return out


# -- log drivers -------------------------------------------------------------------
def test_json_file_lines_escapes_partials_and_rotation(tmp_path) -> None:
    path = str(tmp_path / "c-json.log")
    log = JSONFileLogger(path, max_size=300, max_file=3, compress=True)
    for i in range(20):
        log.write("stdout", b"plain line %d\n" % i)
    log.write("stderr", b'quote " backslash \\ tab\t bad \xff\nunterminated')
    log.write("stdout", b"y" * 20000 + b"\n")  # over 16 KiB: split into a partial entry and the rest
    log.close()
    files = sorted(os.listdir(tmp_path))
    assert files == ["c-json.log", "c-json.log.1.gz", "c-json.log.2.gz"]
    records = [json.loads(line) for n in (2, 1) for line in gzip.open(f"{path}.{n}.gz")]
    records += [json.loads(line) for line in open(path)]
    assert any(r["log"] == 'quote " backslash \\ tab\t bad \ufffd\n' and r["stream"] == "stderr" for r in records)
    assert any(r["log"] == "unterminated" for r in records)
    long = [r["log"] for r in records if r["log"].startswith("y")]
    assert [len(x) for x in long] == [16384, 20000 - 16384 + 1]
    assert records[-1] == {"log": "unterminated", "stream": "stderr", "time": records[-1]["time"]}


def test_json_fast_path_matches_the_record_path(tmp_path) -> None:
    path = str(tmp_path / "x.log")
    log = JSONFileLogger(path)
    log.write("stdout", b"a\nb\n")
    log.write("stderr", b"e \"x\"\n")
    log.write("stdout", b"c\\d\n")
    log.close()
    block = open(path, "rb").read()
    fast = json_block_fast(block, True, True, False, False)
    assert demux(fast) == [(1, b"a\nb\n"), (2, b'e "x"\n'), (1, b"c\\d\n")]
    assert demux(collect(path, "json-file", since=1.0)) == [(1, b"a\n"), (1, b"b\n"), (2, b'e "x"\n'),
                                                             (1, b"c\\d\n")] or \
        b"".join(p for _, p in demux(collect(path, "json-file", since=1.0))) == b'a\nb\ne "x"\nc\\d\n'
    assert json_block_fast(b"not json\n", True, True, False, False) is None
    assert collect(path, "json-file", tty=True, stderr=False) == b"a\nb\nc\\d\n"
    assert collect(path, "json-file", tail=1) == struct.pack(">BxxxL", 1, 4) + b"c\\d\n"
    stamped = b"".join(p for _, p in demux(collect(path, "json-file", timestamps=True)))
    assert stamped.split(b"\n")[0].endswith(b"Z a") and len(stamped.split(b"\n")[0]) == 32


def test_local_driver_roundtrip_rotation_and_tail(tmp_path) -> None:
    path = str(tmp_path / "local-logs" / "container.log")
    log = LocalLogger(path, 200, 2, True)
    for i in range(30):
        log.write("stdout", b"line %d\n" % i)
    log.write("stderr", b"partial")
    log.close()
    assert sorted(os.listdir(tmp_path / "local-logs")) == ["container.log", "container.log.1.gz"]
    frames = demux(collect(path, "local", opts={"max-file": "2"}))
    text = b"".join(p for _, p in frames)
    assert text.endswith(b"line 29\npartial") and frames[-1] == (2, b"partial")
    assert collect(path, "local", tail=2) == struct.pack(">BxxxL", 1, 8) + b"line 29\n" + \
        struct.pack(">BxxxL", 2, 7) + b"partial"
    enc = encode_entry("stderr", 123456789, b"hello", True)
    assert decode_entry(enc[4:-4]) == ("stderr", 123456789, b"hello")


# -- create checks -------------------------------------------------------------------
@pytest.mark.parametrize("hc,message", [
    ({"Memory": 1}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": 0, "MemorySwap": 10 << 20}, "You should always set the Memory limit when using Memoryswap limit"),
    ({"MemoryReservation": 100 << 20, "Memory": 50 << 20}, "Minimum memory limit can not be less than memory reservation"),
    ({"NanoCpus": 10**9, "CpuPeriod": 100000}, "Nano CPUs and CPU Period cannot both be set"),
    ({"CpuQuota": 10}, "CPU cfs quota can not be less than 1ms"),
    ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}, "maximum retry count can only be used with 'on-failure'"),
    ({"LogConfig": {"Type": "json-file", "Config": {"max-file": "0"}}}, "max-file cannot be less than 1"),
    ({"LogConfig": {"Type": "json-file", "Config": {"max-file": "3"}}}, "max-file cannot be set without max-size"),
    ({"PidMode": "bogus"}, "invalid PID mode: bogus"),
    ({"UTSMode": "host"}, "Conflicting options: hostname and the UTS mode"),
    ({"ShmSize": -1}, "SHM size can not be less than 0"),
    ({"Sysctls": {"fs.file-max": "1"}}, 'sysctl "fs.file-max" is not in a separate kernel namespace'),
    ({"IpcMode": "host", "Sysctls": {"kernel.shmmax": "1"}}, 'sysctl "kernel.shmmax" not allowed in host IPC namespace'),
    ({"SecurityOpt": ["colour=blue"]}, 'invalid --security-opt 2: "colour=blue"'),
])
def test_hostconfig_rejects(hc, message) -> None:
    with pytest.raises(errdefs.InvalidArgument) as ei:
        hostconfig.validate({"Hostname": "x"} if hc.get("UTSMode") else {}, dict(hc))
    assert message in ei.value.message


def test_hostconfig_defaults_as_docker_stores_them() -> None:
    hc = {"Memory": 32 << 20}
    assert hostconfig.validate({}, hc) == []
    assert hc["MemorySwap"] == 64 << 20 and hc["ShmSize"] == 67108864 and hc["IpcMode"] == "private"
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {}}
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    warnings = hostconfig.validate({}, {"OomKillDisable": True})
    assert warnings and "OOM killer is disabled" in warnings[0]


def test_binds_and_mounts_parsing() -> None:
    assert mounts.parse_bind("/src:/dst:ro,rshared") == {
        "Type": "bind", "Destination": "/dst", "Mode": "ro,rshared", "RW": False, "Source": "/src",
        "Propagation": "rshared", "_create_source": True}
    v = mounts.parse_bind("data:/d:nocopy")
    assert v["Type"] == "volume" and v["Name"] == "data" and v["_nocopy"] is True
    assert mounts.parse_bind("/anon")["Name"] == ""
    for bad, msg in (("/a:/b:rw,ro", "invalid mode: rw,ro"), ("/x:rw", "invalid volume specification: '/x:rw'"),
                     ("/a:/b:/c:/d", "invalid volume specification"), ("/a:/", "destination can't be '/'")):
        with pytest.raises(errdefs.InvalidArgument) as ei:
            mounts.parse_bind(bad)
        assert msg in ei.value.message
    t = mounts.parse_mount({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1000, "Mode": 0o1777}})
    assert t["_tmpfs"] == "size=1k,mode=1777"
    points = mounts.collect({"Binds": ["/h:/data"], "Tmpfs": {"/run": "size=1m"}},
                            {"Volumes": {"/data": {}, "/cache": {}}}, lambda ref: None)
    assert [(p["Destination"], p["Type"]) for p in points] == [("/cache", "volume"), ("/data", "bind"),
                                                              ("/run", "tmpfs")]
    assert specgen.merge_tmpfs_options(["noexec", "nosuid", "rw", "exec", "size=1m", "size=2m"]) == \
        ["nosuid", "rw", "exec", "size=2m"]


def test_capabilities_and_seccomp_profile() -> None:
    assert caps.tweak(None, None, False) == list(specgen.rs.DEFAULT_CAPABILITIES)
    got = caps.tweak(["sys_admin", "CAP_NET_ADMIN"], ["chown"], False)
    assert "CAP_SYS_ADMIN" in got and "CAP_NET_ADMIN" in got and "CAP_CHOWN" not in got
    assert caps.tweak(["NET_RAW"], ["ALL"], False) == ["CAP_NET_RAW"]
    with pytest.raises(errdefs.InvalidArgument):
        caps.tweak(["NOPE"], None, False)
    prof = seccomp.default_profile()
    plain = seccomp.to_oci(prof, list(specgen.rs.DEFAULT_CAPABILITIES), "amd64", (6, 1))
    admin = seccomp.to_oci(prof, list(specgen.rs.DEFAULT_CAPABILITIES) + ["CAP_SYS_ADMIN"], "amd64", (6, 1))
    names = {n for r in plain["syscalls"] for n in r["names"]}
    admin_names = {n for r in admin["syscalls"] for n in r["names"]}
    assert plain["defaultAction"] == "SCMP_ACT_ERRNO" and plain["architectures"] == [
        "SCMP_ACT_X86_64".replace("ACT", "ARCH"), "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert "mount" not in names and "mount" in admin_names and "read" in names
    assert "arch_prctl" in names  # amd64-only rule kept on amd64
    assert "arch_prctl" not in {n for r in seccomp.to_oci(prof, [], "arm64", (6, 1))["syscalls"] for n in r["names"]}


def test_restart_backoff_and_policies() -> None:
    rm = RestartManager({"Name": "always"})
    delays = [rm.should_restart(0, False, 0.1)[1] for _ in range(12)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8] and delays[-1] == 60.0 and rm.restart_count == 12
    assert rm.should_restart(0, False, 11.0) == (True, 0.1)  # a 10 s run resets the backoff
    rm = RestartManager({"Name": "on-failure", "MaximumRetryCount": 2})
    assert rm.should_restart(0, False, 0)[0] is False
    assert [rm.should_restart(1, False, 0)[0] for _ in range(3)] == [True, True, False]
    assert RestartManager({"Name": "unless-stopped"}).should_restart(0, True, 0)[0] is False
    rm = RestartManager({"Name": "always"})
    rm.cancel()
    assert rm.should_restart(1, False, 0)[0] is False


def test_merge_image_config_and_ps_output() -> None:
    img = {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/w", "Volumes": {"/v": {}},
           "Labels": {"l": "img"}, "StopSignal": "SIGQUIT", "Healthcheck": {"Test": ["CMD", "true"]}}
    out = merge_image_config({"Env": ["A=2"], "Labels": {"mine": "1"}}, img)
    assert out["Env"] == ["PATH=/bin", "A=2"] and out["Cmd"] == ["sh"] and out["WorkingDir"] == "/w"
    assert out["Labels"] == {"l": "img", "mine": "1"} and out["Volumes"] == {"/v": {}}
    assert out["StopSignal"] == "SIGQUIT" and out["Healthcheck"] == {"Test": ["CMD", "true"]}
    ps = "UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 10:00 ? 00:00:00 sleep 30 --flag\nroot 11 1 0 10:00 ? 00:00:00 other\n"
    assert parse_ps(ps, {10}) == {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
                                  "Processes": [["root", "10", "1", "0", "10:00", "?", "00:00:00", "sleep 30 --flag"]]}
