"""POST /commit: a container's changes become a new image. The overlay
upper directory is written as a layer (core.diff), stored in the content
store, and ImageService.create_image makes the image above the container's:
its config is the request's, with --change instructions applied, then
filled from the container's (moby daemon/commit.go merge)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import TYPE_CHECKING, Any

from .. import errdefs
from ..oci import mediatypes as mt
from ..oci import reference
from .container import Status
from .timeutil import now_rfc3339

if TYPE_CHECKING:
    from .daemon import Daemon

_DROP = ("Hostname", "Domainname", "Image", "AttachStdin", "AttachStdout", "AttachStderr")


def merge_config(user: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """Fill the commit's config from the container's where it says nothing."""
    out = dict(user)
    for k in ("User", "WorkingDir", "StopSignal", "Healthcheck", "Shell", "Tty", "OpenStdin", "StdinOnce",
              "StopTimeout", "OnBuild"):
        if not out.get(k) and container.get(k) is not None:
            out[k] = container[k]
    if not out.get("Env"):
        out["Env"] = list(container.get("Env") or [])
    else:
        keys = {e.partition("=")[0] for e in out["Env"]}
        out["Env"] = list(out["Env"]) + [e for e in container.get("Env") or [] if e.partition("=")[0] not in keys]
    for k in ("ExposedPorts", "Volumes", "Labels"):
        merged = dict(container.get(k) or {})
        merged.update(out.get(k) or {})
        if merged:
            out[k] = merged
    if not out.get("Entrypoint") and not out.get("Cmd"):
        out["Entrypoint"] = container.get("Entrypoint")
        out["Cmd"] = container.get("Cmd")
    elif not out.get("Cmd") and out.get("Entrypoint") is None:
        out["Cmd"] = container.get("Cmd")
    for k in _DROP:
        out.pop(k, None)
    return out


class CommitService:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon

    async def commit(self, ref: str, repo: str = "", tag: str = "", comment: str = "", author: str = "",
                     pause: bool = True, changes: list[str] | None = None,
                     config: dict[str, Any] | None = None) -> dict[str, str]:
        c = self.d.containers_store.get(ref)
        if c.status in (Status.REMOVING, Status.DEAD):
            raise errdefs.Conflict(f"You cannot commit container {c.id} which is being removed")
        refs: list[str] = []
        if repo:
            r = reference.parse(repo, default_tag=False)
            if r.digest:
                raise errdefs.InvalidArgument("cannot commit to digest reference")
            refs.append(str(r.with_tag(tag or r.tag or "latest")))
        elif tag:
            raise errdefs.InvalidArgument("tag without a repository")
        if config is not None and not isinstance(config, dict):
            raise errdefs.InvalidArgument("invalid commit config: must be an object")
        from .dockerfile_changes import apply_changes
        user_cfg = apply_changes(dict(config or {}), changes or [])
        new_cfg = merge_config(user_cfg, c.config)
        base = await asyncio.to_thread(self.d.images.service.resolve, c.image)
        paused_here = False
        if pause and c.status is Status.RUNNING and c.task is not None:
            await c.task.pause()
            paused_here = True
        svc = self.d.images.service
        lease_cm = svc.lease()
        lease = lease_cm.__enter__()  # keeps the new layer blob from GC until the image holds it
        try:
            try:
                layer = await asyncio.to_thread(self._write_layer, c)
                lease.add(layer["digest"])
            finally:
                if paused_here and c.task is not None:
                    try:
                        await c.task.resume()
                    except errdefs.EngineError:
                        pass
            img = await self._create(c, base, layer, new_cfg, refs, author, comment, lease)
        except BaseException:
            await asyncio.to_thread(svc.drop_new, lease)
            raise
        finally:
            lease_cm.__exit__(None, None, None)
        attrs = self.d.containers._attrs(c, comment=comment, imageID=img.id,
                                         imageRef=reference.familiar(refs[0]) if refs else "")
        self.d.events.publish("container", "commit", c.id, attrs)
        return {"Id": img.id}

    async def _create(self, c: Any, base: Any, layer: dict[str, Any], new_cfg: dict[str, Any], refs: list[str],
                      author: str, comment: str, lease: Any) -> Any:
        image_config = copy.deepcopy(base.config)
        created = now_rfc3339()
        image_config["created"] = created
        image_config["config"] = new_cfg
        if author:
            image_config["author"] = author
        image_config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        image_config["rootfs"]["diff_ids"] = list(base.diff_ids) + [layer["digest"]]
        hist: dict[str, Any] = {"created": created, "created_by": " ".join([c.path] + list(c.args))}
        if author:
            hist["author"] = author
        if comment:
            hist["comment"] = comment
        image_config["history"] = list(image_config.get("history") or []) + [hist]
        layers = list(base.manifest.get("layers") or []) + [layer]
        return await asyncio.to_thread(self.d.images.service.create_image, image_config, layers, refs, base.id,
                                       lease)

    def _write_layer(self, c: Any) -> dict[str, Any]:
        from ..core.diff import write_diff
        content = self.d.content
        w = content.writer(f"commit-{c.id[:12]}-{uuid.uuid4().hex}")
        try:
            write_diff(self.d.snapshotter.mounts(c.snapshot_key), w)
            info = w.commit()
        except BaseException:
            w.abort()
            raise
        return {"mediaType": mt.OCI_LAYER, "digest": info.digest, "size": info.size}
