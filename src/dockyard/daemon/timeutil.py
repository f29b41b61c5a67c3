"""RFC 3339 times with nanoseconds, as docker writes them."""

from __future__ import annotations

import calendar
import re
import time

_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


def now_rfc3339() -> str:
    return rfc3339(time.time())


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(round((t % 1) * 1e9)) % 10**9:09d}Z"


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
    m = re.fullmatch(r"((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)", v)
    if m:
        total = 0.0
        for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", v):
            total += float(num) * {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
        return (now if now is not None else time.time()) - total
    from .. import errdefs
    raise errdefs.InvalidArgument(f"invalid time value {value!r}")
