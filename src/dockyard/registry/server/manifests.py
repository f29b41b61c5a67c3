"""Manifests as the registry sees them: which type a pushed document is, that
it is well formed, and which blobs, child manifests and subject it names.
The registry stores the bytes exactly as pushed; this module only reads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...oci import mediatypes as mt
from .errors import RegistryError
from .names import is_supported_digest

IMAGE_MANIFESTS = frozenset({mt.OCI_MANIFEST, mt.DOCKER_MANIFEST})
INDEXES = frozenset({mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST})
SUPPORTED = IMAGE_MANIFESTS | INDEXES
SCHEMA1 = frozenset({"application/vnd.docker.distribution.manifest.v1+json",
                     "application/vnd.docker.distribution.manifest.v1+prettyjws"})
# Layers a registry need not hold: they are fetched from their `urls`.
FOREIGN_LAYERS = frozenset({mt.DOCKER_LAYER_FOREIGN, mt.OCI_LAYER_NONDIST, mt.OCI_LAYER_NONDIST_GZIP,
                            "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"})


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    platform: dict[str, Any] | None = None


@dataclass(slots=True)
class Manifest:
    media_type: str
    blobs: list[Descriptor] = field(default_factory=list)       # config and layers
    children: list[Descriptor] = field(default_factory=list)    # manifests of an index
    subject: Descriptor | None = None
    artifact_type: str = ""
    config_media_type: str = ""
    annotations: dict[str, str] | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES

    def referrer_descriptor(self, digest: str, size: int) -> dict[str, Any]:
        """The descriptor the referrers API lists for this manifest (spec.md
        "Listing Referrers": artifactType falls back to the config's type for
        image manifests and is omitted for indexes)."""
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": digest, "size": size}
        artifact = self.artifact_type or ("" if self.is_index else self.config_media_type)
        if artifact:
            d["artifactType"] = artifact
        if self.annotations:
            d["annotations"] = self.annotations
        return d


def _invalid(reason: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", {"reason": reason})


def _descriptor(obj: Any, where: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise _invalid(f"{where}: descriptor must be an object")
    media_type, digest, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}: mediaType missing")
    if not isinstance(digest, str) or not is_supported_digest(digest):
        raise _invalid(f"{where}: invalid digest {str(digest)[:100]!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}: invalid size")
    urls = obj.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise _invalid(f"{where}: urls must be a list of strings")
    platform = obj.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise _invalid(f"{where}: platform must be an object")
    return Descriptor(media_type, digest, size, tuple(urls), platform)


def _string_map(obj: Any, where: str) -> dict[str, str] | None:
    if obj is None:
        return None
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in obj.items()):
        raise _invalid(f"{where} must map strings to strings")
    return obj


def detect_media_type(doc: dict[str, Any], content_type: str) -> str:
    """The manifest's type: its mediaType field, which must agree with the
    Content-Type the client sent; or the Content-Type; or, for OCI documents
    that carry neither, their shape."""
    content_type = content_type.split(";", 1)[0].strip().lower()
    field_type = doc.get("mediaType")
    if field_type is not None and not isinstance(field_type, str):
        raise _invalid("mediaType must be a string")
    if field_type:
        if content_type and content_type in SUPPORTED | SCHEMA1 and content_type != field_type:
            raise _invalid(f"mediaType {field_type} does not match Content-Type {content_type}")
        return field_type
    if content_type in SUPPORTED | SCHEMA1:
        return content_type
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc or "layers" in doc:
        return mt.OCI_MANIFEST
    raise _invalid("cannot tell the manifest's type: no mediaType field or Content-Type")


def parse(body: bytes, content_type: str) -> Manifest:
    """Validate a pushed manifest; raise MANIFEST_INVALID saying why."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise _invalid(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _invalid("manifest must be a JSON object")
    media_type = detect_media_type(doc, content_type)
    if media_type in SCHEMA1:
        raise _invalid("Docker schema 1 manifests are not supported")
    if media_type not in SUPPORTED:
        raise _invalid(f"unsupported manifest media type {media_type}")
    if doc.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    m = Manifest(media_type)
    if "subject" in doc and doc["subject"] is not None:
        m.subject = _descriptor(doc["subject"], "subject")
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string")
    m.artifact_type = artifact_type or ""
    m.annotations = _string_map(doc.get("annotations"), "annotations")
    if media_type in INDEXES:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise _invalid("manifests must be a list")
        m.children = [_descriptor(c, f"manifests[{i}]") for i, c in enumerate(children)]
        return m
    config = _descriptor(doc.get("config"), "config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise _invalid("layers must be a list")
    m.config_media_type = config.media_type
    m.blobs = [config] + [_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
    return m


def platform_child(m: Manifest, accepted: set[str], os_: str = "linux", arch: str = "amd64") -> Descriptor | None:
    """The entry of a manifest list a client that cannot read lists gets
    (content-negotiation.md: linux/amd64, for backward compatibility)."""
    for c in m.children:
        p = c.platform or {}
        if p.get("os") == os_ and p.get("architecture") == arch and c.media_type in accepted:
            return c
    return None
