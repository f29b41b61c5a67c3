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
