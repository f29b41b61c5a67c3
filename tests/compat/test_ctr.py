"""containerd's ctr running busybox with dockyard-runtime as its runc
(--runc-binary): containerd-shim-runc-v2 drives our command line exactly as
it drives runc's (create/start/exec/ps/pause/resume/kill/delete).

The module starts its own containerd (own root, state, sockets, config, in a
temporary directory and its own namespace, so its own cgroup parent), imports
a busybox image built here as a docker archive, and removes everything."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import time

import pytest

from _support import leaks
from _support.daemon import busybox_tar
from _support.paths import binary

IMAGE = "docker.io/library/busybox:latest"


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} is not installed (tools/setup.sh installs the containerd package)")
    return path


def docker_archive(path: str) -> None:
    """`docker save` format: manifest.json, the image config, one layer."""
    layer = busybox_tar()
    layer_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine),
        "os": "linux", "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]}, "history": [{"created_by": "dockyard test"}],
    }).encode()
    config_id = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": f"{config_id}.json", "RepoTags": ["busybox:latest"],
                            "Layers": [f"{layer_id}/layer.tar"]}]).encode()
    with tarfile.open(path, "w") as tf:
        for name, data in ((f"{config_id}.json", config), (f"{layer_id}/layer.tar", layer), ("manifest.json", manifest)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), int(time.time())
            tf.addfile(ti, io.BytesIO(data))


class Containerd:
    def __init__(self) -> None:
        self.containerd = require_binary("containerd")
        self.ctr_bin = require_binary("ctr")
        require_binary("containerd-shim-runc-v2")
        self.dir = tempfile.mkdtemp(prefix="dyctr", dir="/tmp")
        self.address = os.path.join(self.dir, "containerd.sock")
        self.namespace = f"dyt-{secrets.token_hex(3)}"  # also the containers' cgroup parent
        self.runtime = binary("dockyard-runtime")
        self.runtime_root = os.path.join(self.dir, "runtime")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Containerd":
        config = os.path.join(self.dir, "config.toml")
        with open(config, "w") as f:
            f.write(f'''version = 2
root = "{self.dir}/root"
state = "{self.dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{self.address}"
[ttrpc]
  address = "{self.address}.ttrpc"
[debug]
  address = "{self.dir}/debug.sock"
''')
        self.log = open(os.path.join(self.dir, "containerd.log"), "wb")
        self.proc = subprocess.Popen([self.containerd, "--config", config], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while self.ctr("version", check=False).returncode != 0:
            assert self.proc.poll() is None, self.read_log()
            assert time.monotonic() < deadline, "containerd did not come up: " + self.read_log()
            time.sleep(0.1)
        return self

    def read_log(self) -> str:
        return open(os.path.join(self.dir, "containerd.log"), "rb").read().decode(errors="replace")[-3000:]

    def ctr(self, *args: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("capture_output", True)
        res = subprocess.run([self.ctr_bin, "-a", self.address, "-n", self.namespace, *args], timeout=timeout, **kw)
        if check:
            assert res.returncode == 0, f"ctr {' '.join(args)}: {res.stderr.decode(errors='replace')}"
        return res

    def runc_flags(self) -> list[str]:
        return ["--runc-binary", self.runtime, "--runc-root", self.runtime_root]

    def stop(self) -> list[str]:
        problems = []
        for line in self.ctr("task", "ls", "-q", check=False).stdout.decode().split():
            self.ctr("task", "kill", "-s", "KILL", line, check=False)
            time.sleep(0.2)
            self.ctr("task", "delete", "-f", line, check=False)
        for line in self.ctr("container", "ls", "-q", check=False).stdout.decode().split():
            self.ctr("container", "delete", line, check=False)
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shims = leaks.processes_mentioning(self.dir)
        for pid, cmd in shims:
            problems.append(f"process {pid}: {cmd}")
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        mounts = leaks.mounts_under(self.dir)
        if mounts:
            problems.append(f"mounts {mounts}")
            leaks.unmount_all(mounts)
        cgroups = leaks.cgroups_under("/" + self.namespace)
        if cgroups:
            problems.append(f"cgroups {cgroups}")
        leaks.remove_cgroup_tree("/" + self.namespace)
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems


@pytest.fixture(scope="module")
def containerd():
    c = Containerd().start()
    try:
        archive = os.path.join(c.dir, "busybox.tar")
        docker_archive(archive)
        c.ctr("image", "import", archive)
        yield c
    finally:
        problems = c.stop()
    assert not problems, problems


def test_ctr_run_busybox_with_dockyard_runtime(containerd) -> None:
    res = containerd.ctr("run", "--rm", *containerd.runc_flags(), IMAGE, "r1",
                         "sh", "-c", "echo hello from busybox; cat /proc/1/cmdline; echo; id -u; exit 3", check=False)
    assert res.returncode == 3, res.stderr
    lines = res.stdout.decode().splitlines()
    assert lines[0] == "hello from busybox"
    assert lines[1].replace("\0", " ").strip().startswith("sh -c")  # pid 1 of its own pid namespace
    assert lines[2] == "0"
    # it really was our runtime: its state dir was used (and is clean again)
    assert os.path.isdir(os.path.join(containerd.runtime_root, containerd.namespace))
    assert os.listdir(os.path.join(containerd.runtime_root, containerd.namespace)) == []
    # (containerd 1.6's shim often logs "failed to remove runc container ... exit
    # status 255" while cleaning up after --rm: it does so with runc as well.)


def test_ctr_task_lifecycle_exec_ps_pause_kill(containerd) -> None:
    c = containerd
    c.ctr("run", "-d", *c.runc_flags(), IMAGE, "t1", "sleep", "120")
    try:
        # dockyard-runtime's own state, for containerd's bundle and task
        state = json.loads(open(os.path.join(c.runtime_root, c.namespace, "t1", "state.json")).read())
        assert state["bundle"] == os.path.join(c.dir, "state", "io.containerd.runtime.v2.task", c.namespace, "t1")
        tasks = c.ctr("task", "ls").stdout.decode().splitlines()[1:]
        assert [t.split()[:3] for t in tasks] == [["t1", str(state["pid"]), "RUNNING"]]
        res = c.ctr("task", "exec", "--exec-id", "e1", "t1", "sh", "-c", "echo in exec; cat /proc/1/cmdline")
        assert res.stdout.decode().splitlines()[0] == "in exec"
        assert b"sleep" in res.stdout
        ps = c.ctr("task", "ps", "t1").stdout.decode().splitlines()
        assert len(ps) == 2 and ps[1].split()[0] == str(state["pid"])
        c.ctr("task", "pause", "t1")
        assert "PAUSED" in c.ctr("task", "ls").stdout.decode()
        c.ctr("task", "resume", "t1")
        assert "RUNNING" in c.ctr("task", "ls").stdout.decode()
        c.ctr("task", "kill", "-s", "KILL", "t1")
        deadline = time.monotonic() + 20
        while "STOPPED" not in c.ctr("task", "ls").stdout.decode() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "STOPPED" in c.ctr("task", "ls").stdout.decode()
    finally:
        c.ctr("task", "delete", "-f", "t1", check=False)
        c.ctr("container", "delete", "t1", check=False)
    assert not os.path.exists(os.path.join(c.runtime_root, c.namespace, "t1"))
