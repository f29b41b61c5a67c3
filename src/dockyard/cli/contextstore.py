"""docker's context store, shared with the docker CLI: a context named N is
`<config dir>/contexts/meta/<sha256 of N>/meta.json`
({"Name", "Metadata": {"Description"}, "Endpoints": {"docker": {"Host",
"SkipTLSVerify"}}}) plus its TLS files in `contexts/tls/<sha256>/docker/`
(ca.pem, cert.pem, key.pem); the current context is "currentContext" in
config.json. Loaded only when a context other than "default" is in use, or
by `dockyard context` (cli/main.py resolves the name without it)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil

from .config import config_dir
from .errors import CLIError

DEFAULT = "default"
DEFAULT_DESCRIPTION = "Current DOCKER_HOST based configuration"
NAME_PATTERN = "^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$"
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")


def context_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def meta_root(gopts: dict) -> str:
    return os.path.join(config_dir(gopts), "contexts", "meta")


def meta_dir(gopts: dict, name: str) -> str:
    return os.path.join(meta_root(gopts), context_id(name))


def tls_dir(gopts: dict, name: str) -> str:
    return os.path.join(config_dir(gopts), "contexts", "tls", context_id(name))


def validate_name(name: str) -> None:
    if name == DEFAULT:
        raise CLIError(f'"{DEFAULT}" is a reserved context name', 1)
    if not re.match(NAME_PATTERN, name):
        raise CLIError(f'context name "{name}" is invalid, names are validated against regexp "{NAME_PATTERN}"', 1)


def default_meta() -> dict:
    from ..client.base import default_host
    return {"Name": DEFAULT, "Metadata": {"Description": DEFAULT_DESCRIPTION},
            "Endpoints": {"docker": {"Host": default_host(), "SkipTLSVerify": False}}}


def exists(gopts: dict, name: str) -> bool:
    return name == DEFAULT or os.path.isfile(os.path.join(meta_dir(gopts, name), "meta.json"))


def load(gopts: dict, name: str) -> dict:
    """A context's metadata, as docker words a missing one."""
    if name == DEFAULT:
        return default_meta()
    path = os.path.join(meta_dir(gopts, name), "meta.json")
    try:
        with open(path, "rb") as f:
            meta = json.loads(f.read())
    except FileNotFoundError:
        raise CLIError(f'context "{name}": context not found: open {path}: no such file or directory', 1) from None
    except (OSError, ValueError) as e:
        raise CLIError(f'context "{name}": {path}: {e}', 1) from None
    if not isinstance(meta, dict):
        raise CLIError(f'context "{name}": {path}: not a context', 1)
    return meta


def list_all(gopts: dict) -> list[dict]:
    """Every stored context (unreadable ones skipped), plus default; by name."""
    out = [default_meta()]
    try:
        ids = os.listdir(meta_root(gopts))
    except OSError:
        ids = []
    for i in ids:
        try:
            with open(os.path.join(meta_root(gopts), i, "meta.json"), "rb") as f:
                meta = json.loads(f.read())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and isinstance(meta.get("Name"), str) and meta["Name"] != DEFAULT:
            out.append(meta)
    return sorted(out, key=lambda m: m["Name"])


def docker_endpoint(meta: dict) -> dict:
    ep = (meta.get("Endpoints") or {}).get("docker") or {}
    return ep if isinstance(ep, dict) else {}


def tls_files(gopts: dict, name: str) -> dict[str, str]:
    """The context's TLS files that exist: {"ca.pem": path, ...}."""
    if name == DEFAULT:
        return {}
    d = os.path.join(tls_dir(gopts, name), "docker")
    return {f: os.path.join(d, f) for f in TLS_FILES if os.path.isfile(os.path.join(d, f))}


def save(gopts: dict, meta: dict, tls: dict[str, bytes] | None = None) -> None:
    """Write meta.json atomically (and replace the TLS files when given)."""
    from ..fsutil import atomic_write
    name = meta["Name"]
    d = meta_dir(gopts, name)
    os.makedirs(d, mode=0o755, exist_ok=True)
    atomic_write(os.path.join(d, "meta.json"), json.dumps(meta, separators=(",", ":")).encode(), mode=0o644)
    if tls is not None:
        td = os.path.join(tls_dir(gopts, name), "docker")
        shutil.rmtree(tls_dir(gopts, name), ignore_errors=True)
        if tls:
            os.makedirs(td, mode=0o700, exist_ok=True)
            for fname, data in tls.items():
                atomic_write(os.path.join(td, fname), data, mode=0o600)


def remove(gopts: dict, name: str) -> None:
    shutil.rmtree(meta_dir(gopts, name))
    shutil.rmtree(tls_dir(gopts, name), ignore_errors=True)


def set_current(gopts: dict, name: str) -> None:
    """currentContext in config.json ("default" removes it, as docker),
    everything else in the file kept."""
    from ..fsutil import atomic_write
    path = os.path.join(config_dir(gopts), "config.json")
    cache_key = path.rstrip("/")
    path = os.path.realpath(path)  # a symlinked config.json stays a symlink
    try:
        with open(path, "rb") as f:
            data = f.read()
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        data, mode = b"", 0o600
    try:
        cfg = json.loads(data) if data.strip() else {}
    except ValueError as e:
        raise CLIError(f"loading config file: {path}: {e}", 1) from None
    if name == DEFAULT:
        cfg.pop("currentContext", None)
    else:
        cfg["currentContext"] = name
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    atomic_write(path, json.dumps(cfg, indent="\t").encode(), mode=mode)
    from . import config
    config._cache.pop(cache_key, None)
