"""A container's filesystem, seen from a short-lived helper process jailed in
it: docker cp (stat, get, put) and export, safe against hostile archives and
against symlinks planted in the container.

The helper (``python -m dockyard.core.fsjail``) unshares a private mount
namespace, mounts the container's rootfs (the snapshot's overlay, or a bind
of the running container's rootfs), binds the container's volumes and bind
mounts at their destinations (each target opened component by component
without following symlinks out of the root, then mounted through its fd),
and chroots there. Every path of the request or of the archive is then
resolved by the kernel inside that root: '..' and absolute symlinks stop at
it. Nothing it mounts outlives it.

Wire: argv[1] is a JSON request; for get/export the tar stream goes to
stdout (get first writes one JSON line with the stat); put reads the tar
stream on stdin; a failure is one JSON line {"kind", "message"} on stderr
and exit status 1."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from .. import errdefs
from .mount import Mount

# Go's os.FileMode bits, which docker's path stat carries.
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
_GO_SETUID, _GO_SETGID, _GO_CHARDEV, _GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


@dataclass
class JailSpec:
    """How to rebuild the container's filesystem view."""

    rootfs: list[Mount]  # mounts for the root (overlay, or one bind of a mounted rootfs)
    scratch: str  # an existing directory; the helper mounts a private tmpfs on it for its root
    binds: list[tuple[str, str, bool]] = field(default_factory=list)  # (host source, destination, read-only)
    readonly_rootfs: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"rootfs": [m.to_json() for m in self.rootfs], "scratch": self.scratch,
                "binds": [list(b) for b in self.binds], "readonly_rootfs": self.readonly_rootfs}


# -- client side (in dockyardd) ---------------------------------------------------
def _argv(spec: JailSpec, op: str, **args: Any) -> list[str]:
    req = dict(spec.to_json(), op=op, **args)
    return [sys.executable, "-m", "dockyard.core.fsjail", json.dumps(req)]


def _error(stderr: bytes, what: str) -> errdefs.EngineError:
    for line in reversed(stderr.decode(errors="replace").splitlines()):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict) and "kind" in e:
            return errdefs.from_kind(e["kind"], e.get("message", what))
    return errdefs.Internal(f"{what}: {stderr.decode(errors='replace').strip() or 'helper failed'}")


async def stat_path(spec: JailSpec, path: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(*_argv(spec, "stat", path=path), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise _error(err, "stat")
    return json.loads(out)


class TarStream:
    """The helper's stdout as an async byte stream; close() reaps it."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def chunks(self) -> AsyncIterator[bytes]:
        assert self.proc.stdout is not None
        while True:
            data = await self.proc.stdout.read(256 * 1024)
            if not data:
                break
            yield data
        await self.close()

    async def close(self) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        await self.proc.wait()


async def get_archive(spec: JailSpec, path: str) -> tuple[dict[str, Any], TarStream]:
    """(stat of path, tar stream of it, rebased on its name)."""
    proc = await asyncio.create_subprocess_exec(*_argv(spec, "get", path=path), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                limit=1 << 20)
    assert proc.stdout is not None and proc.stderr is not None
    line = await proc.stdout.readline()
    if not line:
        err = await proc.stderr.read()
        await proc.wait()
        raise _error(err, "archive")
    return json.loads(line), TarStream(proc)


async def export(spec: JailSpec) -> TarStream:
    proc = await asyncio.create_subprocess_exec(*_argv(spec, "export"), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    return TarStream(proc)


async def put_archive(spec: JailSpec, path: str, body: AsyncIterator[bytes], no_overwrite_dir_non_dir: bool,
                      copy_uid_gid: bool) -> None:
    proc = await asyncio.create_subprocess_exec(
        *_argv(spec, "put", path=path, no_overwrite_dir_non_dir=no_overwrite_dir_non_dir,
               copy_uid_gid=copy_uid_gid),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    err_task = asyncio.ensure_future(proc.stderr.read())
    try:
        async for chunk in body:
            proc.stdin.write(chunk)
            await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    err = await err_task
    await proc.wait()
    if proc.returncode != 0:
        raise _error(err, "extract archive")


# -- helper side (its own process) ------------------------------------------------
class _Fail(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _open_in_root(root_fd: int, path: str, create_dir: bool, create_file: bool) -> int:
    """An O_PATH fd for path below root_fd, following symlinks only inside
    the root (what filepath-securejoin's OpenInRoot does), creating the
    last component as a directory or file when asked."""
    parts = [p for p in path.split("/") if p and p != "."]
    stack = [os.dup(root_fd)]
    links = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            cur = stack[-1]
            try:
                st = os.stat(part, dir_fd=cur, follow_symlinks=False)
            except FileNotFoundError:
                if parts or create_dir:
                    os.mkdir(part, 0o755, dir_fd=cur)
                elif create_file:
                    os.close(os.open(part, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=cur))
                else:
                    raise
                st = os.stat(part, dir_fd=cur, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > 255:
                    raise _Fail("InvalidArgument", f"too many levels of symbolic links: {path}")
                target = os.readlink(part, dir_fd=cur)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts = [p for p in target.split("/") if p and p != "."] + parts
                continue
            stack.append(os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=cur))
        return os.dup(stack[-1])
    finally:
        for fd in stack:
            os.close(fd)


def _enter(req: dict[str, Any]) -> None:
    from .._sys import consts as c
    from .._sys import libc
    from .mount import mount_all
    libc.unshare(c.CLONE_NEWNS)
    libc.mount(None, "/", None, c.MS_REC | c.MS_PRIVATE)
    # Our root lives on a tmpfs only this namespace sees: nothing to clean up after us.
    scratch = req["scratch"]
    libc.mount("tmpfs", scratch, "tmpfs", c.MS_NOSUID | c.MS_NODEV, "mode=700,size=64k")
    root = os.path.join(scratch, "root")
    os.mkdir(root, 0o755)
    mount_all([Mount.from_json(m) for m in req["rootfs"]], root)
    if req.get("readonly_rootfs"):
        libc.mount(None, root, None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY)
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    for src, dest, ro in sorted(req.get("binds") or [], key=lambda b: b[1].count("/")):
        is_dir = os.path.isdir(src)
        try:
            fd = _open_in_root(root_fd, dest, create_dir=is_dir, create_file=not is_dir)
        except OSError:
            continue  # a destination that cannot exist (e.g. read-only rootfs): not reachable by cp either
        try:
            libc.mount(src, f"/proc/self/fd/{fd}", None, c.MS_BIND | c.MS_REC)
            if ro:
                libc.mount(None, f"/proc/self/fd/{fd}", None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY)
        finally:
            os.close(fd)
    os.close(root_fd)
    os.chdir(root)
    os.chroot(".")
    os.chdir("/")


def _go_mode(st: os.stat_result) -> int:
    m = stat.S_IMODE(st.st_mode) & 0o777
    fmt = stat.S_IFMT(st.st_mode)
    if fmt == stat.S_IFDIR:
        m |= _GO_DIR
    elif fmt == stat.S_IFLNK:
        m |= _GO_SYMLINK
    elif fmt == stat.S_IFIFO:
        m |= _GO_PIPE
    elif fmt == stat.S_IFSOCK:
        m |= _GO_SOCKET
    elif fmt == stat.S_IFBLK:
        m |= _GO_DEVICE
    elif fmt == stat.S_IFCHR:
        m |= _GO_DEVICE | _GO_CHARDEV
    if st.st_mode & stat.S_ISUID:
        m |= _GO_SETUID
    if st.st_mode & stat.S_ISGID:
        m |= _GO_SETGID
    if st.st_mode & stat.S_ISVTX:
        m |= _GO_STICKY
    return m


def _rfc3339(t: float) -> str:
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d}Z"


def _resolve(path: str) -> tuple[str, str, str]:
    """docker's ResolvePath: (resolved path, absolute path as asked, name of
    the archive's top entry). The directory part is resolved; the last
    element stays as given (a symlink is archived as itself) unless the path
    ends in "/" or "/." (then it is followed; "/." means its contents)."""
    if not path:
        raise _Fail("InvalidArgument", "path must not be empty")
    abs_path = os.path.normpath("/" + path.lstrip("/"))
    if path.endswith("/.") and abs_path != "/":
        return os.path.realpath(abs_path) + "/.", abs_path + "/.", "."
    if abs_path == "/":
        return "/", "/", "."
    if path.endswith("/"):
        return os.path.realpath(abs_path), abs_path + "/", os.path.basename(abs_path)
    d, base = os.path.split(abs_path)
    return os.path.join(os.path.realpath(d), base), abs_path, base


def _stat(path: str, abs_path: str) -> dict[str, Any]:
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise _Fail("NotFound", f"Could not find the file {abs_path}") from None
    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = os.path.realpath(path)
    name = os.path.basename(abs_path.rstrip("/.").rstrip("/")) or "/"
    return {"name": name, "size": st.st_size, "mode": _go_mode(st), "mtime": _rfc3339(st.st_mtime),
            "linkTarget": link}


def _op_get(req: dict[str, Any]) -> None:
    import tarfile
    path, abs_path, arcname = _resolve(req["path"])
    info = _stat(path, abs_path)
    out = sys.stdout.buffer
    out.write(json.dumps(info).encode() + b"\n")
    out.flush()
    tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
    try:
        tar.add(path, arcname=arcname, recursive=True)
    finally:
        tar.close()
    out.flush()


def _clean_member(name: str) -> str:
    n = os.path.normpath("/" + name).lstrip("/")
    return n


def _op_put(req: dict[str, Any]) -> None:
    import tarfile
    path, abs_path, _name = _resolve(req["path"])
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise _Fail("NotFound", f"Could not find the file {abs_path}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise _Fail("InvalidArgument", "extraction point is not a directory")
    dest = os.path.realpath(path)
    if req.get("readonly_rootfs") and not _on_writable_mount(dest):
        raise _Fail("PermissionDenied", "container rootfs is marked read-only")
    no_overwrite = bool(req.get("no_overwrite_dir_non_dir"))
    keep_ids = bool(req.get("copy_uid_gid"))
    dir_times: list[tuple[str, tarfile.TarInfo]] = []
    try:
        tar = tarfile.open(fileobj=sys.stdin.buffer, mode="r|*")
    except tarfile.TarError as e:
        raise _Fail("InvalidArgument", f"invalid tar archive: {e}") from None
    try:
        for m in tar:
            rel = _clean_member(m.name)
            if not rel or rel == ".":
                target = dest
            else:
                raw = os.path.normpath(m.name.lstrip("/"))
                if raw == ".." or raw.startswith("../"):
                    raise _Fail("InvalidArgument", f"invalid tar entry {m.name!r}: outside the extraction point")
                target = os.path.join(dest, rel)
            _extract(tar, m, target, dest, no_overwrite, keep_ids)
            if m.isdir():
                dir_times.append((target, m))
    except tarfile.TarError as e:
        raise _Fail("InvalidArgument", f"invalid tar archive: {e}") from None
    finally:
        tar.close()
    for target, m in reversed(dir_times):
        try:
            os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)
        except OSError:
            pass


def _on_writable_mount(path: str) -> bool:
    st = os.statvfs(path)
    return not st.f_flag & os.ST_RDONLY and os.stat(path).st_dev != os.stat("/").st_dev


def _remove(path: str) -> None:
    import shutil
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _extract(tar: Any, m: Any, target: str, dest: str, no_overwrite: bool, keep_ids: bool) -> None:
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755, exist_ok=True)
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and target != dest:
        is_dir = stat.S_ISDIR(existing.st_mode)
        if m.isdir():
            if not is_dir:
                if no_overwrite:
                    raise _Fail("InvalidArgument", f"cannot overwrite non-directory {target!r} with directory {m.name!r}")
                _remove(target)
                existing = None
        else:
            if is_dir and no_overwrite:
                raise _Fail("InvalidArgument", f"cannot overwrite directory {target!r} with non-directory {m.name!r}")
            _remove(target)
            existing = None
    if m.isdir():
        if existing is None:
            os.mkdir(target, 0o700)
    elif m.isreg():
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            src = tar.extractfile(m)
            if src is not None:
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
    elif m.issym():
        os.symlink(m.linkname, target)
    elif m.islnk():
        link = os.path.normpath(m.linkname.lstrip("/"))
        if link == ".." or link.startswith("../"):
            raise _Fail("InvalidArgument", f"invalid hardlink {m.linkname!r}: outside the extraction point")
        src = os.path.join(dest, link)
        if not os.path.lexists(src):
            raise _Fail("InvalidArgument", f"invalid hardlink {m.name!r} -> {m.linkname!r}: no such file in archive")
        os.link(src, target, follow_symlinks=False)
        return
    elif m.ischr() or m.isblk() or m.isfifo():
        kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
        os.mknod(target, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor))
    else:
        return
    uid, gid = (m.uid, m.gid) if keep_ids else (0, 0)
    os.chown(target, uid, gid, follow_symlinks=False)
    if not m.issym():
        os.chmod(target, m.mode & 0o7777)
        if not m.isdir():
            os.utime(target, (m.mtime, m.mtime))


def _op_export(req: dict[str, Any]) -> None:
    from .diff import write_tar
    out = sys.stdout.buffer
    write_tar("/", out, overlay=False)
    out.flush()


def main(argv: list[str]) -> int:
    try:
        req = json.loads(argv[1])
        # Load what the jail needs before the host's files disappear.
        import tarfile  # noqa: F401
        from . import diff  # noqa: F401
        _enter(req)
        op = req["op"]
        if op == "stat":
            path, abs_path, _name = _resolve(req["path"])
            sys.stdout.write(json.dumps(_stat(path, abs_path)) + "\n")
        elif op == "get":
            _op_get(req)
        elif op == "put":
            _op_put(req)
        elif op == "export":
            _op_export(req)
        else:
            raise _Fail("InvalidArgument", f"unknown op {op!r}")
        return 0
    except _Fail as e:
        sys.stderr.write(json.dumps({"kind": e.kind, "message": e.message}) + "\n")
        return 1
    except BrokenPipeError:
        return 1
    except OSError as e:
        kind = "PermissionDenied" if e.errno in (13, 30) else "Internal"
        sys.stderr.write(json.dumps({"kind": kind, "message": str(e)}) + "\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
