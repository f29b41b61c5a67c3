"""The storage interface of the registry.

Blobs are content addressed and shared by every repository; a repository
holds *links*: the blobs pushed or mounted into it, its manifest revisions
(with the media type they were pushed as), tags, referrers and upload
sessions. Names, tags, digests and upload IDs reaching a backend have been
validated by ``names``.

Calls are synchronous: the filesystem backend answers from the page cache
in microseconds, so the server calls it from its event loop. A backend
with slow calls would wrap them in an executor behind the same API.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator


class DigestMismatch(Exception):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"digest mismatch: expected {expected}, got {actual}")
        self.expected, self.actual = expected, actual


@dataclass(frozen=True, slots=True)
class UploadInfo:
    name: str
    upload_id: str
    size: int
    started_at: float
    updated_at: float


class UploadWriter(abc.ABC):
    """Appends to an upload session and hashes as it goes. A chunk is all or
    nothing: ``rollback`` returns the session to where this writer began
    (a truncated or rejected chunk leaves no bytes behind)."""

    size: int

    @abc.abstractmethod
    def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class Storage(abc.ABC):
    # -- blobs (global, content addressed) ------------------------------------
    @abc.abstractmethod
    def blob_size(self, digest: str) -> int | None:
        """Size of a stored blob, None if absent."""

    @abc.abstractmethod
    def blob_path(self, digest: str) -> str | None:
        """A local file holding the blob, for zero-copy serving; None when the
        backend has none (then use blob_open)."""

    @abc.abstractmethod
    def blob_open(self, digest: str) -> BinaryIO: ...

    @abc.abstractmethod
    def blob_read(self, digest: str, limit: int) -> bytes:
        """A small blob (a manifest) whole; ValueError past ``limit`` bytes."""

    @abc.abstractmethod
    def blob_put(self, data: bytes, algorithm: str = "sha256") -> str:
        """Store small content (a manifest) atomically; return its digest."""

    @abc.abstractmethod
    def blob_delete(self, digest: str) -> None:
        """Remove content for good: only the garbage collector calls this."""

    @abc.abstractmethod
    def blobs(self) -> Iterator[tuple[str, float]]:
        """Every stored blob as (digest, modification time)."""

    # -- repositories ------------------------------------------------------------
    @abc.abstractmethod
    def repository_exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def repositories(self) -> list[str]:
        """Every repository, sorted."""

    @abc.abstractmethod
    def link_blob(self, name: str, digest: str) -> None: ...

    @abc.abstractmethod
    def unlink_blob(self, name: str, digest: str) -> bool: ...

    @abc.abstractmethod
    def blob_linked(self, name: str, digest: str) -> bool: ...

    @abc.abstractmethod
    def linked_blobs(self, name: str) -> list[str]: ...

    # -- manifests and tags --------------------------------------------------------
    @abc.abstractmethod
    def put_manifest(self, name: str, digest: str, media_type: str) -> None:
        """Record a manifest revision (its bytes are already a blob)."""

    @abc.abstractmethod
    def manifest_media_type(self, name: str, digest: str) -> str | None:
        """The media type a revision was pushed as; None if not in the repository."""

    @abc.abstractmethod
    def delete_manifest(self, name: str, digest: str) -> bool:
        """Remove a revision and every tag pointing at it."""

    @abc.abstractmethod
    def manifests(self, name: str) -> list[tuple[str, str]]:
        """Every revision of a repository as (digest, media type)."""

    @abc.abstractmethod
    def set_tag(self, name: str, tag: str, digest: str) -> None: ...

    @abc.abstractmethod
    def resolve_tag(self, name: str, tag: str) -> str | None: ...

    @abc.abstractmethod
    def delete_tag(self, name: str, tag: str) -> bool: ...

    @abc.abstractmethod
    def tags(self, name: str) -> list[str]: ...

    @abc.abstractmethod
    def tagged(self, name: str) -> dict[str, str]:
        """tag -> digest for a repository."""

    # -- referrers -------------------------------------------------------------------
    @abc.abstractmethod
    def add_referrer(self, name: str, subject: str, descriptor: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def remove_referrer(self, name: str, subject: str, digest: str) -> None: ...

    @abc.abstractmethod
    def referrers(self, name: str, subject: str) -> list[dict[str, Any]]: ...

    # -- upload sessions ---------------------------------------------------------------
    @abc.abstractmethod
    def upload_start(self, name: str) -> str:
        """Begin a session; return its ID."""

    @abc.abstractmethod
    def upload_info(self, name: str, upload_id: str) -> UploadInfo | None: ...

    @abc.abstractmethod
    def upload_writer(self, name: str, upload_id: str) -> UploadWriter:
        """Append to a session (KeyError if it does not exist)."""

    @abc.abstractmethod
    def upload_commit(self, name: str, upload_id: str, digest: str) -> int:
        """Verify the session's content against ``digest``, move it into the
        blob store atomically, link it into the repository and end the
        session. Return the size. DigestMismatch ends the session too: the
        content is dropped, nothing is stored."""

    @abc.abstractmethod
    def upload_cancel(self, name: str, upload_id: str) -> bool: ...

    @abc.abstractmethod
    def uploads(self) -> Iterator[UploadInfo]:
        """Every session of every repository (for expiry)."""
