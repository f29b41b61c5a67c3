"""Images in the core.

An image is identified by its ID (the digest of its config, as docker does)
and recorded with the manifest it was made from. References (normalized
names: ``docker.io/library/busybox:latest`` tags and ``name@sha256:...``
digests) point at image IDs; an image that no reference points at is
untagged (docker's ``<none>:<none>``, "dangling").

Nothing is reference counted: ``gc`` marks everything reachable from image
records (manifest, index, config, layers, layer snapshots by chain ID), from
leases (transfers in progress) and from extra roots (images used by
containers), and sweeps every other blob and committed layer snapshot. So
untag/delete/prune free exactly what nothing uses any more."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterator

from ..errdefs import InvalidArgument, NotFound
from ..fsutil import atomic_write_json, read_json
from ..oci import digest as digestlib
from ..oci import mediatypes as mt
from ..oci import reference
from ..units import now_rfc3339
from .archive import BadCompressedData, HashingReader, LayerError, apply_layer, decompressed, layer_reader
from .content import ContentStore, CorruptBlob
from .snapshots import COMMITTED, OverlaySnapshotter

EXTRACT_PREFIX = "extract-"


def chain_ids(diff_ids: list[str]) -> list[str]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def config_diff_ids(config: dict[str, Any]) -> list[str]:
    """An image config's rootfs.diff_ids (a copy)."""
    return list((config.get("rootfs") or {}).get("diff_ids") or [])


def top_chain_id(diff_ids: list[str]) -> str:
    """The chain ID of the top layer ("" for no layers): the snapshot an image's rootfs sits on."""
    ids = chain_ids(diff_ids)
    return ids[-1] if ids else ""


def is_digest_ref(name: str) -> bool:
    return "@" in name


@dataclass
class Image:
    """A resolved image: its manifest, config and the references pointing at it."""

    id: str  # config digest, docker's image ID
    manifest_digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    names: list[str] = field(default_factory=list)  # normalized tag and digest references
    size: int = 0  # compressed size of the layers
    index_digest: str = ""  # the index it was chosen from, when pulled through one
    parent: str = ""
    created: str = ""  # when this engine recorded it
    last_tag_time: str = ""
    media_type: str = mt.OCI_MANIFEST

    @property
    def diff_ids(self) -> list[str]:
        return config_diff_ids(self.config)

    @property
    def chain_id(self) -> str:
        return top_chain_id(self.diff_ids)

    @property
    def tags(self) -> list[str]:
        return [n for n in self.names if not is_digest_ref(n)]

    @property
    def digest_refs(self) -> list[str]:
        return [n for n in self.names if is_digest_ref(n)]

    @property
    def dangling(self) -> bool:
        return not self.names

    @property
    def layers(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("layers") or [])


class ImageStore:
    """images.json: image records by ID, references name -> ID, and where
    blobs came from (for cross-repository mounts on push)."""

    VERSION = 2

    def __init__(self, root: str) -> None:
        self.path = os.path.join(root, "images.json")
        os.makedirs(root, exist_ok=True)
        self._lock = threading.RLock()
        try:
            data: dict[str, Any] = read_json(self.path)
        except FileNotFoundError:
            data = {}
        if data.get("version") != self.VERSION:
            data = self._migrate(data)
        self._data = data

    @classmethod
    def _migrate(cls, old: dict[str, Any]) -> dict[str, Any]:
        """The first format mapped name -> {"target": manifest descriptor};
        untagged images were named dangling@<image id>."""
        new: dict[str, Any] = {"version": cls.VERSION, "images": {}, "refs": {}, "sources": {}}
        for name, rec in old.items():
            if not isinstance(rec, dict) or "target" not in rec:
                continue
            image_id = rec.get("image_id") or (name[len("dangling@"):] if name.startswith("dangling@") else "")
            new.setdefault("pending", []).append({"name": name, "target": rec["target"], "id": image_id})
        return new

    def _save(self) -> None:
        atomic_write_json(self.path, self._data)

    # -- reads --------------------------------------------------------------
    def images(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._data["images"].items()}

    def image(self, image_id: str) -> dict[str, Any]:
        with self._lock:
            try:
                return dict(self._data["images"][image_id])
            except KeyError:
                raise NotFound(f"No such image: {image_id}") from None

    def refs(self) -> dict[str, str]:
        with self._lock:
            return dict(self._data["refs"])

    def ref(self, name: str) -> str:
        with self._lock:
            try:
                return self._data["refs"][name]
            except KeyError:
                raise NotFound(f"No such image: {name}") from None

    def names_of(self, image_id: str) -> list[str]:
        with self._lock:
            return sorted(n for n, i in self._data["refs"].items() if i == image_id)

    def sources(self, digest: str) -> list[str]:
        with self._lock:
            return list(self._data["sources"].get(digest, []))

    def pending_migration(self) -> list[dict[str, Any]]:
        return list(self._data.get("pending", []))

    # -- writes ---------------------------------------------------------------
    def put_image(self, image_id: str, record: dict[str, Any], refs: list[str] = (),
                  sources: tuple[list[str], str] | None = None) -> list[str]:
        """Add or update an image record and point refs at it (and record
        where its blobs came from, in the same write); returns the refs
        that moved away from another image (which may now be dangling)."""
        with self._lock:
            if sources:
                self.add_sources(*sources, save=False)
            old = self._data["images"].get(image_id, {})
            rec = dict(old)
            rec.update(record)
            rec.setdefault("created", now_rfc3339())
            self._data["images"][image_id] = rec
            moved = self._point(refs, image_id)
            self._save()
            return moved

    def _point(self, refs: list[str] | tuple[str, ...], image_id: str) -> list[str]:
        moved = []
        for name in refs:
            prev = self._data["refs"].get(name)
            if prev and prev != image_id:
                moved.append(prev)
            self._data["refs"][name] = image_id
        if refs:
            self._data["images"][image_id]["last_tag_time"] = now_rfc3339()
        return moved

    def set_refs(self, refs: list[str], image_id: str) -> list[str]:
        with self._lock:
            if image_id not in self._data["images"]:
                raise NotFound(f"No such image: {image_id}")
            moved = self._point(refs, image_id)
            self._save()
            return moved

    def delete_ref(self, name: str) -> str:
        with self._lock:
            try:
                image_id = self._data["refs"].pop(name)
            except KeyError:
                raise NotFound(f"No such image: {name}") from None
            self._save()
            return image_id

    def delete_image(self, image_id: str) -> list[str]:
        """Drop the record and every reference to it; returns the references."""
        with self._lock:
            if image_id not in self._data["images"]:
                raise NotFound(f"No such image: {image_id}")
            del self._data["images"][image_id]
            names = sorted(n for n, i in self._data["refs"].items() if i == image_id)
            for n in names:
                del self._data["refs"][n]
            self._save()
            return names

    def add_source(self, digest: str, repo: str) -> None:
        self.add_sources([digest], repo)

    def add_sources(self, digests: list[str], repo: str, save: bool = True) -> bool:
        """Remember that repo has these blobs (one write for all of them);
        True when something changed."""
        with self._lock:
            changed = False
            for digest in digests:
                lst = self._data["sources"].setdefault(digest, [])
                if lst and lst[0] == repo:
                    continue
                if repo in lst:
                    lst.remove(repo)
                lst.insert(0, repo)
                del lst[8:]
                changed = True
            if changed and save:
                self._save()
            return changed

    def forget_sources(self, keep: set[str]) -> None:
        with self._lock:
            gone = [d for d in self._data["sources"] if d not in keep]
            for d in gone:
                del self._data["sources"][d]
            if gone:
                self._save()

    def finish_migration(self) -> None:
        with self._lock:
            if self._data.pop("pending", None) is not None:
                self._save()


class Lease:
    """Blobs and snapshots a transfer in progress needs: gc keeps them. It
    also remembers which of them did not exist before (``created``), so a
    failed operation can remove exactly what it added."""

    def __init__(self, content: ContentStore) -> None:
        self._content = content
        self.digests: set[str] = set()
        self.snapshots: set[str] = set()
        self.existed: set[str] = set()

    def add(self, *digests: str) -> None:
        for d in digests:
            if d and d not in self.digests:
                if self._content.has(d):
                    self.existed.add(d)
                self.digests.add(d)


@dataclass
class GCResult:
    blobs: list[str] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)  # chain IDs of removed layer snapshots
    reclaimed: int = 0


class ImageService:
    def __init__(self, content: ContentStore, snapshotter: OverlaySnapshotter, store: ImageStore) -> None:
        self.content = content
        self.snapshotter = snapshotter
        self.store = store
        self._unpack_lock = threading.Lock()
        # Store mutations and gc's mark-and-sweep exclude each other.
        self.lock = threading.RLock()
        self._leases: list[Lease] = []
        self._cache: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # manifest digest -> (manifest, config)
        # Set by the daemon: image IDs containers use (kept even when untagged and deleted).
        self.extra_roots: Callable[[], set[str]] = set
        # Set by the daemon: (blob digests, snapshot chain IDs) other owners keep, e.g. the build cache.
        self.extra_refs: Callable[[], tuple[set[str], set[str]]] = lambda: (set(), set())
        self._recover()

    def _recover(self) -> None:
        """After a crash: drop half-extracted layers; finish a store migration."""
        for info in self.snapshotter.walk():
            if info.key.startswith(EXTRACT_PREFIX):
                try:
                    self.snapshotter.remove(info.key)
                except Exception:
                    pass
        for item in self.store.pending_migration():
            try:
                manifest, config = self._read(item["target"]["digest"])
                image_id = manifest["config"]["digest"]
                refs = [] if item["name"].startswith("dangling@") else [item["name"]]
                self.store.put_image(image_id, {"target": item["target"]}, refs)
            except Exception:
                continue
        self.store.finish_migration()

    # -- leases ---------------------------------------------------------------
    @contextlib.contextmanager
    def lease(self) -> Iterator[Lease]:
        lease = Lease(self.content)
        with self.lock:
            self._leases.append(lease)
        try:
            yield lease
        finally:
            with self.lock:
                self._leases.remove(lease)

    # -- reading images ---------------------------------------------------------
    def _read(self, manifest_digest: str) -> tuple[dict[str, Any], dict[str, Any]]:
        hit = self._cache.get(manifest_digest)
        if hit is not None:
            return hit
        try:
            manifest = json.loads(self.content.read_blob(manifest_digest))
        except ValueError:
            raise InvalidArgument(f"manifest {manifest_digest}: invalid JSON") from None
        if manifest.get("mediaType") in mt.INDEXES or "manifests" in manifest:
            raise InvalidArgument(f"{manifest_digest}: is an index, not an image manifest")
        try:
            config = json.loads(self.content.read_blob(manifest["config"]["digest"]))
        except (KeyError, TypeError, ValueError):
            raise InvalidArgument(f"manifest {manifest_digest}: invalid image config") from None
        self._cache[manifest_digest] = (manifest, config)
        return manifest, config

    def get(self, image_id: str) -> Image:
        rec = self.store.image(image_id)
        return self._image(image_id, rec, self.store.names_of(image_id))

    def _image(self, image_id: str, rec: dict[str, Any], names: list[str]) -> Image:
        target = rec["target"]
        manifest, config = self._read(target["digest"])
        size = sum(int(layer.get("size", 0)) for layer in manifest.get("layers") or [])
        return Image(image_id, target["digest"], manifest, config, names, size,
                     index_digest=(rec.get("index") or {}).get("digest", ""), parent=rec.get("parent", ""),
                     created=rec.get("created", ""), last_tag_time=rec.get("last_tag_time", ""),
                     media_type=target.get("mediaType", mt.OCI_MANIFEST))

    def list_images(self) -> list[Image]:
        by_id: dict[str, list[str]] = {}
        for name, image_id in self.store.refs().items():
            by_id.setdefault(image_id, []).append(name)
        out = []
        for image_id, rec in self.store.images().items():
            try:
                out.append(self._image(image_id, rec, sorted(by_id.get(image_id, []))))
            except (NotFound, InvalidArgument, KeyError, ValueError):
                continue
        return out

    def resolve(self, ref: str) -> Image:
        """A reference (busybox, busybox:1, name@digest), an image ID or an
        unambiguous ID prefix, as docker accepts them."""
        if not ref:
            raise NotFound("No such image: ")
        id_like = ref[7:] if ref.startswith("sha256:") else ref
        if len(id_like) == 64 and _is_hex(id_like):
            try:
                return self.get("sha256:" + id_like)
            except NotFound:
                return self._deleted_in_use("sha256:" + id_like, ref)
        parsed = None
        if not ref.startswith("sha256:"):
            try:
                parsed = reference.parse(ref)
            except InvalidArgument:
                parsed = None
        if parsed is not None:
            try:
                return self.get(self.store.ref(str(parsed)))
            except NotFound:
                pass
            if parsed.digest:
                for image_id, rec in self.store.images().items():
                    if parsed.digest in (rec["target"]["digest"], (rec.get("index") or {}).get("digest")):
                        return self.get(image_id)
        if id_like and _is_hex(id_like):
            matches = {i for i in self.store.images() if i[7:].startswith(id_like)}
            if len(matches) > 1:
                raise InvalidArgument(f"ambiguous image ID prefix {ref}: matches {len(matches)} images")
            if matches:
                return self.get(matches.pop())
        raise NotFound(f"No such image: {parsed.familiar if parsed else ref}")

    def _deleted_in_use(self, image_id: str, ref: str) -> Image:
        """An image deleted with force while containers use it: gc keeps its
        config (extra_roots), so those containers still find their config by
        ID, as docker's do; it has no manifest or names any more."""
        if image_id in self.extra_roots() and self.content.has(image_id):
            try:
                config = json.loads(self.content.read_blob(image_id))
            except ValueError:
                raise NotFound(f"No such image: {ref}") from None
            return Image(image_id, "", {"layers": []}, config, [])
        raise NotFound(f"No such image: {ref}")

    def children(self, image_id: str) -> list[str]:
        return [i for i, rec in self.store.images().items() if rec.get("parent") == image_id]

    # -- unpack -----------------------------------------------------------------
    def unpack(self, image: Image, lease: Lease | None = None) -> str:
        """Make sure every layer has its committed snapshot; return the top chain ID."""
        layers = image.layers
        diff_ids = image.diff_ids
        if len(layers) != len(diff_ids):
            raise InvalidArgument(f"image {image.id}: {len(layers)} layers but {len(diff_ids)} diff_ids")
        chains = chain_ids(diff_ids)
        with self._unpack_lock:
            parent = ""
            for desc, diff_id, chain in zip(layers, diff_ids, chains):
                if not self.snapshotter.exists(chain):
                    with self.content.open_blob(desc["digest"], verify=True) as blob:
                        key, size = self.extract(blob, desc, diff_id, lease)
                    self.commit_layer(key, chain, parent, size, lease)
                parent = chain
        return parent

    def extract(self, stream: BinaryIO, desc: dict[str, Any], diff_id: str,
                lease: Lease | None = None) -> tuple[str, int]:
        """Extract one layer (compressed as desc's media type says) into a new
        active snapshot, verifying its diff ID; returns (key, unpacked size)
        for commit_layer. On any error nothing of the layer is kept. Layers
        extract independently of the layers below them, so in parallel."""
        key = f"{EXTRACT_PREFIX}{uuid.uuid4().hex}"
        if lease is not None:
            lease.snapshots.add(key)
        self.snapshotter.prepare(key, "")
        try:
            reader = layer_reader(stream, mt.layer_compression(desc.get("mediaType", "")))
            try:
                written = apply_layer(self.snapshotter.dir(key), reader)
                reader.drain()
            except LayerError as e:
                raise LayerError(f"layer {desc.get('digest', '')}: {e.message}") from None
            except (OSError, EOFError) as e:
                if isinstance(e, CorruptBlob):
                    raise
                import gzip
                import zlib
                what = "invalid compressed data" if isinstance(e, (gzip.BadGzipFile, zlib.error, EOFError,
                                                                   BadCompressedData)) or \
                    type(e).__module__.startswith("zstandard") else "cannot apply"
                raise LayerError(f"layer {desc.get('digest', '')}: {what}: {e}") from None
            if diff_id and reader.digest != diff_id:
                raise LayerError(f"layer {desc.get('digest', '')}: diff ID {reader.digest} does not match "
                                 f"the image config's {diff_id}")
            return key, written
        except BaseException:
            self.discard_extract(key, lease)
            raise

    def discard_extract(self, key: str, lease: Lease | None = None) -> None:
        if self.snapshotter.exists(key):
            self.snapshotter.remove(key)
        if lease is not None:
            lease.snapshots.discard(key)

    def commit_layer(self, key: str, chain: str, parent: str, size: int, lease: Lease | None = None) -> None:
        """Commit an extracted layer as chain above parent (already committed)."""
        with self.lock:
            if self.snapshotter.exists(chain):
                self.snapshotter.remove(key)  # unpacked concurrently by someone else
            else:
                self.snapshotter.commit(chain, key, {"size": str(size)}, parent=parent)
                if lease is not None:
                    lease.snapshots.add(chain)
            if lease is not None:
                lease.snapshots.discard(key)

    def unpacked_size(self, image: Image) -> int:
        total = 0
        for chain in chain_ids(image.diff_ids):
            try:
                total += int(self.snapshotter.stat(chain).labels.get("size", 0))
            except (NotFound, ValueError):
                continue
        return total

    def layer_sizes(self, image: Image) -> list[int]:
        out = []
        for chain in chain_ids(image.diff_ids):
            try:
                out.append(int(self.snapshotter.stat(chain).labels.get("size", 0)))
            except (NotFound, ValueError):
                out.append(0)
        return out

    # -- creating images -----------------------------------------------------------
    def import_rootfs(self, stream: BinaryIO, refs: list[str], config: dict[str, Any] | None = None,
                      message: str = "", source: str = "-", platform: tuple[str, str] = ("linux", "amd64")) -> Image:
        """docker import: one tarball (compressed or not) becomes a one-layer image."""
        with self.lease() as lease:
            w = self.content.writer(f"import-{uuid.uuid4().hex}")
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
            lease.add(layer.digest)
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
            try:
                return self.create_image(image_config, [{"mediaType": mt.OCI_LAYER, "digest": layer.digest,
                                                         "size": layer.size}], refs, _lease=lease)
            except BaseException:
                self.drop_new(lease)
                raise

    def create_image(self, image_config: dict[str, Any], layers: list[dict[str, Any]], refs: list[str],
                     parent: str = "", _lease: Lease | None = None) -> Image:
        """Store config and manifest, unpack, then tag: an image becomes
        visible only once everything under it is in place. Layers whose
        chain ID already has a snapshot are not extracted again (a builder
        can commit its snapshot under the chain ID first)."""
        with contextlib.ExitStack() as stack:
            lease = _lease or stack.enter_context(self.lease())
            try:
                cfg_bytes = json.dumps(image_config, separators=(",", ":")).encode()
                lease.add(digestlib.sha256_digest(cfg_bytes))
                cfg = self.content.write_blob(cfg_bytes)
                manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                            "config": {"mediaType": mt.OCI_CONFIG, "digest": cfg.digest, "size": cfg.size},
                            "layers": layers}
                man_bytes = json.dumps(manifest, separators=(",", ":")).encode()
                lease.add(digestlib.sha256_digest(man_bytes))
                man = self.content.write_blob(man_bytes)
                image = Image(cfg.digest, man.digest, manifest, image_config, [])
                self.unpack(image, lease)
                target = {"mediaType": mt.OCI_MANIFEST, "digest": man.digest, "size": man.size}
                return self.register(target, refs, parent=parent)
            except BaseException:
                if _lease is None:
                    self.drop_new(lease)
                raise

    def register(self, target: dict[str, Any], refs: list[str], index: dict[str, Any] | None = None,
                 parent: str = "", sources: tuple[list[str], str] | None = None) -> Image:
        """Record the image whose manifest (and config and layers) are in the
        content store, and point refs (any form; normalized here) at it.
        sources: (blob digests, "host/repository") they were pulled from."""
        manifest, config = self._read(target["digest"])
        image_id = manifest["config"]["digest"]
        names = [str(reference.parse(r)) for r in refs]
        record: dict[str, Any] = {"target": {k: target[k] for k in ("mediaType", "digest", "size") if k in target}}
        if index:
            record["index"] = {k: index[k] for k in ("mediaType", "digest", "size") if k in index}
        if parent:
            record["parent"] = parent
        with self.lock:
            self.store.put_image(image_id, record, names, sources)
        return self.get(image_id)

    def tag(self, image: Image, ref: str) -> str:
        name = str(reference.parse(ref))
        with self.lock:
            self.store.set_refs([name], image.id)
        return name

    def untag(self, name: str) -> str:
        """Remove one reference; returns the image ID it pointed at. The image
        stays (untagged) until deleted or pruned."""
        with self.lock:
            return self.store.delete_ref(name)

    def delete(self, image_id: str) -> tuple[list[str], GCResult]:
        """Drop the image record and its references, then collect what only it
        used. Returns (removed references, what gc freed)."""
        with self.lock:
            names = self.store.delete_image(image_id)
            self._cache = {k: v for k, v in self._cache.items() if v[0].get("config", {}).get("digest") != image_id}
            return names, self.gc()

    # -- garbage collection ----------------------------------------------------------
    def _mark(self, skip: Lease | None = None) -> tuple[set[str], set[str]]:
        blobs: set[str] = set()
        chains: set[str] = set()

        def mark_manifest(digest: str) -> None:
            blobs.add(digest)
            try:
                manifest = json.loads(self.content.read_blob(digest, verify=False))
            except (NotFound, ValueError):
                return
            for child in manifest.get("manifests") or []:
                if self.content.has(child.get("digest", "")) and child["digest"] not in blobs:
                    mark_manifest(child["digest"])
            cfg = (manifest.get("config") or {}).get("digest")
            if cfg:
                mark_config(cfg)
            for layer in manifest.get("layers") or []:
                blobs.add(layer.get("digest", ""))

        def mark_config(digest: str) -> None:
            blobs.add(digest)
            try:
                config = json.loads(self.content.read_blob(digest, verify=False))
                chains.update(chain_ids(config_diff_ids(config)))
            except (NotFound, ValueError, AttributeError):
                pass

        for rec in self.store.images().values():
            mark_manifest(rec["target"]["digest"])
            if rec.get("index"):
                mark_manifest(rec["index"]["digest"])
        for image_id in self.extra_roots():
            if image_id.startswith("sha256:"):
                mark_config(image_id)
        more_blobs, more_chains = self.extra_refs()
        blobs |= more_blobs
        chains |= more_chains
        for lease in self._leases:
            if lease is skip:
                continue
            blobs.update(lease.digests)
            chains.update(lease.snapshots)
        return blobs, chains

    def gc(self) -> GCResult:
        """Mark and sweep blobs and layer snapshots nothing refers to."""
        result = GCResult()
        with self.lock:
            blobs, chains = self._mark()
            for info in list(self.content.walk()):
                if info.digest not in blobs:
                    try:
                        self.content.delete(info.digest)
                        result.blobs.append(info.digest)
                        result.reclaimed += info.size
                    except NotFound:
                        pass
                    self._cache.pop(info.digest, None)
            self.store.forget_sources(blobs)
            snaps = {s.key: s for s in self.snapshotter.walk()}
            keep: set[str] = set()
            for key, s in snaps.items():
                if s.kind != COMMITTED or key in chains:
                    k = key
                    while k and k not in keep:
                        keep.add(k)
                        k = snaps[k].parent if k in snaps else ""
            # Leaves first: a snapshot is removable once its children are gone.
            doomed = [k for k, s in snaps.items() if s.kind == COMMITTED and k not in keep]
            while doomed:
                progress = False
                for key in list(doomed):
                    if self.snapshotter.children(key):
                        continue
                    size = int(snaps[key].labels.get("size", 0) or 0)
                    self.snapshotter.remove(key)
                    result.snapshots.append(key)
                    result.reclaimed += size
                    doomed.remove(key)
                    progress = True
                if not progress:
                    break
        return result

    def drop_new(self, lease: Lease) -> None:
        """Undo the blobs and snapshots of a failed operation (its lease),
        unless something else uses them."""
        with self.lock:
            blobs, chains = self._mark(skip=lease)
            doomed = [k for k in lease.snapshots if k not in chains and self.snapshotter.exists(k)]
            while doomed:
                removable = [k for k in doomed if not self.snapshotter.children(k)]
                if not removable:
                    break
                for k in removable:
                    self.snapshotter.remove(k)
                    doomed.remove(k)
            for d in lease.digests - lease.existed:
                if d not in blobs and self.content.has(d):
                    try:
                        self.content.delete(d)
                    except NotFound:
                        pass

    def usage(self) -> dict[str, int]:
        """Bytes of blobs and of layer snapshots, for system df."""
        blobs = sum(i.size for i in self.content.walk())
        layers = 0
        for s in self.snapshotter.walk():
            if s.kind == COMMITTED:
                try:
                    layers += int(s.labels.get("size", 0))
                except ValueError:
                    pass
        return {"blobs": blobs, "layers": layers}


def _is_hex(s: str) -> bool:
    return bool(s) and all(c in "0123456789abcdef" for c in s)


def validate_digest(d: str) -> str:
    digestlib.validate(d)
    return d
