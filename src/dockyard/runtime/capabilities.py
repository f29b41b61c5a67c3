"""Capability names and the five sets of process.capabilities."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]
CAP_NUMBERS = {name: i for i, name in enumerate(CAPS)}


_last_cap: list[int] = []


def last_cap() -> int:
    """The highest capability the running kernel knows (read once)."""
    if not _last_cap:
        try:
            with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
                _last_cap.append(int(f.read()))
        except OSError:
            _last_cap.append(len(CAPS) - 1)
    return _last_cap[0]


def to_mask(names: list[str] | None, field: str = "capabilities") -> int:
    mask = 0
    top = last_cap()
    for name in names or []:
        n = CAP_NUMBERS.get(name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper())
        if n is None:
            raise ValueError(f"{field}: unknown capability {name!r}")
        if n <= top:  # capabilities the kernel does not know are ignored, as runc does
            mask |= 1 << n
    return mask


def masks(caps: dict[str, Any] | None, field: str = "process.capabilities") -> dict[str, int]:
    caps = caps or {}
    return {k: to_mask(caps.get(k), f"{field}.{k}")
            for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}
