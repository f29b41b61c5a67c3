"""docker's client configuration file, shared with docker: config.json in
--config, else $DOCKER_CONFIG, else ~/.docker.

Read here: psFormat, imagesFormat, volumesFormat, networksFormat,
detachKeys. Credentials ("auths", written by login and sent as
X-Registry-Auth by pull/push/run) are handled by registry/client/dockerconfig.py,
which reads the same file ($DOCKER_CONFIG, which main sets from --config).
"""

from __future__ import annotations

from ..client.base import getenv, home

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_cache: dict[str, dict[str, Any]] = {}


def config_dir(gopts: dict | None = None) -> str:
    d = (gopts or {}).get("config") or getenv("DOCKER_CONFIG")
    return d or home().rstrip("/") + "/.docker"


def load(gopts: dict | None = None) -> dict[str, Any]:
    path = config_dir(gopts).rstrip("/") + "/config.json"  # os.path.join, without importing os
    if path in _cache:
        return _cache[path]
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        cfg: dict[str, Any] = {}
    else:
        from ..client import jsonfast
        try:
            cfg = jsonfast.loads(data) if data.strip() else {}
        except ValueError as e:
            from .errors import CLIError
            raise CLIError(f"loading config file: {path}: {e}", 1) from None
    _cache[path] = cfg
    return cfg
