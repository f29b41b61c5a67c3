"""Error kind -> HTTP status, in one place (moby's httpstatus.FromError)."""

from __future__ import annotations

from ... import errdefs

STATUS = {
    errdefs.NotFound: 404,
    errdefs.InvalidArgument: 400,
    errdefs.AlreadyExists: 409,
    errdefs.Conflict: 409,
    errdefs.Unauthorized: 401,
    errdefs.PermissionDenied: 403,
    errdefs.NotModified: 304,
    errdefs.Unavailable: 503,
    errdefs.NotImplementedKind: 501,
    errdefs.Internal: 500,
}


def from_error(err: BaseException) -> int:
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500
