"""The build context index: spooled tarballs, digests, lookups, ignore
files, and COPY's source resolution from it (no daemon)."""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import tarfile

import pytest

from dockyard.build import copy as cp
from dockyard.build.context import BuildContext, ContextError
from dockyard.build.dockerignore import PatternMatcher
from dockyard.build.fsops import Meta, RootFS


def make_tar(entries: list[tuple]) -> bytes:
    """(name, bytes) files, (name, None) dirs, (name, '->target') symlinks, (name, '=>target') hard links."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1_600_000_000
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            elif isinstance(data, str) and data.startswith("->"):
                ti.type, ti.linkname = tarfile.SYMTYPE, data[2:]
                tf.addfile(ti)
            elif isinstance(data, str) and data.startswith("=>"):
                ti.type, ti.linkname = tarfile.LNKTYPE, data[2:]
                tf.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o640
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


ENTRIES = [("Dockerfile", b"FROM scratch\n"), ("src", None), ("src/a.txt", b"A"), ("src/b.log", b"B"),
           ("src/deep/c.txt", b"C"), ("link", "->src/a.txt"), ("hard", "=>src/b.log"),
           ("../../escape", b"clamped")]


@pytest.fixture(params=["plain", "gzip", "xz", "spilled"])
def ctx(request, tmp_path):
    data = make_tar(ENTRIES)
    data = {"plain": data, "gzip": gzip.compress(data), "xz": lzma.compress(data), "spilled": data}[request.param]
    # "spilled": past the memory limit the context goes to a spool file.
    c = BuildContext.load(io.BytesIO(data), str(tmp_path / "w"), limit=1000 if request.param == "spilled" else 1 << 20)
    assert (c.data.buf is None) == (request.param == "spilled")
    yield c
    c.close()


def test_index(ctx) -> None:
    assert ctx.get("src/a.txt").digest == hashlib.sha256(b"A").hexdigest()
    assert ctx.get("src/deep").type == "d"  # implied by its child
    assert ctx.get("escape").size == 7  # '..' stops at the root: nothing is extracted by name
    assert ctx.get("hard").type == "h" and ctx.get("hard").digest == ctx.get("src/b.log").digest
    assert ctx.read("link") == b"A" and ctx.resolve("link").path == "src/a.txt"
    assert ctx.glob("src/*.txt") == ["src/a.txt"] and ctx.glob("*/*.log") == ["src/b.log"]
    assert [e.path for e in ctx.children("src")] == ["src/a.txt", "src/b.log", "src/deep", "src/deep/c.txt"]


def test_ignore(ctx) -> None:
    ctx.apply_ignore(PatternMatcher(["src", "!src/deep"]))
    assert ctx.get("src/a.txt") is None and ctx.get("src/deep/c.txt") is not None


def test_not_a_tar(tmp_path) -> None:
    with pytest.raises(ContextError, match="not a tar archive"):
        BuildContext.load(io.BytesIO(b"\x00not a tar at all" * 100), str(tmp_path / "w"))


def test_sources_and_errors(ctx) -> None:
    (src,) = cp.from_context(ctx, "src")
    assert src.is_dir and [i.rel for i in src.items] == ["", "a.txt", "b.log", "deep", "deep/c.txt"]
    (f,) = cp.from_context(ctx, "link")
    assert not f.is_dir and f.name == "link" and f.items[0].digest == hashlib.sha256(b"A").hexdigest()
    assert [s.name for s in cp.from_context(ctx, "src/*.txt")] == ["a.txt"]
    with pytest.raises(cp.CopyError, match="file not found in build context or excluded by .dockerignore"):
        cp.from_context(ctx, "missing")
    with pytest.raises(cp.CopyError, match="Forbidden path outside the build context"):
        cp.from_context(ctx, "../x")
    with pytest.raises(cp.CopyError, match="no source files were specified"):
        cp.from_context(ctx, "*.nothing")
    excl = cp.from_context(ctx, "src", PatternMatcher(["*.log"]))[0]
    assert [i.rel for i in excl.items] == ["", "a.txt", "deep", "deep/c.txt"]


def test_checksum_ignores_times_not_content(tmp_path) -> None:
    def checksum(entries, mtime):
        data = make_tar(entries)
        c = BuildContext.load(io.BytesIO(data), str(tmp_path / f"w{mtime}{len(data)}"))
        for e in c.entries.values():
            e.mtime = mtime
        try:
            return cp.from_context(c, ".")[0].checksum()
        finally:
            c.close()
    base = [("a", b"1"), ("d", None), ("d/b", b"2")]
    assert checksum(base, 1) == checksum(base, 2)
    assert checksum(base, 1) != checksum([("a", b"1"), ("d", None), ("d/b", b"3")], 1)


def test_write_into_a_root_never_leaves_it(ctx, tmp_path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "etc-link")          # absolute link: resolved inside the root
    os.symlink("../../..", root / "up")              # climbing link: stops at the root
    with RootFS(str(root)) as fs:
        assert fs.resolve("/etc-link/x") == "etc/x"
        assert fs.resolve("/up/etc") == "etc"
        (src,) = cp.from_context(ctx, "src")
        cp.write(fs, "/up/dest/", True, src.items, cp.Ownership((os.getuid(), os.getgid()), None, False),
                 Meta(0o755, os.getuid(), os.getgid()))
    assert (root / "dest/deep/c.txt").read_bytes() == b"C"
    assert oct((root / "dest/a.txt").stat().st_mode & 0o777) == "0o640"
    assert (root / "dest/a.txt").stat().st_mtime == 1_600_000_000


def test_tar_cut_after_the_last_file(tmp_path) -> None:
    """docker's CLI sends this when it adds a Dockerfile from outside the context."""
    data = make_tar([("a", b"1"), ("Dockerfile", b"FROM busybox\n")])
    cut = data[:512 * 3 + len(b"FROM busybox\n")]  # no padding, no end-of-archive blocks
    c = BuildContext.load(io.BytesIO(cut), str(tmp_path / "w"))
    try:
        assert c.read("Dockerfile") == b"FROM busybox\n" and c.read("a") == b"1"
    finally:
        c.close()


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tarscan_reads_what_tarfile_writes(fmt) -> None:
    from dockyard.build import tarscan
    buf = io.BytesIO()
    long = "deep/" * 30 + "file.txt"
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, kind, data, link in (("dir", tarfile.DIRTYPE, b"", ""), ("dir/f", tarfile.REGTYPE, b"x" * 700, ""),
                                       (long, tarfile.REGTYPE, b"long", ""), ("ln", tarfile.SYMTYPE, b"", "l" * 150),
                                       ("hard", tarfile.LNKTYPE, b"", "dir/f"), ("fifo", tarfile.FIFOTYPE, b"", "")):
            if fmt == tarfile.USTAR_FORMAT and (len(link) > 100):
                continue
            ti = tarfile.TarInfo(name)
            ti.type, ti.size, ti.linkname, ti.mode, ti.mtime, ti.uid = kind, len(data), link, 0o640, 1234567890, 7
            tf.addfile(ti, io.BytesIO(data) if data else None)
    raw = buf.getvalue()
    got = {m.name.rstrip("/"): m for m in tarscan.scan(raw, len(raw))}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for want in tf:
            m = got[want.name.rstrip("/")]
            assert (m.type, m.mode, m.uid, m.mtime, m.linkname) == (want.type, want.mode, want.uid,
                                                                      int(want.mtime), want.linkname)
            if want.isreg():
                assert raw[m.offset:m.offset + m.size] == tf.extractfile(want).read()


def _feed_in_pieces(data: bytes, workdir: str, piece: int) -> BuildContext:
    sp = BuildContext.spooler(workdir)
    try:
        for off in range(0, len(data), piece):
            sp.feed(data[off:off + piece])
        d = sp.finish()
    finally:
        sp.close()
    return BuildContext.open(sp, d)


@pytest.mark.parametrize("piece", [1, 7, 511, 513, 4096])
def test_index_built_while_the_tarball_arrives(tmp_path, piece) -> None:
    """The spooler indexes each member as soon as it is complete: pieces of
    any size (headers, PAX records and contents cut anywhere) give the same
    index, digests included, as the whole tarball at once."""
    long = "deep/" * 40 + "name.txt"  # a PAX header of its own
    data = make_tar(ENTRIES + [(long, b"z" * 3000), ("big", bytes(range(256)) * 40), ("empty", b"")])
    whole = BuildContext.load(io.BytesIO(data), str(tmp_path / "whole"))
    cut = _feed_in_pieces(data, str(tmp_path / "cut"), piece)
    try:
        assert {p: (e.type, e.size, e.offset, e.digest, e.linkname) for p, e in cut.entries.items()} == \
            {p: (e.type, e.size, e.offset, e.digest, e.linkname) for p, e in whole.entries.items()}
        assert cut.get(long).digest == hashlib.sha256(b"z" * 3000).hexdigest()
        assert cut.get("empty").digest == hashlib.sha256(b"").hexdigest()
        assert cut.read("big") == bytes(range(256)) * 40
    finally:
        whole.close()
        cut.close()


@pytest.mark.parametrize("piece", [100, 1 << 20])
def test_bad_tarballs_fail_whatever_the_pieces(tmp_path, piece) -> None:
    good = make_tar([("a", b"1" * 600), ("b", b"2")])
    bad_sum = bytearray(good)
    bad_sum[1024 + 512] ^= 1  # b's header (after a's header and 2 blocks of content)
    with pytest.raises(ContextError, match="not a valid tar archive: invalid tar header checksum"):
        _feed_in_pieces(bytes(bad_sum), str(tmp_path / "sum"), piece)
    with pytest.raises(ContextError, match="not a tar archive: unexpected end of data"):
        _feed_in_pieces(good[:512 + 300], str(tmp_path / "cut"), piece)  # a's content cut short
    dangling = make_tar([("a", b"1"), ("h", "=>missing")])
    with pytest.raises(ContextError, match="invalid hard link in the build context"):
        _feed_in_pieces(dangling, str(tmp_path / "hard"), piece)


def _many_files(changed: dict[int, bytes] | None = None, count: int = 400) -> bytes:
    """~1 MiB of small files over a few directories (several fingerprint marks)."""
    changed = changed or {}
    return make_tar([(f"d{i % 5}/f{i:04d}", changed.get(i, bytes([i % 251]) * (1500 + i % 1000)))
                     for i in range(count)])


def _index(ctx: BuildContext) -> dict:
    return {p: (e.type, e.mode, e.size, e.offset, e.digest, e.linkname) for p, e in ctx.entries.items()}


@pytest.fixture
def fresh_memory(monkeypatch):
    from dockyard.build import context as ctxmod
    monkeypatch.setattr(ctxmod, "_recent", [])
    return ctxmod


@pytest.mark.parametrize("change", ["same", "content", "grown", "shrunk", "cut", "appended"])
def test_a_rebuild_reuses_what_the_same_bytes_gave(tmp_path, fresh_memory, change) -> None:
    """A rebuild sends the same bytes again: the index of an earlier upload
    is taken for the leading part that is the same, the rest is scanned;
    the result is what a scan of the whole upload gives."""
    first = _many_files()
    second = {"same": first, "content": _many_files({200: b"X" * 1700}), "grown": _many_files({150: b"Y" * 9000}),
              "shrunk": _many_files({300: b"Z"}), "cut": _many_files(count=250),
              "appended": _many_files(count=420)}[change]
    _feed_in_pieces(first, str(tmp_path / "a"), 70000).close()
    again = _feed_in_pieces(second, str(tmp_path / "b"), 65536)
    fresh_memory._recent.clear()
    alone = _feed_in_pieces(second, str(tmp_path / "c"), 1 << 20)
    try:
        assert _index(again) == _index(alone)
        assert again.read("d0/f0000") == alone.read("d0/f0000")
    finally:
        again.close()
        alone.close()


def test_what_is_reused_and_what_is_scanned(tmp_path, fresh_memory) -> None:
    from dockyard.build.context import Spooler
    first, second = _many_files(), _many_files({300: b"changed" * 300})
    reused = []
    for i, data in enumerate((first, first, second)):
        sp = Spooler(str(tmp_path / f"s{i}"))
        for off in range(0, len(data), 100000):
            sp.feed(data[off:off + 100000])
        sp.finish().close()
        reused.append(sp.reused)
    assert reused[0] == 0 and reused[1] == 400  # all of it: the same upload
    assert 150 < reused[2] < 300  # the files before the changed one's mark


def test_a_bad_header_after_the_same_bytes_is_still_found(tmp_path, fresh_memory) -> None:
    first = _many_files()
    _feed_in_pieces(first, str(tmp_path / "a"), 1 << 16).close()
    bad = bytearray(first)
    last_header = len(first) - 1024 - 512 * 5  # a header near the end (past every earlier mark)
    while bad[last_header + 257:last_header + 262] != b"ustar":
        last_header -= 512
    bad[last_header + 10] ^= 1
    with pytest.raises(ContextError, match="invalid tar header checksum"):
        _feed_in_pieces(bytes(bad), str(tmp_path / "b"), 1 << 16)


def test_ignore_verdicts_kept_for_the_same_upload_and_patterns(tmp_path, fresh_memory) -> None:
    data = _many_files()
    results = []
    for i, patterns in enumerate((["d1", "**/f00[0-4]*"], ["d1", "**/f00[0-4]*"], ["d2"], ["d1", "**/f00[0-4]*"])):
        c = _feed_in_pieces(data, str(tmp_path / f"w{i}"), 1 << 16)
        try:
            assert c.same_as is not None
            dropped = c.apply_ignore(PatternMatcher(patterns))
            results.append((dropped, sorted(c.entries)))
        finally:
            c.close()
    assert results[0] == results[1] == results[3]
    assert results[2][0] == 81 and all(not p.startswith("d2/") for p in results[2][1])
    assert results[0][0] == 1 + 80 + 40 and "d0/f0045" not in results[0][1] and "d0/f0050" in results[0][1]
