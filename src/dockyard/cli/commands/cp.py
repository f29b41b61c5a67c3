"""cp: files between a container and the host, as docker's copy rules say
(a directory lands inside an existing directory, or becomes the destination
when it does not exist; "SRC/." copies the contents; "-" is a tar stream on
stdin/stdout). Archives from the daemon are extracted with tarfile's "tar"
filter, so no entry can land outside the destination."""

from __future__ import annotations

import os
import sys

from ... import errdefs
from ..errors import CLIError
from ..format import human_size
from .common import Parser, client, daemon_call, daemon_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

S_IFDIR = 0o040000
GO_DIR_BIT = 1 << 31  # Go's os.ModeDir, as the daemon reports modes


def split_container_path(arg: str) -> tuple[str, str]:
    """"name:path" -> (name, path); a local path (absolute, ./, or no colon) -> ("", path)."""
    if arg.startswith("/") or arg.startswith(".") or ":" not in arg:
        return "", arg
    name, _, path = arg.partition(":")
    return name, path


def is_dir_mode(mode: int) -> bool:
    return bool(mode & GO_DIR_BIT) or (mode & 0o170000) == S_IFDIR


class _Reader:
    """A file-like view of a response body for tarfile's stream mode."""

    def __init__(self, resp: Any) -> None:
        self.resp = resp
        self.buf = b""
        self.total = 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buf) < n:
            chunk = self.resp.read_chunk()
            if not chunk:
                break
            self.total += len(chunk)
            self.buf += chunk
        if n < 0:
            data, self.buf = self.buf, b""
        else:
            data, self.buf = self.buf[:n], self.buf[n:]
        return data


def _rebase(name: str, old: str, new: str) -> str:
    """Replace the archive's top-level name old with new."""
    name = name.lstrip("/")
    if name == old:
        return new
    if name.startswith(old + "/"):
        return new + name[len(old):]
    return name


def copy_from_container(api: Any, container: str, src: str, dst: str, follow: bool, quiet: bool) -> None:
    stat = daemon_call(api.archive_stat, container, src)
    if follow and stat.get("linkTarget"):
        src = stat["linkTarget"]
        stat = daemon_call(api.archive_stat, container, src)
    resp = daemon_call(api.archive_get, container, src)
    if dst == "-":
        from ..streams import write_all
        fd = sys.stdout.fileno()
        for chunk in resp.iter_chunks():
            write_all(fd, chunk)
        resp.close()
        return
    import tarfile
    src_is_dir = is_dir_mode(int(stat.get("mode", 0)))
    src_base = stat.get("name") or os.path.basename(src.rstrip("/")) or "/"
    contents_only = src.endswith("/.")
    dst_exists = os.path.lexists(dst)
    dst_is_dir = os.path.isdir(dst)
    if dst_exists and not dst_is_dir and src_is_dir:
        raise CLIError(f"cannot copy a directory to a file: {dst}", 1)
    if not dst_exists:
        parent = os.path.dirname(os.path.abspath(dst))
        if not os.path.isdir(parent):
            raise CLIError(f"destination directory {parent} does not exist", 1)
        if dst.endswith("/") and not src_is_dir:
            raise CLIError(f"destination directory {dst} does not exist", 1)
    if dst_is_dir and not contents_only:
        target_dir, new_base = dst, src_base   # into the directory, keeping the name
    elif dst_is_dir and contents_only:
        target_dir, new_base = dst, None        # the directory's contents, merged in
    else:
        target_dir, new_base = os.path.dirname(os.path.abspath(dst)), os.path.basename(dst.rstrip("/"))
    reader = _Reader(resp)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tf:  # type: ignore[arg-type]
            for member in tf:
                name = member.name.lstrip("/")
                if new_base is None:
                    # SRC/. : entries come as base/...; drop the base
                    rel = name[len(src_base):].lstrip("/") if name == src_base or name.startswith(src_base + "/") \
                        else name
                    if not rel:
                        continue
                    member.name = rel
                else:
                    member.name = _rebase(name, src_base, new_base)
                if member.islnk():
                    member.linkname = _rebase(member.linkname, src_base, new_base) if new_base else member.linkname
                try:
                    _extract(tf, member, target_dir)
                except _Refused as e:
                    raise CLIError(f"refusing to extract {member.name!r}: {e}", 1) from None
                except OSError as e:
                    raise CLIError(f"error extracting {member.name}: {e.strerror or e}", 1) from None
    except tarfile.TarError as e:
        raise CLIError(f"invalid archive from the daemon: {e}", 1) from None
    finally:
        resp.close()
    if not quiet and os.isatty(sys.stderr.fileno()):
        sys.stderr.write(f"Successfully copied {human_size(reader.total, 3)} to {dst}\n")


class _Refused(Exception):
    """A member the "tar" extraction filter refuses."""


def _extract(tf: "tarfile.TarFile", member: "tarfile.TarInfo", target_dir: str) -> None:
    """Extract one member as tarfile's "tar" filter allows (PEP 706): never
    outside target_dir, without setuid/setgid/sticky or group/other write
    bits. The filter arrived in Python 3.11.4; the launcher may run an
    earlier 3.11 (Debian 12's 3.11.2), which gets the same checks here."""
    import tarfile
    if hasattr(tarfile, "tar_filter"):
        try:
            tf.extract(member, target_dir, filter="tar", numeric_owner=True)
        except tarfile.FilterError as e:
            raise _Refused(str(e)) from None
        return
    member.name = member.name.lstrip("/")
    dest = os.path.realpath(target_dir)
    if os.path.isabs(member.name):
        raise _Refused(f"member {member.name!r} has an absolute path")
    target = os.path.realpath(os.path.join(dest, member.name))
    if os.path.commonpath([target, dest]) != dest:
        raise _Refused(f"{member.name!r} would be extracted to {target!r}, which is outside the destination")
    if member.mode is not None:
        member.mode &= 0o755
    tf.extract(member, target_dir, numeric_owner=True)


def _tar_stream(path: str, arcname: str, follow: bool) -> Iterator[bytes]:
    """A tar of path (named arcname) produced by a thread, read in chunks."""
    import tarfile
    import threading
    r, w = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(w, "wb") as out, tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,
                                                         dereference=False) as tf:
                real = os.path.realpath(path) if follow else path
                tf.add(real, arcname=arcname, recursive=True)
        except BaseException as e:  # reported to the reader side
            failure.append(e)

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    with os.fdopen(r, "rb") as src:
        while True:
            chunk = src.read(1 << 16)
            if not chunk:
                break
            yield chunk
    t.join()
    if failure:
        e = failure[0]
        raise CLIError(f"error archiving {path}: {getattr(e, 'strerror', None) or e}", 1)


def _stdin_chunks() -> Iterator[bytes]:
    while True:
        data = sys.stdin.buffer.read(1 << 16)
        if not data:
            return
        yield data


def copy_to_container(api: Any, src: str, container: str, dst: str, follow: bool, copy_uid_gid: bool,
                      quiet: bool) -> None:
    if src == "-":
        try:
            stat = api.archive_stat(container, dst)
        except errdefs.EngineError as e:
            raise daemon_error(e) from None
        if not is_dir_mode(int(stat.get("mode", 0))):
            raise CLIError(f"destination \"{container}:{dst}\" must be a directory", 1)
        daemon_call(api.archive_put, container, dst, _stdin_chunks(), copy_uid_gid=copy_uid_gid)
        return
    if not os.path.lexists(src):
        raise CLIError(f"lstat {os.path.abspath(src)}: no such file or directory", 1)
    src_is_dir = os.path.isdir(src) and (follow or not os.path.islink(src))
    base = os.path.basename(os.path.normpath(src))
    contents_only = src.endswith("/.") or src.endswith("/./")
    try:
        dstat = api.archive_stat(container, dst)
        dst_exists = True
    except errdefs.NotFound:
        dstat, dst_exists = {}, False
    except errdefs.EngineError as e:
        raise daemon_error(e) from None
    dst_is_dir = dst_exists and is_dir_mode(int(dstat.get("mode", 0)))
    if dst_exists and not dst_is_dir and src_is_dir:
        raise CLIError("Error response from daemon: cannot copy a directory to a file", 1)
    if dst_is_dir:
        target_dir = dst
        arcname = "." if contents_only else base
    else:
        if dst.endswith("/"):
            raise CLIError(f"Error response from daemon: destination directory {dst} does not exist", 1)
        target_dir = os.path.dirname(dst.rstrip("/")) or "/"
        arcname = os.path.basename(dst.rstrip("/"))
    path = os.path.normpath(src)
    body = _tar_stream(path, arcname, follow)
    counted = _Counter(body)
    daemon_call(api.archive_put, container, target_dir, counted, no_overwrite_dir_non_dir=True,
                copy_uid_gid=copy_uid_gid)
    if not quiet and os.isatty(sys.stderr.fileno()):
        sys.stderr.write(f"Successfully copied {human_size(counted.total, 3)} to {container}:{dst}\n")


class _Counter:
    def __init__(self, it: Iterator[bytes]) -> None:
        self.it = it
        self.total = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.it:
            self.total += len(chunk)
            yield chunk


def cmd_cp(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard cp", usage="dockyard cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
                                         "\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
               description="Copy files/folders between a container and the local filesystem\n\n"
                           "Use '-' as the source to read a tar archive from stdin\n"
                           "and extract it to a directory destination in a container.\n"
                           "Use '-' as the destination to stream a tar archive of a\n"
                           "container source to stdout.")
    p.add_argument("-a", "--archive", action="store_true", help="Archive mode (copy all uid/gid information)")
    p.add_argument("-L", "--follow-link", action="store_true", help="Always follow symbol link in SRC_PATH")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="Suppress progress output during copy. Progress output is automatically suppressed if "
                        "no terminal is attached")
    p.add_argument("src")
    p.add_argument("dst")
    a = p.parse_args(argv)
    src_c, src_path = split_container_path(a.src) if a.src != "-" else ("", "-")
    dst_c, dst_path = split_container_path(a.dst) if a.dst != "-" else ("", "-")
    if src_c and dst_c:
        raise CLIError("copying between containers is not supported", 1)
    if not src_c and not dst_c:
        raise CLIError("must specify at least one container source", 1)
    if (src_c and not src_path) or (dst_c and not dst_path):
        raise CLIError("filepath cannot be empty", 1)
    api = client(gopts)
    if src_c:
        copy_from_container(api, src_c, src_path, dst_path, a.follow_link, a.quiet)
    else:
        copy_to_container(api, src_path, dst_c, dst_path, a.follow_link, a.archive, a.quiet)
    return 0
