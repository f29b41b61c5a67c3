"""The Docker SDK for Python against dockyardd."""

from __future__ import annotations


def test_sdk_run_and_logs(daemon) -> None:
    client = daemon.docker_sdk()
    out = client.containers.run("busybox", ["echo", "from the sdk"], remove=True)
    assert out == b"from the sdk\n"


def test_sdk_version_and_ping(daemon) -> None:
    client = daemon.docker_sdk()
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.45"
