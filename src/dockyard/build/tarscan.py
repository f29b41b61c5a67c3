"""A fast, read-only scan of a tar archive held in memory (an mmap of the
context spool): each member's header fields and the offset of its data.

tarfile parses a header in ~100 µs of Python; contexts of many small files
make that the whole cost of a cached rebuild. This reads only what the
index needs, straight from the buffer: ustar/GNU headers, PAX extended
headers (path, linkpath, size, mtime, uid, gid) and GNU long names."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterator

BLOCK = 512
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")


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
    pos = 0
    pax: dict[str, str] = {}
    gnu_name = gnu_link = ""
    zero = bytes(BLOCK)
    while pos + BLOCK <= size:
        block = bytes(buf[pos:pos + BLOCK])
        if block == zero:
            return
        (name_f, mode_f, uid_f, gid_f, size_f, mtime_f, chk_f, kind, link_f, magic, _version, _un, _gn,
         major_f, minor_f, prefix_f) = _HEADER.unpack_from(block)
        if _num(chk_f) != sum(block) - sum(chk_f) + 8 * 32:
            raise TarError(f"invalid tar header checksum at offset {pos}")
        length = _num(size_f)
        data_at = pos + BLOCK
        nxt = data_at + ((length + BLOCK - 1) // BLOCK) * BLOCK
        if kind in (b"x", b"g", b"L", b"K"):
            if data_at + length > size:
                raise TarError("unexpected end of data in an extended header")
            payload = bytes(buf[data_at:data_at + length])
            if kind == b"x":
                pax = _pax(payload)
            elif kind == b"L":
                gnu_name = payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            elif kind == b"K":
                gnu_link = payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            pos = nxt
            continue
        name = _str(name_f)
        if magic == b"ustar\0":  # POSIX ustar has a name prefix; GNU's magic differs
            prefix = _str(prefix_f)
            if prefix:
                name = prefix + "/" + name
        linkname = _str(link_f) if link_f[0] else ""
        mtime = _num(mtime_f)
        uid, gid = _num(uid_f), _num(gid_f)
        if gnu_name:
            name = gnu_name
        if gnu_link:
            linkname = gnu_link
        if pax:
            name = pax.get("path", name)
            linkname = pax.get("linkpath", linkname)
            if "size" in pax:
                length = int(pax["size"])
                nxt = data_at + ((length + BLOCK - 1) // BLOCK) * BLOCK
            if "mtime" in pax:
                mtime = int(float(pax["mtime"]))
            uid = int(pax.get("uid", uid))
            gid = int(pax.get("gid", gid))
        if kind == b"\0":
            kind = b"0"
        if kind in (b"0", b"7") and name.endswith("/"):
            kind = b"5"  # old tars mark directories by a trailing slash only
        if kind == b"7":
            kind = b"0"  # contiguous files are regular files
        if kind == b"0" and data_at + length > size:
            raise TarError("unexpected end of data")
        m = Member(name, kind, _num(mode_f) & 0o7777, uid, gid, length if kind == b"0" else 0, mtime,
                   linkname, data_at)
        if kind in (b"3", b"4"):
            m.devmajor, m.devminor = _num(major_f), _num(minor_f)
        yield m
        pax, gnu_name, gnu_link = {}, "", ""
        pos = nxt
