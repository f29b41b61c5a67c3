"""linux.seccomp to a filter through libseccomp (pyseccomp), loaded as the
last step before the container process waits for `start`.

Building docker's default profile through libseccomp costs ~40 ms (the
import, hundreds of rules, the compile), at every create and exec. So
``prepare`` runs in the runtime's main process, before it forks, and keeps
the BPF program libseccomp exports in a cache under the state root
(``@seccomp-cache``, 0700; '@' is not allowed in a container id), keyed by
the profile's canonical JSON, the architecture, the kernel and libseccomp's
version. On a hit pyseccomp is not imported at all: the program is loaded
with seccomp(2) and the flags libseccomp would pass (no TSYNC: init is
single-threaded; no_new_privs stays the config's decision). Profiles with
SCMP_ACT_NOTIFY bypass the cache (libseccomp's load makes the listener)."""

from __future__ import annotations

import errno as errno_mod
import posix

from .._sys import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
            "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
_OPS = {"SCMP_CMP_NE": "NE", "SCMP_CMP_LT": "LT", "SCMP_CMP_LE": "LE", "SCMP_CMP_EQ": "EQ",
        "SCMP_CMP_GE": "GE", "SCMP_CMP_GT": "GT", "SCMP_CMP_MASKED_EQ": "MASKED_EQ"}
_ARCHES = {"SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32",
           "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_MIPS": "mips",
           "SCMP_ARCH_MIPS64": "mips64", "SCMP_ARCH_MIPS64N32": "mips64n32", "SCMP_ARCH_MIPSEL": "mipsel",
           "SCMP_ARCH_MIPSEL64": "mipsel64", "SCMP_ARCH_MIPSEL64N32": "mipsel64n32", "SCMP_ARCH_PPC": "ppc",
           "SCMP_ARCH_PPC64": "ppc64", "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390": "s390",
           "SCMP_ARCH_S390X": "s390x", "SCMP_ARCH_RISCV64": "riscv64"}


def validate(cfg: dict[str, Any]) -> None:
    """Check names before forking, so a bad profile fails `create` cleanly."""
    if cfg.get("defaultAction") not in _ACTIONS:
        raise ValueError(f"linux.seccomp.defaultAction: unknown action {cfg.get('defaultAction')!r}")
    for a in cfg.get("architectures") or []:
        if a not in _ARCHES:
            raise ValueError(f"linux.seccomp.architectures: unknown architecture {a!r}")
    for i, sc in enumerate(cfg.get("syscalls") or []):
        if sc.get("action") not in _ACTIONS:
            raise ValueError(f"linux.seccomp.syscalls[{i}].action: unknown action {sc.get('action')!r}")
        for arg in sc.get("args") or []:
            if arg.get("op") not in _OPS:
                raise ValueError(f"linux.seccomp.syscalls[{i}].args: unknown operator {arg.get('op')!r}")


def _action(seccomp: Any, name: str, errno_ret: int | None) -> int:
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(errno_mod.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_TRACE":
        return seccomp.TRACE(errno_mod.EPERM if errno_ret is None else errno_ret)
    return {"SCMP_ACT_KILL": seccomp.KILL_THREAD, "SCMP_ACT_KILL_THREAD": seccomp.KILL_THREAD,
            "SCMP_ACT_KILL_PROCESS": seccomp.KILL_PROCESS, "SCMP_ACT_TRAP": seccomp.TRAP,
            "SCMP_ACT_ALLOW": seccomp.ALLOW, "SCMP_ACT_LOG": seccomp.LOG,
            "SCMP_ACT_NOTIFY": seccomp.NOTIFY}[name]


def _conditions(seccomp: Any, args: list[dict[str, Any]]) -> list[list[Any]]:
    """The rules to add for one syscall entry. libseccomp refuses two
    comparisons of the same argument in one rule; runc then adds one rule per
    comparison (OR instead of AND), and so do we."""
    conds = []
    for arg in args:
        op = getattr(seccomp, _OPS[arg["op"]])
        conds.append(seccomp.Arg(int(arg["index"]), op, int(arg.get("value", 0)), int(arg.get("valueTwo", 0))))
    indexes = [int(a["index"]) for a in args]
    if len(set(indexes)) != len(indexes):
        return [[cond] for cond in conds]
    return [conds]


def build_filter(cfg: dict[str, Any]) -> Any:
    import pyseccomp as seccomp

    validate(cfg)
    if cfg.get("listenerPath"):
        raise ValueError("linux.seccomp.listenerPath: seccomp notify is not supported")
    default = _action(seccomp, cfg["defaultAction"], cfg.get("defaultErrnoRet"))
    filt = seccomp.SyscallFilter(default)
    # no_new_privs is the config's decision (process.noNewPrivileges), not libseccomp's.
    filt.set_attr(seccomp.Attr.CTL_NNP, 0)
    flags = cfg.get("flags") or []
    if "SECCOMP_FILTER_FLAG_LOG" in flags:
        filt.set_attr(seccomp.Attr.CTL_LOG, 1)
    if "SECCOMP_FILTER_FLAG_SPEC_ALLOW" in flags:
        filt.set_attr(seccomp.Attr.CTL_SSB, 1)
    for a in cfg.get("architectures") or []:
        arch = getattr(seccomp.Arch, _ARCHES[a].upper())
        try:
            filt.add_arch(arch)
        except OSError as e:
            if e.errno != errno_mod.EEXIST:  # the native one is already there
                raise ValueError(f"linux.seccomp.architectures: {a}: {e.strerror}") from None
    for sc in cfg.get("syscalls") or []:
        action = _action(seccomp, sc["action"], sc.get("errnoRet"))
        if action == default:
            continue  # libseccomp refuses a rule equal to the default; runc skips it too
        rules = _conditions(seccomp, sc.get("args") or [])
        for name in sc.get("names") or []:
            try:
                number = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
            except Exception:
                number = -1
            if number == -1:  # __NR_SCMP_ERROR
                continue  # unknown to this kernel/architecture: runc ignores it
            for conds in rules:
                try:
                    filt.add_rule(action, number, *conds)
                except OSError as e:
                    raise ValueError(f"linux.seccomp.syscalls: {name}: {e.strerror}") from None
    return filt


def load_filter(cfg: dict[str, Any]) -> None:
    build_filter(cfg).load()


CACHE_DIR = "@seccomp-cache"
CACHE_ENTRIES = 64
FORMAT = 1
# An entry: magic, format, seccomp(2) flags, instruction count, sha256 of
# the program (56 bytes, a multiple of 8), then the program itself.
_MAGIC = b"DYSECCMP"
_HEADER = 56
_BPF_MAXINSNS = 4096
# Counted on the runtime's paths: tests read them (DOCKYARD_RUNTIME_MODULES_FILE).
stats = {"hit": 0, "miss": 0}


class Program:
    """A compiled filter: BPF instructions and the seccomp(2) flags."""

    def __init__(self, bpf: bytes, flags: int) -> None:
        self.bpf, self.flags = bpf, flags

    def load(self) -> None:
        from .._sys import libc
        libc.seccomp_set_mode_filter(self.bpf, self.flags)


class LibseccompFilter:
    """A profile the cache cannot hold, loaded by libseccomp itself."""

    def __init__(self, filt: Any) -> None:
        self.filt = filt

    def load(self) -> None:
        self.filt.load()


def prepare(cfg: dict[str, Any], state_root: str) -> Program | LibseccompFilter:
    """The filter for cfg, from the cache under state_root or compiled
    (and cached). Raises ValueError for a profile libseccomp refuses."""
    if cfg.get("listenerPath") or _uses_notify(cfg):
        return LibseccompFilter(build_filter(cfg))
    flags = _load_flags(cfg)
    directory = _cache_dir(state_root)
    path = fs.join(directory, cache_key(cfg)) if directory else ""
    if path:
        bpf = _read_entry(path, flags)
        if bpf is not None:
            stats["hit"] += 1
            try:
                posix.utime(path)  # recently used: evicted last
            except OSError:
                pass
            return Program(bpf, flags)
    stats["miss"] += 1
    bpf = export_bpf(build_filter(cfg))
    if path:
        try:
            _write_entry(path, bpf, flags)
            _evict(directory)
        except OSError:
            pass  # a full or read-only disk: the container starts all the same
    return Program(bpf, flags)


def _uses_notify(cfg: dict[str, Any]) -> bool:
    return cfg.get("defaultAction") == "SCMP_ACT_NOTIFY" or \
        any(sc.get("action") == "SCMP_ACT_NOTIFY" for sc in cfg.get("syscalls") or [])


def _load_flags(cfg: dict[str, Any]) -> int:
    """What libseccomp's seccomp_load passes for the attributes build_filter sets."""
    from .._sys.libc import SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW
    names = cfg.get("flags") or []
    return (SECCOMP_FILTER_FLAG_LOG if "SECCOMP_FILTER_FLAG_LOG" in names else 0) | \
        (SECCOMP_FILTER_FLAG_SPEC_ALLOW if "SECCOMP_FILTER_FLAG_SPEC_ALLOW" in names else 0)


def cache_key(cfg: dict[str, Any]) -> str:
    from .jsonio import dumps_sorted
    u = posix.uname()
    text = f"{FORMAT}\0{u.machine}\0{u.release}\0{libseccomp_version()}\0{dumps_sorted(cfg)}"
    return _sha256(text.encode()).hexdigest()


def _sha256(data: bytes) -> Any:
    try:
        from _sha256 import sha256  # hashlib would load OpenSSL too
    except ImportError:
        from hashlib import sha256
    return sha256(data)


def libseccomp_version() -> str:
    """seccomp_version() of the libseccomp.so.2 pyseccomp would load,
    without importing pyseccomp (which runs ldconfig to find it)."""
    from .._sys import ffi
    lib = ffi.Library("libseccomp.so.2")
    version = lib.function("seccomp_version", [], ffi.c_void_p)()
    if not version:
        return "unknown"
    v = (ffi.c_uint * 3).from_address(version)
    return f"{v[0]}.{v[1]}.{v[2]}"


def export_bpf(filt: Any) -> bytes:
    """The program libseccomp would load (seccomp_export_bpf), through a memfd."""
    fd = posix.memfd_create("dockyard-seccomp", posix.MFD_CLOEXEC)
    try:
        class _Fd:
            def fileno(self) -> int:
                return fd
        filt.export_bpf(_Fd())
        size = posix.fstat(fd).st_size
        chunks, offset = [], 0
        while offset < size:
            chunk = posix.pread(fd, size - offset, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)
    finally:
        posix.close(fd)


def _cache_dir(state_root: str) -> str:
    """The cache directory, made if missing; "" (no cache) unless it is a
    directory only its owner (us) can use."""
    path = fs.join(state_root, CACHE_DIR)
    try:
        posix.mkdir(path, 0o700)
    except FileNotFoundError:
        try:
            fs.makedirs(state_root, 0o711, exist_ok=True)
            posix.mkdir(path, 0o700)
        except OSError:
            return ""
    except FileExistsError:
        pass
    except OSError:
        return ""
    try:
        st = posix.lstat(path)
    except OSError:
        return ""
    if (st.st_mode & 0o170000) != 0o040000 or st.st_uid != posix.geteuid() or st.st_mode & 0o077:
        return ""
    return path


def _read_entry(path: str, flags: int) -> bytes | None:
    """The program in a cache entry, or None if missing or not intact."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC | posix.O_NOFOLLOW)
    except OSError:
        return None
    try:
        data = posix.read(fd, _HEADER + 8 * _BPF_MAXINSNS + 1)
    except OSError:
        return None
    finally:
        posix.close(fd)
    return parse_entry(data, flags)


def parse_entry(data: bytes, flags: int) -> bytes | None:
    if len(data) < _HEADER + 8 or len(data) % 8 or data[:8] != _MAGIC:
        return None
    fmt, entry_flags, count = (int.from_bytes(data[i:i + 4], "little") for i in (8, 12, 16))
    bpf = data[_HEADER:]
    if fmt != FORMAT or entry_flags != flags or count != len(bpf) // 8 or count > _BPF_MAXINSNS:
        return None
    if _sha256(bpf).digest() != data[24:56]:
        return None
    return bpf


def make_entry(bpf: bytes, flags: int) -> bytes:
    if len(bpf) % 8 or not bpf:
        raise ValueError(f"seccomp: libseccomp exported {len(bpf)} bytes, not a BPF program")
    header = _MAGIC + b"".join(n.to_bytes(4, "little") for n in (FORMAT, flags, len(bpf) // 8, 0))
    return header + _sha256(bpf).digest() + bpf


def _write_entry(path: str, bpf: bytes, flags: int) -> None:
    from ..fsutil import atomic_write
    atomic_write(path, make_entry(bpf, flags), mode=0o600)


def _evict(directory: str, keep: int = CACHE_ENTRIES) -> None:
    """At most ``keep`` entries, the least recently used go first; temp
    files a killed runtime left go after a minute."""
    import time
    entries, now = [], time.time()
    for name in posix.listdir(directory):
        path = fs.join(directory, name)
        try:
            mtime = posix.lstat(path).st_mtime
        except OSError:
            continue
        if name.startswith("."):
            if now - mtime > 60:
                _unlink(path)
        else:
            entries.append((mtime, path))
    entries.sort()
    for _mtime, path in entries[:max(0, len(entries) - keep)]:
        _unlink(path)


def _unlink(path: str) -> None:
    try:
        posix.unlink(path)
    except OSError:
        pass
