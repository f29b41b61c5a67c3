"""Wiring: the daemon's services over the core, built from the config."""

from __future__ import annotations

import logging
import os
import secrets

from ..core.content import ContentStore
from ..core.images import ImageService, ImageStore
from ..core.snapshots import OverlaySnapshotter
from ..core.tasks import TaskService
from ..fsutil import atomic_write
from .config import DaemonConfig
from .container import ContainerStore
from .containers import ContainerService
from .events import Events
from .images import ImageBackend
from .networks import NetworkService

log = logging.getLogger("dockyard.daemon")


class Daemon:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        root = config.data_root
        os.makedirs(root, mode=0o711, exist_ok=True)
        os.makedirs(config.exec_root, mode=0o711, exist_ok=True)
        self.engine_id = self._engine_id()
        self.events = Events()
        self.content = ContentStore(os.path.join(root, "content"))
        self.snapshotter = OverlaySnapshotter(os.path.join(root, "overlay"))
        self.image_store = ImageStore(os.path.join(root, "image"))
        self.images = ImageBackend(self, ImageService(self.content, self.snapshotter, self.image_store))
        self.tasks = TaskService(config.exec_root, runtime=config.runtime or None,
                                 shim=config.shim or None,
                                 debug_log=os.path.join(config.exec_root, "shim-debug.log") if config.debug else None)
        self.containers_store = ContainerStore(root)
        self.containers = ContainerService(self)
        self.networks = NetworkService(self)
        from ..build.builder import Builder
        from .builds import BuildBackend
        self.builder = Builder(os.path.join(root, "builder"), config.exec_root, self.content, self.snapshotter,
                               self.images.service, self.tasks, BuildBackend(self))
        self.images.service.extra_refs = self.builder.cache.references

    def _engine_id(self) -> str:
        path = os.path.join(self.config.data_root, "engine-id")
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            eid = secrets.token_hex(16)
            atomic_write(path, eid.encode())
            return eid

    async def start(self) -> None:
        await self.networks.start()
        await self.containers.restore()
        await self.networks.restored()
        await self.builder.recover()

    async def shutdown(self) -> None:
        """Leave containers running (live restore): just stop watching them."""
        for c in self.containers_store.all():
            if c.monitor is not None:
                c.monitor.cancel()
        await self.networks.shutdown()
