"""The container's init process, from the fork to execve: namespaces,
mounts, /dev, pivot_root, hostname, sysctl, read-only and masked paths,
terminal, identity, capabilities and seccomp (process.py), then a block on
the exec fifo until ``start``.

Init starts before the main process has put it into the container's cgroup
(that write waits for an RCU grace period, milliseconds the two processes
now spend in parallel). Everything that depends on the cgroup waits for
"go": the cgroup namespace (its root is the cgroup init is in when it is
created), cgroup mounts, hooks, and the ready message."""

from __future__ import annotations

import posix
import sys

from .._sys import consts as c
from .._sys import fs
from .._sys import libc
from . import rootfs
from .channel import Channel
from .process import Step, close_fds_from, finalize, setup_terminal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def run_init(ctx: dict[str, Any], chan: Channel) -> None:
    """Never returns: execs the container process or exits non-zero."""
    step = Step()
    try:
        exec_fd = _setup(ctx, chan, step)
    except BaseException as e:  # report every failure, then die
        chan.send_error(step.name, e)
        posix._exit(1)
    chan.close()
    _wait_and_exec(ctx, exec_fd)


class _Go:
    """The main process's "go": init is in the cgroup now."""

    def __init__(self, chan: Channel, new_cgroupns: bool, step: Step, ctx: dict[str, Any]) -> None:
        self.chan, self.new_cgroupns, self.step, self.ctx, self.done = chan, new_cgroupns, step, ctx, False

    def wait(self) -> None:
        if self.done:
            return
        name, self.step.name = self.step.name, "wait for the cgroup"
        # With the state startContainer hooks get on stdin.
        self.ctx["started_json"] = self.chan.recv("go").get("state", "")
        self.done = True
        if self.new_cgroupns:
            self.step.name = "unshare cgroup namespace"
            libc.unshare(c.CLONE_NEWCGROUP)
        self.step.name = name


def _setup(ctx: dict[str, Any], chan: Channel, step: Step) -> int:
    spec = ctx["spec"]
    linux = spec.get("linux") or {}
    proc = spec.get("process") or {}
    root = ctx["rootfs"]
    new_ns = set(ctx["new_namespaces"])
    in_userns = "user" in ctx["all_namespaces"]

    # Into the container's v1 cgroups before anything is charged: "0" in
    # `tasks` moves this (only) thread without the grace period a move by
    # pid waits for (create.py).
    for d in ctx.get("cgroup_join") or []:
        step.name = f"join cgroup {d}"
        fd = posix.open(fs.join(d, "tasks"), posix.O_WRONLY | posix.O_CLOEXEC)
        try:
            posix.write(fd, b"0")
        finally:
            posix.close(fd)
    libc.set_process_name("dockyard:[2:INIT]")
    preload(spec)
    # Namespaces joined by path; user and pid were handled by our parents.
    for nstype, path in ctx["join"]:
        if nstype in ("user", "pid"):
            continue
        step.name = f"join {nstype} namespace {path}"
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
        try:
            libc.setns(fd, c.NAMESPACE_FLAGS[nstype])
        finally:
            posix.close(fd)
    flags = 0
    for nstype in new_ns & {"mount", "network", "uts", "ipc"}:
        flags |= c.NAMESPACE_FLAGS[nstype]
    if flags:
        step.name = "unshare namespaces"
        libc.unshare(flags)
    go = _Go(chan, "cgroup" in new_ns, step, ctx)

    if "mount" in new_ns:
        step.name = "prepare rootfs"
        rootfs.prepare_root(root, linux.get("rootfsPropagation", ""))
        cgroupns = "cgroup" in ctx["all_namespaces"]
        for m in spec.get("mounts") or []:
            step.name = f"mount {m.get('destination')}"
            if m.get("type") == "cgroup":
                go.wait()
            rootfs.mount_entry(m, root, ctx["bundle"], ctx["cgroup_paths"], cgroupns, ctx["cgroup_mode"])
    go.wait()
    if "mount" in new_ns:
        cwd = proc.get("cwd") or "/"
        if cwd != "/":
            step.name = f"create cwd {cwd}"  # as runc: a missing working directory is made
            fs.makedirs(rootfs.secure_join(root, cwd), 0o755, exist_ok=True)
        step.name = "create devices"
        if fs.isdir(fs.join(root, "dev")):
            devices = list(rootfs.DEFAULT_DEVICES)
            seen = {d["path"] for d in linux.get("devices") or []}
            devices = [d for d in devices if d["path"] not in seen] + list(linux.get("devices") or [])
            rootfs.make_devices(root, devices, in_userns)
            rootfs.dev_symlinks(root)
    if "network" in new_ns:
        step.name = "bring up loopback"
        _loopback_up()

    if ctx["has_hooks"]:
        step.name = "createRuntime hooks"
        chan.send("hooks")
        state_json = chan.recv("hooks-done").get("state", "")
        hooks = (spec.get("hooks") or {}).get("createContainer")
        if hooks:
            from .hooks import run_hooks
            step.name = "createContainer hooks"
            run_hooks(hooks, state_json)

    # Opened before pivot_root, while the host path is visible.
    exec_fd = posix.open(ctx["fifo_path"], posix.O_PATH | posix.O_CLOEXEC)
    console = -1
    if ctx.get("console_socket"):
        step.name = "connect console socket"
        from .fdpass import connect_unix
        console = connect_unix(ctx["console_socket"])

    if "mount" in new_ns:
        step.name = "pivot_root"
        if ctx.get("no_pivot"):
            rootfs.move_root(root)
        else:
            rootfs.pivot_root(root)
    elif root != "/":
        step.name = "chroot"
        posix.chroot(root)
        posix.chdir("/")

    if "uts" in new_ns:
        if spec.get("hostname"):
            step.name = "sethostname"
            libc.sethostname(spec["hostname"])
        if spec.get("domainname"):
            step.name = "setdomainname"
            libc.setdomainname(spec["domainname"])
    for key, value in (linux.get("sysctl") or {}).items():
        step.name = f"sysctl {key}"
        fd = posix.open("/proc/sys/" + key.replace(".", "/"), posix.O_WRONLY | posix.O_CLOEXEC)
        try:
            posix.write(fd, str(value).encode())
        finally:
            posix.close(fd)
    if "mount" in new_ns:
        for p in linux.get("readonlyPaths") or []:
            step.name = f"readonly {p}"
            rootfs.readonly_path(p)
        for p in linux.get("maskedPaths") or []:
            step.name = f"mask {p}"
            rootfs.mask_path(p, linux.get("mountLabel", ""))
        if (spec.get("root") or {}).get("readonly"):
            step.name = "readonly rootfs"
            rootfs.readonly_root()

    if console >= 0:
        step.name = "set up terminal"
        setup_terminal(console, proc.get("consoleSize"), ctx["id"])
    elif proc.get("terminal"):
        raise ValueError("process.terminal is true but no --console-socket was given")

    ctx["exec"] = finalize(proc, ctx.get("seccomp"), step)
    step.name = "ready"
    chan.send("ready")
    return exec_fd


def preload(spec: dict[str, Any]) -> None:
    """Import now everything init may need later: after pivot_root the
    host's Python library is out of reach, and in a user namespace the
    container's root may not be allowed into it even before."""
    from . import jsonio  # noqa: F401
    proc = spec.get("process") or {}
    if proc.get("terminal"):
        import fcntl  # noqa: F401
        import struct  # noqa: F401
        import termios  # noqa: F401

        from . import fdpass  # noqa: F401
    if spec.get("hooks"):
        import subprocess  # noqa: F401

        from . import hooks  # noqa: F401
    if any("tmpcopyup" in (m.get("options") or []) for m in spec.get("mounts") or []):
        import shutil  # noqa: F401
        import tempfile  # noqa: F401


def _wait_and_exec(ctx: dict[str, Any], exec_fd: int) -> None:
    spec = ctx["spec"]
    try:
        # Blocks until `start` opens the fifo for reading.
        fd = posix.open(f"/proc/self/fd/{exec_fd}", posix.O_WRONLY | posix.O_CLOEXEC)
        posix.write(fd, b"0")
        posix.close(fd)
        posix.close(exec_fd)
        hooks = (spec.get("hooks") or {}).get("startContainer")
        if hooks:
            from .hooks import run_hooks
            run_hooks(hooks, ctx["started_json"])
        close_fds_from(3 + ctx.get("preserve_fds", 0))
        path, args, env = ctx["exec"]
        posix.execve(path, args, env)
    except BaseException as e:
        try:
            posix.write(2, f"dockyard-runtime: exec {ctx['exec'][1][0]}: {e}\n".encode())
        except (OSError, LookupError):
            pass
        posix._exit(127 if isinstance(e, FileNotFoundError) else 126)


def _loopback_up() -> None:
    """ifconfig lo up, with the two ioctls (no netlink needed for this)."""
    siocgifflags, siocsifflags, iff_up, af_inet, sock_dgram = 0x8913, 0x8914, 0x1, 2, 2
    s = libc.socket(af_inet, sock_dgram)
    try:
        res = libc.ioctl(s, siocgifflags, b"lo".ljust(40, b"\0"))
        flags = int.from_bytes(res[16:18], sys.byteorder) | iff_up
        libc.ioctl(s, siocsifflags, b"lo".ljust(16, b"\0") + flags.to_bytes(2, sys.byteorder) + bytes(22))
    finally:
        posix.close(s)
