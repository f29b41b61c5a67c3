"""Loading and checking config.json before anything is created, so a bad
config fails with the field's name and leaves nothing behind."""

from __future__ import annotations

import json
import os
from typing import Any

from .._sys.consts import NAMESPACE_FLAGS
from .state import RuntimeError_


class ConfigError(RuntimeError_):
    pass


def load_spec(bundle: str) -> dict[str, Any]:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            spec = json.loads(f.read())
    except FileNotFoundError:
        raise ConfigError(f"JSON specification file {path} not found") from None
    except ValueError as e:
        raise ConfigError(f"config.json: invalid JSON: {e}") from None
    validate(spec, bundle)
    return spec


def _need(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(f"config.json: {msg}")


def validate(spec: Any, bundle: str) -> None:
    _need(isinstance(spec, dict), "top level must be an object")
    _need(isinstance(spec.get("ociVersion"), str), "ociVersion: required string")
    root = spec.get("root")
    _need(isinstance(root, dict) and isinstance(root.get("path"), str) and root["path"] != "",
          "root.path: required")
    rootfs = root["path"] if os.path.isabs(root["path"]) else os.path.join(bundle, root["path"])
    _need(os.path.isdir(rootfs), f"root.path: rootfs {rootfs} does not exist or is not a directory")
    proc = spec.get("process")
    _need(isinstance(proc, dict), "process: required object")
    args = proc.get("args")
    _need(isinstance(args, list) and len(args) > 0 and all(isinstance(a, str) for a in args),
          "process.args: must be a non-empty list of strings")
    cwd = proc.get("cwd", "/")
    _need(isinstance(cwd, str) and cwd.startswith("/"), f"process.cwd: {cwd!r} must be an absolute path")
    env = proc.get("env") or []
    _need(isinstance(env, list) and all(isinstance(e, str) for e in env), "process.env: must be a list of strings")
    user = proc.get("user") or {}
    _need(isinstance(user, dict), "process.user: must be an object")
    for k in ("uid", "gid"):
        v = user.get(k, 0)
        _need(isinstance(v, int) and v >= 0, f"process.user.{k}: must be a non-negative integer")
    for i, m in enumerate(spec.get("mounts") or []):
        _need(isinstance(m, dict), f"mounts[{i}]: must be an object")
        dest = m.get("destination")
        _need(isinstance(dest, str) and dest.startswith("/"),
              f"mounts[{i}].destination: {dest!r} must be an absolute path")
        _need(isinstance(m.get("options", []), list), f"mounts[{i}].options: must be a list")
    linux = spec.get("linux") or {}
    _need(isinstance(linux, dict), "linux: must be an object")
    seen: set[str] = set()
    for i, ns in enumerate(linux.get("namespaces") or []):
        t = ns.get("type") if isinstance(ns, dict) else None
        _need(t in NAMESPACE_FLAGS, f"linux.namespaces[{i}].type: unknown namespace type {t!r}")
        _need(t not in seen, f"linux.namespaces: duplicate namespace {t!r}")
        seen.add(t)
        if ns.get("path"):
            _need(os.path.exists(ns["path"]), f"linux.namespaces[{i}].path: {ns['path']} does not exist")
    if "user" in seen:
        _need(bool(linux.get("uidMappings")) and bool(linux.get("gidMappings")),
              "linux.uidMappings/gidMappings: required with a user namespace")
    elif linux.get("uidMappings") or linux.get("gidMappings"):
        raise ConfigError("config.json: linux.uidMappings: user namespace is not enabled")
    if spec.get("hostname") and "uts" not in seen:
        raise ConfigError("config.json: hostname: unable to set hostname without a new UTS namespace")
    if linux.get("sysctl"):
        for key in linux["sysctl"]:
            _need("/" not in key and ".." not in key, f"linux.sysctl: invalid key {key!r}")
    caps = proc.get("capabilities") or {}
    from .capabilities import masks
    try:
        masks(caps)
    except ValueError as e:
        raise ConfigError(f"config.json: {e}") from None
    if linux.get("seccomp"):
        from .seccomp import validate as validate_seccomp
        try:
            validate_seccomp(linux["seccomp"])
        except ValueError as e:
            raise ConfigError(f"config.json: {e}") from None
    for i, rl in enumerate(proc.get("rlimits") or []):
        from .init import _RLIMITS
        _need(rl.get("type") in _RLIMITS, f"process.rlimits[{i}].type: unknown rlimit {rl.get('type')!r}")


def rootfs_path(spec: dict[str, Any], bundle: str) -> str:
    p = spec["root"]["path"]
    return os.path.realpath(p if os.path.isabs(p) else os.path.join(bundle, p))
