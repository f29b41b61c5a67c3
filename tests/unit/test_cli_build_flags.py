"""What `dockyard build` sends for docker 28's legacy-builder flags (the
query docker's client builds, checked against a fake Engine API), and
--squash refused as docker refuses it on a daemon that is not experimental."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from _support.fakeapi import FakeAPI, Reply, run_cli


@pytest.fixture
def api(api: FakeAPI) -> FakeAPI:
    api.on("GET", "/_ping", Reply(200, b"OK", {"API-Version": "1.45", "Docker-Experimental": "false"}))
    api.on("POST", "/build", Reply(chunks=[b'{"aux":{"ID":"sha256:' + b"1" * 64 + b'"}}\n']))
    return api


run = run_cli


def test_resource_flags_become_the_query(api: FakeAPI, capfd: pytest.CaptureFixture[str], tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    rc, out, err = run(capfd, "build", "-q", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=100", "-c", "512",
                       "--cpu-period", "100000", "--cpu-quota", "50000", "--cpuset-cpus", "0-1", "--cpuset-mems",
                       "0", "-m", "256m", "--memory-swap", "-1", "--shm-size", "128m", "--cgroup-parent", "/ci",
                       "--add-host", "a:1.2.3.4", "--add-host", "b:5.6.7.8", "--security-opt", "seccomp=unconfined",
                       "--isolation", "process", "--rm=false", "--force-rm", "--cache-from", "x,y", str(tmp_path))
    assert rc == 0, err
    q = api.find("POST", "/build")[-1].query
    assert {k: v for k, v in q.items() if k not in ("dockerfile", "q", "version")} == {
        "ulimits": ['[{"Name":"nofile","Soft":1024,"Hard":2048},{"Name":"nproc","Soft":100,"Hard":100}]'],
        "cpushares": ["512"], "cpuperiod": ["100000"], "cpuquota": ["50000"], "cpusetcpus": ["0-1"],
        "cpusetmems": ["0"], "memory": [str(256 << 20)], "memswap": ["-1"], "shmsize": [str(128 << 20)],
        "cgroupparent": ["/ci"], "extrahosts": ["a:1.2.3.4", "b:5.6.7.8"], "securityopt": ["seccomp=unconfined"],
        "isolation": ["process"], "rm": ["0"], "forcerm": ["1"], "cachefrom": ['["x","y"]']}
    # Flags left alone are not sent (docker's client leaves zero values out).
    assert run(capfd, "build", "-q", "--isolation", "default", str(tmp_path))[0] == 0
    assert sorted(api.find("POST", "/build")[-1].query) == ["dockerfile", "q", "version"]


def test_compress_gzips_the_context(api: FakeAPI, capfd: pytest.CaptureFixture[str], tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "data").write_bytes(b"x" * 100_000)
    assert run(capfd, "build", "-q", "--compress", str(tmp_path))[0] == 0
    body = api.find("POST", "/build")[-1].body
    assert body[:2] == b"\x1f\x8b" and len(body) < 10_000
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(body))) as tf:
        assert sorted(tf.getnames()) == ["Dockerfile", "data"]


def test_squash_needs_an_experimental_daemon(api: FakeAPI, capfd: pytest.CaptureFixture[str], tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    rc, out, err = run(capfd, "build", "--squash", str(tmp_path))
    assert (rc, out) == (1, "")
    assert err == '"--squash" is only supported on a Docker daemon with experimental features enabled\n'
    assert not api.find("POST", "/build")
    assert "--squash" not in run(capfd, "build", "--help")[1]
    api.on("GET", "/_ping", Reply(200, b"OK", {"API-Version": "1.45", "Docker-Experimental": "true"}))
    assert run(capfd, "build", "-q", "--squash", str(tmp_path))[0] == 0
    assert api.find("POST", "/build")[-1].query["squash"] == ["1"]


def test_keep_storage_is_a_size(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/build/prune", {"CachesDeleted": None, "SpaceReclaimed": 0})
    assert run(capfd, "builder", "prune", "-f", "--keep-storage", "1g")[0] == 0
    assert api.find("POST", "/build/prune")[-1].query["keep-storage"] == [str(1 << 30)]
    rc, _, err = run(capfd, "builder", "prune", "-f", "--keep-storage", "lots")
    assert rc == 125 and err.startswith('invalid argument "lots" for "--keep-storage" flag: invalid size')
