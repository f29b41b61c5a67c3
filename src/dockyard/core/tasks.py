"""The task service: one dockyard-shim per container, driven through the
shim's command line and its control socket (shimapi.protocol).

A task's bundle is <exec_root>/containers/<id>: config.json, the rootfs
mount point, the runtime's log and the shim's exit.json. The shim's socket
is <exec_root>/s/<id[:16]>.sock (unix socket paths are short)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import Any

from .. import errdefs
from ..fsutil import atomic_write_json, read_json
from ..shimapi import protocol as proto
from .mount import Mount, is_mounted, mount_all, unmount_all


def sibling_binary(name: str) -> str:
    """Console scripts live next to the interpreter (the venv's bin)."""
    cand = os.path.join(os.path.dirname(sys.executable), name)
    return cand if os.path.exists(cand) else (shutil.which(name) or name)


def boot_path() -> list[str]:
    """Where our package and its dependencies live, for an interpreter
    started without site (-S)."""
    import sysconfig
    import dockyard
    paths = [os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))]
    for key in ("purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p and p not in paths:
            paths.append(p)
    return paths


def fast_argv(script: str, module: str) -> list[str]:
    """Our own console script as `python -I -S -c <boot>`: the same program
    without the site machinery (.pth files), which saves start-up time and a
    few MB per long-lived shim. Anything else runs as given."""
    try:
        with open(script, "rb") as f:
            head = f.read(4096)
    except OSError:
        return [script]
    first = head.split(b"\n", 1)[0]
    if not first.startswith(b"#!") or b"python" not in first or f"from {module} import main".encode() not in head:
        return [script]
    interpreter = first[2:].split()[0].decode()  # dockyard.launcher's scripts add -IS
    code = f"import sys;sys.path[:0]={boot_path()!r};from {module} import main;sys.exit(main())"
    return [interpreter, "-I", "-S", "-c", code]


def _last_json(out: bytes) -> dict[str, Any]:
    try:
        return json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    except (ValueError, IndexError):
        return {}


# A spare shim loads its modules at the lowest priority: it is started while
# a container's runtime create runs and must not take the CPU from it.
STANDBY_NICE = 19


def _set_nice(pid: int, nice: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError:  # gone meanwhile
        pass


@dataclass
class ExitStatus:
    exit_code: int
    exited_at: str
    oom_killed: bool = False


class ShimConnection:
    """One request/reply connection to a shim."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, address: str) -> "ShimConnection":
        try:
            r, w = await asyncio.open_unix_connection(address, limit=1 << 20)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise errdefs.Unavailable(f"shim at {address} is not reachable: {e}") from None
        return cls(r, w)

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        fields["op"] = op
        try:
            self.writer.write(proto.encode(fields))
            await self.writer.drain()
            line = await self.reader.readline()
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            raise errdefs.Unavailable(f"shim connection lost during {op}: {e}") from None
        if not line:
            raise errdefs.Unavailable(f"shim closed the connection during {op}")
        res = proto.decode(line)
        if not res.get("ok"):
            err = res.get("error") or {}
            raise errdefs.from_kind(err.get("kind", "Internal"), err.get("message", f"{op} failed"))
        return res

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:
            pass


class Task:
    def __init__(self, service: "TaskService", cid: str, address: str, pid: int, shim_pid: int) -> None:
        self.service = service
        self.id = cid
        self.address = address
        self.pid = pid
        self.shim_pid = shim_pid
        self.runtime_create_ms: float | None = None
        self.shim_timings: dict[str, float] = {}

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        conn = await ShimConnection.open(self.address)
        try:
            return await conn.call(op, **fields)
        finally:
            conn.close()

    async def start(self, exec_id: str = "") -> int:
        return int((await self.call("start", exec_id=exec_id))["pid"])

    async def kill(self, signal: int, all_: bool = False, exec_id: str = "") -> None:
        await self.call("kill", signal=signal, all=all_, exec_id=exec_id)

    async def wait(self, exec_id: str = "") -> ExitStatus:
        res = await self.call("wait", exec_id=exec_id)
        return ExitStatus(int(res["exit_code"]), res["exited_at"], bool(res.get("oom_killed")))

    async def state(self, exec_id: str = "") -> dict[str, Any]:
        return await self.call("state", exec_id=exec_id)

    async def pause(self) -> None:
        await self.call("pause")

    async def resume(self) -> None:
        await self.call("resume")

    async def pids(self) -> list[int]:
        return list((await self.call("pids"))["pids"])

    async def stats(self) -> dict[str, Any]:
        return dict((await self.call("stats"))["stats"])

    async def update(self, resources: dict[str, Any]) -> None:
        await self.call("update", resources=resources)

    async def resize(self, width: int, height: int, exec_id: str = "") -> None:
        await self.call("resize", width=width, height=height, exec_id=exec_id)

    async def close_stdin(self, exec_id: str = "") -> None:
        await self.call("close_stdin", exec_id=exec_id)

    async def exec(self, exec_id: str, process: dict[str, Any], tty: bool, stdin: bool) -> None:
        await self.call("exec", exec_id=exec_id, process=process, tty=tty, stdin=stdin)

    async def delete_exec(self, exec_id: str) -> ExitStatus:
        res = await self.call("delete", exec_id=exec_id)
        return ExitStatus(int(res["exit_code"]), res["exited_at"], bool(res.get("oom_killed")))

    async def attach(self, stdin: bool, stdout: bool, stderr: bool, close_stdin_on_eof: bool,
                     exec_id: str = "") -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """Open an attach stream: returns (reader of multiplexed frames,
        writer for stdin, tty)."""
        conn = await ShimConnection.open(self.address)
        res = await conn.call("attach", stdin=stdin, stdout=stdout, stderr=stderr,
                              close_stdin_on_eof=close_stdin_on_eof, exec_id=exec_id)
        return conn.reader, conn.writer, bool(res.get("tty"))

    async def delete(self, remove_bundle: bool = True) -> ExitStatus:
        """Delete the container in the runtime, stop the shim, unmount the
        rootfs and remove the bundle (unless the caller does that later)."""
        try:
            res = await self.call("delete", force=True)
            status = ExitStatus(int(res["exit_code"]), res["exited_at"], bool(res.get("oom_killed")))
        except errdefs.Unavailable:
            status = await self.service.cleanup_dead_shim(self.id)
        if remove_bundle:
            await self.service.remove_bundle(self.id)
        return status


class TaskService:
    def __init__(self, exec_root: str, runtime: str | None = None, runtime_root: str | None = None,
                 shim: str | None = None, debug_log: str | None = None) -> None:
        self.exec_root = exec_root
        self.bundles = os.path.join(exec_root, "containers")
        self.sockets = os.path.join(exec_root, "s")
        self.runtime = runtime or sibling_binary("dockyard-runtime")
        self.runtime_root = runtime_root or os.path.join(exec_root, "runtime")
        self.shim = shim or sibling_binary("dockyard-shim")
        self.shim_argv = fast_argv(self.shim, "dockyard.shim.main")
        # A spare shim waits, loaded, for the next start (our own shim only).
        self.use_standby = self.shim_argv[0] != self.shim
        self._standby: asyncio.subprocess.Process | None = None
        self._refilling = False
        self._closed = False
        self._refill_task: asyncio.Future | None = None
        # Lowering a niceness again needs CAP_SYS_NICE: without root the spare runs as the daemon does.
        self._base_nice = os.getpriority(os.PRIO_PROCESS, 0)
        self._standby_nice = max(STANDBY_NICE, self._base_nice) if os.geteuid() == 0 else None
        self.debug_log = debug_log
        for d in (self.bundles, self.sockets, self.runtime_root):
            os.makedirs(d, mode=0o711, exist_ok=True)

    def bundle_dir(self, cid: str) -> str:
        return os.path.join(self.bundles, cid)

    def socket_path(self, cid: str) -> str:
        return os.path.join(self.sockets, cid[:16] + ".sock")

    # -- a shim started ahead of need ---------------------------------------------
    def _take_standby(self) -> asyncio.subprocess.Process | None:
        proc, self._standby = self._standby, None
        if proc is not None and proc.returncode is None:
            if self._standby_nice is not None:  # from here on it is the start's critical path
                _set_nice(proc.pid, self._base_nice)
            return proc
        return None

    def refill_standby(self) -> None:
        """Start the next spare shim in the background (one at a time)."""
        if not self.use_standby or self._standby is not None or self._refilling or self._closed:
            return
        self._refilling = True

        async def spawn() -> None:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self.shim_argv, "standby", "--state-dir", self.exec_root, stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                if self._standby_nice is not None:
                    _set_nice(proc.pid, self._standby_nice)
                if self._closed:
                    proc.kill()
                    await proc.wait()
                else:
                    self._standby = proc
            except OSError:
                pass
            finally:
                self._refilling = False
        self._refill_task = asyncio.ensure_future(spawn())

    async def close(self) -> None:
        """The daemon stops: the spare shim goes (running shims stay)."""
        self._closed = True
        proc, self._standby = self._standby, None
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()

    def rootfs_dir(self, cid: str) -> str:
        return os.path.join(self.bundle_dir(cid), "rootfs")

    def read_spec(self, cid: str) -> dict[str, Any]:
        """The OCI spec the task runs with (its bundle's config.json)."""
        try:
            return dict(read_json(os.path.join(self.bundle_dir(cid), "config.json")))
        except (FileNotFoundError, ValueError):
            raise errdefs.NotFound(f"task {cid}: no bundle") from None

    def bundle_exists(self, cid: str) -> bool:
        return os.path.isdir(self.bundle_dir(cid))

    async def mount_rootfs(self, cid: str, rootfs: list[Mount]) -> str:
        """Create the bundle directory and mount the container's rootfs in it.
        Undone by remove_bundle."""
        bundle = self.bundle_dir(cid)
        os.makedirs(bundle, mode=0o711, exist_ok=True)
        rootfs_dir = os.path.join(bundle, "rootfs")
        if not is_mounted(rootfs_dir):
            await asyncio.to_thread(mount_all, rootfs, rootfs_dir)
        return rootfs_dir

    async def create(self, cid: str, spec: dict[str, Any], *, stdin: bool = False,
                     tty: bool = False, log_path: str = "", log_driver: str = "json-file",
                     log_opts: dict[str, str] | None = None) -> Task:
        bundle = self.bundle_dir(cid)
        if os.path.exists(os.path.join(bundle, "shim.json")):
            raise errdefs.AlreadyExists(f"task {cid}: already exists")
        try:
            for name in ("exit.json", "runtime.log"):
                try:
                    os.unlink(os.path.join(bundle, name))
                except FileNotFoundError:
                    pass
            spec = dict(spec)
            spec["root"] = dict(spec.get("root") or {}, path="rootfs")
            # The exec root holds run-time state only (tmpfs in production): atomic, no fsync.
            atomic_write_json(os.path.join(bundle, "config.json"), spec, durable=False)
            args = ["start", "--id", cid, "--bundle", bundle, "--socket", self.socket_path(cid),
                    "--runtime", self.runtime, "--runtime-root", self.runtime_root,
                    "--log-driver", log_driver or "json-file"]
            if log_path:
                args += ["--log-path", log_path]
            for k, v in (log_opts or {}).items():
                args += ["--log-opt", f"{k}={v}"]
            if stdin:
                args.append("--stdin")
            if tty:
                args.append("--tty")
            if self.debug_log:
                args += ["--debug-log", self.debug_log]
            proc = self._take_standby()
            t_sent = time.monotonic()
            if proc is not None:
                waiter = asyncio.ensure_future(proc.communicate(json.dumps(args).encode() + b"\n"))
            else:
                proc = await asyncio.create_subprocess_exec(*self.shim_argv, *args, stdin=asyncio.subprocess.DEVNULL,
                                                            stdout=asyncio.subprocess.PIPE,
                                                            stderr=asyncio.subprocess.PIPE)
                waiter = asyncio.ensure_future(proc.communicate())
            self.refill_standby()
            try:
                out, err = await asyncio.shield(waiter)
            except asyncio.CancelledError:
                # Cancelled while the shim starts: let it finish, then take it
                # down again, so no shim outlives a start that did not happen.
                out, _ = await waiter
                await self._discard_started_shim(cid, _last_json(out))
                raise
            res = _last_json(out)
            if proc.returncode != 0 or "error" in res or "address" not in res:
                # A shim that did start (it printed its address) yet is taken
                # as a failure must not outlive the start either.
                await self._discard_started_shim(cid, res)
                e = res.get("error") or {}
                msg = e.get("message") or err.decode(errors="replace").strip() or "shim failed to start"
                raise errdefs.from_kind(e.get("kind", "Internal"),
                                        f"failed to create task for container: OCI runtime create failed: {msg}: unknown")
            atomic_write_json(os.path.join(bundle, "shim.json"), res, durable=False)
        except BaseException:
            await self.remove_bundle(cid)
            raise
        task = Task(self, cid, res["address"], int(res["pid"]), int(res["shim_pid"]))
        task.runtime_create_ms = res.get("runtime_create_ms")
        if res.get("t_create"):
            t_create, rc_ms = float(res["t_create"]), float(res.get("runtime_create_ms") or 0)
            t_flags = float(res.get("t_flags") or 0) or t_sent
            task.shim_timings = {"handoff": (t_flags - t_sent) * 1000, "shim_setup": (t_create - t_flags) * 1000,
                                 "runtime_create": rc_ms,
                                 "reply": (time.monotonic() - t_create) * 1000 - rc_ms}
        return task

    async def _discard_started_shim(self, cid: str, res: dict[str, Any]) -> None:
        if "address" not in res:
            return
        orphan = Task(self, cid, res["address"], int(res.get("pid") or 0), int(res.get("shim_pid") or 0))
        try:
            await orphan.call("delete", force=True)
        except errdefs.EngineError:
            pass

    async def connect(self, cid: str) -> Task | None:
        """Re-attach to the shim of a container after a daemon restart. A
        daemon that died between starting the shim and recording it left no
        shim.json: the shim is found by its socket then."""
        path = os.path.join(self.bundle_dir(cid), "shim.json")
        try:
            info = read_json(path)
            recorded = True
        except (FileNotFoundError, ValueError):
            if not os.path.exists(self.socket_path(cid)):
                return None
            info, recorded = {"address": self.socket_path(cid), "pid": 0, "shim_pid": 0}, False
        task = Task(self, cid, info["address"], int(info.get("pid") or 0), int(info.get("shim_pid") or 0))
        try:
            res = await task.call("connect")
        except errdefs.Unavailable:
            return None
        task.pid = int(res.get("pid") or task.pid)
        task.shim_pid = int(res.get("shim_pid") or task.shim_pid)
        if not recorded:
            atomic_write_json(path, {"address": task.address, "shim_pid": task.shim_pid, "pid": task.pid},
                              durable=False)
        return task

    def recorded_exit(self, cid: str) -> ExitStatus | None:
        try:
            d = read_json(os.path.join(self.bundle_dir(cid), "exit.json"))
        except (FileNotFoundError, ValueError):
            return None
        return ExitStatus(int(d["exit_code"]), d.get("exited_at", ""), bool(d.get("oom_killed")))

    async def cleanup_dead_shim(self, cid: str) -> ExitStatus:
        """The shim is gone: force-delete through `dockyard-shim delete`,
        which calls the runtime, and report the recorded exit if any."""
        bundle = self.bundle_dir(cid)
        status = self.recorded_exit(cid) or ExitStatus(255, "", False)
        self._kill_orphan_shim(cid)
        if os.path.isdir(bundle):
            proc = await asyncio.create_subprocess_exec(
                *self.shim_argv, "delete", "--id", cid, "--bundle", bundle, "--runtime", self.runtime,
                "--runtime-root", self.runtime_root, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            await proc.wait()
        return status

    def _kill_orphan_shim(self, cid: str) -> None:
        """A shim we cannot talk to but that still runs (its socket is gone):
        stop it, or it would hold the container's stdio forever."""
        try:
            info = read_json(os.path.join(self.bundle_dir(cid), "shim.json"))
            pid = int(info.get("shim_pid") or 0)
        except (FileNotFoundError, ValueError, TypeError):
            try:  # the shim writes its own pid before it answers
                with open(os.path.join(self.bundle_dir(cid), "shim.pid")) as f:
                    pid = int(f.read().strip() or 0)
            except (OSError, ValueError):
                return
        if pid <= 1:
            return
        # Ours only if it is a shim sitting in this bundle (it chdirs there).
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return
        if comm == "dockyard-shim" and os.path.realpath(cwd) == os.path.realpath(self.bundle_dir(cid)):
            import signal
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def remove_bundle(self, cid: str) -> None:
        bundle = self.bundle_dir(cid)
        rootfs_dir = os.path.join(bundle, "rootfs")
        if is_mounted(rootfs_dir):
            await asyncio.to_thread(unmount_all, rootfs_dir)
        try:
            os.unlink(self.socket_path(cid))
        except FileNotFoundError:
            pass
        await asyncio.to_thread(shutil.rmtree, bundle, True)

    def list_bundles(self) -> list[str]:
        try:
            return sorted(os.listdir(self.bundles))
        except FileNotFoundError:
            return []
