"""/containers/... routes."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ... import errdefs
from ..server.http import Request, Response, json_response
from ..server.router import Router, version_tuple

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon


def register(r: Router, d: "Daemon") -> None:
    svc = d.containers

    async def post_containers_create(req: Request) -> Response:
        body = await req.json(default=None)
        if body is None:
            raise errdefs.InvalidArgument("config cannot be empty in order to create a container")
        res = await svc.create(req.query.get("name"), body)
        return json_response(res, 201)

    async def get_containers_json(req: Request) -> Response:
        from ...daemon.filters import normalize
        filters = normalize(req.query.json("filters", {}))
        limit = req.query.int("limit", -1)
        all_ = req.query.bool("all") or limit > 0
        return json_response(svc.list(all_, limit, filters, req.query.bool("size")))

    async def get_container_json(req: Request) -> Response:
        return json_response(svc.inspect(req.match["id"]))

    async def post_container_start(req: Request) -> Response:
        await req.read()
        try:
            await svc.start(req.match["id"])
        except errdefs.NotModified:
            return Response(304)
        return Response(204)

    async def post_container_stop(req: Request) -> Response:
        t = req.query.get("t")
        try:
            await svc.stop(req.match["id"], int(t) if t not in ("", None) else None, req.query.get("signal") or None)
        except errdefs.NotModified:
            return Response(304)
        except ValueError:
            raise errdefs.InvalidArgument(f"invalid value for t: {t!r}") from None
        return Response(204)

    async def post_container_kill(req: Request) -> Response:
        await svc.kill(req.match["id"], req.query.get("signal") or None)
        return Response(204)

    async def post_container_wait(req: Request) -> None:
        c = d.containers_store.get(req.match["id"])
        condition = req.query.get("condition", "not-running")
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise errdefs.InvalidArgument(f"invalid condition: {condition!r}")
        # Headers go out at once (the CLI waits for them before starting the
        # container); the body follows when the condition is met.
        resp = req.stream_response_(200, "application/json")
        await resp.start()
        code, err = await svc.wait(c.id, condition)
        body = {"StatusCode": code, "Error": {"Message": err} if err else None}
        if version_tuple(req.api_version) < (1, 30):
            body.pop("Error")
        await resp.write_json(body)

    async def delete_container(req: Request) -> Response:
        await svc.remove(req.match["id"], req.query.bool("force"), req.query.bool("v"))
        return Response(204)

    async def post_container_attach(req: Request) -> None:
        from ...daemon import streams
        c = d.containers_store.get(req.match["id"])
        tty = bool(c.config.get("Tty"))
        stream = req.query.bool("stream")
        logs = req.query.bool("logs")
        if not stream and not logs:
            raise errdefs.InvalidArgument("Bad parameters: you must choose at least one stream")
        conn = await req.hijack("application/vnd.docker.raw-stream" if tty
                                else "application/vnd.docker.multiplexed-stream")
        try:
            await streams.attach(c, conn, req.query.bool("stdin"), req.query.bool("stdout"),
                                 req.query.bool("stderr"), logs, stream, req.query.get("detachKeys"), c.log_path)
        finally:
            try:
                await conn.writer.drain()
            except Exception:
                pass
            conn.close()
        return None

    async def get_container_logs(req: Request) -> None:
        from ...daemon import streams
        from ...daemon.timeutil import parse_time_filter
        c = d.containers_store.get(req.match["id"])
        stdout, stderr = req.query.bool("stdout"), req.query.bool("stderr")
        if not stdout and not stderr:
            raise errdefs.InvalidArgument("Bad parameters: you must choose at least one stream")
        lc = (c.host_config.get("LogConfig") or {}).get("Type", "json-file")
        if lc not in ("json-file", "local"):
            raise errdefs.NotImplementedKind(
                f'configured logging driver does not support reading: "{lc}" logging driver')
        tail_s = req.query.get("tail", "all")
        tail = -1 if tail_s in ("", "all") else int(tail_s) if tail_s.lstrip("-").isdigit() else -1
        since = parse_time_filter(req.query.get("since")) if req.query.get("since") not in ("", "0") else 0.0
        until = parse_time_filter(req.query.get("until")) if req.query.get("until") not in ("", "0") else 0.0
        tty = bool(c.config.get("Tty"))
        resp = req.stream_response_(200, "application/vnd.docker.raw-stream" if tty
                                    else "application/vnd.docker.multiplexed-stream")
        await resp.start()
        async for chunk in streams.read_logs(c.log_path, tty, stdout, stderr, req.query.bool("follow"), tail,
                                             since, until, req.query.bool("timestamps"),
                                             running=lambda: c.is_running()):
            await resp.write(chunk)
        return None

    r.post("/containers/create", post_containers_create)
    r.get("/containers/json", get_containers_json)
    r.get("/containers/{id}/json", get_container_json)
    r.post("/containers/{id}/start", post_container_start)
    r.post("/containers/{id}/stop", post_container_stop)
    r.post("/containers/{id}/kill", post_container_kill)
    r.post("/containers/{id}/wait", post_container_wait)
    r.post("/containers/{id}/attach", post_container_attach)
    r.get("/containers/{id}/logs", get_container_logs)
    r.delete("/containers/{id}", delete_container)
