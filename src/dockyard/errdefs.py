"""Error kinds shared by every layer.

Each layer raises one of these kinds with context and chains the cause; the
kind is turned into a transport code only at an edge (HTTP status in
api.server.httpstatus, ``{"error": {"kind", "message"}}`` on the shim socket).

Hierarchy:
* EngineError
  - NotFound            (404)
  - AlreadyExists       (409)
  - Conflict            (409)  state does not allow the operation
  - InvalidArgument     (400)
  - Unauthorized        (401)
  - PermissionDenied    (403)
  - NotModified         (304)
  - Unavailable         (503)
  - NotImplementedKind  (501)
  - Internal            (500)
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    kind = "Internal"

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.kind


class NotFound(EngineError):
    kind = "NotFound"


class AlreadyExists(EngineError):
    kind = "AlreadyExists"


class Conflict(EngineError):
    kind = "Conflict"


class InvalidArgument(EngineError):
    kind = "InvalidArgument"


class Unauthorized(EngineError):
    kind = "Unauthorized"


class PermissionDenied(EngineError):
    kind = "PermissionDenied"


class NotModified(EngineError):
    kind = "NotModified"


class Unavailable(EngineError):
    kind = "Unavailable"


class NotImplementedKind(EngineError):
    kind = "NotImplemented"


class Internal(EngineError):
    kind = "Internal"


_BY_KIND: dict[str, type[EngineError]] = {
    cls.kind: cls
    for cls in (NotFound, AlreadyExists, Conflict, InvalidArgument, Unauthorized,
                PermissionDenied, NotModified, Unavailable, NotImplementedKind, Internal)
}


def from_kind(kind: str, message: str) -> EngineError:
    """Rebuild an error received over a wire as the same kind."""
    return _BY_KIND.get(kind, Internal)(message)


def to_wire(err: BaseException) -> dict[str, str]:
    if isinstance(err, EngineError):
        return {"kind": err.kind, "message": err.message}
    return {"kind": "Internal", "message": f"{type(err).__name__}: {err}"}
