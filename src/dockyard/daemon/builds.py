"""The daemon's side of builds (moby's builder Backend): the OCI spec of a
RUN step's container, made by the same code as `docker run`'s, and image
pulls for FROM and --pull."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from .. import errdefs
from ..build.run import Progress, RunRequest
from ..core.images import Image
from ..fsutil import atomic_write
from ..oci import reference
from ..registry.client import AuthConfig
from . import hostconfig, specgen
from .container import Container
from .timeutil import now_rfc3339

if TYPE_CHECKING:
    from .daemon import Daemon


class BuildBackend:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon
        self._live: dict[str, Container] = {}  # RUN steps with a network sandbox

    async def run_spec(self, req: RunRequest) -> dict[str, Any]:
        """The spec of a RUN step: its network set up as a container's is
        (the default bridge unless --network none or host), the /etc files
        written to req.files_dir. release() undoes what this set up."""
        mode = {"default": "default", "bridge": "default", "none": "none", "host": "host"}.get(req.network)
        if mode is None:
            raise errdefs.InvalidArgument(f"network mode {req.network!r} is not supported for builds")
        hostname = req.hostname or req.id[:12]
        config = {"Env": list(req.env), "User": req.user, "WorkingDir": req.workdir, "Hostname": hostname,
                  "Tty": False}
        # moby's hostConfigFromOptions, checked and completed as a container's HostConfig is
        # (the step fails with dockerd's message, e.g. "Minimum memory limit allowed is 6MB").
        hc = {**req.resources, "NetworkMode": mode, "ExtraHosts": list(req.extra_hosts), "ShmSize": req.shm_size}
        await asyncio.to_thread(hostconfig.validate, config, hc)
        c = Container(id=req.id, name="/" + req.id, created=now_rfc3339(), image="", image_name="",
                      path=req.args[0], args=list(req.args[1:]), config=config, host_config=hc)
        networks = self.d.networks
        c.network_settings = networks.settings_for_create(c.config, c.host_config, None)
        self._live[req.id] = c
        await networks.setup(c)
        files = []
        for name, text in networks.etc_files(c).items():
            path = os.path.join(req.files_dir, name)
            atomic_write(path, text.encode(), durable=False)
            files.append({"destination": f"/etc/{name}", "type": "bind", "source": path,
                          "options": ["rbind", "rprivate"]})
        ctx = specgen.SpecContext(rootfs=req.rootfs, cgroup_parent=self.d.config.cgroup_parent,
                                  files=files + list(req.mounts),
                                  namespaces={"network": "host" if mode == "host" else ""})
        spec = await asyncio.to_thread(specgen.build_spec, c, {}, ctx)
        networks.apply_spec(c, spec)
        return spec

    async def release(self, req: RunRequest) -> None:
        c = self._live.pop(req.id, None)
        if c is not None:
            await self.d.networks.teardown(c)

    async def pull(self, ref: str, platform: str, auth: dict[str, Any] | None, progress: Progress) -> Image:
        """The images backend's pull (a blocking call in a thread), its
        progress messages relayed into the build's stream."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def emit(msg: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, msg)

        async def relay() -> None:
            while (msg := await queue.get()) is not None:
                await progress(msg)
        relaying = asyncio.ensure_future(relay())
        from ..core.distribution import Cancel
        cancel = Cancel()
        try:
            img = await asyncio.to_thread(self.d.images.pull, ref, "", platform, _auth_for(ref, auth), emit,
                                          cancel=cancel)
        except asyncio.CancelledError:
            cancel.set()  # the build was cancelled: so is its pull (the thread cleans up on its own)
            raise
        finally:
            queue.put_nowait(None)
            await relaying
        if img is None:
            raise errdefs.NotFound(f"pull access denied for {reference.familiar(ref)}")
        return img


def _auth_for(ref: str, configs: dict[str, Any] | None) -> AuthConfig | None:
    """X-Registry-Config holds credentials per registry: pick the ref's."""
    if not configs:
        return None
    domain = reference.split_domain(ref.split("@", 1)[0])[0]
    keys = [domain, "https://" + domain, "http://" + domain]
    if domain == reference.DEFAULT_DOMAIN:
        keys += ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"]
    for k in keys:
        c = configs.get(k)
        if isinstance(c, dict):
            cfg = AuthConfig.from_api(c, domain)
            return None if cfg.empty else cfg
    return None
