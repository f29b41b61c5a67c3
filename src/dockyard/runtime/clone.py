"""fork() straight into a cgroup2 cgroup: clone3 with CLONE_INTO_CGROUP.

Moving a process between cgroups by writing its pid to cgroup.procs takes
the kernel's cgroup_threadgroup_rwsem for writing, which first waits for an
RCU grace period (5-30 ms on a busy host, while holding cgroup_mutex, so
every other cgroup operation on the host waits too). A child created inside
the cgroup is never moved: no grace period. (On cgroup v1 the container's
init moves itself by writing "0" to each hierarchy's ``tasks`` file, which
moves one thread and needs no such lock either; see init.py.)

The clone3 call goes through ctypes with the GIL held and Python's own fork
hooks around it (PyOS_BeforeFork / PyOS_AfterFork_*), as os.fork does. It
skips glibc's fork handlers, which matter only when other threads may hold
libc locks: callers use it from a single-threaded process only
(``single_threaded``), and fall back to os.fork otherwise."""

from __future__ import annotations

import _ctypes
import posix
import sys

from .._sys import ffi

CLONE_INTO_CGROUP = 0x200000000
SIGCHLD = 17
SYS_CLONE3 = 435  # the same on every architecture (new syscalls share numbers)
CLONE_ARGS_SIZE = 88  # struct clone_args up to .cgroup (CLONE_ARGS_SIZE_VER2)


class _HoldingGIL(_ctypes.CFuncPtr):
    """A C function called without releasing the GIL (ctypes.PyDLL's kind):
    fork-like calls must not let another thread take it meanwhile."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_PYTHONAPI | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = ffi.c_long


_lib = ffi.Library()
_syscall = _HoldingGIL(("syscall", _lib))
_before_fork = _HoldingGIL(("PyOS_BeforeFork", _lib))
_after_fork_parent = _HoldingGIL(("PyOS_AfterFork_Parent", _lib))
_after_fork_child = _HoldingGIL(("PyOS_AfterFork_Child", _lib))
for _f in (_before_fork, _after_fork_parent, _after_fork_child):
    _f.restype = None
    _f.argtypes = []


def single_threaded() -> bool:
    """Whether this process has one thread (field 20 of /proc/self/stat)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            data = f.read()
        return data[data.rfind(b")") + 2:].split()[17] == b"1"
    except (OSError, IndexError):
        return False


def fork_into_cgroup(cgroup_fd: int) -> int:
    """fork(), with the child born in the cgroup2 directory open at
    cgroup_fd. Returns 0 in the child and its pid in the parent; raises
    OSError (ENOSYS before Linux 5.7, EPERM or ENOSYS under a seccomp filter
    that refuses clone3, or the cgroup's own errors) without forking."""
    fields = (CLONE_INTO_CGROUP, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, cgroup_fd)
    args = ffi.string_buffer(b"".join(v.to_bytes(8, sys.byteorder) for v in fields))
    _before_fork()
    pid = _syscall(ffi.c_long(SYS_CLONE3), args, ffi.c_size_t(CLONE_ARGS_SIZE))
    err = ffi.get_errno()
    if pid == 0:
        _after_fork_child()
        return 0
    _after_fork_parent()
    if pid < 0:
        raise OSError(err, f"clone3: {posix.strerror(err)}")
    return pid
