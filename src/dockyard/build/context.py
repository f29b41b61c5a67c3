"""The build context as the daemon receives it: a tarball (plain, gzip,
bzip2, xz or zstd), kept as it arrives, uncompressed, in memory (a spool
file past MEMORY_LIMIT), then indexed (tarscan): every file's path, type,
mode and the sha256 of its content.

Nothing is extracted. Cache keys come from the index (so a fully cached
build touches no file), and COPY/ADD write a file straight from its offset
in the context's data into the snapshot. The tarball comes from a client and is
treated as hostile: paths are cleaned, nothing may climb out of the root."""

from __future__ import annotations

import bisect
import bz2
import hashlib
import lzma
import mmap
import os
import posixpath
import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator

from ..errdefs import InvalidArgument, NotFound
from . import tarscan
from .dockerignore import PatternMatcher
from .fsops import copy_range

DIR, FILE, SYMLINK, HARDLINK, OTHER = "d", "f", "l", "h", "o"
_CHUNK = 1 << 20


@dataclass(slots=True)
class Entry:
    path: str  # clean, relative, "" is the root
    type: str
    mode: int  # permission bits and setuid/setgid/sticky
    uid: int
    gid: int
    mtime: int
    size: int = 0
    offset: int = 0  # of the content in the context's data
    linkname: str = ""  # symlink target, or hard link target path
    digest: str = ""  # sha256 hex of the content (regular files and hard links)
    devmajor: int = 0
    devminor: int = 0


class ContextError(InvalidArgument):
    pass


def clean(path: str) -> str:
    """A context-relative path, '' for the root; '..' stops at the root."""
    if path and path[0] not in "./" and path[-1] != "/" and "//" not in path and "/." not in path:
        return path  # clean already (what clients send): no normpath
    p = posixpath.normpath("/" + path).lstrip("/")
    return "" if p == "." else p


def escapes(path: str) -> bool:
    """Does a relative source path climb out of its root?"""
    p = posixpath.normpath(path.lstrip("/")) if not path.startswith("/") else posixpath.normpath(path[1:] or ".")
    return p == ".." or p.startswith("../")


def match_regex(pattern: str) -> "re.Pattern[str]":
    """Go's filepath.Match as a regex: `*` and `?` never match '/'."""
    rx = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            rx.append("[^/]*")
        elif ch == "?":
            rx.append("[^/]")
        elif ch == "\\" and i < n:
            rx.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise InvalidArgument(f"syntax error in pattern: {pattern}")
            body = pattern[i:end]
            if body.startswith("!") or body.startswith("^"):
                body = "^" + body[1:]
            rx.append("[" + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end + 1
        else:
            rx.append(re.escape(ch))
    return re.compile("".join(rx) + r"\Z", re.S)


def has_wildcards(path: str) -> bool:
    return any(c in path for c in "*?[")


MEMORY_LIMIT = 256 << 20  # contexts up to this size stay in memory; larger ones go to a spool file
_PAD = 2048  # room for the padding and end-of-archive blocks a cut tarball lacks
_MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)  # Linux's value (Python 3.11 lacks the name)


class Data:
    """Where the context's bytes are: in memory (an anonymous mapping), or
    in the spool file."""

    def __init__(self, buf: "mmap.mmap | bytes | None", path: str) -> None:
        self.buf = buf
        self.fd = -1 if buf is not None else os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._mm: mmap.mmap | None = None

    def view(self) -> memoryview:
        if self.buf is not None:
            return memoryview(self.buf)
        if self._mm is None:
            self._mm = mmap.mmap(self.fd, os.fstat(self.fd).st_size, prot=mmap.PROT_READ)
        return memoryview(self._mm)

    def read(self, offset: int, size: int) -> bytes:
        if self.buf is not None:
            return bytes(self.buf[offset:offset + size])
        return os.pread(self.fd, size, offset)

    def copy_to(self, dst_fd: int, offset: int, size: int) -> None:
        if self.buf is None:
            copy_range(self.fd, offset, size, dst_fd)
            return
        view = memoryview(self.buf)[offset:offset + size]
        try:
            while view:
                view = view[os.write(dst_fd, view):]
        finally:
            view.release()

    def close(self) -> None:
        for m in (self._mm, self.buf):
            if isinstance(m, mmap.mmap):
                try:
                    m.close()
                except BufferError:
                    pass  # a view still exported: the map goes with the last one
        self._mm = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.buf = None


_MARK = 256 << 10  # an upload is fingerprinted every _MARK bytes
_RECENT_MAX = 3  # indexes of recent uploads kept (a few MB each for ~10k files)
_RECENT_MEMBERS_MAX = 100_000  # bigger indexes are not kept


@dataclass(slots=True)
class _Recent:
    """What indexing one upload found. A rebuild sends the same context
    again: while the new upload's leading bytes are the same (same
    fingerprint at each mark), what was found in them is taken as is, and
    the scan (headers parsed, contents hashed) resumes only where the bytes
    differ; an identical upload takes the whole index."""
    marks: list[str]  # sha256 of the first (i + 1) * _MARK bytes
    done: list[int]  # how many members lie wholly within those bytes
    members: list[tarscan.Member]
    resume_at: list[int]  # where the scan goes on after j members (j = 0..len(members))
    size: int
    digest: str  # of the whole upload
    entries: dict[str, Entry]  # the index, parents filled (Entry objects are never changed)
    ignored: dict[tuple[tuple[str, bool], ...], list[str]] = field(default_factory=dict)  # by ignore patterns


_recent: list[_Recent] = []
_recent_lock = threading.Lock()


def _recent_for(first_mark: str) -> _Recent | None:
    with _recent_lock:
        for r in reversed(_recent):
            if r.marks and r.marks[0] == first_mark:
                return r
    return None


def _remember(r: _Recent) -> None:
    with _recent_lock:
        _recent[:] = [x for x in _recent if x.digest != r.digest][-(_RECENT_MAX - 1):] + [r]


class Spooler:
    """Takes the context as it arrives, decompressed (the compression is
    sniffed from the first bytes), and indexes it on the way: in memory up
    to the limit (an anonymous mapping of that size, committed only as it
    fills: no copy when it grows, no join at the end), then in the spool
    file. Each member is indexed, its content hashed, as soon as it has
    arrived, so that a context is ready almost as soon as its last byte;
    bytes an earlier upload had too are not indexed again (_Recent)."""

    def __init__(self, path: str, limit: int = MEMORY_LIMIT) -> None:
        self.path = path
        self.limit = limit
        self.mem: mmap.mmap | None = mmap.mmap(-1, limit + _PAD, flags=mmap.MAP_PRIVATE | _MAP_NORESERVE)
        self.view: memoryview | None = memoryview(self.mem)
        self.f: BinaryIO | None = None
        self.size = 0
        self.entries: dict[str, Entry] = {"": Entry("", DIR, 0o755, 0, 0, int(time.time()))}
        self.members: list[tarscan.Member] = []
        self.scanner = tarscan.Scanner(self._take)
        self.error: ContextError | None = None  # the tarball is bad: raised by finish()
        self.reused = 0  # members taken from an earlier upload's index
        self.same_as: _Recent | None = None  # the record of this upload's bytes (an earlier one's, or new)
        self._sha = hashlib.sha256()  # of the upload, up to the last mark
        self._marks: list[str] = []
        self._replay: _Recent | None = None  # the earlier upload this one matches so far
        self._deferred = True  # no scan yet: the first mark decides whether one is needed
        self._head = b""
        self._decomp: Any = None
        self._sniffed = False
        self._checked = 0  # marks compared with _replay's
        self._recordable = True  # all in memory, all fingerprinted: worth remembering

    @property
    def compressed(self) -> bool:
        return self._decomp is not None

    @property
    def spilled(self) -> bool:
        """In the spool file: finish() indexes what was not yet (slow)."""
        return self.f is not None

    def _sniff(self, head: bytes) -> None:
        self._sniffed = True
        if head[:2] == b"\x1f\x8b":
            self._decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif head[:3] == b"BZh":
            self._decomp = bz2.BZ2Decompressor()
        elif head[:6] == b"\xfd7zXZ\x00":
            self._decomp = lzma.LZMADecompressor()
        elif head[:4] == b"\x28\xb5\x2f\xfd":
            import zstandard
            self._decomp = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> None:
        if not self._sniffed:
            self._head += data
            if len(self._head) < 6:
                return
            data, self._head = self._head, b""
            self._sniff(data)
        self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            if self._decomp is not None:
                data = self._decomp.decompress(data)
        except Exception as e:  # zlib, bz2, lzma and zstandard errors
            raise ContextError(f"failed to read the build context: {e}") from None
        if not data:
            return
        n = len(data)
        if self.error is not None:
            self.size += n  # the rest is read, not kept: the build fails anyway
            return
        if self.view is not None:
            if self.size + n <= self.limit:
                self.view[self.size:self.size + n] = data
                self.size += n
                self._fingerprint(self.view)
                if not self._deferred:
                    self._scan(self.view)
                return
            # Too big to keep in memory: what came is indexed, the rest will be from the file.
            self._recordable = False
            if self._deferred:
                self._stop_replay(len(self._marks))
            self._scan(self.view)
            self.f = open(self.path, "wb")
            self.f.write(self.view[:self.size])
            self._drop_memory()
        assert self.f is not None
        self.f.write(data)
        self.size += n  # indexed once it is all there (finish)

    # -- taking what an earlier upload of the same bytes found ---------------------
    def _fingerprint(self, view: memoryview) -> None:
        """sha256 of the upload at each mark it passed; while they are an
        earlier upload's, nothing is scanned."""
        marks = self._marks
        while (len(marks) + 1) * _MARK <= self.size:
            start = len(marks) * _MARK
            self._sha.update(view[start:start + _MARK])
            marks.append(self._sha.copy().hexdigest())
        if not self._deferred or not marks:
            return
        if self._checked == 0:
            self._replay = _recent_for(marks[0])
        r = self._replay
        if r is None:
            self._deferred = False  # nothing known: scan from the start
            return
        for i in range(self._checked, len(marks)):
            if i >= len(r.marks) or r.marks[i] != marks[i]:
                self._stop_replay(i)
                return
        self._checked = len(marks)

    def _stop_replay(self, same_marks: int) -> None:
        """The first same_marks marks were the earlier upload's: take the
        members wholly within them, scan on from the next one."""
        r = self._replay
        self._replay = None
        self._deferred = False
        if r is None or not same_marks:
            return
        j = r.done[same_marks - 1]
        for m in r.members[:j]:
            self._take(m)
        self.reused = j
        self.scanner.resume(r.resume_at[j], j)

    # -- the scan ---------------------------------------------------------------------
    def _scan(self, view: memoryview) -> None:
        try:
            self.scanner.feed(view, self.size)
        except tarscan.TarError as e:
            self._failed(e)
        except ContextError as e:
            self.error = e

    def _failed(self, e: tarscan.TarError) -> None:
        what = "a valid tar archive" if self.scanner.count else "a tar archive"
        self.error = ContextError(f"the build context is not {what}: {e}")

    def _take(self, m: tarscan.Member) -> None:
        self.members.append(m)
        path = clean(m.name)  # nothing is extracted by name: '..' is clamped at the root
        kind = m.type
        entries = self.entries
        if kind == b"0":
            if path:
                entries[path] = Entry(path, FILE, m.mode, m.uid, m.gid, m.mtime, m.size, m.offset, digest=m.digest)
        elif kind == b"5":
            entries[path] = Entry(path, DIR, m.mode, m.uid, m.gid, m.mtime)
        elif kind == b"2":
            entries[path] = Entry(path, SYMLINK, m.mode, m.uid, m.gid, m.mtime, linkname=m.linkname)
        elif kind == b"1":
            target = entries.get(clean(m.linkname))
            if target is None or target.type not in (FILE, HARDLINK):
                raise ContextError(f"invalid hard link in the build context: {m.name!r} -> {m.linkname!r}")
            entries[path] = Entry(path, HARDLINK, target.mode, m.uid, m.gid, m.mtime, target.size,
                                  target.offset, linkname=target.path, digest=target.digest)
        elif kind in (b"3", b"4", b"6"):
            fmt = {b"3": 0o20000, b"4": 0o60000, b"6": 0o10000}[kind]
            entries[path] = Entry(path, OTHER, m.mode | fmt, m.uid, m.gid, m.mtime,
                                  devmajor=m.devmajor, devminor=m.devminor)

    def _drop_memory(self) -> None:
        if self.view is not None:
            self.view.release()
            self.view = None
        if self.mem is not None:
            self.mem.close()
            self.mem = None

    def finish(self) -> Data:
        if not self._sniffed and self._head:
            data, self._head = self._head, b""
            self._sniff(data)
            self._write(data)
        if self._decomp is not None and getattr(self._decomp, "eof", True) is False:
            self.close()
            raise ContextError("failed to read the build context: unexpected end of compressed data")
        # docker's CLI ends a context whose Dockerfile it added (-f outside the
        # context) right after the last file's data; dockerd accepts that, so do we.
        # (The mapping is zeros past the data: the padding is there already.)
        if self.mem is not None:
            buf, self.mem = self.mem, None
            if self.view is not None:
                self.view.release()
                self.view = None
            data = Data(buf, self.path)
        else:
            assert self.f is not None
            self.f.write(b"\0" * (-self.size % 512 + 1024) if self.size else b"")
            self.f.close()
            data = Data(None, self.path)
        if self.error is None and self.size:
            view = data.view()
            try:
                self._finish_index(view)
            except tarscan.TarError as e:
                self._failed(e)
            except ContextError as e:
                self.error = e
            finally:
                view.release()
        if self.error is not None:
            data.close()
            self.close()
            raise self.error
        return data

    def _finish_index(self, view: memoryview) -> None:
        digest = ""
        if self._recordable:
            whole = self._sha.copy()
            whole.update(view[len(self._marks) * _MARK:self.size])
            digest = whole.hexdigest()
        if self._deferred:
            r = self._replay
            if r is not None and r.size == self.size and r.digest == digest:
                self.entries = dict(r.entries)  # the very same upload
                self.members = r.members
                self.same_as = r
                self.reused = len(r.members)
                _remember(r)  # (the most recent again)
                return
            self._stop_replay(len(self._marks))
        self.scanner.close(view, self.size)
        now = self.entries[""].mtime
        for path in list(self.entries):  # parents that have no entry of their own
            parent = path.rpartition("/")[0]
            while parent and parent not in self.entries:
                self.entries[parent] = Entry(parent, DIR, 0o755, 0, 0, now)
                parent = parent.rpartition("/")[0]
        if self._recordable and self._marks and len(self.members) <= _RECENT_MEMBERS_MAX:
            ends = [m.offset + m.size for m in self.members]
            done = [bisect.bisect_right(ends, (i + 1) * _MARK) for i in range(len(self._marks))]
            resume_at = [m.header_at for m in self.members] + [self.scanner.pos]
            self.same_as = _Recent(self._marks, done, self.members, resume_at, self.size, digest, dict(self.entries))
            _remember(self.same_as)

    def close(self) -> None:
        if self.f is not None and not self.f.closed:
            self.f.close()
        self._drop_memory()


class BuildContext:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.entries: dict[str, Entry] = {}
        self._paths: list[str] | None = None
        self.data: Data | None = None
        self.size = 0
        self.same_as: _Recent | None = None  # the record of these bytes: what they led to is kept for a rebuild
        now = int(time.time())
        self.entries[""] = Entry("", DIR, 0o755, 0, 0, now)

    # -- loading ---------------------------------------------------------------
    @classmethod
    def spooler(cls, workdir: str, limit: int = MEMORY_LIMIT) -> Spooler:
        os.makedirs(workdir, mode=0o700, exist_ok=True)
        return Spooler(os.path.join(workdir, "context.tar"), limit)

    @classmethod
    def load(cls, stream: BinaryIO, workdir: str, limit: int = MEMORY_LIMIT) -> "BuildContext":
        """From a file object (blocking)."""
        sp = cls.spooler(workdir, limit)
        try:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                sp.feed(chunk)
            data = sp.finish()
        finally:
            sp.close()
        return cls.open(sp, data)

    @classmethod
    def open(cls, spool: Spooler, data: Data) -> "BuildContext":
        """The context a Spooler took and indexed."""
        ctx = cls(spool.path and os.path.dirname(spool.path))
        ctx.size = spool.size
        ctx.data = data
        ctx.entries = spool.entries  # parents filled
        spool.entries = {}
        ctx.same_as = spool.same_as
        return ctx

    def close(self) -> None:
        if self.data is not None:
            self.data.close()

    # -- queries ---------------------------------------------------------------
    @property
    def paths(self) -> list[str]:
        if self._paths is None:
            self._paths = sorted(self.entries)
        return self._paths

    def get(self, path: str) -> Entry | None:
        return self.entries.get(clean(path))

    def read(self, path: str, limit: int = 64 << 20) -> bytes:
        e = self.resolve(path)
        if e is None or e.type not in (FILE, HARDLINK):
            raise NotFound(f"{path}: not found in the build context")
        if e.size > limit:
            raise InvalidArgument(f"{path}: too large ({e.size} bytes)")
        assert self.data is not None
        return self.data.read(e.offset, e.size) if e.size else b""

    def resolve(self, path: str) -> Entry | None:
        """The entry at path, following symlinks (within the context)."""
        p = clean(path)
        for _ in range(40):
            e = self._lookup_following_parents(p)
            if e is None or e.type != SYMLINK:
                return e
            target = e.linkname
            p = clean(target if target.startswith("/") else posixpath.join(posixpath.dirname(e.path), target))
        raise InvalidArgument(f"{path}: too many levels of symbolic links")

    def _lookup_following_parents(self, p: str) -> Entry | None:
        if p in self.entries:
            return self.entries[p]
        parts = p.split("/")
        for i in range(1, len(parts)):
            head = "/".join(parts[:i])
            e = self.entries.get(head)
            if e is not None and e.type == SYMLINK:
                r = self.resolve(head)
                if r is None or r.type != DIR:
                    return None
                return self.resolve(posixpath.join(r.path, *parts[i:]))
        return None

    def children(self, directory: str) -> Iterator[Entry]:
        """Every entry below directory (not itself), parents first."""
        d = clean(directory)
        paths = self.paths
        if not d:
            yield from (self.entries[p] for p in paths if p)
            return
        prefix = d + "/"
        i = bisect.bisect_left(paths, prefix)
        while i < len(paths) and paths[i].startswith(prefix):
            yield self.entries[paths[i]]
            i += 1

    def glob(self, pattern: str) -> list[str]:
        """Paths matching a COPY source pattern (Go's filepath.Match)."""
        rx = match_regex(clean(pattern))
        return [p for p in self.paths if p and rx.match(p)]

    # -- .dockerignore ---------------------------------------------------------
    def apply_ignore(self, matcher: PatternMatcher) -> int:
        """Drop the entries the patterns exclude; returns how many."""
        if not matcher.patterns:
            return 0
        key = tuple((p.text, p.exclusion) for p in matcher.patterns)
        known = self.same_as.ignored.get(key) if self.same_as is not None else None
        if known is not None:
            dropped = known  # the same upload and patterns as before: the same verdicts
        else:
            # Paths are clean: each is matched with its directory's memoized verdict.
            verdict, below = matcher.directory_verdict, matcher.matches_below
            dropped = []
            for p in self.entries:
                if p:
                    parent = p.rpartition("/")[0]
                    if below(p, verdict(parent) if parent else None):
                        dropped.append(p)
            if self.same_as is not None:
                self.same_as.ignored[key] = dropped
        for p in dropped:
            del self.entries[p]
        # A directory kept only because something below it is re-included
        # stays; one whose every child is gone stays too (docker keeps it).
        self._paths = None
        return len(dropped)


def checksum(items: list[tuple[str, Entry]]) -> str:
    """Content identity of files to copy: destination-relative names, types,
    permission bits, link targets and content digests; not times or owners."""
    h = hashlib.sha256()
    for rel, e in items:
        h.update(f"{rel}\0{e.type}\0{e.mode:o}\0{e.linkname if e.type == SYMLINK else ''}\0{e.digest}\n".encode(
            "utf-8", "surrogateescape"))
    return h.hexdigest()
