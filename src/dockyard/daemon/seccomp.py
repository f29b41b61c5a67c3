"""Docker-format seccomp profiles (the default one ships as package data) to
the OCI linux.seccomp of one container, as dockerd's profiles/seccomp does:
keep the native architecture and its sub-architectures, and only the rules
whose arch, capability and kernel-version conditions hold."""

from __future__ import annotations

import json
import os
import platform
from functools import lru_cache
from typing import Any

from .. import errdefs

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
           "riscv64": "riscv64", "i686": "386", "i386": "386"}
_SCMP_ARCH = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "arm": "SCMP_ARCH_ARM",
              "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64",
              "386": "SCMP_ARCH_X86"}


def native_arch() -> str:
    m = platform.machine()
    return _GOARCH.get(m, m)


@lru_cache(maxsize=1)
def default_profile() -> dict[str, Any]:
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "profiles", "docker-default-seccomp.json")
    with open(path, "rb") as f:
        return json.loads(f.read())


def _kernel_version() -> tuple[int, int]:
    rel = os.uname().release
    parts = rel.split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return 0, 0


def _version(s: str) -> tuple[int, int]:
    p = s.split(".")
    return int(p[0]), int(p[1]) if len(p) > 1 else 0


def parse_profile(text: str) -> dict[str, Any]:
    try:
        prof = json.loads(text)
    except ValueError as e:
        raise errdefs.InvalidArgument(f"Decoding seccomp profile failed: {e}") from None
    if not isinstance(prof, dict):
        raise errdefs.InvalidArgument("Decoding seccomp profile failed: not a JSON object")
    return prof


def to_oci(profile: dict[str, Any], caps: list[str], arch: str | None = None,
           kernel: tuple[int, int] | None = None) -> dict[str, Any]:
    arch = arch or native_arch()
    kernel = kernel or _kernel_version()
    if profile.get("architectures") and profile.get("archMap"):
        raise errdefs.InvalidArgument("Decoding seccomp profile failed: 'architectures' and 'archMap' "
                                      "were specified in the seccomp profile, use either 'architectures' "
                                      "or 'archMap'")
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction") or "SCMP_ACT_ERRNO"}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches: list[str] = list(profile.get("architectures") or [])
    native = _SCMP_ARCH.get(arch)
    for m in profile.get("archMap") or []:
        if m.get("architecture") == native:
            arches = [m["architecture"], *(m.get("subArchitectures") or [])]
    if arches:
        out["architectures"] = arches
    syscalls = []
    capset = set(caps)
    for sc in profile.get("syscalls") or []:
        inc = sc.get("includes") or {}
        exc = sc.get("excludes") or {}
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if exc.get("arches") and arch in exc["arches"]:
            continue
        if inc.get("caps") and not all(c in capset for c in inc["caps"]):
            continue
        if exc.get("caps") and any(c in capset for c in exc["caps"]):
            continue
        if inc.get("minKernel") and kernel < _version(inc["minKernel"]):
            continue
        names = list(sc.get("names") or ([sc["name"]] if sc.get("name") else []))
        if not names:
            continue
        rule: dict[str, Any] = {"names": names, "action": sc.get("action")}
        if sc.get("args"):
            rule["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a} for a in sc["args"]]
        if sc.get("errnoRet") is not None:
            rule["errnoRet"] = sc["errnoRet"]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out
