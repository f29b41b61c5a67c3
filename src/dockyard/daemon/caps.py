"""Capabilities as dockerd computes them: the default set, --cap-add and
--cap-drop (with ALL), --privileged (daemon/oci_linux.go, oci/caps)."""

from __future__ import annotations

from .. import errdefs
from .._sys import fs
from ..oci import runtime_spec as rs
from ..oci.capabilities import CAPS as ALL_CAPS


def kernel_caps() -> list[str]:
    """What --privileged grants: the capabilities this kernel knows that the
    daemon itself holds (a container cannot get more than its engine has)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = len(ALL_CAPS) - 1
    bounding = fs.proc_status_hex("CapBnd")
    if bounding is None:
        bounding = (1 << (last + 1)) - 1
    return [c for i, c in enumerate(ALL_CAPS[: last + 1]) if bounding & (1 << i)]


def normalize(names: list[str] | None, field: str) -> list[str]:
    """Upper-case, CAP_-prefixed names; ALL kept as is; unknown ones refused
    with docker's message."""
    out = []
    for n in names or []:
        if not isinstance(n, str):
            raise errdefs.InvalidArgument(f"invalid {field}: unknown capability: {n!r}")
        u = n.strip().upper()
        if u == "ALL":
            out.append("ALL")
            continue
        if not u.startswith("CAP_"):
            u = "CAP_" + u
        if u not in ALL_CAPS:
            raise errdefs.InvalidArgument(f'invalid {field}: unknown capability: "{u}"')
        out.append(u)
    return out


def tweak(add: list[str] | None, drop: list[str] | None, privileged: bool) -> list[str]:
    """docker's TweakCapabilities: start from the default set (or all of
    them), drop first, then add; ALL in either list means every capability."""
    if privileged:
        return kernel_caps()
    add_n = normalize(add, "CapAdd")
    drop_n = normalize(drop, "CapDrop")
    known = kernel_caps()
    if "ALL" in add_n:
        base = list(known)
    else:
        base = list(rs.DEFAULT_CAPABILITIES)
    if "ALL" in drop_n:
        base = []
    else:
        base = [c for c in base if c not in drop_n]
    for c in add_n:
        if c != "ALL" and c not in base and c in known:
            base.append(c)
    return base
