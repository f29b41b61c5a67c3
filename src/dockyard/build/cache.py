"""The build cache, kept on disk so it survives daemon restarts.

A record maps a step key (sha256 of the parent state's identity, the
instruction with its expanded arguments and, for COPY/ADD, the content
checksum of the files copied) to the state the step produced. One JSON
file per record under <data-root>/builder/cache/, written atomically; a
record that cannot be read is a miss. A hit is only used when every layer
it references is still in the content store; its snapshots are re-made
from the blobs when they went away.

The records are roots for garbage collection: `references()` lists the
layer blobs and snapshot chain IDs they keep alive."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

from ..core.images import chain_ids
from ..fsutil import atomic_write


@dataclass
class Record:
    key: str
    created: float
    last_used: float
    description: str
    config: dict[str, Any]
    layers: list[dict[str, Any]]
    layer: dict[str, Any] | None  # the layer this step added, if any
    shared: bool = False  # computed: is the step's layer also in an image

    @property
    def size(self) -> int:
        return int((self.layer or {}).get("size", 0))

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "created": self.created, "description": self.description,
                "config": self.config, "layers": self.layers, "layer": self.layer}


class BuildCache:
    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "cache")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self._lock = threading.Lock()
        self._refs: dict[str, tuple[list[str], list[str]]] | None = None  # key -> (blobs, chains)
        for name in os.listdir(self.dir):
            if name.startswith("."):  # an interrupted atomic write
                try:
                    os.unlink(os.path.join(self.dir, name))
                except OSError:
                    pass

    def _path(self, key: str) -> str:
        return os.path.join(self.dir, key + ".json")

    def get(self, key: str) -> Record | None:
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                d = json.loads(f.read())
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        if not isinstance(d, dict) or d.get("key") != key:
            return None
        try:
            os.utime(path)  # last use, for prune filters
        except OSError:
            pass
        return Record(key, float(d.get("created", st.st_mtime)), st.st_mtime, d.get("description", ""),
                      d["config"], d.get("layers") or [], d.get("layer"))

    def put(self, rec: Record) -> None:
        # Not fsynced: a record lost in a crash is only a cache miss.
        atomic_write(self._path(rec.key), json.dumps(rec.to_json(), separators=(",", ":")).encode(),
                     mode=0o600, durable=False)
        with self._lock:
            if self._refs is not None:
                self._refs[rec.key] = _refs_of(rec)

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass
        with self._lock:
            if self._refs is not None:
                self._refs.pop(key, None)

    def records(self) -> Iterator[Record]:
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".json") and not name.startswith("."):
                rec = self.get_quiet(name[:-5])
                if rec is not None:
                    yield rec

    def get_quiet(self, key: str) -> Record | None:
        """get() without touching the last-use time."""
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                d = json.loads(f.read())
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        if not isinstance(d, dict) or "config" not in d:
            return None
        return Record(key, float(d.get("created", st.st_mtime)), st.st_mtime, d.get("description", ""),
                      d["config"], d.get("layers") or [], d.get("layer"))

    def references(self) -> tuple[set[str], set[str]]:
        """(layer blob digests, snapshot chain IDs) the records keep alive:
        roots for the image store's garbage collection."""
        with self._lock:
            if self._refs is None:
                self._refs = {rec.key: _refs_of(rec) for rec in self.records()}
            blobs: set[str] = set()
            chains: set[str] = set()
            for b, c in self._refs.values():
                blobs.update(b)
                chains.update(c)
            return blobs, chains


def _refs_of(rec: Record) -> tuple[list[str], list[str]]:
    return ([l["digest"] for l in rec.layers],
            chain_ids(list((rec.config.get("rootfs") or {}).get("diff_ids") or [])))


def now() -> float:
    return time.time()
