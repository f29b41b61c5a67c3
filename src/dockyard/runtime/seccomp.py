"""linux.seccomp to a filter through libseccomp (pyseccomp), loaded as the
last step before the container process waits for `start`."""

from __future__ import annotations

import errno as errno_mod
from typing import Any

_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
            "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
_OPS = {"SCMP_CMP_NE": "NE", "SCMP_CMP_LT": "LT", "SCMP_CMP_LE": "LE", "SCMP_CMP_EQ": "EQ",
        "SCMP_CMP_GE": "GE", "SCMP_CMP_GT": "GT", "SCMP_CMP_MASKED_EQ": "MASKED_EQ"}
_ARCHES = {"SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32",
           "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_MIPS": "mips",
           "SCMP_ARCH_MIPS64": "mips64", "SCMP_ARCH_MIPS64N32": "mips64n32", "SCMP_ARCH_MIPSEL": "mipsel",
           "SCMP_ARCH_MIPSEL64": "mipsel64", "SCMP_ARCH_MIPSEL64N32": "mipsel64n32", "SCMP_ARCH_PPC": "ppc",
           "SCMP_ARCH_PPC64": "ppc64", "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390": "s390",
           "SCMP_ARCH_S390X": "s390x", "SCMP_ARCH_RISCV64": "riscv64"}


def validate(cfg: dict[str, Any]) -> None:
    """Check names before forking, so a bad profile fails `create` cleanly."""
    if cfg.get("defaultAction") not in _ACTIONS:
        raise ValueError(f"linux.seccomp.defaultAction: unknown action {cfg.get('defaultAction')!r}")
    for a in cfg.get("architectures") or []:
        if a not in _ARCHES:
            raise ValueError(f"linux.seccomp.architectures: unknown architecture {a!r}")
    for i, sc in enumerate(cfg.get("syscalls") or []):
        if sc.get("action") not in _ACTIONS:
            raise ValueError(f"linux.seccomp.syscalls[{i}].action: unknown action {sc.get('action')!r}")
        for arg in sc.get("args") or []:
            if arg.get("op") not in _OPS:
                raise ValueError(f"linux.seccomp.syscalls[{i}].args: unknown operator {arg.get('op')!r}")


def _action(seccomp: Any, name: str, errno_ret: int | None, default_errno: int) -> Any:
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(errno_ret if errno_ret is not None else default_errno)
    if name == "SCMP_ACT_TRACE":
        return seccomp.TRACE(errno_ret or 0)
    return {"SCMP_ACT_KILL": seccomp.KILL, "SCMP_ACT_KILL_THREAD": seccomp.KILL,
            "SCMP_ACT_KILL_PROCESS": getattr(seccomp, "KILL_PROCESS", seccomp.KILL),
            "SCMP_ACT_TRAP": seccomp.TRAP, "SCMP_ACT_ALLOW": seccomp.ALLOW,
            "SCMP_ACT_LOG": getattr(seccomp, "LOG", seccomp.ALLOW),
            "SCMP_ACT_NOTIFY": getattr(seccomp, "NOTIFY", seccomp.ALLOW)}[name]


def preload() -> None:
    import pyseccomp  # noqa: F401  (loads libseccomp.so before pivot_root)


def load_filter(cfg: dict[str, Any]) -> None:
    import pyseccomp as seccomp

    validate(cfg)
    default_errno = cfg.get("defaultErrnoRet", errno_mod.EPERM)
    filt = seccomp.SyscallFilter(_action(seccomp, cfg["defaultAction"], cfg.get("defaultErrnoRet"), errno_mod.EPERM))
    for a in cfg.get("architectures") or []:
        arch = seccomp.Arch.__members__.get(_ARCHES[a].upper()) if hasattr(seccomp.Arch, "__members__") else None
        try:
            filt.add_arch(arch if arch is not None else getattr(seccomp.Arch, _ARCHES[a].upper()))
        except Exception:
            pass  # already present (the native one) or unknown to this libseccomp
    for sc in cfg.get("syscalls") or []:
        action = _action(seccomp, sc["action"], sc.get("errnoRet"), default_errno)
        conds = []
        for arg in sc.get("args") or []:
            op = getattr(seccomp, _OPS[arg["op"]])
            if arg["op"] == "SCMP_CMP_MASKED_EQ":
                conds.append(seccomp.Arg(arg["index"], op, arg.get("value", 0), arg.get("valueTwo", 0)))
            else:
                conds.append(seccomp.Arg(arg["index"], op, arg.get("value", 0)))
        for name in sc.get("names") or []:
            try:
                filt.add_rule(action, name, *conds)
            except Exception:
                # A syscall unknown on this architecture, or a rule equal to the default.
                continue
    filt.load()
