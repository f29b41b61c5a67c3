"""Content digests (OCI image-spec descriptor.md grammar)."""

from __future__ import annotations

import hashlib
import re

from ..errdefs import InvalidArgument

_DIGEST_RE = re.compile(r"^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def validate(digest: str) -> tuple[str, str]:
    """Return (algorithm, hex) of a well-formed digest, else raise InvalidArgument."""
    m = _DIGEST_RE.match(digest)
    if not m:
        raise InvalidArgument(f"invalid digest {digest!r}")
    if m.group(1):
        return m.group(1), m.group(2)
    return m.group(3), m.group(4)


def is_digest(value: str) -> bool:
    return bool(_DIGEST_RE.match(value))


def hex_of(digest: str) -> str:
    return validate(digest)[1]
