"""RFC 3339 times with nanoseconds, as docker writes them."""

from __future__ import annotations

import calendar
import re
import time

from ..units import now_rfc3339, parse_go_duration, rfc3339_nano  # noqa: F401 - now_rfc3339: for the daemon

_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


rfc3339 = rfc3339_nano  # the daemon's name for it


def parse_rfc3339(s: str) -> float:
    m = _RE.match(s or "")
    if not m:
        return 0.0
    y, mo, d, h, mi, sec, frac, tz = m.groups()
    t = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(sec), 0, 0, 0))
    if frac:
        t += int(frac[:9].ljust(9, "0")) / 1e9
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        t -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return t


def parse_time_filter(value: str, now: float | None = None) -> float:
    """docker's since/until: a Unix timestamp (with fractions), an RFC 3339
    date, or a Go duration relative to now (10m, 1h30m)."""
    v = value.strip()
    if not v:
        return 0.0
    try:
        return float(v)
    except ValueError:
        pass
    t = parse_rfc3339(v if ("Z" in v or "+" in v[10:]) else v + "Z") if "T" in v else 0.0
    if t:
        return t
    try:
        ago = parse_go_duration(v)
    except ValueError:
        pass
    else:
        return (now if now is not None else time.time()) - ago / 1e9
    from .. import errdefs
    raise errdefs.InvalidArgument(f"invalid time value {value!r}")
