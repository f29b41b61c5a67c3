"""Log drivers written by the shim itself: json-file (docker's format, with
size rotation) and none."""

from __future__ import annotations

import json
import os
import time


def rfc3339nano(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d}Z"


def parse_size(value: str) -> int:
    v = value.strip().lower()
    mult = 1
    for suffix, m in (("kb", 1000), ("mb", 1000**2), ("gb", 1000**3), ("k", 1000), ("m", 1000**2),
                      ("g", 1000**3), ("b", 1)):
        if v.endswith(suffix):
            v, mult = v[: -len(suffix)], m
            break
    return int(float(v) * mult)


class JSONFileLogger:
    """One JSON object per line: {"log": ..., "stream": ..., "time": ...}.
    Lines are split on newline; a line longer than 16 KiB is written in
    pieces, as docker does."""

    MAX_LINE = 16 * 1024

    def __init__(self, path: str, max_size: int = -1, max_file: int = 1) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self._f = open(path, "ab", buffering=0)
        self._size = self._f.tell()

    def write(self, stream: str, data: bytes) -> None:
        buf = self._partial[stream] + data
        out = []
        while True:
            i = buf.find(b"\n")
            if i < 0:
                break
            out.append(buf[: i + 1])
            buf = buf[i + 1:]
        while len(buf) >= self.MAX_LINE:
            out.append(buf[: self.MAX_LINE])
            buf = buf[self.MAX_LINE:]
        self._partial[stream] = buf
        if out:
            self._emit(stream, out)

    def flush(self) -> None:
        for stream, buf in self._partial.items():
            if buf:
                self._emit(stream, [buf])
                self._partial[stream] = b""

    def _emit(self, stream: str, lines: list[bytes]) -> None:
        ts = rfc3339nano()
        payload = b"".join(
            json.dumps({"log": line.decode("utf-8", "replace"), "stream": stream, "time": ts},
                       ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for line in lines)
        if self.max_size > 0 and self._size + len(payload) > self.max_size and self._size > 0:
            self._rotate()
        self._f.write(payload)
        self._size += len(payload)

    def _rotate(self) -> None:
        self._f.close()
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
            self._f = open(self.path, "wb", buffering=0)
        else:
            self._f = open(self.path, "wb", buffering=0)
        self._size = 0

    def close(self) -> None:
        self.flush()
        self._f.close()


class NullLogger:
    def write(self, stream: str, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
