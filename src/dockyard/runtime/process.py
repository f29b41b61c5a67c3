"""Turning the current process into the container's process: terminal,
rlimits, oom score, cwd, identity, capabilities, no_new_privs, seccomp.

Shared by the container's init (init.py) and by processes exec'd into a
running container (exec_.py). Every step sets ``step.name`` first, so a
failure is reported with the step it happened in."""

from __future__ import annotations

import posix

from .._sys import consts as c
from .._sys import fs
from .._sys import libc
from . import capabilities
from .spec import RLIMITS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .seccomp import LibseccompFilter, Program

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"



class Step:
    """Names the step in progress, so a failure reports where it happened."""

    def __init__(self, name: str = "init") -> None:
        self.name = name


def setup_terminal(console_fd: int, size: dict[str, int] | None, cid: str) -> None:
    """Open a pty inside the container (its devpts), make it our controlling
    terminal and stdio, and hand the master to the console socket with
    SCM_RIGHTS, as runc does."""
    import fcntl
    import termios
    master, slave = posix.openpty()
    if size:
        import struct
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", int(size.get("height", 0)), int(size.get("width", 0)), 0, 0))
    posix.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        posix.dup2(slave, fd)
    if slave > 2:
        posix.close(slave)
    from .fdpass import send_fds
    send_fds(console_fd, ('{"type":"terminal","container":"%s"}' % cid).encode(), [master])
    posix.close(master)
    posix.close(console_fd)


def set_rlimits(rlimits: list[dict[str, Any]]) -> None:
    for rl in rlimits:
        num = RLIMITS.get(rl.get("type", ""))
        if num is None:
            raise ValueError(f"process.rlimits: unknown type {rl.get('type')!r}")
        libc.setrlimit(num, _rlim(rl.get("soft", 0)), _rlim(rl.get("hard", 0)))


def _rlim(v: int) -> int:
    return -1 if v >= 2**63 - 1 or v == -1 else v  # -1 is RLIM_INFINITY


def env_dict(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in env:
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def lookup_path(cmd: str, env: dict[str, str]) -> str:
    """Resolve the executable as execvp would, in the container's root."""
    def executable(p: str) -> bool:
        return fs.isfile(p) and posix.access(p, posix.X_OK)
    if "/" in cmd:
        if executable(cmd):
            return cmd
        if not fs.exists(cmd):
            raise FileNotFoundError(2, f'exec: "{cmd}": stat {cmd}: no such file or directory')
        raise PermissionError(13, f'exec: "{cmd}": permission denied')
    for d in env.get("PATH", DEFAULT_PATH).split(":"):
        p = fs.join(d or ".", cmd)
        if executable(p):
            return p
    raise FileNotFoundError(2, f'exec: "{cmd}": executable file not found in $PATH')


def home_of(uid: int) -> str:
    """The user's home from the container's /etc/passwd ("/" if unknown), for
    a HOME the config did not set (runc does the same)."""
    try:
        with open("/etc/passwd", "rb") as f:
            for line in f.read().decode(errors="replace").splitlines():
                fields = line.split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def drop_bounding(bounding: int) -> None:
    for cap in range(capabilities.last_cap() + 1):
        if not bounding & (1 << cap):
            libc.prctl(c.PR_CAPBSET_DROP, cap)


def set_user(user: dict[str, Any]) -> None:
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    libc.prctl(c.PR_SET_KEEPCAPS, 1)
    posix.setgroups([int(g) for g in user.get("additionalGids") or []])
    posix.setresgid(gid, gid, gid)
    posix.setresuid(uid, uid, uid)
    libc.prctl(c.PR_SET_KEEPCAPS, 0)


def set_ambient(ambient: int) -> None:
    if not ambient:
        return
    for cap in range(capabilities.last_cap() + 1):
        if ambient & (1 << cap):
            try:
                libc.prctl(c.PR_CAP_AMBIENT, c.PR_CAP_AMBIENT_RAISE, cap)
            except OSError:
                pass  # not in permitted+inheritable: runc skips it too


def apparmor(profile: str) -> None:
    """Ask the kernel to switch to the profile at execve. With AppArmor off,
    a profile is an error (as in runc); an empty one is accepted."""
    if not profile:
        return
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            enabled = f.read().strip() == "Y"
    except OSError:
        enabled = False
    if not enabled:
        raise OSError(95, "apparmor profile specified but AppArmor is not enabled on this system")
    for path in ("/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"):
        try:
            fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            posix.write(fd, f"exec {profile}".encode())
        finally:
            posix.close(fd)
        return


def finalize(proc: dict[str, Any], seccomp: Program | LibseccompFilter | None,
             step: Step) -> tuple[str, list[str], dict[str, str]]:
    """Everything from rlimits to seccomp, in runc's order; returns what
    execve needs (path, argv, env). Runs in the container's root; the
    filter was compiled (or found in the cache) before: seccomp.prepare."""
    step.name = "default signals"
    default_signals()
    step.name = "rlimits"
    set_rlimits(proc.get("rlimits") or [])
    if proc.get("oomScoreAdj") is not None:
        step.name = "oom_score_adj"
        fd = posix.open("/proc/self/oom_score_adj", posix.O_WRONLY | posix.O_CLOEXEC)
        try:
            posix.write(fd, str(int(proc["oomScoreAdj"])).encode())
        finally:
            posix.close(fd)
    user = proc.get("user") or {}
    env = env_dict(proc.get("env") or [])
    if "HOME" not in env:
        env["HOME"] = home_of(int(user.get("uid", 0)))
    nnp = bool(proc.get("noNewPrivileges"))
    if nnp:
        step.name = "no_new_privs"
        libc.prctl(c.PR_SET_NO_NEW_PRIVS, 1)
    if seccomp and not nnp:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
        # before the capabilities are dropped (runc's order).
        step.name = "seccomp"
        seccomp.load()
    caps = capabilities.masks(proc.get("capabilities"))
    step.name = "drop bounding capabilities"
    drop_bounding(caps["bounding"])
    step.name = "set user"
    set_user(user)
    step.name = "set capabilities"
    libc.capset(caps["effective"], caps["permitted"], caps["inheritable"])
    set_ambient(caps["ambient"])
    # As the container's user, so its permissions apply (runc's order).
    step.name = "chdir"
    posix.chdir(proc.get("cwd") or "/")
    umask = user.get("umask")
    posix.umask(0o022 if umask is None else int(umask))
    step.name = "lookup executable"
    args = proc.get("args") or []
    path = lookup_path(args[0], env)
    step.name = "apparmor"
    apparmor(proc.get("apparmorProfile") or "")
    if seccomp and nnp:
        step.name = "seccomp"
        seccomp.load()
    return path, list(args), env


def default_signals() -> None:
    """The container's process starts with every signal at its default and
    none blocked, as under runc. Ignored dispositions survive execve: Python
    ignores SIGPIPE and SIGXFSZ, our parents may ignore more, and glibc's
    internal signals (32, 33), ignored in any child of glibc's posix_spawn
    (GNU make's recipes, for one), cannot be reset through the libc at all.
    So the raw system calls, for every signal. Called first in finalize,
    before a seccomp filter could refuse them."""
    libc.default_all_signals()
    libc.unblock_all_signals()


def close_fds_from(first: int) -> None:
    """Mark every fd from ``first`` close-on-exec, so nothing of the runtime
    leaks into the container (runc's fix for CVE-2024-21626)."""
    try:
        libc.close_range(first, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
        return
    except OSError:
        pass  # before Linux 5.11
    for name in posix.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                posix.set_inheritable(fd, False)
            except OSError:
                pass


CLOSE_RANGE_CLOEXEC = 4
