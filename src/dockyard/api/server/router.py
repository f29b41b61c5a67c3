"""Route table: (method, pattern) -> handler, with docker's optional
/v{version} prefix and version negotiation rules."""

from __future__ import annotations

import logging
import re
from typing import Awaitable, Callable

from ... import errdefs
from ...apitypes import API_VERSION, MIN_API_VERSION
from .http import Request, Response, json_response
from .httpstatus import from_error

log = logging.getLogger("dockyard.api")

_VERSION_RE = re.compile(r"^/v([0-9]+(?:\.[0-9]+)*)(/.*)$")
_PARAM_RE = re.compile(r"\{(\w+)(?::([^}]+))?\}")

RouteHandler = Callable[[Request], Awaitable["Response | None"]]


def _compile(pattern: str) -> re.Pattern[str]:
    out = "^"
    pos = 0
    for m in _PARAM_RE.finditer(pattern):
        out += re.escape(pattern[pos:m.start()])
        out += f"(?P<{m.group(1)}>{m.group(2) or '[^/]+'})"
        pos = m.end()
    out += re.escape(pattern[pos:]) + "$"
    return re.compile(out)


def version_tuple(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in v.split("."))
    except ValueError:
        return (0,)


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], RouteHandler]] = []

    def add(self, method: str, pattern: str, handler: RouteHandler) -> None:
        self._routes.append((method.upper(), _compile(pattern), handler))

    def get(self, pattern: str, handler: RouteHandler) -> None:
        self.add("GET", pattern, handler)
        self.add("HEAD", pattern, handler)

    def post(self, pattern: str, handler: RouteHandler) -> None:
        self.add("POST", pattern, handler)

    def put(self, pattern: str, handler: RouteHandler) -> None:
        self.add("PUT", pattern, handler)

    def delete(self, pattern: str, handler: RouteHandler) -> None:
        self.add("DELETE", pattern, handler)

    async def __call__(self, req: Request) -> Response | None:
        path = req.path
        m = _VERSION_RE.match(path)
        if m:
            version, path = m.group(1), m.group(2)
            if version_tuple(version) > version_tuple(API_VERSION):
                return json_response({"message": f"client version {version} is too new. Maximum supported API version is {API_VERSION}"}, 400)
            if version_tuple(version) < version_tuple(MIN_API_VERSION):
                return json_response({"message": f"client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"}, 400)
            req.api_version = version
        else:
            req.api_version = API_VERSION
        allowed = False
        for method, rx, handler in self._routes:
            mm = rx.match(path)
            if not mm:
                continue
            if method != req.method:
                allowed = True
                continue
            req.match = mm.groupdict()
            try:
                return await handler(req)
            except errdefs.EngineError as e:
                return self._error(req, e)
            except (ConnectionError, BrokenPipeError):
                raise
            except Exception as e:
                log.exception("%s %s failed", req.method, req.path)
                return self._error(req, errdefs.Internal(str(e) or type(e).__name__))
        if allowed:
            return json_response({"message": "method not allowed"}, 405)
        return json_response({"message": "page not found"}, 404)

    @staticmethod
    def _error(req: Request, e: errdefs.EngineError) -> Response | None:
        status = from_error(e)
        if status >= 500:
            log.error("%s %s: %s", req.method, req.path, e.message)
        if req.stream_response is not None and req.stream_response.started:
            # Too late for a status: report in the stream, as docker's progress streams do.
            req._late_error = e.message  # type: ignore[attr-defined]
            return None
        if req.hijacked is not None:
            return None
        req.stream_response = None
        if status == 304:
            return Response(304)
        return json_response({"message": e.message}, status)
