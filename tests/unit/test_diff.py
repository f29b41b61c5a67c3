"""core.diff without root: tarballs of plain trees (determinism, links,
round trip through apply_layer) and docker's change list against lower
directories. Whiteouts and opaque directories need a real overlay mount
(tests/integration/test_diff_overlay.py)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile

from dockyard.core.archive import apply_layer
from dockyard.core.diff import ADDED, DELETED, EMPTY_LAYER_DIGEST, MODIFIED, Change, changes, write_tar


def tree(root, files: dict[str, bytes | str | None], mtime: int = 1_600_000_000) -> None:
    """name -> bytes (file), str (symlink target), None (directory)."""
    for name, content in files.items():
        p = os.path.join(root, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if content is None:
            os.makedirs(p, exist_ok=True)
        elif isinstance(content, str):
            os.symlink(content, p)
        else:
            with open(p, "wb") as f:
                f.write(content)
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for n in filenames + dirnames:
            os.utime(os.path.join(dirpath, n), (mtime, mtime), follow_symlinks=False)


def tar_of(root, overlay: bool = True) -> bytes:
    buf = io.BytesIO()
    write_tar(str(root), buf, overlay=overlay)
    return buf.getvalue()


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getmembers()


def test_empty_directory_is_the_empty_layer(tmp_path) -> None:
    data = tar_of(tmp_path)
    assert len(data) == 1024
    assert "sha256:" + hashlib.sha256(data).hexdigest() == EMPTY_LAYER_DIGEST


def test_entries_sorted_with_metadata(tmp_path) -> None:
    tree(tmp_path, {"b/z": b"zz", "b/a": b"a", "a": None, "c": "b/a", "b/x/y": b"deep"})
    os.chmod(tmp_path / "b/z", 0o751)
    ms = members(tar_of(tmp_path))
    assert [m.name for m in ms] == ["a", "b", "b/a", "b/x", "b/x/y", "b/z", "c"]
    by = {m.name: m for m in ms}
    assert by["a"].isdir() and by["c"].issym() and by["c"].linkname == "b/a"
    assert by["b/z"].mode == 0o751 and by["b/z"].size == 2 and by["b/z"].mtime == 1_600_000_000
    assert by["b/x/y"].uname == "" and by["b/x/y"].uid == os.getuid()


def test_deterministic(tmp_path) -> None:
    files = {f"d{i}/f{j}": os.urandom(100 * j) for i in range(3) for j in range(4)}
    tree(tmp_path / "one", files)
    tree(tmp_path / "two", dict(reversed(list(files.items()))))
    assert tar_of(tmp_path / "one") == tar_of(tmp_path / "two")


def test_hard_links_written_once(tmp_path) -> None:
    tree(tmp_path, {"bin/tool": b"#!" + b"x" * 5000})
    os.link(tmp_path / "bin/tool", tmp_path / "bin/alias")
    by = {m.name: m for m in members(tar_of(tmp_path))}
    assert by["bin/alias"].isreg() and by["bin/alias"].size == 5002  # first by name carries the data
    assert by["bin/tool"].islnk() and by["bin/tool"].linkname == "bin/alias"


def test_round_trip_through_apply_layer(tmp_path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree(src, {"etc/conf": b"x=1\n", "etc/empty": b"", "usr/lib/big": os.urandom(3 << 20),
               "usr/lib/link": "big", "var": None, "long/" + "n" * 150: b"long name"})
    dst.mkdir()
    apply_layer(str(dst), io.BytesIO(tar_of(src)), same_owner=False)
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        for n in filenames:
            a, b = os.path.join(src, rel, n), os.path.join(dst, rel, n)
            if os.path.islink(a):
                assert os.readlink(a) == os.readlink(b)
            else:
                assert open(a, "rb").read() == open(b, "rb").read()
                assert os.stat(a).st_mode == os.stat(b).st_mode
                assert int(os.stat(a).st_mtime) == int(os.stat(b).st_mtime)


def test_symlinked_directories_are_not_followed(tmp_path) -> None:
    outside = tmp_path / "outside"
    tree(outside, {"secret": b"do not archive"})
    tree(tmp_path / "root", {"escape": str(outside), "plain": b"p"})
    names = [m.name for m in members(tar_of(tmp_path / "root"))]
    assert names == ["escape", "plain"]


def test_changes_against_lowers(tmp_path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    tree(lower, {"etc/passwd": b"root\n", "etc/group": b"root\n", "usr/bin/tool": b"t", "var/log": None})
    tree(upper, {"etc/passwd": b"root\nme\n", "usr/bin/new": b"n", "srv/data/file": b"d", "var/log": None})
    # Directories copied up with unchanged metadata are not changes (var, var/log, etc, usr):
    # a parent shows up only ahead of an addition below it (usr/bin), as docker reports.
    got = changes(str(upper), [str(lower)])
    assert got == [
        Change("/etc/passwd", MODIFIED),
        Change("/srv", ADDED), Change("/srv/data", ADDED), Change("/srv/data/file", ADDED),
        Change("/usr/bin", MODIFIED), Change("/usr/bin/new", ADDED),
    ]
    os.utime(upper / "etc", (1, 1))
    assert changes(str(upper), [str(lower)])[:2] == [Change("/etc", MODIFIED), Change("/etc/passwd", MODIFIED)]


def test_changes_parent_reported_before_first_addition(tmp_path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    tree(lower, {"tmp": None})
    tree(upper, {"tmp/new": b"x"})
    st = os.stat(lower / "tmp")
    os.utime(upper / "tmp", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert changes(str(upper), [str(lower)]) == [Change("/tmp", MODIFIED), Change("/tmp/new", ADDED)]


def test_changes_upper_only(tmp_path) -> None:
    tree(tmp_path, {"a/b": b"x"})
    assert [c.to_json() for c in changes(str(tmp_path), [])] == [
        {"Path": "/a", "Kind": ADDED}, {"Path": "/a/b", "Kind": ADDED}]
    assert DELETED == 2
