"""``create``: the main process's side (see channel.py for the messages).

Without a user namespace (the common case) the main process enters the new
pid namespace for its children only (unshare(CLONE_NEWPID), or setns to a
path), forks init directly and returns to its own pid namespace. Init is our
child, so `run` waits for it without being a subreaper, and there is no
intermediate process to start and reap. With a user namespace an
intermediate process is needed: it creates (or joins) the user namespace,
waits for its id maps, then the pid namespace, and forks init.

Without a user namespace init never has to be moved into the container's
cgroups by pid (a write to cgroup.procs, which waits for an RCU grace period
in the kernel: 5-30 ms): the cgroups are made first, init is forked straight
into the cgroup2 one (clone.py) and moves itself into the v1 hierarchies
through their ``tasks`` files (init.py), which needs no grace period. Only
where that is not possible (clone3 refused, a user namespace) does the main
process write init's pid, started early by a thread
(cgroups.common.start_attach_grace_period) so the grace period overlaps with
other work. Init waits for "go" before anything that needs its state (the
cgroup namespace, cgroup mounts, hooks, ready)."""

from __future__ import annotations

import posix
import time

from .._sys import consts as c
from .._sys import fs
from . import state as st
from ..cgroups.common import write_file
from .channel import Channel
from .spec import load_spec, rootfs_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..cgroups import CgroupManager


# Always allowed after the config's own device rules, as runc does: mknod of
# anything, and the default /dev nodes and ptys.
ALLOWED_DEVICES = [
    {"allow": True, "type": "c", "major": None, "minor": None, "access": "m"},
    {"allow": True, "type": "b", "major": None, "minor": None, "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "minor": None, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
]


def default_cgroup_path(cid: str) -> str:
    return f"/dockyard-runtime/{cid}"


def create(root: str, cid: str, bundle: str, pid_file: str | None = None,
           console_socket: str | None = None, no_pivot: bool = False, preserve_fds: int = 0,
           subreaper: bool = False, spec: dict[str, Any] | None = None) -> st.State:
    """Create the container and return its state with init waiting on the
    exec fifo. ``subreaper``: init's exit status will be waited for (run).
    ``spec``: the bundle's config.json, when the caller loaded it already."""
    st.validate_id(cid)
    bundle = fs.abspath(bundle)
    if spec is None:
        spec = load_spec(bundle)
    if (spec.get("process") or {}).get("terminal") and not console_socket:
        raise st.RuntimeError_("cannot allocate tty if the runtime will detach without setting console socket "
                               "(process.terminal is true)")
    sdir = st.state_dir(root, cid)
    try:
        posix.mkdir(sdir, 0o711)
    except FileNotFoundError:
        fs.makedirs(root, mode=0o711, exist_ok=True)
        try:
            posix.mkdir(sdir, 0o711)
        except FileExistsError:
            raise st.RuntimeError_(f"container with id exists: {cid}") from None
    except FileExistsError:
        raise st.RuntimeError_(f"container with id exists: {cid}") from None
    undo: list[Any] = [lambda: _remove_dir(sdir)]
    try:
        return _create(root, cid, bundle, spec, sdir, pid_file, console_socket, no_pivot,
                       preserve_fds, subreaper, undo)
    except BaseException:
        for fn in reversed(undo):
            try:
                fn()
            except Exception:
                pass
        raise


def _remove_dir(path: str) -> None:
    for name in posix.listdir(path):
        posix.unlink(fs.join(path, name))
    posix.rmdir(path)


def _create(root: str, cid: str, bundle: str, spec: dict[str, Any], sdir: str,
            pid_file: str | None, console_socket: str | None, no_pivot: bool,
            preserve_fds: int, subreaper: bool, undo: list[Any]) -> st.State:
    from ..cgroups import open_manager
    from ..cgroups.common import choose, normalize_path

    linux = spec.get("linux") or {}
    namespaces = linux.get("namespaces") or []
    all_ns = {ns["type"] for ns in namespaces}
    new_ns = {ns["type"] for ns in namespaces if not ns.get("path")}
    join = [(ns["type"], ns["path"]) for ns in namespaces if ns.get("path")]
    join_paths = dict(join)

    cgroup_mode, cgroup_root = choose()
    cgroup_path = normalize_path(linux.get("cgroupsPath", ""), default_cgroup_path(cid))
    cg = open_manager(cgroup_path, cgroup_root, cgroup_mode)

    fifo = fs.join(sdir, "exec.fifo")
    posix.mkfifo(fifo, 0o622)
    posix.chmod(fifo, 0o622)  # whatever the umask: init may run as any user when it opens it
    hooks = spec.get("hooks") or {}
    state = st.State(id=cid, bundle=bundle, status=st.CREATING,
                     created=time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
                     cgroup_path=cgroup_path, cgroup_mode=cgroup_mode, cgroup_root=cgroup_root,
                     annotations=spec.get("annotations") or {}, rootfs=rootfs_path(spec, bundle),
                     owner="root", creator_pid=posix.getpid(), creator_start=st.proc_start_time(posix.getpid()),
                     cgroup_dirs=_all_dirs(cg), cgroup_freezer=_freezer_file(cg, cgroup_mode),
                     config={"hooks": hooks, "new_namespaces": sorted(new_ns), "namespaces": sorted(all_ns)})
    # Saved now so that `delete --force` finds the cgroup if we are killed.
    st.save(root, state)
    # What `exec` applies to a new process, apart: every other command reads
    # state.json, and a seccomp profile is most of a config's size.
    st.save_exec_config(root, cid, {"process": spec.get("process") or {}, "seccomp": linux.get("seccomp")})
    if linux.get("seccomp"):
        # Compiled (or found in the cache) here, before the fork: init only
        # loads it, and no user namespace keeps it from the state root.
        from .seccomp import prepare
        try:
            ctx_seccomp = prepare(linux["seccomp"], root)
        except (OSError, ValueError) as e:
            raise st.RuntimeError_(f"linux.seccomp: {e}") from None
    else:
        ctx_seccomp = None
    has_hooks = bool(hooks.get("prestart") or hooks.get("createRuntime") or hooks.get("createContainer"))
    ctx = {
        "id": cid, "spec": spec, "bundle": bundle, "rootfs": state.rootfs, "fifo_path": fifo,
        "new_namespaces": sorted(new_ns), "all_namespaces": sorted(all_ns), "join": join,
        "cgroup_paths": cg.paths(), "cgroup_mode": cgroup_mode, "console_socket": console_socket,
        "no_pivot": no_pivot, "preserve_fds": preserve_fds, "has_hooks": has_hooks, "state_json": "",
        "cgroup_join": [],  # v1 directories init moves itself into
        "seccomp": ctx_seccomp,
    }

    parent, child = Channel.pair()
    userns = "user" in all_ns
    inter: Channel | None = None
    forked = init_pid = 0
    try:
        if userns:
            from ..cgroups.common import start_attach_grace_period
            start_attach_grace_period()
            if subreaper:
                from .._sys import libc
                libc.prctl(c.PR_SET_CHILD_SUBREAPER, 1)
            inter, inter_child = Channel.pair()
            forked = posix.fork()
            if forked == 0:
                parent.close()
                inter.close()
                _intermediate(ctx, inter_child, child)  # never returns
            inter_child.close()
            child.close()
            _prepare_cgroup(cg, linux, undo)
            msg = inter.recv("userns", "pid")
            if msg["type"] == "userns":
                _write_id_maps(forked, linux)
                inter.send("mapped")
                msg = inter.recv("pid")
            init_pid = int(msg["pid"])
            _reap(forked)
            try:
                cg.add_pid(init_pid)
            except OSError as e:
                raise st.RuntimeError_(f"cgroup: adding init to {cgroup_path}: {e}") from None
        else:
            _prepare_cgroup(cg, linux, undo)
            v1_dirs, v2_dir = cg.placement()
            ctx["cgroup_join"] = v1_dirs
            forked, in_v2 = _fork_init(ctx, child, parent, new_ns, join_paths, v2_dir)
            init_pid = forked
            child.close()
            if v2_dir and not in_v2:
                try:
                    write_file(fs.join(v2_dir, "cgroup.procs"), str(init_pid))
                except OSError as e:
                    raise st.RuntimeError_(f"cgroup: adding init to {cgroup_path}: {e}") from None
        state.pid = init_pid
        state_json = started_json = ""
        if hooks:
            from .jsonio import dumps
            doc = state.oci()
            doc["pid"] = init_pid
            doc["status"] = st.CREATING  # the spec's state while the create hooks run
            state_json = dumps(doc)
            doc["status"] = st.CREATED
            started_json = dumps(doc)
        parent.send("go", state=started_json)
        state.init_start_time = st.proc_start_time(init_pid)
        state.status = st.CREATED
        msg = parent.recv("hooks", "ready")
        if msg["type"] == "hooks":
            from .hooks import run_hooks
            run_hooks(hooks.get("prestart"), state_json)
            run_hooks(hooks.get("createRuntime"), state_json)
            parent.send("hooks-done", state=state_json)
            parent.recv("ready")
    except BaseException:
        for p in (init_pid, forked):
            if p:
                try:
                    posix.kill(p, 9)
                except ProcessLookupError:
                    pass
        for p in (forked, init_pid):
            if p:
                _reap(p)
        if init_pid:
            _wait_gone(init_pid)
        raise
    finally:
        parent.close()
        if inter is not None:
            inter.close()
    st.save(root, state)
    if pid_file:
        st.write_pid_file(pid_file, init_pid)
    return state


def _all_dirs(cg: CgroupManager) -> list[str]:
    v1_dirs, v2_dir = cg.placement()
    return v1_dirs + [v2_dir] if v2_dir else v1_dirs


def _freezer_file(cg: CgroupManager, mode: str) -> str:
    if mode == "v2":
        return fs.join(cg.placement()[1], "cgroup.freeze")
    d = cg.paths().get("freezer")
    return fs.join(d, "freezer.state") if d else ""


def _prepare_cgroup(cg: CgroupManager, linux: dict[str, Any], undo: list[Any]) -> None:
    cg_created = not cg.exists()
    cg.create()
    if cg_created:
        undo.append(cg.destroy)
    # Limits before anything of the container is in the cgroup: rewriting
    # the device list goes through "deny all", which would fail init's
    # mknod of /dev nodes if it ran meanwhile, and a memory limit below
    # what init has charged by then could not be set.
    _apply_resources(cg, dict(linux.get("resources") or {}))


def _fork_init(ctx: dict[str, Any], chan: Channel, parent: Channel, new_ns: set[str],
               join_paths: dict[str, str], v2_dir: str = "") -> tuple[int, bool]:
    """Fork init into the container's pid namespace without an intermediate
    process: the pid namespace applies to our children only. Returns init's
    pid and whether it was born in the cgroup2 directory v2_dir."""
    # Init's modules are loaded here, not in the child: after the fork every
    # first write to a page costs a copy, which makes importing there slower
    # than here (measured), and the cgroup wait no longer needs covering.
    from .init import preload, run_init
    preload(ctx["spec"])
    pidns = -1
    if "pid" in new_ns or "pid" in join_paths:
        from .._sys import libc
        pidns = posix.open("/proc/self/ns/pid", posix.O_RDONLY | posix.O_CLOEXEC)
        try:
            if "pid" in new_ns:
                libc.unshare(c.CLONE_NEWPID)
            else:
                fd = posix.open(join_paths["pid"], posix.O_RDONLY | posix.O_CLOEXEC)
                try:
                    libc.setns(fd, c.CLONE_NEWPID)
                finally:
                    posix.close(fd)
        except OSError as e:
            posix.close(pidns)
            raise st.RuntimeError_(f"{'unshare' if 'pid' in new_ns else 'join'} pid namespace: {e.strerror}") from None
    try:
        pid, in_v2 = _fork(v2_dir)
        if pid == 0:
            try:
                parent.close()  # so that our reads see EOF if the main process dies
                run_init(ctx, chan)
            finally:
                posix._exit(1)
    finally:
        if pidns >= 0:
            # Back to our own pid namespace for whatever we fork later (hooks).
            from .._sys import libc
            libc.setns(pidns, c.CLONE_NEWPID)
            posix.close(pidns)
    return pid, in_v2


def _fork(v2_dir: str) -> tuple[int, bool]:
    """os.fork(), with the child born in the cgroup2 directory v2_dir when
    the kernel allows (see clone.py); the flag says whether it was."""
    if v2_dir:
        from .clone import fork_into_cgroup, single_threaded
        if single_threaded():
            try:
                fd = posix.open(v2_dir, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
            except OSError:
                fd = -1  # the write to cgroup.procs reports it
            if fd >= 0:
                try:
                    return fork_into_cgroup(fd), True
                except OSError:
                    pass  # no clone3 here: fork, then move init by pid
                finally:
                    posix.close(fd)
    return posix.fork(), False


def _apply_resources(cg: CgroupManager, resources: dict[str, Any]) -> None:
    if "devices" in resources:
        # As runc: linux.devices only makes the nodes; access is what resources.devices allows
        # (docker's --device r|w|m permissions depend on it).
        resources["devices"] = list(resources["devices"] or []) + ALLOWED_DEVICES
    try:
        cg.set_resources(resources)
    except (OSError, ValueError) as e:
        raise st.RuntimeError_(f"cgroup: applying linux.resources: {e}") from None


def _reap(pid: int) -> None:
    try:
        posix.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _wait_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if posix.waitpid(pid, posix.WNOHANG)[0]:
                return
        except ChildProcessError:
            if st.proc_start_time(pid) == 0:
                return
        time.sleep(0.002)


def _write_id_maps(pid: int, linux: dict[str, Any]) -> None:
    def fmt(maps: list[dict[str, int]]) -> bytes:
        return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps).encode()

    for name, data in (("setgroups", b"allow"), ("uid_map", fmt(linux.get("uidMappings") or [])),
                       ("gid_map", fmt(linux.get("gidMappings") or []))):
        fd = posix.open(f"/proc/{pid}/{name}", posix.O_WRONLY | posix.O_CLOEXEC)
        try:
            posix.write(fd, data)
        except OSError as e:
            raise st.RuntimeError_(f"writing /proc/{pid}/{name} for linux.{name}: {e.strerror}") from None
        finally:
            posix.close(fd)


def _intermediate(ctx: dict[str, Any], chan: Channel, init_chan: Channel) -> None:
    """With a user namespace: create or join it (the main process writes the
    id maps), then the pid namespace it owns, then fork init."""
    from .._sys import libc
    step = "intermediate"
    try:
        libc.set_process_name("dockyard:[1:INTER]")
        from .init import preload, run_init
        step = "preload"
        preload(ctx["spec"])  # the container's root may not reach the host's Python library
        join = dict(ctx["join"])
        if "user" in join:
            step = f"join user namespace {join['user']}"
            fd = posix.open(join["user"], posix.O_RDONLY | posix.O_CLOEXEC)
            try:
                libc.setns(fd, c.CLONE_NEWUSER)
            finally:
                posix.close(fd)
        else:
            step = "unshare user namespace"
            libc.unshare(c.CLONE_NEWUSER)
            chan.send("userns")
            chan.recv("mapped")
        step = "become root in the user namespace"
        posix.setresgid(0, 0, 0)
        posix.setresuid(0, 0, 0)
        if "pid" in join:
            step = f"join pid namespace {join['pid']}"
            fd = posix.open(join["pid"], posix.O_RDONLY | posix.O_CLOEXEC)
            try:
                libc.setns(fd, c.CLONE_NEWPID)
            finally:
                posix.close(fd)
        elif "pid" in ctx["new_namespaces"]:
            step = "unshare pid namespace"
            libc.unshare(c.CLONE_NEWPID)
        step = "fork init"
        pid = posix.fork()
    except BaseException as e:
        chan.send_error(step, e)
        posix._exit(1)
    if pid == 0:
        try:
            chan.close()
            run_init(ctx, init_chan)
        finally:
            posix._exit(1)
    try:
        init_chan.close()
        chan.send("pid", pid=pid)
    finally:
        posix._exit(0)
