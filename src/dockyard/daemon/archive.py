"""docker cp and export: GET/HEAD/PUT /containers/{id}/archive and GET
/containers/{id}/export, through the core's jailed helper (core/fsjail.py)
so hostile archives and symlinks in the container stay inside it."""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING, Any, AsyncIterator

from .. import errdefs
from ..core import fsjail
from ..core.mount import Mount
from .container import Container, Status

if TYPE_CHECKING:
    from .daemon import Daemon


class ArchiveService:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon

    def _jail(self, c: Container, with_mounts: bool = True) -> fsjail.JailSpec:
        if c.status is Status.REMOVING or c.status is Status.DEAD:
            raise errdefs.Conflict(f"container {c.id} is marked for removal")
        rootfs_dir = self.d.tasks.rootfs_dir(c.id)
        from ..core.mount import is_mounted
        if c.task is not None and is_mounted(rootfs_dir):
            rootfs = [Mount("bind", rootfs_dir, ("rbind",))]
        else:
            rootfs = self.d.snapshotter.mounts(c.snapshot_key)
        binds: list[tuple[str, str, bool]] = []
        if with_mounts:
            # The files the daemon manages for the container, as it sees them.
            user_dests = {mp["Destination"] for mp in c.mounts}
            for name in ("hostname", "hosts", "resolv.conf"):
                src = os.path.join(self.d.containers_store.dir(c.id), name)
                if f"/etc/{name}" not in user_dests and os.path.exists(src):
                    binds.append((src, f"/etc/{name}", False))
            for mp in c.mounts:
                if mp["Type"] == "bind":
                    src = mp.get("Source") or ""
                elif mp["Type"] == "volume":
                    try:
                        src = self.d.volumes.driver.get(mp["Name"]).mountpoint
                    except errdefs.NotFound:
                        continue
                    if mp.get("_subpath"):
                        src = os.path.join(src, mp["_subpath"])
                else:
                    continue
                if src and os.path.exists(src):
                    binds.append((src, mp["Destination"], not mp.get("RW", True)))
        scratch = os.path.join(self.d.config.exec_root, "fsjail")
        os.makedirs(scratch, 0o700, exist_ok=True)
        return fsjail.JailSpec(rootfs=rootfs, scratch=scratch, binds=binds,
                               readonly_rootfs=bool(c.host_config.get("ReadonlyRootfs")))

    @staticmethod
    def _not_found(ref: str, e: errdefs.EngineError) -> errdefs.EngineError:
        if isinstance(e, errdefs.NotFound):  # docker names the container as the client did
            return errdefs.NotFound(f"{e.message} in container {ref}")
        return e

    async def stat(self, ref: str, path: str) -> dict[str, Any]:
        c = self.d.containers_store.get(ref)
        try:
            return await fsjail.stat_path(self._jail(c), path)
        except errdefs.EngineError as e:
            raise self._not_found(ref, e) from None

    async def get(self, ref: str, path: str) -> tuple[dict[str, Any], fsjail.TarStream]:
        c = self.d.containers_store.get(ref)
        try:
            return await fsjail.get_archive(self._jail(c), path)
        except errdefs.EngineError as e:
            raise self._not_found(ref, e) from None

    async def put(self, ref: str, path: str, body: AsyncIterator[bytes], no_overwrite_dir_non_dir: bool,
                  copy_uid_gid: bool) -> None:
        c = self.d.containers_store.get(ref)
        try:
            await fsjail.put_archive(self._jail(c), path, body, no_overwrite_dir_non_dir, copy_uid_gid)
        except errdefs.EngineError as e:
            raise self._not_found(ref, e) from None
        self.d.events.publish("container", "extract-to-dir", c.id, self.d.containers._attrs(c))

    async def export(self, ref: str) -> fsjail.TarStream:
        c = self.d.containers_store.get(ref)
        stream = await fsjail.export(self._jail(c, with_mounts=False))
        self.d.events.publish("container", "export", c.id, self.d.containers._attrs(c))
        return stream


def stat_header(info: dict[str, Any]) -> str:
    """X-Docker-Container-Path-Stat: base64 of the path's stat JSON."""
    return base64.b64encode(json.dumps(info, separators=(",", ":")).encode()).decode()
