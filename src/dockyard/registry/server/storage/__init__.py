"""Storage backends behind one interface (``base.Storage``). The filesystem
backend is the only one so far; ``open_storage`` picks one from the config."""

from __future__ import annotations

from typing import Any

from .base import Storage, UploadInfo


def open_storage(driver: str, options: dict[str, Any]) -> Storage:
    if driver == "filesystem":
        from .filesystem import FilesystemStorage
        return FilesystemStorage(**options)
    raise ValueError(f"unknown storage driver {driver!r}")


__all__ = ["Storage", "UploadInfo", "open_storage"]
