"""`dockyard build` and `dockyard builder prune`.

The context directory is sent as a tarball streamed while it is read,
filtered by .dockerignore (or the Dockerfile's own <name>.dockerignore), with
owners set to root as docker's CLI sends them; a Dockerfile outside the
context travels inside the tarball under a random name. The daemon's
classic JSON stream is shown one step per block: the instruction, its
output, then CACHED or DONE with the step's duration (colours only on a
terminal; --progress=plain forces plain lines)."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import sys
import time
from typing import Any, Iterator

from ... import errdefs
from ...build.dockerignore import IGNORE_FILE, PatternMatcher, read_patterns
from ...build.gitcontext import is_git_url, is_url
from ..errors import CLIError
from .common import Parser, client, confirm, daemon_call, daemon_error, parse_filters, print_prune

_CHUNK = 1 << 20
# tar type flags (tarfile's names; tarfile itself only for what ustar cannot say)
REGTYPE, LNKTYPE, SYMTYPE, DIRTYPE, FIFOTYPE = b"0", b"1", b"2", b"5", b"6"
_SLACK = 64 << 10  # room past a chunk: a file that starts a chunk late still fits
_ZEROS = memoryview(bytes(64 << 10))


# -- the context tarball ---------------------------------------------------------------

class ContextTar:
    """A directory as a tar stream, filtered, in chunks of about 1 MiB.

    Made for contexts of many small files: each chunk is one buffer that
    headers are packed into and file contents read straight into (readv: no
    intermediate bytes), directories walked by descriptor (names looked up
    once, not whole paths), ignore rules matched against a directory's
    memoized verdict plus the file's own name. With buffers=n, n buffers
    take turns (no allocation, no page faults per chunk): for a consumer that
    is done with chunk k when chunk k + n is begun (2: one that sends each
    chunk before it asks for the next; see _packed_aside for 4)."""

    def __init__(self, root: str, matcher: PatternMatcher, keep: set[str],
                 extra: list[tuple[str, bytes]] | None = None, buffers: int = 0) -> None:
        self.root = root
        self.matcher = matcher
        self.keep = keep  # Dockerfile and ignore files: sent even when excluded
        self.extra = extra or []
        self.files = 0
        self.bytes = 0
        self._links: dict[tuple[int, int], str] = {}
        self._buf = bytearray(0)
        self._view = memoryview(self._buf)
        self._pos = 0
        self._ready: list[memoryview] = []
        self._turns = buffers
        self._handed: list[bytearray] = []  # the buffers of the chunks handed out last (buffers=n)

    def chunks(self) -> Iterator[bytearray | memoryview]:
        """The tar stream in pieces of about 1 MiB (few HTTP chunks, few syscalls)."""
        self._new_buffer()
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise CLIError(f"error checking context: {(e.strerror or str(e)).lower()}: {self.root}") from None
        try:
            yield from self._walk(fd, "", self.root)
        finally:
            os.close(fd)
        for name, data in self.extra:
            self._header(tar_header(name, 0o644, int(time.time()), REGTYPE, len(data)))
            yield from self._drain()
            yield from self._bytes(data + b"\0" * (-len(data) % 512))
        yield from self._bytes(b"\0" * 1024)
        if self._pos:
            yield self._flush()

    # -- the chunk buffer ------------------------------------------------------------
    def _new_buffer(self) -> None:
        self._buf = bytearray(_CHUNK + _SLACK)
        self._view = memoryview(self._buf)
        self._pos = 0

    def _flush(self) -> memoryview:
        out = self._view[:self._pos]
        self.bytes += self._pos
        if self._turns >= 2:
            self._handed.append(self._buf)
            if len(self._handed) >= self._turns:  # chunk k - n: done with by now
                spare = self._handed.pop(0)
                self._buf, self._view, self._pos = spare, memoryview(spare), 0
                return out
        self._new_buffer()
        return out

    def _zero(self, start: int, end: int) -> None:
        """Padding (a buffer may be a reused one)."""
        while end > start:
            n = min(end - start, len(_ZEROS))
            self._view[start:start + n] = _ZEROS[:n]
            start += n

    def _header(self, header: bytes) -> None:
        """Into the buffer; a full one waits in _ready (no generator per entry)."""
        if self._pos and (self._pos >= _CHUNK or self._pos + len(header) > len(self._buf)):
            self._ready.append(self._flush())
        if len(header) > len(self._buf):  # a PAX header longer than a chunk: a chunk of its own
            self._ready.append(memoryview(header))
            self.bytes += len(header)
            return
        self._view[self._pos:self._pos + len(header)] = header
        self._pos += len(header)

    def _drain(self) -> Iterator[memoryview]:
        ready, self._ready = self._ready, []
        yield from ready

    def _bytes(self, data: bytes) -> Iterator[memoryview]:
        view = memoryview(data)
        while view:
            room = len(self._buf) - self._pos
            if room <= 0:
                yield self._flush()
                continue
            piece = view[:room]
            self._view[self._pos:self._pos + len(piece)] = piece
            self._pos += len(piece)
            view = view[room:]

    # -- the walk -------------------------------------------------------------------
    def _excluded(self, rel: str, parent: tuple[bool, ...] | None) -> bool:
        return rel not in self.keep and self.matcher.matches_below(rel, parent)

    def _walk(self, dfd: int, rel_dir: str, path: str) -> Iterator[memoryview]:
        """Appends to the buffer; yields a chunk whenever the buffer is full."""
        try:
            names = sorted(os.listdir(dfd))
        except OSError as e:
            raise CLIError(f"error checking context: {(e.strerror or str(e)).lower()}: {path}") from None
        filtering = bool(self.matcher.patterns)
        verdict = self.matcher.directory_verdict(rel_dir) if filtering and rel_dir else None
        lstat, S_ISDIR, S_ISREG, S_IMODE = os.lstat, stat.S_ISDIR, stat.S_ISREG, stat.S_IMODE
        for name in names:
            if self._ready:  # full chunks, in order, before anything else is added
                yield from self._drain()
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                st = lstat(name, dir_fd=dfd)
            except FileNotFoundError:
                continue
            excluded = filtering and self._excluded(rel, verdict)
            mode = st.st_mode
            # Root-owned, as docker's CLI sends the context; mode and whole-second mtime kept.
            if S_ISDIR(mode):
                if excluded and not self.matcher.may_match_below(rel):
                    continue
                if not excluded:
                    self._header(tar_header(rel, S_IMODE(mode), int(st.st_mtime), DIRTYPE))
                try:
                    sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
                except OSError as e:
                    raise CLIError(f"error checking context: {(e.strerror or str(e)).lower()}: {path}/{name}") from None
                if self._ready:
                    yield from self._drain()
                try:
                    yield from self._walk(sub, rel, f"{path}/{name}")
                finally:
                    os.close(sub)
                continue
            if excluded:
                continue
            if S_ISREG(mode):
                size = st.st_size
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in self._links:
                        self._header(tar_header(rel, S_IMODE(mode), int(st.st_mtime), LNKTYPE,
                                                linkname=self._links[key]))
                        continue
                    self._links[key] = rel
                try:
                    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=dfd)
                except OSError as e:
                    raise CLIError(f"error checking context: can't open {path}/{name}: {e.strerror or e}") from None
                try:
                    self._header(tar_header(rel, S_IMODE(mode), int(st.st_mtime), REGTYPE, size))
                    if not self._read_in(fd, size):
                        yield from self._drain()
                        yield from self._content(fd, size)
                finally:
                    os.close(fd)
                self.files += 1
            elif stat.S_ISLNK(mode):
                self._header(tar_header(rel, S_IMODE(mode), int(st.st_mtime), SYMTYPE,
                                        linkname=os.readlink(name, dir_fd=dfd)))
            elif stat.S_ISFIFO(mode):
                self._header(tar_header(rel, S_IMODE(mode), int(st.st_mtime), FIFOTYPE))
        if self._ready:
            yield from self._drain()

    def _read_in(self, fd: int, size: int) -> bool:
        """The common case: the file fits the buffer; read straight into it,
        padded to a block (zeros stand for what a shrinking file lacks, a
        growing one is cut at size). False when it does not fit."""
        padded = size + (-size % 512)
        if padded > len(self._buf) - self._pos:
            return False
        pos = self._pos
        end = pos + size
        while pos < end:
            n = os.readv(fd, [self._view[pos:end]])
            if not n:
                break
            pos += n
        self._pos += padded
        self._zero(pos, self._pos)
        return True

    def _content(self, fd: int, size: int) -> Iterator[memoryview]:
        """A file bigger than the buffer's room, across chunks."""
        left = size
        while left > 0:
            room = len(self._buf) - self._pos
            if room <= 0:
                yield self._flush()
                continue
            want = min(room, left)
            n = os.readv(fd, [self._view[self._pos:self._pos + want]]) if want else 0
            if not n:  # shrank: zeros stand for the rest
                n = want
                self._zero(self._pos, self._pos + n)
            self._pos += n
            left -= n
        pad = -size % 512
        if pad:
            if self._pos + pad > len(self._buf):
                yield self._flush()
            self._zero(self._pos, self._pos + pad)
            self._pos += pad


_USTAR = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")
# uid, gid, the checksum field as spaces, magic, version, devmajor, devminor.
_CONST_SUM = 2 * sum(b"0000000\0") + 8 * 32 + sum(b"ustar\0") + sum(b"00") + 2 * sum(b"0000000\0")


def tar_header(name: str, mode: int, mtime: int, kind: bytes, size: int = 0, linkname: str = "") -> bytes:
    """A ustar header built directly (tarfile's takes ~50 µs, which is most
    of the cost of sending a context of many small files); names that do not
    fit ustar, and huge files, go through tarfile's PAX headers."""
    raw = name.encode("utf-8", "surrogateescape")
    link = linkname.encode("utf-8", "surrogateescape")
    prefix = b""
    if len(raw) > 100:
        cut = raw.rfind(b"/", 0, 156)
        if 0 < cut and len(raw) - cut - 1 <= 100:
            prefix, raw = raw[:cut], raw[cut + 1:]
    if len(raw) > 100 or len(link) > 100 or size >= 0o77777777777 or not 0 <= mtime < 0o77777777777:
        import tarfile
        ti = tarfile.TarInfo(name)
        ti.type, ti.size, ti.linkname, ti.mode, ti.mtime = kind, size, linkname, mode, mtime
        return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    mode_b, size_b, mtime_b = b"%07o\0" % mode, b"%011o\0" % size, b"%011o\0" % mtime
    # The checksum is the sum of every header byte: the constant fields' share is precomputed.
    chk = _CONST_SUM + sum(raw) + sum(mode_b) + sum(size_b) + sum(mtime_b) + kind[0] + sum(link) + sum(prefix)
    return _USTAR.pack(raw, mode_b, b"0000000\0", b"0000000\0", size_b, mtime_b, b"%06o\0 " % chk, kind, link,
                       b"ustar\0", b"00", b"", b"", b"0000000\0", b"0000000\0", prefix)


def _is_tar_or_compressed(head: bytes) -> bool:
    return head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or \
        head[:4] == b"\x28\xb5\x2f\xfd" or head[257:262] == b"ustar"


def _stdin_chunks(first: bytes) -> Iterator[bytes]:
    yield first
    while True:
        data = sys.stdin.buffer.read(_CHUNK)
        if not data:
            return
        yield data


def _single_file_tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    import tarfile
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, int(time.time())
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def prepare_context(path: str, dockerfile: str) -> tuple[Any, str, ContextTar | None, str]:
    """(request body, dockerfile query value, tar writer, remote URL)."""
    if path == "-":
        if dockerfile == "-":
            raise CLIError("invalid argument: can't use stdin for both build context and dockerfile", 1)
        head = sys.stdin.buffer.read(1024)
        if _is_tar_or_compressed(head):
            return _stdin_chunks(head), dockerfile, None, ""
        data = head + sys.stdin.buffer.read()
        return _single_file_tar("Dockerfile", data), "Dockerfile", None, ""
    if not os.path.isdir(path) and (is_git_url(path) or is_url(path)):
        return None, dockerfile, None, path  # the daemon fetches it
    root = os.path.abspath(path)
    if not os.path.isdir(root):
        raise CLIError(f"unable to prepare context: path \"{path}\" not found", 1)
    extra: list[tuple[str, bytes]] = []
    if dockerfile == "-":
        name = f".dockerfile.{os.urandom(10).hex()}"
        extra.append((name, sys.stdin.buffer.read()))
        df_path, df_rel = "", name
    else:
        df_path = os.path.abspath(dockerfile) if dockerfile else os.path.join(root, "Dockerfile")
        if not os.path.exists(df_path) and not dockerfile and os.path.exists(os.path.join(root, "dockerfile")):
            df_path = os.path.join(root, "dockerfile")
        if not os.path.isfile(df_path):
            raise CLIError(f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                           f"lstat {df_path}: no such file or directory", 1)
        rel = os.path.relpath(os.path.realpath(df_path), os.path.realpath(root))
        if rel.startswith(".."):
            df_rel = f".dockerfile.{os.urandom(10).hex()}"
            with open(df_path, "rb") as f:
                extra.append((df_rel, f.read()))
        else:
            df_rel = rel.replace(os.sep, "/")
    # The Dockerfile's own ignore file wins over the context's.
    patterns: list[str] = []
    for candidate in ([df_path + IGNORE_FILE] if df_path else []) + [os.path.join(root, IGNORE_FILE)]:
        if os.path.isfile(candidate):
            with open(candidate, "rb") as f:
                patterns = read_patterns(f.read())
            break
    try:
        matcher = PatternMatcher(patterns)
    except ValueError as e:
        raise CLIError(f"error checking context: {e}", 1) from None
    keep = {IGNORE_FILE}
    if df_rel and not df_rel.startswith(".dockerfile."):
        keep |= {df_rel, df_rel + IGNORE_FILE}
    tar = ContextTar(root, matcher, keep, extra, buffers=4)
    return _packed_aside(tar.chunks()), df_rel, tar, ""


def _packed_aside(chunks: Iterator[memoryview]) -> Iterator[memoryview]:
    """The context packed in a thread while this one sends it: the walk's
    Python and the socket's copies (and the daemon's pace) overlap. A queue
    of one: chunk k is begun (in chunk k - 4's buffer, ContextTar(buffers=4))
    once chunk k - 2 is queued, so once the sender took chunk k - 3, so when
    it is done with chunk k - 4."""
    import queue
    import threading
    q: queue.Queue[Any] = queue.Queue(maxsize=1)
    end = object()
    stop = threading.Event()

    def pack() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        q.put(chunk, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as e:  # CLIError and the like: raised where the chunks are taken
            q.put(e)
    worker = threading.Thread(target=pack, name="context", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


# -- showing the build -----------------------------------------------------------------

class Display:
    """Classic stream messages as steps: header, output, status, time."""

    def __init__(self, out: Any, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.step = ""
        self.num = 0
        self.started = 0.0
        self.cached = False
        self.image_id = ""
        self.errored = False
        self.counter = ""
        self.tail: list[str] = []  # the current step's last output lines, shown again if it fails

    def _c(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.tty else text

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def finish(self, failed: bool = False) -> None:
        if not self.step:
            return
        took = time.monotonic() - self.started
        if failed:
            status = self._c("31", "ERROR")
        elif self.cached:
            status = self._c("34", "CACHED")
        else:
            status = self._c("32", "DONE")
        self._write(f"#{self.num} {status} {took:.1f}s\n")
        self.step = ""

    def message(self, msg: dict[str, Any]) -> None:
        if "errorDetail" in msg or "error" in msg:
            step, counter, tail = self.step, self.counter, list(self.tail)
            self.finish(failed=True)
            self.errored = True
            if step and tail:  # as BuildKit does: the failed step and its last lines, boxed
                self._write("------\n" + self._c("1", f" > [{counter}] {step}:") + "\n" +
                            "".join(f"{line}\n" for line in tail) + "------\n")
            return
        aux = msg.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self.image_id = aux["ID"]
            return
        if "status" in msg:  # pull progress
            line = " ".join(str(msg[k]) for k in ("id", "status", "progress") if msg.get(k))
            self._write(f"#{self.num} {line}\n" if self.step else line + "\n")
            return
        text = msg.get("stream")
        if not isinstance(text, str):
            return
        for line in text.splitlines(keepends=True):
            self._line(line)

    def _line(self, line: str) -> None:
        body = line.rstrip("\n")
        if body.startswith("Step ") and " : " in body:
            self.finish()
            counter, _, instruction = body[5:].partition(" : ")
            self.num += 1
            self.step = instruction
            self.counter = counter
            self.tail = []
            self.cached = False
            self.started = time.monotonic()
            self._write(f"#{self.num} " + self._c("1", f"[{counter}] {instruction}") + "\n")
        elif body == " ---> Using cache":
            self.cached = True
        elif body.startswith(" ---> Running in ") or body.startswith(" ---> Removed intermediate"):
            pass
        elif body.startswith(" ---> ") or body.startswith("# Executing"):
            if body.startswith("# Executing"):
                self._write(f"#{self.num} {body}\n")
        elif body.startswith(("Successfully built", "Successfully tagged", "[Warning]")):
            self.finish()
            self._write(body + "\n")
        elif self.step:
            elapsed = time.monotonic() - self.started
            self.tail = (self.tail + [body])[-10:]
            self._write(f"#{self.num} " + self._c("2", f"{elapsed:.3f} {body}") + "\n")
        else:
            self._write(line if line.endswith("\n") else line + "\n")


# -- commands ------------------------------------------------------------------------

def _gzipped(chunks: Any) -> Iterator[bytes]:
    """--compress: the context gzipped as it is sent (the daemon inflates it)."""
    import zlib
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in ([chunks] if isinstance(chunks, bytes) else chunks):
        out = z.compress(chunk)
        if out:
            yield out
    yield z.flush()


def _kv_list(values: list[str], what: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for v in values:
        k, eq, val = v.partition("=")
        if not k:
            raise CLIError(f"invalid argument \"{v}\" for \"--{what}\" flag", 125)
        out[k] = val if eq else (os.environ.get(k) if what == "build-arg" else "")
    return out


def cmd_build(argv: list[str], gopts: dict) -> int:
    from .opts import mem_swap_bytes, ram_bytes, ulimit
    p = Parser(prog="dockyard build", usage="dockyard build [OPTIONS] PATH | URL | -", add_help=False)
    p.add_argument("--help", action="help", help="Print usage", hidden=True)
    p.add_argument("--add-host", action="append", default=[], help='Add a custom host-to-IP mapping ("host:ip")')
    p.add_argument("--build-arg", action="append", default=[], help="Set build-time variables")
    p.add_argument("--cache-from", action="append", default=[], kind="strings",
                   help="Images to consider as cache sources")
    p.add_argument("--cgroup-parent", default="", help='Set the parent cgroup for the "RUN" instructions during build')
    p.add_argument("--compress", action="store_true", help="Compress the build context using gzip")
    p.add_argument("--cpu-period", type=int, default=0, help="Limit the CPU CFS (Completely Fair Scheduler) period")
    p.add_argument("--cpu-quota", type=int, default=0, help="Limit the CPU CFS (Completely Fair Scheduler) quota")
    p.add_argument("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)")
    p.add_argument("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    p.add_argument("--cpuset-mems", default="", help="MEMs in which to allow execution (0-3, 0,1)")
    p.add_argument("--disable-content-trust", action="store_true", default=True,
                   help="Skip image verification")
    p.add_argument("-f", "--file", default="", help='Name of the Dockerfile (Default is "PATH/Dockerfile")')
    p.add_argument("--force-rm", action="store_true", help="Always remove intermediate containers")
    p.add_argument("--iidfile", default="", help="Write the image ID to the file")
    p.add_argument("--isolation", default="", help="Container isolation technology")
    p.add_argument("--label", action="append", default=[], help="Set metadata for an image")
    p.add_argument("-m", "--memory", type=ram_bytes, default=0, kind="bytes", help="Memory limit")
    p.add_argument("--memory-swap", type=mem_swap_bytes, default=0, kind="bytes",
                   help="Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    p.add_argument("--network", default="default", help="Set the networking mode for the RUN instructions during build")
    p.add_argument("--no-cache", action="store_true", help="Do not use cache when building the image")
    p.add_argument("--platform", default="", help="Set platform if server is multi-platform capable")
    p.add_argument("--progress", default="auto", choices=["auto", "plain", "tty", "quiet"],
                   help="Type of progress output")
    p.add_argument("--pull", action="store_true", help="Always attempt to pull a newer version of the image")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the build output and print image ID on success")
    p.add_argument("--rm", action="store_true", default=True,
                   help="Remove intermediate containers after a successful build")
    p.add_argument("--security-opt", action="append", default=[], kind="strings", help="Security options")
    p.add_argument("--shm-size", type=ram_bytes, default=0, kind="bytes", help='Size of "/dev/shm"')
    p.add_argument("--squash", action="store_true", experimental=True,
                   help="Squash newly built layers into a single new layer")
    p.add_argument("-t", "--tag", action="append", default=[], help='Name and optionally a tag in the "name:tag" format')
    p.add_argument("--target", default="", help="Set the target build stage to build.")
    p.add_argument("--ulimit", action="append", default=[], type=ulimit, kind="ulimit", help="Ulimit options")
    p.add_argument("path")
    a = p.parse_args(argv)
    quiet = a.quiet or a.progress == "quiet"
    body, df_rel, tar, remote = prepare_context(a.path, a.file)
    if a.compress and body is not None:
        body = _gzipped(body)
    # What docker's client sends: flags left at their zero value are left out.
    q: dict[str, Any] = {"t": a.tag or None, "dockerfile": df_rel or None, "q": int(quiet) or None,
                         "nocache": int(a.no_cache) or None, "pull": int(a.pull) or None, "target": a.target or None,
                         "networkmode": a.network if a.network != "default" else None, "platform": a.platform or None, "remote": remote or None,
                         "rm": None if a.rm else 0, "forcerm": int(a.force_rm) or None, "squash": int(a.squash) or None,
                         "extrahosts": a.add_host or None, "securityopt": a.security_opt or None,
                         "cpusetcpus": a.cpuset_cpus or None, "cpusetmems": a.cpuset_mems or None,
                         "cpushares": a.cpu_shares or None, "cpuquota": a.cpu_quota or None,
                         "cpuperiod": a.cpu_period or None, "memory": a.memory or None, "memswap": a.memory_swap or None,
                         "cgroupparent": a.cgroup_parent or None, "shmsize": a.shm_size or None,
                         "isolation": a.isolation if a.isolation.lower() not in ("", "default") else None,
                         "ulimits": json.dumps(a.ulimit, separators=(",", ":")) if a.ulimit else None, "version": "1"}
    args = _kv_list(a.build_arg, "build-arg")
    if args:
        q["buildargs"] = json.dumps(args)
    labels = _kv_list(a.label, "label")
    if labels:
        q["labels"] = json.dumps(labels)
    if a.cache_from:
        q["cachefrom"] = json.dumps([v for f in a.cache_from for v in f.split(",") if v], separators=(",", ":"))
    tty = a.progress == "tty" or (a.progress == "auto" and sys.stdout.isatty())
    display = Display(sys.stdout if not quiet else io.StringIO(), tty)
    error = ""
    status = 1
    try:
        for msg in client(gopts).image_build(body, q):
            if msg.get("error") or msg.get("errorDetail"):
                detail = msg.get("errorDetail") or {}
                error = msg.get("error") or detail.get("message", "")
                status = int(detail.get("code") or 1)  # a failed RUN's exit code, as docker exits
            if quiet:
                if msg.get("aux", {}).get("ID") if isinstance(msg.get("aux"), dict) else False:
                    display.image_id = msg["aux"]["ID"]
                continue
            display.message(msg)
    except errdefs.EngineError as e:
        if remote and e.kind == "Internal" and is_git_url(remote):  # the clone failed: docker's CLI words
            raise CLIError(f"unable to prepare context: unable to 'git clone' to temporary context directory: "
                           f"{e.message}", 1) from None
        raise daemon_error(e) from None
    if error:
        raise CLIError(error, status)
    if a.iidfile and display.image_id:
        with open(a.iidfile, "w") as f:
            f.write(display.image_id)
    if quiet:
        print(display.image_id)
    return 0


def cmd_builder_prune(argv: list[str], gopts: dict) -> int:
    from .opts import ram_bytes
    p = Parser(prog="dockyard builder prune", usage="dockyard builder prune")
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused build cache, not just dangling ones")
    p.add_argument("--filter", action="append", default=[], kind="filter",
                   help='Provide filter values (e.g. "until=24h")')
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--keep-storage", type=ram_bytes, default=0, kind="bytes",
                   help="Amount of disk space to keep for cache")
    a = p.parse_args(argv)
    if not confirm(f"WARNING! This will remove {'all' if a.all else 'all dangling'} build cache.", a.force):
        return 0
    res = daemon_call(client(gopts).build_prune, a.all, parse_filters(a.filter), a.keep_storage)
    print_prune("Deleted build cache objects:", res.get("CachesDeleted"), res.get("SpaceReclaimed") or 0)
    return 0
