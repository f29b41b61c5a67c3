"""docker's filters argument: {"key": ["v1", ...]} (or the old {"key": {"v1": true}})."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errdefs
from .container import Container, Status

if TYPE_CHECKING:
    from .containers import ContainerService


def normalize(raw: Any) -> dict[str, list[str]]:
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise errdefs.InvalidArgument("invalid filter format")
    out: dict[str, list[str]] = {}
    for k, v in raw.items():
        if isinstance(v, dict):
            out[k] = [x for x, on in v.items() if on]
        elif isinstance(v, list):
            out[k] = [str(x) for x in v]
        else:
            out[k] = [str(v)]
    return out


CONTAINER_FILTERS = {"id", "name", "label", "status", "ancestor", "exited", "before", "since", "health",
                     "volume", "network", "publish", "expose", "is-task", "isolation"}


def _label_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for w in wanted:
        k, eq, v = w.partition("=")
        if k not in labels:
            return False
        if eq and labels[k] != v:
            return False
    return True


def container_matches(c: Container, filters: dict[str, list[str]], svc: "ContainerService", all_: bool) -> bool:
    for key in filters:
        if key not in CONTAINER_FILTERS:
            raise errdefs.InvalidArgument(f"invalid filter '{key}'")
    f = filters
    if "status" in f:
        valid = {s.value for s in Status}
        for s in f["status"]:
            if s not in valid:
                raise errdefs.InvalidArgument(f"invalid filter 'status={s}'")
        if c.status.value not in f["status"]:
            return False
    elif not all_ and not c.is_running():
        return False
    if "id" in f and not any(c.id.startswith(x) for x in f["id"]):
        return False
    if "name" in f:
        import re
        name = c.name.lstrip("/")
        if not any(re.search(x.lstrip("/"), name) for x in f["name"]):
            return False
    if "label" in f and not _label_match(c.config.get("Labels") or {}, f["label"]):
        return False
    if "exited" in f:
        if c.status is not Status.EXITED or str(c.state.exit_code) not in f["exited"]:
            return False
    if "ancestor" in f:
        ok = False
        for a in f["ancestor"]:
            try:
                img = svc.d.images.service.resolve(a)
            except errdefs.EngineError:
                continue
            if img.id == c.image:
                ok = True
        if not ok:
            return False
    for key, cmp in (("before", lambda other: c.created < other.created),
                     ("since", lambda other: c.created > other.created)):
        if key in f:
            for ref in f[key]:
                other = svc.store.get(ref)
                if not cmp(other):
                    return False
    if "health" in f:
        hs = (c.state.health or {}).get("Status", "none")
        if hs not in f["health"]:
            return False
    if "network" in f:
        nets = (c.network_settings or {}).get("Networks") or {}
        if not any(x in nets or any(x and str(v.get("NetworkID") or "").startswith(x) for v in nets.values())
                   for x in f["network"]):
            return False
    if "publish" in f:
        published = {k for k, v in ((c.network_settings or {}).get("Ports") or {}).items() if v}
        if not published & _port_set(f["publish"]):
            return False
    if "expose" in f and not set(c.config.get("ExposedPorts") or {}) & _port_set(f["expose"]):
        return False
    return True


def _port_set(specs: list[str]) -> set[str]:
    """docker's publish/expose filter values: <port>[/<proto>] or <start>-<end>[/<proto>]."""
    out = set()
    for spec in specs:
        ports, _, proto = spec.partition("/")
        lo, _, hi = ports.partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise errdefs.InvalidArgument(f"invalid filter value {spec!r}") from None
        if last - first > 65535 or first < 0:
            raise errdefs.InvalidArgument(f"invalid filter value {spec!r}")
        out.update(f"{p}/{proto or 'tcp'}" for p in range(first, last + 1))
    return out
