"""Content-addressed blob store (containerd's content store).

Blobs live at <root>/blobs/sha256/<hex>. A writer streams into
<root>/ingest/<hash of ref>/data; commit verifies size and digest, fsyncs,
renames into place and fsyncs the directory, so a blob is either whole and
verified or absent. An ingest that was not committed stays resumable under
its ref (a retried download continues where it stopped) until it is aborted
or expires. Readers verify on read: ``read_blob`` at once, ``open_blob``
at end of stream."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
import shutil
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from ..errdefs import AlreadyExists, InvalidArgument, NotFound, Unavailable
from ..fsutil import fsync_dir
from ..oci import digest as digestlib

INGEST_EXPIRY = 24 * 3600


class CorruptBlob(InvalidArgument):
    """A stored or received blob whose bytes do not match its digest."""


@dataclass(frozen=True, slots=True)
class Info:
    digest: str
    size: int


class Writer:
    """An ingest in progress; resumable by ref until committed or aborted.
    One writer per ref at a time (an flock on the data file)."""

    def __init__(self, store: "ContentStore", ref: str, hash_existing: bool = True) -> None:
        self.store = store
        self.ref = ref
        self.dir = store.ingest_dir(ref)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "data")
        self._f = open(self.path, "ab")
        try:
            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            self._f.close()
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise Unavailable(f"ref {ref} is locked: another transfer of it is in progress") from None
            raise
        with open(os.path.join(self.dir, "ref"), "w") as f:
            f.write(ref)
        self._h = hashlib.sha256()
        self.offset = self._f.tell()
        self._closed = False
        if self.offset and hash_existing:
            with open(self.path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    self._h.update(chunk)

    def write(self, data: bytes) -> None:
        self._f.write(data)
        self._h.update(data)
        self.offset += len(data)

    def truncate(self) -> None:
        """Start over (a resumed download whose server ignores Range)."""
        self._f.seek(0)
        self._f.truncate()
        self._h = hashlib.sha256()
        self.offset = 0

    @property
    def digest(self) -> str:
        return "sha256:" + self._h.hexdigest()

    def commit(self, expected_digest: str | None = None, expected_size: int | None = None) -> Info:
        self._f.flush()
        os.fsync(self._f.fileno())
        got = self.digest
        if expected_size is not None and expected_size >= 0 and self.offset != expected_size:
            self.abort()
            raise CorruptBlob(f"unexpected commit size {self.offset}, expected {expected_size}")
        if expected_digest and got != expected_digest:
            self.abort()
            raise CorruptBlob(f"unexpected commit digest {got}, expected {expected_digest}")
        target = self.store.blob_path(got)
        if os.path.exists(target):
            self.abort()
            return Info(got, self.offset)
        os.replace(self.path, target)
        fsync_dir(os.path.dirname(target))
        self._close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return Info(got, self.offset)

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._f.close()
            except OSError:
                pass

    def close(self) -> None:
        """Stop writing but keep the partial data for a later resume."""
        try:
            self._f.flush()
        except OSError:
            pass
        self._close()

    def abort(self) -> None:
        self._close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class VerifyingReader(io.RawIOBase):
    """Reads a blob and raises CorruptBlob at end of stream when its bytes do
    not hash to the digest they are stored under."""

    def __init__(self, f: BinaryIO, digest: str) -> None:
        self._f = f
        self._digest = digest
        self._h = hashlib.sha256()
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        n = self._f.readinto(b)  # type: ignore[attr-defined]
        if n:
            self._h.update(memoryview(b)[:n])
        elif not self._done:
            self._done = True
            if "sha256:" + self._h.hexdigest() != self._digest:
                raise CorruptBlob(f"content {self._digest}: corrupt blob (digest mismatch)")
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        os.makedirs(os.path.join(root, "ingest"), exist_ok=True)
        self._lock = threading.Lock()

    def blob_path(self, digest: str) -> str:
        alg, hexd = digestlib.validate(digest)
        if alg != "sha256":
            raise InvalidArgument(f"unsupported digest algorithm {alg}")
        return os.path.join(self.root, "blobs", alg, hexd)

    def ingest_dir(self, ref: str) -> str:
        return os.path.join(self.root, "ingest", hashlib.sha256(ref.encode()).hexdigest())

    def has(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def info(self, digest: str) -> Info:
        try:
            return Info(digest, os.stat(self.blob_path(digest)).st_size)
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def writer(self, ref: str, hash_existing: bool = True) -> Writer:
        return Writer(self, ref, hash_existing)

    def write_blob(self, data: bytes, expected_digest: str | None = None) -> Info:
        d = digestlib.sha256_digest(data)
        if expected_digest and d != expected_digest:
            raise CorruptBlob(f"unexpected commit digest {d}, expected {expected_digest}")
        if self.has(d):
            return Info(d, len(data))
        w = self.writer(f"blob-{d}-{os.getpid()}-{threading.get_ident()}")
        w.truncate()
        w.write(data)
        return w.commit(d, len(data))

    def read_blob(self, digest: str, verify: bool = True) -> bytes:
        try:
            with open(self.blob_path(digest), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None
        if verify and digestlib.sha256_digest(data) != digest:
            raise CorruptBlob(f"content {digest}: corrupt blob (digest mismatch)")
        return data

    def open_blob(self, digest: str, verify: bool = False) -> BinaryIO:
        """The blob's bytes; with verify, a reader that raises CorruptBlob at
        EOF if they do not match the digest."""
        try:
            f = open(self.blob_path(digest), "rb", buffering=0)
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None
        if verify:
            return io.BufferedReader(VerifyingReader(f, digest), 1 << 20)  # type: ignore[arg-type,return-value]
        return io.BufferedReader(f, 1 << 20)  # type: ignore[return-value]

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.blob_path(digest))
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def walk(self) -> Iterator[Info]:
        base = os.path.join(self.root, "blobs", "sha256")
        for name in os.listdir(base):
            if len(name) == 64:
                try:
                    yield Info("sha256:" + name, os.stat(os.path.join(base, name)).st_size)
                except FileNotFoundError:
                    continue

    def ingests(self) -> list[tuple[str, int, float]]:
        """(ref, bytes so far, last write time) of every ingest in progress."""
        out = []
        base = os.path.join(self.root, "ingest")
        for name in os.listdir(base):
            d = os.path.join(base, name)
            try:
                with open(os.path.join(d, "ref")) as f:
                    ref = f.read()
                st = os.stat(os.path.join(d, "data"))
                out.append((ref, st.st_size, st.st_mtime))
            except OSError:
                out.append(("", 0, 0.0))
        return out

    def expire_ingests(self, max_age: float = INGEST_EXPIRY) -> int:
        """Remove ingests nobody touched for max_age seconds (and unlocked
        ones without data); returns bytes freed."""
        freed = 0
        now = time.time()
        base = os.path.join(self.root, "ingest")
        for name in os.listdir(base):
            d = os.path.join(base, name)
            data = os.path.join(d, "data")
            try:
                st = os.stat(data)
            except FileNotFoundError:
                st = None
            if st is not None and now - st.st_mtime < max_age:
                continue
            try:
                fd = os.open(data, os.O_RDONLY | os.O_CLOEXEC) if st is not None else -1
            except FileNotFoundError:
                fd = -1
            try:
                if fd >= 0:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        continue  # a writer holds it
                freed += st.st_size if st is not None else 0
                shutil.rmtree(d, ignore_errors=True)
            finally:
                if fd >= 0:
                    os.close(fd)
        return freed

    def ensure_absent(self, digest: str) -> None:
        if self.has(digest):
            raise AlreadyExists(f"content {digest}: already exists")
