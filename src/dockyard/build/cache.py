"""The build cache, kept on disk so it survives daemon restarts.

A record maps a step key (sha256 of the parent state's identity, the
instruction with its expanded arguments and, for COPY/ADD, the content
checksum of the files copied) to the state the step produced. One JSON
file per record under <data-root>/builder/cache/, written atomically; a
record that cannot be read is a miss. A hit is only used when every layer
it references is still in the content store; its snapshots are re-made
from the blobs when they went away.

The records are roots for garbage collection: `references()` lists the
layer blobs and snapshot chain IDs they keep alive.

RUN --mount=type=cache directories have records too (mount-<name>.json: the
mount's id and target, when it was made, last used and how often), for
`system df`; their content lives in builder/cache-mounts/<name>."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

from ..core.images import chain_ids, config_diff_ids
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
    uses: int = 1  # the step that made it, then every cache hit

    @property
    def size(self) -> int:
        return int((self.layer or {}).get("size", 0))

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "created": self.created, "description": self.description,
                "config": self.config, "layers": self.layers, "layer": self.layer, "uses": self.uses}


@dataclass
class MountRecord:
    name: str  # its directory under builder/cache-mounts
    id: str
    target: str
    created: float
    last_used: float
    uses: int


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
        """A record for a lookup that found it: one more use, used now."""
        rec = self.get_quiet(key)
        if rec is None:
            return None
        rec.last_used, rec.uses = time.time(), rec.uses + 1
        try:  # the file's time is the last use (prune's until filter)
            with self._lock:  # atomic_write's temporary name is per process, not per thread
                atomic_write(self._path(key), json.dumps(rec.to_json(), separators=(",", ":")).encode(),
                             mode=0o600, durable=False)
        except OSError:
            pass
        return rec

    def put(self, rec: Record) -> None:
        # Not fsynced: a record lost in a crash is only a cache miss.
        with self._lock:
            atomic_write(self._path(rec.key), json.dumps(rec.to_json(), separators=(",", ":")).encode(),
                         mode=0o600, durable=False)
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
            if name.endswith(".json") and not name.startswith((".", "mount-")):
                rec = self.get_quiet(name[:-5])
                if rec is not None:
                    yield rec

    def get_quiet(self, key: str) -> Record | None:
        """get() without counting a use (`system df`, prune)."""
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                d = json.loads(f.read())
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        if not isinstance(d, dict) or d.get("key") != key or "config" not in d:
            return None
        return Record(key, float(d.get("created", st.st_mtime)), st.st_mtime, d.get("description", ""),
                      d["config"], d.get("layers") or [], d.get("layer"), int(d.get("uses") or 1))

    # -- RUN --mount=type=cache directories ---------------------------------------------
    def _mount_path(self, name: str) -> str:
        return os.path.join(self.dir, f"mount-{name}.json")

    def mount_used(self, name: str, mount_id: str, target: str) -> None:
        """A cache mount was mounted for a RUN step."""
        now = time.time()
        with self._lock:
            rec = self._mount_record(name) or MountRecord(name, mount_id, target, now, now, 0)
            rec.last_used, rec.uses = now, rec.uses + 1
            atomic_write(self._mount_path(name), json.dumps(rec.__dict__, separators=(",", ":")).encode(),
                         mode=0o600, durable=False)

    def _mount_record(self, name: str) -> MountRecord | None:
        try:
            with open(self._mount_path(name), "rb") as f:
                d = json.loads(f.read())
            return MountRecord(name, str(d["id"]), str(d["target"]), float(d["created"]), float(d["last_used"]),
                               int(d["uses"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def mount_records(self, names: list[str]) -> dict[str, MountRecord | None]:
        return {n: self._mount_record(n) for n in names}

    def drop_mount(self, name: str) -> None:
        try:
            os.unlink(self._mount_path(name))
        except FileNotFoundError:
            pass

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
            chain_ids(config_diff_ids(rec.config)))


def now() -> float:
    return time.time()
