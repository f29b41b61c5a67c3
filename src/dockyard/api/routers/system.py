"""/_ping, /version, /info, /events."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from ...apitypes import API_VERSION
from ..server.http import Request, Response, json_response
from ..server.router import Router, version_tuple

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon

PING_HEADERS = {"API-Version": API_VERSION, "OSType": "linux", "Docker-Experimental": "false",
                "Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


def register(r: Router, d: "Daemon") -> None:
    async def ping(req: Request) -> Response:
        if req.method == "HEAD":
            return Response(200, b"", "text/plain; charset=utf-8", dict(PING_HEADERS, **{"Content-Length": "0"}))
        return Response(200, b"OK", "text/plain; charset=utf-8", PING_HEADERS)

    async def version(req: Request) -> Response:
        from ...daemon import system
        return json_response(system.version(d))

    async def info(req: Request) -> Response:
        from ...daemon import system
        return json_response(await asyncio.to_thread(system.info, d))

    async def system_df(req: Request) -> Response:
        from ...daemon import system
        types = req.query.getall("type")
        usage = await asyncio.to_thread(system.disk_usage, d, types)
        if "BuildCache" in usage and version_tuple(req.api_version) < (1, 42):
            # API 1.42 dropped the field; older clients still read it.
            usage["BuilderSize"] = sum(b["Size"] for b in usage["BuildCache"] or [])
        return json_response(usage)

    async def events(req: Request) -> None:
        from ...daemon.filters import normalize
        from ...daemon.timeutil import parse_time_filter
        import time
        since = parse_time_filter(req.query.get("since")) if req.query.get("since") else None
        until = parse_time_filter(req.query.get("until")) if req.query.get("until") else None
        # docker checks no event filter: an unknown key matches everything, an unknown type nothing.
        filters = normalize(req.query.json("filters", {}))
        if since is not None and until is not None and until < since:
            from ... import errdefs
            raise errdefs.InvalidArgument(f"`since` time ({req.query.get('since')}) cannot be after "
                                          f"`until` time ({req.query.get('until')})")
        resp = req.stream_response_(200, "application/json")
        await resp.start()

        def match(ev: dict) -> bool:
            for key, values in filters.items():
                if key == "type" and ev["Type"] not in values:
                    return False
                if key == "event" and ev["Action"] not in values and ev["Action"].split(":")[0] not in values:
                    return False
                if key in ("container", "image", "volume", "network"):
                    if ev["Type"] != key and not (key == "image" and ev["Type"] == "container"):
                        return False
                    ids = {ev["Actor"]["ID"], ev["Actor"]["Attributes"].get("name", "")}
                    if key == "image":
                        ids.add(ev["Actor"]["Attributes"].get("image", ""))
                    if not any(v in ids or ev["Actor"]["ID"].startswith(v) for v in values):
                        return False
                if key == "scope" and ev.get("scope", "local") not in values:
                    return False
                if key == "daemon" and ev["Type"] != "daemon":
                    return False
                if key == "label":
                    attrs = ev["Actor"]["Attributes"]
                    for v in values:
                        k, eq, val = v.partition("=")
                        if k not in attrs or (eq and attrs[k] != val):
                            return False
            return True

        q = d.events.subscribe()
        replayed: set[int] = set()
        try:
            if since is not None:
                for ev in d.events.history(int(since * 1e9), int(until * 1e9) if until else None):
                    replayed.add(id(ev))
                    if match(ev):
                        await resp.write(json.dumps(ev).encode() + b"\n")
            while True:
                timeout = None if until is None else until - time.time()
                if timeout is not None and timeout <= 0:
                    break
                try:
                    ev = await asyncio.wait_for(q.get(), timeout)
                except asyncio.TimeoutError:
                    break
                if id(ev) in replayed:
                    continue
                if match(ev):
                    await resp.write(json.dumps(ev).encode() + b"\n")
        finally:
            d.events.unsubscribe(q)
        return None

    r.get("/_ping", ping)
    r.get("/version", version)
    r.get("/info", info)
    r.get("/events", events)
    r.get("/system/df", system_df)
