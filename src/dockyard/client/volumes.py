"""/volumes/... endpoints."""

from __future__ import annotations

from .base import BaseClient, filters_param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class VolumesAPI(BaseClient):
    def volume_create(self, config: dict[str, Any]) -> dict[str, Any]:
        return self.post_json("/volumes/create", None, config)

    def volume_list(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return self.get_json("/volumes", {"filters": filters_param(filters)}) or {}

    def volume_inspect(self, name: str) -> dict[str, Any]:
        return self.get_json(f"/volumes/{name}")

    def volume_remove(self, name: str, force: bool = False) -> None:
        self.delete(f"/volumes/{name}", {"force": "true" if force else None})

    def volume_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return self.post_json("/volumes/prune", {"filters": filters_param(filters)}) or {}
