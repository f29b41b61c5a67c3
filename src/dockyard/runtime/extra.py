"""Verbs beyond create/start/state/kill/delete: exec, events, update."""

from __future__ import annotations

from typing import Any, Callable

COMMANDS: dict[str, Callable[[str, dict[str, Any], list[str]], int]] = {}
