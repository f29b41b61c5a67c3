"""The error codes of the distribution-spec ("Error Codes" table) and the
JSON body every 4xx carries: {"errors": [{"code", "message", "detail"}]}."""

from __future__ import annotations

import json
from typing import Any

# code -> (default HTTP status, message from the spec's table)
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown to registry"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "the operation is unsupported"),
    "TOOMANYREQUESTS": (429, "too many requests"),
}


class RegistryError(Exception):
    """An error the API reports to the client with the spec's code."""

    def __init__(self, code: str, detail: Any = None, status: int | None = None,
                 message: str | None = None, headers: dict[str, str] | None = None) -> None:
        if code not in CODES:
            raise ValueError(f"not a distribution-spec error code: {code}")
        default_status, default_message = CODES[code]
        self.code = code
        self.status = status or default_status
        self.message = message or default_message
        self.detail = detail
        self.headers = headers or {}
        self.extra: list[dict[str, Any]] = []  # further errors of the same response
        super().__init__(f"{code}: {self.message}" + (f" ({detail})" if detail else ""))

    def body(self) -> bytes:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            err["detail"] = self.detail
        return json.dumps({"errors": [err, *self.extra]}).encode()
