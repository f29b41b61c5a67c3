"""libc through ctypes (the _ctypes core, see ffi.py), declared per function;
every call checked by ``check``."""

from __future__ import annotations

import errno
import posix

from . import ffi
from . import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

_libc = ffi.Library()

_ARCH = posix.uname().machine
# Syscall numbers for calls glibc 2.36 has no wrapper for.
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126, "seccomp": 317,
               "pidfd_open": 434, "close_range": 436, "pidfd_send_signal": 424, "openat2": 437,
               "rt_sigaction": 13, "rt_sigprocmask": 14},
    "aarch64": {"pivot_root": 41, "capget": 90, "capset": 91, "seccomp": 277,
                "pidfd_open": 434, "close_range": 436, "pidfd_send_signal": 424, "openat2": 437,
                "rt_sigaction": 134, "rt_sigprocmask": 135},
}


def _fn(name: str, argtypes: list | None, restype: type = ffi.c_int) -> Callable:
    return _libc.function(name, argtypes, restype)


_mount = _fn("mount", [ffi.c_char_p, ffi.c_char_p, ffi.c_char_p, ffi.c_ulong, ffi.c_char_p])
_umount2 = _fn("umount2", [ffi.c_char_p, ffi.c_int])
_unshare = _fn("unshare", [ffi.c_int])
_setns = _fn("setns", [ffi.c_int, ffi.c_int])
_sethostname = _fn("sethostname", [ffi.c_char_p, ffi.c_size_t])
_setdomainname = _fn("setdomainname", [ffi.c_char_p, ffi.c_size_t])
_prctl = _fn("prctl", [ffi.c_int, ffi.c_ulong, ffi.c_ulong, ffi.c_ulong, ffi.c_ulong])
_syscall = _fn("syscall", None, ffi.c_long)
_socket = _fn("socket", [ffi.c_int, ffi.c_int, ffi.c_int])
_ioctl = _fn("ioctl", None)
_setrlimit = _fn("setrlimit", None)


class _Rlimit(ffi.Structure):
    _fields_ = [("cur", ffi.c_ulong), ("max", ffi.c_ulong)]


RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF


def check(ret: int, op: str, path: str | None = None) -> int:
    if ret < 0:
        e = ffi.get_errno()
        raise OSError(e, f"{op}: {posix.strerror(e)}", path)
    return ret


def _retry(call: Callable[[], int], op: str, path: str | None = None) -> int:
    while True:
        ret = call()
        if ret >= 0:
            return ret
        if ffi.get_errno() != errno.EINTR:
            return check(ret, op, path)


def _b(s: str | None) -> bytes | None:
    return None if s is None else fs.fsencode(s)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _retry(lambda: _mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
           f"mount {source or 'none'} on {target} ({fstype or 'bind'})", target)


def umount2(target: str, flags: int = 0) -> None:
    _retry(lambda: _umount2(_b(target), flags), f"umount {target}", target)


def unshare(flags: int) -> None:
    _retry(lambda: _unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int = 0) -> None:
    _retry(lambda: _setns(fd, nstype), "setns")


def socket(domain: int, kind: int, proto: int = 0) -> int:
    """A socket fd (for ioctls; the socket module costs milliseconds to import)."""
    return check(_socket(domain, kind | 0o2000000, proto), "socket")  # SOCK_CLOEXEC


def ioctl(fd: int, request: int, data: bytes) -> bytes:
    """ioctl with an in/out buffer (what fcntl.ioctl does, without loading fcntl)."""
    buf = ffi.string_buffer(data)
    check(_ioctl(fd, ffi.c_ulong(request), buf), f"ioctl({request:#x})")
    return buf.raw[:len(data)]


def setrlimit(resource: int, soft: int, hard: int) -> None:
    """-1 (or RLIM_INFINITY) is unlimited (what resource.setrlimit does,
    without loading resource)."""
    lim = _Rlimit(RLIM_INFINITY if soft < 0 else soft, RLIM_INFINITY if hard < 0 else hard)
    check(_setrlimit(resource, ffi.byref(lim)), f"setrlimit({resource})")


def sethostname(name: str) -> None:
    b = name.encode()
    check(_sethostname(b, len(b)), "sethostname")


def setdomainname(name: str) -> None:
    b = name.encode()
    check(_setdomainname(b, len(b)), "setdomainname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return check(_prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def syscall_number(name: str) -> int:
    try:
        return _SYSCALLS[_ARCH][name]
    except KeyError:
        raise OSError(errno.ENOSYS, f"{name}: unsupported architecture {_ARCH}") from None


def pivot_root(new_root: str, put_old: str) -> None:
    nr = syscall_number("pivot_root")
    _retry(lambda: _syscall(ffi.c_long(nr), _b(new_root), _b(put_old)), "pivot_root", new_root)


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    nr = syscall_number("close_range")
    check(_syscall(ffi.c_long(nr), ffi.c_uint(first), ffi.c_uint(last), ffi.c_uint(flags)),
          "close_range")


class _OpenHow(ffi.Structure):
    _fields_ = [("flags", ffi.c_ulong), ("mode", ffi.c_ulong), ("resolve", ffi.c_ulong)]  # __u64 each (LP64)


RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH = 0x01, 0x02, 0x04, 0x08


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """openat2(2): path resolved under dirfd as resolve says (e.g. never
    through a symlink, never above dirfd); OSError (ENOSYS before Linux 5.6)."""
    how = _OpenHow(flags, mode, resolve)
    nr = ffi.c_long(syscall_number("openat2"))
    return _retry(lambda: _syscall(nr, ffi.c_int(dirfd), _b(path), ffi.byref(how), ffi.c_size_t(24)),
                  "openat2", path)


class _SockFprog(ffi.Structure):
    _fields_ = [("len", ffi.c_ushort), ("filter", ffi.c_void_p)]


SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW = 2, 4


def seccomp_set_mode_filter(program: bytes, flags: int = 0) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, &sock_fprog): install a
    classic BPF program (struct sock_filter, 8 bytes an instruction)."""
    buf = (ffi.c_char * len(program))()
    buf.raw = program
    prog = _SockFprog(len(program) // 8, ffi.addressof(buf))
    check(_syscall(ffi.c_long(syscall_number("seccomp")), ffi.c_uint(SECCOMP_SET_MODE_FILTER),
                   ffi.c_uint(flags), ffi.byref(prog)), "seccomp(SECCOMP_SET_MODE_FILTER)")


class _CapHeader(ffi.Structure):
    _fields_ = [("version", ffi.c_uint32), ("pid", ffi.c_int)]


class _CapData(ffi.Structure):
    _fields_ = [("effective", ffi.c_uint32), ("permitted", ffi.c_uint32),
                ("inheritable", ffi.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    check(_syscall(ffi.c_long(syscall_number("capset")), ffi.byref(hdr), ffi.byref(data)), "capset")


def capget(pid: int = 0) -> tuple[int, int, int]:
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    check(_syscall(ffi.c_long(syscall_number("capget")), ffi.byref(hdr), ffi.byref(data)), "capget")
    eff = data[0].effective | (data[1].effective << 32)
    perm = data[0].permitted | (data[1].permitted << 32)
    inh = data[0].inheritable | (data[1].inheritable << 32)
    return eff, perm, inh


def set_process_name(name: str) -> None:
    """PR_SET_NAME: the comm shown by ps (15 bytes at most)."""
    buf = ffi.string_buffer(name.encode()[:15])
    check(_prctl(15, ffi.addressof(buf), 0, 0, 0), "prctl(PR_SET_NAME)")


# -- signal dispositions through the raw system calls -----------------------------
# glibc's sigaction refuses its internal signals (32 SIGCANCEL, 33 SIGSETXID)
# with EINVAL, yet glibc's posix_spawn sets them to SIG_IGN in every child it
# starts (GNU make runs recipes that way) and an ignored disposition survives
# execve: only the system call itself can give them back their default.

SIG_DFL, SIG_IGN = 0, 1
SIGKILL, SIGCHLD, SIGSTOP = 9, 17, 19
NSIG = 65  # signals 1..64


class _KernelSigaction(ffi.Structure):
    # The kernel's struct sigaction on x86_64 and arm64 (both have sa_restorer).
    _fields_ = [("handler", ffi.c_ulong), ("flags", ffi.c_ulong), ("restorer", ffi.c_ulong),
                ("mask", ffi.c_ulong)]


_SIGSET_SIZE = ffi.c_size_t(8)  # the kernel's sigset_t: 64 bits


def signal_disposition(sig: int) -> int:
    """The signal's handler as the kernel has it: SIG_DFL, SIG_IGN or an address."""
    old = _KernelSigaction()
    check(_syscall(ffi.c_long(syscall_number("rt_sigaction")), ffi.c_int(sig), None, ffi.byref(old),
                   _SIGSET_SIZE), f"rt_sigaction({sig})")
    return int(old.handler)


def set_signal_disposition(sig: int, handler: int) -> None:
    """SIG_DFL or SIG_IGN for sig, whatever the libc thinks of it."""
    act = _KernelSigaction(handler, 0, 0, 0)
    check(_syscall(ffi.c_long(syscall_number("rt_sigaction")), ffi.c_int(sig), ffi.byref(act), None,
                   _SIGSET_SIZE), f"rt_sigaction({sig})")


def default_all_signals() -> None:
    """Every signal but SIGKILL and SIGSTOP at SIG_DFL after the execve that
    follows (what runc gives a container's process). Handlers are reset by
    execve itself; only ignored dispositions survive it, so only the signals
    the kernel lists as ignored (SigIgn in /proc/self/status) are reset: two
    or three system calls instead of 62. Without /proc, all of them."""
    nr = ffi.c_long(syscall_number("rt_sigaction"))
    act = ffi.byref(_KernelSigaction(SIG_DFL, 0, 0, 0))
    ignored = _ignored_signals()
    for sig in range(1, NSIG):
        if sig != SIGKILL and sig != SIGSTOP and ignored >> (sig - 1) & 1:
            check(_syscall(nr, ffi.c_int(sig), act, None, _SIGSET_SIZE), f"rt_sigaction({sig})")


def _ignored_signals() -> int:
    """The SigIgn mask (bit n-1 is signal n); every bit set where /proc
    cannot tell."""
    mask = fs.proc_status_hex("SigIgn")
    return (1 << (NSIG - 1)) - 1 if mask is None else mask


def set_blocked_signals(mask: int) -> int:
    """Replace the calling thread's signal mask (bit n-1 is signal n, the
    libc's internal signals included); returns the previous mask."""
    new, old = ffi.c_ulong(mask), ffi.c_ulong(0)
    check(_syscall(ffi.c_long(syscall_number("rt_sigprocmask")), ffi.c_int(2), ffi.byref(new),  # SIG_SETMASK
                   ffi.byref(old), _SIGSET_SIZE), "rt_sigprocmask")
    return int(old.value)


def unblock_all_signals() -> None:
    set_blocked_signals(0)
