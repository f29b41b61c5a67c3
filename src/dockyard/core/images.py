"""Images in the core: the name -> manifest store, resolution of a reference
or ID to manifest and config, unpacking layers into snapshots keyed by chain
ID, and import of a rootfs tarball as a one-layer image."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..errdefs import InvalidArgument, NotFound
from ..fsutil import atomic_write_json, read_json
from ..oci import mediatypes as mt
from ..oci import reference
from .archive import HashingReader, LayerError, apply_layer, decompressed
from .content import ContentStore
from .snapshots import OverlaySnapshotter


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d}Z"


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


@dataclass
class Image:
    """A resolved image: its manifest, config and the names pointing at it."""

    id: str  # config digest, docker's image ID
    manifest_digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    names: list[str] = field(default_factory=list)
    size: int = 0

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def chain_id(self) -> str:
        ids = chain_ids(self.diff_ids)
        return ids[-1] if ids else ""


class ImageStore:
    """name (normalized reference string) -> target manifest descriptor."""

    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, "images.json")
        os.makedirs(root, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._data: dict[str, Any] = read_json(self.path)
        except FileNotFoundError:
            self._data = {}

    def _save(self) -> None:
        atomic_write_json(self.path, self._data)

    def get(self, name: str) -> dict[str, Any]:
        with self._lock:
            try:
                return dict(self._data[name])
            except KeyError:
                raise NotFound(f"image {name}: not found") from None

    def list(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._data.items()}

    def put(self, name: str, target: dict[str, Any], **extra: Any) -> None:
        with self._lock:
            rec = {"target": target, "created": self._data.get(name, {}).get("created", now_rfc3339()),
                   "updated": now_rfc3339()}
            rec.update(extra)
            self._data[name] = rec
            self._save()

    def delete(self, name: str) -> None:
        with self._lock:
            if name not in self._data:
                raise NotFound(f"image {name}: not found")
            del self._data[name]
            self._save()


class ImageService:
    def __init__(self, content: ContentStore, snapshotter: OverlaySnapshotter, store: ImageStore) -> None:
        self.content = content
        self.snapshotter = snapshotter
        self.store = store
        self._unpack_lock = threading.Lock()

    # -- resolution -------------------------------------------------------
    def _load(self, manifest_digest: str, names: list[str]) -> Image:
        manifest = json.loads(self.content.read_blob(manifest_digest))
        if manifest.get("mediaType") in mt.INDEXES or "manifests" in manifest:
            raise InvalidArgument(f"image {names[0] if names else manifest_digest}: is an index; pull a platform")
        cfg_desc = manifest["config"]
        config = json.loads(self.content.read_blob(cfg_desc["digest"]))
        size = sum(int(l.get("size", 0)) for l in manifest.get("layers") or [])
        return Image(cfg_desc["digest"], manifest_digest, manifest, config, names, size)

    def list_images(self) -> list[Image]:
        by_manifest: dict[str, list[str]] = {}
        for name, rec in self.store.list().items():
            by_manifest.setdefault(rec["target"]["digest"], []).append(name)
        out = []
        for md, names in by_manifest.items():
            try:
                out.append(self._load(md, sorted(names)))
            except (NotFound, InvalidArgument, KeyError, ValueError):
                continue
        return out

    def resolve(self, ref: str) -> Image:
        """A reference (busybox, busybox:1, name@digest) or an image ID or
        unambiguous ID prefix, as docker accepts."""
        if not ref:
            raise NotFound("No such image: ")
        id_like = ref[7:] if ref.startswith("sha256:") else ref
        try:
            name = str(reference.parse(ref))
        except InvalidArgument:
            name = ""
        if name:
            try:
                rec = self.store.get(name)
                names = [n for n, r in self.store.list().items() if r["target"]["digest"] == rec["target"]["digest"]]
                return self._load(rec["target"]["digest"], sorted(names))
            except NotFound:
                pass
            parsed = reference.parse(ref)
            if parsed.digest:
                for n, r in self.store.list().items():
                    if r["target"]["digest"] == parsed.digest and reference.parse(n).name == parsed.name:
                        return self._load(parsed.digest, [n])
        if all(c in "0123456789abcdef" for c in id_like) and len(id_like) >= 1:
            matches = [img for img in self.list_images() if img.id[7:].startswith(id_like)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1 and len({m.id for m in matches}) > 1:
                raise InvalidArgument(f"ambiguous image ID prefix {ref}")
            if matches:
                return matches[0]
        raise NotFound(f"No such image: {reference.familiar(ref) if name else ref}")

    # -- unpack -----------------------------------------------------------
    def unpack(self, image: Image) -> str:
        """Make sure every layer has its committed snapshot; return the top chain ID."""
        layers = image.manifest.get("layers") or []
        diff_ids = image.diff_ids
        if len(layers) != len(diff_ids):
            raise InvalidArgument(f"image {image.id}: {len(layers)} layers but {len(diff_ids)} diff_ids")
        chains = chain_ids(diff_ids)
        with self._unpack_lock:
            parent = ""
            for desc, diff_id, chain in zip(layers, diff_ids, chains):
                if not self.snapshotter.exists(chain):
                    self._apply(desc, diff_id, chain, parent)
                parent = chain
        return parent

    def _apply(self, desc: dict[str, Any], diff_id: str, chain: str, parent: str) -> None:
        key = f"extract-{uuid.uuid4().hex}"
        self.snapshotter.prepare(key, parent)
        try:
            with self.content.open_blob(desc["digest"]) as blob:
                hashing = HashingReader(decompressed(blob, mt.layer_compression(desc.get("mediaType", ""))))
                apply_layer(self.snapshotter.dir(key), hashing)  # type: ignore[arg-type]
                hashing.drain()
            if hashing.digest != diff_id:
                raise LayerError(f"layer {desc['digest']}: diff ID {hashing.digest} does not match {diff_id}")
            self.snapshotter.commit(chain, key)
        except BaseException:
            self.snapshotter.remove(key)
            raise

    # -- import -----------------------------------------------------------
    def import_rootfs(self, stream: BinaryIO, refs: list[str], config: dict[str, Any] | None = None,
                      message: str = "", source: str = "-", platform: tuple[str, str] = ("linux", "amd64")) -> Image:
        """docker import: one tarball (compressed or not) becomes a one-layer image."""
        ref = f"import-{uuid.uuid4().hex}"
        w = self.content.writer(ref)
        try:
            reader = HashingReader(decompressed(stream))
            while True:
                chunk = reader.read(1 << 20)
                if not chunk:
                    break
                w.write(chunk)
            layer = w.commit()
        except (OSError, EOFError) as e:
            w.abort()
            raise InvalidArgument(f"import: invalid archive: {e}") from None
        except BaseException:
            w.abort()
            raise
        created = now_rfc3339()
        history = {"created": created, "created_by": f"Imported from {source}"}
        if message:
            history["comment"] = message
        image_config = {
            "architecture": platform[1], "os": platform[0], "created": created,
            "config": config or {},
            "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
            "history": [history],
        }
        return self.create_image(image_config, [{"mediaType": mt.OCI_LAYER, "digest": layer.digest,
                                                 "size": layer.size}], refs)

    def create_image(self, image_config: dict[str, Any], layers: list[dict[str, Any]], refs: list[str]) -> Image:
        """Store config and manifest, unpack, then tag: an image becomes
        visible by name only once everything under it is in place."""
        cfg_bytes = json.dumps(image_config, separators=(",", ":")).encode()
        cfg = self.content.write_blob(cfg_bytes)
        manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                    "config": {"mediaType": mt.OCI_CONFIG, "digest": cfg.digest, "size": cfg.size},
                    "layers": layers}
        man_bytes = json.dumps(manifest, separators=(",", ":")).encode()
        man = self.content.write_blob(man_bytes)
        image = Image(cfg.digest, man.digest, manifest, image_config, [])
        self.unpack(image)
        target = {"mediaType": mt.OCI_MANIFEST, "digest": man.digest, "size": man.size}
        if not refs:
            # Untagged images are kept under a dangling name so they stay listed.
            refs_norm = [f"dangling@{cfg.digest}"]
        else:
            refs_norm = [str(reference.parse(r)) for r in refs]
        for name in refs_norm:
            self.store.put(name, target)
        image.names = refs_norm
        return image

    def tag(self, image: Image, ref: str) -> str:
        name = str(reference.parse(ref))
        self.store.put(name, {"mediaType": image.manifest.get("mediaType", mt.OCI_MANIFEST),
                              "digest": image.manifest_digest,
                              "size": self.content.info(image.manifest_digest).size})
        dangling = f"dangling@{image.id}"
        try:
            self.store.delete(dangling)
        except NotFound:
            pass
        return name
