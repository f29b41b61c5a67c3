"""core.mount.volatile: overlay layers of --rm containers skip syncs."""

from __future__ import annotations

import os

from dockyard.core.mount import Mount, volatile


def test_only_writable_overlays_become_volatile_and_a_stale_marker_goes(tmp_path) -> None:
    work = tmp_path / "work"
    (work / "work" / "incompat" / "volatile").mkdir(parents=True)
    rw = Mount("overlay", "overlay", ("index=off", "lowerdir=/l", f"upperdir={tmp_path}/fs", f"workdir={work}"))
    view = Mount("overlay", "overlay", ("index=off", "lowerdir=/a:/b"))
    bind = Mount("bind", "/x", ("rbind", "rw"))
    out = volatile([rw, view, bind])
    assert out[0].options == (*rw.options, "volatile")
    assert out[1:] == [view, bind]
    assert not os.path.exists(work / "work" / "incompat" / "volatile")
    assert os.path.isdir(work / "work" / "incompat")
