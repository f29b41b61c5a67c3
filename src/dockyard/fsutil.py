"""Crash-safe file writes: write a temporary file, fsync it, rename it over the
target and fsync the directory, so a reader sees the old or the new content,
never a torn one."""

from __future__ import annotations

import json
import os
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of the long-lived shim's memory
    from typing import Any


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(directory)


def atomic_write_json(path: str, obj: Any, mode: int = 0o644, durable: bool = True) -> None:
    atomic_write(path, json.dumps(obj, separators=(",", ":")).encode(), mode, durable)


def read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())
