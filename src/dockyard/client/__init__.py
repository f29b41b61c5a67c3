"""The Engine API client: HTTP/1.1 spoken directly over the daemon's socket
(unix, or TCP with TLS), one method per endpoint. Lean on purpose: the CLI
starts for every command."""

from .api import APIClient, APIError, DaemonUnreachable

__all__ = ["APIClient", "APIError", "DaemonUnreachable"]
