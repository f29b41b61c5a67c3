"""Sizes, durations and times as docker prints and reads them: go-units
(HumanSizeWithPrecision, BytesSize, HumanDuration, RAMInBytes,
FromHumanSize), Go's time.Duration (String, ParseDuration) and the RFC 3339
times with nanoseconds docker stores.

A shared leaf module: the CLI, the daemon and the builder all use it, so it
imports nothing (the CLI starts for every command). Parsers raise ValueError
with Go's wording; callers wrap it in their own error kind."""

from __future__ import annotations

import time

DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
_DURATION_UNITS = {"ns": NANOSECOND, "us": MICROSECOND, "µs": MICROSECOND, "μs": MICROSECOND,
                   "ms": MILLISECOND, "s": SECOND, "m": MINUTE, "h": HOUR}
_MAX_DURATION = (1 << 63) - 1


# -- sizes ---------------------------------------------------------------------------

def _scaled(n: float, base: float, units: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    n = float(n)
    while n >= base and i < len(units) - 1:
        n /= base
        i += 1
    return n, units[i]


def human_size(n: float, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision: decimal units, %.<precision>g
    ("1.983MB"; docker's tables use precision 3: "1.98MB")."""
    value, unit = _scaled(n, 1000.0, DECIMAL_UNITS)
    return f"{value:.{precision}g}{unit}"


def bytes_size(n: float) -> str:
    """go-units BytesSize: binary units, %.4g ("1.5GiB")."""
    value, unit = _scaled(n, 1024.0, BINARY_UNITS)
    return f"{value:.4g}{unit}"


_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DECIMAL = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


def _parse_size(value: str, table: dict[str, int]) -> int:
    """go-units' grammar: a number, an optional space, an optional unit
    (k, m, g, t, p) optionally followed by i and/or b; case-insensitive."""
    s = value.strip().lower()
    n = 0
    while n < len(s) and (s[n].isdigit() or s[n] == "."):
        n += 1
    number, rest = s[:n], s[n:]
    if rest.startswith(" "):
        rest = rest[1:]
    unit = rest[0] if rest and rest[0] in "kmgtp" else ""
    if rest[len(unit):] not in ("", "b", "i", "ib") or not number or number.startswith("."):
        raise ValueError(f"invalid size: '{value}'")
    try:
        return int(float(number) * table[unit])
    except ValueError:
        raise ValueError(f"invalid size: '{value}'") from None


def ram_in_bytes(value: str) -> int:
    """go-units RAMInBytes: binary multiples ("512m", "1g", "1.5GiB", "1024")."""
    return _parse_size(value, _BINARY)


def from_human_size(value: str) -> int:
    """go-units FromHumanSize: decimal multiples ("1k" is 1000)."""
    return _parse_size(value, _DECIMAL)


# go-units' ulimitNameMapping ("as" is left out there too).
ULIMIT_NAMES = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
                "rtprio", "rttime", "sigpending", "stack")


def parse_ulimit(value: str) -> dict[str, int | str]:
    """go-units ParseUlimit: name=soft[:hard] -> {"Name", "Soft", "Hard"} (-1: unlimited)."""
    name, eq, limits = value.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {value}")
    if name not in ULIMIT_NAMES:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = limits.split(":")
    if len(parts) > 2:
        raise ValueError(f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`")
    numbers = []
    for p in reversed(parts):  # Go parses the hard limit first
        try:
            numbers.append(int(p))
        except ValueError:
            raise ValueError(f'strconv.ParseInt: parsing "{p}": invalid syntax') from None
    soft = numbers[-1]
    hard = numbers[0] if len(parts) == 2 else soft
    if hard != -1 and soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Soft": soft, "Hard": hard}


# -- durations -----------------------------------------------------------------------

def human_duration(seconds: float) -> str:
    """go-units HumanDuration ("Less than a second", "About a minute", "3 hours", ...)."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = int(seconds / 3600 + 0.5)  # math.Round: halves away from zero
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def _fraction(frac: int, digits: int) -> str:
    return "." + f"{frac:0{digits}d}".rstrip("0") if frac else ""


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(): "1h2m3.5s", "1m30s", "250ms", "1.5µs", "0s"."""
    ns = int(ns)
    u = -ns if ns < 0 else ns
    if u < SECOND:
        if u == 0:
            return "0s"
        if u < MICROSECOND:
            text = f"{u}ns"
        elif u < MILLISECOND:
            text = f"{u // MICROSECOND}{_fraction(u % MICROSECOND, 3)}µs"
        else:
            text = f"{u // MILLISECOND}{_fraction(u % MILLISECOND, 6)}ms"
    else:
        secs, frac = divmod(u, SECOND)
        text = f"{secs % 60}{_fraction(frac, 9)}s"
        minutes = secs // 60
        if minutes:
            text = f"{minutes % 60}m{text}"
            if minutes // 60:
                text = f"{minutes // 60}h{text}"
    return "-" + text if ns < 0 else text


def parse_go_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds ("1m30s", "1.5h", "-2ms", "0")."""
    orig = text
    quoted = f'"{orig}"'
    s = text
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0
    while s:
        if not (s[0] == "." or s[0].isdigit()):
            raise ValueError(f"time: invalid duration {quoted}")
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        whole, s = s[:i], s[i:]
        frac = ""
        if s[:1] == ".":
            j = 1
            while j < len(s) and "0" <= s[j] <= "9":
                j += 1
            frac, s = s[1:j], s[j:]
        if not whole and not frac:
            raise ValueError(f"time: invalid duration {quoted}")
        k = 0
        while k < len(s) and not (s[k] == "." or "0" <= s[k] <= "9"):
            k += 1
        if k == 0:
            raise ValueError(f"time: missing unit in duration {quoted}")
        unit_name, s = s[:k], s[k:]
        unit = _DURATION_UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f'time: unknown unit "{unit_name}" in duration {quoted}')
        value = int(whole or "0") * unit
        if frac:
            value += int(int(frac) * (unit / 10 ** len(frac)))
        total += value
        if total > _MAX_DURATION + (1 if neg else 0):
            raise ValueError(f"time: invalid duration {quoted}")
    return -total if neg else total


# -- times -----------------------------------------------------------------------------

def rfc3339_nano(t: float) -> str:
    """A Unix time as docker stores times: UTC, nine fraction digits
    ("2024-01-02T15:04:05.123456789Z")."""
    whole = int(t // 1)
    frac = min(int((t - whole) * 1e9), 999_999_999)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{frac:09d}Z"


def now_rfc3339() -> str:
    return rfc3339_nano(time.time())
