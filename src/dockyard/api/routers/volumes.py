"""/volumes routes."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ... import errdefs
from ..server.http import Request, Response, json_response
from ..server.router import Router

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon


def register(r: Router, d: "Daemon") -> None:
    vs = d.volumes

    async def get_volumes(req: Request) -> Response:
        from ...daemon.filters import normalize
        return json_response(await asyncio.to_thread(vs.list, normalize(req.query.json("filters", {}))))

    async def post_volumes_create(req: Request) -> Response:
        body = await req.json(default={}) or {}
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("invalid volume create request: must be an object")
        if body.get("ClusterVolumeSpec"):
            raise errdefs.Unavailable("This node is not a swarm manager. Use \"docker swarm init\" or \"docker "
                                      "swarm join\" to connect this node to swarm and try again.")
        res = await asyncio.to_thread(vs.create, body.get("Name") or "", body.get("Driver") or "",
                                      body.get("DriverOpts"), body.get("Labels"))
        return json_response(res, 201)

    async def get_volume(req: Request) -> Response:
        return json_response(vs.inspect(req.match["name"]))

    async def delete_volume(req: Request) -> Response:
        await asyncio.to_thread(vs.remove, req.match["name"], req.query.bool("force"))
        return Response(204)

    async def post_volumes_prune(req: Request) -> Response:
        from ...daemon.filters import normalize
        res = await asyncio.to_thread(vs.prune, normalize(req.query.json("filters", {})))
        d.events.publish("volume", "prune", "", {"reclaimed": str(res["SpaceReclaimed"])})
        return json_response(res)

    async def put_volume(req: Request) -> Response:
        raise errdefs.Unavailable("volume updates are only for cluster volumes: this node is not a swarm manager")

    r.get("/volumes", get_volumes)
    r.post("/volumes/create", post_volumes_create)
    r.post("/volumes/prune", post_volumes_prune)
    r.get("/volumes/{name}", get_volume)
    r.put("/volumes/{name}", put_volume)
    r.delete("/volumes/{name}", delete_volume)
