"""/networks/... endpoints."""

from __future__ import annotations

from .base import BaseClient, filters_param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class NetworksAPI(BaseClient):
    def network_create(self, config: dict[str, Any]) -> dict[str, Any]:
        return self.post_json("/networks/create", None, config)

    def network_list(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        return self.get_json("/networks", {"filters": filters_param(filters)}) or []

    def network_inspect(self, name: str, verbose: bool = False, scope: str = "") -> dict[str, Any]:
        return self.get_json(f"/networks/{name}", {"verbose": "true" if verbose else None, "scope": scope or None})

    def network_remove(self, name: str) -> None:
        self.delete(f"/networks/{name}")

    def network_connect(self, name: str, container: str, endpoint: dict[str, Any] | None = None) -> None:
        self.post_json(f"/networks/{name}/connect", None, {"Container": container, "EndpointConfig": endpoint or {}})

    def network_disconnect(self, name: str, container: str, force: bool = False) -> None:
        self.post_json(f"/networks/{name}/disconnect", None, {"Container": container, "Force": force})

    def network_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return self.post_json("/networks/prune", {"filters": filters_param(filters)}) or {}
