"""JSON through the C accelerator `_json` directly.

`import json` costs several milliseconds because json.decoder/scanner import
`re` (and re imports enum); the CLI starts for every command, so the client
builds the same C scanner and encoder itself. The results are identical to
json.loads/json.dumps with default arguments (compact separators aside)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None  # type: ignore[assignment]


def _constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)
    memo: dict = {}


_scan = _json.make_scanner(_Context()) if _json else None


def _error(msg: str, doc: str, pos: int) -> ValueError:
    import json
    return json.JSONDecodeError(msg, doc, pos)


def loads(data: bytes | str) -> Any:
    """json.loads for a document (whitespace around it allowed)."""
    if _scan is None:  # pragma: no cover
        import json
        return json.loads(data)
    s = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    n = len(s)
    i = 0
    while i < n and s[i] in " \t\r\n":
        i += 1
    try:
        obj, end = _scan(s, i)
    except StopIteration as e:
        raise _error("Expecting value", s, e.value) from None
    while end < n and s[end] in " \t\r\n":
        end += 1
    if end != n:
        raise _error("Extra data", s, end)
    return obj


def _default(o: Any) -> Any:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_encode = (_json.make_encoder(None, _default, _json.encode_basestring, None, ":", ",", False, False, True)
           if _json else None)


def dumps(obj: Any) -> str:
    """Compact json.dumps(obj, ensure_ascii=False, separators=(",", ":"))."""
    if _encode is None:  # pragma: no cover
        import json
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return "".join(_encode(obj, 0))
