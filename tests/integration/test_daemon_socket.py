"""dockyardd removes its API socket file when it stops, also when it stops
because it could not listen on one of its hosts; and its cgroup parent when
no container is left in it."""

from __future__ import annotations

import os
import socket

import pytest

from _support import leaks
from _support.daemon import TestDaemon


def _parent_dirs(d: TestDaemon) -> list[str]:
    return [root + d.cgroup_parent for root in leaks.cgroup_roots() if os.path.isdir(root + d.cgroup_parent)]


def test_clean_stop_removes_an_empty_cgroup_parent_and_keeps_a_busy_one(fresh_daemon) -> None:
    d = fresh_daemon()
    d.cli("run", "--rm", "busybox", "true", check=True)
    assert _parent_dirs(d)  # the runtime made it for the container
    d.stop()
    assert _parent_dirs(d) == []
    d.start()
    cid = d.cli("run", "-d", "busybox", "sleep", "300", check=True).stdout.decode().strip()
    d.stop()  # live restore: the container runs on, in its cgroup below the parent
    assert _parent_dirs(d) and leaks.cgroups_under(d.cgroup_parent)
    d.start()
    assert d.client().container_inspect(cid)["State"]["Running"]


def test_clean_stop_removes_the_socket(fresh_daemon) -> None:
    d = fresh_daemon(busybox=False)
    assert os.path.exists(d.socket)
    d.stop()
    assert not os.path.exists(d.socket)


def test_failed_listen_removes_the_socket_it_made() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    d = TestDaemon(["-H", f"tcp://127.0.0.1:{taken.getsockname()[1]}"])
    try:
        with pytest.raises(RuntimeError, match="exited"):
            d.start()
        d.stop()  # reaps it
        assert "address already in use" in d.log()
        assert not os.path.exists(d.socket)
    finally:
        taken.close()
        d.teardown()
