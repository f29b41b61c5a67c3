"""Reading the log files the shim writes (json-file and local), as docker's
log readers do: rotated files oldest first (gzipped ones too), --tail from
the end without reading everything, --since/--until, and --follow across
rotations until the container stops."""

from __future__ import annotations

import asyncio
import calendar
import gzip
import io
import json
import os
import re
import struct
import time
from typing import Any, AsyncIterator, Callable, Iterator

from ..shimapi.logsize import JSON_FILE, LOCAL, rotated_files, rotation

HEADER = struct.Struct(">BxxxL")
_U32 = struct.Struct(">I")
# (stream, time in ns, data with its newline when complete)
Record = tuple[str, int, bytes]

_sec_cache: dict[str, int] = {}


def parse_time_ns(s: str) -> int:
    """RFC 3339 (UTC, as the writers produce it) to ns; cached per second."""
    if len(s) < 20:
        return 0
    head = s[:19]
    base = _sec_cache.get(head)
    if base is None:
        try:
            base = calendar.timegm((int(s[0:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]),
                                    int(s[17:19]), 0, 0, 0))
        except ValueError:
            return 0
        if len(_sec_cache) > 4096:
            _sec_cache.clear()
        _sec_cache[head] = base
    frac = 0
    rest = s[19:]
    if rest.startswith("."):
        digits = ""
        for ch in rest[1:]:
            if not ch.isdigit():
                break
            digits += ch
        frac = int(digits[:9].ljust(9, "0")) if digits else 0
        rest = rest[1 + len(digits):]
    ns = base * 1_000_000_000 + frac
    if rest and rest[0] in "+-" and len(rest) >= 6:
        off = int(rest[1:3]) * 3600 + int(rest[4:6]) * 60
        ns -= (1 if rest[0] == "+" else -1) * off * 1_000_000_000
    return ns


def format_time_ns(ns: int) -> str:
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


# -- json-file ----------------------------------------------------------------
def _json_record(line: bytes) -> Record | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    if not isinstance(rec, dict):
        return None
    return (rec.get("stream") or "stdout", parse_time_ns(rec.get("time") or ""),
            (rec.get("log") or "").encode("utf-8", "surrogateescape"))


def _json_records(data: bytes) -> tuple[list[Record], bytes]:
    """Complete records in data, and the unterminated rest."""
    cut = data.rfind(b"\n") + 1
    out = []
    for line in data[:cut].split(b"\n"):
        if line:
            r = _json_record(line)
            if r is not None:
                out.append(r)
    return out, data[cut:]


def _json_tail(f: Any, size: int, n: int) -> list[Record]:
    """The last n records, reading blocks backwards from size."""
    block = 64 * 1024
    pos = size
    buf = b""
    while pos > 0 and buf.count(b"\n") <= n:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        buf = f.read(step) + buf
        block = min(block * 2, 8 << 20)
    lines = [ln for ln in buf.split(b"\n") if ln]
    if pos > 0:
        lines = lines[1:]  # the first may be cut
    out = [r for r in (_json_record(ln) for ln in lines[-n:] if n) if r is not None]
    return out[-n:] if n else []


# A json-file line as the shim writes it; the fast path below reads whole
# blocks of them with C loops, and hands anything else to json.loads.
_JSON_LINE = re.compile(rb'\{"log":"([^"\\]*(?:\\.[^"\\]*)*)","stream":"(stdout|stderr)","time":"([^"]*)"\}\n')


def _unescape(log: bytes) -> bytes:
    if b"\\" not in log:
        return log
    return json.loads(b'"' + log + b'"').encode("utf-8", "surrogateescape")


def json_block_fast(block: bytes, stdout: bool, stderr: bool, tty: bool, timestamps: bool) -> bytes | None:
    """The output for a block of complete json-file lines, one frame per run
    of lines from the same stream; None when the block holds lines the
    fast path does not know (the caller decodes them one by one)."""
    matches = _JSON_LINE.findall(block)
    if len(matches) != block.count(b"\n"):
        return None
    out: list[bytes] = []
    if not timestamps and b'"stream":"stderr"' not in block:
        if not stdout:
            return b""
        joined = b"".join([m[0] for m in matches])
        if b"\\" in joined.replace(b"\\n", b""):
            payload = b"".join([_unescape(m[0]) for m in matches])
        else:
            payload = joined.replace(b"\\n", b"\n")
        return payload if tty else HEADER.pack(1, len(payload)) + payload
    run_stream = b""
    run: list[bytes] = []

    def flush() -> None:
        if run:
            payload = b"".join(run)
            out.append(payload if tty else HEADER.pack(1 if run_stream == b"stdout" else 2, len(payload)) + payload)
            run.clear()

    for log, stream, t in matches:
        if stream == b"stdout" and not stdout or stream == b"stderr" and not stderr:
            continue
        if stream != run_stream:
            flush()
            run_stream = stream
        if timestamps:
            # The shim writes RFC 3339 with nanoseconds in UTC: shown as stored.
            run.append(t + b" " + _unescape(log) if len(t) == 30 else
                       format_time_ns(parse_time_ns(t.decode())).encode() + b" " + _unescape(log))
        else:
            run.append(_unescape(log))
    flush()
    return b"".join(out)


def _last_line_end(f: Any, size: int) -> int:
    """Offset just past the last newline before size (a line may be half written)."""
    pos = size
    while pos > 0:
        step = min(64 * 1024, pos)
        f.seek(pos - step)
        i = f.read(step).rfind(b"\n")
        if i >= 0:
            return pos - step + i + 1
        pos -= step
    return 0


# -- local (framed protobuf) ------------------------------------------------------
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7


def decode_entry(msg: bytes) -> Record:
    source, tnano, line, partial = "stdout", 0, b"", False
    i = 0
    while i < len(msg):
        key, i = _varint(msg, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(msg, i)
            if field == 2:
                tnano = v
            elif field == 4:
                partial = bool(v)
        elif wire == 2:
            ln, i = _varint(msg, i)
            v2 = msg[i:i + ln]
            i += ln
            if field == 1:
                source = v2.decode(errors="replace")
            elif field == 3:
                line = v2
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            break
    return source, tnano, line if partial else line + b"\n"


def _local_records(data: bytes) -> tuple[list[Record], bytes]:
    out = []
    i = 0
    end = len(data)
    unpack = _U32.unpack_from
    while i + 4 <= end:
        (n,) = unpack(data, i)
        if i + 8 + n > end:
            break
        out.append(_decode_fast(data, i + 4, n))
        i += 8 + n
    return out, data[i:]


def _decode_fast(buf: bytes, start: int, n: int) -> Record:
    """The layout the shim writes (source, time, line[, partial]), read
    without the general field loop; anything else goes through decode_entry."""
    j = start
    if buf[j] == 0x0A and buf[j + 1] < 128:
        slen = buf[j + 1]
        source = buf[j + 2:j + 2 + slen]
        j += 2 + slen
        if buf[j] == 0x10:
            j += 1
            tnano = shift = 0
            while True:
                b = buf[j]
                j += 1
                tnano |= (b & 0x7F) << shift
                if b < 0x80:
                    break
                shift += 7
            if buf[j] == 0x1A:
                j += 1
                ln = shift = 0
                while True:
                    b = buf[j]
                    j += 1
                    ln |= (b & 0x7F) << shift
                    if b < 0x80:
                        break
                    shift += 7
                line = buf[j:j + ln]
                j += ln
                rest = start + n - j
                if rest == 0:
                    return ("stdout" if source == b"stdout" else source.decode(errors="replace"), tnano,
                            line + b"\n")
                if rest == 2 and buf[j:j + 2] == b"\x20\x01":
                    return ("stdout" if source == b"stdout" else source.decode(errors="replace"), tnano, line)
    return decode_entry(buf[start:start + n])


def _local_tail(f: Any, size: int, n: int) -> list[Record]:
    out: list[Record] = []
    pos = size
    while pos >= 8 and len(out) < n:
        f.seek(pos - 4)
        (ln,) = _U32.unpack(f.read(4))
        start = pos - 8 - ln
        if start < 0:
            break
        f.seek(start + 4)
        out.append(decode_entry(f.read(ln)))
        pos = start
    out.reverse()
    return out


PARSERS: dict[str, Callable[[bytes], tuple[list[Record], bytes]]] = {JSON_FILE: _json_records, LOCAL: _local_records}
TAILS = {JSON_FILE: _json_tail, LOCAL: _local_tail}


def _open(path: str) -> Any:
    if path.endswith(".gz"):
        return io.BytesIO(gzip.decompress(open(path, "rb").read()))
    return open(path, "rb")


def _records_of_file(path: str, driver: str) -> Iterator[Record]:
    parse = PARSERS[driver]
    try:
        f = _open(path)
    except FileNotFoundError:
        return
    with f:
        rest = b""
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            recs, rest = parse(rest + chunk)
            yield from recs


def _blocks_of_file(path: str) -> Iterator[bytes]:
    """Blocks of complete lines of a (possibly gzipped) json-file log."""
    try:
        f = _open(path)
    except FileNotFoundError:
        return
    with f:
        rest = b""
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut]
            rest = data[cut:]


def _tail_records(files: list[str], driver: str, n: int, live_size: int) -> list[Record]:
    """The last n records; the live file (last in files) only up to live_size."""
    out: list[Record] = []
    for i, path in enumerate(reversed(files)):
        if len(out) >= n:
            break
        try:
            f = _open(path)
        except FileNotFoundError:
            continue
        with f:
            if i == 0:
                size = live_size
            else:
                f.seek(0, 2)
                size = f.tell()
            out = TAILS[driver](f, size, n - len(out)) + out
    return out[-n:] if n else []


def frame(stream: str, data: bytes, tty: bool) -> bytes:
    if tty:
        return data
    return HEADER.pack(1 if stream == "stdout" else 2, len(data)) + data


async def read_logs(path: str, driver: str, opts: dict[str, str], tty: bool, stdout: bool = True,
                    stderr: bool = True, follow: bool = False, tail: int = -1, since: float = 0.0,
                    until: float = 0.0, timestamps: bool = False,
                    running: Callable[[], bool] | None = None) -> AsyncIterator[bytes]:
    """Frames (or raw bytes for a TTY) of the container's log, oldest first."""
    if not path or driver not in PARSERS:
        return
    since_ns = int(since * 1e9) if since else 0
    until_ns = int(until * 1e9) if until else 0
    _size, max_file, _c = rotation(driver, opts)

    def emit(rec: Record) -> bytes | None:
        stream, tns, data = rec
        if stream == "stdout" and not stdout or stream == "stderr" and not stderr:
            return None
        if since_ns and tns < since_ns:
            return None
        if timestamps:
            data = format_time_ns(tns).encode() + b" " + data
        return frame(stream, data, tty)

    def past_until(rec: Record) -> bool:
        return bool(until_ns) and rec[1] > until_ns

    def render(recs: list[Record]) -> bytes:
        """Records as frames, one per run of the same stream."""
        out: list[bytes] = []
        run: list[bytes] = []
        run_stream = ""
        for stream, tns, data in recs:
            if stream == "stdout" and not stdout or stream == "stderr" and not stderr:
                continue
            if since_ns and tns < since_ns:
                continue
            if stream != run_stream and run:
                out.append(frame(run_stream, b"".join(run), tty))
                run = []
            run_stream = stream
            run.append(format_time_ns(tns).encode() + b" " + data if timestamps else data)
        if run:
            out.append(frame(run_stream, b"".join(run), tty))
        return b"".join(out)

    files = rotated_files(path, max_file)
    # Whole blocks at a time when no time bound asks for record-by-record checks.
    fast = driver == JSON_FILE and not since_ns and not until_ns
    # Open the live file first so nothing written meanwhile is lost.
    try:
        live = open(path, "rb")
    except FileNotFoundError:
        live = None
    try:
        live_size = os.fstat(live.fileno()).st_size if live else 0
        if live is not None and driver == JSON_FILE and live_size:
            live_size = _last_line_end(live, live_size)
        batch: list[bytes] = []
        if tail >= 0:
            recs = await asyncio.to_thread(_tail_records, files, driver, tail, live_size) if tail else []
            for rec in recs:
                if past_until(rec):
                    return
                out = emit(rec)
                if out:
                    yield out
            if live is not None:
                live.seek(live_size)
        else:
            if live is not None:
                live.seek(0)
            for p in files[:-1]:
                if fast:
                    for block in _blocks_of_file(p):
                        out = json_block_fast(block, stdout, stderr, tty, timestamps)
                        if out is None:
                            out = b"".join(x for x in (emit(r) for r in _json_records(block)[0]) if x)
                        if out:
                            yield out
                    continue
                for rec in _records_of_file(p, driver):
                    if past_until(rec):
                        return
                    out = emit(rec)
                    if out:
                        batch.append(out)
                        if len(batch) >= 256:
                            yield b"".join(batch)
                            batch = []
            if batch:
                yield b"".join(batch)
                batch = []
        parse = PARSERS[driver]
        rest = b""
        idle = 0.01
        while True:
            if live is None:
                chunk = b""
            else:
                chunk = live.read(1 << 20)
            if chunk and fast:
                idle = 0.01
                data = rest + chunk if rest else chunk
                cut = data.rfind(b"\n") + 1
                block, rest = data[:cut], data[cut:]
                out = json_block_fast(block, stdout, stderr, tty, timestamps) if block else b""
                if out is None:
                    out = b"".join(x for x in (emit(r) for r in _json_records(block)[0]) if x)
                if out:
                    yield out
                continue
            if chunk:
                idle = 0.01
                recs, rest = parse(rest + chunk)
                cut = next((i for i, r in enumerate(recs) if past_until(r)), -1) if until_ns else -1
                out = render(recs if cut < 0 else recs[:cut])
                if out:
                    yield out
                if cut >= 0:
                    return
                continue
            if not follow:
                return
            if until_ns and time.time_ns() > until_ns:
                return
            # Rotated or truncated under us? Continue with the new file.
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            if live is None and st is not None:
                live = open(path, "rb")
                continue
            if live is not None and st is not None:
                cur = os.fstat(live.fileno())
                if st.st_ino != cur.st_ino:
                    live.close()
                    live = open(path, "rb")
                    rest = b""
                    continue
                if st.st_size < live.tell():
                    live.seek(0)
                    rest = b""
                    continue
            if running is not None and not running():
                if live is not None:
                    chunk = live.read(1 << 20)
                    if chunk:
                        rest += chunk
                        recs, rest = parse(rest)
                        for rec in recs:
                            out = emit(rec)
                            if out:
                                yield out
                        continue
                return
            await asyncio.sleep(idle)
            idle = min(idle * 2, 0.1)
    finally:
        if live is not None:
            live.close()
