"""Values some instructions take, parsed as docker parses them: Go
durations (HEALTHCHECK), port specs (EXPOSE), signals (STOPSIGNAL),
octal modes (--chmod), RUN --mount options."""

from __future__ import annotations

import re

from ..errdefs import InvalidArgument
from ..units import parse_go_duration

SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
           "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
           "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
           "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
           "POLL": 29, "PWR": 30, "SYS": 31}


def parse_duration(text: str) -> int:
    """A Go duration ("1m30s", "500ms", "0") in nanoseconds."""
    try:
        return parse_go_duration(text)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None


def parse_signal(value: str) -> str:
    """Validates a STOPSIGNAL value; docker keeps it as written."""
    v = value.strip().upper()
    if v.isdigit():
        if 0 < int(v) < 65:
            return value
    else:
        name = v[3:] if v.startswith("SIG") else v
        if name in SIGNALS or re.fullmatch(r"RTMIN(\+\d+)?|RTMAX(-\d+)?", name):
            return value
    raise InvalidArgument(f"Invalid signal: {value}")


def parse_ports(specs: list[str]) -> list[str]:
    """EXPOSE's port[-port][/proto] values as "port/proto" keys."""
    out: list[str] = []
    for spec in specs:
        if ":" in spec:
            raise InvalidArgument(f"EXPOSE does not support publishing a host port: {spec}")
        port, _, proto = spec.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid proto: {proto}")
        lo, _, hi = port.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise InvalidArgument(f"invalid containerPort: {port}")
        start, end = int(lo), int(hi or lo)
        if not (0 < start <= 65535 and 0 < end <= 65535) or end < start:
            raise InvalidArgument(f"invalid range specified for containerPort: {port}")
        for p in range(start, end + 1):
            key = f"{p}/{proto}"
            if key not in out:
                out.append(key)
    return out


def parse_chmod(value: str) -> int:
    if not value or not re.fullmatch(r"[0-7]{1,4}", value):
        raise InvalidArgument(f"invalid chmod parameter: {value!r}: only octal modes are supported")
    return int(value, 8)


def parse_csv_options(value: str) -> dict[str, str]:
    """RUN --mount's key=value,key=value (a bare key is "true"); quotes
    protect commas, as CSV does."""
    import csv
    out: dict[str, str] = {}
    for field in next(csv.reader([value])):
        field = field.strip()
        if not field:
            continue
        k, eq, v = field.partition("=")
        out[k.strip().lower()] = v if eq else "true"
    return out


def is_true(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "t", "true", "yes", "y", ""):
        return True
    if v in ("0", "f", "false", "no", "n"):
        return False
    raise InvalidArgument(f"invalid boolean value {value!r}")
