"""Healthchecks (moby daemon/health.go): a probe runs in the container every
Interval (StartInterval during the start period), its result joins the last
five in State.Health.Log, and the status moves between starting, healthy and
unhealthy, each change announced as a `health_status: <status>` event."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from .container import Container, Status
from .timeutil import now_rfc3339, parse_rfc3339

if TYPE_CHECKING:
    from .daemon import Daemon

log = logging.getLogger("dockyard.daemon")

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_INTERVAL = 5.0
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096


def _secs(ns: Any, default: float) -> float:
    return ns / 1e9 if ns else default


def probe_command(c: Container) -> list[str] | None:
    hc = c.config.get("Healthcheck") or {}
    test = hc.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:]) or None
    if test[0] == "CMD-SHELL":
        shell = c.config.get("Shell") or ["/bin/sh", "-c"]
        return list(shell) + [" ".join(test[1:])]
    return None


class HealthMonitor:
    def __init__(self, daemon: "Daemon") -> None:
        self.d = daemon

    def on_start(self, c: Container, restored: bool = False) -> None:
        if probe_command(c) is None:
            c.state.health = None
            return
        if not restored or not c.state.health:
            c.state.health = {"Status": "starting", "FailingStreak": 0, "Log": []}
        self.on_stop(c)
        c.health_task = asyncio.create_task(self._loop(c))

    def on_stop(self, c: Container) -> None:
        if c.health_task is not None and not c.health_task.done():
            if c.health_task is not asyncio.current_task():
                c.health_task.cancel()
        c.health_task = None

    async def _loop(self, c: Container) -> None:
        hc = c.config.get("Healthcheck") or {}
        interval = _secs(hc.get("Interval"), DEFAULT_INTERVAL)
        start_interval = _secs(hc.get("StartInterval"), DEFAULT_START_INTERVAL)
        start_period = _secs(hc.get("StartPeriod"), 0.0)
        timeout = _secs(hc.get("Timeout"), DEFAULT_TIMEOUT)
        retries = int(hc.get("Retries") or DEFAULT_RETRIES)
        try:
            while True:
                started = parse_rfc3339(c.state.started_at)
                in_start = start_period and time.time() - started < start_period
                await asyncio.sleep(start_interval if in_start and (c.state.health or {}).get("Status") == "starting"
                                    else interval)
                if c.status is not Status.RUNNING or c.task is None:
                    if c.status is Status.PAUSED:
                        continue
                    return
                await self._probe(c, timeout, retries, start_period)
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("healthcheck of %s", c.short_id)

    async def _probe(self, c: Container, timeout: float, retries: int, start_period: float) -> None:
        cmd = probe_command(c)
        if cmd is None:
            return
        start = now_rfc3339()
        try:
            code, output = await self.d.execs.run_probe(c, cmd, timeout, MAX_OUTPUT)
        except Exception as e:  # the probe could not run: that is a failure
            code, output = -1, str(getattr(e, "message", e))
        h = c.state.health
        if h is None or c.status is not Status.RUNNING:
            return
        old = h.get("Status")
        h.setdefault("Log", []).append({"Start": start, "End": now_rfc3339(), "ExitCode": code, "Output": output})
        h["Log"] = h["Log"][-MAX_LOG_ENTRIES:]
        if code == 0:
            h["FailingStreak"] = 0
            h["Status"] = "healthy"
        else:
            increment = True
            if old == "starting" and start_period:
                if parse_rfc3339(start) - parse_rfc3339(c.state.started_at) < start_period:
                    increment = False
            if increment:
                h["FailingStreak"] = int(h.get("FailingStreak") or 0) + 1
                if h["FailingStreak"] >= retries:
                    h["Status"] = "unhealthy"
        self.d.containers_store.save(c)
        if h["Status"] != old:
            self.d.events.publish("container", f"health_status: {h['Status']}", c.id, self.d.containers._attrs(c))
