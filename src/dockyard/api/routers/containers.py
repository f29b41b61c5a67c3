"""/containers/... routes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ... import errdefs
from ..server.http import Request, Response, json_response
from ..server.router import Router, version_tuple

if TYPE_CHECKING:
    from typing import Any

    from ...daemon.daemon import Daemon


def _timeout(req: Request) -> int | None:
    t = req.query.get("t")
    if t in ("", None):
        return None
    try:
        return int(t)
    except ValueError:
        raise errdefs.InvalidArgument(f"invalid value for t: {t!r}") from None


async def _send_tar(req: Request, stream: Any, headers: dict[str, str] | None = None) -> None:
    """A tar stream from the daemon (archive GET, export) as the response body;
    the stream is closed however the client goes."""
    resp = req.stream_response_(200, "application/x-tar", headers)
    try:
        await resp.start()
        async for chunk in stream.chunks():
            await resp.write(chunk)
    finally:
        await stream.close()


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
        import asyncio
        return json_response(await asyncio.to_thread(svc.list, all_, limit, filters, req.query.bool("size")))

    async def get_container_json(req: Request) -> Response:
        import asyncio
        return json_response(await asyncio.to_thread(svc.inspect, req.match["id"], req.query.bool("size")))

    async def post_container_start(req: Request) -> Response:
        await req.read()
        try:
            await svc.start(req.match["id"])
        except errdefs.NotModified:
            return Response(304)
        return Response(204)

    async def post_container_stop(req: Request) -> Response:
        try:
            await svc.stop(req.match["id"], _timeout(req), req.query.get("signal") or None)
        except errdefs.NotModified:
            return Response(304)
        return Response(204)

    async def post_container_restart(req: Request) -> Response:
        await svc.restart(req.match["id"], _timeout(req), req.query.get("signal") or None)
        return Response(204)

    async def post_container_kill(req: Request) -> Response:
        await svc.kill(req.match["id"], req.query.get("signal") or None)
        return Response(204)

    async def post_container_pause(req: Request) -> Response:
        await svc.pause(req.match["id"])
        return Response(204)

    async def post_container_unpause(req: Request) -> Response:
        await svc.unpause(req.match["id"])
        return Response(204)

    async def post_container_rename(req: Request) -> Response:
        await svc.rename(req.match["id"], req.query.get("name"))
        return Response(204)

    async def post_container_update(req: Request) -> Response:
        body = await req.json(default={})
        return json_response(await svc.update(req.match["id"], body))

    async def post_container_resize(req: Request) -> Response:
        h, w = req.query.int("h", 0), req.query.int("w", 0)
        if h < 0 or w < 0:
            raise errdefs.InvalidArgument("invalid resize dimensions")
        await svc.resize(req.match["id"], h, w)
        return Response(200, b"", "text/plain; charset=utf-8")

    async def get_container_top(req: Request) -> Response:
        return json_response(await svc.top(req.match["id"], req.query.get("ps_args")))

    async def get_container_changes(req: Request) -> Response:
        return json_response(await svc.changes(req.match["id"]))

    async def post_containers_prune(req: Request) -> Response:
        from ...daemon.filters import normalize, prune_matches  # noqa: F401
        filters = normalize(req.query.json("filters", {}))
        for key in filters:
            if key not in ("until", "label", "label!"):
                raise errdefs.InvalidArgument(f"invalid filter '{key}'")
        return json_response(await svc.prune(filters))

    async def post_container_wait(req: Request) -> None:
        condition = req.query.get("condition", "not-running")
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise errdefs.InvalidArgument(f'invalid condition: "{condition}"')
        c = d.containers_store.get(req.match["id"])
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
        if req.query.bool("link"):
            raise errdefs.InvalidArgument("legacy links are not supported")
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
        keys = req.query.get("detachKeys")
        streams.parse_detach_keys(keys)
        conn = await req.hijack("application/vnd.docker.raw-stream" if tty
                                else "application/vnd.docker.multiplexed-stream")
        try:
            await streams.attach(c, conn, req.query.bool("stdin"), req.query.bool("stdout"),
                                 req.query.bool("stderr"), logs, stream, keys)
        finally:
            await conn.finish()
        return None

    async def get_container_attach_ws(req: Request) -> Response | None:
        """docker's websocket attach: the container's output raw (never
        multiplexed) in binary frames (text before API 1.28), stdin from the
        client's frames. Errors before the handshake get a status."""
        import asyncio

        from ...daemon import streams
        from ..server import websocket
        keys = req.query.get("detachKeys")
        streams.parse_detach_keys(keys)
        c = d.containers_store.get(req.match["id"])
        if c.status.value == "paused":
            raise errdefs.Conflict(f"container {req.match['id']} is paused, unpause the container before attach")
        if c.status.value == "restarting":
            raise errdefs.Conflict(f"container {req.match['id']} is restarting, wait until the container is running")
        problem = websocket.handshake_error(req.method, req.headers)
        if problem:
            return Response(400, problem.encode() + b"\n", "text/plain; charset=utf-8")
        # API versions before 1.42 always attach all three streams.
        new_api = version_tuple(req.api_version) >= (1, 42)
        stdin, stdout, stderr = ((req.query.bool("stdin"), req.query.bool("stdout"), req.query.bool("stderr"))
                                 if new_api else (True, True, True))
        raw = await req.switch_protocols({
            "Upgrade": "websocket", "Connection": "Upgrade",
            "Sec-WebSocket-Accept": websocket.accept_key(req.headers.get("sec-websocket-key"))})
        ws = websocket.WebSocket(raw, binary=version_tuple(req.api_version) >= (1, 28))
        attach = asyncio.create_task(streams.attach(c, ws, stdin, stdout, stderr, req.query.bool("logs"),
                                                    req.query.bool("stream"), keys, mux=False))
        # Without stdin nobody else reads the client's frames: watch them for
        # pings and the close. Either way a close ends the session.
        watch = [attach, asyncio.create_task(ws.peer_closed.wait())]
        if not stdin:
            watch.append(asyncio.create_task(ws.discard_until_closed()))
        try:
            await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in watch:
                t.cancel()
            await asyncio.gather(*watch, return_exceptions=True)
            await ws.close()
            raw.close()
        return None

    async def get_container_logs(req: Request) -> None:
        from ...daemon import logs as logread
        from ...daemon.timeutil import parse_time_filter
        c = d.containers_store.get(req.match["id"])
        stdout, stderr = req.query.bool("stdout"), req.query.bool("stderr")
        if not stdout and not stderr:
            raise errdefs.InvalidArgument("Bad parameters: you must choose at least one stream")
        lc = c.host_config.get("LogConfig") or {}
        driver = lc.get("Type") or "json-file"
        if driver not in ("json-file", "local"):
            raise errdefs.NotImplementedKind(
                f'configured logging driver does not support reading: "{driver}" logging driver')
        tail_s = req.query.get("tail", "all")
        tail = -1 if tail_s in ("", "all") else int(tail_s) if tail_s.lstrip("-").isdigit() else -1
        if tail < -1:
            tail = -1
        since = parse_time_filter(req.query.get("since")) if req.query.get("since") not in ("", "0") else 0.0
        until = parse_time_filter(req.query.get("until")) if req.query.get("until") not in ("", "0") else 0.0
        tty = bool(c.config.get("Tty"))
        resp = req.stream_response_(200, "application/vnd.docker.raw-stream" if tty
                                    else "application/vnd.docker.multiplexed-stream")
        await resp.start()
        async for chunk in logread.read_logs(c.log_path, driver, lc.get("Config") or {}, tty, stdout, stderr,
                                             req.query.bool("follow"), tail, since, until,
                                             req.query.bool("timestamps"), running=lambda: c.is_running()):
            await resp.write(chunk)
        return None

    async def get_container_stats(req: Request) -> None:
        stream = req.query.bool("stream", True)
        one_shot = req.query.bool("one-shot")
        gen = d.stats.stream(req.match["id"], stream, one_shot)
        first = await gen.__anext__()  # errors (404, 400) before the headers
        resp = req.stream_response_(200, "application/json")
        await resp.start()
        await resp.write_json(first)
        async for s in gen:
            await resp.write_json(s)
        return None

    async def container_archive(req: Request) -> Response | None:
        from ...daemon.archive import stat_header
        path = req.query.get("path")
        if not path:
            raise errdefs.InvalidArgument("Bad parameter: path is required")
        if req.method == "HEAD":
            info = await d.archive.stat(req.match["id"], path)
            return Response(200, b"", "", {"X-Docker-Container-Path-Stat": stat_header(info)})
        info, stream = await d.archive.get(req.match["id"], path)
        await _send_tar(req, stream, {"X-Docker-Container-Path-Stat": stat_header(info)})
        return None

    async def put_container_archive(req: Request) -> Response:
        path = req.query.get("path")
        if not path:
            raise errdefs.InvalidArgument("Bad parameter: path is required")
        await d.archive.put(req.match["id"], path, req.stream(), req.query.bool("noOverwriteDirNonDir"),
                            req.query.bool("copyUIDGID"))
        return Response(200, b"", "")

    async def get_container_export(req: Request) -> None:
        await _send_tar(req, await d.archive.export(req.match["id"]))
        return None

    async def post_commit(req: Request) -> Response:
        body = await req.json(default=None)
        ref = req.query.get("container")
        if not ref:
            raise errdefs.InvalidArgument("Bad parameter: container is required")
        res = await d.commits.commit(ref, req.query.get("repo"), req.query.get("tag"), req.query.get("comment"),
                                     req.query.get("author"), req.query.bool("pause", True),
                                     req.query.getall("changes"), body)
        return json_response(res, 201)

    r.post("/commit", post_commit)
    r.post("/containers/create", post_containers_create)
    r.get("/containers/json", get_containers_json)
    r.post("/containers/prune", post_containers_prune)
    r.get("/containers/{id}/json", get_container_json)
    r.get("/containers/{id}/top", get_container_top)
    r.get("/containers/{id}/logs", get_container_logs)
    r.get("/containers/{id}/changes", get_container_changes)
    r.get("/containers/{id}/export", get_container_export)
    r.get("/containers/{id}/stats", get_container_stats)
    r.post("/containers/{id}/resize", post_container_resize)
    r.post("/containers/{id}/start", post_container_start)
    r.post("/containers/{id}/stop", post_container_stop)
    r.post("/containers/{id}/restart", post_container_restart)
    r.post("/containers/{id}/kill", post_container_kill)
    r.post("/containers/{id}/update", post_container_update)
    r.post("/containers/{id}/rename", post_container_rename)
    r.post("/containers/{id}/pause", post_container_pause)
    r.post("/containers/{id}/unpause", post_container_unpause)
    r.post("/containers/{id}/attach", post_container_attach)
    r.add("GET", "/containers/{id}/attach/ws", get_container_attach_ws)  # GET only: a handshake
    r.post("/containers/{id}/wait", post_container_wait)
    r.get("/containers/{id}/archive", container_archive)
    r.put("/containers/{id}/archive", put_container_archive)
    r.delete("/containers/{id}", delete_container)
