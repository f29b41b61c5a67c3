"""File operations confined to a root directory (a mounted snapshot).

Paths are resolved component by component from directory fds: symlinks met
on the way are followed *within* the root (an absolute target restarts at
the root, '..' stops there), as docker resolves COPY destinations, and the
final create/open never follows a symlink. Nothing a build step writes can
land outside the root, whatever links the image or the context contains."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Callable

from ..errdefs import InvalidArgument

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40


class PathError(InvalidArgument):
    pass


def split(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


@dataclass
class Meta:
    """What to set on a created file or directory."""
    mode: int
    uid: int = 0
    gid: int = 0
    mtime: int | None = None


class RootFS:
    def __init__(self, root: str) -> None:
        self.root = root
        self._fds: dict[str, int] = {"": os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)}
        self._dir_times: list[tuple[str, int]] = []

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> "RootFS":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- resolution ---------------------------------------------------------------
    def _fd(self, rel: str) -> int:
        """fd of an already resolved directory (components are real dirs)."""
        fd = self._fds.get(rel)
        if fd is not None:
            return fd
        parent, _, name = rel.rpartition("/")
        pfd = self._fd(parent)
        try:
            fd = os.open(name, _O_DIR, dir_fd=pfd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PathError(f"{'/' + rel}: not a directory") from None
            raise
        self._fds[rel] = fd
        return fd

    def resolve(self, path: str, follow_last: bool = True, create: Meta | None = None) -> str:
        """The real path (relative to the root, no symlinks in it except
        possibly the last component when follow_last is False). With create,
        missing directories are made with that metadata."""
        todo = split(path)
        cur: list[str] = []
        hops = 0
        while todo:
            name = todo.pop(0)
            if name == "..":
                if cur:
                    cur.pop()
                continue
            base = "/".join(cur)
            dfd = self._fd(base)
            try:
                st = os.lstat(name, dir_fd=dfd)
            except FileNotFoundError:
                if create is None:
                    cur.append(name)
                    cur.extend(p for p in todo if p != "..")
                    return "/".join(cur)
                self._mkdir(dfd, name, create)
                cur.append(name)
                continue
            if stat.S_ISLNK(st.st_mode) and (todo or follow_last):
                hops += 1
                if hops > _MAX_LINKS:
                    raise PathError(f"/{path.lstrip('/')}: too many levels of symbolic links")
                target = os.readlink(name, dir_fd=dfd)
                if target.startswith("/"):
                    cur = []
                todo = split(target) + todo
                continue
            if todo and not stat.S_ISDIR(st.st_mode):
                if create is None:
                    cur.append(name)
                    cur.extend(todo)
                    return "/".join(cur)
                raise PathError(f"/{'/'.join(cur + [name])}: not a directory")
            cur.append(name)
        return "/".join(cur)

    def _mkdir(self, dfd: int, name: str, meta: Meta) -> None:
        os.mkdir(name, 0o700, dir_fd=dfd)
        os.chown(name, meta.uid, meta.gid, dir_fd=dfd, follow_symlinks=False)
        os.chmod(name, meta.mode, dir_fd=dfd)

    def lstat(self, rel: str) -> os.stat_result | None:
        """lstat of a resolved path."""
        parent, _, name = rel.rpartition("/")
        if not name:
            return os.fstat(self._fds[""])
        try:
            return os.lstat(name, dir_fd=self._fd(parent))
        except (FileNotFoundError, PathError, NotADirectoryError):
            return None

    def is_dir(self, path: str) -> bool:
        st = self.lstat(self.resolve(path))
        return st is not None and stat.S_ISDIR(st.st_mode)

    def makedirs(self, path: str, meta: Meta) -> str:
        return self.resolve(path, create=meta)

    def read(self, path: str, limit: int = 1 << 20) -> bytes | None:
        rel = self.resolve(path)
        parent, _, name = rel.rpartition("/")
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._fd(parent))
        except (OSError, PathError):
            return None
        try:
            return os.read(fd, limit)
        finally:
            os.close(fd)

    # -- writing entries ---------------------------------------------------------
    def _clear(self, dfd: int, name: str, keep_dir: bool) -> os.stat_result | None:
        """Make room for a new entry; an existing directory stays when the
        new entry is a directory too."""
        try:
            st = os.lstat(name, dir_fd=dfd)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return st
            _rmtree(dfd, name)
            self._forget(dfd, name)
        else:
            os.unlink(name, dir_fd=dfd)
        return None

    def _forget(self, dfd: int, name: str) -> None:
        """Drop cached fds of a directory tree that was just removed."""
        parent = next((p for p, fd in self._fds.items() if fd == dfd), None)
        if parent is None:
            return
        gone = f"{parent}/{name}" if parent else name
        for p in [p for p in self._fds if p == gone or p.startswith(gone + "/")]:
            os.close(self._fds.pop(p))

    def first_missing(self, path: str) -> str | None:
        """The first component of path (resolved in the root) that does not
        exist: what creating path would add. None if it all exists."""
        rel = self.resolve(path)
        parts = split(rel)
        for i in range(1, len(parts) + 1):
            if self.lstat("/".join(parts[:i])) is None:
                return "/".join(parts[:i])
        return None

    def put_dir(self, rel_parent: str, name: str, meta: Meta, follow_existing: bool = True) -> str:
        """A directory at rel_parent/name (resolved); an existing symlink to
        a directory inside the root is followed, as cp does."""
        dfd = self._fd(rel_parent)
        path = f"{rel_parent}/{name}" if rel_parent else name
        try:
            st = os.lstat(name, dir_fd=dfd)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISLNK(st.st_mode) and follow_existing:
            try:
                target = self.resolve(path)
                tst = self.lstat(target)
                if tst is not None and stat.S_ISDIR(tst.st_mode):
                    return target
            except PathError:
                pass
        existing = self._clear(dfd, name, keep_dir=True)
        if existing is None:
            os.mkdir(name, 0o700, dir_fd=dfd)
        os.chown(name, meta.uid, meta.gid, dir_fd=dfd, follow_symlinks=False)
        os.chmod(name, meta.mode, dir_fd=dfd)
        if meta.mtime is not None:
            self._dir_times.append((path, meta.mtime))
        return path

    def put_file(self, rel_parent: str, name: str, meta: Meta, writer: Callable[[int], None]) -> None:
        dfd = self._fd(rel_parent)
        self._clear(dfd, name, keep_dir=False)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
        try:
            writer(fd)
            os.fchown(fd, meta.uid, meta.gid)
            os.fchmod(fd, meta.mode)
            if meta.mtime is not None:
                os.utime(fd, (meta.mtime, meta.mtime))
        finally:
            os.close(fd)

    def put_symlink(self, rel_parent: str, name: str, target: str, meta: Meta) -> None:
        dfd = self._fd(rel_parent)
        self._clear(dfd, name, keep_dir=False)
        os.symlink(target, name, dir_fd=dfd)
        os.chown(name, meta.uid, meta.gid, dir_fd=dfd, follow_symlinks=False)
        if meta.mtime is not None:
            os.utime(name, (meta.mtime, meta.mtime), dir_fd=dfd, follow_symlinks=False)

    def put_hardlink(self, rel_parent: str, name: str, target_rel: str) -> None:
        dfd = self._fd(rel_parent)
        self._clear(dfd, name, keep_dir=False)
        tparent, _, tname = target_rel.rpartition("/")
        os.link(tname, name, src_dir_fd=self._fd(tparent), dst_dir_fd=dfd, follow_symlinks=False)

    def put_node(self, rel_parent: str, name: str, mode: int, rdev: int, meta: Meta) -> None:
        dfd = self._fd(rel_parent)
        self._clear(dfd, name, keep_dir=False)
        os.mknod(name, mode, rdev, dir_fd=dfd)
        os.chown(name, meta.uid, meta.gid, dir_fd=dfd, follow_symlinks=False)
        os.chmod(name, meta.mode, dir_fd=dfd)

    def finish(self) -> None:
        """Directory times last: writing into a directory changes its mtime."""
        for path, mtime in reversed(self._dir_times):
            parent, _, name = path.rpartition("/")
            try:
                os.utime(name, (mtime, mtime), dir_fd=self._fd(parent), follow_symlinks=False)
            except (OSError, PathError):
                pass
        self._dir_times.clear()


def _rmtree(dfd: int, name: str) -> None:
    fd = os.open(name, _O_DIR, dir_fd=dfd)
    try:
        for child in os.listdir(fd):
            st = os.lstat(child, dir_fd=fd)
            if stat.S_ISDIR(st.st_mode):
                _rmtree(fd, child)
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dfd)


def copy_range(src_fd: int, offset: int, size: int, dst_fd: int) -> None:
    """size bytes of src_fd from offset into dst_fd, in the kernel when it can."""
    left = size
    while left > 0:
        try:
            n = os.sendfile(dst_fd, src_fd, offset, left)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.EXDEV):
                raise
            n = 0
            while left > 0:
                chunk = os.pread(src_fd, min(left, 1 << 20), offset)
                if not chunk:
                    raise OSError(errno.EIO, "source truncated")
                view = memoryview(chunk)
                while view:
                    view = view[os.write(dst_fd, view):]
                offset += len(chunk)
                left -= len(chunk)
            return
        if n == 0:
            raise OSError(errno.EIO, "source truncated")
        offset += n
        left -= n


# -- users and groups of the image ------------------------------------------------

def lookup_user(rootfs: RootFS, spec: str) -> tuple[int, int]:
    """--chown's user[:group]: names from the image's /etc/passwd and
    /etc/group; a user without a group takes the same number as gid."""
    user, sep, group = spec.partition(":")
    uid = _lookup(rootfs, "/etc/passwd", user, "user")
    if sep and group:
        gid = _lookup(rootfs, "/etc/group", group, "group")
    else:
        gid = uid
    return uid, gid


def _lookup(rootfs: RootFS, file: str, name: str, what: str) -> int:
    if name.isdigit():
        return int(name)
    data = rootfs.read(file)
    if data is None:
        raise InvalidArgument(f"unable to convert uid/gid chown string to host mapping: "
                              f"open {file}: no such file or directory")
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[0] == name and parts[2].isdigit():
            return int(parts[2])
    raise InvalidArgument(f"unable to convert uid/gid chown string to host mapping: "
                          f"can't find uid for {what} {name}: no such {what}: {name}")
