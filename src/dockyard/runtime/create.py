"""``create``: the main process's side. Forks the intermediate process,
places it in the cgroup, writes user namespace maps, and waits for init to
report ready (see channel.py for the message sequence)."""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from .._sys import consts as c
from . import state as st
from .channel import Channel
from .jsonio import dumps
from .spec import load_spec, rootfs_path


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
           subreaper: bool = False) -> st.State:
    st.validate_id(cid)
    bundle = os.path.abspath(bundle)
    spec = load_spec(bundle)
    sdir = st.state_dir(root, cid)
    os.makedirs(root, mode=0o711, exist_ok=True)
    try:
        os.mkdir(sdir, 0o711)
    except FileExistsError:
        raise st.RuntimeError_(f"container with id exists: {cid}") from None
    undo: list[Any] = [lambda: _rmtree(sdir)]
    try:
        state = _create(root, cid, bundle, spec, sdir, pid_file, console_socket, no_pivot,
                        preserve_fds, subreaper, undo)
    except BaseException:
        for fn in reversed(undo):
            try:
                fn()
            except Exception:
                pass
        raise
    return state


def _rmtree(path: str) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def _create(root: str, cid: str, bundle: str, spec: dict[str, Any], sdir: str,
            pid_file: str | None, console_socket: str | None, no_pivot: bool,
            preserve_fds: int, subreaper: bool, undo: list[Any]) -> st.State:
    from ..cgroups import detect_mode, open_manager
    from ..cgroups.common import normalize_path

    linux = spec.get("linux") or {}
    namespaces = linux.get("namespaces") or []
    all_ns = {ns["type"] for ns in namespaces}
    new_ns = {ns["type"] for ns in namespaces if not ns.get("path")}
    join_ns = [(ns["type"], ns["path"]) for ns in namespaces if ns.get("path")]
    network_path = next((p for t, p in join_ns if t == "network"), "")

    cgroup_mode = detect_mode()
    cgroup_path = normalize_path(linux.get("cgroupsPath", ""), default_cgroup_path(cid))
    cg = open_manager(cgroup_path, mode=cgroup_mode)
    existed = cg.exists()
    cg.create()
    if not existed:
        undo.append(cg.destroy)
    resources = dict(linux.get("resources") or {})
    if "devices" in resources:
        # As runc: linux.devices only makes the nodes; access is what resources.devices allows.
        resources["devices"] = list(resources["devices"] or []) + ALLOWED_DEVICES
    try:
        cg.set_resources(resources)
    except OSError as e:
        raise st.RuntimeError_(f"cgroup: applying linux.resources: {e}") from None

    fifo = os.path.join(sdir, "exec.fifo")
    os.mkfifo(fifo, 0o622)

    state = st.State(id=cid, bundle=bundle, status=st.CREATING,
                     created=time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
                     cgroup_path=cgroup_path, cgroup_mode=cgroup_mode,
                     annotations=spec.get("annotations") or {}, rootfs=rootfs_path(spec, bundle),
                     owner="root",
                     config={"hooks": spec.get("hooks") or {}, "new_namespaces": sorted(new_ns),
                             # what `exec` applies to a new process in the container
                             "namespaces": sorted(all_ns), "process": spec.get("process") or {},
                             "seccomp": linux.get("seccomp")})
    hooks = spec.get("hooks") or {}
    has_hooks = bool(hooks.get("prestart") or hooks.get("createRuntime") or hooks.get("createContainer"))
    ctx = {
        "id": cid, "spec": spec, "bundle": bundle, "rootfs": state.rootfs, "fifo_path": fifo,
        "new_namespaces": sorted(new_ns), "all_namespaces": sorted(all_ns), "join": join_ns,
        "network_path": network_path, "cgroup_paths": cg.paths(), "console_socket": console_socket,
        "no_pivot": no_pivot, "preserve_fds": preserve_fds, "has_hooks": has_hooks,
        "state_json": "",
    }

    if subreaper:
        from .._sys import libc
        libc.prctl(c.PR_SET_CHILD_SUBREAPER, 1)
    parent, child = Channel.pair()
    pid = os.fork()
    if pid == 0:
        parent.close()
        _intermediate(ctx, child)  # never returns
    child.close()
    init_pid = 0
    try:
        cg.add_pid(pid)
        parent.send("go")
        msg = parent.recv("userns", "pid")
        if msg["type"] == "userns":
            _write_id_maps(pid, linux)
            parent.send("mapped")
            msg = parent.recv("pid")
        init_pid = int(msg["pid"])
        _reap(pid)
        state.pid = init_pid
        state.init_start_time = st.proc_start_time(init_pid)
        state.status = st.CREATED
        state_json = dumps(state.oci())
        msg = parent.recv("hooks", "ready")
        if msg["type"] == "hooks":
            from .hooks import run_hooks
            run_hooks(hooks.get("prestart"), state_json)
            run_hooks(hooks.get("createRuntime"), state_json)
            parent.send("hooks-done", state=state_json)
            parent.recv("ready")
    except BaseException:
        for p in (init_pid, pid):
            if p:
                try:
                    os.kill(p, 9)
                except ProcessLookupError:
                    pass
        _reap(pid)
        if init_pid:
            _wait_gone(init_pid)
        raise
    finally:
        parent.close()
    st.save(root, state)
    if pid_file:
        st.write_pid_file(pid_file, init_pid)
    return state


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _wait_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            if st.proc_start_time(pid) == 0:
                return
        time.sleep(0.005)


def _write_id_maps(pid: int, linux: dict[str, Any]) -> None:
    def fmt(maps: list[dict[str, int]]) -> str:
        return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)
    with open(f"/proc/{pid}/setgroups", "w") as f:
        f.write("allow")
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(fmt(linux.get("uidMappings") or []))
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(fmt(linux.get("gidMappings") or []))


def _intermediate(ctx: dict[str, Any], chan: Channel) -> None:
    from .._sys import libc
    step = "intermediate"
    try:
        libc.set_process_name("dockyard:[1:INTER]")
        chan.recv("go")
        # Join the user namespace first, then the others, as runc's nsexec does.
        order = sorted(ctx["join"], key=lambda t: t[0] != "user")
        for nstype, path in order:
            step = f"join {nstype} namespace {path}"
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                libc.setns(fd, c.NAMESPACE_FLAGS[nstype])
            finally:
                os.close(fd)
        new_ns = set(ctx["new_namespaces"])
        if "user" in new_ns:
            step = "unshare user namespace"
            libc.unshare(c.CLONE_NEWUSER)
            chan.send("userns")
            chan.recv("mapped")
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        flags = 0
        for nstype in new_ns - {"user"}:
            flags |= c.NAMESPACE_FLAGS[nstype]
        step = "unshare namespaces"
        libc.unshare(flags)
        step = "fork init"
        pid = os.fork()
    except BaseException as e:
        chan.send_error(step, e)
        os._exit(1)
    if pid == 0:
        from .init import run_init
        try:
            run_init(ctx, chan)
        finally:
            os._exit(1)
    try:
        chan.send("pid", pid=pid)
    finally:
        os._exit(0)
