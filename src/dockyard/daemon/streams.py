"""Attach sessions and log reading: the container's streams as docker
serves them (multiplexed frames, or raw bytes for a TTY)."""

from __future__ import annotations

import asyncio
import struct
from typing import TYPE_CHECKING, Any, Protocol

from .. import errdefs

if TYPE_CHECKING:
    from .container import Container


class Hijacked(Protocol):
    """The client's raw connection after the API hijacked it."""

    async def read(self, n: int = ...) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...

HEADER = struct.Struct(">BxxxL")
DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q


def parse_detach_keys(spec: str) -> bytes:
    """docker's detach key spec: comma-separated 'ctrl-<x>' or single chars."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    out = bytearray()
    for part in spec.split(","):
        p = part.strip()
        if p.startswith("ctrl-") and len(p) == 6:
            ch = p[5]
            if ch.isalpha():
                out.append(ord(ch.lower()) - ord("a") + 1)
            else:
                code = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}.get(ch)
                if code is None:
                    raise errdefs.InvalidArgument(f"Invalid detach keys ({spec}) provided")
                out.append(code)
        elif len(p) == 1:
            out.append(ord(p))
        else:
            raise errdefs.InvalidArgument(f"Invalid detach keys ({spec}) provided")
    return bytes(out)


class AttachSession:
    def __init__(self, c: "Container", conn: Hijacked, stdin: bool, stdout: bool, stderr: bool,
                 detach_keys: bytes, exec_id: str = "", tty: bool | None = None, mux: bool = True) -> None:
        self.c = c
        self.conn = conn
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.detach_keys = detach_keys
        self.exec_id = exec_id
        self.done = asyncio.get_running_loop().create_future()
        self.tty = bool(c.config.get("Tty")) if tty is None else tty
        self.mux = mux  # False: raw output even without a TTY (websocket attach)
        self._tasks: list[asyncio.Task] = []

    async def connect(self, task: Any) -> None:
        # docker closes the process's stdin when the client's ends (StdinOnce,
        # and always for an exec), but never a terminal's: detaching from a
        # shell must leave it running.
        close_on_eof = (bool(self.c.config.get("StdinOnce")) if not self.exec_id else True) and not self.tty
        reader, writer, tty = await task.attach(self.stdin, self.stdout, self.stderr, close_on_eof, self.exec_id)
        self.tty = tty
        self._tasks.append(asyncio.create_task(self._output(reader)))
        if self.stdin:
            self._tasks.append(asyncio.create_task(self._input(writer)))
        else:
            writer.write_eof() if writer.can_write_eof() else None
        self._shim_writer = writer

    async def _output(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                try:
                    head = await reader.readexactly(8)
                except asyncio.IncompleteReadError:
                    break
                stream, size = HEADER.unpack(head)
                data = await reader.readexactly(size)
                if stream == 1 and not self.stdout or stream == 2 and not self.stderr:
                    continue
                await self.conn.write(head + data if self.mux and not self.tty else data)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._finish()

    async def _input(self, writer: asyncio.StreamWriter) -> None:
        keys = self.detach_keys
        matched = 0
        try:
            while True:
                data = await self.conn.read()
                if not data:
                    break
                if keys:
                    out = bytearray()
                    for b in data:
                        if b == keys[matched]:
                            matched += 1
                            if matched == len(keys):
                                self._finish(detached=True)
                                return
                            continue
                        if matched:
                            out += keys[:matched]
                            matched = 0
                        out.append(b)
                    data = bytes(out)
                if data:
                    writer.write(data)
                    await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass

    def abort(self) -> None:
        """The container will not start: end the session (the client sees EOF)."""
        self._finish()

    def _finish(self, detached: bool = False) -> None:
        if not self.done.done():
            self.done.set_result(detached)

    async def wait(self) -> bool:
        try:
            return await self.done
        finally:
            for t in self._tasks:
                t.cancel()
            w = getattr(self, "_shim_writer", None)
            if w is not None:
                w.close()


async def attach(c: "Container", conn: Hijacked, stdin: bool, stdout: bool, stderr: bool,
                 logs: bool, stream: bool, detach_keys: str, mux: bool = True) -> None:
    """mux=False sends the output raw even without a TTY, as docker's
    websocket attach does (the client cannot tell stdout from stderr)."""
    keys = parse_detach_keys(detach_keys)
    tty = bool(c.config.get("Tty")) or not mux
    if logs and c.log_path:
        from .logs import read_logs
        lc = c.host_config.get("LogConfig") or {}
        async for chunk in read_logs(c.log_path, lc.get("Type") or "json-file", lc.get("Config") or {}, tty,
                                     stdout, stderr, follow=False):
            await conn.write(chunk)
    if not stream:
        return
    session = AttachSession(c, conn, stdin, stdout, stderr, keys, mux=mux)
    if c.task is not None and c.is_running():
        await session.connect(c.task)
    elif c.status.value in ("created", "exited"):  # `start -a` attaches before it starts
        c.pending_attaches.append(session)
    else:
        # Attaching to a stopped container: nothing more will come.
        return
    try:
        await session.wait()
    finally:
        if session in c.pending_attaches:
            c.pending_attaches.remove(session)
