"""Credentials in docker's config.json ($DOCKER_CONFIG/config.json, else
~/.docker/config.json): {"auths": {"<server>": {"auth": base64(user:pass)}}}.
Docker Hub's key is https://index.docker.io/v1/. Other keys of the file are
kept as they are when we write it."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from typing import Any

DOCKER_HUB_KEY = "https://index.docker.io/v1/"


def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def config_path() -> str:
    return os.path.join(config_dir(), "config.json")


def server_key(registry: str) -> str:
    """The key docker files a registry's credentials under."""
    host = registry
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix):]
    host = host.split("/", 1)[0]
    if host in ("", "docker.io", "index.docker.io", "registry-1.docker.io"):
        return DOCKER_HUB_KEY
    return host


def load() -> dict[str, Any]:
    try:
        with open(config_path(), "rb") as f:
            data = json.loads(f.read() or b"{}")
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise ValueError(f"loading config file {config_path()}: {e}") from None
    return data if isinstance(data, dict) else {}


def save(data: dict[str, Any]) -> None:
    """Atomically, mode 0600 (it holds credentials)."""
    d = config_dir()
    os.makedirs(d, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=d)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, config_path())
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def get_credentials(registry: str) -> dict[str, str] | None:
    """{"username", "password", "serveraddress"} (or identitytoken) for registry."""
    key = server_key(registry)
    auths = load().get("auths") or {}
    entry = auths.get(key)
    if entry is None:
        for k, v in auths.items():
            if server_key(k) == key:
                entry = v
                break
    if not entry:
        return None
    out = {"serveraddress": key}
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        out.update(username=user, password=password)
    if entry.get("identitytoken"):
        out["identitytoken"] = entry["identitytoken"]
    return out if len(out) > 1 else None


def store_credentials(registry: str, username: str, password: str, identity_token: str = "") -> str:
    data = load()
    key = server_key(registry)
    entry: dict[str, str] = {"auth": base64.b64encode(f"{username}:{password if not identity_token else ''}".encode()).decode()}
    if identity_token:
        entry["identitytoken"] = identity_token
    data.setdefault("auths", {})[key] = entry
    save(data)
    return key


def erase_credentials(registry: str) -> bool:
    data = load()
    key = server_key(registry)
    auths = data.get("auths") or {}
    found = [k for k in auths if server_key(k) == key]
    for k in found:
        del auths[k]
    if found:
        save(data)
    return bool(found)
