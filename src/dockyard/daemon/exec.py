"""docker exec: exec instances created, started (attached through a
hijacked connection, or detached), inspected and resized. Each runs through
the container's shim (`exec` registers the process, `attach` connects its
streams, `start` runs `dockyard-runtime exec`, `wait` reports its exit).
Instances live in memory, as dockerd keeps them; health probes use the same
path without a client."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import errdefs
from .container import Container, Status

if TYPE_CHECKING:
    from .daemon import Daemon
    from .streams import Hijacked

log = logging.getLogger("dockyard.daemon")
MAX_PER_CONTAINER = 64


@dataclass
class ExecConfig:
    id: str
    container_id: str
    cmd: list[str]
    tty: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    detach_keys: str = ""
    env: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = ""
    privileged: bool = False
    console_size: list[int] | None = None
    internal: bool = False  # a health probe: no events of its own in the container's exec list
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0

    def __post_init__(self) -> None:
        self.done = asyncio.Event()
        self.pending_size: tuple[int, int] | None = None
        self.waiter: asyncio.Task | None = None

    def view(self) -> dict[str, Any]:
        return {
            "CanRemove": False, "DetachKeys": self.detach_keys, "ID": self.id, "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {"privileged": self.privileged, "user": self.user, "tty": self.tty,
                              "entrypoint": self.cmd[0] if self.cmd else "", "arguments": self.cmd[1:]},
            "OpenStdin": self.attach_stdin, "OpenStderr": self.attach_stderr, "OpenStdout": self.attach_stdout,
            "ContainerID": self.container_id, "Pid": self.pid,
        }


def _merge_env(base: list[str], extra: list[str]) -> list[str]:
    out: dict[str, str] = {}
    for kv in list(base) + list(extra):
        out[kv.partition("=")[0]] = kv
    return list(out.values())


class ExecService:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon
        self.execs: dict[str, ExecConfig] = {}

    # -- create -----------------------------------------------------------------
    def _runnable(self, c: Container) -> None:
        if c.status is Status.PAUSED:
            raise errdefs.Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.status is Status.RESTARTING:
            raise errdefs.Conflict(f"Container {c.id} is restarting, wait until the container is running")
        if c.status is not Status.RUNNING or c.task is None:
            raise errdefs.Conflict(f"Container {c.id} is not running")

    def create(self, ref: str, body: dict[str, Any], internal: bool = False) -> str:
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("invalid exec config: must be an object")
        c = self.d.containers_store.get(ref)
        cmd = body.get("Cmd")
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd or not isinstance(cmd, list) or not all(isinstance(x, str) for x in cmd):
            raise errdefs.InvalidArgument("No exec command specified")
        env = body.get("Env") or []
        if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
            raise errdefs.InvalidArgument("invalid Env: must be a list of strings")
        wd = body.get("WorkingDir") or ""
        if wd and not wd.startswith("/"):
            raise errdefs.InvalidArgument(f"the working directory '{wd}' is invalid, it needs to be an absolute path")
        self._runnable(c)
        from .streams import parse_detach_keys
        if body.get("DetachKeys"):
            parse_detach_keys(body["DetachKeys"])
        ec = ExecConfig(id=secrets.token_hex(32), container_id=c.id, cmd=list(cmd), tty=bool(body.get("Tty")),
                        attach_stdin=bool(body.get("AttachStdin")), attach_stdout=bool(body.get("AttachStdout")),
                        attach_stderr=bool(body.get("AttachStderr")), detach_keys=body.get("DetachKeys") or "",
                        env=list(env), user=body.get("User") or "", workdir=wd,
                        privileged=bool(body.get("Privileged")), console_size=body.get("ConsoleSize"),
                        internal=internal)
        self.execs[ec.id] = ec
        if not internal:
            c.exec_ids.append(ec.id)
            self._trim(c)
        self.d.events.publish("container", f"exec_create: {' '.join(ec.cmd)}", c.id,
                              self.d.containers._attrs(c, execID=ec.id))
        return ec.id

    def live_ids(self, c: Container) -> list[str]:
        """The container's execs that have not exited (inspect's ExecIDs); finished
        ones stay inspectable through /exec/{id}/json until trimmed."""
        return [i for i in c.exec_ids if i in self.execs and self.execs[i].exit_code is None
                and not self.execs[i].done.is_set()]

    def _trim(self, c: Container) -> None:
        done = [i for i in c.exec_ids if i in self.execs and self.execs[i].exit_code is not None]
        while len(c.exec_ids) > MAX_PER_CONTAINER and done:
            old = done.pop(0)
            c.exec_ids.remove(old)
            self.execs.pop(old, None)

    def get(self, exec_id: str) -> ExecConfig:
        ec = self.execs.get(exec_id)
        if ec is None:
            raise errdefs.NotFound(f"No such exec instance: {exec_id}")
        return ec

    def inspect(self, exec_id: str) -> dict[str, Any]:
        return self.get(exec_id).view()

    # -- start ------------------------------------------------------------------
    def _process(self, c: Container, ec: ExecConfig) -> dict[str, Any]:
        """The exec's runtime process: the container's, with the exec's command,
        environment, user, directory and privileges."""
        from . import caps as capsmod
        from .specgen import resolve_user
        spec = self.d.tasks.read_spec(c.id)
        proc = dict(spec.get("process") or {})
        env = list(proc.get("env") or [])
        if ec.tty and not any(e.startswith("TERM=") for e in ec.env):
            env = _merge_env(env, ["TERM=xterm"])
        proc["env"] = _merge_env(env, ec.env)
        proc["args"] = list(ec.cmd)
        proc["terminal"] = ec.tty
        if ec.workdir:
            proc["cwd"] = ec.workdir
        if ec.user:
            proc["user"] = resolve_user(self.d.tasks.rootfs_dir(c.id), ec.user, c.host_config.get("GroupAdd"))
        if ec.privileged:
            allcaps = capsmod.kernel_caps()
            proc["capabilities"] = {"bounding": allcaps, "effective": allcaps, "permitted": allcaps}
        size = ec.console_size
        if ec.tty and isinstance(size, list) and len(size) == 2 and size[0] and size[1]:
            proc["consoleSize"] = {"height": int(size[0]), "width": int(size[1])}
        else:
            proc.pop("consoleSize", None)
        proc.pop("rlimits", None) if not proc.get("rlimits") else None
        return proc

    async def start(self, exec_id: str, detach: bool, conn: "Hijacked | None" = None,
                    tty: bool | None = None, console_size: list[int] | None = None) -> None:
        ec = self.get(exec_id)
        if ec.exit_code is not None:
            raise errdefs.Conflict(f"Error: Exec command {ec.id} has already run")
        if ec.running or ec.started:
            raise errdefs.Conflict(f"Error: Exec command {ec.id} is already running")
        c = self.d.containers_store.get(ec.container_id)
        self._runnable(c)
        if console_size:
            ec.console_size = console_size
        task = c.task
        ec.started = True
        session = None
        try:
            await task.exec(ec.id, self._process(c, ec), ec.tty, ec.attach_stdin and not detach)
            if not detach and conn is not None:
                from .streams import AttachSession, parse_detach_keys
                session = AttachSession(c, conn, ec.attach_stdin, ec.attach_stdout, ec.attach_stderr,
                                        parse_detach_keys(ec.detach_keys), exec_id=ec.id, tty=ec.tty)
                await session.connect(task)
            ec.pid = await task.start(exec_id=ec.id)
        except BaseException as e:
            ec.started = False
            msg = getattr(e, "message", str(e))
            ec.exit_code = 127 if ("executable file not found" in msg or "no such file" in msg) else 126
            ec.done.set()
            try:
                await task.delete_exec(ec.id)
            except Exception:
                pass
            if session is not None:
                session.abort()
                await session.wait()
            if isinstance(e, errdefs.EngineError):
                raise errdefs.from_kind(e.kind, _exec_error(e.message)) from None
            raise
        ec.running = True
        self.d.events.publish("container", f"exec_start: {' '.join(ec.cmd)}", c.id,
                              self.d.containers._attrs(c, execID=ec.id))
        if ec.pending_size is not None:
            await self._resize(task, ec, *ec.pending_size)
        waiter = asyncio.create_task(self._wait(c, task, ec))
        ec.waiter = waiter  # asyncio keeps tasks weakly: this one must live to record the exit
        if session is not None:
            await session.wait()
            # The client reads ExitCode as soon as its stream ends: record it first.
            try:
                await asyncio.wait_for(asyncio.shield(waiter), 5)
            except asyncio.TimeoutError:
                pass

    async def _wait(self, c: Container, task: Any, ec: ExecConfig) -> None:
        try:
            st = await task.wait(exec_id=ec.id)
            ec.exit_code = st.exit_code
        except errdefs.EngineError:
            ec.exit_code = ec.exit_code if ec.exit_code is not None else 137
        except asyncio.CancelledError:
            return
        finally:
            ec.running = False
            ec.done.set()
        try:
            await task.delete_exec(ec.id)
        except errdefs.EngineError:
            pass
        self.d.events.publish("container", "exec_die", c.id,
                              self.d.containers._attrs(c, execID=ec.id, exitCode=str(ec.exit_code)))

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        ec = self.get(exec_id)
        c = self.d.containers_store.get(ec.container_id)
        if not ec.running:
            ec.pending_size = (height, width)  # applied once it runs
            return
        await self._resize(c.task, ec, height, width)

    async def _resize(self, task: Any, ec: ExecConfig, height: int, width: int) -> None:
        if not ec.tty or task is None:
            return
        try:
            await task.resize(width, height, exec_id=ec.id)
        except errdefs.EngineError as e:
            log.debug("resize exec %s: %s", ec.id[:12], e.message)

    # -- probes -------------------------------------------------------------------
    async def run_probe(self, c: Container, cmd: list[str], timeout: float, max_output: int = 4096) -> tuple[int, str]:
        """Run cmd in c like an exec; (exit code, output). -1 on timeout."""
        exec_id = self.create(c.id, {"Cmd": cmd, "AttachStdout": True, "AttachStderr": True}, internal=True)
        ec = self.execs[exec_id]
        task = c.task
        out = bytearray()
        try:
            await task.exec(ec.id, self._process(c, ec), False, False)
            reader, writer, _tty = await task.attach(False, True, True, False, exec_id=ec.id)
            writer.write_eof() if writer.can_write_eof() else None
            ec.pid = await task.start(exec_id=ec.id)
            ec.running = True
            self.d.events.publish("container", f"exec_start: {' '.join(cmd)}", c.id,
                                  self.d.containers._attrs(c, execID=ec.id))
            waiter = asyncio.create_task(self._wait(c, task, ec))
            ec.waiter = waiter

            async def collect() -> None:
                import struct
                while True:
                    try:
                        head = await reader.readexactly(8)
                    except (asyncio.IncompleteReadError, ConnectionError):
                        return
                    _s, n = struct.unpack(">BxxxL", head)
                    data = await reader.readexactly(n)
                    if len(out) < max_output:
                        out.extend(data[: max_output - len(out)])
            try:
                await asyncio.wait_for(asyncio.gather(collect(), asyncio.shield(waiter)), timeout)
            except asyncio.TimeoutError:
                try:
                    await task.kill(9, exec_id=ec.id)
                except errdefs.EngineError:
                    pass
                return -1, f"Health check exceeded timeout ({_duration(timeout)})"
            finally:
                writer.close()
            return int(ec.exit_code if ec.exit_code is not None else -1), out.decode("utf-8", "replace")
        finally:
            self.execs.pop(exec_id, None)

    # -- container lifecycle ----------------------------------------------------------
    def container_stopped(self, c: Container) -> None:
        for i in c.exec_ids:
            ec = self.execs.get(i)
            if ec is not None and ec.exit_code is None:
                ec.running = False
                ec.done.set()
        for eid in list(self.execs):
            if self.execs[eid].container_id == c.id and self.execs[eid].exit_code is None and self.execs[eid].internal:
                self.execs.pop(eid, None)

    def container_removed(self, c: Container) -> None:
        for eid in [e for e, ec in self.execs.items() if ec.container_id == c.id]:
            self.execs.pop(eid, None)
        c.exec_ids.clear()


def _exec_error(msg: str) -> str:
    """Runtime exec failures as docker words them."""
    if msg.startswith("OCI runtime"):
        return msg
    if "unable to start container process" not in msg:
        msg = f"unable to start container process: {msg}"
    return f"OCI runtime exec failed: exec failed: {msg}: unknown"


def _duration(seconds: float) -> str:
    if seconds == int(seconds):
        s = int(seconds)
        if s % 60 == 0 and s >= 60:
            return f"{s // 60}m0s"
        return f"{s}s"
    return f"{seconds:g}s"
