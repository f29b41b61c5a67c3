"""Platforms (os/arch/variant) as containerd's platforms package normalizes
and matches them, for choosing a manifest from an index."""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass
from typing import Any

from ..errdefs import InvalidArgument

_ARCH = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm",
         "i386": "386", "i686": "386"}


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def to_dict(self) -> dict[str, str]:
        d = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            d["variant"] = self.variant
        return d


def normalize(os_: str, arch: str, variant: str = "") -> Platform:
    os_ = (os_ or "linux").lower()
    arch = _ARCH.get(arch.lower(), arch.lower())
    variant = variant.lower()
    if arch == "arm64" and variant == "8":
        variant = "v8"
    if arch == "arm64" and variant == "v8":
        variant = ""  # arm64 implies v8
    if arch == "arm" and variant in ("", "7"):
        variant = "v7"
    if arch == "amd64" and variant == "v1":
        variant = ""
    return Platform(os_, arch, variant)


def default() -> Platform:
    """The host's platform (linux/amd64 on this project's machines)."""
    return normalize("linux", _host.machine() or "amd64")


def parse(spec: str) -> Platform:
    """os[/arch[/variant]] or arch alone, as docker's --platform accepts."""
    if not spec:
        return default()
    parts = spec.split("/")
    if len(parts) > 3 or any(not p for p in parts):
        raise InvalidArgument(f'"{spec}": unknown operating system or architecture: invalid argument')
    if len(parts) == 1:
        if parts[0].lower() in ("linux", "windows", "darwin", "freebsd"):
            return normalize(parts[0], default().architecture)
        return normalize("linux", parts[0])
    return normalize(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def of(desc_platform: dict[str, Any] | None) -> Platform | None:
    if not desc_platform:
        return None
    return normalize(desc_platform.get("os", ""), desc_platform.get("architecture", ""),
                     desc_platform.get("variant", ""))


def matches(want: Platform, have: Platform | None) -> bool:
    if have is None:
        return False
    if want.os != have.os or want.architecture != have.architecture:
        return False
    return not want.variant or want.variant == have.variant


def select(want: Platform, manifests: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best descriptor of an index for want: exact variant first, then
    any variant of the architecture; attestation manifests never match."""
    candidates = [m for m in manifests if matches(want, of(m.get("platform")))
                  and (m.get("annotations") or {}).get("vnd.docker.reference.type") != "attestation-manifest"]
    if not candidates:
        return None
    if not want.variant:
        plain = [m for m in candidates if not (of(m.get("platform")) or want).variant]
        if plain:
            return plain[0]
    return candidates[0]
