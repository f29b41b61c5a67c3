"""Capability names and the five sets of process.capabilities."""

from __future__ import annotations

from ..oci.capabilities import CAPS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
