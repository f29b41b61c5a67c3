"""start, state, kill, delete, pause, resume, ps, list: operations on a
created container, each checking the status it needs first."""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import time
from typing import Any

from . import state as st


def _cgroup(s: st.State):
    from ..cgroups import open_manager
    return open_manager(s.cgroup_path, mode=s.cgroup_mode or None)


def start(root: str, cid: str) -> None:
    s = st.load(root, cid)
    if s.status != st.CREATED:
        raise st.RuntimeError_(f"cannot start a container that has {'stopped' if s.status == st.STOPPED else 'already started' if s.status in (st.RUNNING, st.PAUSED) else s.status}")
    fifo = os.path.join(st.state_dir(root, cid), "exec.fifo")
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        # Init opens the fifo for writing as soon as a reader exists; poll so
        # a dead init cannot hang us.
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            if poller.poll(50):
                try:
                    data = os.read(fd, 1)
                except BlockingIOError:
                    data = b""
                if data:
                    break
            if not st.init_alive(s):
                raise st.RuntimeError_("cannot start a container that has stopped")
    finally:
        os.close(fd)
    os.unlink(fifo)
    s.status = st.RUNNING
    from .hooks import run_hooks_warn
    run_hooks_warn((s.config.get("hooks") or {}).get("poststart"), json.dumps(s.oci()))


SIGNALS = {name[3:]: int(getattr(signal, name)) for name in dir(signal)
           if name.startswith("SIG") and not name.startswith("SIG_") and name[3:].isupper()}


def parse_signal(value: str) -> int:
    v = value.upper()
    if v.isdigit():
        n = int(v)
        if 0 < n < 65:
            return n
        raise st.RuntimeError_(f"invalid signal: {value}")
    v = v[3:] if v.startswith("SIG") else v
    if v.startswith("RTMIN+") or v.startswith("RTMAX-"):
        base = signal.SIGRTMIN if v.startswith("RTMIN") else signal.SIGRTMAX
        off = int(v[6:])
        return int(base + off if v.startswith("RTMIN") else base - off)
    if v not in SIGNALS:
        raise st.RuntimeError_(f"unknown signal {value!r}")
    return SIGNALS[v]


def kill(root: str, cid: str, sig: int, all_processes: bool = False) -> None:
    s = st.load(root, cid)
    if s.status == st.STOPPED and not all_processes:
        raise st.RuntimeError_("container not running")
    if all_processes:
        cg = _cgroup(s)
        frozen = cg.is_frozen()
        pids = cg.pids()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if frozen and sig == signal.SIGKILL:
            cg.thaw()  # a frozen task cannot die until thawed
        return
    try:
        os.kill(s.pid, sig)
    except ProcessLookupError:
        raise st.RuntimeError_("container not running") from None
    if s.status == st.PAUSED and sig == signal.SIGKILL:
        _cgroup(s).thaw()


def delete(root: str, cid: str, force: bool = False) -> None:
    try:
        s = st.load(root, cid)
    except st.ContainerNotExist:
        if force:
            return
        raise
    if s.status in (st.RUNNING, st.PAUSED) and not force:
        raise st.RuntimeError_(f"cannot delete container {cid} that is not stopped: {s.status}")
    cg = _cgroup(s) if s.cgroup_path else None
    if s.status != st.STOPPED or (cg and cg.exists() and cg.pids()):
        _kill_all(s, cg)
    if cg is not None and cg.exists():
        try:
            cg.destroy()
        except OSError as e:
            if e.errno not in (errno.ENOENT,):
                raise st.RuntimeError_(f"unable to remove container's cgroup: {e}") from None
    import shutil
    shutil.rmtree(st.state_dir(root, cid), ignore_errors=True)
    from .hooks import run_hooks_warn
    s.status = st.STOPPED
    run_hooks_warn((s.config.get("hooks") or {}).get("poststop"), json.dumps(s.oci()))


def _kill_all(s: st.State, cg: Any) -> None:
    """SIGKILL the init and everything in the cgroup, and wait until gone."""
    pids = set(cg.pids()) if cg is not None and cg.exists() else set()
    if st.init_alive(s):
        pids.add(s.pid)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if cg is not None and cg.exists() and cg.is_frozen():
        cg.thaw()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [p for p in pids if st.proc_start_time(p)]
        remaining = cg.pids() if cg is not None and cg.exists() else []
        if not alive and not remaining:
            return
        for p in remaining:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in alive:
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.005)


def pause(root: str, cid: str) -> None:
    s = st.load(root, cid)
    if s.status not in (st.RUNNING, st.CREATED):
        raise st.RuntimeError_(f"container not running: {s.status}")
    _cgroup(s).freeze()


def resume(root: str, cid: str) -> None:
    s = st.load(root, cid)
    if s.status != st.PAUSED:
        raise st.RuntimeError_("container not paused")
    _cgroup(s).thaw()


def ps_pids(root: str, cid: str) -> list[int]:
    s = st.load(root, cid)
    return _cgroup(s).pids()


def list_containers(root: str) -> list[dict[str, Any]]:
    out = []
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return out
    for name in names:
        try:
            s = st.load(root, name)
        except st.RuntimeError_:
            continue
        out.append({"ociVersion": st.OCI_VERSION, "id": s.id, "pid": s.pid if s.status != st.STOPPED else 0,
                    "status": s.status, "bundle": s.bundle, "rootfs": s.rootfs, "created": s.created,
                    "owner": s.owner, "annotations": s.annotations or None})
    return out


def wait_exit(pid: int) -> int:
    """Wait for our child (run, as subreaper) and translate its status."""
    while True:
        try:
            wpid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if wpid == pid:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status)
