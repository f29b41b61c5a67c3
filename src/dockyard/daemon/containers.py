"""Container operations: create, start, stop, restart, kill, pause, wait,
remove, rename, update, prune, list, inspect, top, resize, and the restore
after a daemon restart. Public methods resolve the name and take the
container's lock, then call the private ones (moby's ContainerStart ->
containerStart).

The start path has one place for each resource it takes (rootfs, volumes,
shared memory, the network sandbox, the task) and undoes them in reverse
order when a later step fails; _release undoes them after the task is gone."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .. import errdefs
from ..core.mount import Mount
from . import hostconfig, mounts as mountsmod, specgen, views
from .container import Container, State, Status, new_id
from .restart import RestartManager
from .timeutil import now_rfc3339, parse_rfc3339

if TYPE_CHECKING:
    from .daemon import Daemon

log = logging.getLogger("dockyard.daemon")

# asyncio keeps only weak references to tasks: fire-and-forget ones live here until done.
_background: set[asyncio.Task] = set()


def background(coro: Any) -> asyncio.Task:
    t = asyncio.ensure_future(coro)
    _background.add(t)
    t.add_done_callback(_background.discard)
    return t

_STRSLICE = ("Cmd", "Entrypoint")


class _Undo:
    """Rollback steps for a multi-step operation, run newest first."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], Awaitable[None] | None]] = []

    def push(self, fn: Callable[[], Awaitable[None] | None]) -> None:
        self.steps.append(fn)

    async def run(self) -> None:
        for fn in reversed(self.steps):
            try:
                r = fn()
                if asyncio.iscoroutine(r):
                    await r
            except Exception as e:  # keep undoing the rest
                log.warning("rollback step failed: %s", e)
        self.steps.clear()


def _normalize_config(config: dict[str, Any]) -> dict[str, Any]:
    """docker's strslice (a string is a one-element list) and type checks."""
    out = dict(config)
    for k in _STRSLICE:
        v = out.get(k)
        if isinstance(v, str):
            out[k] = [v]
        elif v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise errdefs.InvalidArgument(f"invalid {k}: must be a string or a list of strings")
    env = out.get("Env")
    if env is not None:
        if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
            raise errdefs.InvalidArgument("invalid Env: must be a list of strings")
        for e in env:
            if e.startswith("="):
                raise errdefs.InvalidArgument(f"invalid environment variable: {e}")
    labels = out.get("Labels")
    if labels is not None and not isinstance(labels, dict):
        raise errdefs.InvalidArgument("invalid Labels: must be an object")
    for k in ("Hostname", "Domainname", "User", "WorkingDir", "StopSignal"):
        if out.get(k) is not None and not isinstance(out[k], str):
            raise errdefs.InvalidArgument(f"invalid {k}: must be a string")
    wd = out.get("WorkingDir") or ""
    if wd and not wd.startswith("/"):
        raise errdefs.InvalidArgument(f"the working directory '{wd}' is invalid, it needs to be an absolute path")
    return out


class ContainerService:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon
        self.store = daemon.containers_store
        self._exit_seq: dict[str, int] = {}
        self._removed: dict[str, asyncio.Future] = {}

    # -- create -----------------------------------------------------------
    async def create(self, name: str | None, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("config cannot be empty in order to create a container")
        config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        host_config = body.get("HostConfig") or {}
        if not isinstance(host_config, dict):
            raise errdefs.InvalidArgument("invalid HostConfig: must be an object")
        host_config = dict(host_config)
        image_ref = config.get("Image") or ""
        if not image_ref:
            raise errdefs.InvalidArgument("no image specified" if "Image" in config
                                          else "config cannot be empty in order to create a container")
        config = _normalize_config(config)
        image = await asyncio.to_thread(self.d.images.resolve_for_run, image_ref)
        img_cfg = image.config.get("config") or {}
        config = merge_image_config(config, img_cfg)
        entrypoint = list(config.get("Entrypoint") or [])
        cmd = list(config.get("Cmd") or [])
        argv = entrypoint + cmd
        if not argv:
            raise errdefs.InvalidArgument("No command specified")
        warnings = hostconfig.validate(config, host_config)
        # Mount points are checked before anything exists (VolumesFrom needs the store).
        points = mountsmod.collect(host_config, config, self.store.get)
        network_settings = self.d.networks.settings_for_create(config, host_config, body.get("NetworkingConfig"))
        cid = new_id()
        full_name = self.store.reserve_name(name or "", cid)
        if not config.get("Hostname"):
            config["Hostname"] = cid[:12]
        config.setdefault("Domainname", "")
        for k, v in (("AttachStdin", False), ("AttachStdout", False), ("AttachStderr", False),
                     ("Tty", False), ("OpenStdin", False), ("StdinOnce", False), ("User", ""),
                     ("WorkingDir", ""), ("Labels", {})):
            if config.get(k) is None:
                config[k] = v
        host_config.setdefault("NetworkMode", "default")
        if not host_config.get("Privileged"):
            # As docker's adaptContainerSettings: the defaults become the container's own.
            for key, default in (("MaskedPaths", specgen.rs.MASKED_PATHS), ("ReadonlyPaths", specgen.rs.READONLY_PATHS)):
                if host_config.get(key) is None:
                    host_config[key] = list(default)
        c = Container(
            id=cid, name=full_name, created=now_rfc3339(), image=image.id, image_name=image_ref,
            path=argv[0], args=argv[1:], config=config, host_config=host_config,
            network_settings=network_settings,
        )
        lc = host_config["LogConfig"]
        from ..shimapi.logsize import log_path
        c.log_path = log_path(self.store.dir(cid), cid, lc["Type"])
        undo = _Undo()
        undo.push(lambda: self.store.release_name(full_name))
        try:
            created = await asyncio.to_thread(mountsmod.materialize, points, self.d.volumes, cid)
            for n in created:
                undo.push(lambda n=n: self.d.volumes.driver.remove(n))
            c.mounts = points
            parent = await asyncio.to_thread(self.d.images.service.unpack, image)
            c.snapshot_key = cid
            undo.push(lambda: self._remove_snapshot(cid))
            await asyncio.to_thread(self.d.snapshotter.prepare, cid, parent)
            undo.push(lambda: self.store.remove(c))
            self.store.save(c)
        except BaseException:
            await undo.run()
            raise
        self.store.add(c)
        self.d.events.publish("container", "create", cid, self._attrs(c))
        return {"Id": cid, "Warnings": warnings}

    async def _remove_snapshot(self, key: str) -> None:
        if self.d.snapshotter.exists(key):
            await asyncio.to_thread(self.d.snapshotter.remove, key)

    def _attrs(self, c: Container, **extra: str) -> dict[str, str]:
        attrs = {"image": c.image_name, "name": c.name.lstrip("/")}
        attrs.update({k: str(v) for k, v in (c.config.get("Labels") or {}).items()})
        attrs.update(extra)
        return attrs

    # -- start ------------------------------------------------------------
    async def start(self, ref: str) -> None:
        c = self.store.get(ref)
        async with c.lock:
            if c.status is Status.PAUSED:
                raise errdefs.Conflict("cannot start a paused container, try unpause instead")
            if c.status in (Status.RUNNING,):
                raise errdefs.NotModified("container already started")
            if c.status is Status.REMOVING:
                raise errdefs.Conflict("container is marked for removal and cannot be started")
            if c.status is Status.DEAD:
                raise errdefs.Conflict("container is marked for removal and cannot be started")
            self._cancel_restart(c)
            # A manual start resets the policy's count and backoff (moby ResetRestartManager).
            c.state.restart_count = 0
            c.state.has_been_manually_stopped = False
            c.restart_manager = None
            await self._start(c)

    def _cancel_restart(self, c: Container) -> None:
        """Call off a pending policy restart. One already starting the
        container is left to finish (the caller waits for the lock)."""
        t = c.restart_task
        if t is not None and not t.done() and not getattr(c, "restart_started", False):
            t.cancel()
            c.restart_task = None

    async def _start(self, c: Container) -> None:
        log.debug("container %s: starting", c.short_id)
        tasks = self.d.tasks
        undo = _Undo()
        marks = [("begin", time.monotonic())]
        try:
            image = await asyncio.to_thread(self.d.images.service.resolve, c.image)
            mounts: list[Mount] = self.d.snapshotter.mounts(c.snapshot_key)
            undo.push(lambda: tasks.remove_bundle(c.id))
            rootfs = await self._mount_rootfs(c, mounts)
            marks.append(("rootfs", time.monotonic()))
            await self._mount_volumes(c, rootfs, undo)
            namespaces = self._join_namespaces(c)
            shm = await self._prepare_shm(c, undo)
            # The network sandbox: the one place networking hooks into start (released in _release).
            await self.d.networks.setup(c)
            c.sandbox_ready = True
            undo.push(lambda: self._release_sandbox(c))
            namespaces["network"] = "host" if (c.host_config.get("NetworkMode") or "") == "host" else ""
            files = await asyncio.to_thread(self.d.networks.container_files, c)
            ctx = specgen.SpecContext(rootfs=rootfs, cgroup_parent=self.d.config.cgroup_parent, files=files,
                                      namespaces=namespaces, shm_source=shm, init_path=self.d.init_path())
            marks.append(("network", time.monotonic()))
            spec = await asyncio.to_thread(specgen.build_spec, c, image.config, ctx)
            self.d.networks.apply_spec(c, spec)
            marks.append(("spec", time.monotonic()))
            lc = c.host_config.get("LogConfig") or {}
            task = await tasks.create(
                c.id, spec, stdin=bool(c.config.get("OpenStdin")), tty=bool(c.config.get("Tty")),
                log_path=c.log_path, log_driver=lc.get("Type") or "json-file", log_opts=lc.get("Config") or {})
        except BaseException as e:
            await undo.run()
            self._record_start_failure(c, e if isinstance(e, errdefs.EngineError) else errdefs.Internal(str(e)))
            raise
        c.task = task
        try:
            marks.append(("shim+create", time.monotonic()))
            for pending in c.pending_attaches:
                await pending.connect(task)
            c.pending_attaches.clear()
            await task.start()
            marks.append(("start", time.monotonic()))
        except BaseException as e:
            await task.delete()
            c.task = None
            await self._release(c)
            self._record_start_failure(c, e if isinstance(e, errdefs.EngineError) else errdefs.Internal(str(e)))
            raise
        c.start_failed = False
        c.exit_on_next = False
        if c.restart_manager is None:
            c.restart_manager = RestartManager(c.host_config.get("RestartPolicy") or {}, c.state.restart_count)
        c.state = State(status=Status.RUNNING.value, pid=task.pid, started_at=now_rfc3339(),
                        finished_at=c.state.finished_at, restart_count=c.state.restart_count,
                        has_been_started=True, has_been_manually_stopped=c.state.has_been_manually_stopped,
                        health=None)
        self.d.health.on_start(c)
        self.store.save(c)
        c.notify()
        self.d.events.publish("container", "start", c.id, self._attrs(c))
        c.monitor = asyncio.create_task(self._monitor(c, task))
        if log.isEnabledFor(logging.DEBUG):
            phases = " ".join(f"{name}={(t - marks[i][1]) * 1000:.1f}ms" for i, (name, t) in enumerate(marks[1:]))
            shim = " ".join(f"{k}={v:.1f}ms" for k, v in (getattr(task, "shim_timings", None) or {}).items())
            log.debug("container %s: started: %s (shim+create: %s)", c.short_id, phases,
                      shim or f"runtime_create={getattr(task, 'runtime_create_ms', '?')}ms")

    async def _mount_rootfs(self, c: Container, mounts: list[Mount]) -> str:
        if c.host_config.get("AutoRemove"):
            from ..core.mount import volatile
            try:
                return await self.d.tasks.mount_rootfs(c.id, await asyncio.to_thread(volatile, mounts))
            except OSError as e:  # a kernel before 5.10 has no volatile overlays
                if e.errno != errno.EINVAL:
                    raise
        return await self.d.tasks.mount_rootfs(c.id, mounts)

    async def _mount_volumes(self, c: Container, rootfs: str, undo: _Undo) -> None:
        """Mount the volumes (reference counted by the driver), create missing
        bind sources (legacy Binds do), seed new volumes from the image."""
        changed = False
        for mp in c.mounts:
            if mp["Type"] == "volume":
                name = mp["Name"]
                path = await asyncio.to_thread(self.d.volumes.mount, name, c.id)
                c.volumes_mounted.append(name)
                undo.push(lambda name=name: self._unmount_volume(c, name))
                sub = mp.get("_subpath") or ""
                if sub:
                    target = os.path.join(path, sub)
                    if not os.path.isdir(target):
                        raise errdefs.InvalidArgument(f"cannot access path {target}: subpath does not exist in volume")
                    mp["_host_source"] = target
                else:
                    mp["_host_source"] = path
                if not mp.get("_seeded") and not mp.get("_nocopy") and not sub:
                    await asyncio.to_thread(self._seed_volume, rootfs, mp["Destination"], path)
                    mp["_seeded"] = True
                    changed = True
            elif mp["Type"] == "bind":
                src = mp.get("Source") or ""
                if mp.get("_create_source") and src and not os.path.exists(src):
                    os.makedirs(src, 0o755, exist_ok=True)
        if changed:
            self.store.save(c)

    @staticmethod
    def _seed_volume(rootfs: str, dest: str, volume_path: str) -> None:
        from .._sys.fs import secure_join
        from .volumes import copy_tree
        try:
            if os.listdir(volume_path):
                return  # only an empty volume is seeded, as docker does
        except FileNotFoundError:
            return
        src = secure_join(rootfs, dest)
        if os.path.isdir(src) and not os.path.islink(src):
            copy_tree(src, volume_path)

    def _unmount_volume(self, c: Container, name: str) -> None:
        try:
            self.d.volumes.unmount(name, c.id)
        finally:
            if name in c.volumes_mounted:
                c.volumes_mounted.remove(name)

    def _join_namespaces(self, c: Container) -> dict[str, str]:
        hc = c.host_config
        out: dict[str, str] = {}
        for key, t, label in (("PidMode", "pid", "PID"), ("IpcMode", "ipc", "IPC"), ("UTSMode", "uts", "UTS")):
            mode = hc.get(key) or ""
            if mode == "host":
                out[t] = "host"
            elif mode.startswith("container:"):
                other = self.store.get(mode[len("container:"):])
                if other.id == c.id:
                    raise errdefs.InvalidArgument(f"cannot join own {label} namespace")
                if other.status not in (Status.RUNNING, Status.PAUSED) or not other.state.pid:
                    raise errdefs.Conflict(f"cannot join {label} of a non running container: {other.id}")
                if t == "ipc" and (other.host_config.get("IpcMode") or "private") not in ("shareable", "host"):
                    raise errdefs.InvalidArgument("non-shareable IPC (hint: use IpcMode:shareable for the donor container)")
                out[t] = f"/proc/{other.state.pid}/ns/{t}"
        return out

    async def _prepare_shm(self, c: Container, undo: _Undo) -> str:
        """A host-side /dev/shm for modes that share it; "" for a private one."""
        mode = c.host_config.get("IpcMode") or "private"
        if mode == "host":
            return "/dev/shm"
        if mode.startswith("container:"):
            other = self.store.get(mode[len("container:"):])
            return "/dev/shm" if other.host_config.get("IpcMode") == "host" else other.shm_mounted
        if mode == "shareable":
            from ..core.mount import is_mounted, mount_all
            path = os.path.join(self.store.dir(c.id), "mounts", "shm")
            os.makedirs(path, 0o700, exist_ok=True)
            if not is_mounted(path):
                size = int(c.host_config.get("ShmSize") or 67108864)
                await asyncio.to_thread(mount_all, [Mount("tmpfs", "shm", ("nosuid", "nodev", "noexec",
                                                                           "mode=1777", f"size={size}"))], path)
            c.shm_mounted = path
            undo.push(lambda: self._unmount_shm(c))
            return path
        return ""

    async def _unmount_shm(self, c: Container) -> None:
        if c.shm_mounted:
            from ..core.mount import is_mounted, unmount_all
            if is_mounted(c.shm_mounted):
                await asyncio.to_thread(unmount_all, c.shm_mounted)
            c.shm_mounted = ""

    async def _release_sandbox(self, c: Container) -> None:
        if c.sandbox_ready:
            c.sandbox_ready = False
            await self.d.networks.teardown(c)

    async def _delete_task(self, c: Container, task: Any) -> None:
        t = time.monotonic()
        try:
            await task.delete(remove_bundle=False)
        except Exception as e:  # the exit is recorded whatever happens to cleanup
            log.warning("container %s: deleting task: %s", c.short_id, e)
        self._last_delete_ms = (time.monotonic() - t) * 1000

    _last_delete_ms = 0.0

    async def _release(self, c: Container, keep_bundle: bool = False) -> None:
        """Give back what a start took, once the task is gone: network
        sandbox, shared memory, volume mounts, bundle and rootfs."""
        steps: list[Callable[[], Awaitable[None] | None]] = [
            lambda: self._release_sandbox(c), lambda: self._unmount_shm(c)]
        steps += [lambda n=n: self._unmount_volume(c, n) for n in list(c.volumes_mounted)]
        if not keep_bundle:
            steps.append(lambda: self.d.tasks.remove_bundle(c.id))
        for fn in steps:
            try:
                r = fn()
                if asyncio.iscoroutine(r):
                    await r
            except Exception as e:
                log.warning("container %s: releasing resources: %s", c.short_id, e)

    def _record_start_failure(self, c: Container, e: errdefs.EngineError) -> None:
        for pending in c.pending_attaches:
            pending.abort()
        c.pending_attaches.clear()
        if c.host_config.get("AutoRemove"):
            # docker removes an --rm container whose start failed (the CLI waits for it).
            asyncio.get_running_loop().call_soon(lambda: background(self._remove_quietly(c.id)))
        msg = e.message
        code = 127 if ("executable file not found" in msg or "no such file or directory" in msg) else \
            126 if "permission denied" in msg else 128
        c.state.error = msg
        c.state.exit_code = code
        c.start_failed = True
        if c.status is not Status.CREATED or c.state.has_been_started:
            c.state.status = Status.EXITED.value
        self.store.save(c)
        c.notify()

    async def _remove_quietly(self, cid: str) -> None:
        try:
            await self.remove(cid, force=True, volumes=True)
        except errdefs.NotFound:
            pass
        except errdefs.EngineError as e:
            log.warning("auto-remove of %s: %s", cid[:12], e.message)

    # -- exit ---------------------------------------------------------------
    async def _monitor(self, c: Container, task: Any) -> None:
        try:
            status = await task.wait()
        except errdefs.Unavailable:
            status = self.d.tasks.recorded_exit(c.id)
            if status is None:
                from ..core.tasks import ExitStatus
                status = ExitStatus(255, now_rfc3339(), False)
        except asyncio.CancelledError:
            return
        await self._handle_exit(c, task, status.exit_code, status.exited_at, status.oom_killed)

    async def _handle_exit(self, c: Container, task: Any, code: int, exited_at: str, oom: bool) -> None:
        log.debug("container %s: exited with %d", c.short_id, code)
        restart = False
        async with c.lock:
            if self.store.get_or_none(c.id) is not c:
                return  # removed meanwhile: the remove cleaned up
            self.d.health.on_stop(c)
            t0 = time.monotonic()
            # The runtime delete and the release of what does not hold the
            # container's processes (sandbox, shm, volumes) run side by side.
            deleting = asyncio.ensure_future(self._delete_task(c, task))
            await self._release(c, keep_bundle=True)
            t1 = time.monotonic()
            await deleting
            c.task = None
            log.debug("container %s: exit cleanup: delete=%.1fms release=%.1fms total=%.1fms", c.short_id,
                      (self._last_delete_ms), (t1 - t0) * 1000, (time.monotonic() - t0) * 1000)
            self.d.execs.container_stopped(c)
            c.state.exit_code = code
            c.state.pid = 0
            c.state.oom_killed = oom
            c.state.finished_at = exited_at or now_rfc3339()
            ran_for = max(0.0, parse_rfc3339(c.state.finished_at) - parse_rfc3339(c.state.started_at))
            rm = c.restart_manager or RestartManager(c.host_config.get("RestartPolicy") or {}, c.state.restart_count)
            c.restart_manager = rm
            if c.exit_on_next:
                rm.cancel()
            delay = 0.0
            if not self.d.shutting_down and c.status is not Status.REMOVING:
                restart, delay = rm.should_restart(code, c.state.has_been_manually_stopped, ran_for)
            if restart:
                c.state.restart_count = rm.restart_count
                c.state.status = Status.RESTARTING.value
            elif c.status is not Status.REMOVING:
                c.state.status = Status.EXITED.value
            t2 = time.monotonic()
            if not (not restart and c.host_config.get("AutoRemove") and c.status is Status.EXITED):
                # An --rm container is removed right below, and one a crash
                # leaves behind, whatever state its record has, is removed by
                # restore: its exit needs no durable write of its own.
                self.store.save(c)
            # Only now: the bundle holds the shim's exit.json, the one record
            # of the exit code until the save above (a daemon killed in
            # between finds it at restore).
            t3 = time.monotonic()
            await self.d.tasks.remove_bundle(c.id)
            log.debug("container %s: exit recorded: save=%.1fms bundle=%.1fms", c.short_id,
                      (t3 - t2) * 1000, (time.monotonic() - t3) * 1000)
            self._exit_seq[c.id] = self._exit_seq.get(c.id, 0) + 1
            if oom:
                self.d.events.publish("container", "oom", c.id, self._attrs(c))
            self.d.events.publish("container", "die", c.id, self._attrs(c, exitCode=str(code)))
            c.notify()
            if restart:
                c.restart_task = asyncio.create_task(self._restart_later(c, delay))
        if not restart and c.host_config.get("AutoRemove") and c.status is Status.EXITED:
            await self._remove_quietly(c.id)

    async def _restart_later(self, c: Container, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            return
        async with c.lock:
            if c.restart_task is not asyncio.current_task() or c.status is not Status.RESTARTING:
                return
            c.restart_started = True
            try:
                await self._start(c)
            except errdefs.EngineError as e:
                log.warning("container %s: restart failed: %s", c.short_id, e.message)
                c.state.status = Status.EXITED.value
                self.store.save(c)
                c.notify()
            except Exception as e:
                log.exception("container %s: restart failed", c.short_id)
                c.state.status = Status.EXITED.value
                c.state.error = str(e)
                self.store.save(c)
                c.notify()
            finally:
                c.restart_started = False
                if c.restart_task is asyncio.current_task():
                    c.restart_task = None

    # -- stop / kill ----------------------------------------------------------
    async def kill(self, ref: str, signal: str | int | None = None) -> None:
        c = self.store.get(ref)
        sig = specgen.parse_signal(signal, 9)
        async with c.lock:
            if c.status is Status.RESTARTING:
                # Nothing runs: telling the restart not to happen is enough (moby).
                self._cancel_restart(c)
                c.state.status = Status.EXITED.value
                c.state.has_been_manually_stopped = True
                self.store.save(c)
                c.notify()
                return
            if not c.is_running() or c.task is None:
                raise errdefs.Conflict(f"cannot kill container: {ref}: container {c.id} is not running")
            stop_sig = c.config.get("StopSignal")
            if not stop_sig or sig == 9 or specgen.parse_signal(stop_sig) == sig:
                c.exit_on_next = True
            c.state.has_been_manually_stopped = True
            self.store.save(c)
            await c.task.kill(sig, all_=False)
            if c.status is Status.PAUSED and c.exit_on_next:
                try:
                    await c.task.resume()  # a frozen process cannot act on its signal
                except errdefs.EngineError:
                    pass
            self.d.events.publish("container", "kill", c.id, self._attrs(c, signal=str(sig)))

    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self.store.get(ref)
        if c.status is Status.RESTARTING:
            async with c.lock:
                self._cancel_restart(c)
                c.state.has_been_manually_stopped = True
                c.state.status = Status.EXITED.value
                self.store.save(c)
                c.notify()
            self.d.events.publish("container", "stop", c.id, self._attrs(c))
            return
        if not c.is_running():
            raise errdefs.NotModified("container already stopped")
        c.state.has_been_manually_stopped = True
        await self._stop(c, timeout, signal)

    async def _stop(self, c: Container, timeout: int | None, signal: str | None) -> None:
        stop_signal = specgen.parse_signal(signal or c.config.get("StopSignal"), 15)
        if timeout is None or timeout == "":
            timeout = c.config.get("StopTimeout")
        t = 10 if timeout is None else int(timeout)
        c.exit_on_next = True
        self._cancel_restart(c)
        task = c.task
        if task is None:
            return
        seq = self._exit_seq.get(c.id, 0)
        self.d.events.publish("container", "kill", c.id, self._attrs(c, signal=str(stop_signal)))
        try:
            await task.kill(stop_signal)
            if c.status is Status.PAUSED:
                await task.resume()
        except errdefs.EngineError:
            pass
        if t < 0 or not await self._wait_exit(c, seq, t if t >= 0 else None):
            if t >= 0:
                self.d.events.publish("container", "kill", c.id, self._attrs(c, signal="9"))
            try:
                await task.kill(9, all_=True)
            except errdefs.EngineError:
                pass
            await self._wait_exit(c, seq, 30)
        self.d.events.publish("container", "stop", c.id, self._attrs(c))

    async def _wait_exit(self, c: Container, seq: int, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._exit_seq.get(c.id, 0) == seq and c.task is not None:
            ev = c.changed
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(ev.wait(), remaining)
            except asyncio.TimeoutError:
                return False
        return True

    async def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self.store.get(ref)
        if c.is_running():
            await self.stop(c.id, timeout, signal)
        async with c.lock:
            if c.status is Status.REMOVING:
                raise errdefs.Conflict("container is marked for removal and cannot be started")
            self._cancel_restart(c)
            c.state.has_been_manually_stopped = False
            c.restart_manager = None
            await self._start(c)
        self.d.events.publish("container", "restart", c.id, self._attrs(c))

    # -- pause --------------------------------------------------------------------
    async def pause(self, ref: str) -> None:
        c = self.store.get(ref)
        async with c.lock:
            if c.status is Status.PAUSED:
                raise errdefs.Conflict(f"Container {c.id} is already paused")
            if c.status is Status.RESTARTING:
                raise errdefs.Conflict(f"Container {c.id} is restarting, wait until the container is running")
            if c.status is not Status.RUNNING or c.task is None:
                raise errdefs.Conflict(f"Container {c.id} is not running")
            await c.task.pause()
            c.state.status = Status.PAUSED.value
            self.store.save(c)
            c.notify()
            self.d.events.publish("container", "pause", c.id, self._attrs(c))

    async def unpause(self, ref: str) -> None:
        c = self.store.get(ref)
        async with c.lock:
            if c.status is not Status.PAUSED or c.task is None:
                raise errdefs.Conflict(f"Container {c.id} is not paused")
            await c.task.resume()
            c.state.status = Status.RUNNING.value
            self.store.save(c)
            c.notify()
            self.d.events.publish("container", "unpause", c.id, self._attrs(c))

    # -- wait -------------------------------------------------------------------
    async def wait(self, ref: str, condition: str = "not-running") -> tuple[int, str]:
        """Return (exit code, error message) when the condition is met."""
        c = self.store.get(ref)
        if condition not in ("not-running", "next-exit", "removed", ""):
            raise errdefs.InvalidArgument(f"invalid condition: {condition!r}")
        condition = condition or "not-running"
        seq = self._exit_seq.get(c.id, 0)
        removed = self._removed.setdefault(c.id, asyncio.get_running_loop().create_future())
        while True:
            if condition == "not-running" and not c.is_running() and c.status is not Status.RESTARTING:
                return c.state.exit_code, c.state.error
            if condition == "next-exit" and self._exit_seq.get(c.id, 0) > seq:
                return c.state.exit_code, c.state.error
            if removed.done():  # gone: every condition is over
                code, err = removed.result()
                # A failed start was already reported by the start call itself.
                return code, "" if getattr(c, "start_failed", False) else err
            changed = asyncio.ensure_future(c.changed.wait())
            try:
                await asyncio.wait({changed, removed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()

    # -- remove -----------------------------------------------------------------
    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.store.get(ref)
        if c.status is Status.RESTARTING and not force:
            raise errdefs.Conflict(f"cannot remove container \"{c.name}\": container is restarting: stop the "
                                   "container before removing or force remove")
        self._cancel_restart(c)
        if c.is_running() and c.status is not Status.RESTARTING:
            if not force:
                if c.status is Status.PAUSED:
                    raise errdefs.Conflict(
                        f"cannot remove container \"{c.name}\": container is paused and must be unpaused first")
                raise errdefs.Conflict(
                    f"cannot remove container \"{c.name}\": container is running: stop the container "
                    "before removing or force remove")
            c.exit_on_next = True
            task = c.task
            seq = self._exit_seq.get(c.id, 0)
            if task is not None:
                try:
                    await task.kill(9, all_=True)
                    if c.status is Status.PAUSED:
                        await task.resume()
                except errdefs.EngineError:
                    pass
                await self._wait_exit(c, seq, 30)
        async with c.lock:
            if self.store.get_or_none(c.id) is not c or c.status is Status.REMOVING:
                return
            log.debug("container %s: removing (%s, task %s)", c.short_id, c.status.value, c.task is not None)
            self._cancel_restart(c)
            prev = c.state.status
            c.state.status = Status.REMOVING.value
            t0 = time.monotonic()
            try:
                if c.task is not None:
                    # We delete the task ourselves: its exit needs no handling.
                    if c.monitor is not None and c.monitor is not asyncio.current_task():
                        c.monitor.cancel()
                    self.d.health.on_stop(c)
                    await c.task.delete()
                    c.task = None
                await self._release(c)
                t1 = time.monotonic()
                if c.snapshot_key and self.d.snapshotter.exists(c.snapshot_key):
                    await asyncio.to_thread(self.d.snapshotter.remove, c.snapshot_key)
            except BaseException:
                c.state.status = prev
                raise
            t2 = time.monotonic()
            self.d.execs.container_removed(c)
            self.store.remove(c)
            log.debug("container %s: removed: release=%.1fms snapshot=%.1fms record=%.1fms", c.short_id,
                      (t1 - t0) * 1000, (t2 - t1) * 1000, (time.monotonic() - t2) * 1000)
            fut = self._removed.setdefault(c.id, asyncio.get_running_loop().create_future())
            if not fut.done():
                fut.set_result((c.state.exit_code, c.state.error))
            self.d.events.publish("container", "destroy", c.id, self._attrs(c))
            c.notify()
        if volumes:
            await self.d.volumes.remove_anonymous([m["Name"] for m in c.mounts
                                                   if m.get("Type") == "volume" and m.get("_anon")
                                                   and not m.get("_from")])

    # -- rename / update ------------------------------------------------------------
    async def rename(self, ref: str, new_name: str) -> None:
        c = self.store.get(ref)
        if not new_name:
            raise errdefs.InvalidArgument("Neither old nor new names may be empty")
        async with c.lock:
            old = c.name
            full = new_name if new_name.startswith("/") else "/" + new_name
            if full == old:
                raise errdefs.InvalidArgument("Renaming a container with the same name as its current name")
            try:
                self.store.rename(c, new_name)
            except errdefs.EngineError as e:
                raise type(e)(f"Error when allocating new name: {e.message}") from None  # as docker wraps it
            try:
                self.store.save(c)
            except BaseException:
                self.store.rename(c, old)
                raise
        self.d.events.publish("container", "rename", c.id, self._attrs(c, oldName=old))

    UPDATABLE = ("CpuShares", "Memory", "NanoCpus", "CgroupParent", "BlkioWeight", "CpuPeriod", "CpuQuota",
                 "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "MemoryReservation",
                 "MemorySwap", "MemorySwappiness", "OomKillDisable", "PidsLimit", "KernelMemory")

    async def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("invalid update: body must be an object")
        c = self.store.get(ref)
        warnings: list[str] = []
        async with c.lock:
            if c.status is Status.REMOVING or c.status is Status.DEAD:
                raise errdefs.Conflict(f"Cannot update container {c.id}: container is marked for removal")
            hc = dict(c.host_config)
            old_mem, old_swap = hc.get("Memory") or 0, hc.get("MemorySwap") or 0
            for k in self.UPDATABLE:
                if k in body and body[k] is not None and k != "KernelMemory":
                    hc[k] = body[k]
            if "RestartPolicy" in body and body["RestartPolicy"] is not None:
                rp = body["RestartPolicy"]
                if hc.get("AutoRemove") and (rp.get("Name") or "no") != "no":
                    raise errdefs.InvalidArgument("Restart policy cannot be updated because AutoRemove is "
                                                  "enabled for the container")
                hc["RestartPolicy"] = {"Name": rp.get("Name") or "no",
                                       "MaximumRetryCount": rp.get("MaximumRetryCount") or 0}
                hostconfig.validate_restart_policy(hc)
            mem = hc.get("Memory") or 0
            if "Memory" in body and "MemorySwap" not in body and mem and old_swap == 2 * old_mem:
                hc["MemorySwap"] = 2 * mem  # keep docker's default ratio
            if c.is_running() and mem and old_mem and not body.get("MemorySwap") and old_swap > 0 and mem > old_swap:
                raise errdefs.InvalidArgument("Memory limit should be smaller than already set memoryswap limit, "
                                              "update the memoryswap at the same time")
            hostconfig.validate_resources(hc, warnings)
            if c.task is not None and c.status in (Status.RUNNING, Status.PAUSED):
                res = specgen.update_resources(hc)
                try:
                    await c.task.update(res)
                except errdefs.EngineError as e:
                    raise errdefs.InvalidArgument(f"Cannot update container {c.id}: {e.message}") from None
            c.host_config = hc
            if "RestartPolicy" in body and body["RestartPolicy"] is not None and c.restart_manager is not None:
                c.restart_manager.policy = dict(hc["RestartPolicy"])
            self.store.save(c)
        self.d.events.publish("container", "update", c.id, self._attrs(c))
        return {"Warnings": warnings or None}  # docker's nil slice

    # -- prune / top / resize / changes ----------------------------------------------
    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        from .filters import prune_matches
        deleted, reclaimed = [], 0
        for c in list(self.store.all()):
            if c.status not in (Status.EXITED, Status.CREATED, Status.DEAD):
                continue
            if not prune_matches(c, filters):
                continue
            size = await asyncio.to_thread(self.rw_size, c)
            try:
                await self.remove(c.id)
            except errdefs.EngineError:
                continue
            deleted.append(c.id)
            reclaimed += max(size, 0)
        self.d.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    async def top(self, ref: str, ps_args: str = "") -> dict[str, Any]:
        c = self.store.get(ref)
        if c.task is None or c.status not in (Status.RUNNING, Status.PAUSED):
            raise errdefs.Conflict(f"Container {c.id} is not running")
        if c.status is Status.RESTARTING:
            raise errdefs.Conflict(f"Container {c.id} is restarting, wait until the container is running")
        pids = set(await c.task.pids())
        args = ps_args.split() if ps_args else ["-ef"]
        proc = await asyncio.create_subprocess_exec("ps", *args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise errdefs.Internal(f"Error running ps: exit status {proc.returncode}: {err.decode(errors='replace').strip()}")
        return parse_ps(out.decode(errors="replace"), pids)

    async def resize(self, ref: str, height: int, width: int) -> None:
        c = self.store.get(ref)
        if c.task is None or not c.is_running():
            raise errdefs.Conflict(f"Container {c.id} is not running")
        if not c.config.get("Tty"):
            return  # docker ignores a resize of a container without a terminal
        await c.task.resize(width, height)

    async def changes(self, ref: str) -> list[dict[str, Any]]:
        c = self.store.get(ref)
        from ..core.diff import changes_for_mounts
        mounts = self.d.snapshotter.mounts(c.snapshot_key)
        out = await asyncio.to_thread(changes_for_mounts, mounts)
        # What docker keeps in its init layer is not the container's change.
        hidden = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv", "/sbin/docker-init"}
        return [ch.to_json() for ch in out if not (ch.kind == 1 and ch.path in hidden)] or None  # type: ignore[return-value]

    def rw_size(self, c: Container) -> int:
        try:
            from ..core.diff import overlay_dirs
            upper, _ = overlay_dirs(self.d.snapshotter.mounts(c.snapshot_key))
        except Exception:
            return 0
        return dir_size(upper)

    # -- views --------------------------------------------------------------------
    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        c = self.store.get(ref)
        out = views.inspect_view(c, self.d.config.data_root, self.d.execs.live_ids(c), self._graph_data(c))
        if size:
            rw = self.rw_size(c)
            out["SizeRw"] = rw
            out["SizeRootFs"] = rw + self._image_size(c)
        return out

    def _graph_data(self, c: Container) -> dict[str, str] | None:
        """GraphDriver.Data as overlay2 shows it: the snapshot's directories and
        where the rootfs is mounted while the container runs."""
        try:
            mounts = self.d.snapshotter.mounts(c.snapshot_key)
        except Exception:
            return None
        if len(mounts) != 1 or mounts[0].type != "overlay":
            return None
        opts = dict(o.split("=", 1) for o in mounts[0].options if "=" in o)
        if "upperdir" not in opts:
            return None
        data = {"MergedDir": os.path.join(self.d.tasks.bundle_dir(c.id), "rootfs"),
                "UpperDir": opts["upperdir"], "WorkDir": opts.get("workdir", "")}
        if opts.get("lowerdir"):
            data["LowerDir"] = opts["lowerdir"]
        return data

    def _image_size(self, c: Container) -> int:
        try:
            return int(self.d.images.service.resolve(c.image).size)
        except Exception:
            return 0

    def list(self, all_: bool = False, limit: int = -1, filters: dict[str, Any] | None = None,
             size: bool = False) -> list[dict[str, Any]]:
        from .filters import container_matches, validate_container_filters
        filters = filters or {}
        validate_container_filters(filters)
        now = time.time()
        cs = sorted(self.store.all(), key=lambda c: c.created, reverse=True)
        out = []
        for c in cs:
            if not all_ and not c.is_running() and "status" not in filters and "exited" not in filters:
                continue
            if filters and not container_matches(c, filters, self, all_):
                continue
            s = views.summary_view(c, self.d.images.display_ref(c), now)
            if size:
                rw = self.rw_size(c)
                s["SizeRw"] = rw
                s["SizeRootFs"] = rw + self._image_size(c)
            out.append(s)
            if limit > 0 and len(out) >= limit:
                break
        return out

    # -- restore after a daemon restart -------------------------------------------
    async def restore(self) -> None:
        to_restart: list[Container] = []
        for c in self.store.load_all():
            c.exec_ids = []
            if c.status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING, Status.REMOVING):
                # A restarting container may have a shim too: the daemon died mid-restart.
                task = await self.d.tasks.connect(c.id)
                st: dict[str, Any] = {}
                if task is not None:
                    try:
                        st = await task.state()
                    except errdefs.Unavailable:  # the shim went away just now
                        task = None
                if task is not None:
                    c.task = task
                    # Resources the running task holds stay taken.
                    for mp in c.mounts:
                        if mp["Type"] == "volume":
                            try:
                                path = await asyncio.to_thread(self.d.volumes.driver.mount, mp["Name"], c.id)
                                mp["_host_source"] = os.path.join(path, mp.get("_subpath") or "")
                                c.volumes_mounted.append(mp["Name"])
                            except errdefs.EngineError:
                                pass
                    if (c.host_config.get("IpcMode") or "") == "shareable":
                        c.shm_mounted = os.path.join(self.store.dir(c.id), "mounts", "shm")
                    c.sandbox_ready = True
                    c.restart_manager = RestartManager(c.host_config.get("RestartPolicy") or {},
                                                       c.state.restart_count)
                    if st.get("status") == "stopped":
                        if c.status is Status.REMOVING:
                            c.state.status = Status.RUNNING.value
                        await self._handle_exit(c, task, int(st.get("exit_code", 0)), st.get("exited_at", ""),
                                                bool(st.get("oom_killed")))
                        continue
                    c.state.status = Status.PAUSED.value if st.get("status") == "paused" else Status.RUNNING.value
                    c.state.pid = int(st.get("pid") or c.state.pid)
                    await self.d.networks.restore(c)
                    self.store.save(c)
                    c.monitor = asyncio.create_task(self._monitor(c, task))
                    self.d.health.on_start(c, restored=True)
                    continue
                # The shim is gone too: record what it left in exit.json,
                # then clean up (which removes exit.json with the bundle).
                exit_ = self.d.tasks.recorded_exit(c.id)
                was_restarting = c.status is Status.RESTARTING
                c.state.status = Status.EXITED.value
                c.state.pid = 0
                if exit_ is not None or not was_restarting:
                    c.state.exit_code = exit_.exit_code if exit_ else 255
                    c.state.oom_killed = bool(exit_.oom_killed) if exit_ else False
                    c.state.finished_at = (exit_.exited_at if exit_ else "") or now_rfc3339()
                self.store.save(c)
                await self.d.tasks.cleanup_dead_shim(c.id)
                await self._release(c)
                if exit_ is not None and not was_restarting:
                    self._exit_seq[c.id] = self._exit_seq.get(c.id, 0) + 1
                    self.d.events.publish("container", "die", c.id, self._attrs(c, exitCode=str(c.state.exit_code)))
            elif self.d.tasks.bundle_exists(c.id):
                await self.d.tasks.cleanup_dead_shim(c.id)
                await self.d.tasks.remove_bundle(c.id)
            if c.status is Status.EXITED:
                if c.host_config.get("AutoRemove"):
                    await self._remove_quietly(c.id)
                elif self._should_restart_on_boot(c):
                    to_restart.append(c)
        for c in to_restart:
            background(self._boot_restart(c))

    def _should_restart_on_boot(self, c: Container) -> bool:
        rm = RestartManager(c.host_config.get("RestartPolicy") or {}, c.state.restart_count)
        ran_for = max(0.0, parse_rfc3339(c.state.finished_at) - parse_rfc3339(c.state.started_at))
        ok, _ = rm.should_restart(c.state.exit_code, c.state.has_been_manually_stopped, ran_for)
        return ok and c.state.has_been_started

    async def _boot_restart(self, c: Container) -> None:
        async with c.lock:
            if c.status is not Status.EXITED or self.store.get_or_none(c.id) is not c:
                return
            c.restart_manager = None
            try:
                await self._start(c)
            except Exception as e:
                log.warning("container %s: restart at daemon start failed: %s", c.short_id, e)


def parse_ps(output: str, pids: set[int]) -> dict[str, Any]:
    """docker's parsePSOutput: the PID column picks our processes; the last
    column keeps its spaces."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    if not lines:
        return {"Titles": [], "Processes": []}
    titles = lines[0].split()
    if "PID" not in titles:
        raise errdefs.Internal("Couldn't find PID field in ps output")
    pid_col = titles.index("PID")
    procs = []
    for ln in lines[1:]:
        fields = ln.split()
        if len(fields) <= pid_col:
            continue
        try:
            pid = int(fields[pid_col])
        except ValueError:
            raise errdefs.Internal(f"Unexpected pid '{fields[pid_col]}'") from None
        if pid in pids:
            n = len(titles)
            procs.append(fields[: n - 1] + [" ".join(fields[n - 1:])] if len(fields) >= n else fields)
    return {"Titles": titles, "Processes": procs}


def dir_size(root: str) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for fn in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, fn))
            except OSError:
                continue
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += st.st_size
    return total


def merge_image_config(config: dict[str, Any], img: dict[str, Any]) -> dict[str, Any]:
    """docker's merge of a container's Config with its image's (daemon/create.go)."""
    out = dict(config)
    if not out.get("User"):
        out["User"] = img.get("User", "")
    if not out.get("Env"):
        out["Env"] = list(img.get("Env") or [])
    else:
        out["Env"] = specgen.merged_env(list(img.get("Env") or []), list(out["Env"]))
    if out.get("Entrypoint") is None:
        if not out.get("Cmd"):
            out["Cmd"] = list(img.get("Cmd") or [])
        out["Entrypoint"] = img.get("Entrypoint")
    elif out.get("Entrypoint") == [] or out.get("Entrypoint") == [""]:
        out["Entrypoint"] = None
    if not out.get("WorkingDir"):
        out["WorkingDir"] = img.get("WorkingDir", "")
    labels = dict(img.get("Labels") or {})
    labels.update(out.get("Labels") or {})
    out["Labels"] = labels
    ports = dict(img.get("ExposedPorts") or {})
    ports.update(out.get("ExposedPorts") or {})
    if ports:
        out["ExposedPorts"] = ports
    vols = dict(img.get("Volumes") or {})
    vols.update(out.get("Volumes") or {})
    if vols:
        out["Volumes"] = vols
    if not out.get("StopSignal") and img.get("StopSignal"):
        out["StopSignal"] = img["StopSignal"]
    if out.get("Healthcheck") is None and img.get("Healthcheck"):
        out["Healthcheck"] = img["Healthcheck"]
    if not out.get("OnBuild"):
        out["OnBuild"] = None
    if not out.get("Env"):
        out["Env"] = None  # docker keeps no Env when neither gives one (PATH is the spec's default)
    out.setdefault("Volumes", None)
    return out


