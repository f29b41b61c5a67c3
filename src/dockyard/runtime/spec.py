"""Loading and checking config.json before anything is created, so a bad
config fails with the field's name and leaves nothing behind."""

from __future__ import annotations

from .._sys import fs
from .._sys.consts import NAMESPACE_FLAGS
from .state import RuntimeError_

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# process.rlimits types and their numbers (resource.RLIMIT_*, asm-generic).
RLIMITS = {
    "RLIMIT_AS": 9, "RLIMIT_CORE": 4, "RLIMIT_CPU": 0, "RLIMIT_DATA": 2, "RLIMIT_FSIZE": 1,
    "RLIMIT_LOCKS": 10, "RLIMIT_MEMLOCK": 8, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_NOFILE": 7, "RLIMIT_NPROC": 6, "RLIMIT_RSS": 5, "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15, "RLIMIT_SIGPENDING": 11, "RLIMIT_STACK": 3,
}


class ConfigError(RuntimeError_):
    pass


def load_spec(bundle: str) -> dict[str, Any]:
    from .jsonio import loads
    path = fs.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            spec = loads(f.read())
    except FileNotFoundError:
        raise ConfigError(f"JSON specification file {path} not found") from None
    except ValueError as e:
        raise ConfigError(f"config.json: invalid JSON: {e}") from None
    validate(spec, bundle)
    return spec


def _need(cond: bool, msg: str, source: str = "config.json") -> None:
    if not cond:
        raise ConfigError(f"{source}: {msg}")


def validate(spec: Any, bundle: str) -> None:
    _need(isinstance(spec, dict), "top level must be an object")
    _need(isinstance(spec.get("ociVersion"), str), "ociVersion: required string")
    root = spec.get("root")
    _need(isinstance(root, dict) and isinstance(root.get("path"), str) and root["path"] != "",
          "root.path: required")
    rootfs = root["path"] if root["path"].startswith("/") else fs.join(bundle, root["path"])
    _need(fs.isdir(rootfs), f"root.path: rootfs {rootfs} does not exist or is not a directory")
    proc = spec.get("process")
    _need(isinstance(proc, dict), "process: required object")
    validate_process(proc, "process")
    for i, m in enumerate(spec.get("mounts") or []):
        _need(isinstance(m, dict), f"mounts[{i}]: must be an object")
        dest = m.get("destination")
        # Relative destinations are deprecated but allowed (relative to "/").
        _need(isinstance(dest, str) and dest != "", f"mounts[{i}].destination: required path")
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
            _need(fs.exists(ns["path"]), f"linux.namespaces[{i}].path: {ns['path']} does not exist")
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
    if linux.get("seccomp"):
        from .seccomp import validate as validate_seccomp
        try:
            validate_seccomp(linux["seccomp"])
        except ValueError as e:
            raise ConfigError(f"config.json: {e}") from None


def validate_process(proc: Any, field: str, source: str = "config.json") -> None:
    """The checks on a process object, for config.json and exec's --process."""
    def need(cond: bool, msg: str) -> None:
        _need(cond, msg, source)
    need(isinstance(proc, dict), f"{field}: must be an object")
    args = proc.get("args")
    need(isinstance(args, list) and len(args) > 0 and all(isinstance(a, str) for a in args),
          f"{field}.args: must be a non-empty list of strings")
    cwd = proc.get("cwd", "/")
    need(isinstance(cwd, str) and cwd.startswith("/"), f"{field}.cwd: {cwd!r} must be an absolute path")
    env = proc.get("env") or []
    need(isinstance(env, list) and all(isinstance(e, str) for e in env), f"{field}.env: must be a list of strings")
    user = proc.get("user") or {}
    need(isinstance(user, dict), f"{field}.user: must be an object")
    for k in ("uid", "gid"):
        v = user.get(k, 0)
        need(isinstance(v, int) and not isinstance(v, bool) and v >= 0,
              f"{field}.user.{k}: must be a non-negative integer")
    gids = user.get("additionalGids") or []
    need(isinstance(gids, list) and all(isinstance(g, int) and g >= 0 for g in gids),
          f"{field}.user.additionalGids: must be a list of non-negative integers")
    umask = user.get("umask")
    need(umask is None or (isinstance(umask, int) and 0 <= umask <= 0o777),
          f"{field}.user.umask: must be an integer between 0 and 0777")
    caps = proc.get("capabilities") or {}
    need(isinstance(caps, dict), f"{field}.capabilities: must be an object")
    from .capabilities import masks
    try:
        masks(caps, field + ".capabilities")
    except ValueError as e:
        raise ConfigError(f"{source}: {e}") from None
    rlimits = proc.get("rlimits") or []
    need(isinstance(rlimits, list), f"{field}.rlimits: must be a list")
    seen: set[str] = set()
    for i, rl in enumerate(rlimits):
        need(isinstance(rl, dict) and rl.get("type") in RLIMITS,
              f"{field}.rlimits[{i}].type: unknown rlimit {rl.get('type') if isinstance(rl, dict) else rl!r}")
        need(rl["type"] not in seen, f"{field}.rlimits[{i}].type: duplicate rlimit {rl['type']}")
        seen.add(rl["type"])
        for k in ("soft", "hard"):
            need(isinstance(rl.get(k, 0), int), f"{field}.rlimits[{i}].{k}: must be an integer")
    oom = proc.get("oomScoreAdj")
    need(oom is None or (isinstance(oom, int) and -1000 <= oom <= 1000),
          f"{field}.oomScoreAdj: must be an integer between -1000 and 1000")
    size = proc.get("consoleSize")
    need(size is None or (isinstance(size, dict) and all(isinstance(size.get(k, 0), int) for k in ("height", "width"))),
          f"{field}.consoleSize: must be an object with integer height and width")
    need(isinstance(proc.get("terminal", False), bool), f"{field}.terminal: must be a boolean")


def rootfs_path(spec: dict[str, Any], bundle: str) -> str:
    p = spec["root"]["path"]
    return fs.realdir(p if p.startswith("/") else fs.join(bundle, p))
