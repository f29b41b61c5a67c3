"""Shared fixtures. Integration and compat tests need root and the real
kernel; every daemon they start is isolated and checked for leaks."""

from __future__ import annotations

import os
import shutil

import pytest

from _support.daemon import TestDaemon

IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        if "/tests/integration/" in path or "/tests/compat/" in path:
            item.add_marker(pytest.mark.root)
            if not IS_ROOT:
                item.add_marker(pytest.mark.skip(reason="needs root and the real kernel"))


@pytest.fixture(scope="module")
def daemon() -> TestDaemon:
    """A daemon shared by a test module, with busybox:latest imported."""
    d = TestDaemon().start()
    try:
        d.import_busybox()
        yield d
    finally:
        d.teardown()


@pytest.fixture
def fresh_daemon() -> TestDaemon:
    """A daemon for one test (restarts, crashes, special flags)."""
    made: list[TestDaemon] = []

    def make(*extra: str, busybox: bool = True, net_defaults: bool = True) -> TestDaemon:
        d = TestDaemon(list(extra), net_defaults=net_defaults).start()
        made.append(d)
        if busybox:
            d.import_busybox()
        return d

    yield make
    errors = []
    for d in made:
        try:
            d.teardown()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))


def require_binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if not path:
        pytest.skip(f"{name} is not installed (make test installs it)")
    return path
