"""APIClient: one method per Engine API endpoint the CLI uses. Errors from
the daemon come back as the errdefs kind matching the HTTP status."""

from __future__ import annotations

import json
import os
import socket
from typing import Any, Iterable, Iterator

from .. import errdefs
from .transport import Response, Transport, TransportError

DEFAULT_UNIX_SOCKET = "unix:///run/dockyard/dockyard.sock"

_KINDS = {400: errdefs.InvalidArgument, 401: errdefs.Unauthorized, 403: errdefs.PermissionDenied,
          404: errdefs.NotFound, 409: errdefs.Conflict, 500: errdefs.Internal, 501: errdefs.NotImplementedKind,
          503: errdefs.Unavailable}


class APIError(errdefs.EngineError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DaemonUnreachable(errdefs.Unavailable):
    pass


def default_host() -> str:
    return os.environ.get("DOCKYARD_HOST") or os.environ.get("DOCKER_HOST") or DEFAULT_UNIX_SOCKET


def _error(resp: Response) -> errdefs.EngineError:
    body = resp.read()
    try:
        msg = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        msg = body.decode(errors="replace").strip()
    cls = _KINDS.get(resp.status, errdefs.Internal)
    err = cls(msg or f"{resp.status} {resp.reason}")
    err.status = resp.status  # type: ignore[attr-defined]
    return err


class APIClient:
    def __init__(self, host: str | None = None, tls: Any = None, version: str | None = None) -> None:
        self.host = host or default_host()
        self.transport = Transport(self.host, tls)
        self.version = version or os.environ.get("DOCKER_API_VERSION") or ""

    def _path(self, path: str) -> str:
        return f"/v{self.version}{path}" if self.version else path

    def request(self, method: str, path: str, query: dict | None = None, body: Any = None,
                headers: dict[str, str] | None = None, json_body: Any = None, ok: Iterable[int] = (200, 201, 204)) -> Response:
        hdrs = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            resp = self.transport.request(method, self._path(path), query, body, hdrs)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise DaemonUnreachable(
                f"Cannot connect to the Dockyard daemon at {self.host}. Is the dockyard daemon running? "
                f"(start it with: dockyardd &)") from e
        except PermissionError as e:
            raise DaemonUnreachable(f"permission denied while trying to connect to the daemon socket at {self.host}") from e
        except (OSError, TransportError) as e:
            raise DaemonUnreachable(f"error during connect: {e}") from e
        if resp.status not in ok and not (resp.status == 304 and 304 in ok):
            raise _error(resp)
        return resp

    def get_json(self, path: str, query: dict | None = None) -> Any:
        return json.loads(self.request("GET", path, query).read() or b"null")

    def post_json(self, path: str, query: dict | None = None, body: Any = None) -> Any:
        data = self.request("POST", path, query, json_body=body).read()
        return json.loads(data) if data.strip() else None

    # -- system ---------------------------------------------------------------
    def ping(self) -> dict[str, str]:
        resp = self.transport.request("GET", "/_ping")
        resp.read()
        return resp.headers

    def version_info(self) -> dict[str, Any]:
        return self.get_json("/version")

    def info(self) -> dict[str, Any]:
        return self.get_json("/info")

    def events(self, query: dict | None = None) -> Iterator[dict[str, Any]]:
        resp = self.request("GET", "/events", query)
        for line in resp.iter_lines():
            yield json.loads(line)

    # -- containers -------------------------------------------------------------
    def container_create(self, config: dict[str, Any], name: str = "") -> dict[str, Any]:
        return self.post_json("/containers/create", {"name": name} if name else None, config)

    def container_start(self, cid: str) -> bool:
        """False when it was already started (304)."""
        resp = self.request("POST", f"/containers/{cid}/start", ok=(204, 304))
        resp.read()
        return resp.status == 204

    def container_stop(self, cid: str, timeout: int | None = None, signal: str | None = None) -> None:
        self.request("POST", f"/containers/{cid}/stop", {"t": timeout, "signal": signal}, ok=(204, 304)).read()

    def container_kill(self, cid: str, signal: str | None = None) -> None:
        self.request("POST", f"/containers/{cid}/kill", {"signal": signal}).read()

    def container_remove(self, cid: str, force: bool = False, volumes: bool = False) -> None:
        self.request("DELETE", f"/containers/{cid}", {"force": int(force), "v": int(volumes)}).read()

    def container_inspect(self, cid: str) -> dict[str, Any]:
        return self.get_json(f"/containers/{cid}/json")

    def container_list(self, all_: bool = False, limit: int = -1, size: bool = False,
                       filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        q: dict[str, Any] = {"all": int(all_)}
        if limit > 0:
            q["limit"] = limit
        if size:
            q["size"] = 1
        if filters:
            q["filters"] = json.dumps(filters)
        return self.get_json("/containers/json", q)

    def container_wait_open(self, cid: str, condition: str = "not-running") -> Response:
        """Start a wait; read the result later with wait_result (the daemon
        answers headers at once, the body when the condition is met)."""
        return self.request("POST", f"/containers/{cid}/wait", {"condition": condition})

    @staticmethod
    def wait_result(resp: Response) -> dict[str, Any]:
        data = resp.read()
        resp.close()
        return json.loads(data)

    def container_attach(self, cid: str, stdin: bool, stdout: bool, stderr: bool, stream: bool = True,
                         logs: bool = False, detach_keys: str | None = None) -> tuple[socket.socket, bytes]:
        q = {"stream": int(stream), "stdin": int(stdin), "stdout": int(stdout), "stderr": int(stderr),
             "logs": int(logs)}
        if detach_keys:
            q["detachKeys"] = detach_keys
        resp = self.request("POST", f"/containers/{cid}/attach", q,
                            headers={"Connection": "Upgrade", "Upgrade": "tcp"}, ok=(101, 200))
        return resp.sock, resp.take_buffer()

    def container_logs(self, cid: str, query: dict[str, Any]) -> Response:
        return self.request("GET", f"/containers/{cid}/logs", query)

    # -- images -------------------------------------------------------------------
    def image_list(self, all_: bool = False, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        q: dict[str, Any] = {"all": int(all_)}
        if filters:
            q["filters"] = json.dumps(filters)
        return self.get_json("/images/json", q)

    def image_inspect(self, ref: str) -> dict[str, Any]:
        return self.get_json(f"/images/{ref}/json")

    def image_import(self, source: Iterable[bytes], repo: str = "", tag: str = "", changes: list[str] | None = None,
                     message: str = "", platform: str = "") -> Iterator[dict[str, Any]]:
        q: dict[str, Any] = {"fromSrc": "-", "repo": repo or None, "tag": tag or None, "message": message or None,
                             "platform": platform or None, "changes": changes or None}
        resp = self.request("POST", "/images/create", q, body=source,
                            headers={"Content-Type": "application/x-tar"})
        for line in resp.iter_lines():
            yield json.loads(line)

    def image_tag(self, ref: str, repo: str, tag: str = "") -> None:
        self.request("POST", f"/images/{ref}/tag", {"repo": repo, "tag": tag or None}).read()

    def _registry_auth(self, ref: str, auth: dict[str, str] | None) -> dict[str, str]:
        """X-Registry-Auth from auth, else from docker's config.json for the
        reference's registry (as docker's CLI sends it)."""
        from ..registry.client import dockerconfig, encode_registry_auth
        if auth is None:
            from ..oci.reference import split_domain
            domain = split_domain(ref.split("@", 1)[0])[0]
            try:
                auth = dockerconfig.get_credentials(domain)
            except ValueError:
                auth = None
        return {"X-Registry-Auth": encode_registry_auth(auth)} if auth else {}

    def image_pull(self, image: str, tag: str = "", platform: str = "",
                   auth: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        q = {"fromImage": image, "tag": tag or None, "platform": platform or None}
        resp = self.request("POST", "/images/create", q, headers=self._registry_auth(image, auth))
        for line in resp.iter_lines():
            if line.strip():
                yield json.loads(line)

    def image_push(self, name: str, tag: str = "", auth: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        resp = self.request("POST", f"/images/{name}/push", {"tag": tag or None},
                            headers=self._registry_auth(name, auth) or {"X-Registry-Auth": "e30="})
        for line in resp.iter_lines():
            if line.strip():
                yield json.loads(line)

    def image_remove(self, ref: str, force: bool = False, noprune: bool = False) -> list[dict[str, str]]:
        return json.loads(self.request("DELETE", f"/images/{ref}",
                                       {"force": int(force), "noprune": int(noprune)}).read())

    def image_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return self.post_json("/images/prune", {"filters": json.dumps(filters)} if filters else None)

    def image_history(self, ref: str) -> list[dict[str, Any]]:
        return self.get_json(f"/images/{ref}/history")

    def image_save(self, names: list[str]) -> Response:
        """The archive as a streaming response (read it in chunks)."""
        return self.request("GET", "/images/get", {"names": names})

    def image_load(self, source: Iterable[bytes], quiet: bool = False) -> Iterator[dict[str, Any]]:
        resp = self.request("POST", "/images/load", {"quiet": int(quiet)}, body=source,
                            headers={"Content-Type": "application/x-tar"})
        for line in resp.iter_lines():
            if line.strip():
                yield json.loads(line)

    def login(self, username: str, password: str, server: str = "") -> dict[str, Any]:
        return self.post_json("/auth", body={"username": username, "password": password,
                                             "serveraddress": server})

    def distribution_inspect(self, ref: str) -> dict[str, Any]:
        resp = self.request("GET", f"/distribution/{ref}/json", headers=self._registry_auth(ref, None))
        return json.loads(resp.read())
