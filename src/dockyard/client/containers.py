"""/containers/... and /exec/... endpoints."""

from __future__ import annotations

from .base import BaseClient, filters_param
from .transport import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable


class ContainersAPI(BaseClient):
    def container_create(self, config: dict[str, Any], name: str = "", platform: str = "") -> dict[str, Any]:
        q = {"name": name or None, "platform": platform or None}
        return self.post_json("/containers/create", q, config)

    def container_list(self, all_: bool = False, limit: int = -1, size: bool = False,
                       filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        q: dict[str, Any] = {"all": 1 if all_ else None, "limit": limit if limit > 0 else None,
                             "size": 1 if size else None, "filters": filters_param(filters)}
        return self.get_json("/containers/json", q)

    def container_inspect(self, cid: str, size: bool = False) -> dict[str, Any]:
        return self.get_json(f"/containers/{cid}/json", {"size": 1} if size else None)

    def container_start(self, cid: str, detach_keys: str | None = None) -> bool:
        """False when it was already started (304)."""
        return self.post_empty(f"/containers/{cid}/start", {"detachKeys": detach_keys}, ok=(204, 304)) == 204

    def container_stop(self, cid: str, timeout: int | None = None, signal: str | None = None) -> None:
        self.post_empty(f"/containers/{cid}/stop", {"t": timeout, "signal": signal}, ok=(204, 304))

    def container_restart(self, cid: str, timeout: int | None = None, signal: str | None = None) -> None:
        self.post_empty(f"/containers/{cid}/restart", {"t": timeout, "signal": signal})

    def container_kill(self, cid: str, signal: str | None = None) -> None:
        self.post_empty(f"/containers/{cid}/kill", {"signal": signal})

    def container_pause(self, cid: str) -> None:
        self.post_empty(f"/containers/{cid}/pause")

    def container_unpause(self, cid: str) -> None:
        self.post_empty(f"/containers/{cid}/unpause")

    def container_remove(self, cid: str, force: bool = False, volumes: bool = False, link: bool = False) -> None:
        self.delete(f"/containers/{cid}", {"force": 1 if force else None, "v": 1 if volumes else None,
                                            "link": 1 if link else None})

    def container_rename(self, cid: str, name: str) -> None:
        self.post_empty(f"/containers/{cid}/rename", {"name": name})

    def container_update(self, cid: str, update: dict[str, Any]) -> dict[str, Any]:
        return self.post_json(f"/containers/{cid}/update", None, update) or {}

    def container_resize(self, cid: str, height: int, width: int) -> None:
        self.post_empty(f"/containers/{cid}/resize", {"h": height, "w": width})

    def container_top(self, cid: str, ps_args: str | None = None) -> dict[str, Any]:
        return self.get_json(f"/containers/{cid}/top", {"ps_args": ps_args or None})

    def container_changes(self, cid: str) -> list[dict[str, Any]]:
        return self.get_json(f"/containers/{cid}/changes") or []

    def container_export(self, cid: str) -> Response:
        return self.request("GET", f"/containers/{cid}/export")

    def container_stats(self, cid: str, stream: bool = True, one_shot: bool = False) -> Response:
        return self.request("GET", f"/containers/{cid}/stats",
                            {"stream": 1 if stream else 0, "one-shot": 1 if one_shot else None})

    def container_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return self.post_json("/containers/prune", {"filters": filters_param(filters)}) or {}

    def container_wait_open(self, cid: str, condition: str = "not-running") -> Response:
        """Start a wait; read the result later with wait_result (the daemon
        answers headers at once, the body when the condition is met)."""
        return self.request("POST", f"/containers/{cid}/wait", {"condition": condition})

    @staticmethod
    def wait_result(resp: Response) -> dict[str, Any]:
        from . import jsonfast
        return jsonfast.loads(resp.read())

    def container_attach(self, cid: str, stdin: bool, stdout: bool, stderr: bool, stream: bool = True,
                         logs: bool = False, detach_keys: str | None = None) -> tuple[Any, bytes]:
        q = {"stream": int(stream), "stdin": int(stdin), "stdout": int(stdout), "stderr": int(stderr),
             "logs": int(logs), "detachKeys": detach_keys or None}
        return self.hijack(f"/containers/{cid}/attach", q)

    def container_logs(self, cid: str, query: dict[str, Any]) -> Response:
        return self.request("GET", f"/containers/{cid}/logs", query)

    # -- archive (docker cp) ----------------------------------------------------
    def archive_stat(self, cid: str, path: str) -> dict[str, Any]:
        """HEAD /archive: the X-Docker-Container-Path-Stat header, decoded."""
        import base64
        from . import jsonfast
        from .. import errdefs
        try:
            resp = self.request("HEAD", f"/containers/{cid}/archive", {"path": path})
        except errdefs.NotFound as e:
            if e.message.startswith("404"):  # HEAD answers carry no message
                raise errdefs.NotFound(f"No such container:path: {cid}:{path}") from None
            raise
        resp.close()
        raw = resp.headers.get("x-docker-container-path-stat", "")
        return jsonfast.loads(base64.b64decode(raw)) if raw else {}

    def archive_get(self, cid: str, path: str) -> Response:
        return self.request("GET", f"/containers/{cid}/archive", {"path": path})

    def archive_put(self, cid: str, path: str, tar: bytes | Iterable[bytes], no_overwrite_dir_non_dir: bool = False,
                    copy_uid_gid: bool = False) -> None:
        q = {"path": path, "noOverwriteDirNonDir": "true" if no_overwrite_dir_non_dir else None,
             "copyUIDGID": "true" if copy_uid_gid else None}
        self.request("PUT", f"/containers/{cid}/archive", q, body=tar,
                     headers={"Content-Type": "application/x-tar"}).read()

    # -- commit -------------------------------------------------------------------
    def commit(self, cid: str, repo: str = "", tag: str = "", comment: str = "", author: str = "",
               pause: bool = True, changes: list[str] | None = None,
               config: dict[str, Any] | None = None) -> dict[str, Any]:
        q = {"container": cid, "repo": repo or None, "tag": tag or None, "comment": comment or None,
             "author": author or None, "pause": "true" if pause else "false", "changes": changes or None}
        return self.post_json("/commit", q, config or {})

    # -- exec ---------------------------------------------------------------------
    def exec_create(self, cid: str, config: dict[str, Any]) -> dict[str, Any]:
        return self.post_json(f"/containers/{cid}/exec", None, config)

    def exec_start_detached(self, exec_id: str, tty: bool = False) -> None:
        self.request("POST", f"/exec/{exec_id}/start", json_body={"Detach": True, "Tty": tty}).read()

    def exec_start_attached(self, exec_id: str, tty: bool = False) -> tuple[Any, bytes]:
        return self.hijack(f"/exec/{exec_id}/start", json_body={"Detach": False, "Tty": tty})

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return self.get_json(f"/exec/{exec_id}/json")

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self.post_empty(f"/exec/{exec_id}/resize", {"h": height, "w": width})
