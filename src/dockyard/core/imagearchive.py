"""docker save / docker load archives.

Save writes what docker 25+ writes: an OCI image layout (oci-layout,
index.json, blobs/sha256/...) that is also a classic docker archive
(manifest.json with Config, RepoTags and Layers paths into blobs/). Blobs go
out exactly as stored, so manifests keep their digests.

Load reads that format, the classic one (<id>/layer.tar, <hex>.json,
symlinked duplicate layers) and a bare OCI image layout (names from the
index's annotations). The tar arrives as a stream (compressed or not); every
blob goes straight into the content store's ingest and is verified when its
name says its digest. Nothing is recorded until every image in the archive
is complete and unpacked; on any error what the load added is removed."""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable

from .. import errdefs
from ..oci import digest as digestlib
from ..oci import mediatypes as mt
from ..oci import platform as platforms
from ..oci import reference
from .archive import decompressed
from .content import CorruptBlob
from .images import Image, ImageService, Lease

SMALL_LIMIT = 8 << 20
NAME_ANNOTATION = "io.containerd.image.name"
OCI_REF_ANNOTATION = "org.opencontainers.image.ref.name"


@dataclass
class SaveEntry:
    image: Image
    refs: list[str]  # normalized names to record for this image


def plan_save(service: ImageService, chosen: list[tuple[Image, list[str]]]) -> list[SaveEntry]:
    merged: dict[str, SaveEntry] = {}
    for img, refs in chosen:
        e = merged.setdefault(img.id, SaveEntry(img, []))
        for r in refs:
            if r not in e.refs:
                e.refs.append(r)
    for e in merged.values():
        for d in [e.image.manifest_digest, e.image.id] + [layer["digest"] for layer in e.image.layers]:
            if not service.content.has(d):
                raise errdefs.NotFound(f"image {e.image.id[7:19]}: blob {d} is missing from the content store")
    return list(merged.values())


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = int(mtime)
    ti.mode = 0o644
    tf.addfile(ti, io.BytesIO(data))


def write_archive(service: ImageService, plan: list[SaveEntry], out: BinaryIO) -> None:
    now = time.time()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as tf:
        dirs = tarfile.TarInfo("blobs")
        dirs.type, dirs.mode, dirs.mtime = tarfile.DIRTYPE, 0o755, int(now)
        tf.addfile(dirs)
        sub = tarfile.TarInfo("blobs/sha256")
        sub.type, sub.mode, sub.mtime = tarfile.DIRTYPE, 0o755, int(now)
        tf.addfile(sub)
        written: set[str] = set()
        for e in plan:
            for d in [layer["digest"] for layer in e.image.layers] + [e.image.id, e.image.manifest_digest]:
                if d in written:
                    continue
                written.add(d)
                info = service.content.info(d)
                ti = tarfile.TarInfo("blobs/sha256/" + digestlib.hex_of(d))
                ti.size, ti.mode, ti.mtime = info.size, 0o644, int(now)
                with service.content.open_blob(d, verify=True) as f:
                    tf.addfile(ti, f)
        _add_bytes(tf, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode(), now)
        index_manifests = []
        manifest_json = []
        for e in plan:
            size = service.content.info(e.image.manifest_digest).size
            desc = {"mediaType": e.image.media_type, "digest": e.image.manifest_digest, "size": size}
            if e.refs:
                for r in e.refs:
                    parsed = reference.parse(r)
                    index_manifests.append(dict(desc, annotations={NAME_ANNOTATION: str(parsed),
                                                                    OCI_REF_ANNOTATION: parsed.tag or ""}))
            else:
                index_manifests.append(desc)
            manifest_json.append({
                "Config": "blobs/sha256/" + digestlib.hex_of(e.image.id),
                "RepoTags": [reference.parse(r).familiar for r in e.refs] or None,
                "Layers": ["blobs/sha256/" + digestlib.hex_of(layer["digest"]) for layer in e.image.layers],
            })
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index_manifests}
        _add_bytes(tf, "index.json", json.dumps(index).encode(), now)
        _add_bytes(tf, "manifest.json", json.dumps(manifest_json).encode(), now)


# -- load ----------------------------------------------------------------------------------


@dataclass
class _Archive:
    small: dict[str, bytes] = field(default_factory=dict)  # path -> content of JSON-ish files
    blobs: dict[str, str] = field(default_factory=dict)  # path -> digest of what it holds
    links: dict[str, str] = field(default_factory=dict)  # path -> path it points to


def _norm(path: str) -> str:
    p = posixpath.normpath("/" + path).lstrip("/")
    return p


def _read_archive(service: ImageService, stream: BinaryIO, lease: Lease) -> _Archive:
    arc = _Archive()
    try:
        tf = tarfile.open(fileobj=decompressed(stream), mode="r|")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise errdefs.InvalidArgument(f"invalid archive: {e}") from None
    try:
        for m in tf:
            name = _norm(m.name)
            if m.issym() or m.islnk():
                target = m.linkname if m.islnk() else posixpath.join(posixpath.dirname(name), m.linkname)
                arc.links[name] = _norm(target)
                continue
            if not m.isreg():
                continue
            f = tf.extractfile(m)
            if f is None:
                continue
            base = posixpath.basename(name)
            expected = ""
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "blobs" and parts[1] == "sha256":
                expected = "sha256:" + parts[2]
                if not digestlib.is_digest(expected):
                    raise errdefs.InvalidArgument(f"invalid archive: bad blob name {name}")
            if m.size <= SMALL_LIMIT and (base.endswith(".json") or base in ("repositories", "oci-layout", "VERSION")
                                          or expected and m.size <= 1 << 20):
                data = f.read()
                arc.small[name] = data
                if expected:
                    if digestlib.sha256_digest(data) != expected:
                        raise CorruptBlob(f"invalid archive: {name} does not match its digest")
                    lease.add(expected)
                    service.content.write_blob(data, expected)
                    arc.blobs[name] = expected
                continue
            if expected or base == "layer.tar" or base.endswith(".tar"):
                lease.add(expected) if expected else None
                if expected and service.content.has(expected):
                    arc.blobs[name] = expected
                    continue
                w = service.content.writer(f"load-{uuid.uuid4().hex}")
                try:
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        w.write(chunk)
                    lease.add(w.digest)
                    info = w.commit(expected or None, m.size)
                except BaseException:
                    w.abort()
                    raise
                arc.blobs[name] = info.digest
    except (tarfile.TarError, EOFError) as e:
        raise errdefs.InvalidArgument(f"invalid archive: {e}") from None
    except CorruptBlob as e:
        raise errdefs.InvalidArgument(f"invalid archive: {e}") from None
    return arc


def _resolve(arc: _Archive, path: str) -> str:
    seen = 0
    p = _norm(path)
    while p in arc.links and seen < 16:
        p = arc.links[p]
        seen += 1
    return p


def _blob_of(arc: _Archive, path: str, what: str) -> str:
    p = _resolve(arc, path)
    if p in arc.blobs:
        return arc.blobs[p]
    raise errdefs.InvalidArgument(f"invalid archive: {what} {path} is missing")


def _small(service: ImageService, arc: _Archive, path: str, what: str) -> bytes:
    p = _resolve(arc, path)
    if p in arc.small:
        return arc.small[p]
    if p in arc.blobs:
        return service.content.read_blob(arc.blobs[p])
    raise errdefs.InvalidArgument(f"invalid archive: {what} {path} is missing")


def _sniff_layer_type(service: ImageService, digest: str) -> str:
    with service.content.open_blob(digest) as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return mt.OCI_LAYER_GZIP
    if head == b"\x28\xb5\x2f\xfd":
        return mt.OCI_LAYER_ZSTD
    return mt.OCI_LAYER


@dataclass
class _Pending:
    target: dict[str, Any]
    refs: list[str]
    index: dict[str, Any] | None = None


def _from_manifest_json(service: ImageService, arc: _Archive, entries: list[Any],
                        by_config: dict[str, dict[str, Any]], lease: Lease) -> list[_Pending]:
    out = []
    for e in entries:
        if not isinstance(e, dict) or "Config" not in e:
            raise errdefs.InvalidArgument("invalid archive: malformed manifest.json")
        cfg_bytes = _small(service, arc, e["Config"], "image config")
        cfg_digest = digestlib.sha256_digest(cfg_bytes)
        layer_digests = [_blob_of(arc, p, "layer") for p in e.get("Layers") or []]
        refs = []
        for t in e.get("RepoTags") or []:
            try:
                refs.append(str(reference.parse(t)))
            except errdefs.InvalidArgument:
                raise errdefs.InvalidArgument(f"invalid archive: invalid tag {t!r}") from None
        known = by_config.get(cfg_digest)
        if known is not None and [x["digest"] for x in known["manifest"].get("layers", [])] == layer_digests:
            out.append(_Pending(known["desc"], refs))
            continue
        lease.add(cfg_digest)
        cfg = service.content.write_blob(cfg_bytes)
        layers = []
        for d in layer_digests:
            layers.append({"mediaType": _sniff_layer_type(service, d), "digest": d,
                           "size": service.content.info(d).size})
        manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                    "config": {"mediaType": mt.OCI_CONFIG, "digest": cfg.digest, "size": cfg.size},
                    "layers": layers}
        data = json.dumps(manifest, separators=(",", ":")).encode()
        lease.add(digestlib.sha256_digest(data))
        man = service.content.write_blob(data)
        out.append(_Pending({"mediaType": mt.OCI_MANIFEST, "digest": man.digest, "size": man.size}, refs))
    return out


def _manifests_in_layout(service: ImageService, index: dict[str, Any], want: platforms.Platform,
                         depth: int = 0) -> list[tuple[dict[str, Any], list[str], dict[str, Any] | None]]:
    """(manifest descriptor, refs, index descriptor) for each image an OCI index names."""
    out: list[tuple[dict[str, Any], list[str], dict[str, Any] | None]] = []
    if depth > 4:
        raise errdefs.InvalidArgument("invalid archive: indexes nested too deep")
    for desc in index.get("manifests") or []:
        if not isinstance(desc, dict) or not digestlib.is_digest(str(desc.get("digest", ""))):
            raise errdefs.InvalidArgument("invalid archive: malformed descriptor in index.json")
        refs = _refs_of(desc.get("annotations") or {})
        media = desc.get("mediaType", "")
        if media in mt.INDEXES:
            if not service.content.has(desc["digest"]):
                raise errdefs.InvalidArgument(f"invalid archive: index {desc['digest']} is missing")
            sub = json.loads(service.content.read_blob(desc["digest"]))
            chosen = platforms.select(want, [m for m in sub.get("manifests") or [] if isinstance(m, dict)
                                             and service.content.has(m.get("digest", ""))])
            if chosen is None:
                raise errdefs.NotFound(f"no matching manifest for {want} in the image index of the archive")
            out.append((chosen, refs, {k: desc[k] for k in ("mediaType", "digest", "size") if k in desc}))
        elif media in mt.MANIFESTS:
            out.append((desc, refs, None))
        else:
            raise errdefs.InvalidArgument(f"unsupported manifest media type in archive: {media or 'none'}")
    return out


def _refs_of(annotations: dict[str, str]) -> list[str]:
    name = annotations.get(NAME_ANNOTATION) or ""
    if not name:
        ref = annotations.get(OCI_REF_ANNOTATION) or ""
        # A bare tag ("latest") names no repository: the image loads untagged.
        if "/" in ref or (":" in ref and not ref.startswith(":")):
            name = ref
    if not name:
        return []
    try:
        return [str(reference.parse(name))]
    except errdefs.InvalidArgument:
        return []


def load(service: ImageService, stream: BinaryIO, emit: Callable[[dict[str, Any]], None],
         platform: str = "") -> list[Image]:
    want = platforms.parse(platform)
    with service.lease() as lease:
        try:
            arc = _read_archive(service, stream, lease)
            pending: list[_Pending] = []
            by_config: dict[str, dict[str, Any]] = {}
            if "index.json" in arc.small:
                try:
                    index = json.loads(arc.small["index.json"])
                except ValueError:
                    raise errdefs.InvalidArgument("invalid archive: index.json is not JSON") from None
                for desc, refs, idx in _manifests_in_layout(service, index, want):
                    if not service.content.has(desc["digest"]):
                        raise errdefs.InvalidArgument(f"invalid archive: manifest {desc['digest']} is missing")
                    manifest = json.loads(service.content.read_blob(desc["digest"]))
                    cfg = (manifest.get("config") or {}).get("digest", "")
                    target = {k: desc[k] for k in ("mediaType", "digest", "size") if k in desc}
                    by_config[cfg] = {"desc": target, "manifest": manifest}
                    if "manifest.json" not in arc.small:
                        pending.append(_Pending(target, refs, idx))
            if "manifest.json" in arc.small:
                try:
                    entries = json.loads(arc.small["manifest.json"])
                except ValueError:
                    raise errdefs.InvalidArgument("invalid archive: manifest.json is not JSON") from None
                if not isinstance(entries, list):
                    raise errdefs.InvalidArgument("invalid archive: manifest.json is not a list")
                pending = _from_manifest_json(service, arc, entries, by_config, lease)
            if not pending:
                raise errdefs.InvalidArgument("invalid archive: no manifest.json or index.json with images found")
            images = []
            for p in pending:
                manifest = json.loads(service.content.read_blob(p.target["digest"]))
                for layer in manifest.get("layers") or []:
                    if not service.content.has(layer.get("digest", "")):
                        raise errdefs.InvalidArgument(f"invalid archive: layer {layer.get('digest')} is missing")
                cfg_digest = (manifest.get("config") or {}).get("digest", "")
                if not service.content.has(cfg_digest):
                    raise errdefs.InvalidArgument(f"invalid archive: image config {cfg_digest} is missing")
                config = json.loads(service.content.read_blob(cfg_digest))
                image = Image(cfg_digest, p.target["digest"], manifest, config, [])
                if len(image.layers) != len(image.diff_ids):
                    raise errdefs.InvalidArgument(f"invalid archive: image {cfg_digest[7:19]} has "
                                                  f"{len(image.layers)} layers but {len(image.diff_ids)} diff IDs")
                service.unpack(image, lease)
                images.append((image, p))
            out = []
            for image, p in images:
                with service.lock:
                    out.append(service.register(p.target, p.refs, index=p.index))
                names = [reference.parse(r).familiar for r in p.refs]
                for n in names:
                    emit({"stream": f"Loaded image: {n}\n"})
                if not names:
                    emit({"stream": f"Loaded image ID: {image.id}\n"})
            return out
        except BaseException:
            service.drop_new(lease)
            raise
