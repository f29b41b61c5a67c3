"""core.diff on real overlayfs upper directories: deletions become
whiteouts, replaced directories opaque markers, and the layer applied on
the same parent reproduces the container's view."""

from __future__ import annotations

import io
import os
import shutil
import tarfile

import pytest

from dockyard.core.archive import apply_layer
from dockyard.core.diff import ADDED, DELETED, MODIFIED, Change, changes_for_mounts, write_diff
from dockyard.core.mount import mount_all, unmount_all
from dockyard.core.snapshots import OverlaySnapshotter


@pytest.fixture
def snap(tmp_path):
    s = OverlaySnapshotter(str(tmp_path / "overlay"))
    s.prepare("base-x")
    base = s.dir("base-x")
    for d in ("etc", "srv/old/sub", "srv/keep", "bin"):
        os.makedirs(os.path.join(base, d))
    for f, data in {"etc/passwd": b"root\n", "etc/hosts": b"127.0.0.1\n", "srv/old/a": b"a",
                    "srv/old/sub/b": b"b", "srv/keep/k": b"k", "bin/tool": b"tool"}.items():
        with open(os.path.join(base, f), "wb") as fh:
            fh.write(data)
    s.commit("base", "base-x")
    yield s, tmp_path


def snapshot_tree(root: str) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", st.st_mode)
            else:
                out[rel] = ("file", st.st_mode, open(p, "rb").read())
    return out


def test_layer_of_a_container_change(snap) -> None:
    s, tmp = snap
    mounts = s.prepare("ctr", "base")
    merged = str(tmp / "merged")
    mount_all(mounts, merged)
    try:
        os.unlink(os.path.join(merged, "etc/hosts"))                  # whiteout
        shutil.rmtree(os.path.join(merged, "srv/old"))                 # whiteout of a directory
        os.makedirs(os.path.join(merged, "srv/keep"), exist_ok=True)
        shutil.rmtree(os.path.join(merged, "srv/keep"))
        os.makedirs(os.path.join(merged, "srv/keep"))                  # replaced: opaque
        with open(os.path.join(merged, "srv/keep/new"), "wb") as f:
            f.write(b"new")
        with open(os.path.join(merged, "etc/passwd"), "ab") as f:   # copy-up
            f.write(b"me\n")
        os.symlink("tool", os.path.join(merged, "bin/alias"))
        expected = snapshot_tree(merged)
    finally:
        unmount_all(merged)

    buf = io.BytesIO()
    assert write_diff(mounts, buf) > 0
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        names = {m.name: m for m in tf.getmembers()}
    assert names["etc/.wh.hosts"].isreg() and names["etc/.wh.hosts"].size == 0
    assert "srv/.wh.old" in names
    assert "srv/keep/.wh..wh..opq" in names and names["srv/keep/new"].isreg()
    assert names["bin/alias"].issym()
    assert not any("trusted.overlay" in k for m in names.values() for k in m.pax_headers)

    got = changes_for_mounts(mounts)
    assert Change("/etc/hosts", DELETED) in got and Change("/srv/old", DELETED) in got
    assert Change("/etc/passwd", MODIFIED) in got and Change("/bin/alias", ADDED) in got
    assert Change("/srv/keep/k", DELETED) in got and Change("/srv/keep/new", ADDED) in got

    # The same layer applied above the same parent gives the same view.
    s.prepare("replay-x", "base")
    apply_layer(s.dir("replay-x"), io.BytesIO(buf.getvalue()))
    s.commit("replay", "replay-x")
    view = str(tmp / "view")
    mount_all(s.view("check", "replay"), view)
    try:
        assert snapshot_tree(view) == expected
    finally:
        unmount_all(view)
    for key in ("check", "ctr", "replay", "base"):
        s.remove(key)
