"""Container state: saved atomically in <root>/<id>/state.json and re-derived
from the kernel on every read (as runc's refreshState): a live init with the
saved start time, the exec fifo still present -> created; frozen -> paused;
init gone or a zombie -> stopped; otherwise running."""

import posix

from .._sys import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
else:
    # Annotations are evaluated here (no `from __future__ import annotations`:
    # importing __future__ costs 0.2 ms at every start of the runtime).
    Any = object

OCI_VERSION = "1.2.0"

CREATING, CREATED, RUNNING, PAUSED, STOPPED = "creating", "created", "running", "paused", "stopped"


class RuntimeError_(Exception):
    """A runtime failure reported to the caller as one line on stderr."""


class ContainerNotExist(RuntimeError_):
    pass


def validate_id(cid: str) -> None:
    """runc's rule: [\\w+.-]+, and not . or .. (a path component)."""
    ok = bool(cid) and cid not in (".", "..") and all(ch.isalnum() or ch in "_+.-" for ch in cid) \
        and cid.isascii()
    if not ok:
        raise RuntimeError_(f"invalid container id {cid!r}")


class State:
    """What the runtime remembers about a container, saved as state.json."""

    FIELDS = {"id": "", "bundle": "", "pid": 0, "status": CREATING, "created": "", "init_start_time": 0,
              "cgroup_path": "", "cgroup_mode": "", "cgroup_root": "/sys/fs/cgroup", "annotations": None, "config": None, "rootfs": "",
              "owner": "", "creator_pid": 0, "creator_start": 0, "cgroup_dirs": (), "cgroup_freezer": ""}

    id: str
    bundle: str
    pid: int
    status: str
    created: str
    init_start_time: int
    cgroup_path: str
    cgroup_mode: str
    cgroup_root: str
    annotations: dict[str, str]
    config: dict[str, Any]  # hooks and what delete/exec need
    rootfs: str
    owner: str
    creator_pid: int  # the `create` process, while the status is "creating"
    creator_start: int
    # Where the cgroup is, so that delete and state need neither the cgroup
    # managers nor /proc/self/mountinfo (absent from older state files):
    cgroup_dirs: list[str]  # every hierarchy's directory
    cgroup_freezer: str  # the file saying whether it is frozen

    def __init__(self, **fields: Any) -> None:
        for k, default in self.FIELDS.items():
            v = fields.get(k, default)
            setattr(self, k, {} if v is None else v)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.FIELDS}

    def oci(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "status": self.status,
            "pid": self.pid if self.status in (CREATED, RUNNING, PAUSED) else 0,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        return out


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write a temporary file and rename it over path: readers see the old
    or the new content. No fsync: the runtime's state lives on tmpfs (/run)
    and means nothing after a reboot."""
    tmp = f"{path}.tmp{posix.getpid()}"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, mode)
    try:
        posix.write(fd, data)
    except BaseException:
        posix.close(fd)
        posix.unlink(tmp)
        raise
    posix.close(fd)
    posix.replace(tmp, path)


def write_pid_file(path: str, pid: int) -> None:
    atomic_write(fs.abspath(path), str(pid).encode())


def state_dir(root: str, cid: str) -> str:
    return fs.join(root, cid)


def save(root: str, st: State) -> None:
    from .jsonio import dumps
    atomic_write(fs.join(state_dir(root, st.id), "state.json"), dumps(st.to_dict()).encode(), mode=0o600)


def save_exec_config(root: str, cid: str, config: dict[str, Any]) -> None:
    from .jsonio import dumps
    atomic_write(fs.join(state_dir(root, cid), "exec.json"), dumps(config).encode(), mode=0o600)


def load_exec_config(root: str, cid: str) -> dict[str, Any]:
    """The container's process and seccomp, for exec."""
    from .jsonio import loads
    validate_id(cid)
    try:
        with open(fs.join(state_dir(root, cid), "exec.json"), "rb") as f:
            return loads(f.read())
    except FileNotFoundError:
        raise ContainerNotExist(f"container {cid} does not exist") from None


def load(root: str, cid: str) -> State:
    from .jsonio import loads
    validate_id(cid)
    path = fs.join(state_dir(root, cid), "state.json")
    try:
        with open(path, "rb") as f:
            data = loads(f.read())
    except FileNotFoundError:
        raise ContainerNotExist(f"container {cid} does not exist") from None
    except ValueError as e:
        raise RuntimeError_(f"container {cid}: corrupt state file: {e}") from None
    st = State(**data)
    refresh(root, st)
    return st


def proc_start_time(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks); 0 when gone
    or a zombie, which the runtime treats as stopped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    rest = data[data.rfind(b")") + 2:].split()
    if rest[0] in (b"Z", b"X"):
        return 0
    return int(rest[19])


def init_alive(st: State) -> bool:
    return st.pid > 0 and proc_start_time(st.pid) == st.init_start_time


def refresh(root: str, st: State) -> None:
    if st.status == CREATING and st.pid == 0:
        # Still being created, unless the creating process is gone (killed):
        # then it is a stopped container that `delete` cleans up.
        if not (st.creator_pid and proc_start_time(st.creator_pid) == st.creator_start):
            st.status = STOPPED
        return
    if not init_alive(st):
        st.status = STOPPED
        return
    if fs.exists(fs.join(state_dir(root, st.id), "exec.fifo")):
        st.status = CREATED
        return
    if st.cgroup_freezer:
        try:
            with open(st.cgroup_freezer, "rb") as f:
                frozen = f.read().strip() in (b"FROZEN", b"FREEZING", b"1")
        except OSError:
            frozen = False
        if frozen:
            st.status = PAUSED
            return
    elif st.cgroup_path:
        from ..cgroups import open_manager
        if open_manager(st.cgroup_path, st.cgroup_root, st.cgroup_mode or None).is_frozen():
            st.status = PAUSED
            return
    st.status = RUNNING
