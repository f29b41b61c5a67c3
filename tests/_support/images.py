"""Building test images by hand: layer tarballs (uncompressed, gzip, zstd),
configs, manifests, indexes, OCI image layouts and docker archives, so
tests can feed peers (skopeo, the registry) and dockyard exactly the bytes
they mean to, hostile ones included."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {"": "application/vnd.oci.image.layer.v1.tar",
               "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
               "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Blob:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return digest(self.data)

    def desc(self, **extra: Any) -> dict[str, Any]:
        d = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}
        d.update(extra)
        return d


@dataclass
class Layer:
    blob: Blob
    diff_id: str


def tar_bytes(entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            if isinstance(e, tuple):
                tf.addfile(e[0], io.BytesIO(e[1]))
            else:
                tf.addfile(e)
    return buf.getvalue()


def file_entry(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), mode, 1700000000
    return ti, data


def layer(raw_tar: bytes, compression: str = "gzip") -> Layer:
    if compression == "gzip":
        data = gzip.compress(raw_tar, compresslevel=1, mtime=0)
    elif compression == "zstd":
        import zstandard
        data = zstandard.ZstdCompressor().compress(raw_tar)
    else:
        data = raw_tar
    return Layer(Blob(data, LAYER_TYPES[compression]), digest(raw_tar))


@dataclass
class TestImage:
    layers: list[Layer]
    config: Blob
    manifest: Blob
    platform: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.config.digest

    def blobs(self) -> list[Blob]:
        return [x.blob for x in self.layers] + [self.config, self.manifest]


def image(layers: list[Layer], arch: str = "amd64", os_: str = "linux", cmd: list[str] | None = None,
          labels: dict[str, str] | None = None, variant: str = "") -> TestImage:
    cfg: dict[str, Any] = {
        "architecture": arch, "os": os_, "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": cmd or ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Labels": labels or {}},
        "rootfs": {"type": "layers", "diff_ids": [x.diff_id for x in layers]},
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": f"layer {i}"} for i in range(len(layers))],
    }
    if variant:
        cfg["variant"] = variant
    config = Blob(json.dumps(cfg).encode(), OCI_CONFIG)
    manifest = Blob(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.desc(),
                                "layers": [x.blob.desc() for x in layers]}).encode(), OCI_MANIFEST)
    plat = {"architecture": arch, "os": os_}
    if variant:
        plat["variant"] = variant
    return TestImage(layers, config, manifest, plat)


def index(images: list[TestImage]) -> Blob:
    return Blob(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                            "manifests": [i.manifest.desc(platform=i.platform) for i in images]}).encode(), OCI_INDEX)


def write_oci_layout(path: str, top: TestImage | Blob, ref_name: str, extra: list[TestImage] = ()) -> None:
    """An OCI image layout whose index.json names top (an image or an index) ref_name."""
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    blobs: list[Blob] = []
    for img in ([top] if isinstance(top, TestImage) else []) + list(extra):
        blobs += img.blobs()
    if isinstance(top, Blob):
        blobs.append(top)
    for b in blobs:
        with open(os.path.join(path, "blobs", "sha256", b.digest[7:]), "wb") as f:
            f.write(b.data)
    desc = (top.manifest if isinstance(top, TestImage) else top).desc(
        annotations={"org.opencontainers.image.ref.name": ref_name})
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def docker_classic_archive(img: TestImage, repo_tags: list[str]) -> bytes:
    """The pre-25 docker save format: <n>/layer.tar (uncompressed), <hex>.json, manifest.json."""
    import zstandard
    entries: list[Any] = []
    layer_paths = []
    for i, x in enumerate(img.layers):
        raw = x.blob.data
        if x.blob.media_type.endswith("gzip"):
            raw = gzip.decompress(raw)
        elif x.blob.media_type.endswith("zstd"):
            raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        p = f"layer{i}/layer.tar"
        entries.append(file_entry(p, raw))
        layer_paths.append(p)
    cfg_name = img.config.digest[7:] + ".json"
    entries.append(file_entry(cfg_name, img.config.data))
    entries.append(file_entry("manifest.json", json.dumps(
        [{"Config": cfg_name, "RepoTags": repo_tags, "Layers": layer_paths}]).encode()))
    return tar_bytes(entries)


def store_listing(d: Any) -> dict[str, object]:
    """A daemon's image store as a failed or refused operation must leave
    it: blobs, snapshots (records and directories), images and references."""
    data = d.data_root
    with open(os.path.join(data, "overlay", "metadata.json")) as f:
        meta = json.load(f)
    try:
        with open(os.path.join(data, "image", "images.json")) as f:
            store = json.load(f)
    except FileNotFoundError:
        store = {}
    return {
        "blobs": sorted(os.listdir(os.path.join(data, "content", "blobs", "sha256"))),
        "snapshots": sorted(meta["snapshots"]),
        "snapshot_dirs": sorted(os.listdir(os.path.join(data, "overlay", "snapshots"))),
        "images": sorted(store.get("images", {})),
        "refs": sorted(store.get("refs", {})),
    }
