"""The client's plumbing: which daemon, TLS, requests, and daemon errors
turned back into errdefs kinds. Endpoint groups are mixins in sibling
modules (containers, execs, images, networks, volumes, system).

The environment is read without importing os: `import os` costs about 2 ms
at the CLI's start (os pulls in _collections_abc, stat and posixpath), an
eighth of what `docker ps` takes in all, and `ps`/`version` need nothing else
from it. getenv() reads posix.environ, the bytes dict os.environ is built
from, until os is imported; from then on os.environ is the one to ask
(writes go there: main sets DOCKER_CONFIG for --config, tests monkeypatch)."""

from __future__ import annotations

import sys
from posix import environ as _environ

from .. import errdefs
from .transport import Response, Transport, TransportError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Iterator

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"

_KINDS = {400: errdefs.InvalidArgument, 401: errdefs.Unauthorized, 403: errdefs.PermissionDenied,
          404: errdefs.NotFound, 409: errdefs.Conflict, 500: errdefs.Internal, 501: errdefs.NotImplementedKind,
          503: errdefs.Unavailable}


class APIError(errdefs.EngineError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DaemonUnreachable(errdefs.Unavailable):
    pass


def getenv(name: str, default: str | None = None) -> str | None:
    """os.environ.get(name, default), without importing os (see above)."""
    os = sys.modules.get("os")
    if os is not None:
        return os.environ.get(name, default)
    value = _environ.get(name.encode())
    if value is None:
        return default
    return value.decode(sys.getfilesystemencoding(), "surrogateescape")


def home() -> str:
    """os.path.expanduser("~"): $HOME, else the password database."""
    h = getenv("HOME")
    if h is None:
        import os
        return os.path.expanduser("~")
    return h.rstrip("/") or "/"


def default_host() -> str:
    """DOCKYARD_HOST, else DOCKER_HOST, else our default socket."""
    return getenv("DOCKYARD_HOST") or getenv("DOCKER_HOST") or DEFAULT_HOST


def error_from_response(resp: Response) -> errdefs.EngineError:
    body = resp.read()
    msg = ""
    try:
        from . import jsonfast
        doc = jsonfast.loads(body)
        msg = doc.get("message", "") if isinstance(doc, dict) else ""
    except ValueError:
        msg = body.decode(errors="replace").strip()
    cls = _KINDS.get(resp.status, errdefs.Internal)
    err = cls(msg or f"{resp.status} {resp.reason}".strip())
    err.status = resp.status  # type: ignore[attr-defined]
    return err


def unreachable_message(host: str) -> str:
    return (f"Cannot connect to the Dockyard daemon at {host}. Is the dockyard daemon running? "
            f"Start it with: sudo dockyardd")


class BaseClient:
    """`host`: unix:///path or tcp://host:port; `tls`: an ssl.SSLContext
    (see client.tls.context) or None; `version`: an API version to prefix
    paths with (default: unversioned, i.e. the daemon's own)."""

    def __init__(self, host: str | None = None, tls: Any = None, version: str | None = None,
                 timeout: float | None = None) -> None:
        self.host = host or default_host()
        self.transport = Transport(self.host, tls, timeout)
        self.version = version or getenv("DOCKER_API_VERSION") or ""

    def _path(self, path: str) -> str:
        return f"/v{self.version}{path}" if self.version else path

    def request(self, method: str, path: str, query: dict | None = None, body: Any = None,
                headers: dict[str, str] | None = None, json_body: Any = None,
                ok: Iterable[int] = (200, 201, 204)) -> Response:
        """Send one request; raise the errdefs kind of a daemon error, or
        DaemonUnreachable when there is no daemon to talk to."""
        hdrs = dict(headers or {})
        if json_body is not None:
            from . import jsonfast
            body = jsonfast.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            resp = self.transport.request(method, self._path(path), query, body, hdrs)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise DaemonUnreachable(unreachable_message(self.host)) from e
        except PermissionError as e:
            raise DaemonUnreachable(
                f"permission denied while trying to connect to the daemon socket at {self.host}: "
                f"{e.strerror or e}") from e
        except (OSError, TransportError) as e:
            if type(e).__name__.startswith("SSL"):
                raise DaemonUnreachable(f"error during connect: {e}") from e
            raise DaemonUnreachable(f"error during connect: {e}") from e
        if resp.status not in ok:
            raise error_from_response(resp)
        return resp

    def get_json(self, path: str, query: dict | None = None) -> Any:
        resp = self.request("GET", path, query)
        from . import jsonfast  # after the request: it loads while the daemon answers, if asked to
        return jsonfast.loads(resp.read() or b"null")

    def post_json(self, path: str, query: dict | None = None, body: Any = None,
                  ok: Iterable[int] = (200, 201, 204)) -> Any:
        data = self.request("POST", path, query, json_body=body, ok=ok).read()
        from . import jsonfast
        return jsonfast.loads(data) if data.strip() else None

    def post_empty(self, path: str, query: dict | None = None, ok: Iterable[int] = (200, 201, 204)) -> int:
        resp = self.request("POST", path, query, ok=ok)
        resp.read()
        return resp.status

    def delete(self, path: str, query: dict | None = None) -> Any:
        data = self.request("DELETE", path, query).read()
        from . import jsonfast
        return jsonfast.loads(data) if data.strip() else None

    @staticmethod
    def json_stream(resp: Response) -> Iterator[dict[str, Any]]:
        """Docker's JSON message stream: one object per line (or concatenated)."""
        from . import jsonfast
        for line in resp.iter_lines():
            yield jsonfast.loads(line)

    def hijack(self, path: str, query: dict | None = None, json_body: Any = None) -> tuple[Any, bytes]:
        """POST that upgrades to a raw bidirectional stream (attach, exec start):
        the socket and the bytes already read past the response headers."""
        resp = self.request("POST", path, query, json_body=json_body,
                            headers={"Connection": "Upgrade", "Upgrade": "tcp"}, ok=(101, 200))
        return resp.sock, resp.take_buffer()


def filters_param(filters: dict[str, list[str]] | None) -> str | None:
    """The `filters` query parameter: JSON of {key: [values]} (None when empty)."""
    if not filters:
        return None
    from . import jsonfast
    return jsonfast.dumps({k: v for k, v in filters.items() if v})
