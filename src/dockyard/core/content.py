"""Content-addressed blob store (containerd's content store).

Blobs live at <root>/blobs/sha256/<hex>. A writer streams into
<root>/ingest/<ref>/data; commit verifies size and digest, fsyncs, renames
into place and fsyncs the directory, so a blob is either whole and verified or
absent. Readers verify on open when asked."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from ..errdefs import AlreadyExists, InvalidArgument, NotFound
from ..fsutil import fsync_dir
from ..oci import digest as digestlib


@dataclass(frozen=True, slots=True)
class Info:
    digest: str
    size: int


class Writer:
    """An ingest in progress; resumable by ref until committed or aborted."""

    def __init__(self, store: "ContentStore", ref: str) -> None:
        self.store = store
        self.ref = ref
        self.dir = os.path.join(store.root, "ingest", hashlib.sha256(ref.encode()).hexdigest())
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "data")
        self._f = open(self.path, "ab")
        self._h = hashlib.sha256()
        self.offset = self._f.tell()
        if self.offset:
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
        self._f.close()
        got = self.digest
        if expected_size is not None and expected_size >= 0 and self.offset != expected_size:
            self.abort()
            raise InvalidArgument(f"unexpected commit size {self.offset}, expected {expected_size}")
        if expected_digest and got != expected_digest:
            self.abort()
            raise InvalidArgument(f"unexpected commit digest {got}, expected {expected_digest}")
        target = self.store.blob_path(got)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.exists(target):
            self.abort()
            return Info(got, self.offset)
        os.replace(self.path, target)
        fsync_dir(os.path.dirname(target))
        shutil.rmtree(self.dir, ignore_errors=True)
        return Info(got, self.offset)

    def abort(self) -> None:
        try:
            self._f.close()
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        os.makedirs(os.path.join(root, "ingest"), exist_ok=True)
        self._lock = threading.Lock()

    def blob_path(self, digest: str) -> str:
        alg, hexd = digestlib.validate(digest)
        return os.path.join(self.root, "blobs", alg, hexd)

    def has(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def info(self, digest: str) -> Info:
        try:
            return Info(digest, os.stat(self.blob_path(digest)).st_size)
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def writer(self, ref: str) -> Writer:
        return Writer(self, ref)

    def write_blob(self, data: bytes, expected_digest: str | None = None) -> Info:
        d = digestlib.sha256_digest(data)
        if expected_digest and d != expected_digest:
            raise InvalidArgument(f"unexpected commit digest {d}, expected {expected_digest}")
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
            raise InvalidArgument(f"content {digest}: corrupt blob (digest mismatch)")
        return data

    def open_blob(self, digest: str) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.blob_path(digest))
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def walk(self) -> Iterator[Info]:
        base = os.path.join(self.root, "blobs", "sha256")
        for name in os.listdir(base):
            if len(name) == 64:
                yield Info("sha256:" + name, os.stat(os.path.join(base, name)).st_size)

    def ensure_absent(self, digest: str) -> None:
        if self.has(digest):
            raise AlreadyExists(f"content {digest}: already exists")
