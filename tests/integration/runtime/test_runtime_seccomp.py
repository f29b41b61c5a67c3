"""linux.seccomp: docker's default profile loads and blocks what it blocks;
argument rules behave as runc's. On dockyard-runtime and runc."""

from __future__ import annotations

import json
import os
import platform

from _support.paths import REFERENCE
from _support.runtime import rt  # noqa: F401  (the fixture: each test on both runtimes)

# Docker's profile format -> the OCI linux.seccomp docker puts in config.json
# (moby's profiles/seccomp setupSeccomp): architectures from archMap, entries
# filtered by their includes/excludes against the container's capabilities.
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


def docker_default_seccomp(capabilities: list[str]) -> dict:
    with open(os.path.join(REFERENCE, "docker-seccomp-profile", "default.json")) as f:
        profile = json.load(f)
    machine = platform.machine()
    arch = GO_ARCH.get(machine, machine)
    archs = []
    for m in profile.get("archMap") or []:
        if m["architecture"] == NATIVE.get(machine):
            archs = [m["architecture"], *m.get("subArchitectures", [])]
    kernel = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])
    syscalls = []
    for call in profile["syscalls"]:
        inc, exc = call.get("includes") or {}, call.get("excludes") or {}
        if arch in (exc.get("arches") or []) or any(c in capabilities for c in exc.get("caps") or []):
            continue
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if inc.get("caps") and not all(c in capabilities for c in inc["caps"]):
            continue
        if inc.get("minKernel") and kernel < tuple(int(x) for x in inc["minKernel"].split(".")[:2]):
            continue
        entry = {k: call[k] for k in ("names", "action", "args", "errnoRet") if call.get(k) is not None}
        syscalls.append(entry)
    return {"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile.get("defaultErrnoRet"),
            "architectures": archs, "syscalls": syscalls}


def _lines(res) -> list[str]:
    assert res.returncode == 0, res.stderr
    return res.stdout.decode().splitlines()


def test_docker_default_profile_loads_and_blocks(rt) -> None:
    def upd(with_profile: bool):
        def f(s):
            s["process"]["noNewPrivileges"] = False  # as docker runs containers
            if with_profile:
                s["linux"]["seccomp"] = docker_default_seccomp(s["process"]["capabilities"]["bounding"])
        return f
    script = ("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; ls / >/dev/null && echo ls-ok; "
              "unshare -U true 2>&1 && echo unshare-ok; cat /etc/hostname")
    confined = _lines(rt.run("sc1", ["sh", "-c", script], upd(True)))
    status = dict(line.split(":\t") for line in confined[:2])
    assert status["Seccomp"] == "2"
    assert status["NoNewPrivs"] == "0"  # the filter did not set it behind the config's back
    assert confined[2] == "ls-ok"
    assert "Operation not permitted" in confined[3] and "unshare-ok" not in confined
    assert confined[-1] == "busybox"
    # the control: without the profile a user namespace can be made
    free = _lines(rt.run("sc2", ["sh", "-c", script], upd(False)))
    assert "Seccomp:\t0" in free[:2] and "unshare-ok" in free


def test_two_conditions_on_one_argument_are_alternatives(rt) -> None:
    """libseccomp refuses two comparisons of one argument in a rule; runc
    adds one rule per comparison, so either value matches."""
    def upd(s):
        s["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                          "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                                   {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]},
                         {"names": ["no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO"}],
        }
    script = ("sleep 30 & P=$!; for s in USR1 USR2 TERM; do kill -$s $P 2>/dev/null && echo $s-sent "
              "|| echo $s-blocked; done")
    assert _lines(rt.run("sc3", ["sh", "-c", script], upd)) == ["USR1-blocked", "USR2-blocked", "TERM-sent"]


def test_seccomp_errno_and_masked_argument(rt) -> None:
    def upd(s):
        s["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": [NATIVE.get(platform.machine(), "SCMP_ARCH_X86_64")],
            # mkdir/mkdirat fail with EACCES; openat with O_CREAT (0x40) set fails with EROFS.
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                         {"names": ["openat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
                          "args": [{"index": 2, "value": 0x40, "valueTwo": 0x40, "op": "SCMP_CMP_MASKED_EQ"}]}],
        }
    script = "mkdir /tmp/d 2>&1; touch /tmp/f 2>&1; cat /etc/hostname"
    lines = _lines(rt.run("sc4", ["sh", "-c", script], upd))
    assert "Permission denied" in lines[0]
    assert "Read-only file system" in lines[1]
    assert lines[2] == "busybox"


def test_bad_seccomp_action_names_the_field(rt) -> None:
    def upd(s):
        s["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]}
    res = rt.run("sc5", ["true"], upd)
    assert res.returncode != 0
    if not rt.is_runc:
        assert b"linux.seccomp.syscalls[0].action" in res.stderr
    assert not os.path.exists(os.path.join(rt.root, "sc5"))


# The compiled-filter cache (dockyard-runtime only: runc compiles every time).
# DOCKYARD_RUNTIME_MODULES_FILE has each command append what it imported and
# its cache hits and misses.

from _support.runtime import ours  # noqa: E402,F401

_DOCKER_SCRIPT = "grep '^Seccomp:' /proc/self/status; unshare -U true 2>&1 && echo unshare-ok; cat /etc/hostname"


def _traced(r, tmp_path) -> tuple[dict, str]:
    trace = str(tmp_path / "trace.jsonl")
    return {"env": {**os.environ, "DOCKYARD_RUNTIME_MODULES_FILE": trace}}, trace


def _last_trace(trace: str) -> dict:
    with open(trace) as f:
        return json.loads(f.read().splitlines()[-1])


def _cache_entries(r) -> dict[str, bytes]:
    d = os.path.join(r.root, "@seccomp-cache")
    return {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}


def _with_docker_profile(s) -> None:
    s["process"]["noNewPrivileges"] = False
    s["linux"]["seccomp"] = docker_default_seccomp(s["process"]["capabilities"]["bounding"])


def _check_confined(res) -> None:
    lines = _lines(res)
    assert lines[0] == "Seccomp:\t2"
    assert "Operation not permitted" in lines[1] and "unshare-ok" not in lines
    assert lines[-1] == "busybox"


def test_second_create_loads_the_cached_filter_without_libseccomp(ours, tmp_path) -> None:
    kw, trace = _traced(ours, tmp_path)
    _check_confined(ours.run("cc1", ["sh", "-c", _DOCKER_SCRIPT], _with_docker_profile, **kw))
    first = _last_trace(trace)
    assert first["seccomp"] == {"hit": 0, "miss": 1} and "pyseccomp" in first["modules"]
    entries = _cache_entries(ours)
    assert len(entries) == 1
    assert oct(os.stat(os.path.join(ours.root, "@seccomp-cache")).st_mode & 0o777) == "0o700"
    _check_confined(ours.run("cc2", ["sh", "-c", _DOCKER_SCRIPT], _with_docker_profile, **kw))
    second = _last_trace(trace)
    assert second["seccomp"] == {"hit": 1, "miss": 0}
    assert "pyseccomp" not in second["modules"] and "ctypes" not in second["modules"]
    assert _cache_entries(ours) == entries


def test_corrupt_cache_entry_is_ignored_and_rewritten(ours, tmp_path) -> None:
    kw, trace = _traced(ours, tmp_path)
    ours.run("cc3", ["true"], _with_docker_profile, **kw)
    [(name, good)] = _cache_entries(ours).items()
    path = os.path.join(ours.root, "@seccomp-cache", name)
    # truncated to a multiple of 8, one flipped instruction byte (the checksum
    # catches it), an odd length, a bad header, an empty file
    flipped = bytearray(good)
    flipped[-3] ^= 0xFF  # the last instruction's k: would change what it returns
    for bad in (good[:-8], bytes(flipped), good + b"x", b"NOTMAGIC" + good[8:], b""):
        with open(path, "wb") as f:
            f.write(bad)
        _check_confined(ours.run(f"cc{len(ours.ids)}x", ["sh", "-c", _DOCKER_SCRIPT], _with_docker_profile, **kw))
        assert _last_trace(trace)["seccomp"] == {"hit": 0, "miss": 1}, bad[:16]
        assert open(path, "rb").read() == good


def test_a_different_profile_gets_its_own_entry(ours, tmp_path) -> None:
    kw, trace = _traced(ours, tmp_path)

    def deny(names):
        def f(s):
            s["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                     "syscalls": [{"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
        return f
    script = "mkdir /tmp/d 2>&1 && echo made; touch /tmp/f; rm /tmp/f 2>&1 && echo removed; true"
    mkdir_denied = _lines(ours.run("cd1", ["sh", "-c", script], deny(["mkdir", "mkdirat"]), **kw))
    assert "Permission denied" in mkdir_denied[0] and mkdir_denied[1:] == ["removed"]
    # same rules, keys in another order: the same entry
    def reordered(s):
        deny(["mkdir", "mkdirat"])(s)
        s["linux"]["seccomp"] = dict(reversed(list(s["linux"]["seccomp"].items())))
    ours.run("cd2", ["true"], reordered, **kw)
    assert _last_trace(trace)["seccomp"] == {"hit": 1, "miss": 0}
    assert len(_cache_entries(ours)) == 1
    rm_denied = _lines(ours.run("cd3", ["sh", "-c", script], deny(["unlink", "unlinkat"]), **kw))
    assert _last_trace(trace)["seccomp"] == {"hit": 0, "miss": 1}
    assert rm_denied[0] == "made" and "Permission denied" in rm_denied[1] and "removed" not in rm_denied
    assert len(_cache_entries(ours)) == 2


def test_exec_uses_the_cached_filter(ours, tmp_path) -> None:
    kw, trace = _traced(ours, tmp_path)

    def upd(s):
        _with_docker_profile(s)
        s["process"]["args"] = ["sleep", "60"]
    b = ours.bundle("ce1", ["sleep", "60"], upd)
    ours.ids.append("ce1")
    with open(tmp_path / "ce1.out", "wb") as out:
        assert ours("create", "--bundle", b, "ce1", stdout=out, stderr=out, **kw).returncode == 0
    ours.ok("start", "ce1")
    res = ours("exec", "ce1", "sh", "-c", _DOCKER_SCRIPT, **kw)
    _check_confined(res)
    line = _last_trace(trace)
    assert line["verb"] == "exec" and line["seccomp"] == {"hit": 1, "miss": 0}
    assert "pyseccomp" not in line["modules"]
