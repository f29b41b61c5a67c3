"""/images/... endpoints and /auth, /distribution (registry credentials
from docker's config.json ride along as X-Registry-Auth)."""

from __future__ import annotations

from .base import BaseClient, filters_param
from .transport import Response

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

    def image_tag(self, ref: str, repo: str, tag: str = "") -> None:
        self.post_empty(f"/images/{ref}/tag", {"repo": repo, "tag": tag or None})

    def image_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return self.post_json("/images/prune", {"filters": filters_param(filters)}) or {}

    def _registry_auth(self, ref: str, auth: dict[str, str] | None) -> dict[str, str]:
        """X-Registry-Auth from auth, else from docker's config.json for the
        reference's registry (as docker's CLI sends it)."""
        from ..registry.client import dockerconfig
        if auth is None:
            from ..oci.reference import split_domain
            domain = split_domain(ref.split("@", 1)[0])[0]
            try:
                auth = dockerconfig.get_credentials(domain)
            except dockerconfig.HelperError:
                raise  # as docker: a broken credential helper fails the command
            except ValueError:  # an unreadable config.json: no credentials
                auth = None
        return {"X-Registry-Auth": dockerconfig.encode_auth(auth)} if auth else {}

    def image_pull(self, image: str, tag: str = "", platform: str = "",
                   auth: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        q = {"fromImage": image, "tag": tag or None, "platform": platform or None}
        resp = self.request("POST", "/images/create", q, headers=self._registry_auth(image, auth))
        return self.json_stream(resp)

    def image_push(self, name: str, tag: str = "", auth: dict[str, str] | None = None,
                   platform: str = "") -> Iterator[dict[str, Any]]:
        """`platform`: an OCI platform as JSON, to push one platform's manifest (API 1.46)."""
        resp = self.request("POST", f"/images/{name}/push", {"tag": tag or None, "platform": platform or None},
                            headers=self._registry_auth(name, auth) or {"X-Registry-Auth": "e30="})
        return self.json_stream(resp)

    def image_remove(self, ref: str, force: bool = False, noprune: bool = False,
                     platforms: list[str] | None = None) -> list[dict[str, str]]:
        """`platforms`: OCI platforms as JSON, to remove only those (API 1.50)."""
        resp = self.request("DELETE", f"/images/{ref}", {"force": int(force), "noprune": int(noprune),
                                                         "platforms": platforms or None})
        from . import jsonfast  # after the request (see base.get_json)
        return jsonfast.loads(resp.read())

    def image_history(self, ref: str, platform: str = "") -> list[dict[str, Any]]:
        """`platform`: an OCI platform as JSON (API 1.48)."""
        return self.get_json(f"/images/{ref}/history", {"platform": platform or None})

    def image_save(self, names: list[str], platforms: list[str] | None = None) -> Response:
        """The archive as a streaming response (read it in chunks);
        `platforms`: OCI platforms as JSON (API 1.48)."""
        return self.request("GET", "/images/get", {"names": names, "platform": platforms or None})

    def image_load(self, source: Iterable[bytes], quiet: bool = False,
                   platforms: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """`platforms`: OCI platforms as JSON, to load only those (API 1.48)."""
        resp = self.request("POST", "/images/load", {"quiet": int(quiet), "platform": platforms or None}, body=source,
                            headers={"Content-Type": "application/x-tar"})
        return self.json_stream(resp)

    def login(self, username: str, password: str, server: str = "") -> dict[str, Any]:
        return self.post_json("/auth", body={"username": username, "password": password,
                                             "serveraddress": server})

    def distribution_inspect(self, ref: str) -> dict[str, Any]:
        resp = self.request("GET", f"/distribution/{ref}/json", headers=self._registry_auth(ref, None))
        from . import jsonfast
        return jsonfast.loads(resp.read())
