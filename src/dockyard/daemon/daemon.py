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
from .archive import ArchiveService
from .commit import CommitService
from .container import ContainerStore
from .containers import ContainerService
from .events import Events
from .exec import ExecService
from .health import HealthMonitor
from .images import ImageBackend
from .networks import NetworkService
from .stats import StatsService
from .volumes import VolumeService

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
        self.shutting_down = False
        self.volumes = VolumeService(self)
        self.execs = ExecService(self)
        self.health = HealthMonitor(self)
        self.stats = StatsService(self)
        self.archive = ArchiveService(self)
        self.commits = CommitService(self)
        self.containers = ContainerService(self)
        self.networks = NetworkService(self)
        from ..build.builder import Builder
        from .builds import BuildBackend
        self.builder = Builder(os.path.join(root, "builder"), config.exec_root, self.content, self.snapshotter,
                               self.images.service, self.tasks, BuildBackend(self))
        self.images.service.extra_refs = self.builder.cache.references

    def init_path(self) -> str:
        """The docker-init binary bound at /sbin/docker-init for --init."""
        if self.config.init_path:
            return self.config.init_path if os.path.exists(self.config.init_path) else ""
        from ..core.tasks import sibling_binary
        path = sibling_binary("dockyard-init")
        return path if os.path.isabs(path) and os.path.exists(path) else ""

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
        self.tasks.refill_standby()  # the first `run` finds a shim ready

    async def shutdown(self) -> None:
        """Leave containers running (live restore): just stop watching them."""
        self.shutting_down = True
        import asyncio
        for c in self.containers_store.all():
            if c.restart_task is not None and c.restart_started:
                # A restart already creating the task: let it finish (live restore keeps it).
                try:
                    await asyncio.wait_for(asyncio.shield(c.restart_task), 30)
                except (asyncio.TimeoutError, Exception):
                    pass
            for t in (c.monitor, c.health_task, c.restart_task):
                if t is not None:
                    t.cancel()
        await self.networks.shutdown()
        await self.tasks.close()
        # As the network goes with a clean stop, so does the cgroup parent,
        # unless containers still run in it (live restore).
        from ..cgroups.common import remove_if_empty
        remove_if_empty(self.config.cgroup_parent)
