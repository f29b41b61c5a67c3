"""/_ping, /version, /info, /events, /system/df."""

from __future__ import annotations

from .base import BaseClient, filters_param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator


class SystemAPI(BaseClient):
    def ping(self) -> dict[str, str]:
        resp = self.request("GET", "/_ping")
        resp.read()
        return resp.headers

    def api_version(self) -> str:
        """The API version requests use, as docker's client negotiates it:
        DOCKER_API_VERSION when set, else the lower of ours and the daemon's."""
        if self.version:
            return self.version
        from ..apitypes import API_VERSION
        theirs = self.ping().get("api-version", "")
        try:
            older = tuple(map(int, theirs.split("."))) < tuple(map(int, API_VERSION.split(".")))
        except ValueError:
            return API_VERSION
        return theirs if older else API_VERSION

    def version_info(self) -> dict[str, Any]:
        return self.get_json("/version")

    def info(self) -> dict[str, Any]:
        return self.get_json("/info")

    def events(self, query: dict | None = None, since: str | None = None, until: str | None = None,
               filters: dict[str, list[str]] | None = None) -> Iterator[dict[str, Any]]:
        q = dict(query or {})
        q.update({"since": since or None, "until": until or None, "filters": filters_param(filters)})
        return self.json_stream(self.request("GET", "/events", q))

    def system_df(self, types: list[str] | None = None) -> dict[str, Any]:
        return self.get_json("/system/df", {"type": types or None})
