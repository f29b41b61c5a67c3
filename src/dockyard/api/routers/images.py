"""/images/... routes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
from typing import TYPE_CHECKING

from ... import errdefs
from ..server.http import Request, Response, json_response
from ..server.router import Router

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon


class _PipeReader(io.RawIOBase):
    """A blocking file object fed from the event loop: lets the synchronous
    core consume a request body as it arrives."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        self._rf = os.fdopen(self._r, "rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        return self._rf.readinto(b)

    def close(self) -> None:
        self._rf.close()
        super().close()


async def feed_body(req: Request, pipe: _PipeReader) -> None:
    w = pipe._w
    try:
        async for chunk in req.stream():
            view = memoryview(chunk)
            while view:
                n = await asyncio.to_thread(os.write, w, view)
                view = view[n:]
    finally:
        os.close(w)


def register(r: Router, d: "Daemon") -> None:
    images = d.images

    async def get_images_json(req: Request) -> Response:
        from ...daemon.filters import normalize
        filters = normalize(req.query.json("filters", {}))
        return json_response(await asyncio.to_thread(images.list, req.query.bool("all"), filters))

    async def get_image_json(req: Request) -> Response:
        return json_response(await asyncio.to_thread(images.inspect, req.match["name"]))

    async def post_images_create(req: Request) -> Response | None:
        src = req.query.get("fromSrc")
        if src:
            if src != "-":
                raise errdefs.NotImplementedKind("importing from a URL is not supported; use fromSrc=-")
            repo, tag = req.query.get("repo"), req.query.get("tag")
            changes = req.query.getall("changes")
            pipe = _PipeReader()
            feeder = asyncio.create_task(feed_body(req, pipe))
            try:
                img = await asyncio.to_thread(images.import_image, pipe, repo, tag, changes,
                                              req.query.get("message"), req.query.get("platform"))
            finally:
                pipe.close()
                try:
                    await feeder
                except (OSError, ConnectionError):
                    pass
            resp = req.stream_response_(200, "application/json")
            await resp.write_json({"status": img.id})
            return None
        image = req.query.get("fromImage")
        if not image:
            raise errdefs.InvalidArgument("fromImage or fromSrc is required")
        return await pull(req, image, req.query.get("tag"))

    async def pull(req: Request, image: str, tag: str) -> Response | None:
        raise errdefs.NotImplementedKind("pulling from a registry is not available in this build")

    async def post_image_tag(req: Request) -> Response:
        await asyncio.to_thread(images.tag, req.match["name"], req.query.get("repo"), req.query.get("tag"))
        return Response(201)

    r.get("/images/json", get_images_json)
    r.post("/images/create", post_images_create)
    r.get("/images/{name:.+}/json", get_image_json)
    r.post("/images/{name:.+}/tag", post_image_tag)
