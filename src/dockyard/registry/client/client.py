"""One registry, as the OCI distribution spec defines its API: /v2/ checks,
manifests and blobs (GET/HEAD/PUT), uploads (monolithic, chunked, and
cross-repository mounts). Errors come back as errdefs kinds with the
registry's own code and message."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterable

from ... import errdefs
from ...oci import mediatypes as mt
from .auth import AuthConfig, Authorizer
from .http import HTTPClient, Response

DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
MANIFEST_LIMIT = 4 << 20
ACCEPT_MANIFESTS = ", ".join([mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST])


class RegistryError(errdefs.EngineError):
    """An error response of the registry: status and the spec's error code."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def endpoint_host(domain: str) -> str:
    return DOCKER_HUB_ENDPOINT if domain in (DOCKER_HUB, "index.docker.io") else domain


def is_insecure_by_default(host: str) -> bool:
    """docker treats localhost and 127.0.0.0/8 (and ::1) registries as insecure."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _error_from(resp: Response, body: bytes, what: str) -> errdefs.EngineError:
    code = message = ""
    try:
        errs = json.loads(body).get("errors") or []
        if errs:
            code = str(errs[0].get("code", ""))
            message = str(errs[0].get("message", ""))
    except (ValueError, AttributeError):
        pass
    text = f"{code.lower().replace('_', ' ')}: {message}" if code else f"{resp.status} {resp.reason}"
    if resp.status in (401, 403):
        # docker's words; a HEAD has no body to say more, the challenge may.
        if 'error="insufficient_scope"' in resp.header("WWW-Authenticate") or resp.status == 403:
            text = "denied: requested access to the resource is denied" + (f" ({text})" if code else "")
        elif not code:
            text = "unauthorized: authentication required"
        what = ""
    if resp.status == 401:
        kind: type[errdefs.EngineError] = errdefs.Unauthorized
    elif resp.status == 403:
        kind = errdefs.PermissionDenied
    elif resp.status == 404:
        kind = errdefs.NotFound
    elif resp.status in (400, 405, 413, 416):
        kind = errdefs.InvalidArgument
    else:
        kind = errdefs.Unavailable
    err = kind(f"{what}: {text}" if what else text)
    err.status = resp.status  # type: ignore[attr-defined]
    err.code = code  # type: ignore[attr-defined]
    return err


@dataclass
class BlobUpload:
    location: str
    offset: int = 0


class Registry:
    """A registry host (``localhost:5000``, ``docker.io``) with credentials.
    Thread-safe: parallel layer transfers share its connections and tokens."""

    def __init__(self, host: str, auth: AuthConfig | None = None, insecure: bool = False,
                 http: HTTPClient | None = None) -> None:
        self.host = endpoint_host(host)
        self.http = http or HTTPClient()
        self.insecure = insecure or is_insecure_by_default(self.host)
        self.auth = Authorizer(auth, self.http)
        self.cancel: Any = None  # set by a cancellable operation: see HTTPClient.request
        self._base = ""
        self._ping_lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------
    def base(self) -> str:
        with self._ping_lock:
            if not self._base:
                self._base = self._ping()
        return self._base

    def _ping(self) -> str:
        """GET /v2/: finds the scheme (https, or http for an insecure registry
        that does not speak TLS) and the auth challenge."""
        schemes = ["https", "http"] if self.insecure else ["https"]
        last: Exception | None = None
        for scheme in schemes:
            url = f"{scheme}://{self.host}/v2/"
            try:
                resp = self.http.request("GET", url, verify=not self.insecure)
            except (ssl.SSLError, ConnectionError, OSError) as e:
                last = e
                continue
            with resp:
                resp.read_limited(1 << 16)
            if resp.status == 401:
                self.auth.challenge(resp.header("WWW-Authenticate"))
            elif resp.status >= 500 or resp.status == 404:
                raise errdefs.Unavailable(f'Get "{url}": {resp.status} {resp.reason}: not a registry')
            return f"{scheme}://{self.host}"
        raise errdefs.Unavailable(_dial_error(f"https://{self.host}/v2/", self.host, last))

    def url(self, path: str) -> str:
        return self.base() + path

    def request(self, method: str, path_or_url: str, scope: str, headers: dict[str, str] | None = None,
                body: Any = None, content_length: int | None = None, replay: Callable[[], Any] | None = None,
                follow: bool = True, cancellable: bool = True) -> Response:
        """A request with auth: a 401 takes the challenge, gets a token for
        scope and retries once (replay() gives the body again). cancellable=False
        lets a clean-up request through after the operation was cancelled."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        for attempt in range(2):
            hdrs = dict(headers or {})
            authz = self.auth.header(scope)
            if authz:
                hdrs["Authorization"] = authz
            try:
                resp = self.http.request(method, url, hdrs, body, verify=not self.insecure,
                                         content_length=content_length,
                                         cancel=self.cancel if cancellable else None)
            except (ConnectionError, OSError) as e:
                raise errdefs.Unavailable(_dial_error(url, self.host, e)) from None
            if resp.status == 401 and attempt == 0 and (replay is not None or body is None or
                                                        isinstance(body, (bytes, bytearray))):
                resp.read_limited(1 << 16)
                if not self.auth.challenge(resp.header("WWW-Authenticate")):
                    return self._reread(resp, method, url, hdrs)
                if replay is not None:
                    body = replay()
                continue
            if follow and resp.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD"):
                return self._redirect(resp, method, url)
            return resp
        return resp

    def _reread(self, resp: Response, method: str, url: str, hdrs: dict[str, str]) -> Response:
        # The 401's body was consumed: ask again so the caller sees a full response.
        return self.http.request(method, url, hdrs, None, verify=not self.insecure)

    def _redirect(self, resp: Response, method: str, url: str) -> Response:
        for _ in range(5):
            loc = resp.header("Location")
            resp.read_limited(1 << 16)
            if not loc:
                return resp
            url = urllib.parse.urljoin(url, loc)
            # Storage back ends get no registry credentials.
            resp = self.http.request(method, url, {}, None, verify=not self.insecure)
            if resp.status not in (301, 302, 303, 307, 308):
                return resp
        raise errdefs.Unavailable(f"{method} {url}: too many redirects")

    @staticmethod
    def scope(repo: str, push: bool = False) -> str:
        return f"repository:{repo}:{'pull,push' if push else 'pull'}"

    def check_auth(self) -> None:
        """For login: make sure the credentials are accepted (basic auth on
        /v2/, or a token from the realm)."""
        self.base()
        resp = self.request("GET", "/v2/", "")
        with resp:
            body = resp.read_limited(1 << 16)
        if resp.status == 401:
            raise errdefs.Unauthorized(f'Get "{self.url("/v2/")}": unauthorized: '
                                       + (_message(body) or "incorrect username or password"))
        if resp.status != 200:
            raise _error_from(resp, body, f'Get "{self.url("/v2/")}"')

    # -- manifests ------------------------------------------------------------------
    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """(bytes, media type, digest), verified against a digest reference
        and against the registry's Docker-Content-Digest."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}", self.scope(repo), {"Accept": ACCEPT_MANIFESTS})
        with resp:
            try:
                body = resp.read_limited(MANIFEST_LIMIT)
            except ValueError:
                raise errdefs.InvalidArgument(f"manifest {repo}:{ref} is larger than {MANIFEST_LIMIT} bytes") from None
        if resp.status != 200:
            raise _error_from(resp, body, "")
        got = "sha256:" + hashlib.sha256(body).hexdigest()
        if ref.startswith("sha256:") and got != ref:
            raise errdefs.InvalidArgument(f"manifest verification failed for digest {ref}: got {got}")
        header_digest = resp.header("Docker-Content-Digest")
        if header_digest.startswith("sha256:") and header_digest != got:
            raise errdefs.InvalidArgument(
                f"manifest {repo}:{ref}: registry says digest {header_digest} but its content hashes to {got}")
        media_type = resp.header("Content-Type").split(";")[0].strip()
        return body, media_type, got

    def head_manifest(self, repo: str, ref: str) -> dict[str, Any] | None:
        resp = self.request("HEAD", f"/v2/{repo}/manifests/{ref}", self.scope(repo), {"Accept": ACCEPT_MANIFESTS})
        resp.close()
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise _error_from(resp, b"", f"manifest {ref}")
        return {"mediaType": resp.header("Content-Type").split(";")[0].strip(),
                "digest": resp.header("Docker-Content-Digest"), "size": int(resp.header("Content-Length", "0") or 0)}

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str) -> str:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{ref}", self.scope(repo, True),
                            {"Content-Type": media_type}, data)
        with resp:
            body = resp.read_limited(1 << 20)
        if resp.status not in (200, 201, 202):
            raise _error_from(resp, body, f"manifest {ref}")
        return resp.header("Docker-Content-Digest") or "sha256:" + hashlib.sha256(data).hexdigest()

    # -- blobs -----------------------------------------------------------------------
    def head_blob(self, repo: str, digest: str, push: bool = False) -> int | None:
        """The blob's size when the repository has it, else None."""
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", self.scope(repo, push))
        resp.close()
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise _error_from(resp, b"", f"blob {digest}")
        return int(resp.header("Content-Length", "0") or 0)

    def open_blob(self, repo: str, digest: str, offset: int = 0) -> Response:
        """A streaming response; status 206 when offset was honoured."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", self.scope(repo), headers)
        if resp.status not in (200, 206):
            with resp:
                body = resp.read_limited(1 << 16) if resp.status != 416 else b""
            raise _error_from(resp, body, f"blob {digest}")
        return resp

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> BlobUpload | None:
        """Cross-repository mount: None when mounted, else the upload session
        the registry opened instead."""
        scope = self.scope(repo, True) + " " + self.scope(from_repo)
        q = urllib.parse.urlencode({"mount": digest, "from": from_repo})
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/?{q}", scope)
        with resp:
            body = resp.read_limited(1 << 16)
        if resp.status == 201:
            return None
        if resp.status == 202:
            return BlobUpload(self._location(resp))
        raise _error_from(resp, body, f"mounting blob {digest} from {from_repo}")

    def start_upload(self, repo: str) -> BlobUpload:
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", self.scope(repo, True))
        with resp:
            body = resp.read_limited(1 << 16)
        if resp.status != 202:
            raise _error_from(resp, body, "starting blob upload")
        return BlobUpload(self._location(resp))

    def _location(self, resp: Response) -> str:
        loc = resp.header("Location")
        if not loc:
            raise errdefs.Unavailable("registry did not return an upload location")
        return urllib.parse.urljoin(self.base() + "/", loc)

    @staticmethod
    def _with_query(url: str, **params: str) -> str:
        return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)

    def upload_monolithic(self, repo: str, upload: BlobUpload, data: bytes | BinaryIO, size: int,
                          digest: str) -> None:
        """PUT the whole blob to the session, with its digest."""
        resp = self.request("PUT", self._with_query(upload.location, digest=digest), self.scope(repo, True),
                            {"Content-Type": "application/octet-stream"}, data, content_length=size)
        self._finish(resp, digest)

    def upload_chunk(self, repo: str, upload: BlobUpload, chunk: bytes) -> None:
        """PATCH one chunk at the session's offset (Content-Range checked by the registry)."""
        end = upload.offset + len(chunk) - 1
        resp = self.request("PATCH", upload.location, self.scope(repo, True),
                            {"Content-Type": "application/octet-stream",
                             "Content-Range": f"{upload.offset}-{end}"}, chunk)
        with resp:
            body = resp.read_limited(1 << 16)
        if resp.status != 202:
            raise _error_from(resp, body, "uploading blob chunk")
        upload.location = self._location(resp)
        upload.offset = end + 1

    def complete_upload(self, repo: str, upload: BlobUpload, digest: str) -> None:
        resp = self.request("PUT", self._with_query(upload.location, digest=digest), self.scope(repo, True))
        self._finish(resp, digest)

    def cancel_upload(self, repo: str, upload: BlobUpload) -> None:
        try:
            self.request("DELETE", upload.location, self.scope(repo, True), cancellable=False).close(force=True)
        except errdefs.EngineError:
            pass

    def _finish(self, resp: Response, digest: str) -> None:
        with resp:
            body = resp.read_limited(1 << 16)
        if resp.status not in (201, 204):
            raise _error_from(resp, body, f"blob {digest}")

    def tags(self, repo: str) -> list[str]:
        resp = self.request("GET", f"/v2/{repo}/tags/list", self.scope(repo))
        with resp:
            body = resp.read_limited(8 << 20)
        if resp.status != 200:
            raise _error_from(resp, body, f"tags of {repo}")
        return list(json.loads(body).get("tags") or [])


def _message(body: bytes) -> str:
    try:
        errs = json.loads(body).get("errors") or []
        return str(errs[0].get("message", "")) if errs else ""
    except (ValueError, AttributeError):
        return ""


def _dial_error(url: str, host: str, e: BaseException | None) -> str:
    """docker's wording: Get "https://host/v2/": dial tcp: lookup host: no such host."""
    import socket
    if isinstance(e, socket.gaierror):
        return f'Get "{url}": dial tcp: lookup {host.rsplit(":", 1)[0]}: no such host'
    if isinstance(e, ConnectionRefusedError):
        return f'Get "{url}": dial tcp {host}: connect: connection refused'
    if isinstance(e, ssl.SSLError):
        return f'Get "{url}": tls: {e.reason or e}'
    if isinstance(e, TimeoutError):
        return f'Get "{url}": dial tcp {host}: i/o timeout'
    return f'Get "{url}": {e}'


def chunks(stream: BinaryIO, size: int) -> Iterable[bytes]:
    while True:
        data = stream.read(size)
        if not data:
            return
        yield data
