"""Helpers shared by commands: the client, daemon error reporting."""

from __future__ import annotations

from typing import Any, Callable

from ... import errdefs
from ..errors import CLIError
from ..main import Parser, client

__all__ = ["Parser", "client", "daemon_call", "daemon_error"]


def daemon_error(e: errdefs.EngineError, status: int = 1) -> CLIError:
    from ...client import DaemonUnreachable
    if isinstance(e, DaemonUnreachable):
        return CLIError(e.message, status)
    return CLIError(f"Error response from daemon: {e.message}", status)


def daemon_call(fn: Callable[..., Any], *args: Any, status: int = 1, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except errdefs.EngineError as e:
        raise daemon_error(e, status) from None
