"""Log drivers written by the shim itself, in docker's formats:

json-file  one JSON object per line {"log","stream","time"} (<id>-json.log)
local      length-framed protobuf LogEntry records (local-logs/container.log):
           [u32 size][LogEntry][u32 size], big-endian, so a reader can walk
           the file backwards; the line is stored without its newline
none       nothing

Both rotate at max-size, keep max-file files and may gzip rotated ones.
Lines are split on newline; a line longer than 16 KiB is written in pieces
(partial entries), as docker does. The hot path for json-file avoids
per-line JSON encoding when a chunk has nothing to escape."""

from __future__ import annotations

import json
import os
import struct
import time

from ..shimapi.logsize import parse_size, rotation  # noqa: F401  (parse_size re-exported)

MAX_LINE = 16 * 1024
# Bytes JSON would escape (or that may not be valid UTF-8): newline excepted.
_ESCAPED = bytes(c for c in range(256) if (c < 0x20 and c != 0x0A) or c in (0x22, 0x5C) or c >= 0x7F)


def _plain(data: bytes) -> bool:
    """True when data holds nothing JSON must escape but newlines (fast: C loops only)."""
    return len(data.translate(None, _ESCAPED)) == len(data)
_U32 = struct.Struct(">I")


def rfc3339nano(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d}Z"


def _ts_from_ns(ns: int) -> bytes:
    s, frac = divmod(ns, 1_000_000_000)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z").encode()


class _RotatingFile:
    def __init__(self, path: str, max_size: int, max_file: int, compress: bool) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.compress = compress
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._f = open(path, "ab", buffering=0)
        self._size = self._f.tell()

    def write(self, payload: bytes) -> None:
        """Newline-separated records (json-file): rotate, like docker, before
        the first record that finds the file at or over max-size."""
        if self.max_size <= 0:
            self._write(payload)
            return
        while payload:
            if self._size >= self.max_size:
                self._rotate()
            need = self.max_size - self._size
            cut = payload.find(b"\n", need - 1) + 1 if need <= len(payload) else len(payload)
            if cut <= 0:
                cut = len(payload)
            self._write(payload[:cut])
            payload = payload[cut:]

    def write_records(self, records: list[bytes]) -> None:
        """Framed records (local): the same rule, record by record."""
        if self.max_size <= 0:
            self._write(b"".join(records))
            return
        batch: list[bytes] = []
        size = self._size
        for r in records:
            if size >= self.max_size:
                if batch:
                    self._write(b"".join(batch))
                    batch = []
                self._rotate()
                size = 0
            batch.append(r)
            size += len(r)
        if batch:
            self._write(b"".join(batch))

    def _write(self, data: bytes) -> None:
        self._f.write(data)
        self._size += len(data)

    def _rotate(self) -> None:
        self._f.close()
        if self.max_file > 1:
            last = self.max_file - 1
            for ext in ("", ".gz"):
                try:
                    os.unlink(f"{self.path}.{last}{ext}")
                except FileNotFoundError:
                    pass
            for i in range(last - 1, 0, -1):
                for ext in ("", ".gz"):
                    if os.path.exists(f"{self.path}.{i}{ext}"):
                        os.replace(f"{self.path}.{i}{ext}", f"{self.path}.{i + 1}{ext}")
            os.replace(self.path, f"{self.path}.1")
            if self.compress:
                self._gzip(f"{self.path}.1")
        self._f = open(self.path, "wb", buffering=0)
        self._size = 0

    @staticmethod
    def _gzip(path: str) -> None:
        import gzip
        import shutil
        with open(path, "rb") as src, gzip.open(path + ".gz.tmp", "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(path + ".gz.tmp", path + ".gz")
        os.unlink(path)

    def close(self) -> None:
        self._f.close()


class _LineSplitter:
    """Buffers the partial last line per stream. split() returns the
    complete lines (without their newline) and the pieces of an over-long
    unterminated line (partial entries, 16 KiB each)."""

    def __init__(self) -> None:
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def split(self, stream: str, data: bytes) -> tuple[bytes, list[bytes], list[bytes]]:
        """(region of complete lines joined by newline, without the final one;
        those lines; partial pieces)."""
        buf = self._partial[stream] + data if self._partial[stream] else data
        cut = buf.rfind(b"\n")
        region = buf[:cut] if cut >= 0 else b""
        rest = buf[cut + 1:]
        lines = region.split(b"\n") if cut >= 0 else []
        pieces: list[bytes] = []
        while len(rest) >= MAX_LINE:
            pieces.append(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
        self._partial[stream] = rest
        return region, lines, pieces

    def drain(self) -> list[tuple[str, bytes]]:
        out = [(s, b) for s, b in self._partial.items() if b]
        self._partial = {"stdout": b"", "stderr": b""}
        return out


def _entries(lines: list[bytes]) -> list[tuple[bytes, bool]]:
    """(body, complete) per log entry: lines over 16 KiB become partial pieces
    followed by the complete remainder."""
    out: list[tuple[bytes, bool]] = []
    for ln in lines:
        while len(ln) > MAX_LINE:
            out.append((ln[:MAX_LINE], False))
            ln = ln[MAX_LINE:]
        out.append((ln, True))
    return out


class JSONFileLogger:
    def __init__(self, path: str, max_size: int = -1, max_file: int = 1, compress: bool = False) -> None:
        self._file = _RotatingFile(path, max_size, max_file, compress)
        self._lines = _LineSplitter()

    def write(self, stream: str, data: bytes) -> None:
        region, lines, pieces = self._lines.split(stream, data)
        if not lines and not pieces:
            return
        tail = b'","stream":"' + stream.encode() + b'","time":"' + rfc3339nano().encode() + b'"}\n'
        out = b""
        if lines:
            if _plain(region) and (len(region) <= MAX_LINE or max(map(len, lines)) <= MAX_LINE):
                # Nothing to escape: the whole chunk in one replace.
                head = b'{"log":"'
                out = head + region.replace(b"\n", b"\\n" + tail + head) + b"\\n" + tail
            else:
                out = self._encode(_entries(lines), tail)
        if pieces:
            out += self._encode([(p, False) for p in pieces], tail)
        self._file.write(out)

    @staticmethod
    def _encode(entries: list[tuple[bytes, bool]], tail: bytes) -> bytes:
        out = []
        for body, complete in entries:
            if _plain(body) and b"\n" not in body:
                out.append(b'{"log":"' + body + (b"\\n" if complete else b"") + tail)
            else:
                text = body.decode("utf-8", "replace") + ("\n" if complete else "")
                out.append(b'{"log":' + json.dumps(text, ensure_ascii=False).encode() + tail[1:])
        return b"".join(out)

    def flush(self) -> None:
        for stream, buf in self._lines.drain():
            tail = b'","stream":"' + stream.encode() + b'","time":"' + rfc3339nano().encode() + b'"}\n'
            self._file.write(self._encode([(buf, False)], tail))

    def close(self) -> None:
        self.flush()
        self._file.close()


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


_VARINTS = [bytes([n]) for n in range(128)]


def encode_entries(source: str, time_nano: int, entries: list[tuple[bytes, bool]]) -> list[bytes]:
    """Framed LogEntry records of one chunk (one time, one source): the
    common prefix is encoded once."""
    src = source.encode()
    head = b"\x0a" + _varint(len(src)) + src + b"\x10" + _varint(time_nano) + b"\x1a"
    pack = _U32.pack
    out = []
    for line, complete in entries:
        n = len(line)
        msg = head + (_VARINTS[n] if n < 128 else _varint(n)) + line
        if not complete:
            msg += b"\x20\x01"
        size = pack(len(msg))
        out.append(size + msg + size)
    return out


def encode_entry(source: str, time_nano: int, line: bytes, partial: bool) -> bytes:
    src = source.encode()
    msg = b"\x0a" + _varint(len(src)) + src + b"\x10" + _varint(time_nano) + b"\x1a" + _varint(len(line)) + line
    if partial:
        msg += b"\x20\x01"
    return _U32.pack(len(msg)) + msg + _U32.pack(len(msg))


class LocalLogger:
    def __init__(self, path: str, max_size: int, max_file: int, compress: bool) -> None:
        self._file = _RotatingFile(path, max_size, max_file, compress)
        self._lines = _LineSplitter()

    def write(self, stream: str, data: bytes) -> None:
        _region, lines, pieces = self._lines.split(stream, data)
        entries = _entries(lines) + [(p, False) for p in pieces]
        if entries:
            self._file.write_records(encode_entries(stream, time.time_ns(), entries))

    def flush(self) -> None:
        now = time.time_ns()
        for stream, buf in self._lines.drain():
            self._file.write_records([encode_entry(stream, now, buf, True)])

    def close(self) -> None:
        self.flush()
        self._file.close()


class NullLogger:
    def write(self, stream: str, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_logger(driver: str, path: str, opts: dict[str, str]):  # type: ignore[no-untyped-def]
    if driver == "none" or not path:
        return NullLogger()
    size, files, compress = rotation(driver, opts)
    if driver == "local":
        return LocalLogger(path, size, files, compress)
    return JSONFileLogger(path, size, files, compress)
