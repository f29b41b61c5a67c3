"""/networks/... routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import errdefs
from ..server.http import Request, Response, json_response
from ..server.router import Router

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon


def register(r: Router, d: "Daemon") -> None:
    svc = d.networks

    async def get_networks(req: Request) -> Response:
        from ...daemon.filters import normalize
        return json_response(svc.list(normalize(req.query.json("filters", {}))))

    async def get_network(req: Request) -> Response:
        return json_response(svc.inspect(req.match["id"], req.query.get("scope") or ""))

    async def post_networks_create(req: Request) -> Response:
        body = await req.json(default=None)
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("invalid network config: request body must be a JSON object")
        return json_response(await svc.create(body), 201)

    async def delete_network(req: Request) -> Response:
        await svc.remove(req.match["id"])
        return Response(204)

    async def post_network_connect(req: Request) -> Response:
        body = await req.json(default=None)
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("invalid request body")
        await svc.connect(req.match["id"], body)
        return Response(200)

    async def post_network_disconnect(req: Request) -> Response:
        body = await req.json(default=None)
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("invalid request body")
        await svc.disconnect(req.match["id"], body)
        return Response(200)

    async def post_networks_prune(req: Request) -> Response:
        from ...daemon.filters import normalize
        await req.read()
        return json_response(await svc.prune(normalize(req.query.json("filters", {}))))

    r.get("/networks", get_networks)
    r.get("/networks/", get_networks)
    r.post("/networks/create", post_networks_create)
    r.post("/networks/prune", post_networks_prune)
    r.get("/networks/{id}", get_network)
    r.delete("/networks/{id}", delete_network)
    r.post("/networks/{id}/connect", post_network_connect)
    r.post("/networks/{id}/disconnect", post_network_disconnect)
