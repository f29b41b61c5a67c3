"""JSON through the C accelerator (_json) without importing the json
package: json.decoder imports re, which pulls in enum, functools and
collections (about 10 ms at every runtime start, a third of runc's whole
run). Same output and errors as json.loads/json.dumps for the documents the
runtime handles."""

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
else:
    # Annotations are evaluated here (no `from __future__ import annotations`:
    # importing __future__ costs 0.2 ms at every start of the runtime).
    Any = object

_WS = " \t\n\r"


class _Context:
    """The attributes _json.make_scanner reads from a JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


_scan = _json.make_scanner(_Context())
_encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",", False, False, True)
_encode_sorted = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",", True, False, True)
_encode_pretty_scalar = _json.encode_basestring_ascii


def _error(msg: str, doc: str, pos: int) -> ValueError:
    lineno = doc.count("\n", 0, pos) + 1
    colno = pos - doc.rfind("\n", 0, pos)
    return ValueError(f"{msg}: line {lineno} column {colno} (char {pos})")


def loads(data: bytes | str) -> Any:
    doc = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    if doc.startswith("\ufeff"):
        raise _error("Unexpected UTF-8 BOM (decode using utf-8-sig)", doc, 0)
    n = len(doc)
    i = 0
    while i < n and doc[i] in _WS:
        i += 1
    try:
        obj, end = _scan(doc, i)
    except StopIteration as e:
        raise _error("Expecting value", doc, e.value) from None
    except SystemError:
        # The scanner raises json.decoder.JSONDecodeError only when that module
        # is loaded (it looks in sys.modules): let json produce the message.
        import json
        json.loads(doc)
        raise
    while end < n and doc[end] in _WS:
        end += 1
    if end != n:
        raise _error("Extra data", doc, end)
    return obj


def dumps(obj: Any) -> str:
    """Compact JSON, like json.dumps(obj, separators=(",", ":"))."""
    return "".join(_encode(obj, 0))


def dumps_sorted(obj: Any) -> str:
    """Compact JSON with sorted keys: one text for equal documents."""
    return "".join(_encode_sorted(obj, 0))


def dumps_pretty(obj: Any, indent: str = "  ", level: int = 0) -> str:
    """Indented JSON, like json.dumps(obj, indent=...)."""
    pad = "\n" + indent * (level + 1)
    if isinstance(obj, dict) and obj:
        items = [_encode_pretty_scalar(str(k)) + ": " + dumps_pretty(v, indent, level + 1) for k, v in obj.items()]
        return "{" + pad + ("," + pad).join(items) + "\n" + indent * level + "}"
    if isinstance(obj, (list, tuple)) and obj:
        return "[" + pad + ("," + pad).join(dumps_pretty(v, indent, level + 1) for v in obj) + "\n" + indent * level + "]"
    return dumps(obj)
