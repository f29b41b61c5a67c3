"""The manager interface and the choice between v1 and v2."""

from __future__ import annotations

import posix

from .._sys import fs

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
    def placement(self) -> tuple[list[str], str]: ...


def detect_mode(root: str = CGROUP_ROOT) -> str:
    """'v2' on a unified host, 'v1' on legacy and hybrid hosts."""
    try:
        with open(fs.join(root, "cgroup.controllers")) as f:
            f.read()
        return "v2"
    except OSError:
        return "v1"


V2_ROOT_ENV = "DOCKYARD_CGROUP2_ROOT"


def start_attach_grace_period(root: str = CGROUP_ROOT) -> None:
    """Start, in a thread, the RCU grace period that the kernel's first move
    of a task between cgroups waits for.

    Writing to cgroup.procs takes cgroup_threadgroup_rwsem for writing; the
    first writer after a quiet spell waits for an RCU grace period (5-15 ms
    here), later writers within about one more grace period do not. Moving
    ourselves into the cgroup we are already in (a no-op) starts that wait
    while the runtime is still importing and reading its config, so the real
    move of the container's init finds the lock warm. Best effort: any error
    just leaves the later write to wait as before."""
    import _thread
    _thread.start_new_thread(_move_self_in_place, (root,))


def _move_self_in_place(root: str) -> None:
    try:
        with open("/proc/self/cgroup", "rb") as f:
            lines = f.read().decode().splitlines()
        own: dict[str, str] = {}
        for line in lines:
            _, names, path = line.split(":", 2)
            for name in names.split(",") if names else [""]:
                own[name] = path
        candidates = []
        if "" in own:  # cgroup2: the unified half of a hybrid host, or the whole tree
            candidates += [f"{root}/unified{own['']}", f"{root}{own['']}"]
        candidates += [f"{root}/{c}{own[c]}" for c in ("pids", "memory", "cpu", "freezer") if c in own]
        for d in candidates:
            try:
                fd = posix.open(fs.join(d, "cgroup.procs"), posix.O_WRONLY | posix.O_CLOEXEC)
            except OSError:
                continue
            try:
                posix.write(fd, b"0")  # "0": the writing process itself
            finally:
                posix.close(fd)
            return
    except (OSError, ValueError):
        pass


def choose(root: str = CGROUP_ROOT) -> tuple[str, str]:
    """(mode, root) for a new container: the host's layout, unless
    $DOCKYARD_CGROUP2_ROOT names a cgroup2 mount to use as a pure v2
    hierarchy (the unified half of a hybrid host, where tests exercise v2)."""
    forced = fs.getenv(V2_ROOT_ENV)
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
    return fs.normpath(cgroups_path)


def open_manager(cgroups_path: str, root: str = CGROUP_ROOT, mode: str | None = None) -> CgroupManager:
    mode = mode or detect_mode(root)
    if mode == "v2":
        from .v2 import V2Manager
        return V2Manager(cgroups_path, root)
    from .v1 import V1Manager
    return V1Manager(cgroups_path, root)


def remove_if_empty(cgroups_path: str, root: str = CGROUP_ROOT) -> None:
    """Remove a cgroup in each hierarchy where nothing lives in it any more
    (a daemon's cgroup parent after its last container); where a process or
    a child cgroup remains, rmdir fails with EBUSY and it stays."""
    v1, unified = open_manager(cgroups_path, root).placement()
    for d in v1 + ([unified] if unified else []):
        try:
            posix.rmdir(d)
        except OSError:
            pass


def write_file(path: str, value: str) -> None:
    # O_TRUNC as runc: a no-op on cgroupfs, right on a stand-in tree.
    fd = posix.open(path, posix.O_WRONLY | posix.O_TRUNC | posix.O_CLOEXEC)
    try:
        posix.write(fd, value.encode())
    finally:
        posix.close(fd)


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


def rmdir_retry(path: str, timeout: float = 1.0) -> None:
    """A cgroup can be busy for a moment after its last task died: retry
    with a short, growing pause."""
    import errno
    import time
    delay = 0.0005
    deadline = time.monotonic() + timeout
    while True:
        try:
            posix.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
