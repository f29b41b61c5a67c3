"""RUN: a task on the step's snapshot, through the same core, shim and
runtime as `docker run`, with the stage's env, user, workdir and shell.

The daemon supplies the OCI spec (Backend.run_spec: the same defaults,
user resolution and /etc files as its containers). Mount points the
runtime has to create in the rootfs for that spec (/etc/hosts on an image
without one, RUN --mount targets) are removed from the upper directory
afterwards, so they never end up in the layer."""

from __future__ import annotations

import asyncio
import os
import stat
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from .. import errdefs
from ..apitypes import STREAM_HEADER
from ..core.images import Image
from ..core.tasks import TaskService
from .fsops import RootFS, split

TAIL_LINES = 10


@dataclass
class RunRequest:
    id: str
    args: list[str]
    env: list[str]
    user: str
    workdir: str
    rootfs: str
    files_dir: str  # where the backend may write hostname, hosts and resolv.conf
    network: str = "default"
    extra_hosts: list[str] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)  # extra OCI mounts (RUN --mount)
    resources: dict[str, Any] = field(default_factory=dict)  # HostConfig fields: Memory, CpuShares, Ulimits...
    shm_size: int = 0
    hostname: str = ""


Progress = Callable[[dict[str, Any]], Awaitable[None]]


class Backend(Protocol):
    """What the builder needs from the daemon (implemented in daemon/builds.py)."""

    async def run_spec(self, req: RunRequest) -> dict[str, Any]:
        """The OCI spec for a RUN step's container, its network set up
        (raises InvalidArgument for a network mode it cannot give)."""

    async def release(self, req: RunRequest) -> None:
        """Undo what run_spec set up (the step's network sandbox)."""

    async def pull(self, ref: str, platform: str, auth: dict[str, Any] | None, progress: Progress) -> Image:
        """Pull ref (docker's progress messages go to progress)."""


class RunFailed(errdefs.EngineError):
    """A RUN command exited non-zero (docker reports these as code 1 in errorDetail)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class OutputTail:
    """The last lines of a step's output, for error messages."""

    def __init__(self, lines: int = TAIL_LINES) -> None:
        self.lines: deque[str] = deque(maxlen=lines)
        self._partial = ""

    def feed(self, text: str) -> None:
        text = self._partial + text
        *full, self._partial = text.split("\n")
        self.lines.extend(full)

    def text(self) -> str:
        out = list(self.lines) + ([self._partial] if self._partial else [])
        return "\n".join(out[-self.lines.maxlen:])  # type: ignore[index]


def mount_stubs(rootfs: str, destinations: list[str]) -> list[str]:
    """The paths (relative to rootfs) the runtime will create for these
    mount points: for each, the first component that does not exist yet."""
    out = []
    with RootFS(rootfs) as fs:
        for d in destinations:
            try:
                miss = fs.first_missing(d)
            except errdefs.EngineError:
                continue
            if miss and miss not in out:
                out.append(miss)
    return out


def remove_stubs(upper: str, lowers: list[str], stubs: list[str]) -> None:
    """Undo the mount-point stubs in an upper directory: each created path
    if it holds nothing but empty directories and empty files, then its
    parents that were only copied up for it (empty, not opaque, present in
    a lower layer)."""
    for rel in stubs:
        path = os.path.join(upper, rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if not _only_empty(path, st):
            continue
        if stat.S_ISDIR(st.st_mode):
            _rmtree_empty(path)
        else:
            os.unlink(path)
        parts = split(rel)[:-1]
        while parts:
            p = os.path.join(upper, *parts)
            try:
                if os.listdir(p):
                    break
                if _opaque(p) or not any(os.path.isdir(os.path.join(lw, *parts)) for lw in lowers):
                    break
                os.rmdir(p)
            except OSError:
                break
            parts.pop()


def _only_empty(path: str, st: os.stat_result) -> bool:
    if stat.S_ISREG(st.st_mode):
        return st.st_size == 0
    if not stat.S_ISDIR(st.st_mode):
        return False
    for dirpath, dirnames, filenames in os.walk(path):
        for n in filenames:
            s = os.lstat(os.path.join(dirpath, n))
            if not stat.S_ISREG(s.st_mode) or s.st_size:
                return False
    return True


def _rmtree_empty(path: str) -> None:
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        for n in filenames:
            os.unlink(os.path.join(dirpath, n))
        for n in dirnames:
            os.rmdir(os.path.join(dirpath, n))
    os.rmdir(path)


def _opaque(path: str) -> bool:
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, name) == b"y":
                return True
        except OSError:
            pass
    return False


async def execute(tasks: TaskService, backend: Backend, req: RunRequest, mounts: list[Any],
                  upper: str, lowers: list[str], on_output: Callable[[bytes], Awaitable[None]]) -> int:
    """Run the step's command; returns its exit code. The task and its
    bundle are gone when this returns or raises (cancellation included)."""
    cid = req.id
    task = None
    finished = False
    stubs: list[str] = []
    try:
        req.rootfs = await tasks.mount_rootfs(cid, mounts)
        os.makedirs(req.files_dir, mode=0o700, exist_ok=True)
        spec = await backend.run_spec(req)
        destinations = [m["destination"] for m in spec.get("mounts") or []]
        stubs = await asyncio.to_thread(mount_stubs, req.rootfs, destinations)
        task = await tasks.create(cid, spec, log_driver="none")
        reader, writer, _tty = await task.attach(False, True, True, False)
        try:
            if writer.can_write_eof():
                writer.write_eof()
            await task.start()
            while True:
                try:
                    head = await reader.readexactly(STREAM_HEADER.size)
                except asyncio.IncompleteReadError:
                    break
                _stream, size = STREAM_HEADER.unpack(head)
                data = await reader.readexactly(size) if size else b""
                await on_output(data)
        finally:
            writer.close()
        status = await task.wait()
        finished = True
        return status.exit_code
    finally:
        if task is not None:
            if not finished:
                try:
                    await task.kill(9, all_=True)
                except errdefs.EngineError:
                    pass
            try:
                await task.delete()
            except errdefs.EngineError:
                await tasks.cleanup_dead_shim(cid)
        await tasks.remove_bundle(cid)
        try:
            await backend.release(req)  # the network sandbox, once nothing runs in it
        except errdefs.EngineError:
            pass
        if task is not None:
            await asyncio.to_thread(remove_stubs, upper, lowers, stubs)
