"""The Docker SDK for Python on dockyardd: containers, exec, archives, stats
and volumes through docker-py's own calls."""

from __future__ import annotations

import io
import tarfile
import time

import docker
import pytest


@pytest.fixture(scope="module")
def client(daemon):
    return daemon.docker_sdk()


def test_run_create_logs_wait(client) -> None:
    assert client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], remove=True,
                                 stderr=True) == b"out\nerr\n"
    with pytest.raises(docker.errors.ContainerError) as ei:
        client.containers.run("busybox", ["sh", "-c", "echo boom >&2; exit 3"], remove=True)
    assert ei.value.exit_status == 3
    c = client.containers.create("busybox", ["sh", "-c", "echo created; exit 2"], name="sdk-c",
                                 labels={"sdk": "yes"}, mem_limit="32m", environment={"A": "b"})
    assert c.status == "created" and c.labels == {"sdk": "yes"}
    c.start()
    assert c.wait(timeout=60) == {"StatusCode": 2, "Error": None}
    assert c.logs() == b"created\n" and c.logs(timestamps=True).split(b" ", 1)[1] == b"created\n"
    c.reload()
    assert c.attrs["State"]["ExitCode"] == 2 and c.attrs["HostConfig"]["Memory"] == 32 << 20
    assert [x.name for x in client.containers.list(all=True, filters={"label": "sdk=yes"})] == ["sdk-c"]
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("sdk-c")


def test_exec_run_and_streams(client) -> None:
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name="sdk-ex")
    res = c.exec_run(["sh", "-c", "echo $FOO; id -u"], environment={"FOO": "bar"}, user="1234")
    assert res.exit_code == 0 and res.output == b"bar\n1234\n"
    res = c.exec_run(["sh", "-c", "echo o; echo e >&2; exit 4"], demux=True)
    assert res.exit_code == 4 and res.output == (b"o\n", b"e\n")
    res = c.exec_run("tty", tty=True)
    assert res.output.startswith(b"/dev/pts/")
    res = c.exec_run(["sh", "-c", "pwd"], workdir="/etc", privileged=True)
    assert res.output == b"/etc\n"
    chunks = list(c.exec_run(["sh", "-c", "echo a; sleep 0.2; echo b"], stream=True).output)
    assert b"".join(chunks) == b"a\nb\n"
    c.remove(force=True)


def test_put_and_get_archive(client) -> None:
    c = client.containers.run("busybox", ["sleep", "300"], detach=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"via the sdk\n"
        ti = tarfile.TarInfo("sdk.txt")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    assert c.put_archive("/tmp", buf.getvalue()) is True
    stream, stat = c.get_archive("/tmp/sdk.txt")
    assert stat["name"] == "sdk.txt" and stat["size"] == 12
    got = tarfile.open(fileobj=io.BytesIO(b"".join(stream))).extractfile("sdk.txt").read()
    assert got == b"via the sdk\n"
    with pytest.raises(docker.errors.NotFound):
        c.get_archive("/nope")
    c.remove(force=True)


def test_stats_and_top_and_diff(client) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "touch /new; sleep 300"], detach=True)
    s = c.stats(stream=False)
    assert s["id"] == c.id and s["memory_stats"]["usage"] > 0 and s["pids_stats"]["current"] >= 1
    gen = c.stats(stream=True, decode=True)
    first, second = next(gen), next(gen)
    assert second["precpu_stats"]["cpu_usage"]["total_usage"] == first["cpu_stats"]["cpu_usage"]["total_usage"]
    gen.close()
    assert any("sleep 300" in p[-1] for p in c.top()["Processes"])
    time.sleep(0.2)
    assert {"Path": "/new", "Kind": 1} in c.diff()
    c.remove(force=True)


def test_volumes(client) -> None:
    v = client.volumes.create("sdk-vol", labels={"via": "sdk"})
    assert v.name == "sdk-vol" and v.attrs["Labels"] == {"via": "sdk"}
    assert "sdk-vol" in [x.name for x in client.volumes.list(filters={"label": "via=sdk"})]
    out = client.containers.run("busybox", ["sh", "-c", "echo hi > /v/f; cat /v/f"],
                                volumes={"sdk-vol": {"bind": "/v", "mode": "rw"}}, remove=True)
    assert out == b"hi\n"
    c = client.containers.create("busybox", "true", volumes=["sdk-vol:/v"])
    with pytest.raises(docker.errors.APIError) as ei:
        v.remove()
    assert ei.value.status_code == 409
    c.remove()
    v.remove()
    assert client.volumes.prune()["SpaceReclaimed"] >= 0
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("sdk-vol")
