"""``exec``: run another process in a running container (runc's "setns"
process, youki's "tenant").

  main                            intermediate                    process
   open /proc/<init>/ns/* ;
   connect console socket
   fork ────────────────────────▶ dumpable=0; preload
   cgroup.add(intermediate)
   go ──────────────────────────▶ setns(user first, mount last)
                                  fork (joins the pid ns) ───────▶
        ◀──────────────────────── pid {pid}; exit                 terminal, rlimits, user,
                                                                   caps, seccomp, cwd
        ◀───────────────────────────────────────────────────────── ready | error
        ◀───────────────────────────────────────────────────────── EOF (execve closed the
                                                                   channel) | error
   pid file; wait for it unless --detach

With --detach the process is orphaned when the intermediate exits and goes
to the caller's subreaper (the shim, containerd's shim), as with runc.
"""

from __future__ import annotations

import os

from .._sys import consts as c
from . import state as st
from .channel import Channel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .seccomp import LibseccompFilter, Program

# setns order: the user namespace first (it owns the others), the mount
# namespace late (it changes our root), as runc's nsexec does.
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


class ExecError(st.RuntimeError_):
    pass


def process_from_args(base: dict[str, Any], args: list[str], opts: dict[str, Any]) -> dict[str, Any]:
    """runc's getProcess without --process: the container's process with
    the command line's overrides."""
    p = dict(base)
    p["args"] = list(args)
    if opts.get("cwd"):
        p["cwd"] = opts["cwd"]
    if opts.get("apparmor"):
        p["apparmorProfile"] = opts["apparmor"]
    if opts.get("process_label"):
        p["selinuxLabel"] = opts["process_label"]
    caps = dict(p.get("capabilities") or {})
    for cap in opts.get("caps") or []:
        for kind in ("bounding", "effective", "permitted"):
            caps[kind] = list(caps.get(kind) or []) + [cap]
        # Ambient needs inheritable; runc only adds it when the config has some.
        if caps.get("inheritable") is not None:
            caps["ambient"] = list(caps.get("ambient") or []) + [cap]
    p["capabilities"] = caps
    p["env"] = list(p.get("env") or []) + list(opts.get("env") or [])
    p["terminal"] = bool(opts.get("tty"))
    if opts.get("no_new_privs"):
        p["noNewPrivileges"] = True
    user = dict(p.get("user") or {})
    if opts.get("user"):
        uid, _, gid = opts["user"].partition(":")
        try:
            user = {"uid": int(uid), "gid": int(gid) if gid else 0}
        except ValueError:
            raise ExecError(f"parsing {opts['user']} as uid[:gid]: must be numeric") from None
    if opts.get("additional_gids"):
        try:
            user["additionalGids"] = [int(g) for g in opts["additional_gids"]]
        except ValueError:
            raise ExecError("--additional-gids: must be numeric") from None
    p["user"] = user
    return p


def load_process_file(path: str) -> dict[str, Any]:
    from .jsonio import loads
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ExecError(f"process file {path}: {e.strerror}") from None
    try:
        proc = loads(data)
    except ValueError as e:
        raise ExecError(f"process file {path}: invalid JSON: {e}") from None
    if not isinstance(proc, dict):
        raise ExecError(f"process file {path}: must hold a JSON object")
    return proc


def exec_process(root: str, cid: str, proc: dict[str, Any], detach: bool = False,
                 pid_file: str | None = None, console_socket: str | None = None,
                 preserve_fds: int = 0, ignore_paused: bool = False, sub_cgroup: str = "",
                 proxy: Any = None) -> int:
    """``proxy``: a console.TerminalProxy whose path is console_socket, for a
    terminal in the foreground."""
    from .spec import validate_process

    s = st.load(root, cid)
    if s.status == st.STOPPED:
        raise ExecError("cannot exec in a stopped container")
    if s.status == st.PAUSED and not ignore_paused:
        raise ExecError("cannot exec in a paused container (use --ignore-paused to override)")
    if s.status == st.CREATING:
        raise ExecError("cannot exec in a container that is still being created")
    validate_process(proc, "process", "exec")
    if proc.get("terminal") and not console_socket:
        raise ExecError("cannot allocate tty without --console-socket")
    if console_socket and not proc.get("terminal"):
        raise ExecError("cannot use console socket if runtime will not allocate tty")

    namespaces = [t for t in JOIN_ORDER if t in set(s.config.get("namespaces") or [])]
    ns_fds: list[tuple[str, int]] = []
    console_fd = -1
    chan = child = None
    try:
        for t in namespaces:
            path = f"/proc/{s.pid}/ns/{c.NAMESPACE_PROC_NAMES[t]}"
            try:
                ns_fds.append((t, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
            except OSError as e:
                raise ExecError(f"open {path}: {e.strerror}") from None
        if not st.init_alive(s):  # the fds above must belong to our init, not a reused pid
            raise ExecError("cannot exec in a stopped container")
        if console_socket:
            from .fdpass import connect_unix
            try:
                console_fd = connect_unix(console_socket)
            except OSError as e:
                raise ExecError(f"connect console socket {console_socket}: {e.strerror}") from None
        chan, child = Channel.pair()
        if not detach:
            from .._sys import libc
            libc.prctl(c.PR_SET_CHILD_SUBREAPER, 1)
        seccomp_cfg = st.load_exec_config(root, cid).get("seccomp")
        seccomp = None
        if seccomp_cfg:
            from .seccomp import prepare
            try:
                seccomp = prepare(seccomp_cfg, root)
            except (OSError, ValueError) as e:
                raise ExecError(f"linux.seccomp: {e}") from None
        pid = os.fork()
        if pid == 0:
            chan.close()
            _intermediate(cid, proc, seccomp, ns_fds, console_fd, preserve_fds, child)
        child.close()
        child = None
        for _t, fd in ns_fds:
            os.close(fd)
        ns_fds = []
        if console_fd >= 0:
            os.close(console_fd)
            console_fd = -1
        exec_pid = _place_and_wait(s, pid, chan, sub_cgroup)
    finally:
        for _t, fd in ns_fds:
            os.close(fd)
        if console_fd >= 0:
            os.close(console_fd)
        if child is not None:
            child.close()
        if chan is not None:
            chan.close()
    if pid_file:
        st.write_pid_file(pid_file, exec_pid)
    if detach:
        return 0
    if proxy is not None:
        proxy.receive()
        return proxy.pump(exec_pid)
    from . import ops
    return ops.forward_and_wait(exec_pid)


def _place_and_wait(s: st.State, pid: int, chan: Channel, sub_cgroup: str) -> int:
    exec_pid = 0
    try:
        try:
            _cgroup_for_exec(s, sub_cgroup).add_pid(pid)
        except OSError as e:
            raise ExecError(f"joining the container's cgroup: {e}") from None
        chan.send("go")
        # The intermediate's "pid" and the process's "ready" share the channel
        # and race: take them in either order.
        seen: set[str] = set()
        while seen != {"pid", "ready"}:
            msg = chan.recv(*({"pid", "ready"} - seen))
            seen.add(msg["type"])
            if msg["type"] == "pid":
                exec_pid = int(msg["pid"])
                _reap(pid)
        # execve closes our channel on success; a failed execve reports.
        chan.recv_eof_or_error()
        return exec_pid
    except BaseException:
        for p in (exec_pid, pid):
            if p:
                try:
                    os.kill(p, 9)
                except ProcessLookupError:
                    pass
        _reap(pid)
        if exec_pid:
            _reap(exec_pid)
        raise


def _cgroup_for_exec(s: st.State, sub: str) -> Any:
    from ..cgroups import open_manager
    path = s.cgroup_path
    if sub:
        # --cgroup PATH (a sub-cgroup of the container's); the controller-specific
        # v1 form "ctrl[,ctrl]:path" uses the path for all controllers here.
        sub = sub.split(":", 1)[-1]
        path = path.rstrip("/") + "/" + sub.strip("/")
    cg = open_manager(path, s.cgroup_root, s.cgroup_mode or None)
    if sub and not cg.exists():
        raise ExecError(f"cgroup {sub} does not exist in the container's cgroup")
    return cg


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _intermediate(cid: str, proc: dict[str, Any], seccomp: Program | LibseccompFilter | None,
                  ns_fds: list[tuple[str, int]], console_fd: int, preserve_fds: int, chan: Channel) -> None:
    from .._sys import libc
    from .process import Step
    step = Step("exec: intermediate")
    try:
        # Nothing in the container may ptrace us or open our /proc files.
        libc.prctl(c.PR_SET_DUMPABLE, 0)
        step.name = "preload"
        # Everything the process needs from the host's Python library, now:
        # once in the container's mount namespace it is out of reach.
        import fcntl  # noqa: F401
        import termios  # noqa: F401
        import struct  # noqa: F401
        from . import fdpass  # noqa: F401
        chan.recv("go")
        for nstype, fd in ns_fds:
            step.name = f"setns {nstype}"
            libc.setns(fd, c.NAMESPACE_FLAGS[nstype])
            os.close(fd)
        step.name = "fork"
        pid = os.fork()
    except BaseException as e:
        chan.send_error(step.name, e)
        os._exit(1)
    if pid == 0:
        _exec_child(cid, proc, seccomp, console_fd, preserve_fds, chan)
    try:
        chan.send("pid", pid=pid)
    finally:
        os._exit(0)


def _exec_child(cid: str, proc: dict[str, Any], seccomp: Program | LibseccompFilter | None, console_fd: int,
                preserve_fds: int, chan: Channel) -> None:
    from .process import Step, close_fds_from, finalize, setup_terminal
    step = Step("exec")
    try:
        if console_fd >= 0:
            step.name = "set up terminal"
            setup_terminal(console_fd, proc.get("consoleSize"), cid)
        path, args, env = finalize(proc, seccomp, step)
        step.name = "exec"
        chan.send("ready")
        close_fds_from(3 + preserve_fds)
        os.execve(path, args, env)
    except BaseException as e:
        chan.send_error(step.name, e)
    os._exit(127)
