"""Applying layer tarballs (OCI image-spec layer.md) into a snapshot
directory, treating every tarball as hostile.

Every path is resolved component by component with directory fds opened
O_NOFOLLOW, so no entry (name, hard link target) can reach outside the root,
whatever symlinks earlier entries created. Whiteouts become overlayfs
whiteouts (0:0 character devices) and opaque markers the trusted.overlay.opaque
xattr, so the directory can serve as an overlay lower layer directly."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tarfile
import zlib
from typing import BinaryIO, Callable, Iterator

from ..errdefs import InvalidArgument

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


class LayerError(InvalidArgument):
    """A layer that is malformed or tries to escape its root."""


class HashingReader(io.RawIOBase):
    """Hashes and counts what passes through (the diff ID of a layer is the
    digest of its uncompressed stream)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.hash.update(data)
        self.size += n
        return n

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


try:  # ISA-L inflates about twice as fast as zlib (and, like zlib, without the GIL)
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - isal is a pinned dependency
    _zlib = zlib  # type: ignore[assignment]

_ZLIB_ERRORS: tuple[type[BaseException], ...] = (zlib.error,) if _zlib is zlib else (zlib.error, _zlib.error)


class BadCompressedData(OSError):
    """The compressed stream is damaged (a layer error, not an I/O error)."""


class Inflater(io.RawIOBase):
    """gzip decompression in large steps. The decompressor checks each
    member's CRC and length itself (wbits=31), so this skips gzip.GzipFile's
    per-read Python work and crc32 pass, and holds the GIL only between
    megabyte-sized inflate calls. Concatenated members are one stream, as
    gzip(1) says. ``chunk()`` hands out the decompressor's output as is
    (no copy) for LayerReader."""

    STEP = 1 << 20

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self._d = _zlib.decompressobj(31)
        self._out = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def chunk(self) -> bytes:
        """The next piece of output; b"" at the end."""
        try:
            while not self._done:
                d = self._d
                if d.eof:
                    rest = d.unused_data or self.raw.read(self.STEP)
                    if not rest.strip(b"\0"):
                        self._done = True  # end of stream (tar-style zero padding tolerated)
                        break
                    self._d = d = _zlib.decompressobj(31)
                    data = d.decompress(rest, self.STEP * 4)
                elif d.unconsumed_tail:
                    data = d.decompress(d.unconsumed_tail, self.STEP * 4)
                else:
                    chunk = self.raw.read(self.STEP)
                    if not chunk:
                        raise EOFError("compressed stream ended before the end-of-stream marker was reached")
                    data = d.decompress(chunk, self.STEP * 4)
                if data:
                    return data
        except _ZLIB_ERRORS as e:
            raise BadCompressedData(f"invalid gzip data: {e}") from None
        return b""

    def readinto(self, b) -> int:  # type: ignore[override]
        if not self._out:
            self._out = memoryview(self.chunk())
        n = min(len(b), len(self._out))
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


def decompressed(stream: BinaryIO, compression: str | None = None) -> BinaryIO:
    """Wrap stream in the right decompressor, sniffing magic bytes when the
    compression is not given."""
    buffered, compression = _sniff(stream, compression)
    if not hasattr(buffered, "peek"):
        buffered = io.BufferedReader(buffered, 1 << 20)  # type: ignore[arg-type]
    if compression == "gzip":
        return io.BufferedReader(Inflater(buffered), 1 << 20)  # type: ignore[return-value]
    if compression == "zstd":
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)  # type: ignore[return-value]
    return buffered  # type: ignore[return-value]


def _sniff(stream: BinaryIO, compression: str | None) -> tuple[BinaryIO, str]:
    if compression is not None:
        return stream, compression
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream, 1 << 20)  # type: ignore[arg-type]
    head = buffered.peek(4)[:4]  # type: ignore[attr-defined]
    if head[:2] == b"\x1f\x8b":
        return buffered, "gzip"
    if head == b"\x28\xb5\x2f\xfd":
        return buffered, "zstd"
    return buffered, ""


def layer_reader(stream: BinaryIO, compression: str | None = None) -> "LayerReader":
    """The uncompressed tar stream of a (maybe compressed) layer, as big
    chunks straight from the decompressor, hashed for the diff ID."""
    src, compression = _sniff(stream, compression)
    if compression == "gzip":
        return LayerReader(Inflater(src).chunk)
    if compression == "zstd":
        import zstandard
        z = zstandard.ZstdDecompressor().stream_reader(src, read_size=1 << 20, read_across_frames=True)
        return LayerReader(lambda: z.read(4 << 20))
    return LayerReader(lambda: src.read(1 << 20))


class LayerReader:
    """A forward-only file for tarfile over a source of chunks: reads copy
    only what they return, seeks forward skip, and file contents go out as
    views of the chunks (``pieces``). Every byte of the stream is hashed
    (the diff ID), also what tarfile never looks at (end-of-archive padding),
    once ``drain`` has run."""

    def __init__(self, next_chunk: Callable[[], bytes]) -> None:
        self._next = next_chunk
        self._buf = memoryview(b"")
        self._pos = 0
        self._eof = False
        self.hash = hashlib.sha256()
        self.size = 0

    def _fill(self) -> bool:
        while not self._eof:
            data = self._next()
            if not data:
                self._eof = True
                break
            self.hash.update(data)
            self.size += len(data)
            self._buf = memoryview(data)
            return True
        return False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [bytes(self._buf)]
            while self._fill():
                parts.append(bytes(self._buf))
            self._pos += sum(map(len, parts))
            self._buf = memoryview(b"")
            return b"".join(parts)
        if len(self._buf) >= n:
            out = bytes(self._buf[:n])
            self._buf = self._buf[n:]
            self._pos += n
            return out
        parts = []
        want = n
        while want:
            if not self._buf and not self._fill():
                break
            take = self._buf[:want]
            parts.append(take)
            self._buf = self._buf[len(take):]
            want -= len(take)
        self._pos += n - want
        return b"".join(parts)

    def pieces(self, n: int) -> Iterator[memoryview]:
        """The next n bytes as views (valid until the next read); raises
        EOFError when the stream ends first."""
        while n:
            if not self._buf and not self._fill():
                raise EOFError("unexpected end of data")
            take = self._buf[:n]
            self._buf = self._buf[len(take):]
            self._pos += len(take)
            n -= len(take)
            yield take

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self._pos
        elif whence != 0:
            raise tarfile.ReadError("layer tarball: unsupported seek")
        if pos < self._pos:
            raise tarfile.ReadError("layer tarball: entries out of order")
        try:
            for _ in self.pieces(pos - self._pos):
                pass
        except EOFError:
            pass  # like a file: the next read returns nothing
        return self._pos

    def drain(self) -> None:
        self._buf = memoryview(b"")
        while self._fill():
            pass
        self._buf = memoryview(b"")

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _clean_parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise LayerError(f"layer entry {name!r} escapes the layer root (..)")
    return parts


class _Root:
    """Directory-fd based operations below one root. Directories the layer
    went through stay open (up to CACHED, least recently used dropped) so
    that each entry costs one path component, not a walk from the root;
    anything that removes entries drops them all, so a cached fd never
    stands for a directory that was replaced."""

    CACHED = 128

    def __init__(self, root: str) -> None:
        self.fd = os.open(root, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        self._dirs: dict[tuple[str, ...], int] = {}  # insertion order = recency
        self.stale = False

    def close(self) -> None:
        self._drop()
        os.close(self.fd)

    def _drop(self) -> None:
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()
        self.stale = False

    def parent(self, parts: list[str], name: str) -> int:
        """The (created if missing) directory parts, kept open by the cache
        with every directory above it: callers do not close it."""
        if self.stale:
            self._drop()
        return self._cached_dir(tuple(parts), name)

    def _cached_dir(self, key: tuple[str, ...], name: str) -> int:
        if not key:
            return self.fd
        fd = self._dirs.pop(key, -1)
        if fd < 0:
            above = self._cached_dir(key[:-1], name)
            fd = self._walk(above, [key[-1]], True, name)
            while len(self._dirs) >= self.CACHED:
                os.close(self._dirs.pop(next(iter(self._dirs))))
        self._dirs[key] = fd
        return fd

    def lookup(self, parts: list[str], name: str) -> int:
        """An existing directory: a cached fd when there is one (do not
        close it then: see ``cached``), else a new fd (close it)."""
        if not self.stale:
            fd = self._dirs.get(tuple(parts), -1) if parts else self.fd
            if fd >= 0:
                return fd
        return self.open_dir(parts, False, name)

    def cached(self, fd: int) -> bool:
        return fd == self.fd or fd in self._dirs.values()

    def open_dir(self, parts: list[str], create: bool, name: str) -> int:
        """An fd for the directory parts (relative to root), never following
        a symlink; missing directories are created when asked."""
        return self._walk(self.fd, parts, create, name)

    def _walk(self, start: int, parts: list[str], create: bool, name: str) -> int:
        fd = os.dup(start)
        try:
            for p in parts:
                try:
                    nfd = os.open(p, os.O_DIRECTORY | os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(p, 0o755, dir_fd=fd)
                    nfd = os.open(p, os.O_DIRECTORY | os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError as e:
                    if e.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise LayerError(f"layer entry {name!r} goes through a symlink or a non-directory ({p})") from None
                    raise
                os.close(fd)
                fd = nfd
            return fd
        except BaseException:
            os.close(fd)
            raise


def _remove(dir_fd: int, name: str) -> None:
    """Remove name (recursively for directories) below dir_fd."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        sub = os.open(name, os.O_DIRECTORY | os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            for child in os.listdir(sub):
                _remove(sub, child)
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def _octal(field: bytes) -> int:
    """A plain octal number field; ValueError for anything else (base-256,
    garbage), which the careful parser then handles."""
    if field[0] >= 0x80:
        raise ValueError("base-256")
    return int(field.split(b"\0", 1)[0].strip() or b"0", 8)


class _FastTarInfo(tarfile.TarInfo):
    """tarfile's TarInfo with a header decoder for the common case (plain
    octal fields and a matching unsigned checksum), several times faster
    than tarfile's field-by-field one; any other header goes to tarfile's,
    which decides (and raises) as it always does."""

    @classmethod
    def frombuf(cls, buf, encoding, errors):  # type: ignore[no-untyped-def,override]
        try:
            if len(buf) != tarfile.BLOCKSIZE or buf.count(0) == tarfile.BLOCKSIZE:
                raise ValueError("not a plain header")
            chksum = _octal(buf[148:156])
            if chksum != 256 + sum(buf[:148]) + sum(buf[156:]):
                raise ValueError("checksum")
            obj = cls()
            obj.mode, obj.uid, obj.gid, obj.size, obj.mtime = (
                _octal(buf[100:108]), _octal(buf[108:116]), _octal(buf[116:124]), _octal(buf[124:136]),
                _octal(buf[136:148]))
            obj.devmajor, obj.devminor = _octal(buf[329:337]), _octal(buf[337:345])
        except ValueError:
            return super().frombuf(buf, encoding, errors)
        obj.chksum = chksum
        obj.type = buf[156:157]
        if obj.type == tarfile.GNUTYPE_SPARSE:
            return super().frombuf(buf, encoding, errors)
        obj.name = buf[0:100].split(b"\0", 1)[0].decode(encoding, errors)
        obj.linkname = buf[157:257].split(b"\0", 1)[0].decode(encoding, errors)
        obj.uname = buf[265:297].split(b"\0", 1)[0].decode(encoding, errors)
        obj.gname = buf[297:329].split(b"\0", 1)[0].decode(encoding, errors)
        prefix = buf[345:500].split(b"\0", 1)[0].decode(encoding, errors)
        if obj.type == tarfile.AREGTYPE and obj.name.endswith("/"):
            obj.type = tarfile.DIRTYPE  # V7 directories
        if obj.isdir():
            obj.name = obj.name.rstrip("/")
        if prefix and obj.type not in tarfile.GNU_TYPES:
            obj.name = prefix + "/" + obj.name
        return obj


def apply_layer(root: str, stream: BinaryIO | LayerReader, same_owner: bool | None = None) -> int:
    """Apply an uncompressed tar stream into root. Returns bytes of file
    content written. Raises LayerError for hostile or malformed input; the
    caller discards the partially written root."""
    if same_owner is None:
        same_owner = os.geteuid() == 0  # as tar does: only root can give files away
    if not isinstance(stream, LayerReader):
        raw = stream
        stream = LayerReader(lambda: raw.read(1 << 20))
    r = _Root(root)
    dir_times: list[tuple[list[str], int]] = []
    written = 0
    try:
        try:
            # "r:" over a forward-only reader: tarfile's stream mode would
            # copy its whole buffer for every header it reads.
            tf = tarfile.open(fileobj=stream, mode="r:", tarinfo=_FastTarInfo)  # type: ignore[call-overload]
        except tarfile.TarError as e:
            raise LayerError(f"invalid layer tarball: {e}") from None
        try:
            for member in tf:
                written += _apply_member(r, tf, stream, member, same_owner, dir_times)
        except tarfile.TarError as e:
            raise LayerError(f"invalid layer tarball: {e}") from None
        except EOFError:
            raise LayerError("invalid layer tarball: unexpected end of data") from None
        for parts, mtime in reversed(dir_times):
            try:
                if parts:
                    pfd = r.open_dir(parts[:-1], False, "/".join(parts))
                    try:
                        os.utime(parts[-1], (mtime, mtime), dir_fd=pfd, follow_symlinks=False)
                    finally:
                        os.close(pfd)
                else:
                    os.utime(r.fd, (mtime, mtime))
            except OSError:
                pass
    finally:
        r.close()
    return written


def _write_member(fd: int, tf: tarfile.TarFile, reader: LayerReader, m: tarfile.TarInfo) -> int:
    if m.sparse is None:
        # Straight from the decompressor's buffers to the file.
        reader.seek(m.offset_data)
        for piece in reader.pieces(m.size):
            while piece:
                piece = piece[os.write(fd, piece):]
        return m.size
    written = 0
    src = tf.extractfile(m)
    if src is not None:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
            written += len(chunk)
    return written


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


_BENEATH = True  # openat2 available (Linux 5.6+)


def _create_beneath(r: _Root, parts: list[str], name: str) -> int:
    """The common case in one system call: a new regular file whose parent
    directories exist, resolved below the root without following any
    symlink (openat2). -1 when it needs the general path (a directory to
    create, an entry to replace, or no openat2)."""
    global _BENEATH
    if not _BENEATH:
        return -1
    from .._sys import libc
    try:
        return libc.openat2(r.fd, "/".join(parts), _CREATE, 0o600,
                            libc.RESOLVE_BENEATH | libc.RESOLVE_NO_SYMLINKS | libc.RESOLVE_NO_MAGICLINKS)
    except (FileExistsError, FileNotFoundError):
        return -1
    except OSError as e:
        if e.errno == errno.ENOSYS:
            _BENEATH = False
            return -1
        if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV):
            raise LayerError(f"layer entry {name!r} goes through a symlink or a non-directory") from None
        raise


def _create_file(r: _Root, parent: int, base: str) -> int:
    """Create base exclusively in parent, removing whatever was there."""
    try:
        return os.open(base, _CREATE, 0o600, dir_fd=parent)
    except FileExistsError:
        r.stale = True
        _remove(parent, base)
        return os.open(base, _CREATE, 0o600, dir_fd=parent)


def _fill_file(fd: int, tf: tarfile.TarFile, reader: LayerReader, m: tarfile.TarInfo, same_owner: bool) -> int:
    """Write a regular file's content and metadata through its own fd (no
    path lookups), then close it."""
    try:
        written = _write_member(fd, tf, reader, m)
        if same_owner:
            os.fchown(fd, m.uid, m.gid)
        for key, value in (m.pax_headers or {}).items():
            if key.startswith("SCHILY.xattr.") and not key.startswith("SCHILY.xattr.trusted.overlay."):
                try:
                    os.setxattr(fd, key[len("SCHILY.xattr."):], value.encode("utf-8", "surrogateescape"))
                except (OSError, TypeError):
                    pass
        os.fchmod(fd, m.mode & 0o7777)  # after chown, which clears set-id bits
        os.utime(fd, (m.mtime, m.mtime))
    finally:
        os.close(fd)
    return written


def _apply_member(r: _Root, tf: tarfile.TarFile, reader: LayerReader, m: tarfile.TarInfo, same_owner: bool,
                  dir_times: list[tuple[list[str], int]]) -> int:
    parts = _clean_parts(m.name)
    if not parts:
        if m.isdir():
            os.chmod(r.fd, m.mode & 0o7777)
        return 0
    base = parts[-1]
    if m.isreg() and not base.startswith(WHITEOUT_PREFIX):
        fd = _create_beneath(r, parts, m.name)
        if fd >= 0:
            return _fill_file(fd, tf, reader, m, same_owner)
    parent = r.parent(parts[:-1], m.name)
    if base == OPAQUE:
        r.stale = True
        for child in os.listdir(parent):
            _remove(parent, child)
        os.setxattr(parent, "trusted.overlay.opaque", b"y")
        return 0
    if base.startswith(WHITEOUT_PREFIX):
        target = base[len(WHITEOUT_PREFIX):]
        if not target or target in (".", ".."):
            raise LayerError(f"invalid whiteout {m.name!r}")
        r.stale = True
        _remove(parent, target)
        os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
        return 0
    if m.isreg():
        return _fill_file(_create_file(r, parent, base), tf, reader, m, same_owner)
    try:
        existing = os.lstat(base, dir_fd=parent)
    except FileNotFoundError:
        existing = None
    if existing is not None and not (m.isdir() and stat.S_ISDIR(existing.st_mode)):
        r.stale = True
        _remove(parent, base)
    written = 0
    mode = m.mode & 0o7777
    if m.isdir():
        if existing is None or not stat.S_ISDIR(existing.st_mode):
            os.mkdir(base, 0o700, dir_fd=parent)
        dir_times.append((parts, int(m.mtime)))
    elif m.issym():
        os.symlink(m.linkname, base, dir_fd=parent)
    elif m.islnk():
        lparts = _clean_parts(m.linkname)
        if not lparts:
            raise LayerError(f"hard link {m.name!r} has an empty target")
        try:
            lparent = r.lookup(lparts[:-1], m.linkname)
        except FileNotFoundError:
            raise LayerError(f"hard link {m.name!r} points to missing {m.linkname!r}") from None
        try:
            try:
                lst = os.lstat(lparts[-1], dir_fd=lparent)
            except FileNotFoundError:
                raise LayerError(f"hard link {m.name!r} points to missing {m.linkname!r}") from None
            if stat.S_ISDIR(lst.st_mode):
                raise LayerError(f"hard link {m.name!r} points to a directory")
            os.link(lparts[-1], base, src_dir_fd=lparent, dst_dir_fd=parent, follow_symlinks=False)
        finally:
            if not r.cached(lparent):
                os.close(lparent)
        return 0
    elif m.ischr() or m.isblk() or m.isfifo():
        kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
        os.mknod(base, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=parent)
    else:
        return 0  # GNU sparse/long-name records are handled by tarfile; other types are skipped
    if same_owner:
        os.chown(base, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
    for key, value in (m.pax_headers or {}).items():
        if key.startswith("SCHILY.xattr."):
            name = key[len("SCHILY.xattr."):]
            if name.startswith("trusted.overlay."):
                continue  # an image must not smuggle overlay metadata in
            try:
                os.setxattr(f"/proc/self/fd/{parent}/{base}", name,
                            value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            except (OSError, TypeError):
                pass
    if not m.issym():
        os.chmod(base, mode, dir_fd=parent)
        if not m.isdir():
            os.utime(base, (m.mtime, m.mtime), dir_fd=parent, follow_symlinks=False)
    return written
