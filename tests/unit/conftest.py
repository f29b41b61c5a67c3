"""Unit-test fixtures shared by the CLI tests."""

from __future__ import annotations

import pytest

from _support.fakeapi import FakeAPI


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path) -> FakeAPI:
    """A fake Engine API the CLI talks to (DOCKYARD_HOST), with its own
    docker config directory and no DOCKER_HOST or DOCKER_API_VERSION."""
    fake = FakeAPI()
    monkeypatch.setenv("DOCKYARD_HOST", fake.host)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dockercfg"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_API_VERSION", raising=False)
    yield fake
    fake.close()
