"""Image references, normalized as docker normalizes them.

``busybox`` -> ``docker.io/library/busybox:latest``; ``localhost:5000/a/b@sha256:...``
keeps its registry and digest. Grammar from distribution/reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errdefs import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_ID_RE = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True, slots=True)
class Reference:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """Fully qualified repository name, e.g. docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The short name docker shows: busybox, user/app, localhost:5000/app."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_REPO_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_REPO_PREFIX):]
            return self.path
        return self.name

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def familiar(self) -> str:
        s = self.familiar_name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    def with_tag(self, tag: str) -> "Reference":
        return Reference(self.domain, self.path, tag, "")


def split_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    if i == -1 or (("." not in name[:i]) and (":" not in name[:i]) and name[:i] != "localhost"
                   and name[:i].lower() == name[:i]):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = name[:i], name[i + 1:]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse(ref: str, default_tag: bool = True) -> Reference:
    """Parse and normalize an image reference (docker's ParseNormalizedNamed +
    TagNameOnly when default_tag)."""
    if not ref:
        raise InvalidArgument("invalid reference format: repository name must have at least one component")
    if _ID_RE.match(ref):
        raise InvalidArgument(
            f"invalid repository name ({ref}), cannot specify 64-byte hexadecimal strings")
    name, digest = ref, ""
    if "@" in name:
        name, digest = name.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise InvalidArgument(f"invalid reference format: {ref}")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG_RE.match(tag):
            raise InvalidArgument(f"invalid reference format: {ref}")
    domain, path = split_domain(name)
    if not _DOMAIN_RE.match(domain):
        raise InvalidArgument(f"invalid reference format: {ref}")
    if not _PATH_RE.match(path):
        if path.lower() != path:
            raise InvalidArgument(
                f"invalid reference format: repository name ({path}) must be lowercase")
        raise InvalidArgument(f"invalid reference format: {ref}")
    if len(domain) + 1 + len(path) > 255:
        raise InvalidArgument("invalid reference format: repository name must not be more than 255 characters")
    if default_tag and not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def familiar(ref: str) -> str:
    """Normalize then show as docker does (``docker.io/library/busybox:latest`` -> ``busybox:latest``)."""
    return parse(ref).familiar
