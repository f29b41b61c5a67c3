"""/build and /build/prune."""

from __future__ import annotations

from .base import BaseClient, filters_param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Iterator


class BuildAPI(BaseClient):
    def image_build(self, context: Iterable[bytes] | bytes | None, query: dict[str, Any],
                    registry_config: str = "") -> Iterator[dict[str, Any]]:
        """POST /build: the context tarball (streamed), docker's query
        parameters; yields the JSON messages of the build."""
        headers = {"Content-Type": "application/x-tar"}
        if registry_config:
            headers["X-Registry-Config"] = registry_config
        resp = self.request("POST", "/build", query, body=context, headers=headers)
        try:
            yield from self.json_stream(resp)
        finally:
            resp.close()

    def build_prune(self, all_: bool = False, filters: dict[str, list[str]] | None = None,
                    keep_storage: int = 0) -> dict[str, Any]:
        q: dict[str, Any] = {"all": int(all_), "filters": filters_param(filters),
                             "keep-storage": keep_storage or None}
        return self.post_json("/build/prune", q) or {}
