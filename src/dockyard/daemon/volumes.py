"""The volume service behind /volumes: the local driver plus what dockerd
adds on top (references from containers, anonymous volumes, filters, prune,
events, seeding a new volume from the image)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import stat
from typing import TYPE_CHECKING, Any

from .. import errdefs
from ..volume import LocalDriver, Volume

if TYPE_CHECKING:
    from .daemon import Daemon

ANON_LABEL = "com.docker.volume.anonymous"
VOLUME_FILTERS = {"dangling", "driver", "label", "name"}


class VolumeService:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon
        self.driver = LocalDriver(os.path.join(daemon.config.data_root, "volumes"))

    # -- references ------------------------------------------------------------
    def users(self, name: str) -> list[str]:
        """IDs of the containers whose mounts name this volume."""
        out = []
        for c in self.d.containers_store.all():
            if any(m.get("Type") == "volume" and m.get("Name") == name for m in c.mounts):
                out.append(c.id)
        return out

    # -- API ------------------------------------------------------------------------
    def create(self, name: str = "", driver: str = "", opts: dict[str, str] | None = None,
               labels: dict[str, str] | None = None) -> dict[str, Any]:
        v, _ = self.create_volume(name, driver, opts, labels)
        return self.view(v)

    def create_volume(self, name: str = "", driver: str = "", opts: dict[str, str] | None = None,
                      labels: dict[str, str] | None = None) -> tuple[Volume, bool]:
        if driver and driver != "local":
            # docker's volume store names the operation and the volume (OpErr)
            raise errdefs.NotFound(f"create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found")
        if labels is not None and not isinstance(labels, dict):
            raise errdefs.InvalidArgument("invalid labels: must be an object")
        if opts is not None and not isinstance(opts, dict):
            raise errdefs.InvalidArgument("invalid driver options: must be an object")
        if not name:
            name = secrets.token_hex(32)
            labels = dict(labels or {})
            labels.setdefault(ANON_LABEL, "")
        v, created = self.driver.create(name, opts, labels)
        if created:
            self.d.events.publish("volume", "create", v.name, {"driver": v.driver})
        return v, created

    def create_anonymous(self) -> Volume:
        v, _ = self.create_volume("", "", None, {ANON_LABEL: ""})
        return v

    def inspect(self, name: str) -> dict[str, Any]:
        return self.view(self.driver.get(name))

    def view(self, v: Volume, usage: bool = False) -> dict[str, Any]:
        out = self.driver.info(v)
        if usage:
            out["UsageData"] = {"Size": self.driver.size(v.name), "RefCount": len(self.users(v.name))}
        return out

    def list(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        filters = filters or {}
        for k in filters:
            if k not in VOLUME_FILTERS:
                raise errdefs.InvalidArgument(f"invalid filter '{k}'")
        return {"Volumes": [self.view(v) for v in self.driver.list() if self._matches(v, filters)],
                "Warnings": None}  # docker's nil slice: no warnings is null, not []

    def _matches(self, v: Volume, f: dict[str, list[str]]) -> bool:
        if "name" in f and not any(x in v.name for x in f["name"]):
            return False
        if "driver" in f and v.driver not in f["driver"]:
            return False
        if "label" in f and not _labels_match(v.labels, f["label"]):
            return False
        if "dangling" in f:
            vals = {x.lower() for x in f["dangling"]}
            bad = vals - {"true", "false", "1", "0"}
            if bad:
                raise errdefs.InvalidArgument(f"invalid filter 'dangling={sorted(bad)[0]}'")
            want = bool(vals & {"true", "1"})
            if want != (not self.users(v.name)):
                return False
        return True

    def remove(self, name: str, force: bool = False) -> None:
        try:
            v = self.driver.get(name)
        except errdefs.NotFound:
            if force:
                return
            raise
        users = self.users(v.name)
        if users:
            raise errdefs.Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.driver.remove(v.name)
        self.d.events.publish("volume", "destroy", v.name, {"driver": v.driver})

    def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        filters = dict(filters or {})
        all_ = False
        if "all" in filters:
            vals = {x.lower() for x in filters.pop("all")}
            all_ = bool(vals & {"true", "1"})
        for k in filters:
            if k not in ("label", "label!"):
                raise errdefs.InvalidArgument(f"invalid filter '{k}'")
        deleted, reclaimed = [], 0
        for v in self.driver.list():
            if not all_ and not v.anonymous:
                continue
            if "label" in filters and not _labels_match(v.labels, filters["label"]):
                continue
            if "label!" in filters and _labels_match_any(v.labels, filters["label!"]):
                continue
            if self.users(v.name):
                continue
            size = self.driver.size(v.name)
            try:
                self.remove(v.name)
            except errdefs.EngineError:
                continue
            deleted.append(v.name)
            reclaimed += max(size, 0)
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}  # docker: [] when none (make([]string, 0))

    # -- use by containers --------------------------------------------------------
    def mount(self, name: str, cid: str) -> str:
        path = self.driver.mount(name, cid)
        self.d.events.publish("volume", "mount", name, {"driver": "local", "container": cid})
        return path

    def unmount(self, name: str, cid: str) -> None:
        try:
            self.driver.unmount(name, cid)
        finally:
            self.d.events.publish("volume", "unmount", name, {"driver": "local", "container": cid})

    async def remove_anonymous(self, names: list[str]) -> None:
        """rm -v / --rm: drop the container's anonymous volumes that nothing else uses."""
        for n in names:
            try:
                v = self.driver.get(n)
            except errdefs.NotFound:
                continue
            if not v.anonymous or self.users(n):
                continue
            try:
                await asyncio.to_thread(self.remove, n)
            except errdefs.EngineError:
                pass


def _labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    for w in wanted:
        k, eq, val = w.partition("=")
        if k not in labels or (eq and labels[k] != val):
            return False
    return True


def _labels_match_any(labels: dict[str, str], wanted: list[str]) -> bool:
    for w in wanted:
        k, eq, val = w.partition("=")
        if k in labels and (not eq or labels[k] == val):
            return True
    return False


def copy_tree(src: str, dst: str) -> None:
    """Seed a new volume with what the image has at its mount point: modes,
    owners and times kept, symlinks copied as links (never followed)."""
    st = os.lstat(src)
    if not stat.S_ISDIR(st.st_mode):
        return
    for entry in os.scandir(src):
        s = entry.path
        t = os.path.join(dst, entry.name)
        est = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(est.st_mode):
            os.makedirs(t, exist_ok=True)
            copy_tree(s, t)
        elif stat.S_ISLNK(est.st_mode):
            os.symlink(os.readlink(s), t)
        elif stat.S_ISREG(est.st_mode):
            shutil.copyfile(s, t, follow_symlinks=False)
        elif stat.S_ISCHR(est.st_mode) or stat.S_ISBLK(est.st_mode) or stat.S_ISFIFO(est.st_mode):
            os.mknod(t, est.st_mode, est.st_rdev)
        else:
            continue
        _copy_meta(t, est)
    _copy_meta(dst, st)


def _copy_meta(path: str, st: os.stat_result) -> None:
    os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(path, stat.S_IMODE(st.st_mode))
    try:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    except OSError:
        pass
