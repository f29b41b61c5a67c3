"""APIClient: one method per Engine API endpoint, grouped by resource in
sibling modules (one mixin class each: containers, images, build, networks,
volumes, system). Errors from the daemon come back as the errdefs kind
matching the HTTP status.

To add endpoints, add methods to the group's mixin (or a new module, listed
in GROUPS with the prefixes of its method names).

The CLI starts for every command and most commands use one group, so the
class loads a group's module the first time one of its methods is looked up
(`ps` never imports the image, network or volume modules). For type
checkers it is the plain union of the mixins."""

from __future__ import annotations

from .base import DEFAULT_HOST, APIError, BaseClient, DaemonUnreachable, default_host

__all__ = ["APIClient", "APIError", "DaemonUnreachable", "DEFAULT_HOST", "default_host"]

# module -> (mixin class, method name prefixes); the first match wins
GROUPS: list[tuple[str, str, tuple[str, ...]]] = [
    ("build", "BuildAPI", ("image_build", "build_")),
    ("containers", "ContainersAPI", ("container_", "exec_", "archive_", "wait_result", "commit")),
    ("images", "ImagesAPI", ("image_", "_registry_auth", "login", "distribution_")),
    ("networks", "NetworksAPI", ("network_",)),
    ("volumes", "VolumesAPI", ("volume_",)),
    ("system", "SystemAPI", ("ping", "version_info", "info", "events", "system_")),
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .build import BuildAPI
    from .containers import ContainersAPI
    from .images import ImagesAPI
    from .networks import NetworksAPI
    from .system import SystemAPI
    from .volumes import VolumesAPI

    class APIClient(SystemAPI, ContainersAPI, ImagesAPI, BuildAPI, NetworksAPI, VolumesAPI, BaseClient):
        pass
else:
    class APIClient(BaseClient):
        def __getattr__(self, name: str):
            if name.startswith("__"):
                raise AttributeError(name)
            for module, cls_name, prefixes in GROUPS:
                if name.startswith(prefixes):
                    found = _load(module, cls_name, name)
                    if found is not None:
                        return found.__get__(self, type(self))
            for module, cls_name, _ in GROUPS:  # a name outside the prefixes
                found = _load(module, cls_name, name)
                if found is not None:
                    return found.__get__(self, type(self))
            raise AttributeError(f"'APIClient' object has no attribute '{name}'")

    def _load(module: str, cls_name: str, name: str):
        import sys
        __import__(f"{__package__}.{module}")  # not importlib: it drags in warnings
        mixin = getattr(sys.modules[f"{__package__}.{module}"], cls_name)
        for klass in mixin.__mro__:
            if name in klass.__dict__:
                attr = klass.__dict__[name]
                setattr(APIClient, name, attr)  # later lookups are ordinary attribute hits
                return attr
        return None
