"""Tables laid out as docker's: columns separated by at least three spaces."""

from __future__ import annotations

import sys
import time


def print_table(headers: list[str], rows: list[list[str]], out=None) -> None:
    out = out or sys.stdout
    widths = [len(h) for h in headers]
    for r in rows:
        for i, v in enumerate(r):
            widths[i] = max(widths[i], len(v))
    lines = []
    for r in [headers] + rows:
        cells = [v.ljust(widths[i]) if i < len(r) - 1 else v for i, v in enumerate(r)]
        lines.append("   ".join(cells).rstrip())
    out.write("\n".join(lines) + "\n")


def human_size(n: float) -> str:
    """docker's units.HumanSize (decimal, 3 significant digits)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.4g}{units[i]}"


def human_duration(seconds: float) -> str:
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
    h = round(s / 3600)
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
    return f"{h // 24 // 365} years"


def ago(ts: float) -> str:
    return human_duration(time.time() - ts) + " ago"


def trunc_id(i: str) -> str:
    return i.split(":", 1)[-1][:12]
