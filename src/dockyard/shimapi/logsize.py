"""Log driver options shared by the daemon (validation, reading) and the shim
(writing): sizes as docker's units.FromHumanSize reads them (decimal), and
the file layout of each driver."""

from __future__ import annotations

import os

JSON_FILE = "json-file"
LOCAL = "local"
NONE = "none"
LOCAL_DEFAULT_MAX_SIZE = 20 * 1000 * 1000
LOCAL_DEFAULT_MAX_FILE = 5


def parse_size(value: str) -> int:
    v = str(value).strip().lower()
    if not v:
        raise ValueError(value)
    mult = 1
    for suffix, m in (("kib", 1024), ("mib", 1024**2), ("gib", 1024**3), ("kb", 1000), ("mb", 1000**2),
                      ("gb", 1000**3), ("tb", 1000**4), ("k", 1000), ("m", 1000**2), ("g", 1000**3),
                      ("t", 1000**4), ("b", 1)):
        if v.endswith(suffix):
            v, mult = v[: -len(suffix)].strip(), m
            break
    return int(float(v) * mult)


def log_path(container_dir: str, cid: str, driver: str) -> str:
    if driver == LOCAL:
        return os.path.join(container_dir, "local-logs", "container.log")
    if driver == JSON_FILE:
        return os.path.join(container_dir, f"{cid}-json.log")
    return ""


def rotation(driver: str, opts: dict[str, str]) -> tuple[int, int, bool]:
    """(max size in bytes or -1, max files, compress rotated files)."""
    if driver == LOCAL:
        size = parse_size(opts["max-size"]) if opts.get("max-size") else LOCAL_DEFAULT_MAX_SIZE
        files = int(opts.get("max-file") or LOCAL_DEFAULT_MAX_FILE)
        compress = str(opts.get("compress", "true")).lower() in ("true", "1")
        return size or -1, max(files, 1), compress
    size = parse_size(opts["max-size"]) if opts.get("max-size") else -1
    files = int(opts.get("max-file") or 1)
    compress = str(opts.get("compress", "false")).lower() in ("true", "1")
    return size if size > 0 else -1, max(files, 1), compress


def rotated_files(path: str, max_file: int) -> list[str]:
    """Existing log files, oldest first: path.N[.gz] ... path.1[.gz], path."""
    out = []
    for i in range(max(max_file, 1) - 1, 0, -1):
        for cand in (f"{path}.{i}.gz", f"{path}.{i}"):
            if os.path.exists(cand):
                out.append(cand)
                break
    out.append(path)
    return out
