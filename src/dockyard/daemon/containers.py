"""Container operations: create, start, stop, kill, wait, remove, list,
inspect. Public methods resolve the name and take the container's lock,
then call the private ones (moby's ContainerStart -> containerStart)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from .. import errdefs
from ..core.mount import Mount
from . import specgen, views
from .container import Container, State, Status, new_id
from .timeutil import now_rfc3339

if TYPE_CHECKING:
    from .daemon import Daemon

log = logging.getLogger("dockyard.daemon")


class ContainerService:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon
        self.store = daemon.containers_store
        self._exit_seq: dict[str, int] = {}
        self._removed: dict[str, asyncio.Future] = {}

    # -- create -----------------------------------------------------------
    async def create(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("config cannot be empty in order to create a container")
        config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        host_config = dict(body.get("HostConfig") or {})
        image_ref = config.get("Image") or ""
        if not image_ref:
            raise errdefs.InvalidArgument("no image specified" if "Image" in config else "config cannot be empty in order to create a container")
        image = await asyncio.to_thread(self.d.images.resolve_for_run, image_ref)
        img_cfg = image.config.get("config") or {}
        config = merge_image_config(config, img_cfg)
        entrypoint = list(config.get("Entrypoint") or [])
        cmd = list(config.get("Cmd") or [])
        argv = entrypoint + cmd
        if not argv:
            raise errdefs.InvalidArgument("No command specified")
        validate_host_config(host_config)
        network_settings = self.d.networks.settings_for_create(config, host_config, body.get("NetworkingConfig"))
        cid = new_id()
        full_name = self.store.reserve_name(name, cid)
        config.setdefault("Hostname", cid[:12])
        if not config.get("Hostname"):
            config["Hostname"] = cid[:12]
        config.setdefault("Domainname", "")
        for k, v in (("AttachStdin", False), ("AttachStdout", False), ("AttachStderr", False),
                     ("Tty", False), ("OpenStdin", False), ("StdinOnce", False), ("User", ""),
                     ("WorkingDir", ""), ("Labels", {})):
            if config.get(k) is None:
                config[k] = v
        host_config.setdefault("NetworkMode", "default")
        host_config.setdefault("LogConfig", {"Type": "json-file", "Config": {}})
        if not host_config["LogConfig"].get("Type"):
            host_config["LogConfig"] = {"Type": "json-file", "Config": host_config["LogConfig"].get("Config") or {}}
        c = Container(
            id=cid, name=full_name, created=now_rfc3339(), image=image.id, image_name=image_ref,
            path=argv[0], args=argv[1:], config=config, host_config=host_config,
            network_settings=network_settings,
        )
        c.log_path = os.path.join(self.store.dir(cid), f"{cid}-json.log") \
            if host_config["LogConfig"]["Type"] == "json-file" else ""
        try:
            parent = await asyncio.to_thread(self.d.images.service.unpack, image)
            c.snapshot_key = cid
            await asyncio.to_thread(self.d.snapshotter.prepare, cid, parent)
            self.store.save(c)
        except BaseException:
            self.store.release_name(full_name)
            if self.d.snapshotter.exists(cid):
                await asyncio.to_thread(self.d.snapshotter.remove, cid)
            self.store.remove(c)
            raise
        self.store.add(c)
        self.d.events.publish("container", "create", cid, self._attrs(c))
        return {"Id": cid, "Warnings": []}

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
            if c.is_running():
                raise errdefs.NotModified("container already started")
            if c.status is Status.REMOVING:
                raise errdefs.Conflict(f"container is marked for removal and cannot be started")
            await self._start(c)

    async def _start(self, c: Container) -> None:
        tasks = self.d.tasks
        image = await asyncio.to_thread(self.d.images.service.resolve, c.image)
        mounts: list[Mount] = self.d.snapshotter.mounts(c.snapshot_key)
        try:
            rootfs = await tasks.mount_rootfs(c.id, mounts)
            await self.d.networks.setup(c)
            extra_mounts = await asyncio.to_thread(self.d.networks.container_files, c)
            spec = await asyncio.to_thread(specgen.build_spec, c, image.config, rootfs,
                                           self.d.config.cgroup_parent, extra_mounts)
            self.d.networks.apply_spec(c, spec)
            lc = c.host_config.get("LogConfig") or {}
            task = await tasks.create(
                c.id, spec, stdin=bool(c.config.get("OpenStdin")), tty=bool(c.config.get("Tty")),
                log_path=c.log_path, log_driver=lc.get("Type") or "json-file", log_opts=lc.get("Config") or {})
        except errdefs.EngineError as e:
            await self.d.networks.teardown(c)
            await tasks.remove_bundle(c.id)
            self._record_start_failure(c, e)
            raise
        except BaseException as e:
            await self.d.networks.teardown(c)
            await tasks.remove_bundle(c.id)
            self._record_start_failure(c, errdefs.Internal(str(e)))
            raise
        c.task = task
        try:
            for pending in c.pending_attaches:
                await pending.connect(task)
            c.pending_attaches.clear()
            await task.start()
        except BaseException as e:
            await task.delete()
            c.task = None
            await self.d.networks.teardown(c)
            self._record_start_failure(c, e if isinstance(e, errdefs.EngineError) else errdefs.Internal(str(e)))
            raise
        c.start_failed = False
        c.state = State(status=Status.RUNNING.value, pid=task.pid, started_at=now_rfc3339(),
                        finished_at=c.state.finished_at, restart_count=c.state.restart_count,
                        has_been_started=True)
        self.store.save(c)
        c.notify()
        self.d.events.publish("container", "start", c.id, self._attrs(c))
        c.monitor = asyncio.create_task(self._monitor(c, task))

    def _record_start_failure(self, c: Container, e: errdefs.EngineError) -> None:
        for pending in c.pending_attaches:
            pending.abort()
        c.pending_attaches.clear()
        if c.host_config.get("AutoRemove"):
            # docker removes an --rm container whose start failed (the CLI waits for it).
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._remove_quietly(c.id)))
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
        async with c.lock:
            try:
                await task.delete()
            except Exception as e:  # the exit is recorded whatever happens to cleanup
                log.warning("container %s: deleting task: %s", c.short_id, e)
            c.task = None
            await self.d.networks.teardown(c)
            c.state.status = Status.EXITED.value
            c.state.exit_code = code
            c.state.pid = 0
            c.state.oom_killed = oom
            c.state.finished_at = exited_at or now_rfc3339()
            self.store.save(c)
            self._exit_seq[c.id] = self._exit_seq.get(c.id, 0) + 1
            if oom:
                self.d.events.publish("container", "oom", c.id, self._attrs(c))
            self.d.events.publish("container", "die", c.id, self._attrs(c, exitCode=str(code)))
            c.notify()
        if c.host_config.get("AutoRemove"):
            await self._remove_quietly(c.id)

    # -- stop / kill ----------------------------------------------------------
    async def kill(self, ref: str, signal: str | int | None = None) -> None:
        c = self.store.get(ref)
        sig = specgen.parse_signal(signal, 9)
        async with c.lock:
            if not c.is_running() or c.task is None:
                raise errdefs.Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
            await c.task.kill(sig, all_=False)
            self.d.events.publish("container", "kill", c.id, self._attrs(c, signal=str(sig)))

    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self.store.get(ref)
        if not c.is_running():
            raise errdefs.NotModified("container already stopped")
        c.state.has_been_manually_stopped = True
        await self._stop(c, timeout, signal)

    async def _stop(self, c: Container, timeout: int | None, signal: str | None) -> None:
        stop_signal = specgen.parse_signal(signal or c.config.get("StopSignal"), 15)
        if timeout is None or timeout == "":
            timeout = c.config.get("StopTimeout")
        t = 10 if timeout is None else int(timeout)
        task = c.task
        if task is None:
            return
        seq = self._exit_seq.get(c.id, 0)
        try:
            await task.kill(stop_signal)
        except errdefs.EngineError:
            pass
        if t < 0 or not await self._wait_exit(c, seq, t):
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
            if condition == "not-running" and not c.is_running():
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
        if c.is_running():
            if not force:
                if c.status is Status.PAUSED:
                    raise errdefs.Conflict(
                        f"cannot remove container \"{c.name}\": container is paused and must be unpaused first")
                raise errdefs.Conflict(
                    f"cannot remove container \"{c.name}\": container is running: stop the container "
                    "before removing or force remove")
            task = c.task
            seq = self._exit_seq.get(c.id, 0)
            if task is not None:
                try:
                    await task.kill(9, all_=True)
                except errdefs.EngineError:
                    pass
                await self._wait_exit(c, seq, 30)
        async with c.lock:
            if self.store.get(c.id) is not c or c.status is Status.REMOVING:
                return
            prev = c.state.status
            c.state.status = Status.REMOVING.value
            try:
                if c.task is not None:
                    await c.task.delete()
                    c.task = None
                await self.d.tasks.remove_bundle(c.id)
                await self.d.networks.teardown(c)
                if c.snapshot_key and self.d.snapshotter.exists(c.snapshot_key):
                    await asyncio.to_thread(self.d.snapshotter.remove, c.snapshot_key)
            except BaseException:
                c.state.status = prev
                raise
            self.store.remove(c)
            fut = self._removed.setdefault(c.id, asyncio.get_running_loop().create_future())
            if not fut.done():
                fut.set_result((c.state.exit_code, c.state.error))
            self.d.events.publish("container", "destroy", c.id, self._attrs(c))
            c.notify()

    # -- views --------------------------------------------------------------------
    def inspect(self, ref: str) -> dict[str, Any]:
        return views.inspect_view(self.store.get(ref), self.d.config.data_root)

    def list(self, all_: bool = False, limit: int = -1, filters: dict[str, Any] | None = None,
             size: bool = False) -> list[dict[str, Any]]:
        from .filters import container_matches
        now = time.time()
        cs = sorted(self.store.all(), key=lambda c: c.created, reverse=True)
        out = []
        for c in cs:
            if not all_ and not c.is_running() and not filters:
                continue
            if filters and not container_matches(c, filters, self, all_):
                continue
            out.append(views.summary_view(c, self.d.images.display_ref(c), now))
            if limit > 0 and len(out) >= limit:
                break
        return out

    # -- restore after a daemon restart -------------------------------------------
    async def restore(self) -> None:
        for c in self.store.load_all():
            if c.status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING, Status.REMOVING):
                task = await self.d.tasks.connect(c.id)
                if task is not None:
                    st = await task.state()
                    c.task = task
                    if st.get("status") == "stopped":
                        await self._handle_exit(c, task, int(st.get("exit_code", 0)), st.get("exited_at", ""),
                                                bool(st.get("oom_killed")))
                        continue
                    c.state.status = Status.PAUSED.value if st.get("status") == "paused" else Status.RUNNING.value
                    c.state.pid = int(st.get("pid") or c.state.pid)
                    await self.d.networks.restore(c)
                    self.store.save(c)
                    c.monitor = asyncio.create_task(self._monitor(c, task))
                    continue
                # The shim is gone too: collect what it recorded, clean up.
                exit_ = self.d.tasks.recorded_exit(c.id)
                await self.d.tasks.cleanup_dead_shim(c.id)
                await self.d.tasks.remove_bundle(c.id)
                await self.d.networks.teardown(c)
                c.state.status = Status.EXITED.value
                c.state.pid = 0
                c.state.exit_code = exit_.exit_code if exit_ else 255
                c.state.finished_at = (exit_.exited_at if exit_ else "") or now_rfc3339()
                self.store.save(c)
            elif self.d.tasks.bundle_exists(c.id):
                await self.d.tasks.cleanup_dead_shim(c.id)
                await self.d.tasks.remove_bundle(c.id)
            if c.host_config.get("AutoRemove") and c.status is Status.EXITED:
                await self.remove(c.id, force=True)


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
        out["Env"] = [specgen.rs.DEFAULT_PATH_ENV]
    return out


def validate_host_config(hc: dict[str, Any]) -> None:
    rp = hc.get("RestartPolicy") or {}
    name = rp.get("Name", "") or ""
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise errdefs.InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one of 'no', "
                                      "'always', 'on-failure', or 'unless-stopped'")
    if hc.get("AutoRemove") and name not in ("", "no"):
        raise errdefs.InvalidArgument("can't create 'AutoRemove' container with restart policy")
    if (rp.get("MaximumRetryCount") or 0) < 0:
        raise errdefs.InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if name != "on-failure" and (rp.get("MaximumRetryCount") or 0) > 0:
        raise errdefs.InvalidArgument(f"invalid restart policy: maximum retry count can only be used with 'on-failure'")
