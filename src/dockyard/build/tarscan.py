"""A fast, read-only scan of a tar archive held in memory (the context
spool): each member's header fields, the offset of its data and the sha256
of its content, incrementally, as the archive arrives.

tarfile parses a header in ~100 µs of Python; contexts of many small files
make that the whole cost of a cached rebuild. This reads only what the
index needs, straight from the buffer: ustar/GNU headers, PAX extended
headers (path, linkpath, size, mtime, uid, gid) and GNU long names."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any, Callable, Iterator

BLOCK = 512
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")
_NUMBERS = struct.Struct("8s8s8s12s12s8s")  # mode, uid, gid, size, mtime, checksum (at offset 100)
_NUL_AS_SPACE = bytes.maketrans(b"\0", b" ")
_ZERO = bytes(BLOCK)
_EMPTY = hashlib.sha256(b"").hexdigest()


class TarError(ValueError):
    pass


@dataclass(slots=True)
class Member:
    name: str
    type: bytes  # b"0" file, b"1" hard link, b"2" symlink, b"3"/b"4" devices, b"5" dir, b"6" fifo
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str
    offset: int  # of the data
    devmajor: int = 0
    devminor: int = 0
    digest: str = ""  # sha256 hex of a regular file's content (when the scan computes it)
    header_at: int = 0  # where its headers start (extended ones included): a scan may resume there


def _num(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256 (GNU), for values octal cannot hold
        n = int.from_bytes(field[1:], "big")
        return -((1 << (8 * len(field) - 1)) - n) if field[0] & 0x40 else n
    field = field.strip(b" \0")
    if not field:
        return 0
    try:
        return int(field, 8)
    except ValueError:
        raise TarError(f"invalid number {field!r} in a tar header") from None


def _octal(field: bytes) -> int:
    return int(field, 8)


def _str(field: bytes) -> str:
    end = field.find(b"\0")
    return (field if end < 0 else field[:end]).decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        sp = data.find(b" ", pos)
        if sp < 0:
            break
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise TarError("invalid PAX header record") from None
        if length <= 0:
            raise TarError("invalid PAX header record")
        record = data[sp + 1:pos + length - 1]  # without the trailing newline
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def scan(buf: memoryview | bytes, size: int) -> Iterator[Member]:
    """Members of the archive in buf[:size]; stops at the end-of-archive
    blocks or at the end of the data."""
    out: list[Member] = []
    s = Scanner(out.append, digests=False)
    s.feed(buf, size)
    s.close(buf, size)
    return iter(out)


class Scanner:
    """The scan, resumable: feed() it the data received so far (the same
    growing buffer each time) and it reports each member, with the sha256
    of a regular file's content when digests is set, as soon as the member
    is complete, so that a context is indexed while it still arrives. A
    file's content is hashed piece by piece as it comes (no long pause for
    a big file)."""

    def __init__(self, sink: Callable[[Member], None], digests: bool = True) -> None:
        self.sink = sink
        self.digests = digests
        self.pos = 0  # of the next header
        self.count = 0
        self._first = -1  # where the current member's headers start
        self.done = False  # the end-of-archive block was seen
        self._pax: dict[str, str] = {}
        self._gnu_name = self._gnu_link = ""
        self._file: Member | None = None  # a regular file whose content is still arriving
        self._hash: Any = None
        self._hashed = 0  # end of the file's content hashed so far

    def resume(self, pos: int, count: int) -> None:
        """Go on from a header at pos, count members in (what an earlier scan
        of the same leading bytes found there)."""
        self.pos, self.count, self._first = pos, count, -1

    def feed(self, buf: memoryview | bytes, end: int) -> None:
        """Take every member complete within buf[:end]."""
        while not self.done:
            if self._file is not None and not self._take_content(buf, end):
                return
            if self.pos + BLOCK > end or not self._header(buf, end):
                return

    def close(self, buf: memoryview | bytes, size: int) -> None:
        """The data ends at size: anything left half-way is an error."""
        self.feed(buf, size)
        if self.done:
            return
        if self._file is not None:
            raise TarError("unexpected end of data")
        if self.pos + BLOCK <= size:  # an extended header whose payload is cut
            raise TarError("unexpected end of data in an extended header")

    def _take_content(self, buf: memoryview | bytes, end: int) -> bool:
        m = self._file
        assert m is not None
        stop = m.offset + m.size
        upto = stop if end >= stop else end
        if self._hash is not None and upto > self._hashed:
            self._hash.update(buf[self._hashed:upto])
        self._hashed = upto
        if upto < stop:
            return False
        if self._hash is not None:
            m.digest = self._hash.hexdigest()
            self._hash = None
        self._file = None
        self.count += 1
        self.sink(m)
        return True

    def _header(self, buf: memoryview | bytes, end: int) -> bool:
        """Read the header at pos; False when more data is needed first."""
        pos = self.pos
        block = bytes(buf[pos:pos + BLOCK])
        if block == _ZERO:
            self.done = True
            return False
        if self._first < 0:
            self._first = pos
        (name_f, mode_f, uid_f, gid_f, size_f, mtime_f, chk_f, kind, link_f, magic, _version, _un, _gn,
         major_f, minor_f, prefix_f) = _HEADER.unpack_from(block)
        try:  # the common case at once: octal digits ended by NULs or spaces (int() skips spaces)
            mode, uid, gid, length, mtime, chk = map(_octal, _NUMBERS.unpack(block[100:156].translate(_NUL_AS_SPACE)))
        except ValueError:  # base-256 or empty fields
            mode, uid, gid, length, mtime, chk = map(_num, (mode_f, uid_f, gid_f, size_f, mtime_f, chk_f))
        if chk != sum(block) - sum(chk_f) + 8 * 32:
            raise TarError(f"invalid tar header checksum at offset {pos}")
        data_at = pos + BLOCK
        if length < 0:
            raise TarError(f"invalid size in the tar header at offset {pos}")
        if kind in (b"x", b"g", b"L", b"K"):
            if data_at + length > end:
                return False  # wait for the whole extended header
            payload = bytes(buf[data_at:data_at + length])
            if kind == b"x":
                self._pax = _pax(payload)
            elif kind == b"L":
                self._gnu_name = payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            elif kind == b"K":
                self._gnu_link = payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            self.pos = data_at + (length + BLOCK - 1) // BLOCK * BLOCK
            return True
        end_name = name_f.find(b"\0")
        name = (name_f if end_name < 0 else name_f[:end_name]).decode("utf-8", "surrogateescape")
        if magic == b"ustar\0" and prefix_f[0]:  # POSIX ustar has a name prefix; GNU's magic differs
            name = _str(prefix_f) + "/" + name
        linkname = _str(link_f) if link_f[0] else ""
        if self._gnu_name:
            name, self._gnu_name = self._gnu_name, ""
        if self._gnu_link:
            linkname, self._gnu_link = self._gnu_link, ""
        if self._pax:
            pax, self._pax = self._pax, {}
            name = pax.get("path", name)
            linkname = pax.get("linkpath", linkname)
            try:
                if "size" in pax:
                    length = int(pax["size"])
                if "mtime" in pax:
                    mtime = int(float(pax["mtime"]))
                uid = int(pax.get("uid", uid))
                gid = int(pax.get("gid", gid))
            except ValueError:
                raise TarError("invalid number in a PAX header") from None
            if length < 0:
                raise TarError("invalid size in a PAX header")
        if kind == b"\0":
            kind = b"0"
        if kind in (b"0", b"7") and name.endswith("/"):
            kind = b"5"  # old tars mark directories by a trailing slash only
        if kind == b"7":
            kind = b"0"  # contiguous files are regular files
        self.pos = data_at + (length + BLOCK - 1) // BLOCK * BLOCK
        m = Member(name, kind, mode & 0o7777, uid, gid, length if kind == b"0" else 0, mtime,
                   linkname, data_at, header_at=self._first)
        self._first = -1
        if kind in (b"3", b"4"):
            m.devmajor, m.devminor = _num(major_f), _num(minor_f)
        if kind == b"0":
            self._file = m
            self._hashed = data_at
            self._hash = hashlib.sha256() if self.digests and length else None
            if not length and self.digests:
                m.digest = _EMPTY
            return True
        self.count += 1
        self.sink(m)
        return True
