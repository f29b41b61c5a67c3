"""The real docker CLI (client only, /usr/local/bin/docker) against dockyardd."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")


def test_docker_run_hello(daemon) -> None:
    res = daemon.docker("run", "--rm", "busybox", "echo", "hello")
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"hello\n"


def test_docker_run_exit_code(daemon) -> None:
    assert daemon.docker("run", "--rm", "busybox", "sh", "-c", "exit 5").returncode == 5


def test_docker_run_stdin(daemon) -> None:
    res = daemon.docker("run", "--rm", "-i", "busybox", "cat", input=b"through the daemon\n")
    assert res.stdout == b"through the daemon\n"


def test_docker_version_negotiates(daemon) -> None:
    res = daemon.docker("version", "--format", "{{.Server.APIVersion}}")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == b"1.45"


def test_docker_ps_and_images(daemon) -> None:
    daemon.docker("create", "--name", "seen", "busybox", "true")
    assert b"seen" in daemon.docker("ps", "-a").stdout
    assert b"busybox" in daemon.docker("images").stdout
    assert daemon.docker("rm", "seen").returncode == 0
