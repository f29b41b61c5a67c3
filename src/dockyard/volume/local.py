"""The local volume driver (moby's volume/local): one directory per volume
with its metadata beside the data:

    <root>/<name>/_data          the volume's content (or its mount point)
    <root>/<name>/volume.json    labels, driver options, creation time

Volumes with a `type` option are mounted on _data when the first container
uses them and unmounted after the last one lets go (reference counted by
container ID), as docker does for tmpfs, bind (type=none,o=bind) and devices."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import errdefs
from ..core.mount import Mount, is_mounted, mount_all, unmount_all
from ..fsutil import atomic_write_json, read_json

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
VALID_OPTS = ("type", "device", "o", "size")


@dataclass
class Volume:
    name: str
    mountpoint: str
    created_at: str
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    driver: str = "local"
    scope: str = "local"

    @property
    def anonymous(self) -> bool:
        return "com.docker.volume.anonymous" in self.labels


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def validate_opts(opts: dict[str, str]) -> None:
    for k in opts:
        if k not in VALID_OPTS:
            raise errdefs.InvalidArgument(f'invalid option: "{k}"')
    if "size" in opts:
        raise errdefs.InvalidArgument("quota size requested but no quota support")
    if opts and ("type" in opts or "device" in opts or "o" in opts):
        for req in ("type", "device"):
            if not opts.get(req):
                raise errdefs.InvalidArgument(f'missing required option: "{req}"')
    if opts.get("type") in ("none", "") and "bind" in (opts.get("o") or "").split(","):
        if not os.path.isabs(opts.get("device", "")):
            raise errdefs.InvalidArgument(f"bind mount device must be an absolute path: {opts.get('device')}")


def _mount_of(opts: dict[str, str]) -> Mount:
    o = [x for x in (opts.get("o") or "").split(",") if x]
    mtype = opts.get("type") or "none"
    if mtype == "none" and ("bind" in o or "rbind" in o):
        return Mount("bind", opts["device"], tuple(o))
    return Mount(mtype, opts.get("device") or mtype, tuple(o))


class LocalDriver:
    name = "local"

    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, mode=0o701, exist_ok=True)
        self._lock = threading.RLock()
        self._refs: dict[str, set[str]] = {}

    # -- metadata -------------------------------------------------------------
    def _dir(self, name: str) -> str:
        return os.path.join(self.root, name)

    def _load(self, name: str) -> Volume | None:
        d = self._dir(name)
        try:
            meta = read_json(os.path.join(d, "volume.json"))
        except (FileNotFoundError, NotADirectoryError):
            if os.path.isdir(os.path.join(d, "_data")):  # metadata lost: keep the data visible
                return Volume(name, os.path.join(d, "_data"), _now())
            return None
        except ValueError:
            return Volume(name, os.path.join(d, "_data"), _now())
        return Volume(name=name, mountpoint=os.path.join(d, "_data"), created_at=meta.get("CreatedAt", ""),
                      labels=dict(meta.get("Labels") or {}), options=dict(meta.get("Options") or {}))

    def get(self, name: str) -> Volume:
        v = self._load(name) if NAME_RE.match(name or "") else None
        if v is None:
            raise errdefs.NotFound(f"get {name}: no such volume")
        return v

    def exists(self, name: str) -> bool:
        return bool(NAME_RE.match(name or "")) and self._load(name) is not None

    def list(self) -> list[Volume]:
        out = []
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return out
        for n in names:
            if NAME_RE.match(n):
                v = self._load(n)
                if v is not None:
                    out.append(v)
        return out

    # -- lifecycle -------------------------------------------------------------
    def create(self, name: str, opts: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> tuple[Volume, bool]:
        """Returns (volume, created). An existing volume of that name is
        returned as is, as docker does."""
        if not NAME_RE.match(name or ""):
            raise errdefs.InvalidArgument(
                f'create {name}: "{name}" includes invalid characters for a local volume name, only '
                '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path')
        opts = {str(k): str(v) for k, v in (opts or {}).items()}
        try:
            validate_opts(opts)
        except errdefs.InvalidArgument as e:
            raise errdefs.InvalidArgument(f"create {name}: {e.message}") from None
        with self._lock:
            existing = self._load(name)
            if existing is not None:
                return existing, False
            d = self._dir(name)
            os.makedirs(d, mode=0o701, exist_ok=True)
            try:
                os.makedirs(os.path.join(d, "_data"), mode=0o755, exist_ok=True)
                meta = {"CreatedAt": _now(), "Labels": dict(labels or {}), "Options": opts}
                atomic_write_json(os.path.join(d, "volume.json"), meta, mode=0o600)
            except BaseException:
                shutil.rmtree(d, ignore_errors=True)
                raise
            v = self._load(name)
            assert v is not None
            return v, True

    def remove(self, name: str) -> None:
        with self._lock:
            v = self.get(name)
            data = v.mountpoint
            if is_mounted(data):
                unmount_all(data)
            self._refs.pop(name, None)
            # Bound or mounted content stays where it lives; only our directory goes.
            shutil.rmtree(self._dir(name))

    # -- use by containers -------------------------------------------------------
    def needs_mount(self, v: Volume) -> bool:
        return bool(v.options.get("type") or v.options.get("device"))

    def mount(self, name: str, ref: str) -> str:
        """The host path to bind into a container; mounts the volume's
        filesystem on first use."""
        with self._lock:
            v = self.get(name)
            refs = self._refs.setdefault(name, set())
            if self.needs_mount(v) and not is_mounted(v.mountpoint):
                try:
                    mount_all([_mount_of(v.options)], v.mountpoint)
                except OSError as e:
                    raise errdefs.Internal(f"error while mounting volume '{v.mountpoint}': {e}") from None
            refs.add(ref)
            return v.mountpoint

    def unmount(self, name: str, ref: str) -> None:
        with self._lock:
            refs = self._refs.get(name)
            if refs is None:
                return
            refs.discard(ref)
            if refs:
                return
            del self._refs[name]
            v = self._load(name)
            if v is not None and self.needs_mount(v) and is_mounted(v.mountpoint):
                unmount_all(v.mountpoint)

    def mounted_refs(self, name: str) -> set[str]:
        with self._lock:
            return set(self._refs.get(name, set()))

    def size(self, name: str) -> int:
        v = self._load(name)
        if v is None:
            return -1
        total = 0
        for dirpath, dirnames, filenames in os.walk(v.mountpoint):
            for fn in filenames + dirnames:
                try:
                    st = os.lstat(os.path.join(dirpath, fn))
                except OSError:
                    continue
                if not (st.st_mode & 0o170000 == 0o040000):
                    total += st.st_blocks * 512 if st.st_blocks else st.st_size
        return total

    def info(self, v: Volume) -> dict[str, Any]:
        return {"CreatedAt": v.created_at, "Driver": v.driver, "Labels": dict(v.labels) or None,
                "Mountpoint": v.mountpoint, "Name": v.name, "Options": dict(v.options) or None,
                "Scope": v.scope}
