"""A subset of Go templates for --format: {{.Field.Sub}}, {{json .X}}, plain text."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import CLIError

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


def _lookup(obj: Any, path: str) -> Any:
    cur = obj
    for part in [p for p in path.split(".") if p]:
        if isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return None
    return cur


def _text(v: Any) -> str:
    if v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        if isinstance(v, list):
            return "[" + " ".join(_text(x) for x in v) + "]"
        return "map[" + " ".join(f"{k}:{_text(x)}" for k, x in sorted(v.items())) + "]"
    return str(v)


def render(template: str, obj: Any) -> str:
    def action(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("json "):
            return json.dumps(_lookup(obj, expr[5:].strip()))
        if expr == ".":
            return _text(obj)
        if expr.startswith("."):
            return _text(_lookup(obj, expr))
        raise CLIError(f"template: unsupported expression {{{{{expr}}}}}", 1)
    return _ACTION.sub(action, template)
