"""dockyardd removes its API socket file when it stops, also when it stops
because it could not listen on one of its hosts."""

from __future__ import annotations

import os
import socket

import pytest

from _support.daemon import TestDaemon


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
