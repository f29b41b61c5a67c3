"""The container's filesystem view, built inside its mount namespace:
spec mounts, /dev, pivot_root, then masked and read-only paths."""

from __future__ import annotations

import errno
import posix
import stat

from .._sys import consts as c
from .._sys import fs
from .._sys import libc
from . import mountopts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_DEVICES = [
    {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
    {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666},
    {"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o666},
    {"path": "/dev/random", "type": "c", "major": 1, "minor": 8, "fileMode": 0o666},
    {"path": "/dev/urandom", "type": "c", "major": 1, "minor": 9, "fileMode": 0o666},
    {"path": "/dev/tty", "type": "c", "major": 5, "minor": 0, "fileMode": 0o666},
]
DEFAULT_SYMLINKS = [
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
]


secure_join = fs.secure_join  # rootfs.secure_join: the name callers use


def _mkdir_all(path: str) -> None:
    fs.makedirs(path, mode=0o755, exist_ok=True)


def _ensure_target(target: str, source_is_dir: bool) -> None:
    if fs.lexists(target):
        return
    if source_is_dir:
        _mkdir_all(target)
    else:
        _mkdir_all(fs.dirname(target))
        posix.close(posix.open(target, posix.O_CREAT | posix.O_WRONLY | posix.O_CLOEXEC, 0o755))


def mount_entry(m: dict[str, Any], rootfs: str, bundle: str, cgroup_paths: dict[str, str],
                cgroupns: bool, cgroup_mode: str = "v1") -> None:
    dest = m.get("destination", "")
    if not dest.startswith("/"):
        dest = "/" + dest  # runtime-spec 1.1: relative to "/" (deprecated)
    mtype = m.get("type") or ""
    options = list(m.get("options") or [])
    flags, prop, data, ext = mountopts.parse(options)
    source = m.get("source") or ""
    is_bind = bool(flags & c.MS_BIND) or mtype == "bind"
    if is_bind:
        flags |= c.MS_BIND
        if not source.startswith("/"):
            source = fs.join(bundle, source)
    target = secure_join(rootfs, dest)

    if mtype == "cgroup":
        _mount_cgroup(target, flags, cgroup_paths, cgroupns, cgroup_mode)
    elif is_bind:
        try:
            st = posix.stat(source)
        except OSError as e:
            raise OSError(e.errno, f"bind source {source}: {e.strerror}") from None
        _ensure_target(target, stat.S_ISDIR(st.st_mode))
        # The target may have been swapped for a symlink after resolution:
        # re-resolve and refuse anything that now escapes.
        target = secure_join(rootfs, dest)
        libc.mount(source, target, None, flags & (c.MS_BIND | c.MS_REC))
        extra = flags & ~(c.MS_BIND | c.MS_REC | c.MS_REMOUNT)
        if extra:
            keep = mountopts.statvfs_flags(target) & (c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC)
            libc.mount(None, target, None, c.MS_BIND | c.MS_REMOUNT | extra | keep)
        if "rro" in ext:
            _remount_recursive_ro(target)
    else:
        _ensure_target(target, True)
        if mtype == "tmpfs" and "tmpcopyup" in ext:
            _tmpfs_copyup(source or "tmpfs", target, flags, data)
        else:
            try:
                libc.mount(source or mtype, target, mtype, flags, data or None)
            except OSError as e:
                # mqueue and sysfs can be refused inside user namespaces; runc falls back to a bind.
                if mtype == "sysfs" and e.errno in (errno.EPERM, errno.EINVAL):
                    libc.mount("/sys", target, None, c.MS_BIND | c.MS_REC)
                else:
                    raise
    for p in prop:
        libc.mount(None, target, None, p)


def _remount_recursive_ro(target: str) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted({p for p in points if p == target or p.startswith(target.rstrip("/") + "/")}):
        keep = mountopts.statvfs_flags(p)
        libc.mount(None, p, None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | keep)


def _tmpfs_copyup(source: str, target: str, flags: int, data: str) -> None:
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix=".tmpcopyup", dir="/tmp")
    try:
        libc.mount(source, tmp, "tmpfs", flags, data or None)
        for name in posix.listdir(target):
            src = fs.join(target, name)
            if fs.isdir(src) and not fs.islink(src):
                shutil.copytree(src, fs.join(tmp, name), symlinks=True)
            else:
                shutil.copy2(src, fs.join(tmp, name), follow_symlinks=False)
        libc.mount(tmp, target, None, c.MS_MOVE)
    finally:
        posix.rmdir(tmp)


def _mount_cgroup(target: str, flags: int, cgroup_paths: dict[str, str], cgroupns: bool, mode: str) -> None:
    _ensure_target(target, True)
    if mode == "v2":  # the container's own cgroup
        if cgroupns:
            libc.mount("cgroup2", target, "cgroup2", flags)
        else:
            libc.mount(cgroup_paths[""], target, None, c.MS_BIND | c.MS_REC)
            libc.mount(None, target, None, c.MS_BIND | c.MS_REMOUNT | flags)
        return
    # cgroup v1: a tmpfs with one directory per hierarchy holding the container's cgroup.
    libc.mount("tmpfs", target, "tmpfs", c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC, "mode=755")
    hierarchies: dict[str, list[str]] = {}
    for ctrl, path in cgroup_paths.items():
        hierarchies.setdefault(path, []).append(ctrl)
    for host_dir, ctrls in hierarchies.items():
        mount_dir = _hierarchy_name(host_dir, ctrls)
        sub = fs.join(target, mount_dir)
        fs.makedirs(sub, exist_ok=True)
        if cgroupns:
            libc.mount("cgroup", sub, "cgroup", flags & ~c.MS_RDONLY, ",".join(ctrls))
        else:
            libc.mount(host_dir, sub, None, c.MS_BIND | c.MS_REC)
        if flags & c.MS_RDONLY:
            libc.mount(None, sub, None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC)
    if flags & c.MS_RDONLY:
        libc.mount(None, target, None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC)


def _hierarchy_name(host_dir: str, ctrls: list[str]) -> str:
    rel = host_dir.split("/sys/fs/cgroup/", 1)[-1]
    return rel.split("/", 1)[0] or ",".join(sorted(ctrls))


def make_devices(rootfs: str, devices: list[dict[str, Any]], in_userns: bool) -> None:
    for dev in devices:
        path = dev.get("path", "")
        if not path.startswith("/dev/"):
            raise ValueError(f"linux.devices: path {path!r} must be under /dev")
        target = secure_join(rootfs, path)
        _mkdir_all(fs.dirname(target))
        if in_userns:
            # mknod is not allowed in a user namespace: bind the host's node.
            if not fs.lexists(target):
                posix.close(posix.open(target, posix.O_CREAT | posix.O_WRONLY | posix.O_CLOEXEC, 0o644))
            libc.mount(path, target, None, c.MS_BIND)
            continue
        kind = dev.get("type", "c")
        mode = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}.get(kind)
        if mode is None:
            raise ValueError(f"linux.devices: {path}: unknown type {kind!r}")
        file_mode = dev.get("fileMode", 0o666) & 0o7777
        if fs.lexists(target):
            posix.unlink(target)
        posix.mknod(target, mode | file_mode, posix.makedev(dev.get("major", 0), dev.get("minor", 0)))
        posix.chmod(target, file_mode)  # mknod's mode is filtered by umask
        posix.chown(target, dev.get("uid", 0), dev.get("gid", 0))


def dev_symlinks(rootfs: str) -> None:
    links = list(DEFAULT_SYMLINKS)
    if fs.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for src, dst in links:
        target = fs.join(rootfs, dst.lstrip("/"))
        try:
            posix.symlink(src, target)
        except FileExistsError:
            pass
    ptmx = fs.join(rootfs, "dev/ptmx")
    if fs.isdir(fs.join(rootfs, "dev/pts")):
        if fs.lexists(ptmx):
            posix.unlink(ptmx)
        posix.symlink("pts/ptmx", ptmx)


def prepare_root(rootfs: str, propagation: str) -> None:
    """Make our copy of the mount table private to us, then make the rootfs a
    mount point so pivot_root accepts it."""
    flag = mountopts.PROPAGATION.get(propagation or "rslave", c.MS_SLAVE | c.MS_REC)
    libc.mount(None, "/", None, flag)
    _make_parent_private(rootfs)
    libc.mount(rootfs, rootfs, "bind", c.MS_BIND | c.MS_REC)


def _make_parent_private(rootfs: str) -> None:
    # pivot_root refuses a new root whose parent mount is shared.
    best, best_opts = "/", ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mp = fields[4]
            if (rootfs == mp or rootfs.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best):
                best, best_opts = mp, line.split(" - ")[0]
    if "shared:" in best_opts:
        libc.mount(None, best, None, c.MS_PRIVATE)


def pivot_root(rootfs: str) -> None:
    oldroot = posix.open("/", posix.O_DIRECTORY | posix.O_RDONLY | posix.O_CLOEXEC)
    newroot = posix.open(rootfs, posix.O_DIRECTORY | posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        posix.fchdir(newroot)
        libc.pivot_root(".", ".")
        posix.fchdir(oldroot)
        # Keep the old root's unmount from propagating back to the host.
        libc.mount(None, ".", None, c.MS_SLAVE | c.MS_REC)
        libc.umount2(".", c.MNT_DETACH)
    finally:
        posix.close(oldroot)
        posix.close(newroot)
    posix.chdir("/")


def move_root(rootfs: str) -> None:
    """--no-pivot: move the rootfs over / and chroot (for ramdisk hosts)."""
    posix.chdir(rootfs)
    libc.mount(rootfs, "/", None, c.MS_MOVE)
    posix.chroot(".")
    posix.chdir("/")


def readonly_root() -> None:
    keep = mountopts.statvfs_flags("/")
    libc.mount(None, "/", None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | keep)


def mask_path(path: str, label: str = "") -> None:
    try:
        libc.mount("/dev/null", path, None, c.MS_BIND)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return
        if e.errno == errno.ENOTDIR:
            libc.mount("tmpfs", path, "tmpfs", c.MS_RDONLY, label or None)
            return
        raise


def readonly_path(path: str) -> None:
    try:
        libc.mount(path, path, None, c.MS_BIND | c.MS_REC)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return
        raise
    keep = mountopts.statvfs_flags(path)
    libc.mount(path, path, None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | c.MS_REC | keep)
