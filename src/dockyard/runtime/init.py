"""The container's init process, from the fork in the new namespaces to
execve: rootfs, pivot_root, identity, capabilities, seccomp (last), then a
block on the exec fifo until ``start``."""

from __future__ import annotations

import os
import sys
from typing import Any

from .._sys import consts as c
from .._sys import libc
from . import rootfs
from .channel import Channel
from .process import Step, close_fds_from, finalize, setup_terminal


def run_init(ctx: dict[str, Any], chan: Channel) -> None:
    """Never returns: execs the container process or exits non-zero."""
    step = Step()
    try:
        exec_fd = _setup(ctx, chan, step)
    except BaseException as e:  # report every failure, then die
        chan.send_error(step.name, e)
        os._exit(1)
    chan.close()
    _wait_and_exec(ctx, exec_fd)


def _setup(ctx: dict[str, Any], chan: Channel, step: Step) -> int:
    spec = ctx["spec"]
    linux = spec.get("linux") or {}
    proc = spec.get("process") or {}
    root = ctx["rootfs"]
    new_ns = ctx["new_namespaces"]
    in_userns = "user" in ctx["all_namespaces"]

    libc.set_process_name("dockyard:[2:INIT]")
    _preload(spec)
    if in_userns:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)

    if "mount" in new_ns:
        step.name = "prepare rootfs"
        rootfs.prepare_root(root, linux.get("rootfsPropagation", ""))
        for m in spec.get("mounts") or []:
            step.name = f"mount {m.get('destination')}"
            rootfs.mount_entry(m, root, ctx["bundle"], ctx["cgroup_paths"], "cgroup" in ctx["all_namespaces"])
        step.name = "create devices"
        if os.path.isdir(os.path.join(root, "dev")):
            devices = list(rootfs.DEFAULT_DEVICES)
            seen = {d["path"] for d in linux.get("devices") or []}
            devices = [d for d in devices if d["path"] not in seen] + list(linux.get("devices") or [])
            rootfs.make_devices(root, devices, in_userns)
            rootfs.dev_symlinks(root)

    if ctx["has_hooks"]:
        step.name = "createRuntime hooks"
        chan.send("hooks")
        ctx["state_json"] = chan.recv("hooks-done").get("state", "")
        from .hooks import run_hooks
        step.name = "createContainer hooks"
        run_hooks((spec.get("hooks") or {}).get("createContainer"), ctx["state_json"])

    # Opened before pivot_root, while the host path is visible.
    exec_fd = os.open(ctx["fifo_path"], os.O_PATH | os.O_CLOEXEC)
    console = None
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
        if (spec.get("root") or {}).get("readonly"):
            step.name = "readonly rootfs"
            rootfs.readonly_root()
    else:
        os.chroot(root) if root != "/" else None
        os.chdir("/")

    if "uts" in new_ns:
        if spec.get("hostname"):
            step.name = "sethostname"
            libc.sethostname(spec["hostname"])
        if spec.get("domainname"):
            step.name = "setdomainname"
            libc.setdomainname(spec["domainname"])
    for key, value in (linux.get("sysctl") or {}).items():
        step.name = f"sysctl {key}"
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(str(value))
    if "mount" in new_ns:
        # After the sysctls, as runc orders them: /proc/sys becomes read-only here.
        for p in linux.get("readonlyPaths") or []:
            step.name = f"readonly {p}"
            rootfs.readonly_path(p)
        for p in linux.get("maskedPaths") or []:
            step.name = f"mask {p}"
            rootfs.mask_path(p, linux.get("mountLabel", ""))
    if "network" in new_ns and not ctx["network_path"]:
        step.name = "bring up loopback"
        _loopback_up()

    if console is not None:
        step.name = "set up terminal"
        setup_terminal(console, proc.get("consoleSize"), ctx["id"])
    elif proc.get("terminal") and not ctx.get("console_socket"):
        raise ValueError("process.terminal is true but no --console-socket was given")

    ctx["exec"] = finalize(proc, linux.get("seccomp"), step)
    step.name = "ready"
    chan.send("ready")
    return exec_fd


def _preload(spec: dict[str, Any]) -> None:
    """Import now what runs after pivot_root: the host's Python library is
    out of reach from inside the container's root."""
    import fcntl  # noqa: F401
    import json  # noqa: F401
    import resource  # noqa: F401
    import struct  # noqa: F401
    import termios  # noqa: F401
    from . import fdpass  # noqa: F401
    if (spec.get("linux") or {}).get("seccomp"):
        from . import seccomp
        seccomp.preload()
    if (spec.get("hooks") or {}).get("startContainer"):
        from . import hooks  # noqa: F401
        import subprocess  # noqa: F401


def _wait_and_exec(ctx: dict[str, Any], exec_fd: int) -> None:
    spec = ctx["spec"]
    proc = spec.get("process") or {}
    try:
        # Blocks until `start` opens the fifo for reading.
        fd = os.open(f"/proc/self/fd/{exec_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
        os.close(exec_fd)
        hooks = (spec.get("hooks") or {}).get("startContainer")
        if hooks:
            from .hooks import run_hooks
            run_hooks(hooks, ctx["state_json"])
        close_fds_from(3 + ctx.get("preserve_fds", 0))
        path, args, env = ctx["exec"]
        os.execve(path, args, env)
    except BaseException as e:
        try:
            os.write(2, f"dockyard-runtime: exec {proc.get('args', ['?'])[0]}: {e}\n".encode())
        except OSError:
            pass
        os._exit(127 if isinstance(e, FileNotFoundError) else 126)


def _loopback_up() -> None:
    """ifconfig lo up, with the two ioctls (no netlink needed for this)."""
    import _socket
    import fcntl
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        ifreq = b"lo".ljust(40, b"\0")
        res = fcntl.ioctl(s.fileno(), siocgifflags, ifreq)
        flags = int.from_bytes(res[16:18], sys.byteorder) | iff_up
        fcntl.ioctl(s.fileno(), siocsifflags, b"lo".ljust(16, b"\0") + flags.to_bytes(2, sys.byteorder) + bytes(22))
    finally:
        s.close()
