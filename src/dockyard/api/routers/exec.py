"""/containers/{id}/exec and /exec/... routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import errdefs
from ..server.http import Request, Response, json_response
from ..server.router import Router, version_tuple

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon


def register(r: Router, d: "Daemon") -> None:
    async def post_container_exec(req: Request) -> Response:
        body = await req.json(default=None)
        if body is None:
            raise errdefs.InvalidArgument("No exec command specified")
        return json_response({"Id": d.execs.create(req.match["id"], body)}, 201)

    async def post_exec_start(req: Request) -> Response | None:
        body = await req.json(default={}) or {}
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("invalid exec start config")
        ec = d.execs.get(req.match["id"])
        detach = bool(body.get("Detach"))
        size = body.get("ConsoleSize")
        if size is not None and (not isinstance(size, list) or len(size) != 2):
            raise errdefs.InvalidArgument("invalid ConsoleSize: must be [height, width]")
        if detach:
            await d.execs.start(ec.id, True, None, console_size=size)
            return Response(200, b"", "")
        # Refuse what cannot start before hijacking, so the client gets a status.
        if ec.exit_code is not None:
            raise errdefs.Conflict(f"Error: Exec command {ec.id} has already run")
        if ec.started:
            raise errdefs.Conflict(f"Error: Exec command {ec.id} is already running")
        d.execs._runnable(d.containers_store.get(ec.container_id))
        upgrade = "upgrade" in req.headers.get("connection").lower()
        ctype = "application/vnd.docker.raw-stream"
        if upgrade and not ec.tty and version_tuple(req.api_version) >= (1, 42):
            ctype = "application/vnd.docker.multiplexed-stream"
        conn = await req.hijack(ctype)
        try:
            try:
                await d.execs.start(ec.id, False, conn, console_size=size)
            except errdefs.EngineError as e:
                # docker writes the failure into the stream (framed as stdout without a TTY).
                msg = (e.message + "\r\n").encode()
                if not ec.tty:
                    import struct
                    msg = struct.pack(">BxxxL", 1, len(msg)) + msg
                await conn.write(msg)
        finally:
            await conn.finish()
        return None

    async def post_exec_resize(req: Request) -> Response:
        await d.execs.resize(req.match["id"], req.query.int("h", 0), req.query.int("w", 0))
        return Response(200, b"", "text/plain; charset=utf-8")

    async def get_exec_json(req: Request) -> Response:
        return json_response(d.execs.inspect(req.match["id"]))

    r.post("/containers/{id}/exec", post_container_exec)
    r.post("/exec/{id}/start", post_exec_start)
    r.post("/exec/{id}/resize", post_exec_resize)
    r.get("/exec/{id}/json", get_exec_json)
