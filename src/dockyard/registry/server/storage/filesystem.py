"""The filesystem backend.

Layout under the root (names are validated before they get here, so every
path component is [a-z0-9._-]+ and none starts with a dot or underscore;
the underscore entries cannot collide with a repository component)::

    blobs/<alg>/<hex[:2]>/<hex>                           content, shared
    repositories/<name>/_layers/<alg>/<hex>                blob linked into the repo (empty file)
    repositories/<name>/_manifests/revisions/<alg>/<hex>   a manifest revision; holds its media type
    repositories/<name>/_manifests/tags/<tag>              holds the tagged digest
    repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex> referrer descriptor (JSON)
    repositories/<name>/_uploads/<id>/data                 upload in progress

Content reaches blobs/ only by rename(2) after its digest was verified, so a
reader never sees partial or unverified content. The hash state of an
upload stays in memory between requests (so a chunked upload is hashed
once); after a restart it is rebuilt from the data on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from typing import Any, BinaryIO, Iterator

from ....fsutil import atomic_write, fsync_dir
from .base import DigestMismatch, Storage, UploadInfo, UploadWriter

_READ_CHUNK = 1 << 20


def _split(digest: str) -> tuple[str, str]:
    alg, _, hexpart = digest.partition(":")
    return alg, hexpart


def _hash_file(path: str, alg: str) -> tuple[Any, int]:
    h = hashlib.new(alg)
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_READ_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h, size


class _FileUploadWriter(UploadWriter):
    def __init__(self, store: "FilesystemStorage", key: tuple[str, str], path: str) -> None:
        self._store, self._key = store, key
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        on_disk = os.fstat(self._fd).st_size
        cached = store._hashers.pop(key, None)
        if cached is not None and cached[1] == on_disk:
            self._hash = cached[0]
        else:
            self._hash, _ = _hash_file(path, "sha256")
        self.size = on_disk
        self._start = (on_disk, self._hash.copy())

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._hash.update(data)
        self.size += len(data)

    def rollback(self) -> None:
        size, state = self._start
        os.ftruncate(self._fd, size)
        self.size, self._hash = size, state.copy()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._store._hashers[self._key] = (self._hash, self.size)


class FilesystemStorage(Storage):
    def __init__(self, root: str, fsync: bool = True) -> None:
        self.root = os.path.abspath(root)
        self.fsync = fsync
        self._blobs = os.path.join(self.root, "blobs")
        self._repos = os.path.join(self.root, "repositories")
        os.makedirs(self._blobs, exist_ok=True)
        os.makedirs(self._repos, exist_ok=True)
        # (name, upload id) -> (sha256 state, bytes hashed)
        self._hashers: dict[tuple[str, str], tuple[Any, int]] = {}

    # -- paths -----------------------------------------------------------------------
    def _blob(self, digest: str) -> str:
        alg, hexpart = _split(digest)
        return os.path.join(self._blobs, alg, hexpart[:2], hexpart)

    def _repo(self, name: str, *parts: str) -> str:
        return os.path.join(self._repos, name, *parts)

    def _layer_link(self, name: str, digest: str) -> str:
        return self._repo(name, "_layers", *_split(digest))

    def _revision(self, name: str, digest: str) -> str:
        return self._repo(name, "_manifests", "revisions", *_split(digest))

    def _tag(self, name: str, tag: str) -> str:
        return self._repo(name, "_manifests", "tags", tag)

    def _upload_dir(self, name: str, upload_id: str) -> str:
        return self._repo(name, "_uploads", upload_id)

    def _write_small(self, path: str, data: bytes) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, data, durable=self.fsync)

    # -- blobs -----------------------------------------------------------------------
    def blob_size(self, digest: str) -> int | None:
        try:
            return os.stat(self._blob(digest)).st_size
        except FileNotFoundError:
            return None

    def blob_path(self, digest: str) -> str | None:
        return self._blob(digest)

    def blob_open(self, digest: str) -> BinaryIO:
        return open(self._blob(digest), "rb")

    def blob_read(self, digest: str, limit: int) -> bytes:
        with open(self._blob(digest), "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"{digest} is larger than {limit} bytes")
        return data

    def blob_put(self, data: bytes, algorithm: str = "sha256") -> str:
        digest = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
        path = self._blob(digest)
        if not os.path.exists(path):
            self._write_small(path, data)
        return digest

    def blob_delete(self, digest: str) -> None:
        try:
            os.unlink(self._blob(digest))
        except FileNotFoundError:
            pass

    def blobs(self) -> Iterator[tuple[str, float]]:
        for alg in sorted(os.listdir(self._blobs)):
            alg_dir = os.path.join(self._blobs, alg)
            for prefix in sorted(os.listdir(alg_dir)):
                with os.scandir(os.path.join(alg_dir, prefix)) as it:
                    for entry in it:
                        if entry.name.startswith("."):
                            continue  # a small write in progress
                        yield f"{alg}:{entry.name}", entry.stat().st_mtime

    # -- repositories ----------------------------------------------------------------
    def repository_exists(self, name: str) -> bool:
        repo = self._repo(name)
        return os.path.isdir(os.path.join(repo, "_manifests")) or os.path.isdir(os.path.join(repo, "_layers"))

    def repositories(self) -> list[str]:
        found = []
        for dirpath, dirnames, _ in os.walk(self._repos):
            if "_manifests" in dirnames or "_layers" in dirnames:
                found.append(os.path.relpath(dirpath, self._repos))
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
        return sorted(found)

    def link_blob(self, name: str, digest: str) -> None:
        path = self._layer_link(name, digest)
        if os.path.exists(path):
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        if self.fsync:
            fsync_dir(os.path.dirname(path))

    def unlink_blob(self, name: str, digest: str) -> bool:
        try:
            os.unlink(self._layer_link(name, digest))
            return True
        except FileNotFoundError:
            return False

    def blob_linked(self, name: str, digest: str) -> bool:
        return os.path.exists(self._layer_link(name, digest))

    def linked_blobs(self, name: str) -> list[str]:
        out = []
        base = self._repo(name, "_layers")
        for alg in _listdir(base):
            out.extend(f"{alg}:{h}" for h in _listdir(os.path.join(base, alg)) if not h.startswith("."))
        return out

    # -- manifests and tags ----------------------------------------------------------------
    def put_manifest(self, name: str, digest: str, media_type: str) -> None:
        self._write_small(self._revision(name, digest), media_type.encode())

    def manifest_media_type(self, name: str, digest: str) -> str | None:
        try:
            with open(self._revision(name, digest), "rb") as f:
                return f.read().decode()
        except FileNotFoundError:
            return None

    def delete_manifest(self, name: str, digest: str) -> bool:
        try:
            os.unlink(self._revision(name, digest))
        except FileNotFoundError:
            return False
        for tag, tagged in self.tagged(name).items():
            if tagged == digest:
                self.delete_tag(name, tag)
        return True

    def manifests(self, name: str) -> list[tuple[str, str]]:
        out = []
        base = self._repo(name, "_manifests", "revisions")
        for alg in _listdir(base):
            for h in _listdir(os.path.join(base, alg)):
                if h.startswith("."):
                    continue
                media_type = self.manifest_media_type(name, f"{alg}:{h}")
                if media_type is not None:
                    out.append((f"{alg}:{h}", media_type))
        return out

    def set_tag(self, name: str, tag: str, digest: str) -> None:
        self._write_small(self._tag(name, tag), digest.encode())

    def resolve_tag(self, name: str, tag: str) -> str | None:
        try:
            with open(self._tag(name, tag), "rb") as f:
                return f.read().decode()
        except FileNotFoundError:
            return None

    def delete_tag(self, name: str, tag: str) -> bool:
        try:
            os.unlink(self._tag(name, tag))
            return True
        except FileNotFoundError:
            return False

    def tags(self, name: str) -> list[str]:
        return [t for t in _listdir(self._repo(name, "_manifests", "tags")) if not t.startswith(".")]

    def tagged(self, name: str) -> dict[str, str]:
        out = {}
        for tag in self.tags(name):
            digest = self.resolve_tag(name, tag)
            if digest:
                out[tag] = digest
        return out

    # -- referrers ----------------------------------------------------------------------------
    def _referrer_dir(self, name: str, subject: str) -> str:
        return self._repo(name, "_referrers", *_split(subject))

    def add_referrer(self, name: str, subject: str, descriptor: dict[str, Any]) -> None:
        entry = descriptor["digest"].replace(":", "-")
        self._write_small(os.path.join(self._referrer_dir(name, subject), entry),
                          json.dumps(descriptor, separators=(",", ":")).encode())

    def remove_referrer(self, name: str, subject: str, digest: str) -> None:
        try:
            os.unlink(os.path.join(self._referrer_dir(name, subject), digest.replace(":", "-")))
        except FileNotFoundError:
            pass

    def referrers(self, name: str, subject: str) -> list[dict[str, Any]]:
        base = self._referrer_dir(name, subject)
        out = []
        for entry in _listdir(base):
            if entry.startswith("."):
                continue
            try:
                with open(os.path.join(base, entry), "rb") as f:
                    out.append(json.loads(f.read()))
            except (FileNotFoundError, ValueError):
                continue
        return out

    # -- uploads ------------------------------------------------------------------------------
    def upload_start(self, name: str) -> str:
        upload_id = str(uuid.uuid4())
        d = self._upload_dir(name, upload_id)
        os.makedirs(d)
        with open(os.path.join(d, "startedat"), "w") as f:
            f.write(repr(time.time()))
        os.close(os.open(os.path.join(d, "data"), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        return upload_id

    def upload_info(self, name: str, upload_id: str) -> UploadInfo | None:
        d = self._upload_dir(name, upload_id)
        try:
            st = os.stat(os.path.join(d, "data"))
            with open(os.path.join(d, "startedat")) as f:
                started = float(f.read() or 0)
        except (FileNotFoundError, ValueError):
            return None
        return UploadInfo(name, upload_id, st.st_size, started, st.st_mtime)

    def upload_writer(self, name: str, upload_id: str) -> UploadWriter:
        path = os.path.join(self._upload_dir(name, upload_id), "data")
        if not os.path.exists(path):
            raise KeyError(upload_id)
        return _FileUploadWriter(self, (name, upload_id), path)

    def upload_commit(self, name: str, upload_id: str, digest: str) -> int:
        d = self._upload_dir(name, upload_id)
        data = os.path.join(d, "data")
        alg, hexpart = _split(digest)
        cached = self._hashers.pop((name, upload_id), None)
        size = os.stat(data).st_size
        if alg == "sha256" and cached is not None and cached[1] == size:
            actual = cached[0].hexdigest()
        else:
            h, size = _hash_file(data, alg)
            actual = h.hexdigest()
        if actual != hexpart:
            shutil.rmtree(d, ignore_errors=True)
            raise DigestMismatch(digest, f"{alg}:{actual}")
        target = self._blob(digest)
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if self.fsync:
                fd = os.open(data, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.rename(data, target)
            if self.fsync:
                fsync_dir(os.path.dirname(target))
        self.link_blob(name, digest)
        shutil.rmtree(d, ignore_errors=True)
        return size

    def upload_cancel(self, name: str, upload_id: str) -> bool:
        self._hashers.pop((name, upload_id), None)
        d = self._upload_dir(name, upload_id)
        if not os.path.isdir(d):
            return False
        shutil.rmtree(d, ignore_errors=True)
        return True

    def uploads(self) -> Iterator[UploadInfo]:
        for name in self._upload_repos():
            for upload_id in _listdir(self._repo(name, "_uploads")):
                info = self.upload_info(name, upload_id)
                if info is not None:
                    yield info

    def _upload_repos(self) -> list[str]:
        found = []
        for dirpath, dirnames, _ in os.walk(self._repos):
            if "_uploads" in dirnames:
                found.append(os.path.relpath(dirpath, self._repos))
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
        return found


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
