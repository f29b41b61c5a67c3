"""The HTTP API of the distribution-spec (spec.md "Endpoints" end-1..end-13)
on aiohttp, plus /token (the realm, when configured), /metrics and /healthz.

Everything under /v2/ goes through one handler that routes by regular
expression: repository names contain slashes, so the name is whatever
precedes the last /manifests/, /blobs/, /tags/list or /referrers/."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import select
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ...oci import mediatypes as mt
from . import manifests as mf
from .auth import Access, Authenticator, NoAuth, TokenIssuer
from .errors import RegistryError
from .names import check_digest, check_name, is_digest_syntax, is_tag, is_upload_id
from .observe import Metrics, log_event
from .storage import Storage
from .storage.base import DigestMismatch

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
JSON = "application/json"
_RANGE_RE = re.compile(r"^([0-9]+)-([0-9]+)$")

_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("uploads", re.compile(r"^(?P<name>.+)/blobs/uploads/?$")),
    ("upload", re.compile(r"^(?P<name>.+)/blobs/uploads/(?P<id>[^/]+)$")),
    ("blob", re.compile(r"^(?P<name>.+)/blobs/(?P<digest>[^/]+)$")),
    ("manifest", re.compile(r"^(?P<name>.+)/manifests/(?P<reference>[^/]+)$")),
    ("tags", re.compile(r"^(?P<name>.+)/tags/list$")),
    ("referrers", re.compile(r"^(?P<name>.+)/referrers/(?P<digest>[^/]+)$")),
]
_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"})
_WILDCARDS = {"*/*", "application/*", "application/json"}
# Blob bodies go out with sendfile(2) from these threads, so that several
# downloads copy on several cores (the syscall releases the GIL).
_SENDFILE_THREADS = ThreadPoolExecutor(max_workers=max(4, (os.cpu_count() or 1) * 2),
                                       thread_name_prefix="sendfile")
_SEND_STALL_MS = 60_000
# A body that ends early: the client went away or its framing is broken.
_BODY_ERRORS = (ConnectionError, HttpProcessingError, asyncio.IncompleteReadError)
_MANIFEST_CACHE_BYTES = 64 << 20


def _accepted(request: web.Request) -> set[str]:
    out: set[str] = set()
    for header in request.headers.getall("Accept", []):
        for item in header.split(","):
            media = item.split(";", 1)[0].strip().lower()
            if media:
                out.add(media)
    return out


def _sort_key(value: str) -> tuple[str, str]:
    """spec.md "Listing Tags": lexical, i.e. case-insensitive alphanumeric
    order; ties broken by byte order so the order is total."""
    return (value.lower(), value)


class _Page:
    def __init__(self, items: list[str], more: bool, n: int | None) -> None:
        self.items, self.more, self.n = items, more, n


def _paginate(request: web.Request, items: list[str], default_n: int | None) -> _Page:
    raw_n, last = request.query.get("n"), request.query.get("last")
    n = default_n
    if raw_n is not None:
        if not raw_n.isdigit():
            raise RegistryError("UNSUPPORTED", {"n": raw_n[:50]}, status=400,
                                message="pagination parameter n must be a non-negative integer")
        n = int(raw_n)
    ordered = sorted(items, key=_sort_key)
    if last is not None:
        after = _sort_key(last)
        ordered = [i for i in ordered if _sort_key(i) > after]
    if n is None:
        return _Page(ordered, False, None)
    return _Page(ordered[:n], len(ordered) > n and n > 0, n)


class Registry:
    """The request handlers; state lives in the storage, the in-memory upload
    locks and a cache of manifest bytes (immutable: keyed by digest)."""

    def __init__(self, storage: Storage, auth: Authenticator | None = None, *, read_only: bool = False,
                 delete_enabled: bool = True, max_manifest_bytes: int = 4 << 20, max_blob_bytes: int = 32 << 30,
                 upload_ttl: float = 86400.0, metrics: Metrics | None = None,
                 logger: logging.Logger | None = None, issuer: TokenIssuer | None = None) -> None:
        self.storage = storage
        self.auth = auth or NoAuth()
        self.read_only = read_only
        self.delete_enabled = delete_enabled
        self.max_manifest_bytes = max_manifest_bytes
        self.max_blob_bytes = max_blob_bytes
        self.upload_ttl = upload_ttl
        self.metrics = metrics or Metrics()
        self.logger = logger or logging.getLogger("dockyard.registry")
        self.issuer = issuer
        self._upload_locks: dict[str, asyncio.Lock] = {}
        self._manifest_cache: dict[str, bytes] = {}
        self._manifest_cache_bytes = 0
        self.active_requests = 0
        self.draining = False

    # -- entry point -------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.active_requests += 1
        try:
            response = await self._handle(request)
            if self.draining:
                response.force_close()  # no keep-alive while shutting down
            return response
        finally:
            self.active_requests -= 1

    async def drain(self, timeout: float) -> bool:
        """Wait for the requests in flight (uploads streaming their bodies
        included) to finish; False if some are still running at the timeout.
        aiohttp's own shutdown stops reading from every connection at once,
        which would cut an upload off mid-body, hence this first."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.active_requests and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return self.active_requests == 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            tail = request.path[len("/v2/"):] if request.path.startswith("/v2/") else None
            if tail is None:
                raise RegistryError("UNSUPPORTED", status=404, message="unknown endpoint")
            response = await self._dispatch(request, tail)
        except RegistryError as e:
            request["error"] = e.code
            response = web.Response(status=e.status, body=e.body(), content_type=JSON, headers=e.headers)
        except Exception as e:  # a bug or an I/O failure: say so in the log, as JSON
            log_event(self.logger, logging.ERROR, "request failed", method=request.method, path=request.path,
                      error=f"{type(e).__name__}: {e}")
            request["error"] = type(e).__name__
            response = web.Response(status=500, text="internal server error")
        response.headers[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        return response

    async def _dispatch(self, request: web.Request, tail: str) -> web.StreamResponse:
        method = request.method
        if tail == "":
            self._require(request, method, ("GET", "HEAD"))
            request["user"] = self.auth.authorize(request.headers, [])
            return web.Response(body=b"{}", content_type=JSON)
        if tail == "_catalog":
            self._require(request, method, ("GET",))
            return self.catalog(request)
        for route, pattern in _ROUTES:
            m = pattern.match(tail)
            if m is None:
                continue
            name = check_name(m.group("name"))
            handler = getattr(self, f"_{route}_{method.lower()}", None) if method in _METHODS else None
            if handler is None:
                raise RegistryError("UNSUPPORTED", {"method": method}, status=405,
                                    message=f"method {method} not allowed here")
            result: web.StreamResponse = await handler(request, name, **{k: v for k, v in m.groupdict().items()
                                                                        if k != "name"})
            return result
        raise RegistryError("UNSUPPORTED", status=404, message="unknown endpoint")

    @staticmethod
    def _require(request: web.Request, method: str, allowed: tuple[str, ...]) -> None:
        if method not in allowed:
            raise RegistryError("UNSUPPORTED", {"method": method}, status=405,
                                message=f"method {method} not allowed here")

    def _authorize(self, request: web.Request, *required: Access) -> None:
        request["user"] = self.auth.authorize(request.headers, list(required))

    def _writable(self) -> None:
        if self.read_only:
            raise RegistryError("UNSUPPORTED", status=405, message="the registry is in read-only mode")

    def _deletable(self) -> None:
        self._writable()
        if not self.delete_enabled:
            raise RegistryError("UNSUPPORTED", status=405, message="deletion is disabled")

    def _repository(self, name: str) -> None:
        if not self.storage.repository_exists(name):
            raise RegistryError("NAME_UNKNOWN", {"name": name})

    # -- content discovery -------------------------------------------------------------
    def catalog(self, request: web.Request) -> web.Response:
        self._authorize(request, Access("registry", "catalog", "*"))
        page = _paginate(request, self.storage.repositories(), default_n=None)
        headers = {}
        if page.more:
            headers["Link"] = f'</v2/_catalog?n={page.n}&last={quote(page.items[-1])}>; rel="next"'
        return web.Response(body=json.dumps({"repositories": page.items}).encode(), content_type=JSON,
                            headers=headers)

    async def _tags_get(self, request: web.Request, name: str) -> web.Response:
        self._authorize(request, Access("repository", name, "pull"))
        self._repository(name)
        page = _paginate(request, self.storage.tags(name), default_n=None)
        headers = {}
        if page.more:
            headers["Link"] = f'</v2/{name}/tags/list?n={page.n}&last={quote(page.items[-1])}>; rel="next"'
        return web.Response(body=json.dumps({"name": name, "tags": page.items}).encode(), content_type=JSON,
                            headers=headers)

    async def _referrers_get(self, request: web.Request, name: str, digest: str) -> web.Response:
        self._authorize(request, Access("repository", name, "pull"))
        check_digest(digest)
        found = []
        if self.storage.repository_exists(name):
            for d in self.storage.referrers(name, digest):
                if self.storage.manifest_media_type(name, d.get("digest", "")) is not None:
                    found.append(d)
        headers = {}
        wanted = request.query.getall("artifactType", [])
        if wanted:
            found = [d for d in found if d.get("artifactType") in wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        found.sort(key=lambda d: d["digest"])
        body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": found}
        return web.Response(body=json.dumps(body).encode(), headers={"Content-Type": mt.OCI_INDEX, **headers})

    # -- manifests ------------------------------------------------------------------------
    def _reference(self, reference: str) -> tuple[str, str]:
        """(tag, "") or ("", digest)."""
        if is_digest_syntax(reference):
            return "", check_digest(reference)
        if is_tag(reference):
            return reference, ""
        raise RegistryError("MANIFEST_INVALID", {"reference": reference[:200]},
                            message="invalid reference: neither a tag nor a digest")

    def _manifest_bytes(self, digest: str) -> bytes:
        data = self._manifest_cache.get(digest)
        if data is None:
            try:
                data = self.storage.blob_read(digest, max(self.max_manifest_bytes, 4 << 20))
            except (FileNotFoundError, ValueError):
                raise RegistryError("MANIFEST_UNKNOWN", {"digest": digest}) from None
            if self._manifest_cache_bytes + len(data) > _MANIFEST_CACHE_BYTES:
                self._manifest_cache.clear()
                self._manifest_cache_bytes = 0
            self._manifest_cache[digest] = data
            self._manifest_cache_bytes += len(data)
        return data

    def _resolve(self, name: str, reference: str) -> tuple[str, str, str]:
        """(tag, digest, media type) of a manifest in the repository."""
        tag, digest = self._reference(reference)
        if tag:
            resolved = self.storage.resolve_tag(name, tag)
            if resolved is None:
                self._repository(name)
                raise RegistryError("MANIFEST_UNKNOWN", {"tag": tag})
            digest = resolved
        media_type = self.storage.manifest_media_type(name, digest)
        if media_type is None:
            self._repository(name)
            raise RegistryError("MANIFEST_UNKNOWN", {"digest": digest})
        return tag, digest, media_type

    async def _manifest_get(self, request: web.Request, name: str, reference: str) -> web.Response:
        self._authorize(request, Access("repository", name, "pull"))
        tag, digest, media_type = self._resolve(name, reference)
        data = self._manifest_bytes(digest)
        accepted = _accepted(request)
        if tag and accepted and media_type not in accepted and not (accepted & _WILDCARDS):
            # content-negotiation.md: a client that cannot read a list gets
            # the linux/amd64 image; other mismatches are not found.
            child = None
            if media_type in mf.INDEXES:
                child = mf.platform_child(mf.parse(data, media_type), accepted)
            if child is None or self.storage.manifest_media_type(name, child.digest) is None:
                raise RegistryError("MANIFEST_UNKNOWN", {"tag": tag, "mediaType": media_type},
                                    message=f"manifest of type {media_type} found, "
                                            "but the Accept header does not allow it")
            digest, media_type = child.digest, child.media_type
            data = self._manifest_bytes(digest)
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest, "ETag": f'"{digest}"'}
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return web.Response(headers=headers)
        return web.Response(body=data, headers=headers)

    _manifest_head = _manifest_get

    async def _read_body(self, request: web.Request, limit: int) -> bytes:
        if request.content_length is not None and request.content_length > limit:
            raise RegistryError("MANIFEST_INVALID", {"limit": limit}, status=413,
                                message=f"manifest larger than {limit} bytes")
        buf = bytearray()
        try:
            async for chunk in request.content.iter_any():
                buf += chunk
                if len(buf) > limit:
                    raise RegistryError("MANIFEST_INVALID", {"limit": limit}, status=413,
                                        message=f"manifest larger than {limit} bytes")
        except _BODY_ERRORS as e:
            raise RegistryError("MANIFEST_INVALID", {"reason": f"incomplete body: {e}"}) from None
        request["bytes_in"] = len(buf)
        return bytes(buf)

    async def _manifest_put(self, request: web.Request, name: str, reference: str) -> web.Response:
        self._authorize(request, Access("repository", name, "push"))
        self._writable()
        tag, ref_digest = self._reference(reference)
        body = await self._read_body(request, self.max_manifest_bytes)
        manifest = mf.parse(body, request.headers.get("Content-Type", ""))
        alg = ref_digest.partition(":")[0] if ref_digest else "sha256"
        digest = f"{alg}:{hashlib.new(alg, body).hexdigest()}"
        if ref_digest and digest != ref_digest:
            raise RegistryError("DIGEST_INVALID", {"reference": ref_digest, "actual": digest})
        self._check_references(name, manifest)
        self.storage.blob_put(body, alg)
        self.storage.put_manifest(name, digest, manifest.media_type)
        if tag:
            self.storage.set_tag(name, tag, digest)
        headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
        if manifest.subject is not None:
            self.storage.add_referrer(name, manifest.subject.digest, manifest.referrer_descriptor(digest, len(body)))
            headers["OCI-Subject"] = manifest.subject.digest
        self.metrics.manifests_pushed += 1
        return web.Response(status=201, headers=headers)

    def _check_references(self, name: str, manifest: mf.Manifest) -> None:
        """spec.md "Push": descriptors naming content the repository does not
        hold are rejected with MANIFEST_BLOB_UNKNOWN (the subject excepted)."""
        missing: list[str] = []
        for d in manifest.blobs:
            if d.urls and d.media_type in mf.FOREIGN_LAYERS:
                continue
            size = self.storage.blob_size(d.digest) if self.storage.blob_linked(name, d.digest) else None
            if size is None:
                missing.append(d.digest)
            elif size != d.size:
                raise RegistryError("MANIFEST_INVALID", {"digest": d.digest, "size": d.size, "actual": size},
                                    message="descriptor size does not match the blob")
        for d in manifest.children:
            if self.storage.manifest_media_type(name, d.digest) is None:
                missing.append(d.digest)
        if missing:
            err = RegistryError("MANIFEST_BLOB_UNKNOWN", {"digest": missing[0]})
            err.extra = [{"code": "MANIFEST_BLOB_UNKNOWN", "message": err.message, "detail": {"digest": m}}
                         for m in missing[1:]]
            raise err

    async def _manifest_delete(self, request: web.Request, name: str, reference: str) -> web.Response:
        self._authorize(request, Access("repository", name, "delete"))
        self._deletable()
        tag, digest = self._reference(reference)
        self._repository(name)
        if tag:
            if not self.storage.delete_tag(name, tag):
                raise RegistryError("MANIFEST_UNKNOWN", {"tag": tag})
            return web.Response(status=202)
        media_type = self.storage.manifest_media_type(name, digest)
        if media_type is None:
            raise RegistryError("MANIFEST_UNKNOWN", {"digest": digest})
        try:
            parsed = mf.parse(self._manifest_bytes(digest), media_type)
            if parsed.subject is not None:
                self.storage.remove_referrer(name, parsed.subject.digest, digest)
        except RegistryError:
            pass
        self.storage.delete_manifest(name, digest)
        return web.Response(status=202)

    # -- blobs -------------------------------------------------------------------------------
    def _blob(self, name: str, digest: str) -> int:
        check_digest(digest)
        size = self.storage.blob_size(digest) if self.storage.blob_linked(name, digest) else None
        if size is None:
            self._repository(name)
            raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
        return size

    async def _blob_get(self, request: web.Request, name: str, digest: str) -> web.StreamResponse:
        self._authorize(request, Access("repository", name, "pull"))
        size = self._blob(name, digest)
        headers = {"Docker-Content-Digest": digest, "Content-Type": "application/octet-stream",
                   "Accept-Ranges": "bytes", "ETag": f'"{digest}"', "Cache-Control": "max-age=31536000"}
        if request.method == "HEAD":
            headers["Content-Length"] = str(size)
            return web.Response(headers=headers)
        path = self.storage.blob_path(digest)
        if path is None:
            return await self._stream_blob(request, digest, size, headers)
        transport = request.transport
        if ("Range" in request.headers or transport is None or transport.get_extra_info("sslcontext") is not None
                or transport.get_extra_info("socket") is None):
            # aiohttp answers Range (206/416) and TLS itself
            return web.FileResponse(path, chunk_size=1 << 20, headers=headers)
        return await self._sendfile_threaded(request, path, size, headers)

    async def _sendfile_threaded(self, request: web.Request, path: str, size: int,
                                 headers: dict[str, str]) -> web.StreamResponse:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            response = web.StreamResponse(headers=headers)
            response.content_length = size
            writer = await response.prepare(request)
            transport = request.transport
            assert writer is not None and transport is not None
            writer.send_headers()
            while transport.get_write_buffer_size():
                await writer.drain()
                await asyncio.sleep(0)
            # The transport stays idle (nothing to write, reading paused)
            # while the thread owns the socket.
            transport.pause_reading()
            try:
                sock = transport.get_extra_info("socket")
                await asyncio.get_running_loop().run_in_executor(
                    _SENDFILE_THREADS, _sendfile_all, sock.fileno(), fd, size)
            except OSError as e:
                # Headers promised `size` bytes: drop the connection rather
                # than end the body short. aiohttp takes the reset quietly.
                request["error"] = f"transfer interrupted: {e}"
                transport.abort()
                return response
            finally:
                if not transport.is_closing():
                    transport.resume_reading()
            await response.write_eof()
            return response
        finally:
            os.close(fd)

    _blob_head = _blob_get

    async def _stream_blob(self, request: web.Request, digest: str, size: int,
                           headers: dict[str, str]) -> web.StreamResponse:
        response = web.StreamResponse(headers=headers)
        response.content_length = size
        await response.prepare(request)
        try:
            with self.storage.blob_open(digest) as f:
                while chunk := f.read(1 << 20):
                    await response.write(chunk)
        except OSError as e:
            request["error"] = f"transfer interrupted: {e}"
            if request.transport is not None:
                request.transport.abort()
            return response
        await response.write_eof()
        return response

    async def _blob_delete(self, request: web.Request, name: str, digest: str) -> web.Response:
        self._authorize(request, Access("repository", name, "delete"))
        self._deletable()
        check_digest(digest)
        if not self.storage.unlink_blob(name, digest):
            self._repository(name)
            raise RegistryError("BLOB_UNKNOWN", {"digest": digest})
        return web.Response(status=202)

    # -- uploads ------------------------------------------------------------------------------
    def _upload_headers(self, name: str, upload_id: str, size: int) -> dict[str, str]:
        # distribution's convention: "0-0" for an empty session.
        return {"Location": f"/v2/{name}/blobs/uploads/{upload_id}", "Range": f"0-{max(size - 1, 0)}",
                "Docker-Upload-UUID": upload_id}

    def _blob_created(self, name: str, digest: str) -> web.Response:
        return web.Response(status=201, headers={"Location": f"/v2/{name}/blobs/{digest}",
                                                 "Docker-Content-Digest": digest})

    async def _uploads_post(self, request: web.Request, name: str) -> web.Response:
        self._authorize(request, Access("repository", name, "push"))
        self._writable()
        mount, source = request.query.get("mount"), request.query.get("from")
        if mount is not None and source is not None:
            check_digest(mount)
            check_name(source)
            # Mount only what the client could pull itself; otherwise fall
            # back to a session (spec.md: 202, the client uploads).
            if (self.storage.blob_linked(source, mount) and self.storage.blob_size(mount) is not None
                    and self.auth.allows(request.headers, Access("repository", source, "pull"))):
                self.storage.link_blob(name, mount)
                return self._blob_created(name, mount)
        digest = request.query.get("digest")
        if digest is not None:
            check_digest(digest)
        upload_id = self.storage.upload_start(name)
        if digest is None:
            return web.Response(status=202, headers=self._upload_headers(name, upload_id, 0))
        try:
            await self._receive(request, name, upload_id)
            return self._commit(name, upload_id, digest)
        finally:
            self.storage.upload_cancel(name, upload_id)  # no-op once committed

    def _upload_lock(self, upload_id: str) -> asyncio.Lock:
        lock = self._upload_locks.get(upload_id)
        if lock is None:
            lock = self._upload_locks[upload_id] = asyncio.Lock()
        return lock

    def _session(self, name: str, upload_id: str) -> int:
        info = self.storage.upload_info(name, upload_id) if is_upload_id(upload_id) else None
        if info is None:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload_id[:100]})
        if time.time() - info.updated_at > self.upload_ttl:
            self.storage.upload_cancel(name, upload_id)
            self.metrics.uploads_expired += 1
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"upload": upload_id}, message="upload session expired")
        return info.size

    def _check_range(self, request: web.Request, name: str, upload_id: str, size: int) -> None:
        content_range = request.headers.get("Content-Range")
        if content_range is None:
            return
        m = _RANGE_RE.match(content_range.strip().removeprefix("bytes "))
        if m is None:
            raise RegistryError("BLOB_UPLOAD_INVALID", {"Content-Range": content_range[:100]},
                                message="Content-Range must be <start>-<end>")
        start, end = int(m.group(1)), int(m.group(2))
        if start != size or end < start:
            raise RegistryError("BLOB_UPLOAD_INVALID", {"Content-Range": content_range, "expected_start": size},
                                status=416, message="chunk out of order",
                                headers=self._upload_headers(name, upload_id, size))
        length = request.content_length
        if length is not None and length != end - start + 1:
            raise RegistryError("SIZE_INVALID", {"Content-Range": content_range, "Content-Length": length})

    async def _receive(self, request: web.Request, name: str, upload_id: str) -> int:
        """Append the request body to the session: all of it, or (on a
        truncated body, an oversize blob or a short Content-Range) nothing."""
        writer = self.storage.upload_writer(name, upload_id)
        start = writer.size
        expected = None
        cr = request.headers.get("Content-Range")
        if cr and (m := _RANGE_RE.match(cr.strip().removeprefix("bytes "))):
            expected = int(m.group(2)) - int(m.group(1)) + 1
        self.metrics.uploads_in_flight += 1
        ok = False
        try:
            try:
                async for chunk in request.content.iter_chunked(1 << 20):
                    writer.write(chunk)
                    if self.max_blob_bytes and writer.size > self.max_blob_bytes:
                        raise RegistryError("SIZE_INVALID", {"limit": self.max_blob_bytes}, status=413,
                                            message=f"blob larger than {self.max_blob_bytes} bytes")
            except _BODY_ERRORS as e:
                raise RegistryError("BLOB_UPLOAD_INVALID", {"reason": f"incomplete body: {e}"}) from None
            received = writer.size - start
            request["bytes_in"] = received
            if expected is not None and received != expected:
                raise RegistryError("SIZE_INVALID", {"Content-Range": cr, "received": received})
            ok = True
            return writer.size
        finally:
            self.metrics.uploads_in_flight -= 1
            if not ok:
                writer.rollback()
            writer.close()

    def _commit(self, name: str, upload_id: str, digest: str) -> web.Response:
        try:
            self.storage.upload_commit(name, upload_id, digest)
        except DigestMismatch as e:
            raise RegistryError("DIGEST_INVALID", {"expected": e.expected, "actual": e.actual}) from None
        self.metrics.blobs_committed += 1
        return self._blob_created(name, digest)

    async def _upload_patch(self, request: web.Request, name: str, id: str) -> web.Response:
        self._authorize(request, Access("repository", name, "push"))
        self._writable()
        self._session(name, id)  # before a lock exists for it: unknown IDs cost nothing
        async with self._upload_lock(id):
            size = self._session(name, id)
            self._check_range(request, name, id, size)
            size = await self._receive(request, name, id)
        return web.Response(status=202, headers=self._upload_headers(name, id, size))

    async def _upload_put(self, request: web.Request, name: str, id: str) -> web.Response:
        self._authorize(request, Access("repository", name, "push"))
        self._writable()
        self._session(name, id)
        async with self._upload_lock(id):
            size = self._session(name, id)
            digest = request.query.get("digest")
            if not digest:
                raise RegistryError("DIGEST_INVALID", message="the digest query parameter is required")
            check_digest(digest)
            self._check_range(request, name, id, size)
            await self._receive(request, name, id)
            try:
                return self._commit(name, id, digest)
            finally:
                self._upload_locks.pop(id, None)

    async def _upload_get(self, request: web.Request, name: str, id: str) -> web.Response:
        self._authorize(request, Access("repository", name, "push"))
        size = self._session(name, id)
        return web.Response(status=204, headers=self._upload_headers(name, id, size))

    async def _upload_delete(self, request: web.Request, name: str, id: str) -> web.Response:
        self._authorize(request, Access("repository", name, "push"))
        self._writable()
        self._session(name, id)
        self.storage.upload_cancel(name, id)
        self._upload_locks.pop(id, None)
        return web.Response(status=204)

    # -- housekeeping -------------------------------------------------------------------------------
    def purge_expired_uploads(self) -> int:
        now, purged = time.time(), 0
        for info in list(self.storage.uploads()):
            lock = self._upload_locks.get(info.upload_id)
            if now - info.updated_at > self.upload_ttl and not (lock and lock.locked()):
                if self.storage.upload_cancel(info.name, info.upload_id):
                    self._upload_locks.pop(info.upload_id, None)
                    purged += 1
        self.metrics.uploads_expired += purged
        if purged:
            log_event(self.logger, logging.INFO, "purged expired uploads", count=purged)
        return purged

    # -- the token realm, metrics, health ------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        assert self.issuer is not None
        try:
            if request.method == "POST":
                form = await request.post()
                grant = form.get("grant_type", "")
                if grant != "password":
                    raise RegistryError("UNSUPPORTED", {"grant_type": str(grant)[:50]}, status=400,
                                        message="only grant_type=password is supported")
                import base64
                creds = base64.b64encode(f"{form.get('username', '')}:{form.get('password', '')}".encode()).decode()
                account = self.issuer.authenticate("Basic " + creds)
                scopes = str(form.get("scope", "")).split()
                service = str(form.get("service", ""))
            else:
                account = self.issuer.authenticate(request.headers.get("Authorization", ""))
                scopes = request.query.getall("scope", [])
                service = request.query.get("service", "")
            request["user"] = account
            return web.json_response(self.issuer.issue(account, service, scopes))
        except RegistryError as e:
            request["error"] = e.code
            return web.Response(status=e.status, body=e.body(), content_type=JSON, headers=e.headers)

    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.prometheus(), content_type="text/plain")

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "read_only": self.read_only, **self.metrics.snapshot()})


def _sendfile_all(sock_fd: int, file_fd: int, count: int) -> None:
    """Send ``count`` bytes of a file to a non-blocking socket, waiting for
    it to drain when full; a file that ends early or a stalled or gone
    client is a ConnectionError (the connection is then dropped, so the
    client never takes a short body for a whole one)."""
    poller = select.poll()
    poller.register(sock_fd, select.POLLOUT)
    offset = 0
    while offset < count:
        try:
            sent = os.sendfile(sock_fd, file_fd, offset, min(count - offset, 1 << 30))
        except BlockingIOError:
            if not poller.poll(_SEND_STALL_MS):
                raise ConnectionError("client stalled") from None
            continue
        if sent == 0:
            raise ConnectionError("blob shorter than its size")
        offset += sent


def make_app(registry: Registry, *, metrics_endpoints: bool = True, client_max_size: int = 1 << 20) -> web.Application:
    app = web.Application(client_max_size=client_max_size)
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]] = registry.handle
    app.router.add_route("*", "/v2", _redirect_v2)
    app.router.add_route("*", "/v2/{tail:.*}", handle)
    if registry.issuer is not None:
        app.router.add_route("GET", "/token", registry.token)
        app.router.add_route("POST", "/token", registry.token)
    if metrics_endpoints:
        app.router.add_route("GET", "/metrics", registry.prometheus)
        app.router.add_route("GET", "/healthz", registry.health)
    return app


async def _redirect_v2(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/v2/")
