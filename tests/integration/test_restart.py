"""The daemon keeps its state across restarts; containers outlive a crash."""

from __future__ import annotations

import json
import time


def test_state_survives_restart(fresh_daemon) -> None:
    d = fresh_daemon()
    d.cli("create", "--name", "keep", "busybox", "true")
    d.restart()
    assert "keep" in d.cli("ps", "-a").stdout.decode()
    assert d.cli("start", "keep").returncode == 0


def test_running_container_survives_daemon_kill(fresh_daemon) -> None:
    d = fresh_daemon()
    d.cli("run", "-d", "--name", "live", "busybox", "sh", "-c", "sleep 1; echo done; sleep 600")
    d.kill()
    time.sleep(1.5)
    d.start()
    info = json.loads(d.cli("inspect", "live").stdout)[0]
    assert info["State"]["Running"] is True
    for _ in range(50):
        if b"done" in d.cli("logs", "live").stdout:
            break
        time.sleep(0.1)
    assert d.cli("logs", "live").stdout == b"done\n"
    assert d.cli("rm", "-f", "live").returncode == 0


def test_exit_while_daemon_down_is_recorded(fresh_daemon) -> None:
    d = fresh_daemon()
    d.cli("run", "-d", "--name", "quick", "busybox", "sh", "-c", "sleep 1; exit 42")
    d.kill()
    time.sleep(2)
    d.start()
    info = json.loads(d.cli("inspect", "quick").stdout)[0]
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 42
