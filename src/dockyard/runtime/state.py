"""Container state: saved atomically in <root>/<id>/state.json and re-derived
from the kernel on every read (as runc's refreshState): a live init with the
saved start time, the exec fifo still present -> created; frozen -> paused;
init gone or a zombie -> stopped; otherwise running."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..fsutil import atomic_write_json

OCI_VERSION = "1.2.0"
_ID_RE = re.compile(r"^[\w+.-]+$")

CREATING, CREATED, RUNNING, PAUSED, STOPPED = "creating", "created", "running", "paused", "stopped"


class RuntimeError_(Exception):
    """A runtime failure reported to the caller as one line on stderr."""


class ContainerNotExist(RuntimeError_):
    pass


def validate_id(cid: str) -> None:
    if not cid or cid in (".", "..") or not _ID_RE.match(cid):
        raise RuntimeError_(f"invalid container id {cid!r}")


@dataclass
class State:
    id: str
    bundle: str
    pid: int = 0
    status: str = CREATING
    created: str = ""
    init_start_time: int = 0
    cgroup_path: str = ""
    cgroup_mode: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # hooks and what delete needs
    rootfs: str = ""
    owner: str = ""

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


def state_dir(root: str, cid: str) -> str:
    return os.path.join(root, cid)


def save(root: str, st: State) -> None:
    atomic_write_json(os.path.join(state_dir(root, st.id), "state.json"), asdict(st), mode=0o600)


def load(root: str, cid: str) -> State:
    validate_id(cid)
    path = os.path.join(state_dir(root, cid), "state.json")
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except FileNotFoundError:
        raise ContainerNotExist(f"container {cid} does not exist") from None
    except ValueError as e:
        raise RuntimeError_(f"container {cid}: corrupt state file: {e}") from None
    st = State(**{k: v for k, v in data.items() if k in State.__dataclass_fields__})
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
        return
    if not init_alive(st):
        st.status = STOPPED
        return
    if os.path.exists(os.path.join(state_dir(root, st.id), "exec.fifo")):
        st.status = CREATED
        return
    if st.cgroup_path:
        from ..cgroups import open_manager
        if open_manager(st.cgroup_path, mode=st.cgroup_mode or None).is_frozen():
            st.status = PAUSED
            return
    st.status = RUNNING
