"""Diffs of an overlay snapshot: its upper directory as an OCI layer tarball
(layer.md: whiteouts for deletions, opaque markers for replaced
directories) and as docker's list of changes (GET /containers/{id}/changes).

The upper directory is read as overlayfs leaves it: a deleted path is a 0:0
character device, a directory that hides its lower contents carries the
trusted.overlay.opaque xattr ("y"). The walk opens every directory and file
relative to its parent's fd with O_NOFOLLOW, so a symlink planted in the
upper directory is archived as a symlink and never followed.

Tarballs are deterministic: entries sorted by name, whole-second mtimes, no
atime/ctime, no user or group names, two zero blocks at the end and no
record padding (as Go's archive/tar writes them, so an empty diff is the
well-known 1024-byte empty layer)."""

from __future__ import annotations

import os
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from .archive import OPAQUE, WHITEOUT_PREFIX
from .mount import Mount

MODIFIED, ADDED, DELETED = 0, 1, 2
EMPTY_LAYER_DIGEST = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

_BLOCK = 512
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_SKIP_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NOATIME", 0)


@dataclass(frozen=True, slots=True)
class Change:
    path: str  # absolute, as docker shows it
    kind: int  # MODIFIED, ADDED or DELETED

    def to_json(self) -> dict:
        return {"Path": self.path, "Kind": self.kind}


@dataclass(frozen=True, slots=True)
class _Entry:
    rel: str  # relative path, no leading slash
    name: str
    st: os.stat_result
    dir_fd: int  # the parent directory's fd, valid while the entry is being visited
    whiteout: bool
    opaque: bool


def overlay_dirs(mounts: list[Mount]) -> tuple[str, list[str]]:
    """(upper dir, lower dirs top-down) of the rootfs a snapshotter returned:
    an overlay mount, or a bind mount of a snapshot without parent."""
    if len(mounts) != 1:
        raise ValueError(f"expected one mount, got {len(mounts)}")
    m = mounts[0]
    if m.type == "bind":
        return m.source, []
    upper, lowers = "", []
    for o in m.options:
        if o.startswith("upperdir="):
            upper = o[len("upperdir="):]
        elif o.startswith("lowerdir="):
            lowers = o[len("lowerdir="):].split(":")
    if not upper:
        raise ValueError("overlay mount without an upper directory (a read-only view has no diff)")
    return upper, lowers


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(fd: int) -> bool:
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(fd, name) == b"y":
                return True
        except OSError:
            pass
    return False


def _walk(root: str) -> Iterator[_Entry]:
    """Depth-first, names sorted, a directory before its children."""
    top = os.open(root, _O_DIR)
    try:
        yield from _walk_dir(top, "")
    finally:
        os.close(top)


def _walk_dir(fd: int, prefix: str) -> Iterator[_Entry]:
    with os.scandir(fd) as it:
        names = sorted(e.name for e in it)
    for name in names:
        try:
            st = os.lstat(name, dir_fd=fd)
        except FileNotFoundError:
            continue
        rel = prefix + name
        if stat.S_ISDIR(st.st_mode):
            try:
                sub = os.open(name, _O_DIR, dir_fd=fd)
            except FileNotFoundError:
                continue
            try:
                yield _Entry(rel, name, st, fd, False, _is_opaque(sub))
                yield from _walk_dir(sub, rel + "/")
            finally:
                os.close(sub)
        else:
            yield _Entry(rel, name, st, fd, _is_whiteout(st), False)


# -- layer tarball ----------------------------------------------------------------

def _xattrs(e: _Entry) -> dict[str, str]:
    path = f"/proc/self/fd/{e.dir_fd}/{e.name}"
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in sorted(names):
        if n.startswith(_SKIP_XATTR_PREFIXES):
            continue
        try:
            value = os.getxattr(path, n, follow_symlinks=False)
        except OSError:
            continue
        out["SCHILY.xattr." + n] = value.decode("utf-8", "surrogateescape")
    return out


def _header(name: str, st: os.stat_result, kind: bytes, size: int = 0, linkname: str = "",
            pax: dict[str, str] | None = None, mode: int | None = None) -> bytes:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = stat.S_IMODE(st.st_mode) if mode is None else mode
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime)
    ti.size = size
    ti.linkname = linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    if pax:
        ti.pax_headers = pax
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _write_file(out: BinaryIO, e: _Entry) -> None:
    """The content of a regular file, padded to a block; exactly st_size
    bytes whatever happens to the file meanwhile (the header is written)."""
    size = e.st.st_size
    fd = os.open(e.name, _O_FILE, dir_fd=e.dir_fd)
    try:
        left = size
        while left:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                out.write(b"\0" * left)  # truncated under us: keep the archive well-formed
                break
            out.write(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if size % _BLOCK:
        out.write(b"\0" * (_BLOCK - size % _BLOCK))


def write_tar(root: str, out: BinaryIO, overlay: bool = True) -> int:
    """Write the tree below root as a tarball to out; with overlay=True,
    whiteout devices and opaque directories become OCI whiteout entries.
    Returns the number of entries written (0: an empty diff)."""
    links: dict[tuple[int, int], str] = {}
    count = 0
    for e in _walk(root):
        st = e.st
        mode = st.st_mode
        if overlay and e.whiteout:
            parent, _, base = e.rel.rpartition("/")
            name = (parent + "/" if parent else "") + WHITEOUT_PREFIX + base
            out.write(_header(name, st, tarfile.REGTYPE, mode=0o600))
        elif stat.S_ISDIR(mode):
            out.write(_header(e.rel, st, tarfile.DIRTYPE, pax=_xattrs(e)))
            if overlay and e.opaque:
                out.write(_header(e.rel + "/" + OPAQUE, st, tarfile.REGTYPE, mode=stat.S_IMODE(mode) & 0o777))
                count += 1
        elif stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in links:
                out.write(_header(e.rel, st, tarfile.LNKTYPE, linkname=links[key]))
            else:
                if st.st_nlink > 1:
                    links[key] = e.rel
                out.write(_header(e.rel, st, tarfile.REGTYPE, size=st.st_size, pax=_xattrs(e)))
                _write_file(out, e)
        elif stat.S_ISLNK(mode):
            target = os.readlink(e.name, dir_fd=e.dir_fd)
            out.write(_header(e.rel, st, tarfile.SYMTYPE, linkname=target, pax=_xattrs(e)))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            out.write(_header(e.rel, st, tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE))
        elif stat.S_ISFIFO(mode):
            out.write(_header(e.rel, st, tarfile.FIFOTYPE))
        else:
            continue  # sockets do not travel in layers
        count += 1
    out.write(b"\0" * (2 * _BLOCK))
    return count


def write_diff(mounts: list[Mount], out: BinaryIO) -> int:
    """The layer of an active snapshot (from its mounts) written to out."""
    upper, _ = overlay_dirs(mounts)
    return write_tar(upper, out, overlay=True)


def is_empty(upper: str) -> bool:
    with os.scandir(upper) as it:
        return next(it, None) is None


# -- changes ----------------------------------------------------------------------

class _LowerView:
    """Which lower directories contribute to a directory of the merged
    view (overlay's lookup rules: a whiteout or a non-directory ends the
    search below it, an opaque directory ends it after itself)."""

    def __init__(self, lowers: list[str]) -> None:
        self._dirs: dict[str, list[str]] = {"": list(lowers)}

    def _contributors(self, rel_dir: str) -> list[str]:
        found = self._dirs.get(rel_dir)
        if found is not None:
            return found
        parent = rel_dir.rpartition("/")[0]
        out: list[str] = []
        for lower in self._contributors(parent):
            try:
                st = os.lstat(os.path.join(lower, rel_dir))
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break
            out.append(lower)
            try:
                fd = os.open(os.path.join(lower, rel_dir), _O_DIR)
                try:
                    if _is_opaque(fd):
                        break
                finally:
                    os.close(fd)
            except OSError:
                break
        self._dirs[rel_dir] = out
        return out

    def lookup(self, rel: str) -> os.stat_result | None:
        parent = rel.rpartition("/")[0]
        for lower in self._contributors(parent):
            try:
                st = os.lstat(os.path.join(lower, rel))
            except OSError:
                continue
            return None if _is_whiteout(st) else st
        return None

    def children(self, rel_dir: str) -> list[str]:
        """Names visible in the lower view of a directory."""
        seen: dict[str, bool] = {}
        for lower in self._contributors(rel_dir):
            try:
                names = os.listdir(os.path.join(lower, rel_dir))
            except OSError:
                continue
            for n in names:
                if n in seen:
                    continue
                try:
                    seen[n] = not _is_whiteout(os.lstat(os.path.join(lower, rel_dir, n)))
                except OSError:
                    pass
        return sorted(n for n, visible in seen.items() if visible)


def _same_dir(a: os.stat_result, b: os.stat_result) -> bool:
    # Tar round trips keep whole seconds: equal seconds with one side's
    # nanoseconds at zero count as the same time (docker's sameFsTime).
    ta, tb = a.st_mtime_ns, b.st_mtime_ns
    same_time = ta == tb or (ta // 10**9 == tb // 10**9 and (ta % 10**9 == 0 or tb % 10**9 == 0))
    return a.st_size == b.st_size and a.st_mode == b.st_mode and same_time


def changes(upper: str, lowers: list[str]) -> list[Change]:
    """docker's changes of an overlay upper directory against its lowers:
    walk order, a parent directory reported as modified before the first
    addition or deletion below it."""
    view = _LowerView(lowers)
    out: list[Change] = []
    changed_dirs: set[str] = set()

    def add(rel: str, kind: int) -> None:
        parent = rel.rpartition("/")[0]
        if kind in (ADDED, DELETED) and parent and parent not in changed_dirs:
            out.append(Change("/" + parent, MODIFIED))
            changed_dirs.add(parent)
        out.append(Change("/" + rel, kind))

    for e in _walk(upper):
        if e.whiteout:
            if view.lookup(e.rel) is not None:
                add(e.rel, DELETED)
            continue
        lower = view.lookup(e.rel)
        is_dir = stat.S_ISDIR(e.st.st_mode)
        if lower is None:
            kind = ADDED
        elif is_dir and stat.S_ISDIR(lower.st_mode) and not e.opaque and _same_dir(e.st, lower):
            continue
        else:
            kind = MODIFIED
        if is_dir:
            changed_dirs.add(e.rel)
        add(e.rel, kind)
        if is_dir and e.opaque and lower is not None and stat.S_ISDIR(lower.st_mode):
            present = set(os.listdir(os.path.join(upper, e.rel)))
            for name in view.children(e.rel):
                if name not in present:
                    out.append(Change(f"/{e.rel}/{name}", DELETED))
    return out


def changes_for_mounts(mounts: list[Mount]) -> list[Change]:
    upper, lowers = overlay_dirs(mounts)
    return changes(upper, lowers)
