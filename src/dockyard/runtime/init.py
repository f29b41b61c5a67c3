"""The container's init process, from the fork in the new namespaces to
execve: rootfs, pivot_root, identity, capabilities, seccomp (last), then a
block on the exec fifo until ``start``."""

from __future__ import annotations

import os
import socket
from typing import Any

from .._sys import consts as c
from .._sys import libc
from . import capabilities, rootfs
from .channel import Channel


class Step:
    """Names the step in progress, so a failure reports where it happened."""

    name = "init"


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
        console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        console.connect(ctx["console_socket"])

    if "mount" in new_ns:
        step.name = "pivot_root"
        if ctx.get("no_pivot"):
            rootfs.move_root(root)
        else:
            rootfs.pivot_root(root)
        if (spec.get("root") or {}).get("readonly"):
            step.name = "readonly rootfs"
            rootfs.readonly_root()
        for p in linux.get("maskedPaths") or []:
            step.name = f"mask {p}"
            rootfs.mask_path(p, linux.get("mountLabel", ""))
        for p in linux.get("readonlyPaths") or []:
            step.name = f"readonly {p}"
            rootfs.readonly_path(p)
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
    if "network" in new_ns and not ctx["network_path"]:
        step.name = "bring up loopback"
        _loopback_up()

    if console is not None:
        step.name = "set up terminal"
        _setup_terminal(console, ctx["id"], proc.get("consoleSize"))
    elif proc.get("terminal") and not ctx.get("console_socket"):
        raise ValueError("process.terminal is true but no --console-socket was given")

    step.name = "rlimits"
    _set_rlimits(proc.get("rlimits") or [])
    if proc.get("oomScoreAdj") is not None:
        step.name = "oom_score_adj"
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(proc["oomScoreAdj"]))

    step.name = "chdir"
    cwd = proc.get("cwd") or "/"
    os.chdir(cwd)

    step.name = "lookup executable"
    args = proc.get("args") or []
    env = proc.get("env") or []
    ctx["exec_path"] = lookup_path(args[0], env)

    user = proc.get("user") or {}
    caps = capabilities.masks(proc.get("capabilities"))
    step.name = "drop bounding capabilities"
    _drop_bounding(caps["bounding"])
    step.name = "set user"
    _set_user(user)
    step.name = "set capabilities"
    libc.capset(caps["effective"], caps["permitted"], caps["inheritable"])
    _set_ambient(caps["ambient"])
    if proc.get("noNewPrivileges"):
        step.name = "no_new_privs"
        libc.prctl(c.PR_SET_NO_NEW_PRIVS, 1)
    if user.get("umask") is not None:
        os.umask(user["umask"])
    seccomp = linux.get("seccomp")
    if seccomp:
        step.name = "seccomp"
        from .seccomp import load_filter
        load_filter(seccomp)
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
        _close_fds_from(3 + ctx.get("preserve_fds", 0))
        os.execve(ctx["exec_path"], proc.get("args"), _env_dict(proc.get("env") or []))
    except BaseException as e:
        try:
            os.write(2, f"dockyard-runtime: exec {proc.get('args', ['?'])[0]}: {e}\n".encode())
        except OSError:
            pass
        os._exit(127 if isinstance(e, FileNotFoundError) else 126)


def _env_dict(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in env:
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def lookup_path(cmd: str, env: list[str]) -> str:
    """Resolve the executable as execvp would, in the container's root."""
    def executable(p: str) -> bool:
        return os.path.isfile(p) and os.access(p, os.X_OK)
    if "/" in cmd:
        if executable(cmd):
            return cmd
        if not os.path.exists(cmd):
            raise FileNotFoundError(2, f'exec: "{cmd}": stat {cmd}: no such file or directory')
        raise PermissionError(13, f'exec: "{cmd}": permission denied')
    path = _env_dict(env).get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    for d in path.split(":"):
        p = os.path.join(d or ".", cmd)
        if executable(p):
            return p
    raise FileNotFoundError(2, f'exec: "{cmd}": executable file not found in $PATH')


def _close_fds_from(first: int) -> None:
    """Mark every other fd close-on-exec (runc's fix for CVE-2024-21626)."""
    import fcntl
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
            except OSError:
                pass


def _loopback_up() -> None:
    import fcntl
    import struct
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifreq = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s, siocgifflags, ifreq))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh14x", b"lo", flags | iff_up))
    finally:
        s.close()


def _setup_terminal(console: socket.socket, cid: str, size: dict[str, int] | None) -> None:
    import fcntl
    import json
    import struct
    import termios
    master, slave = os.openpty()
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", size.get("height", 0), size.get("width", 0), 0, 0))
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    socket.send_fds(console, [json.dumps({"type": "terminal", "container": cid}).encode()], [master])
    os.close(master)
    console.close()


_RLIMITS = {
    "RLIMIT_AS": 9, "RLIMIT_CORE": 4, "RLIMIT_CPU": 0, "RLIMIT_DATA": 2, "RLIMIT_FSIZE": 1,
    "RLIMIT_LOCKS": 10, "RLIMIT_MEMLOCK": 8, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_NOFILE": 7, "RLIMIT_NPROC": 6, "RLIMIT_RSS": 5, "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15, "RLIMIT_SIGPENDING": 11, "RLIMIT_STACK": 3,
}


def _set_rlimits(rlimits: list[dict[str, Any]]) -> None:
    import resource
    for rl in rlimits:
        num = _RLIMITS.get(rl.get("type", ""))
        if num is None:
            raise ValueError(f"process.rlimits: unknown type {rl.get('type')!r}")
        resource.setrlimit(num, (_rlim(rl.get("soft", 0)), _rlim(rl.get("hard", 0))))


def _rlim(v: int) -> int:
    import resource
    return resource.RLIM_INFINITY if v >= 2**63 - 1 or v == -1 else v


def _drop_bounding(bounding: int) -> None:
    for cap in range(capabilities.last_cap() + 1):
        if not bounding & (1 << cap):
            libc.prctl(c.PR_CAPBSET_DROP, cap)


def _set_user(user: dict[str, Any]) -> None:
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    libc.prctl(c.PR_SET_KEEPCAPS, 1)
    os.setgroups([int(g) for g in user.get("additionalGids") or []])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    libc.prctl(c.PR_SET_KEEPCAPS, 0)


def _set_ambient(ambient: int) -> None:
    if not ambient:
        return
    for cap in range(capabilities.last_cap() + 1):
        if ambient & (1 << cap):
            try:
                libc.prctl(c.PR_CAP_AMBIENT, c.PR_CAP_AMBIENT_RAISE, cap)
            except OSError:
                pass  # not in permitted+inheritable: runc skips it too
