"""COPY and ADD: which files a source names (the build context, another
stage or image, a heredoc, a URL, a local archive for ADD), their content
checksum for the cache, and writing them into a mounted snapshot with
docker's destination rules."""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterable, Iterator

from ..errdefs import InvalidArgument
from . import context as ctxmod
from .context import DIR, FILE, HARDLINK, OTHER, SYMLINK, BuildContext
from .fsops import Meta, RootFS, copy_range


class CopyError(InvalidArgument):
    pass


@dataclass(slots=True)
class Item:
    rel: str  # below the destination; "" is the destination itself
    type: str
    mode: int
    uid: int
    gid: int
    mtime: int
    size: int = 0
    linkname: str = ""  # symlink target / hard link: the rel of the linked item
    digest: str = ""
    src: "ctxmod.Data | None" = None  # content at (src, offset): the build context
    offset: int = 0
    src_path: str = ""  # or content in this file
    data: bytes | None = None  # or inline
    reader: BinaryIO | None = None  # or streamed (archives)
    rdev: int = 0
    hardlink_to: str = ""  # a hard link in the context's tar: its target's path (docker hashes the link)


@dataclass
class Source:
    """One source argument, resolved: its items and whether it is a
    directory (whose contents are copied) or a file."""
    name: str  # what a file source is called at a directory destination
    is_dir: bool
    items: list[Item] = field(default_factory=list)
    archive: bool = False  # ADD: a local tar to unpack
    remote: bool = False  # ADD: downloaded (never unpacked)
    path: str = ""  # where it is in its root (context, stage, download dir), symlinks resolved
    on_disk: bool = False  # in a directory tree (a stage, a download), not a context's tar
    resolve: "Callable[[str], Item | str] | None" = None  # a path below the root: its item, or the path if none

    def docker_hash(self) -> str:
        """What the classic builder writes in COPY/ADD's created_by ("file:<hex>"
        or "dir:<hex>"): tarsum v1 headers (no times, no owner names) and
        content, each entry named by its path in the root; a directory's is
        the sorted hashes of what it holds, itself included unless it is the
        root, with symlinks below it followed as docker's lookup does."""
        top = self.items[0]
        disk = self.on_disk
        if not self.is_dir:
            return "file:" + _v1_hash(self.path, top, disk)
        hashes = [] if self.path == "" else [_v1_hash(self.path, top, disk)]
        for it in self.items[1:]:
            path = f"{self.path}/{it.rel}" if self.path else it.rel
            if it.type == SYMLINK and self.resolve is not None:
                target = self.resolve(path)
                hashes.append(target if isinstance(target, str) else _v1_hash(target.rel, target, disk))
            else:
                hashes.append(_v1_hash(path, it, disk))
        return "dir:" + hashlib.sha256(",".join(sorted(hashes)).encode()).hexdigest()

    def checksum(self, owners: bool = False) -> str:
        """Names, types, modes, link targets and content digests; owners
        too when the copy keeps them (from a stage or an image)."""
        h = hashlib.sha256()
        h.update(f"{'dir' if self.is_dir else 'file'}:{self.archive}\n".encode())
        for it in self.items:
            owner = f"\0{it.uid}:{it.gid}" if owners else ""
            h.update(f"{it.rel}\0{it.type}\0{it.mode & 0o7777:o}\0"
                     f"{it.linkname if it.type == SYMLINK else ''}\0{it.digest}{owner}\n".encode(
                         "utf-8", "surrogateescape"))
        return h.hexdigest()


_TYPEFLAGS = {FILE: "0", HARDLINK: "0", SYMLINK: "2", DIR: "5"}


_S_IF = {FILE: 0o100000, HARDLINK: 0o100000, SYMLINK: 0o120000, DIR: 0o040000}


def _owner_names(uid: int, gid: int) -> tuple[str, str]:
    """As Go's tar.FileInfoHeader finds them: this host's user and group
    names, empty when there are none."""
    import grp
    import pwd
    try:
        uname = pwd.getpwuid(uid).pw_name
    except KeyError:
        uname = ""
    try:
        gname = grp.getgrgid(gid).gr_name
    except KeyError:
        gname = ""
    return uname, gname


def _v1_hash(name: str, it: Item, on_disk: bool = False) -> str:
    """sha256 of the tarsum v1 header fields of an item named `name`, then
    its content (moby's builder file hash). From the context: permission
    bits only and no owner names, whatever names the client's tar headers
    carry (dockerd 20.10 hashes docker's CLI's and the Python SDK's tars
    alike); from a directory tree (COPY --from, a download): what Go's
    FileInfoHeader makes of the file, the mode with its type bits and the
    owner names looked up on this host."""
    if it.type == OTHER:
        kind = stat.S_IFMT(it.mode)
        flag = {stat.S_IFCHR: "3", stat.S_IFBLK: "4", stat.S_IFIFO: "6"}.get(kind, "0")
        major, minor = (os.major(it.rdev), os.minor(it.rdev)) if flag in "34" else (0, 0)
    else:
        flag, major, minor = _TYPEFLAGS[it.type], 0, 0
    link = it.linkname if it.type == SYMLINK else ""
    if it.hardlink_to and not on_disk:  # as the tar header says: a link, no size, no content
        flag, link = "1", it.hardlink_to
    regular = flag == "0"
    size = it.size if regular else 0
    mode = it.mode & 0o7777
    if on_disk:
        mode |= _S_IF.get(it.type, stat.S_IFMT(it.mode))
        uname, gname = _owner_names(it.uid, it.gid)
    else:
        uname = gname = ""
    fields = (("name", name + "/" if it.type == DIR else name), ("mode", str(mode)),
              ("uid", str(it.uid)), ("gid", str(it.gid)), ("size", str(size)), ("typeflag", flag),
              ("linkname", link), ("uname", uname), ("gname", gname),
              ("devmajor", str(major)), ("devminor", str(minor)))
    h = hashlib.sha256("".join(k + v for k, v in fields).encode("utf-8", "surrogateescape"))
    if regular and size:
        with _open_item(it) as f:
            _hash_into(h, f)
    return h.hexdigest()


def _not_found(src: str) -> CopyError:
    return CopyError(f"file not found in build context or excluded by .dockerignore: stat {src}: "
                     "file does not exist")


# -- the build context ------------------------------------------------------------

def _item_from_entry(rel: str, e: ctxmod.Entry, src: "ctxmod.Data | None") -> Item:
    return Item(rel, FILE if e.type == HARDLINK else e.type, e.mode, e.uid, e.gid, e.mtime, e.size,
                e.linkname if e.type == SYMLINK else "", e.digest, src, e.offset,
                rdev=os.makedev(e.devmajor, e.devminor) if e.type == OTHER else 0,
                hardlink_to=e.linkname if e.type == HARDLINK else "")


def from_context(ctx: BuildContext, src: str, excludes: "ctxmod.PatternMatcher | None" = None) -> list[Source]:
    if ctxmod.escapes(src):
        raise CopyError(f"Forbidden path outside the build context: {src} ()")
    if ctxmod.has_wildcards(src):
        matched = ctx.glob(src)
        if not matched:
            raise CopyError("no source files were specified")
        tops = [(p, ctx.resolve(p)) for p in matched]
    else:
        tops = [(ctxmod.clean(src), ctx.resolve(src))]
        if tops[0][1] is None:
            raise _not_found(src)
    out = []
    for path, e in tops:
        if e is None:
            continue
        name = posixpath.basename(path) or "."
        if e.type == DIR:
            s = Source(name, True, path=e.path, resolve=lambda p: _resolved_item(ctx, p))
            s.items.append(_item_from_entry("", e, ctx.data))
            base = e.path
            cut = len(base) + 1 if base else 0
            for child in ctx.children(base):
                rel = child.path[cut:]
                if excludes is not None and excludes.matches(rel):
                    continue
                it = _item_from_entry(rel, child, ctx.data)
                if child.type == HARDLINK and child.linkname.startswith(base + "/" if base else ""):
                    it.type, it.linkname = HARDLINK, child.linkname[cut:]
                s.items.append(it)
        else:
            s = Source(name, False, [_item_from_entry("", e, ctx.data)], path=e.path)
        out.append(s)
    return out


def _resolved_item(ctx: BuildContext, path: str) -> "Item | str":
    e = ctx.resolve(path)
    if e is None:  # a dangling link: docker's lookup gives the path itself
        return path
    return _item_from_entry(e.path, e, ctx.data)


# -- a directory tree (another stage, an image) ------------------------------------

def _hash_into(h: "hashlib._Hash", f: BinaryIO) -> None:
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            break
        h.update(chunk)


def _hash_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        _hash_into(h, f)
    return h.hexdigest()


def _fs_item(rel: str, host: str, st: os.stat_result, links: dict[tuple[int, int], str]) -> Item:
    mode = stat.S_IMODE(st.st_mode)
    mtime = int(st.st_mtime)
    if stat.S_ISDIR(st.st_mode):
        return Item(rel, DIR, mode, st.st_uid, st.st_gid, mtime)
    if stat.S_ISLNK(st.st_mode):
        return Item(rel, SYMLINK, mode, st.st_uid, st.st_gid, mtime, linkname=os.readlink(host))
    if stat.S_ISREG(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            first = links[key]
            return Item(rel, HARDLINK, mode, st.st_uid, st.st_gid, mtime, st.st_size, linkname=first,
                        digest=_hash_file(host), src_path=host)
        if st.st_nlink > 1:
            links[key] = rel
        return Item(rel, FILE, mode, st.st_uid, st.st_gid, mtime, st.st_size, digest=_hash_file(host),
                    src_path=host)
    return Item(rel, OTHER, st.st_mode, st.st_uid, st.st_gid, mtime, rdev=st.st_rdev)


def from_tree(root: str, src: str, excludes: "ctxmod.PatternMatcher | None" = None) -> list[Source]:
    """Sources in a mounted read-only tree (COPY --from)."""
    fs = RootFS(root)
    try:
        if ctxmod.has_wildcards(src):
            rels = _glob_tree(fs, ctxmod.clean(src))
            if not rels:
                raise CopyError("no source files were specified")
        else:
            rels = [ctxmod.clean(src)]
        out = []
        for rel in rels:
            resolved = fs.resolve(rel)
            st = fs.lstat(resolved)
            if st is None:
                raise _not_found(src)
            host = os.path.join(root, resolved)
            name = posixpath.basename(rel) or "."
            links: dict[tuple[int, int], str] = {}
            if stat.S_ISDIR(st.st_mode):
                s = Source(name, True, [_fs_item("", host, st, links)], path=resolved, on_disk=True,
                           resolve=lambda p: _resolved_tree_item(root, p))
                for dirpath, dirnames, filenames in os.walk(host):
                    dirnames.sort()
                    for n in sorted(dirnames + filenames):
                        p = os.path.join(dirpath, n)
                        child_rel = os.path.relpath(p, host)
                        if excludes is not None and excludes.matches(child_rel):
                            if n in dirnames:
                                dirnames.remove(n)
                            continue
                        s.items.append(_fs_item(child_rel, p, os.lstat(p), links))
                s.items.sort(key=lambda it: it.rel)
            else:
                s = Source(name, False, [_fs_item("", host, st, links)], path=resolved, on_disk=True)
            out.append(s)
        return out
    finally:
        fs.close()


def _resolved_tree_item(root: str, path: str) -> "Item | str":
    """A symlink below a COPY --from directory, followed inside the tree (the
    tree is still mounted while the step's created_by is computed)."""
    fs = RootFS(root)
    try:
        resolved = fs.resolve(path)
        st = fs.lstat(resolved)
    except (OSError, InvalidArgument):
        return path
    finally:
        fs.close()
    if st is None:  # dangling: where it leads (the context's lookup differs: there it is the link's path)
        return resolved
    return _fs_item(resolved, os.path.join(root, resolved), st, {})


def _glob_tree(fs: RootFS, pattern: str) -> list[str]:
    parts = pattern.split("/")
    found = [""]
    for part in parts:
        nxt = []
        rx = ctxmod.match_regex(part) if ctxmod.has_wildcards(part) else None
        for base in found:
            if rx is None:
                cand = f"{base}/{part}" if base else part
                if fs.lstat(fs.resolve(cand, follow_last=False)) is not None:
                    nxt.append(cand)
                continue
            try:
                names = os.listdir(os.path.join(fs.root, fs.resolve(base)) if base else fs.root)
            except OSError:
                continue
            nxt += [f"{base}/{n}" if base else n for n in sorted(names) if rx.match(n)]
        found = nxt
    return found


# -- inline sources ----------------------------------------------------------------

def from_bytes(name: str, data: bytes, mode: int, mtime: int) -> Source:
    return Source(name, False, [Item("", FILE, mode, 0, 0, mtime, len(data),
                                     digest=hashlib.sha256(data).hexdigest(), data=data)], path=name)


def from_file(name: str, path: str, mode: int, mtime: int, digest: str) -> Source:
    return Source(name, False, [Item("", FILE, mode, 0, 0, mtime, os.path.getsize(path), digest=digest,
                                     src_path=path)], path=name, on_disk=True)


# -- ADD's archives ------------------------------------------------------------------

_ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def _open_item(it: Item) -> BinaryIO:
    if it.data is not None:
        return io.BytesIO(it.data)
    if it.src_path:
        return open(it.src_path, "rb")
    assert it.src is not None
    return _Slice(it.src, it.offset, it.size)


class _Slice(io.RawIOBase):
    def __init__(self, src: "ctxmod.Data", offset: int, size: int) -> None:
        self.src, self.pos, self.end = src, offset, offset + size

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        n = min(len(b), self.end - self.pos)
        if n <= 0:
            return 0
        data = self.src.read(self.pos, n)
        b[:len(data)] = data
        self.pos += len(data)
        return len(data)


def is_archive(it: Item) -> bool:
    """A local tar (plain or compressed) that ADD unpacks: decided by
    content, never by name."""
    if it.type != FILE or it.size < 4:
        return False
    with _open_item(it) as f:
        head = f.read(600)
    if any(head.startswith(m) for m in _ARCHIVE_MAGIC):
        try:
            with _open_item(it) as f:
                with tarfile.open(fileobj=io.BufferedReader(f), mode="r|*") as tf:  # type: ignore[arg-type]
                    tf.next()
            return True
        except (tarfile.TarError, OSError, EOFError, ValueError):
            return False
    if len(head) >= 512 and head[257:262] == b"ustar":
        return True
    if len(head) >= 512:
        try:
            tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
            return True
        except tarfile.HeaderError:
            return False
    return False


def archive_items(it: Item) -> Iterator[Item]:
    """The entries of an archive to unpack, streamed (data read in order)."""
    f = io.BufferedReader(_open_item(it), 1 << 20)  # type: ignore[arg-type]
    try:
        with tarfile.open(fileobj=f, mode="r|*") as tf:
            for m in tf:
                rel = ctxmod.clean(m.name)
                if not rel:
                    continue
                mode = m.mode & 0o7777
                mtime = int(m.mtime)
                if m.isdir():
                    yield Item(rel, DIR, mode, m.uid, m.gid, mtime)
                elif m.isreg():
                    yield Item(rel, FILE, mode, m.uid, m.gid, mtime, m.size, reader=tf.extractfile(m))
                elif m.issym():
                    yield Item(rel, SYMLINK, mode, m.uid, m.gid, mtime, linkname=m.linkname)
                elif m.islnk():
                    yield Item(rel, HARDLINK, mode, m.uid, m.gid, mtime, linkname=ctxmod.clean(m.linkname))
                elif m.ischr() or m.isblk() or m.isfifo():
                    kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
                    yield Item(rel, OTHER, kind | mode, m.uid, m.gid, mtime, rdev=os.makedev(m.devmajor, m.devminor))
    except (tarfile.TarError, EOFError) as e:
        raise CopyError(f"failed to unpack archive: {e}") from None
    finally:
        f.close()


# -- writing -------------------------------------------------------------------------

@dataclass
class Ownership:
    chown: tuple[int, int] | None  # --chown
    chmod: int | None  # --chmod
    keep_owner: bool  # keep the source's uid/gid when no --chown (stages, images, archives)

    def meta(self, it: Item) -> Meta:
        if self.chown is not None:
            uid, gid = self.chown
        elif self.keep_owner:
            uid, gid = it.uid, it.gid
        else:
            uid, gid = 0, 0
        mode = it.mode & 0o7777 if self.chmod is None or it.type == SYMLINK else self.chmod
        return Meta(mode, uid, gid, it.mtime)


def write(fs: RootFS, dest: str, as_dir: bool, items: Iterable[Item], own: Ownership, parents: Meta) -> int:
    """Write items at dest (a directory when as_dir, else the single item's
    file name). Returns bytes of content written."""
    written = 0
    if as_dir:
        existed = fs.is_dir(dest)
        base = fs.makedirs(dest, parents)
        placed: dict[str, str] = {"": base}
    else:
        parent, _, name = dest.rstrip("/").rpartition("/")
        base_parent = fs.makedirs(parent or "/", parents)
        placed = {}
        existed = True
    for it in items:
        if as_dir and it.rel == "":
            if it.type == DIR and not existed:
                m = own.meta(it)
                pparent, _, pname = base.rpartition("/")
                placed[""] = fs.put_dir(pparent, pname, m)
            continue
        if as_dir:
            prel, _, name = it.rel.rpartition("/")
            pdir = placed.get(prel)
            if pdir is None:
                pdir = fs.makedirs(f"{base}/{prel}" if base else prel, parents)
                placed[prel] = pdir
        else:
            pdir = base_parent
        m = own.meta(it)
        if it.type == DIR:
            placed[it.rel] = fs.put_dir(pdir, name, m)
        elif it.type == FILE or (it.type == HARDLINK and it.linkname not in placed):
            written += _put_file(fs, pdir, name, it, m)
            placed[it.rel] = f"{pdir}/{name}" if pdir else name
        elif it.type == HARDLINK:
            fs.put_hardlink(pdir, name, placed[it.linkname])
            placed[it.rel] = f"{pdir}/{name}" if pdir else name
        elif it.type == SYMLINK:
            fs.put_symlink(pdir, name, it.linkname, m)
        elif it.type == OTHER:
            fs.put_node(pdir, name, it.mode if it.mode & 0o170000 else it.mode | stat.S_IFREG, it.rdev, m)
    fs.finish()
    return written


def _put_file(fs: RootFS, pdir: str, name: str, it: Item, m: Meta) -> int:
    def fill(fd: int) -> None:
        if it.data is not None:
            view = memoryview(it.data)
            while view:
                view = view[os.write(fd, view):]
        elif it.reader is not None:
            while True:
                chunk = it.reader.read(1 << 20)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        elif it.src_path:
            src = os.open(it.src_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                copy_range(src, 0, it.size, fd)
            finally:
                os.close(src)
        elif it.size and it.src is not None:
            it.src.copy_to(fd, it.offset, it.size)
    fs.put_file(pdir, name, m, fill)
    return it.size

