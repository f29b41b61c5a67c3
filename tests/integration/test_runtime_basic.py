"""dockyard-runtime on a busybox bundle, and the same tests on runc where
installed: a test that fails on runc is a test bug."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest

from _support import leaks
from _support.bundle import make_bundle
from _support.paths import binary

RUNTIMES = ["dockyard-runtime"] + (["runc"] if shutil.which("runc") else [])


@pytest.fixture(params=RUNTIMES)
def runtime(request, tmp_path):
    name = request.param
    exe = binary("dockyard-runtime") if name == "dockyard-runtime" else shutil.which("runc")
    root = str(tmp_path / "state")
    parent = f"/dyrt-{secrets.token_hex(3)}"

    def run(*args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([exe, "--root", root, *args], capture_output=True, timeout=30, **kw)

    run.parent = parent  # type: ignore[attr-defined]
    run.name = name  # type: ignore[attr-defined]
    yield run
    left = leaks.cgroups_under(parent)
    leaks.remove_cgroup_tree(parent)
    mounts = leaks.mounts_under(str(tmp_path))
    leaks.unmount_all(mounts)
    assert not left and not mounts, f"{name} leaked: {left + mounts}"


def test_run_output_and_exit_code(runtime, tmp_path) -> None:
    b = str(tmp_path / "b")
    make_bundle(b, ["sh", "-c", "echo out; echo err >&2; exit 7"], cgroups_path=f"{runtime.parent}/c1")
    res = runtime("run", "--bundle", b, "c1")
    assert res.returncode == 7, res.stderr
    assert res.stdout == b"out\n" and b"err\n" in res.stderr


def test_namespaces_hostname_and_root(runtime, tmp_path) -> None:
    b = str(tmp_path / "b")

    def upd(spec):
        spec["hostname"] = "inside"

    make_bundle(b, ["sh", "-c", "hostname; echo $$; ls /; cat /proc/self/mountinfo | head -1"], upd,
                cgroups_path=f"{runtime.parent}/c2")
    res = runtime("run", "--bundle", b, "c2")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.decode().splitlines()
    assert lines[0] == "inside"
    assert lines[1] == "1"  # pid 1 in its own pid namespace
    assert "bin" in lines and "etc" in lines and "tmp" in lines


def test_create_start_state_delete(runtime, tmp_path) -> None:
    import json
    import time
    b = str(tmp_path / "b")
    out = tmp_path / "out"
    make_bundle(b, ["sh", "-c", "echo started > /tmp/marker; sleep 30"], cgroups_path=f"{runtime.parent}/c3")
    with open(out, "wb") as f:
        res = runtime("create", "--bundle", b, "--pid-file", str(tmp_path / "pid"), "c3", stdout=f, stderr=f) \
            if False else subprocess.run(
            [binary("dockyard-runtime") if runtime.name == "dockyard-runtime" else shutil.which("runc"),
             "--root", str(tmp_path / "state"), "create", "--bundle", b, "--pid-file", str(tmp_path / "pid"), "c3"],
            stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=30)
    assert res.returncode == 0, out.read_text()
    st = json.loads(runtime("state", "c3").stdout)
    assert st["status"] == "created" and st["pid"] == int((tmp_path / "pid").read_text())
    # Held before exec: the process has not run yet.
    assert not (tmp_path / "b/rootfs/tmp/marker").exists()
    assert runtime("start", "c3").returncode == 0
    for _ in range(1000):  # generous: the machine is shared with other suites
        if (tmp_path / "b/rootfs/tmp/marker").exists():
            break
        time.sleep(0.02)
    assert (tmp_path / "b/rootfs/tmp/marker").read_text() == "started\n"
    assert json.loads(runtime("state", "c3").stdout)["status"] == "running"
    assert runtime("kill", "c3", "KILL").returncode == 0
    for _ in range(1000):
        if json.loads(runtime("state", "c3").stdout)["status"] == "stopped":
            break
        time.sleep(0.02)
    assert json.loads(runtime("state", "c3").stdout)["status"] == "stopped"
    assert runtime("delete", "c3").returncode == 0
    assert runtime("state", "c3").returncode != 0


def test_missing_executable_fails_create_cleanly(runtime, tmp_path) -> None:
    b = str(tmp_path / "b")
    make_bundle(b, ["/no/such/binary"], cgroups_path=f"{runtime.parent}/c4")
    res = runtime("create", "--bundle", b, "c4", stdin=subprocess.DEVNULL)
    if runtime.name == "runc" and res.returncode == 0:
        pytest.skip("this runc reports a missing executable at start, not create")
    assert res.returncode != 0
    assert b"no such file or directory" in res.stderr.lower()
    assert runtime("state", "c4").returncode != 0
    assert not os.path.exists(tmp_path / "state" / "c4")
