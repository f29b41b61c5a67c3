"""Counters (served as /metrics in Prometheus text and /healthz as JSON) and
the structured access log: one JSON object per request on stderr."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.requests: Counter[tuple[str, int]] = Counter()   # (method, status)
        self.bytes_received = 0
        self.bytes_sent = 0
        self.uploads_in_flight = 0
        self.blobs_committed = 0
        self.manifests_pushed = 0
        self.uploads_expired = 0

    def observe(self, method: str, status: int, received: int, sent: int) -> None:
        self.requests[(method, status)] += 1
        self.bytes_received += received
        self.bytes_sent += sent

    def snapshot(self) -> dict[str, Any]:
        return {
            "uptime_seconds": round(time.time() - self.started, 3),
            "requests_total": sum(self.requests.values()),
            "requests": {f"{m} {s}": n for (m, s), n in sorted(self.requests.items())},
            "bytes_received": self.bytes_received,
            "bytes_sent": self.bytes_sent,
            "uploads_in_flight": self.uploads_in_flight,
            "blobs_committed": self.blobs_committed,
            "manifests_pushed": self.manifests_pushed,
            "uploads_expired": self.uploads_expired,
        }

    def prometheus(self) -> str:
        lines = ["# TYPE dockyard_registry_requests_total counter"]
        for (method, status), n in sorted(self.requests.items()):
            lines.append(f'dockyard_registry_requests_total{{method="{method}",status="{status}"}} {n}')
        for name, kind, value in (
                ("bytes_received_total", "counter", self.bytes_received),
                ("bytes_sent_total", "counter", self.bytes_sent),
                ("uploads_in_flight", "gauge", self.uploads_in_flight),
                ("blobs_committed_total", "counter", self.blobs_committed),
                ("manifests_pushed_total", "counter", self.manifests_pushed),
                ("uploads_expired_total", "counter", self.uploads_expired),
                ("uptime_seconds", "gauge", round(time.time() - self.started, 3))):
            lines.append(f"# TYPE dockyard_registry_{name} {kind}")
            lines.append(f"dockyard_registry_{name} {value}")
        return "\n".join(lines) + "\n"


def access_logger(metrics: Metrics, emit: bool) -> type[AbstractAccessLogger]:
    """The access logger class for aiohttp's runner, bound to the counters."""
    return type("BoundAccessLogger", (JsonAccessLogger,), {"metrics": metrics, "emit": emit})


class JsonAccessLogger(AbstractAccessLogger):
    """aiohttp calls this after each response is written, so the byte counts
    are final. Also feeds the counters."""

    metrics: Metrics | None = None
    emit = True

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        # sendfile bypasses body_length: count the body by its length then
        sent = response.content_length if response.content_length is not None else response.body_length
        received = request.get("bytes_in", 0)
        if self.metrics is not None:
            self.metrics.observe(request.method, response.status, received, sent)
        if not self.emit:
            return
        entry = {
            "time": _now(), "remote": request.remote, "method": request.method, "path": request.path_qs,
            "status": response.status, "bytes_in": received, "bytes_out": sent,
            "duration_ms": round(time * 1000, 3), "user": request.get("user", ""),
            "user_agent": request.headers.get("User-Agent", ""),
        }
        if "error" in request:
            entry["error"] = request["error"]
        sys.stderr.write(json.dumps(entry, separators=(",", ":")) + "\n")

    @property
    def enabled(self) -> bool:
        return True


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def setup_logging(level: str) -> logging.Logger:
    logger = logging.getLogger("dockyard.registry")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('{"time":"%(asctime)s","level":"%(levelname)s","msg":%(message)s}'))
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger


def log_event(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """A structured log line: msg and fields as JSON."""
    if logger.isEnabledFor(level):
        text = json.dumps(msg) + "".join(f',"{k}":{json.dumps(v, default=str)}' for k, v in fields.items())
        logger.log(level, text)
