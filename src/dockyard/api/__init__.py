"""The Docker Engine API server: an HTTP server (h11 on asyncio, with
docker's hijacked streams) and one router per resource. Routers reach the
daemon only through its service objects."""

from ..apitypes import API_VERSION, MIN_API_VERSION

__all__ = ["API_VERSION", "MIN_API_VERSION"]
