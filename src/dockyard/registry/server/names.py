"""The grammar of the distribution-spec: repository names, tags, digests and
upload session IDs. Everything that becomes a path on disk passes through
here first, so a name can never climb out of the storage root: no component
can be empty, start with a dot or contain anything but [a-z0-9._-]."""

from __future__ import annotations

import re

from .errors import RegistryError

# spec.md "Pulling manifests": <name> and <reference> as a tag.
NAME_RE = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# image-spec descriptor.md: algorithm ":" encoded; we verify sha256 and sha512.
DIGEST_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_SUPPORTED = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}
UPLOAD_ID_RE = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}")
NAME_MAX = 255  # distribution's limit on the whole repository name


def is_name(name: str) -> bool:
    return len(name) <= NAME_MAX and NAME_RE.fullmatch(name) is not None


def check_name(name: str) -> str:
    if not is_name(name):
        raise RegistryError("NAME_INVALID", {"name": name[:300]})
    return name


def is_tag(ref: str) -> bool:
    return TAG_RE.fullmatch(ref) is not None


def is_digest_syntax(value: str) -> bool:
    return DIGEST_RE.fullmatch(value) is not None


def is_supported_digest(value: str) -> bool:
    alg, _, enc = value.partition(":")
    pattern = _SUPPORTED.get(alg)
    return pattern is not None and pattern.fullmatch(enc) is not None


def check_digest(value: str) -> str:
    """A digest this registry can verify, else DIGEST_INVALID (400)."""
    if not is_supported_digest(value):
        raise RegistryError("DIGEST_INVALID", {"digest": value[:300]},
                            message="invalid or unsupported digest")
    return value


def is_upload_id(value: str) -> bool:
    return UPLOAD_ID_RE.fullmatch(value) is not None
