"""The CLI's context tarball writer (ContextTar): what tarfile reads back
from it, whatever the chunk size (headers and contents across chunks, a
PAX header bigger than a chunk), with .dockerignore applied."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from dockyard.build.dockerignore import PatternMatcher
from dockyard.cli.commands import build as cli_build


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "ctx"
    (root / "a/b").mkdir(parents=True)
    (root / "skip/keep").mkdir(parents=True)
    (root / "a/b/f").write_bytes(b"f" * 1000)
    (root / "a/x.tmp").write_bytes(b"ignored")
    (root / "skip/keep/k").write_bytes(b"k")
    (root / "skip/d").write_bytes(b"d")
    (root / "big").write_bytes(os.urandom(5000))
    (root / "empty").write_bytes(b"")
    long_dir = root / ("long" * 30)
    long_dir.mkdir()
    (long_dir / ("n" * 120)).write_bytes(b"long")
    os.link(root / "a/b/f", root / "hard")
    os.symlink("a/b", root / "sym")
    os.mkfifo(root / "fifo")
    (root / "Dockerfile").write_text("FROM busybox\n")
    return root


@pytest.mark.parametrize("chunk,slack", [(1 << 20, 64 << 10), (512, 0), (700, 300), (4096, 0)])
def test_context_tar_reads_back(tree, monkeypatch, chunk, slack) -> None:
    monkeypatch.setattr(cli_build, "_CHUNK", chunk)
    monkeypatch.setattr(cli_build, "_SLACK", slack)
    matcher = PatternMatcher(["**/*.tmp", "skip", "!skip/keep"])
    tar = cli_build.ContextTar(str(tree), matcher, {"Dockerfile"}, [(".dockerfile.x", b"FROM scratch\n")])
    pieces = [bytes(c) for c in tar.chunks()]
    data = b"".join(pieces)
    assert tar.bytes == len(data) and len(data) % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name: m for m in tf}
        got = {name: (tf.extractfile(m).read() if m.isreg() else None) for name, m in members.items()}
    long_name = "long" * 30 + "/" + "n" * 120
    assert got["a/b/f"] == b"f" * 1000 and got["big"] == (tree / "big").read_bytes()
    assert got[long_name] == b"long" and got["empty"] == b"" and got[".dockerfile.x"] == b"FROM scratch\n"
    assert got["skip/keep/k"] == b"k"
    assert "a/x.tmp" not in got and "skip/d" not in got and "skip" not in got  # excluded
    assert members["hard"].islnk() and members["hard"].linkname == "a/b/f"
    assert members["sym"].issym() and members["sym"].linkname == "a/b"
    assert members["fifo"].isfifo()
    assert all(m.uid == 0 and m.gid == 0 for m in members.values())
    if chunk >= 4096:
        assert all(len(p) <= chunk + max(slack, 512 * 3) for p in pieces[:-1])


def test_a_file_that_shrinks_is_padded_with_zeros(tree, monkeypatch) -> None:
    """The header promised the size lstat gave: a file that shrank meanwhile
    is sent padded with zeros, one that grew is cut at that size."""
    real_lstat = os.lstat

    def lstat(path, *, dir_fd=None):
        st = real_lstat(path, dir_fd=dir_fd)
        if path == "big":
            os.truncate(os.path.join(str(tree), "big"), 100)
        return st
    monkeypatch.setattr(os, "lstat", lstat)
    data = b"".join(bytes(c) for c in cli_build.ContextTar(str(tree), PatternMatcher([]), set()).chunks())
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        big = tf.extractfile("big").read()
    assert len(big) == 5000 and big[100:] == bytes(4900)


@pytest.mark.parametrize("chunk,slack", [(1 << 20, 64 << 10), (512, 0), (1536, 512)])
def test_reused_buffers_give_the_same_stream(tree, monkeypatch, chunk, slack) -> None:
    """With buffers taking turns (what the CLI sends), they carry
    no stale bytes: each chunk, taken as it comes, is what a fresh buffer
    gives; a file shrinking on the way is padded with zeros all the same."""
    monkeypatch.setattr(cli_build, "_CHUNK", chunk)
    monkeypatch.setattr(cli_build, "_SLACK", slack)
    (tree / "big2").write_bytes(os.urandom(3 * chunk + 100))
    real_lstat = os.lstat

    def lstat(path, *, dir_fd=None):
        st = real_lstat(path, dir_fd=dir_fd)
        if path == "big2":
            os.truncate(os.path.join(str(tree), "big2"), chunk + 7)
        return st
    monkeypatch.setattr(os, "lstat", lstat)
    fresh = b"".join(bytes(c) for c in cli_build.ContextTar(str(tree), PatternMatcher([]), set()).chunks())
    (tree / "big2").write_bytes(os.urandom(3 * chunk + 100))
    reused = b"".join(bytes(c) for c in cli_build.ContextTar(str(tree), PatternMatcher([]), set(),
                                                             buffers=2).chunks())
    with tarfile.open(fileobj=io.BytesIO(reused)) as tf:
        big2 = tf.extractfile("big2").read()
        assert len(big2) == 3 * chunk + 100 and big2[chunk + 7:] == bytes(2 * chunk + 93)
    # The same but for big2's random head.
    cut = fresh.index(b"big2\0")
    assert len(fresh) == len(reused) and fresh[:cut] == reused[:cut]


def test_packed_aside_gives_the_same_stream_and_errors(tree, monkeypatch) -> None:
    """What the CLI sends: packed in a thread (4 buffers taking turns), each
    chunk taken as a socket would, before the next one is asked for."""
    monkeypatch.setattr(cli_build, "_CHUNK", 4096)
    monkeypatch.setattr(cli_build, "_SLACK", 1024)
    for i in range(40):
        (tree / f"file{i:02d}").write_bytes(os.urandom(700 + 97 * i))
    want = b"".join(bytes(c) for c in cli_build.ContextTar(str(tree), PatternMatcher([]), set()).chunks())
    body, _, tar, _ = cli_build.prepare_context(str(tree), "")
    got = b"".join(bytes(c) for c in body)
    assert got == want and tar.bytes == len(want)

    def unreadable(*a, **kw):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "readv", unreadable)
    body, _, _, _ = cli_build.prepare_context(str(tree), "")
    with pytest.raises(PermissionError):
        b"".join(bytes(c) for c in body)
