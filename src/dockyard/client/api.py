"""APIClient: one method per Engine API endpoint, grouped by resource in
sibling modules (one mixin class each). To add endpoints, add methods to the
group's module (or a new module and mixin listed here). Errors from the
daemon come back as the errdefs kind matching the HTTP status."""

from __future__ import annotations

from .base import DEFAULT_HOST, APIError, BaseClient, DaemonUnreachable, default_host
from .build import BuildAPI
from .containers import ContainersAPI
from .images import ImagesAPI
from .networks import NetworksAPI
from .system import SystemAPI
from .volumes import VolumesAPI

__all__ = ["APIClient", "APIError", "DaemonUnreachable", "DEFAULT_HOST", "default_host"]


class APIClient(SystemAPI, ContainersAPI, ImagesAPI, BuildAPI, NetworksAPI, VolumesAPI, BaseClient):
    pass
