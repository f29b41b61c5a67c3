"""start, kill, delete, pause, resume, ps, list, update, events: operations
on an existing container, each checking the status it needs first."""

import posix

from .._sys import fs
from . import state as st

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..cgroups import CgroupManager
else:
    # Annotations are evaluated here (no `from __future__ import annotations`:
    # importing __future__ costs 0.2 ms at every start of the runtime).
    Any = CgroupManager = object

SIGKILL = 9
# Linux signal numbers (x86, arm, powerpc, s390, riscv; mips, sparc and alpha
# number them differently and are not supported hosts).
SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
           "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
           "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
           "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
           "POLL": 29, "PWR": 30, "SYS": 31}
SIGRTMIN, SIGRTMAX = 34, 64


def cgroup_of(s: st.State) -> CgroupManager:
    from ..cgroups import open_manager
    return open_manager(s.cgroup_path, s.cgroup_root, s.cgroup_mode or None)


def _status_error(verb: str, s: st.State) -> st.RuntimeError_:
    return st.RuntimeError_(f"cannot {verb} a container that is {s.status}")


def start(root: str, cid: str) -> None:
    s = st.load(root, cid)
    if s.status != st.CREATED:
        if s.status == st.STOPPED:
            raise st.RuntimeError_("cannot start a container that has stopped")
        if s.status in (st.RUNNING, st.PAUSED):
            raise st.RuntimeError_("cannot start an already running container")
        raise _status_error("start", s)
    release(root, s)


def release(root: str, s: st.State) -> None:
    """Open the exec fifo: init, blocked opening it for writing, writes a
    byte and goes on to execve."""
    import _thread
    fifo = fs.join(st.state_dir(root, s.id), "exec.fifo")
    done = _thread.allocate_lock()
    done.acquire()

    def watch_init() -> None:
        # If init dies before writing, open and close the fifo for writing
        # ourselves: the blocking open and read below then end, empty-handed.
        # (A signal timer could interrupt them instead, but its handler might
        # run after the byte was read.)
        while not done.acquire(timeout=0.05):
            if not st.init_alive(s):
                try:
                    posix.close(posix.open(fifo, posix.O_WRONLY | posix.O_NONBLOCK | posix.O_CLOEXEC))
                except OSError:
                    pass

    _thread.start_new_thread(watch_init, ())
    try:
        fd = posix.open(fifo, posix.O_RDONLY | posix.O_CLOEXEC)  # meets init's open
        try:
            data = posix.read(fd, 1)
        finally:
            posix.close(fd)
    finally:
        done.release()
    if not data:
        raise st.RuntimeError_("cannot start a container that has stopped")
    posix.unlink(fifo)
    s.status = st.RUNNING
    hooks = (s.config.get("hooks") or {}).get("poststart")
    if hooks:
        from .hooks import run_hooks_warn
        from .jsonio import dumps
        run_hooks_warn(hooks, dumps(s.oci()))


def parse_signal(value: str) -> int:
    v = value.upper()
    if v.isdigit():
        n = int(v)
        if 0 < n <= SIGRTMAX:
            return n
        raise st.RuntimeError_(f"invalid signal: {value}")
    v = v[3:] if v.startswith("SIG") else v
    if v.startswith(("RTMIN+", "RTMAX-")) and v[6:].isdigit():
        n = SIGRTMIN + int(v[6:]) if v.startswith("RTMIN") else SIGRTMAX - int(v[6:])
        if SIGRTMIN <= n <= SIGRTMAX:
            return n
    elif v in ("RTMIN", "RTMAX"):
        return SIGRTMIN if v == "RTMIN" else SIGRTMAX
    elif v in SIGNALS:
        return SIGNALS[v]
    raise st.RuntimeError_(f"unknown signal {value!r}")


def kill(root: str, cid: str, sig: int, all_processes: bool = False) -> None:
    s = st.load(root, cid)
    if s.status == st.CREATING:
        raise _status_error("kill", s)
    if all_processes:
        # runc allows --all on a stopped container: it cleans up what is left.
        cg = cgroup_of(s) if s.cgroup_path else None
        if cg is None or not cg.exists():
            if s.status == st.STOPPED:
                return
            raise st.RuntimeError_("container's cgroup is gone")
        frozen = cg.is_frozen()
        for pid in cg.pids():
            _signal_pid(pid, sig)
        if frozen and sig == SIGKILL:
            cg.thaw()  # a frozen task cannot die until thawed
        return
    if s.status == st.STOPPED:
        raise st.RuntimeError_("container not running")
    try:
        posix.kill(s.pid, sig)
    except ProcessLookupError:
        raise st.RuntimeError_("container not running") from None
    if s.status == st.PAUSED and sig == SIGKILL:
        cgroup_of(s).thaw()


def _signal_pid(pid: int, sig: int) -> None:
    try:
        posix.kill(pid, sig)
    except ProcessLookupError:
        pass


def delete(root: str, cid: str, force: bool = False) -> None:
    try:
        s = st.load(root, cid)
    except st.ContainerNotExist:
        if force:
            # A state dir without state.json: a create killed before it wrote
            # anything. Nothing else can exist yet.
            _remove_state_dir(st.state_dir(root, cid))
            return
        raise
    if s.status != st.STOPPED and not force:
        if s.status == st.CREATED:
            pass  # runc deletes a created container without --force
        else:
            raise st.RuntimeError_(f"cannot delete container {cid} that is not stopped: {s.status}")
    destroy(root, s)


def destroy(root: str, s: st.State) -> None:
    """Kill what is left of the container, remove its cgroup and state, run
    the poststop hooks."""
    if not (s.status == st.STOPPED and s.cgroup_dirs and _remove_empty_cgroup(s.cgroup_dirs)):
        cg = cgroup_of(s) if s.cgroup_path else None
        if cg is not None and not cg.exists():
            cg = None
        if s.status != st.STOPPED or (cg is not None and cg.pids()):
            _kill_all(s, cg)
        if cg is not None:
            try:
                cg.destroy()
            except OSError as e:
                raise st.RuntimeError_(f"unable to remove container's cgroup: {e}") from None
    _remove_state_dir(st.state_dir(root, s.id))
    hooks = (s.config.get("hooks") or {}).get("poststop")
    if hooks:
        from .hooks import run_hooks_warn
        from .jsonio import dumps
        s.status = st.STOPPED
        run_hooks_warn(hooks, dumps(s.oci()))


def _remove_empty_cgroup(dirs: list[str]) -> bool:
    """The common case of delete, from the directories the state recorded:
    a stopped container whose cgroup holds no process. False when some
    process is left (or a directory is busy): the cgroup manager's way then
    kills what is left and removes the rest."""
    try:
        with open(fs.join(dirs[0], "cgroup.procs"), "rb") as f:
            if f.read().strip():
                return False
    except FileNotFoundError:
        pass  # removed already (or never made)
    for d in dirs:
        try:
            posix.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            return False  # busy: a process elsewhere, or one just dying
    return True


def _remove_state_dir(path: str) -> None:
    """The state dir holds plain files only (state.json, exec.fifo, temp files)."""
    try:
        names = posix.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            posix.unlink(fs.join(path, name))
        except FileNotFoundError:
            pass
    try:
        posix.rmdir(path)
    except FileNotFoundError:
        pass


def _kill_all(s: st.State, cg: CgroupManager | None) -> None:
    """SIGKILL the init and everything in the cgroup, and wait until gone."""
    import time
    pids = set(cg.pids()) if cg is not None else set()
    if st.init_alive(s):
        pids.add(s.pid)
    for pid in pids:
        _signal_pid(pid, SIGKILL)
    if cg is not None and cg.is_frozen():
        cg.thaw()
    deadline = time.monotonic() + 10
    delay = 0.0005
    while time.monotonic() < deadline:
        alive = [p for p in pids if st.proc_start_time(p)]
        remaining = cg.pids() if cg is not None else []
        if not alive and not remaining:
            return
        for p in remaining:
            _signal_pid(p, SIGKILL)
        for p in alive:
            try:
                posix.waitpid(p, posix.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def pause(root: str, cid: str) -> None:
    s = st.load(root, cid)
    if s.status not in (st.RUNNING, st.CREATED):
        raise st.RuntimeError_(f"container not running: {s.status}")
    cgroup_of(s).freeze()


def resume(root: str, cid: str) -> None:
    s = st.load(root, cid)
    if s.status != st.PAUSED:
        raise st.RuntimeError_("container not paused")
    cgroup_of(s).thaw()


def ps_pids(root: str, cid: str) -> list[int]:
    s = st.load(root, cid)
    if s.status == st.STOPPED and not s.cgroup_path:
        return []
    cg = cgroup_of(s)
    return cg.pids() if cg.exists() else []


def list_containers(root: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    try:
        names = sorted(posix.listdir(root))
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


def update(root: str, cid: str, resources: dict[str, Any]) -> None:
    s = st.load(root, cid)
    if s.status in (st.STOPPED, st.CREATING):
        raise st.RuntimeError_(f"cannot update a container that is {s.status}")
    cg = cgroup_of(s)
    try:
        cg.set_resources(resources)
    except (OSError, ValueError) as e:
        raise st.RuntimeError_(f"unable to set cgroup resources: {e}") from None
    merged = dict(s.config.get("resources") or {})
    for key, value in resources.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    s.config["resources"] = merged
    st.save(root, s)


def stats(root: str, cid: str) -> dict[str, Any]:
    """The data of runc's `events --stats` (its types.Stats)."""
    s = st.load(root, cid)
    if s.status == st.STOPPED:
        raise st.RuntimeError_("container not running")
    return runc_stats(cgroup_of(s).stats())


def runc_stats(raw: dict[str, Any]) -> dict[str, Any]:
    """Our cgroup stats in the shape of runc's types.Stats (what runc's and
    containerd's users parse)."""
    mem = raw.get("memory") or {}
    mstat = mem.get("stats") or {}
    cpu = raw.get("cpu") or {}
    usage = cpu.get("usage") or {}
    thr = cpu.get("throttling") or {}
    pids = raw.get("pids") or {}
    return {
        "cpu": {"usage": {"total": usage.get("total", 0), "percpu": usage.get("percpu") or [],
                          "kernel": usage.get("kernel", 0), "user": usage.get("user", 0)},
                "throttling": {"periods": thr.get("nr_periods", 0), "throttled_periods": thr.get("nr_throttled", 0),
                               "throttled_time": thr.get("throttled_time", 0)}},
        "memory": {"cache": mstat.get("cache", mstat.get("file", 0)),
                   "usage": {"limit": mem.get("limit", 0), "usage": mem.get("usage", 0),
                             "max": mem.get("max_usage", 0), "failcnt": mem.get("failcnt", 0)},
                   "raw": mstat},
        "pids": {"current": pids.get("current", 0), "limit": max(pids.get("limit", 0), 0)},
        "blkio": {}, "hugetlb": {}, "intel_rdt": {}, "network_interfaces": None,
    }


def events(root: str, cid: str, interval: float, write: Any) -> None:
    """Stats every interval, and an "oom" event as soon as the kernel's OOM
    killer strikes in the container, until the container stops."""
    import time
    s = st.load(root, cid)
    cg = cgroup_of(s)
    ooms = cg.oom_kill_count()
    next_stats = time.monotonic()
    while True:
        now = time.monotonic()
        alive = st.init_alive(s)
        count = cg.oom_kill_count() if cg.exists() else ooms
        if count > ooms:
            write({"type": "oom", "id": cid})
            ooms = count
        if not alive:
            return
        if now >= next_stats:
            write({"type": "stats", "id": cid, "data": runc_stats(cg.stats())})
            next_stats = now + interval
        time.sleep(min(0.2, max(next_stats - time.monotonic(), 0.01)))


def forward_signals(pid: int) -> None:
    """Pass on to pid the signals a terminal or supervisor sends us."""
    import _signal
    for sig in (1, 2, 3, 10, 12, 15):  # HUP INT QUIT USR1 USR2 TERM
        _signal.signal(sig, lambda n, _f: _signal_pid(pid, n))


def reap(pid: int, block: bool = True) -> int | None:
    """Reap our children (orphans come to us as subreaper) until pid is
    among them: its exit status in the shell's convention (128+signal when
    killed). None if it is still running and not block; 255 if it is not
    our child at all."""
    while True:
        try:
            wpid, status = posix.waitpid(-1, 0 if block else posix.WNOHANG)
        except ChildProcessError:
            return 255
        except InterruptedError:
            continue
        if wpid == 0:
            return None
        if wpid == pid:
            if posix.WIFSIGNALED(status):
                return 128 + posix.WTERMSIG(status)
            return posix.WEXITSTATUS(status)


def forward_and_wait(pid: int) -> int:
    """Wait for pid (our child, or reparented to us as subreaper), passing
    on the signals a terminal or supervisor sends us."""
    forward_signals(pid)
    code = reap(pid)
    return 255 if code is None else code
