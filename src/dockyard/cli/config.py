"""docker's client configuration file, shared with docker: config.json in
--config, else $DOCKER_CONFIG, else ~/.docker.

Used keys: auths (registry -> {"auth": base64("user:password")}, written by
login, removed by logout, sent as X-Registry-Auth by pull/push/run), psFormat,
imagesFormat, detachKeys. Credential helpers (credsStore/credHelpers) are not
run: a registry whose credentials live in a helper is reported as such.

For pull/push in other commands: `registry_auth_header(image_ref, gopts)`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

INDEX_SERVER = "https://index.docker.io/v1/"
_cache: dict[str, dict[str, Any]] = {}


def config_dir(gopts: dict | None = None) -> str:
    d = (gopts or {}).get("config") or os.environ.get("DOCKER_CONFIG")
    return d or os.path.join(os.path.expanduser("~"), ".docker")


def load(gopts: dict | None = None) -> dict[str, Any]:
    path = os.path.join(config_dir(gopts), "config.json")
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


def save(cfg: dict[str, Any], gopts: dict | None = None) -> str:
    import json
    from ..fsutil import atomic_write
    d = config_dir(gopts)
    os.makedirs(d, mode=0o700, exist_ok=True)
    path = os.path.join(d, "config.json")
    atomic_write(path, (json.dumps(cfg, indent="\t") + "\n").encode(), mode=0o600)
    _cache[path] = cfg
    return path


def registry_of(ref: str) -> str:
    """The registry host an image reference lives in (docker.io's index for
    references without one), as docker keys config.json's auths."""
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return INDEX_SERVER


def normalize_server(server: str) -> str:
    s = server
    for prefix in ("https://", "http://"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    host = s.split("/", 1)[0]
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return INDEX_SERVER
    return host


def credentials(server: str, gopts: dict | None = None) -> tuple[str, str] | None:
    import base64
    auths = load(gopts).get("auths") or {}
    key = normalize_server(server)
    for k, v in auths.items():
        if normalize_server(k) == key and isinstance(v, dict) and v.get("auth"):
            user, _, password = base64.b64decode(v["auth"]).decode().partition(":")
            return user, password
    return None


def encode_auth(auth: dict[str, Any]) -> str:
    """X-Registry-Auth: base64url of the JSON AuthConfig."""
    import base64
    import json
    return base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()


def registry_auth_header(ref: str, gopts: dict | None = None) -> str | None:
    """The X-Registry-Auth value for pulling/pushing ref, or None without credentials."""
    server = registry_of(ref)
    creds = credentials(server, gopts)
    if not creds:
        return None
    return encode_auth({"username": creds[0], "password": creds[1], "serveraddress": server})
