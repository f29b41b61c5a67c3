"""docker's JSON message stream (pull, push, import, load, build) shown as
docker's CLI shows it.

    from ..progress import display_stream
    display_stream(api.image_pull(name, tag), sys.stdout, aux=on_aux)

On a terminal, messages carrying an "id" and "progressDetail" own one line
each, rewritten in place (cursor movement, a [====>    ] bar, sizes and an
estimate of the time left); elsewhere progress updates are left out and
every other status prints as a plain "id: status" line, so logs stay short.
"stream" messages (build output) are written as they come; "aux" messages go
to the `aux` callback; an "errorDetail"/"error" message ends the display
with StreamError (the caller decides the exit status; docker prints the
message as is).
"""

from __future__ import annotations

import os
import time

from ..units import SECOND, go_duration, human_size
from .errors import CLIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, TextIO


class StreamError(CLIError):
    """The daemon reported an error inside the stream (a CLIError with exit
    status 1, printed as the daemon worded it, as docker does)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message, 1)
        self.message = message
        self.code = code


def progress_text(p: dict[str, Any], width: int, now: float | None = None) -> str:
    """docker's JSONProgress.String(): bar (when wide enough), counts, time left."""
    current = int(p.get("current") or 0)
    total = int(p.get("total") or 0)
    units = p.get("units") or ""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}" if not units else f"{current} {units}"
    percentage = min(50, int(current / total * 100) // 2)
    bar = ""
    if width > 110:
        bar = "[" + "=" * percentage + ">" + " " * max(0, 50 - percentage) + "] "
    if p.get("hidecounts"):
        numbers = ""
    elif not units:
        numbers = f"{human_size(current):>8}/{human_size(total)}" if current <= total else f"{human_size(current):>8}"
    else:
        numbers = f"{current}/{total} {units}" if current <= total else f"{current} {units}"
    left = ""
    start = p.get("start") or 0
    if width > 50 and current > 0 and start > 0 and percentage < 50:
        per_entry = int(((now or time.time()) - start) * SECOND) // current
        left_ns = (total - current) * per_entry
        left = " " + go_duration(left_ns - left_ns % SECOND)  # whole seconds, as docker truncates
    return bar + numbers + left


def _message_text(jm: dict[str, Any], terminal: bool, width: int) -> str | None:
    """One message as docker's JSONMessage.Display prints it (None: not shown)."""
    progress = jm.get("progressDetail")
    ptext = progress_text(progress, width) if isinstance(progress, dict) else ""
    if not terminal and ptext:
        return None  # progress updates are for terminals only
    out = ""
    if jm.get("id"):
        out += f"{jm['id']}: "
    if jm.get("from"):
        out += f"(from {jm['from']}) "
    if isinstance(progress, dict) and terminal:
        return out + f"{jm.get('status', '')} {ptext}"
    if jm.get("progress") and not terminal:
        return out + f"{jm.get('status', '')} {jm['progress']}\n"
    if jm.get("progress"):
        return out + f"{jm.get('status', '')} {jm['progress']}"
    if jm.get("stream"):
        return out + jm["stream"]
    return out + f"{jm.get('status', '')}\n"


def display_stream(messages: Iterable[dict[str, Any]], out: TextIO | None = None, quiet: bool = False,
                   on_aux: Callable[[Any], None] | None = None, terminal: bool | None = None,
                   aux: Callable[[Any], None] | None = None) -> None:
    """Render the stream to out, stdout by default (see the module docstring).
    quiet: show nothing but still stop at an error. on_aux and aux are the same
    callback (two spellings in use)."""
    import sys
    out = out or sys.stdout
    aux = aux or on_aux
    if quiet:
        for jm in messages:
            err = jm.get("errorDetail") or ({"message": jm["error"]} if jm.get("error") else None)
            if err:
                raise StreamError(err.get("message") or jm.get("error") or "unknown error", err.get("code"))
            if "aux" in jm and aux is not None:
                aux(jm["aux"])
        return
    if terminal is None:
        try:
            terminal = os.isatty(out.fileno())
        except (AttributeError, ValueError, OSError):
            terminal = False
    width = 200
    if terminal:
        try:
            width = os.get_terminal_size(out.fileno()).columns
        except OSError:
            pass
    lines: dict[str, int] = {}  # id -> its line, counted from the first progress line
    for jm in messages:
        err = jm.get("errorDetail") or ({"message": jm["error"]} if jm.get("error") else None)
        if err:
            out.flush()
            raise StreamError(err.get("message") or jm.get("error") or "unknown error", err.get("code"))
        if "aux" in jm:
            if aux is not None:
                aux(jm["aux"])
            continue
        has_progress = "progressDetail" in jm or bool(jm.get("progress"))
        diff = 0
        if jm.get("id") and has_progress:
            if jm["id"] not in lines:
                lines[jm["id"]] = len(lines)
                if terminal:
                    out.write("\n")
            diff = len(lines) - lines[jm["id"]]
            if terminal:
                out.write(f"\x1b[{diff}A")
        else:
            lines = {}  # something else printed: earlier lines are no longer addressable
        text = _message_text(jm, terminal, width)
        if text is not None:
            if terminal and has_progress and not jm.get("stream"):
                out.write("\x1b[2K\r" + text + "\r")
            else:
                out.write(text)
        if jm.get("id") and terminal and has_progress:
            out.write(f"\x1b[{diff}B")
        out.flush()
