import os

import pytest

from dockyard.core.snapshots import OverlaySnapshotter
from dockyard.errdefs import AlreadyExists, Conflict, InvalidArgument


def test_layer_chain_and_container_mounts(tmp_path) -> None:
    sn = OverlaySnapshotter(str(tmp_path))
    m = sn.prepare("extract-1", "")
    assert m[0].type == "bind"
    sn.commit("L1", "extract-1")
    sn.prepare("extract-2", "L1")
    sn.commit("L2", "extract-2")
    mounts = sn.prepare("ctr", "L2")
    assert mounts[0].type == "overlay"
    opts = dict(o.split("=", 1) for o in mounts[0].options if "=" in o)
    lowers = opts["lowerdir"].split(":")
    assert lowers == [sn.dir("L2"), sn.dir("L1")]
    assert opts["upperdir"] == sn.dir("ctr")
    with pytest.raises(Conflict):
        sn.remove("L2")
    sn.remove("ctr")
    sn.remove("L2")
    sn.remove("L1")
    assert sn.walk() == []


def test_metadata_survives_reopen(tmp_path) -> None:
    sn = OverlaySnapshotter(str(tmp_path))
    sn.prepare("a", "")
    sn.commit("A", "a")
    sn2 = OverlaySnapshotter(str(tmp_path))
    assert sn2.stat("A").kind == "committed"


def test_orphan_directories_removed_on_open(tmp_path) -> None:
    sn = OverlaySnapshotter(str(tmp_path))
    sn.prepare("a", "")
    os.makedirs(os.path.join(sn.snapshots_dir, "999", "fs"))
    OverlaySnapshotter(str(tmp_path))
    assert not os.path.exists(os.path.join(sn.snapshots_dir, "999"))


def test_errors(tmp_path) -> None:
    sn = OverlaySnapshotter(str(tmp_path))
    sn.prepare("a", "")
    with pytest.raises(AlreadyExists):
        sn.prepare("a", "")
    with pytest.raises(InvalidArgument):
        sn.prepare("b", "a")  # an active snapshot cannot be a parent
