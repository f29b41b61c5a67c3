"""docker's filters argument: {"key": ["v1", ...]} (or the old {"key": {"v1": true}})."""

from __future__ import annotations

import re
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


CONTAINER_FILTERS = {"id", "name", "label", "label!", "status", "ancestor", "exited", "before", "since", "health",
                     "volume", "network", "publish", "expose", "is-task", "isolation"}
HEALTH_STATES = {"starting", "healthy", "unhealthy", "none"}


def labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for w in wanted:
        k, eq, v = w.partition("=")
        if k not in labels:
            return False
        if eq and labels[k] != v:
            return False
    return True


def validate_container_filters(f: dict[str, list[str]]) -> None:
    for key in f:
        if key not in CONTAINER_FILTERS:
            raise errdefs.InvalidArgument(f"invalid filter '{key}'")
    valid = {s.value for s in Status}
    for s in f.get("status", []):
        if s not in valid:
            raise errdefs.InvalidArgument(f"invalid filter 'status={s}'")
    for s in f.get("exited", []):
        try:
            int(s)
        except ValueError:
            raise errdefs.InvalidArgument(f"invalid filter 'exited={s}'") from None
    for s in f.get("health", []):
        if s not in HEALTH_STATES:
            raise errdefs.InvalidArgument(f"Unrecognised filter value for health: {s}")
    for s in f.get("is-task", []):
        if s not in ("true", "false"):
            raise errdefs.InvalidArgument(f"Invalid filter 'is-task={s}'")


def container_matches(c: Container, f: dict[str, list[str]], svc: "ContainerService", all_: bool) -> bool:
    if "status" in f:
        if c.status.value not in f["status"]:
            return False
    if "id" in f and not any(c.id.startswith(x) for x in f["id"]):
        return False
    if "name" in f:
        name = c.name.lstrip("/")
        ok = False
        for x in f["name"]:
            try:
                if re.search(x.lstrip("/"), name):
                    ok = True
            except re.error:
                if x.lstrip("/") in name:
                    ok = True
        if not ok:
            return False
    if "label" in f and not labels_match(c.config.get("Labels") or {}, f["label"]):
        return False
    if "label!" in f and any(labels_match(c.config.get("Labels") or {}, [w]) for w in f["label!"]):
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
        hs = (c.state.health or {}).get("Status", "none") if c.is_running() else "none"
        if hs not in f["health"]:
            return False
    if "volume" in f:
        names = {m.get("Name") for m in c.mounts} | {m.get("Destination") for m in c.mounts} | \
            {m.get("Source") for m in c.mounts}
        if not any(v in names for v in f["volume"]):
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
    if "is-task" in f and f["is-task"] != ["false"]:
        return False
    return True


def prune_matches(c: Container, f: dict[str, list[str]]) -> bool:
    """container prune's filters: until (created before) and label / label!."""
    from .timeutil import parse_rfc3339, parse_time_filter
    for key in f:
        if key not in ("until", "label", "label!"):
            raise errdefs.InvalidArgument(f"invalid filter '{key}'")
    if "until" in f:
        limit = min(parse_time_filter(v) for v in f["until"])
        if parse_rfc3339(c.created) >= limit:
            return False
    labels = c.config.get("Labels") or {}
    if "label" in f and not labels_match(labels, f["label"]):
        return False
    if "label!" in f and any(labels_match(labels, [w]) for w in f["label!"]):
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
