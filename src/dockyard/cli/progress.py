"""Showing docker's JSON message streams (pull, push, load, build): on a
terminal one line per layer, redrawn in place with its progress bar; else
plain lines, one per change of status."""

from __future__ import annotations

import sys
from typing import Any, Callable, Iterable, TextIO

from .errors import CLIError

_REDRAWN = ("Downloading", "Pushing", "Extracting", "Waiting")


class Display:
    def __init__(self, out: TextIO | None = None, tty: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.ids: list[str] = []
        self.last: dict[str, str] = {}

    def _line(self, msg: dict[str, Any]) -> str:
        text = msg.get("status", "")
        if self.tty and msg.get("progress"):
            text += " " + msg["progress"]
        return f"{msg['id']}: {text}" if msg.get("id") else text

    def show(self, msg: dict[str, Any]) -> None:
        if msg.get("error") or msg.get("errorDetail"):
            err = msg.get("error") or (msg.get("errorDetail") or {}).get("message", "")
            raise CLIError(str(err), 1)
        if "stream" in msg:
            self.out.write(msg["stream"])
            self.out.flush()
            return
        if "status" not in msg:
            return
        lid = msg.get("id")
        if not lid:
            self.ids.clear()
            self.out.write(self._line(msg) + "\n")
            self.out.flush()
            return
        status = msg.get("status", "")
        if not self.tty:
            if self.last.get(lid) == status and status.split(" ")[0] in _REDRAWN:
                return
            self.last[lid] = status
            self.out.write(self._line(msg) + "\n")
            self.out.flush()
            return
        line = self._line(msg)
        if lid not in self.ids:
            self.ids.append(lid)
            self.out.write("\x1b[2K" + line + "\n")
        else:
            up = len(self.ids) - self.ids.index(lid)
            self.out.write(f"\x1b[{up}A\r\x1b[2K{line}\r\x1b[{up}B")
        self.out.flush()


def display_stream(messages: Iterable[dict[str, Any]], out: TextIO | None = None, quiet: bool = False,
                   on_aux: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Show a message stream; an error message in it raises CLIError."""
    d = Display(out)
    for msg in messages:
        if msg.get("aux") is not None and on_aux is not None:
            on_aux(msg["aux"])
        if quiet:
            if msg.get("error") or msg.get("errorDetail"):
                d.show(msg)
            continue
        d.show(msg)
