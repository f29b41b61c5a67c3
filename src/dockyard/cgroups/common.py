"""The manager interface and the choice between v1 and v2."""

from __future__ import annotations

import os

CGROUP_ROOT = "/sys/fs/cgroup"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object  # typing costs milliseconds at every runtime start


class CgroupManager(Protocol):
    path: str

    def create(self) -> None: ...
    def add_pid(self, pid: int) -> None: ...
    def set_resources(self, resources: dict[str, Any]) -> None: ...
    def freeze(self) -> None: ...
    def thaw(self) -> None: ...
    def is_frozen(self) -> bool: ...
    def pids(self) -> list[int]: ...
    def stats(self) -> dict[str, Any]: ...
    def oom_kill_count(self) -> int: ...
    def destroy(self) -> None: ...
    def exists(self) -> bool: ...
    def paths(self) -> dict[str, str]: ...


def detect_mode(root: str = CGROUP_ROOT) -> str:
    """'v2' on a unified host, 'v1' on legacy and hybrid hosts."""
    try:
        with open(os.path.join(root, "cgroup.controllers")) as f:
            f.read()
        return "v2"
    except OSError:
        return "v1"


V2_ROOT_ENV = "DOCKYARD_CGROUP2_ROOT"


def choose(root: str = CGROUP_ROOT) -> tuple[str, str]:
    """(mode, root) for a new container: the host's layout, unless
    $DOCKYARD_CGROUP2_ROOT names a cgroup2 mount to use as a pure v2
    hierarchy (the unified half of a hybrid host, where tests exercise v2)."""
    forced = os.environ.get(V2_ROOT_ENV)
    if forced:
        return "v2", forced
    return detect_mode(root), root


def normalize_path(cgroups_path: str, default: str) -> str:
    """An absolute cgroup path inside the hierarchy. Relative paths sit below
    the runtime's default parent; systemd's 'slice:prefix:name' becomes
    slice/prefix-name.scope (no systemd here to delegate to)."""
    if not cgroups_path:
        return default
    if ":" in cgroups_path and not cgroups_path.startswith("/"):
        slice_, prefix, name = (cgroups_path.split(":") + ["", ""])[:3]
        slice_ = slice_ or "system.slice"
        return f"/{slice_}/{prefix}-{name}.scope" if prefix else f"/{slice_}/{name}"
    if not cgroups_path.startswith("/"):
        return "/" + cgroups_path
    return os.path.normpath(cgroups_path)


def open_manager(cgroups_path: str, root: str = CGROUP_ROOT, mode: str | None = None) -> CgroupManager:
    mode = mode or detect_mode(root)
    if mode == "v2":
        from .v2 import V2Manager
        return V2Manager(cgroups_path, root)
    from .v1 import V1Manager
    return V1Manager(cgroups_path, root)


def write_file(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def read_file(path: str) -> str:
    with open(path) as f:
        return f.read()


def read_int(path: str, default: int = 0) -> int:
    try:
        v = read_file(path).strip()
    except OSError:
        return default
    if v == "max":
        return -1
    try:
        return int(v)
    except ValueError:
        return default


def read_kv(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in read_file(path).splitlines():
            parts = line.split()
            if len(parts) == 2:
                try:
                    out[parts[0]] = int(parts[1])
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def rmdir_retry(path: str, attempts: int = 50) -> None:
    """A cgroup can be busy for a moment after its last task died."""
    import errno
    import time
    for i in range(attempts):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or i == attempts - 1:
                raise
            time.sleep(0.01)
