"""Path helpers on the posix module, for code that starts often.

`import os` costs about 2 ms (it builds os.environ, a MutableMapping, which
pulls in _collections_abc, and imports posixpath); the runtime pays that at
every start of every command unless its hot paths use posix directly, with
these few helpers for what os.path offered."""

import posix
import sys

_STAT_MODE_DIR, _STAT_MODE_REG, _STAT_MODE_LNK, _STAT_FMT = 0o040000, 0o100000, 0o120000, 0o170000
_ELOOP = 40  # errno.ELOOP on Linux


def join(base: str, *parts: str) -> str:
    """os.path.join: an absolute part restarts the path."""
    path = base
    for p in parts:
        if p.startswith("/"):
            path = p
        elif not path or path.endswith("/"):
            path += p
        else:
            path += "/" + p
    return path


def dirname(path: str) -> str:
    head = path[:path.rfind("/") + 1]
    return head.rstrip("/") or head


def basename(path: str) -> str:
    return path[path.rfind("/") + 1:]


def normpath(path: str) -> str:
    """os.path.normpath for the paths the runtime handles."""
    absolute = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not absolute:
                out.append(part)
            continue
        out.append(part)
    joined = "/".join(out)
    return ("/" + joined) if absolute else (joined or ".")


def abspath(path: str) -> str:
    return normpath(path if path.startswith("/") else posix.getcwd() + "/" + path)


def _mode(path: str, follow: bool = True) -> int:
    try:
        return posix.stat(path, follow_symlinks=follow).st_mode
    except (OSError, ValueError):
        return 0


def exists(path: str) -> bool:
    return _mode(path) != 0


def lexists(path: str) -> bool:
    return _mode(path, follow=False) != 0


def isdir(path: str) -> bool:
    return _mode(path) & _STAT_FMT == _STAT_MODE_DIR


def islink(path: str) -> bool:
    return _mode(path, follow=False) & _STAT_FMT == 0o120000


def isfile(path: str) -> bool:
    return _mode(path) & _STAT_FMT == _STAT_MODE_REG


def realdir(path: str) -> str:
    """os.path.realpath of an existing directory, from the kernel."""
    fd = posix.open(path, posix.O_PATH | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        return posix.readlink(f"/proc/self/fd/{fd}")
    finally:
        posix.close(fd)


def makedirs(path: str, mode: int = 0o777, exist_ok: bool = True) -> None:
    try:
        posix.mkdir(path, mode)
    except FileNotFoundError:
        parent = dirname(path)
        if parent and parent != path:
            makedirs(parent, mode, True)
        try:
            posix.mkdir(path, mode)
        except FileExistsError:
            if not exist_ok or not isdir(path):
                raise
    except FileExistsError:
        if not exist_ok or not isdir(path):
            raise


def getenv(name: str, default: str | None = None) -> str | None:
    value = posix.environ.get(name.encode())
    return default if value is None else value.decode(sys.getfilesystemencoding(), "surrogateescape")


def fsencode(path: str) -> bytes:
    return path.encode(sys.getfilesystemencoding(), "surrogateescape")


def secure_join(root: str, unsafe: str) -> str:
    """Join unsafe to root, resolving symlinks as if root were '/', so the
    result never leaves root (the filepath-securejoin algorithm): how the
    runtime places mounts and the daemon places files in a container's root."""
    root = abspath(root)
    parts = [p for p in unsafe.split("/") if p and p != "."]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = join(root, *resolved, part)
        try:
            st = posix.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if st.st_mode & _STAT_FMT == _STAT_MODE_LNK:
            links += 1
            if links > 255:
                raise OSError(_ELOOP, f"too many symlinks resolving {unsafe}")
            target = posix.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return join(root, *resolved)


def proc_status_hex(field: str) -> int | None:
    """A hexadecimal field of /proc/self/status (SigIgn, CapBnd, ...); None
    where it cannot be read."""
    try:
        fd = posix.open("/proc/self/status", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = posix.read(fd, 16384)
    finally:
        posix.close(fd)
    key = b"\n" + field.encode() + b":"
    at = data.find(key)
    if at < 0:
        return None
    start = at + len(key)
    try:
        return int(data[start:data.index(b"\n", start)].strip(), 16)
    except ValueError:
        return None
