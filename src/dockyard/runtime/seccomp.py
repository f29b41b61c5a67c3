"""linux.seccomp to a filter through libseccomp (pyseccomp), loaded as the
last step before the container process waits for `start`."""

from __future__ import annotations

import errno as errno_mod

TYPE_CHECKING = False
if TYPE_CHECKING:
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


def _action(seccomp: Any, name: str, errno_ret: int | None) -> int:
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(errno_mod.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_TRACE":
        return seccomp.TRACE(errno_mod.EPERM if errno_ret is None else errno_ret)
    return {"SCMP_ACT_KILL": seccomp.KILL_THREAD, "SCMP_ACT_KILL_THREAD": seccomp.KILL_THREAD,
            "SCMP_ACT_KILL_PROCESS": seccomp.KILL_PROCESS, "SCMP_ACT_TRAP": seccomp.TRAP,
            "SCMP_ACT_ALLOW": seccomp.ALLOW, "SCMP_ACT_LOG": seccomp.LOG,
            "SCMP_ACT_NOTIFY": seccomp.NOTIFY}[name]


def preload() -> None:
    import pyseccomp  # noqa: F401  (loads libseccomp.so before pivot_root)


def _conditions(seccomp: Any, args: list[dict[str, Any]]) -> list[list[Any]]:
    """The rules to add for one syscall entry. libseccomp refuses two
    comparisons of the same argument in one rule; runc then adds one rule per
    comparison (OR instead of AND), and so do we."""
    conds = []
    for arg in args:
        op = getattr(seccomp, _OPS[arg["op"]])
        conds.append(seccomp.Arg(int(arg["index"]), op, int(arg.get("value", 0)), int(arg.get("valueTwo", 0))))
    indexes = [int(a["index"]) for a in args]
    if len(set(indexes)) != len(indexes):
        return [[cond] for cond in conds]
    return [conds]


def build_filter(cfg: dict[str, Any]) -> Any:
    import pyseccomp as seccomp

    validate(cfg)
    if cfg.get("listenerPath"):
        raise ValueError("linux.seccomp.listenerPath: seccomp notify is not supported")
    default = _action(seccomp, cfg["defaultAction"], cfg.get("defaultErrnoRet"))
    filt = seccomp.SyscallFilter(default)
    # no_new_privs is the config's decision (process.noNewPrivileges), not libseccomp's.
    filt.set_attr(seccomp.Attr.CTL_NNP, 0)
    flags = cfg.get("flags") or []
    if "SECCOMP_FILTER_FLAG_LOG" in flags:
        filt.set_attr(seccomp.Attr.CTL_LOG, 1)
    if "SECCOMP_FILTER_FLAG_SPEC_ALLOW" in flags:
        filt.set_attr(seccomp.Attr.CTL_SSB, 1)
    for a in cfg.get("architectures") or []:
        arch = getattr(seccomp.Arch, _ARCHES[a].upper())
        try:
            filt.add_arch(arch)
        except OSError as e:
            if e.errno != errno_mod.EEXIST:  # the native one is already there
                raise ValueError(f"linux.seccomp.architectures: {a}: {e.strerror}") from None
    for sc in cfg.get("syscalls") or []:
        action = _action(seccomp, sc["action"], sc.get("errnoRet"))
        if action == default:
            continue  # libseccomp refuses a rule equal to the default; runc skips it too
        rules = _conditions(seccomp, sc.get("args") or [])
        for name in sc.get("names") or []:
            try:
                number = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
            except Exception:
                number = -1
            if number == -1:  # __NR_SCMP_ERROR
                continue  # unknown to this kernel/architecture: runc ignores it
            for conds in rules:
                try:
                    filt.add_rule(action, number, *conds)
                except OSError as e:
                    raise ValueError(f"linux.seccomp.syscalls: {name}: {e.strerror}") from None
    return filt


def load_filter(cfg: dict[str, Any]) -> None:
    build_filter(cfg).load()
