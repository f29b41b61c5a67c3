"""/images/... endpoints (the images helper extends this module)."""

from __future__ import annotations

from .base import BaseClient, filters_param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Iterator


class ImagesAPI(BaseClient):
    def image_list(self, all_: bool = False, filters: dict[str, list[str]] | None = None,
                   digests: bool = False) -> list[dict[str, Any]]:
        q: dict[str, Any] = {"all": 1 if all_ else None, "filters": filters_param(filters),
                             "digests": 1 if digests else None}
        return self.get_json("/images/json", q)

    def image_inspect(self, ref: str) -> dict[str, Any]:
        return self.get_json(f"/images/{ref}/json")

    def image_import(self, source: Iterable[bytes], repo: str = "", tag: str = "", changes: list[str] | None = None,
                     message: str = "", platform: str = "") -> Iterator[dict[str, Any]]:
        q: dict[str, Any] = {"fromSrc": "-", "repo": repo or None, "tag": tag or None, "message": message or None,
                             "platform": platform or None, "changes": changes or None}
        resp = self.request("POST", "/images/create", q, body=source,
                            headers={"Content-Type": "application/x-tar"})
        return self.json_stream(resp)

    def image_create_from(self, ref: str, tag: str = "", platform: str = "",
                          auth_header: str | None = None) -> Iterator[dict[str, Any]]:
        """POST /images/create?fromImage= (pull): docker's JSON progress stream."""
        q = {"fromImage": ref, "tag": tag or None, "platform": platform or None}
        headers = {"X-Registry-Auth": auth_header} if auth_header else None
        return self.json_stream(self.request("POST", "/images/create", q, headers=headers))

    def image_tag(self, ref: str, repo: str, tag: str = "") -> None:
        self.post_empty(f"/images/{ref}/tag", {"repo": repo, "tag": tag or None})

    def image_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return self.post_json("/images/prune", {"filters": filters_param(filters)}) or {}
