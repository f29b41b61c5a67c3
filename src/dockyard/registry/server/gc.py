"""Garbage collection: mark every blob a manifest revision of any repository
uses (config, layers, the manifest's own bytes; an index's children are
revisions themselves), then sweep the blobs nobody marked.

A manifest that cannot be parsed stops the collection: what it references
is unknown, so nothing may be deleted. Blobs younger than ``min_age`` are
spared, so that a push whose blobs are uploaded but whose manifest is not
yet is not robbed (run in read-only mode for a strict collection)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import manifests as mf
from .errors import RegistryError
from .storage import Storage


class GcError(Exception):
    pass


@dataclass
class GcReport:
    marked: set[str] = field(default_factory=set)
    deleted_blobs: list[tuple[str, int]] = field(default_factory=list)   # (digest, size)
    deleted_manifests: list[tuple[str, str]] = field(default_factory=list)  # (repository, digest)
    spared_young: int = 0

    @property
    def freed_bytes(self) -> int:
        return sum(size for _, size in self.deleted_blobs)


def _parse(storage: Storage, repo: str, digest: str, media_type: str) -> mf.Manifest:
    try:
        return mf.parse(storage.blob_read(digest, 64 << 20), media_type)
    except FileNotFoundError:
        raise GcError(f"{repo}: manifest {digest} has no content; refusing to collect") from None
    except (RegistryError, ValueError) as e:
        raise GcError(f"{repo}: manifest {digest} cannot be read ({e}); refusing to collect") from None


def _untagged(storage: Storage, repo: str, parsed: dict[str, mf.Manifest]) -> set[str]:
    """Revisions no tag reaches, directly, through an index, or as a referrer
    of something kept."""
    keep = set(storage.tagged(repo).values()) & set(parsed)
    changed = True
    while changed:
        changed = False
        for digest, m in parsed.items():
            if digest in keep:
                new = {c.digest for c in m.children if c.digest in parsed} - keep
            elif m.subject is not None and m.subject.digest in keep:
                new = {digest}
            else:
                continue
            if new:
                keep |= new
                changed = True
    return set(parsed) - keep


def collect(storage: Storage, dry_run: bool = False, delete_untagged: bool = False,
            min_age: float = 3600.0) -> GcReport:
    report = GcReport()
    plan: list[tuple[str, str, mf.Manifest | None]] = []
    for repo in storage.repositories():
        parsed = {d: _parse(storage, repo, d, t) for d, t in storage.manifests(repo)}
        doomed = _untagged(storage, repo, parsed) if delete_untagged else set()
        for digest, m in parsed.items():
            if digest in doomed:
                report.deleted_manifests.append((repo, digest))
                plan.append((repo, digest, m))
                continue
            report.marked.add(digest)
            report.marked.update(d.digest for d in m.blobs)
    now = time.time()
    for digest, mtime in list(storage.blobs()):
        if digest in report.marked:
            continue
        if now - mtime < min_age:
            report.spared_young += 1
            continue
        report.deleted_blobs.append((digest, storage.blob_size(digest) or 0))
    if dry_run:
        return report
    # A push may have landed a manifest since the mark: mark again just
    # before deleting, and spare whatever it uses (the window left is the
    # deletion itself; read-only mode closes it).
    doomed_manifests = {(repo, digest) for repo, digest, _ in plan}
    late: set[str] = set()
    for repo in storage.repositories():
        for digest, media_type in storage.manifests(repo):
            if digest in report.marked or (repo, digest) in doomed_manifests:
                continue
            m = _parse(storage, repo, digest, media_type)
            late.add(digest)
            late.update(d.digest for d in m.blobs)
    if late:
        report.marked |= late
        report.deleted_blobs = [(d, size) for d, size in report.deleted_blobs if d not in late]
    for repo, digest, m in plan:
        if m is not None and m.subject is not None:
            storage.remove_referrer(repo, m.subject.digest, digest)
        storage.delete_manifest(repo, digest)
    doomed_blobs = {d for d, _ in report.deleted_blobs}
    for repo in storage.repositories():
        for digest in storage.linked_blobs(repo):
            if digest in doomed_blobs:
                storage.unlink_blob(repo, digest)
    for digest in doomed_blobs:
        storage.blob_delete(digest)
    return report
