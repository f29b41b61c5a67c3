"""Driving an OCI runtime's command line in tests: dockyard-runtime, and
runc (the reference) when installed, each with its own --root and cgroup
parent.

The `rt` fixture (import it into a test module: `from _support.runtime import
rt`) runs each test on both runtimes; a test that fails on runc is a test bug.
Teardown force-deletes what the test left, then fails on leaked cgroups,
mounts under the test's directory, or processes in the cgroup parent."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from typing import Any, Callable

import pytest

from . import leaks
from .bundle import make_bundle
from .paths import binary

RUNTIMES = ["dockyard-runtime"] + (["runc"] if shutil.which("runc") else [])


class Runtime:
    def __init__(self, name: str, tmp: str) -> None:
        self.name = name
        self.exe = binary("dockyard-runtime") if name == "dockyard-runtime" else shutil.which("runc") or "runc"
        self.tmp = tmp
        self.root = os.path.join(tmp, "state")
        self.parent = f"/dyrt-{secrets.token_hex(3)}"
        self.ids: list[str] = []

    @property
    def is_runc(self) -> bool:
        return self.name == "runc"

    def __call__(self, *args: str, timeout: float = 30, **kw: Any) -> subprocess.CompletedProcess:
        kw.setdefault("stdin", subprocess.DEVNULL)
        if "stdout" not in kw and "stderr" not in kw:
            kw["capture_output"] = True
        return subprocess.run([self.exe, "--root", self.root, *args], timeout=timeout, **kw)

    def ok(self, *args: str, **kw: Any) -> subprocess.CompletedProcess:
        res = self(*args, **kw)
        assert res.returncode == 0, f"{self.name} {' '.join(args)}: {res.returncode} {res.stderr!r}"
        return res

    def bundle(self, cid: str, args: list[str], update: Callable[[dict[str, Any]], None] | None = None) -> str:
        path = os.path.join(self.tmp, cid)
        make_bundle(path, args, update, cgroups_path=f"{self.parent}/{cid}")
        return path

    def run(self, cid: str, args: list[str], update: Callable[[dict[str, Any]], None] | None = None,
            **kw: Any) -> subprocess.CompletedProcess:
        """`run` in the foreground; returns the runtime's completed process."""
        b = self.bundle(cid, args, update)
        self.ids.append(cid)
        return self("run", "--bundle", b, cid, **kw)

    def start_detached(self, cid: str, args: list[str],
                       update: Callable[[dict[str, Any]], None] | None = None) -> int:
        """create + start with stdio on files (never our pipes); returns the init pid."""
        b = self.bundle(cid, args, update)
        self.ids.append(cid)
        with open(os.path.join(self.tmp, f"{cid}.out"), "wb") as out:
            res = self("create", "--bundle", b, "--pid-file", os.path.join(self.tmp, f"{cid}.pid"), cid,
                       stdout=out, stderr=out)
        assert res.returncode == 0, self.output(cid)
        self.ok("start", cid)
        return int(open(os.path.join(self.tmp, f"{cid}.pid")).read())

    def exec_detached(self, cid: str, *args: str) -> int:
        """exec -d with stdio on a file (a detached process would hold our
        pipes open); returns the new process's pid."""
        pidfile = os.path.join(self.tmp, f"{cid}.exec{secrets.token_hex(2)}.pid")
        with open(os.path.join(self.tmp, f"{cid}.exec.out"), "ab") as out:
            res = self("exec", "-d", "--pid-file", pidfile, cid, *args, stdout=out, stderr=out)
        assert res.returncode == 0, open(os.path.join(self.tmp, f"{cid}.exec.out")).read()
        return int(open(pidfile).read())

    def output(self, cid: str) -> str:
        try:
            return open(os.path.join(self.tmp, f"{cid}.out"), "rb").read().decode(errors="replace")
        except OSError:
            return ""

    def state(self, cid: str) -> dict[str, Any]:
        return json.loads(self.ok("state", cid).stdout)

    def wait_status(self, cid: str, status: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state(cid)["status"] == status:
                return
            time.sleep(0.02)
        assert self.state(cid)["status"] == status

    def cgroup_dir(self, cid: str, controller: str) -> str:
        return f"/sys/fs/cgroup/{controller}{self.parent}/{cid}"


def wait_for(cond: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(params=RUNTIMES)
def rt(request: pytest.FixtureRequest, tmp_path) -> Runtime:
    r = Runtime(request.param, str(tmp_path))
    yield r
    _teardown(r, tmp_path)


@pytest.fixture
def ours(tmp_path) -> Runtime:
    """dockyard-runtime only: for what runc does not have (its caches)."""
    r = Runtime("dockyard-runtime", str(tmp_path))
    yield r
    _teardown(r, tmp_path)


def _teardown(r: Runtime, tmp_path: Any) -> None:
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
