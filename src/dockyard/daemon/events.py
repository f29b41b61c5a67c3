"""The event bus behind GET /events: a bounded in-memory history plus live
subscribers, in docker's event message format."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

HISTORY = 1024


class Events:
    def __init__(self) -> None:
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict[str, str] | None = None,
                scope: str = "local") -> dict[str, Any]:
        now = time.time_ns()
        ev: dict[str, Any] = {
            "Type": type_, "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
            "scope": scope, "time": now // 1_000_000_000, "timeNano": now,
        }
        if type_ == "container":
            # The pre-1.22 fields docker still sends.
            ev["status"] = action
            ev["id"] = actor_id
            ev["from"] = (attributes or {}).get("image", "")
        self._history.append(ev)
        for q in list(self._subscribers):
            try:
                q.put_nowait(ev)
            except asyncio.QueueFull:
                pass
        return ev

    def history(self, since_ns: int = 0, until_ns: int | None = None) -> list[dict[str, Any]]:
        return [e for e in self._history if e["timeNano"] >= since_ns and (until_ns is None or e["timeNano"] <= until_ns)]

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10000)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(q)
