"""The overlayfs snapshotter (containerd's Snapshotter interface).

Vocabulary, as containerd defines it:
- an *active* snapshot (created by ``prepare`` under a ``key``) is writable;
- ``commit(name, key)`` turns the active snapshot ``key`` into the
  *committed* snapshot ``name``, which is read-only and may be a ``parent``;
- a *view* is a read-only active snapshot of a parent.

Importing a layer: ``prepare("extract-x", parent=<chain id of the layers
below>)``, apply the layer into the active snapshot's directory, then
``commit(<chain id>, "extract-x")``. Running a container: ``prepare(<container
id>, parent=<top chain id>)`` and mount what it returns.

Each snapshot is a directory <root>/snapshots/<n>/{fs,work}; the metadata is
one JSON document written atomically. The snapshotter never mounts: it returns
Mount lists."""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..errdefs import AlreadyExists, Conflict, InvalidArgument, NotFound
from ..fsutil import atomic_write_json, read_json
from .mount import Mount

ACTIVE, VIEW, COMMITTED = "active", "view", "committed"


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    key: str
    kind: str
    parent: str
    id: int
    created: float
    labels: dict[str, str]


class OverlaySnapshotter:
    def __init__(self, root: str) -> None:
        self.root = root
        self.snapshots_dir = os.path.join(root, "snapshots")
        os.makedirs(self.snapshots_dir, exist_ok=True)
        self._meta_path = os.path.join(root, "metadata.json")
        self._lock = threading.RLock()
        try:
            self._meta: dict[str, Any] = read_json(self._meta_path)
        except FileNotFoundError:
            self._meta = {"next_id": 1, "snapshots": {}}
        self._cleanup_orphans()

    # -- metadata -------------------------------------------------------
    def _save(self) -> None:
        atomic_write_json(self._meta_path, self._meta)

    def _cleanup_orphans(self) -> None:
        """Directories without a record come from a crash mid-prepare."""
        known = {str(s["id"]) for s in self._meta["snapshots"].values()}
        for name in os.listdir(self.snapshots_dir):
            if name not in known:
                shutil.rmtree(os.path.join(self.snapshots_dir, name), ignore_errors=True)

    def _rec(self, key: str) -> dict[str, Any]:
        try:
            return self._meta["snapshots"][key]
        except KeyError:
            raise NotFound(f"snapshot {key}: not found") from None

    def stat(self, key: str) -> SnapshotInfo:
        with self._lock:
            r = self._rec(key)
            return SnapshotInfo(key, r["kind"], r.get("parent", ""), r["id"], r["created"], r.get("labels", {}))

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self._meta["snapshots"]

    def walk(self) -> list[SnapshotInfo]:
        with self._lock:
            return [self.stat(k) for k in list(self._meta["snapshots"])]

    def dir(self, key: str) -> str:
        """The snapshot's own upper directory (what a layer applies into)."""
        with self._lock:
            return os.path.join(self.snapshots_dir, str(self._rec(key)["id"]), "fs")

    # -- operations -----------------------------------------------------
    def _new(self, key: str, parent: str, kind: str, labels: dict[str, str] | None) -> dict[str, Any]:
        if not key:
            raise InvalidArgument("snapshot key must not be empty")
        if key in self._meta["snapshots"]:
            raise AlreadyExists(f"snapshot {key}: already exists")
        if parent:
            p = self._rec(parent)
            if p["kind"] != COMMITTED:
                raise InvalidArgument(f"snapshot {parent}: parent is not committed")
        sid = self._meta["next_id"]
        self._meta["next_id"] = sid + 1
        d = os.path.join(self.snapshots_dir, str(sid))
        os.makedirs(os.path.join(d, "fs"), mode=0o755)
        if kind == ACTIVE:
            os.makedirs(os.path.join(d, "work"), mode=0o700)
        rec = {"id": sid, "kind": kind, "parent": parent, "created": time.time(), "labels": dict(labels or {})}
        self._meta["snapshots"][key] = rec
        self._save()
        return rec

    def prepare(self, key: str, parent: str = "", labels: dict[str, str] | None = None) -> list[Mount]:
        with self._lock:
            self._new(key, parent, ACTIVE, labels)
            return self.mounts(key)

    def view(self, key: str, parent: str = "", labels: dict[str, str] | None = None) -> list[Mount]:
        with self._lock:
            self._new(key, parent, VIEW, labels)
            return self.mounts(key)

    def _lower_dirs(self, parent: str) -> list[str]:
        dirs = []
        while parent:
            r = self._rec(parent)
            dirs.append(os.path.join(self.snapshots_dir, str(r["id"]), "fs"))
            parent = r.get("parent", "")
        return dirs

    def mounts(self, key: str) -> list[Mount]:
        with self._lock:
            r = self._rec(key)
            d = os.path.join(self.snapshots_dir, str(r["id"]))
            lowers = self._lower_dirs(r.get("parent", ""))
            if r["kind"] == ACTIVE:
                if not lowers:
                    return [Mount("bind", os.path.join(d, "fs"), ("rbind", "rw"))]
                return [Mount("overlay", "overlay", (
                    "index=off", "lowerdir=" + ":".join(lowers),
                    "upperdir=" + os.path.join(d, "fs"), "workdir=" + os.path.join(d, "work")))]
            if r["kind"] == VIEW:
                if not lowers:
                    return [Mount("bind", os.path.join(d, "fs"), ("rbind", "ro"))]
                if len(lowers) == 1:
                    return [Mount("bind", lowers[0], ("rbind", "ro"))]
                return [Mount("overlay", "overlay", ("index=off", "lowerdir=" + ":".join(lowers)))]
            raise InvalidArgument(f"snapshot {key}: committed snapshots cannot be mounted; prepare a view")

    def commit(self, name: str, key: str, labels: dict[str, str] | None = None, parent: str | None = None) -> None:
        """Commit the active snapshot key as name. ``parent`` re-parents it:
        layers are extracted into their own directory without looking at the
        layers below, so a pull can extract them in parallel and chain them
        at commit time."""
        with self._lock:
            r = self._rec(key)
            if r["kind"] != ACTIVE:
                raise InvalidArgument(f"snapshot {key}: only an active snapshot can be committed")
            if name in self._meta["snapshots"]:
                raise AlreadyExists(f"snapshot {name}: already exists")
            if parent is not None:
                if parent and self._rec(parent)["kind"] != COMMITTED:
                    raise InvalidArgument(f"snapshot {parent}: parent is not committed")
                r["parent"] = parent
            shutil.rmtree(os.path.join(self.snapshots_dir, str(r["id"]), "work"), ignore_errors=True)
            r["kind"] = COMMITTED
            if labels:
                r.setdefault("labels", {}).update(labels)
            del self._meta["snapshots"][key]
            self._meta["snapshots"][name] = r
            self._save()

    def children(self, key: str) -> list[str]:
        with self._lock:
            return [k for k, r in self._meta["snapshots"].items() if r.get("parent") == key]

    def remove(self, key: str) -> None:
        with self._lock:
            r = self._rec(key)
            kids = self.children(key)
            if kids:
                raise Conflict(f"snapshot {key}: cannot remove, it has {len(kids)} children")
            del self._meta["snapshots"][key]
            self._save()
            # Rename first so a crash leaves an orphan directory, never a record without a directory.
            d = os.path.join(self.snapshots_dir, str(r["id"]))
            trash = os.path.join(self.snapshots_dir, f"rm-{r['id']}")
            try:
                os.rename(d, trash)
            except FileNotFoundError:
                return
            shutil.rmtree(trash, ignore_errors=True)

    def usage(self, key: str) -> tuple[int, int]:
        """(bytes, inodes) of the snapshot's own directory."""
        total = inodes = 0
        for dirpath, dirnames, filenames in os.walk(self.dir(key)):
            for n in dirnames + filenames:
                try:
                    st = os.lstat(os.path.join(dirpath, n))
                except OSError:
                    continue
                inodes += 1
                total += st.st_blocks * 512 if n in filenames else 0
        return total, inodes
