"""Pull and push: images between the local store and a registry.

Pull resolves the reference to a manifest (choosing the platform from an
index), then transfers layers in parallel, two threads per layer: a
download thread receives the blob, hashes it and appends it to the content
store's ingest, and hands the chunks to the layer's extraction, which
inflates, hashes (diff ID) and writes the files into the layer's own
snapshot at the same time. So a layer is on disk unpacked when its last
byte arrives; blob digest, size and diff ID are checked at the end and the
layer is kept only if all three match. A connection cut mid-blob resumes
with a Range request inside the same pull; when retries run out, the
partial ingest is kept and the next pull resumes from it. Layer snapshots
are chained (committed by chain ID) in order as they complete; the image is
recorded last. Any failure, and cancellation (the API client going away),
removes what the pull added.

Progress goes to a callback as docker's JSON messages (status, id,
progressDetail, progress)."""

from __future__ import annotations

import http.client
import json
import os
import queue
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO, Callable

from .. import errdefs
from ..oci import mediatypes as mt
from ..oci import platform as platforms
from ..oci import reference
from ..registry.client import AuthConfig, BlobUpload, Registry
from .archive import LayerError
from .content import CorruptBlob
from .images import Image, ImageService, Lease, chain_ids, config_diff_ids

Progress = Callable[[dict[str, Any]], None]

PULL_WORKERS = 3  # docker's max-concurrent-downloads
PUSH_WORKERS = 5  # docker's max-concurrent-uploads
RETRIES = 3
CHUNK = 1 << 20
MONOLITHIC_MAX = 64 << 20  # larger blobs go up in PATCH chunks of this size
_PROGRESS_INTERVAL = 0.1


class Interrupted(Exception):
    """The connection broke mid-blob (resumable); not an OSError so that
    layer extraction does not mistake it for bad layer data."""


class Cancelled(errdefs.EngineError):
    """The pull was cancelled (its client went away)."""

    def __init__(self, message: str = "pull cancelled") -> None:
        super().__init__(message)


class Cancel(threading.Event):
    """A cancellation flag whose set() also aborts the transfers in flight
    (hooks shut their sockets down), so a stalled registry does not hold a
    cancelled pull until its read timeout."""

    def __init__(self) -> None:
        super().__init__()
        self._hooks: dict[int, Callable[[], None]] = {}
        self._hooks_lock = threading.Lock()
        self._next = 0

    def set(self) -> None:
        super().set()
        with self._hooks_lock:
            hooks = list(self._hooks.values())
        for hook in hooks:
            try:
                hook()
            except Exception:
                pass

    def hook(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Run fn on set() (at once when already set); returns the remover."""
        with self._hooks_lock:
            self._next += 1
            key = self._next
            self._hooks[key] = fn
        if self.is_set():
            fn()
        return lambda: self._hooks.pop(key, None) and None


def short_id(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def _human(n: float) -> str:
    units = ["B", "kB", "MB", "GB", "TB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.4g}{units[i]}"


def progress_bar(current: int, total: int) -> str:
    """docker's JSONProgress rendering: a 50-column bar then sizes."""
    if total <= 0:
        return f"{_human(current):>8}"
    pct = min(current / total, 1.0)
    bars = int(pct * 50)
    bar = "[" + "=" * bars + (">" if bars < 50 else "") + " " * max(0, 49 - bars) + "]"
    if bars >= 50:
        bar = "[" + "=" * 49 + ">]"
    return f"{bar} {_human(current):>8}/{_human(total)}"


class LayerProgress:
    """Rate-limited Downloading/Pushing messages for one layer."""

    def __init__(self, emit: Progress, layer_id: str, status: str, total: int) -> None:
        self.emit = emit
        self.id = layer_id
        self.status = status
        self.total = total
        self.current = 0
        self._last = 0.0

    def add(self, n: int) -> None:
        self.current += n
        now = time.monotonic()
        if now - self._last >= _PROGRESS_INTERVAL or self.current >= self.total:
            self._last = now
            self.emit({"status": self.status, "progressDetail": {"current": self.current, "total": self.total},
                       "progress": progress_bar(self.current, self.total), "id": self.id})


def status(emit: Progress, text: str, layer_id: str | None = None) -> None:
    msg: dict[str, Any] = {"status": text}
    if layer_id is not None:
        msg["progressDetail"] = {}
        msg["id"] = layer_id
    emit(msg)


# -- pull -----------------------------------------------------------------------------------


class _Feed:
    """Compressed chunks from a layer's download thread to its extraction:
    a bounded queue (at most ``depth`` chunks in flight) with a file-like
    read() for the decompressor. Either side stops when the pull is
    cancelled; the producer also stops once the consumer has gone."""

    _EOF = object()

    def __init__(self, cancel: threading.Event, depth: int = 8) -> None:
        self._q: queue.Queue[Any] = queue.Queue(depth)
        self._cancel = cancel
        self._gone = threading.Event()
        self._buf = memoryview(b"")
        self._ended = False
        self._abort: Callable[[], None] | None = None

    # -- producer ----------------------------------------------------------------------
    def set_abort(self, fn: Callable[[], None] | None) -> None:
        """What close() calls to stop a producer blocked reading (a response's abort)."""
        self._abort = fn

    def put(self, item: Any) -> None:
        while True:
            if self._gone.is_set():
                raise Cancelled()
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                if self._cancel.is_set():
                    raise Cancelled() from None

    def finish(self, error: BaseException | None = None) -> None:
        try:
            self.put(error if error is not None else self._EOF)
        except Cancelled:
            pass

    # -- consumer ----------------------------------------------------------------------
    def read(self, n: int = -1) -> bytes:
        if not self._buf:
            if self._ended:
                return b""
            while True:
                if self._cancel.is_set():
                    raise Cancelled()
                try:
                    item = self._q.get(timeout=0.2)
                    break
                except queue.Empty:
                    continue
            if item is self._EOF:
                self._ended = True
                return b""
            if isinstance(item, BaseException):
                self._ended = True
                raise item
            if n is None or n < 0 or n >= len(item):
                return item  # the chunk itself: no copy
            self._buf = memoryview(item)
        n = len(self._buf) if n is None or n < 0 else n
        out = bytes(self._buf[:n])
        self._buf = self._buf[n:]
        return out

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._gone.is_set()

    def drain(self) -> None:
        """Read to the end (so the blob is complete for its digest check);
        raises what the download raised."""
        while self.read(CHUNK):
            pass

    def close(self) -> None:
        """The consumer is done: unblock and stop the producer."""
        self._gone.set()
        abort = self._abort
        if abort is not None:
            abort()
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass


class Puller:
    def __init__(self, service: ImageService, registry: Registry, ref: reference.Reference,
                 platform: platforms.Platform, emit: Progress, explicit_platform: bool = False,
                 cancel: Cancel | None = None) -> None:
        self.service = service
        self.reg = registry
        self.ref = ref
        self.repo = ref.path
        self.platform = platform
        self.explicit_platform = explicit_platform
        self.emit = emit
        self.cancel = cancel if cancel is not None else Cancel()
        registry.cancel = self.cancel

    # -- manifests ------------------------------------------------------------------------
    def resolve(self) -> tuple[dict[str, Any], bytes, dict[str, Any] | None, bytes | None]:
        """(manifest descriptor, manifest bytes, index descriptor, index bytes)."""
        ref = self.ref.digest or self.ref.tag
        try:
            body, media_type, digest = self.reg.get_manifest(self.repo, ref)
        except errdefs.NotFound as e:
            if getattr(e, "code", "") in ("NAME_UNKNOWN",) or "repository name not known" in e.message:
                raise errdefs.NotFound(f"pull access denied for {self.ref.familiar_name}, repository does not "
                                       f"exist or may require 'docker login': {e.message}") from None
            raise errdefs.NotFound(f"manifest for {self.ref.familiar} not found: {e.message}") from None
        except errdefs.Unauthorized as e:
            raise errdefs.Unauthorized(f"pull access denied for {self.ref.familiar_name}, repository does not "
                                       f"exist or may require 'docker login': {e.message}") from None
        media_type = _media_type(media_type, body)
        index_desc = index_bytes = None
        if media_type in mt.INDEXES:
            index = _json(body, "index")
            chosen = platforms.select(self.platform, [m for m in index.get("manifests") or [] if isinstance(m, dict)])
            if chosen is None:
                raise errdefs.NotFound(f"no matching manifest for {self.platform} in the manifest list entries")
            index_desc = {"mediaType": media_type, "digest": digest, "size": len(body)}
            index_bytes = body
            body, media_type, digest = self.reg.get_manifest(self.repo, chosen["digest"])
            media_type = _media_type(media_type, body)
            if chosen.get("digest") != digest:
                raise errdefs.InvalidArgument(f"manifest {chosen.get('digest')}: content does not match its digest")
        if media_type not in mt.MANIFESTS:
            raise errdefs.InvalidArgument(f"unsupported manifest media type: {media_type or 'none'} "
                                          f"(for {self.ref.familiar})")
        return {"mediaType": media_type, "digest": digest, "size": len(body)}, body, index_desc, index_bytes

    def fetch_config(self, manifest: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        desc = manifest["config"]
        if desc.get("mediaType") not in mt.CONFIGS:
            raise errdefs.InvalidArgument(f"unsupported image config media type {desc.get('mediaType')!r}: "
                                          f"{self.ref.familiar} is not a container image")
        if self.service.content.has(desc["digest"]):
            data = self.service.content.read_blob(desc["digest"])
        else:
            with self.reg.open_blob(self.repo, desc["digest"]) as resp:
                try:
                    data = resp.read_limited(8 << 20)
                except ValueError:
                    raise errdefs.InvalidArgument("image config is larger than 8 MiB") from None
            got = "sha256:" + __import__("hashlib").sha256(data).hexdigest()
            if got != desc["digest"]:
                raise CorruptBlob(f"image config {desc['digest']}: digest mismatch (got {got})")
        return _json(data, "image config"), data

    # -- the whole pull ---------------------------------------------------------------------
    def run(self) -> Image:
        # Errors up to here reach the client as an HTTP status; after the first message, in the stream.
        man_desc, man_bytes, index_desc, index_bytes = self.resolve()
        status(self.emit, f"Pulling from {self.ref.path}", self.ref.tag or self.ref.digest)
        manifest = _json(man_bytes, "manifest")
        layers = _validate_manifest(manifest)
        config, config_bytes = self.fetch_config(manifest)
        have = platforms.normalize(config.get("os", ""), config.get("architecture", ""), config.get("variant", ""))
        if index_desc is None and not platforms.matches(self.platform, have):
            raise errdefs.NotFound(f"image with reference {self.ref.familiar} was found but does not match the "
                                   f"specified platform: wanted {self.platform}, actual: {have}")
        diff_ids = config_diff_ids(config)
        if len(diff_ids) != len(layers):
            raise errdefs.InvalidArgument(f"image config has {len(diff_ids)} diff IDs for {len(layers)} layers")
        top = index_desc or man_desc
        refs = [str(self.ref)] if not self.ref.digest else []
        refs.append(f"{self.ref.name}@{top['digest']}")
        image_id = manifest["config"]["digest"]
        existed = self.service.store.refs().get(refs[0]) == image_id and \
            self._is_complete(image_id, man_desc["digest"], layers, diff_ids)
        svc = self.service
        with svc.lease() as lease:
            try:
                lease.add(man_desc["digest"], image_id, *(d["digest"] for d in layers))
                if index_desc:
                    lease.add(index_desc["digest"])
                # The small blobs first: their fsyncs overlap the layer transfers.
                svc.content.write_blob(config_bytes, image_id)
                svc.content.write_blob(man_bytes, man_desc["digest"])
                if index_bytes is not None and index_desc is not None:
                    svc.content.write_blob(index_bytes, index_desc["digest"])
                self._layers(layers, diff_ids, lease)
                image = svc.register(man_desc, refs, index=index_desc,
                                     sources=([d["digest"] for d in layers], f"{self.reg.host}/{self.repo}"))
            except BaseException:
                self.cancel.set()
                svc.drop_new(lease)
                raise
        status(self.emit, f"Digest: {top['digest']}")
        shown = self.ref.familiar
        status(self.emit, f"Status: {'Image is up to date' if existed else 'Downloaded newer image'} for {shown}")
        return image

    def _is_complete(self, image_id: str, manifest_digest: str, layers: list[dict[str, Any]],
                     diff_ids: list[str]) -> bool:
        try:
            img = self.service.get(image_id)
        except errdefs.NotFound:
            return False
        return img.manifest_digest == manifest_digest and all(
            self.service.snapshotter.exists(c) for c in chain_ids(diff_ids))

    def _layers(self, layers: list[dict[str, Any]], diff_ids: list[str], lease: Lease) -> None:
        chains = chain_ids(diff_ids)
        todo = []
        for desc, chain in zip(layers, chains):
            lid = short_id(desc["digest"])
            if self.service.snapshotter.exists(chain) and self.service.content.has(desc["digest"]):
                status(self.emit, "Already exists", lid)
            else:
                status(self.emit, "Pulling fs layer", lid)
                todo.append(chain)
        futures: dict[str, Future[tuple[str, int]]] = {}
        # Largest first: the small layers fill the slots the large ones
        # leave, so the last transfers end together (docker goes in order).
        order = sorted((t for t in zip(layers, diff_ids, chains) if t[2] in todo),
                       key=lambda t: -int(t[0].get("size") or 0))
        with ThreadPoolExecutor(max_workers=PULL_WORKERS, thread_name_prefix="pull") as pool:
            for desc, diff_id, chain in order:
                if chain in futures:
                    continue  # the same layer twice in one image
                if len(futures) >= PULL_WORKERS:
                    status(self.emit, "Waiting", short_id(desc["digest"]))
                futures[chain] = pool.submit(self._layer, desc, diff_id, chain, lease)
            extracted: dict[str, tuple[str, int]] = {}
            try:
                parent = ""
                for desc, chain in zip(layers, chains):
                    if chain in futures:
                        key, size = futures[chain].result()
                        extracted[chain] = (key, size)
                        if key:
                            self.service.commit_layer(key, chain, parent, size, lease)
                        del extracted[chain]
                        status(self.emit, "Pull complete", short_id(desc["digest"]))
                    parent = chain
            except BaseException:
                self.cancel.set()
                for f in futures.values():
                    try:
                        key, _ = f.result()
                        if key:
                            self.service.discard_extract(key, lease)
                    except BaseException:
                        pass
                for key, _ in extracted.values():
                    if key:
                        self.service.discard_extract(key, lease)
                raise

    def _layer(self, desc: dict[str, Any], diff_id: str, chain: str, lease: Lease) -> tuple[str, int]:
        """Download (unless present) and extract one layer; returns the
        extract snapshot key and unpacked size ('' when someone else
        committed the chain meanwhile). Two threads per layer: this one
        inflates, hashes and writes files while a download thread receives,
        hashes and stores the compressed bytes (both mostly outside the GIL,
        so they use both cores)."""
        svc = self.service
        digest, size = desc["digest"], int(desc["size"])
        lid = short_id(digest)
        if svc.content.has(digest):
            with svc.content.open_blob(digest, verify=True) as blob:
                status(self.emit, "Extracting", lid)
                return svc.extract(blob, desc, diff_id, lease)
        if self.cancel.is_set():
            raise Cancelled()
        writer = self._writer(digest)
        if writer is None:  # another pull committed it meanwhile
            with svc.content.open_blob(digest, verify=True) as blob:
                return svc.extract(blob, desc, diff_id, lease)
        feed = _Feed(self.cancel)
        meter = LayerProgress(self.emit, lid, "Downloading", size)
        download = threading.Thread(target=self._download, args=(desc, writer, feed, meter),
                                    name=f"pull-dl-{lid}", daemon=True)
        download.start()
        key = ""
        try:
            try:
                try:
                    key, unpacked = svc.extract(feed, desc, diff_id, lease)  # type: ignore[arg-type]
                except LayerError:
                    # Undecodable data is usually damaged data: say so when the digest shows it.
                    feed.drain()
                    download.join()
                    if writer.offset == size and writer.digest != digest:
                        raise CorruptBlob(f"digest mismatch: got {writer.digest}") from None
                    raise
                feed.drain()
            finally:
                feed.close()
                download.join()
            status(self.emit, "Verifying Checksum", lid)
            writer.commit(digest, size)
            status(self.emit, "Download complete", lid)
            return key, unpacked
        except Interrupted as e:
            if key:
                svc.discard_extract(key, lease)
            writer.close()  # keep what arrived: the next pull resumes from it
            raise errdefs.Unavailable(f"error pulling layer {lid}: {e} (after {RETRIES} retries; "
                                      f"the partial download is kept and a new pull resumes it)") from None
        except CorruptBlob as e:
            if key:
                svc.discard_extract(key, lease)
            writer.abort()
            raise errdefs.InvalidArgument(f"failed to verify layer {digest}: {e}") from None
        except BaseException:
            if key:
                svc.discard_extract(key, lease)
            writer.abort()
            raise

    def _download(self, desc: dict[str, Any], writer: Any, feed: _Feed, meter: LayerProgress) -> None:
        """The download thread: what a previous attempt left in the ingest,
        then the registry's bytes (appended to the ingest), into feed. A cut
        connection resumes with a Range request, up to RETRIES times."""
        digest, size = desc["digest"], int(desc["size"])
        lid = short_id(digest)
        try:
            if writer.offset >= size:
                writer.truncate()
            if writer.offset:
                with open(writer.path, "rb") as f:
                    left = writer.offset
                    while left:
                        data = f.read(min(CHUNK, left))
                        if not data:
                            raise Interrupted("partial download shrank")
                        left -= len(data)
                        feed.put(data)
                meter.add(writer.offset)
            attempt = 0
            while writer.offset < size:
                if self.cancel.is_set():
                    raise Cancelled()
                try:
                    self._receive(digest, size, writer, feed, meter)
                except Interrupted:
                    if self.cancel.is_set() or feed.closed:
                        raise Cancelled() from None
                    attempt += 1
                    if attempt > RETRIES:
                        raise
                    status(self.emit, f"Retrying in {attempt} second{'s' if attempt > 1 else ''}", lid)
                    if self.cancel.wait(attempt * 0.5):
                        raise Cancelled() from None
            feed.finish()
        except BaseException as e:
            feed.finish(e)

    def _receive(self, digest: str, size: int, writer: Any, feed: _Feed, meter: LayerProgress) -> None:
        """One request for the rest of the blob, from writer.offset."""
        offset = writer.offset
        try:
            resp = self.reg.open_blob(self.repo, digest, offset)
        except errdefs.InvalidArgument as e:
            if offset and getattr(e, "status", 0) == 416:
                raise Interrupted(f"unexpected EOF: the registry has only {offset} of {size} bytes") from None
            raise
        unhook = self.cancel.hook(resp.abort)
        feed.set_abort(resp.abort)
        done = False
        try:
            skip = offset if offset and resp.status != 206 else 0  # the registry ignored Range
            remaining = size - offset + skip
            while remaining > 0:
                if self.cancel.is_set():
                    raise Cancelled()
                try:
                    data = resp.read(min(CHUNK, remaining))
                except (http.client.IncompleteRead, socket.timeout, ConnectionError, OSError) as e:
                    raise Interrupted(str(e) or type(e).__name__) from None
                if not data:
                    raise Interrupted(f"unexpected EOF: {remaining} bytes missing")
                remaining -= len(data)
                if skip:
                    if len(data) <= skip:
                        skip -= len(data)
                        continue
                    data, skip = data[skip:], 0
                writer.write(data)
                meter.add(len(data))
                feed.put(data)
            done = True
        finally:
            feed.set_abort(None)
            unhook()
            # Read to its end, the connection goes back to the pool for the next blob.
            resp.close(force=not done or self.cancel.is_set())

    def _writer(self, digest: str) -> Any:
        """The ingest for digest, waiting while another pull holds it."""
        deadline = time.monotonic() + 3600
        while True:
            try:
                return self.service.content.writer(f"pull-{digest}")
            except errdefs.Unavailable:
                if self.service.content.has(digest):
                    return None
                if time.monotonic() > deadline or self.cancel.is_set():
                    raise
                time.sleep(0.1)


def _media_type(header: str, body: bytes) -> str:
    """The Content-Type unless generic; else the document's mediaType."""
    if header and header not in ("application/json", "text/plain", "application/octet-stream"):
        return header
    try:
        doc = json.loads(body)
    except ValueError:
        return header
    if isinstance(doc, dict):
        if doc.get("mediaType"):
            return str(doc["mediaType"])
        if "manifests" in doc:
            return mt.OCI_INDEX
        if "config" in doc and "layers" in doc:
            return mt.OCI_MANIFEST
        if doc.get("schemaVersion") == 1:
            return "application/vnd.docker.distribution.manifest.v1+json"
    return header


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise errdefs.InvalidArgument(f"invalid {what}: {e}") from None
    if not isinstance(doc, dict):
        raise errdefs.InvalidArgument(f"invalid {what}: not a JSON object")
    return doc


def _validate_manifest(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    from ..oci import digest as digestlib
    cfg = manifest.get("config")
    if not isinstance(cfg, dict) or not digestlib.is_digest(str(cfg.get("digest", ""))):
        raise errdefs.InvalidArgument("invalid manifest: missing or malformed config descriptor")
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise errdefs.InvalidArgument("invalid manifest: layers is not a list")
    for layer in layers:
        if not isinstance(layer, dict) or not digestlib.is_digest(str(layer.get("digest", ""))):
            raise errdefs.InvalidArgument("invalid manifest: malformed layer descriptor")
        if not isinstance(layer.get("size"), int) or layer["size"] < 0:
            raise errdefs.InvalidArgument(f"invalid manifest: layer {layer['digest']} has no valid size")
        if layer.get("mediaType") not in mt.LAYERS:
            raise errdefs.InvalidArgument(f"unsupported layer media type {layer.get('mediaType')!r}")
    return layers


def pull(service: ImageService, ref: str, emit: Progress, auth: AuthConfig | None = None,
         platform: str = "", insecure: Callable[[str], bool] = lambda host: False,
         cancel: Cancel | None = None) -> Image:
    """Pull ref into service; cancel.set() from any thread stops it and
    removes everything it added, partial downloads included."""
    r = reference.parse(ref)
    plat = platforms.parse(platform)
    reg = Registry(r.domain, auth, insecure(r.domain))
    try:
        return Puller(service, reg, r, plat, emit, bool(platform), cancel).run()
    finally:
        reg.http.close()


# -- push -----------------------------------------------------------------------------------


class Pusher:
    def __init__(self, service: ImageService, registry: Registry, emit: Progress,
                 cancel: Cancel | None = None) -> None:
        self.service = service
        self.reg = registry
        self.emit = emit
        self.cancel = cancel if cancel is not None else Cancel()
        registry.cancel = self.cancel

    def _check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("push cancelled")

    def push(self, image: Image, ref: reference.Reference) -> dict[str, Any]:
        repo = ref.path
        layers = image.layers
        blobs = [(d, True) for d in layers] + [(image.manifest["config"], False)]
        for d, shown in blobs:
            if shown:
                status(self.emit, "Preparing", short_id(d["digest"]))
        with ThreadPoolExecutor(max_workers=PUSH_WORKERS, thread_name_prefix="push") as pool:
            futures = [pool.submit(self._blob, repo, d, shown) for d, shown in blobs]
            errors = []
            for f in futures:
                try:
                    f.result()
                except BaseException as e:
                    errors.append(e)
            if errors:
                # A cancelled push fails in every worker; say so rather than a socket error.
                self._check()
                raise errors[0]
        self._check()
        data = self.service.content.read_blob(image.manifest_digest)
        digest = self.reg.put_manifest(repo, ref.tag or image.manifest_digest, data, image.media_type)
        self.service.store.add_sources([d["digest"] for d in layers], f"{self.reg.host}/{repo}")
        tag = ref.tag or ""
        self.emit({"status": f"{tag}: digest: {digest} size: {len(data)}" if tag else
                   f"digest: {digest} size: {len(data)}"})
        aux = {"Tag": tag, "Digest": digest, "Size": len(data)}
        self.emit({"progressDetail": {}, "aux": aux})
        return aux

    def _blob(self, repo: str, desc: dict[str, Any], shown: bool) -> None:
        self._check()
        digest, size = desc["digest"], int(desc["size"])
        lid = short_id(digest)
        content = self.service.content
        if not content.has(digest):
            raise errdefs.NotFound(f"blob {digest} of the image is missing from the local store")
        if self.reg.head_blob(repo, digest, push=True) is not None:
            if shown:
                status(self.emit, "Layer already exists", lid)
            return
        upload: BlobUpload | None = None
        for source in self.service.store.sources(digest):
            host, _, src_repo = source.partition("/")
            if host != self.reg.host or src_repo == repo:
                continue
            try:
                upload = self.reg.mount_blob(repo, digest, src_repo)
            except errdefs.EngineError:
                upload = None
                continue
            if upload is None:
                if shown:
                    status(self.emit, f"Mounted from {_familiar_repo(host, src_repo)}", lid)
                return
            break  # the registry opened a session instead: upload into it
        self._check()
        if upload is None:
            upload = self.reg.start_upload(repo)
        meter = LayerProgress(self.emit, lid, "Pushing", size) if shown else None
        try:
            if size <= MONOLITHIC_MAX:
                def body() -> BinaryIO:
                    return _Metered(content.open_blob(digest), meter, self.cancel)
                self.reg.upload_monolithic(repo, upload, body(), size, digest)
            else:
                with content.open_blob(digest) as f:
                    while True:
                        self._check()
                        chunk = f.read(MONOLITHIC_MAX)
                        if not chunk:
                            break
                        self.reg.upload_chunk(repo, upload, chunk)
                        if meter:
                            meter.add(len(chunk))
                self.reg.complete_upload(repo, upload, digest)
        except BaseException:
            # Also after a cancel: the session goes, or the registry keeps it until its purge.
            self.reg.cancel_upload(repo, upload)
            raise
        if shown:
            status(self.emit, "Pushed", lid)


class _Metered:
    """The blob as a request body: counts progress, and stops at a cancel
    (http.client reads the body as it sends it)."""

    def __init__(self, f: BinaryIO, meter: LayerProgress | None, cancel: threading.Event | None = None) -> None:
        self._f = f
        self._meter = meter
        self._cancel = cancel

    def read(self, n: int = -1) -> bytes:
        if self._cancel is not None and self._cancel.is_set():
            self._f.close()
            raise Cancelled("push cancelled")
        data = self._f.read(n)
        if self._meter and data:
            self._meter.add(len(data))
        if not data:
            self._f.close()
        return data


def _familiar_repo(host: str, repo: str) -> str:
    if host in ("registry-1.docker.io", "docker.io"):
        return repo[len("library/"):] if repo.startswith("library/") and repo.count("/") == 1 else repo
    return repo


def push(service: ImageService, ref: str, emit: Progress, auth: AuthConfig | None = None,
         insecure: Callable[[str], bool] = lambda host: False, tag: str = "",
         cancel: Cancel | None = None) -> list[dict[str, Any]]:
    """Push ref; with no tag in ref and none given, every tag of its repository.
    cancel.set() from any thread stops it: transfers in flight are cut, open
    upload sessions deleted, no manifest is written."""
    r = reference.parse(ref, default_tag=False)
    if r.digest:
        raise errdefs.InvalidArgument("cannot push a digest reference")
    tags = [tag or r.tag] if (tag or r.tag) else sorted(
        reference.parse(n).tag for n, _ in service.store.refs().items()
        if "@" not in n and reference.parse(n).name == r.name)
    if not tags:
        raise errdefs.NotFound(f"An image does not exist locally with the tag: {r.familiar_name}")
    status(emit, f"The push refers to repository [{r.name}]")
    reg = Registry(r.domain, auth, insecure(r.domain))
    out = []
    try:
        for t in tags:
            if cancel is not None and cancel.is_set():
                raise Cancelled("push cancelled")
            target = r.with_tag(t)
            try:
                image = service.resolve(str(target))
            except errdefs.NotFound:
                raise errdefs.NotFound(f"An image does not exist locally with the tag: {target.familiar}") from None
            with service.lease() as lease:
                lease.add(image.manifest_digest, image.id, *(d["digest"] for d in image.layers))
                out.append(Pusher(service, reg, emit, cancel).push(image, target))
    finally:
        reg.http.close()
    return out


def list_tags(ref: str, auth: AuthConfig | None = None,
              insecure: Callable[[str], bool] = lambda host: False) -> list[str]:
    r = reference.parse(ref, default_tag=False)
    reg = Registry(r.domain, auth, insecure(r.domain))
    try:
        return sorted(reg.tags(r.path))
    finally:
        reg.http.close()


def inspect_distribution(ref: str, auth: AuthConfig | None = None,
                         insecure: Callable[[str], bool] = lambda host: False) -> dict[str, Any]:
    """GET /distribution/{name}/json: the descriptor and platforms a registry has."""
    r = reference.parse(ref)
    reg = Registry(r.domain, auth, insecure(r.domain))
    try:
        body, media_type, digest = reg.get_manifest(r.path, r.digest or r.tag)
        media_type = _media_type(media_type, body)
        doc = _json(body, "manifest")
        plats: list[dict[str, Any]] = []
        if media_type in mt.INDEXES:
            for m in doc.get("manifests") or []:
                p = platforms.of(m.get("platform"))
                if p is not None and p.os != "unknown":
                    plats.append(p.to_dict())
        elif media_type in mt.MANIFESTS:
            with reg.open_blob(r.path, doc["config"]["digest"]) as resp:
                cfg = _json(resp.read_limited(8 << 20), "image config")
            plats.append(platforms.normalize(cfg.get("os", ""), cfg.get("architecture", ""),
                                             cfg.get("variant", "")).to_dict())
        else:
            raise errdefs.InvalidArgument(f"unsupported manifest media type: {media_type}")
        return {"Descriptor": {"mediaType": media_type, "digest": digest, "size": len(body)}, "Platforms": plats}
    finally:
        reg.http.close()


def login(server: str, auth: AuthConfig, insecure: Callable[[str], bool] = lambda host: False) -> None:
    host = server
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix):]
    host = host.split("/", 1)[0] or "docker.io"
    if host == "index.docker.io":
        host = "docker.io"
    reg = Registry(host, auth, insecure(host))
    try:
        reg.check_auth()
    finally:
        reg.http.close()


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default
