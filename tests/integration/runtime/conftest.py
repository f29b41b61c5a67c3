"""The `rt` fixture: one OCI runtime (dockyard-runtime, and runc when
installed). Every test here runs on both; a test that fails on runc is a
test bug.

Teardown force-deletes what the test left, then fails on leaked cgroups,
mounts under the test's directory, or processes in the cgroup parent."""

from __future__ import annotations

import os

import pytest

from _support import leaks
from _support.runtime import RUNTIMES, Runtime


@pytest.fixture(params=RUNTIMES)
def rt(request: pytest.FixtureRequest, tmp_path) -> Runtime:
    r = Runtime(request.param, str(tmp_path))
    yield r
    for cid in r.ids:
        r("delete", "--force", cid)
    procs = []
    for d in leaks.cgroups_under(r.parent):
        try:
            procs += open(os.path.join(d, "cgroup.procs")).read().split()
        except OSError:
            pass
    left = leaks.cgroups_under(r.parent)
    leaks.remove_cgroup_tree(r.parent)
    mounts = leaks.mounts_under(str(tmp_path))
    leaks.unmount_all(mounts)
    assert not left and not mounts and not procs, f"{r.name} leaked: {left + mounts} pids {procs}"
