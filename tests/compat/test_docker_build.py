"""Builds driven by real clients: `DOCKER_BUILDKIT=0 docker build` (the
docker CLI, client only) and the Docker SDK's images.build, against dockyardd."""

from __future__ import annotations

import io
import os
import subprocess

import docker
import pytest

DOCKER = "/usr/local/bin/docker"

MULTISTAGE = """\
FROM busybox AS build
RUN mkdir /out && echo "made by $(whoami)" > /out/made.txt && echo extra > /out/extra.txt
FROM busybox
ARG LABEL_VALUE=default
LABEL origin=$LABEL_VALUE
COPY --from=build /out/made.txt /made.txt
COPY app.conf /etc/app.conf
CMD ["cat", "/made.txt"]
"""


@pytest.fixture
def ctx(tmp_path):
    d = tmp_path / "ctx"
    d.mkdir()
    (d / "Dockerfile").write_text(MULTISTAGE)
    (d / "app.conf").write_text("key=value\n")
    (d / "ignored.bin").write_bytes(b"\0" * 1000)
    (d / ".dockerignore").write_text("*.bin\n")
    return d


def classic(daemon, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = daemon.env()
    env["DOCKER_BUILDKIT"] = "0"
    return subprocess.run([DOCKER, *args], env=env, capture_output=True, input=input, timeout=180)


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="docker CLI not installed")
def test_docker_cli_classic_build(daemon, ctx, tmp_path) -> None:
    res = classic(daemon, "build", "-t", "dk:1", "-t", "dk:2", "--build-arg", "LABEL_VALUE=cli", str(ctx))
    out = res.stdout.decode()
    assert res.returncode == 0, res.stderr.decode() + out
    assert "Step 1/8 : FROM busybox AS build" in out and "Successfully tagged dk:2" in out
    run = daemon.docker("run", "--rm", "dk:1")
    assert run.returncode == 0 and run.stdout == b"made by root\n"
    again = classic(daemon, "build", "-t", "dk:1", "--build-arg", "LABEL_VALUE=cli", str(ctx))
    assert again.returncode == 0 and again.stdout.decode().count("Using cache") == 6
    label = daemon.docker("inspect", "-f", "{{index .Config.Labels \"origin\"}}", "dk:1")
    assert label.stdout.strip() == b"cli"
    # -f outside the context travels inside the tarball; -q prints the ID only.
    outside = tmp_path / "other.Dockerfile"
    outside.write_text("FROM busybox\nCOPY app.conf /\nRUN test ! -e /ignored.bin\n")
    quiet = classic(daemon, "build", "-q", "-f", str(outside), str(ctx))
    assert quiet.returncode == 0, quiet.stderr.decode()
    assert quiet.stdout.decode().strip().startswith("sha256:")


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="docker CLI not installed")
def test_docker_cli_errors(daemon, ctx) -> None:
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo before failing; exit 42\n")
    res = classic(daemon, "build", str(ctx))
    assert res.returncode == 42  # the CLI exits with errorDetail's code, as with dockerd
    assert b"before failing" in res.stdout
    assert b"The command '/bin/sh -c echo before failing; exit 42' returned a non-zero code: 42" in res.stderr
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY missing.txt /\n")
    res = classic(daemon, "build", str(ctx))
    assert res.returncode == 1 and b"COPY failed: file not found in build context" in res.stderr
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN true\n  FORM x\n")
    res = classic(daemon, "build", str(ctx))
    assert res.returncode == 1
    assert b"Error response from daemon: dockerfile parse error on line 3, column 3: unknown instruction: FORM" \
        in res.stderr
    prune = classic(daemon, "builder", "prune", "-f")
    assert prune.returncode == 0 and b"Total reclaimed space" in prune.stdout


def test_sdk_images_build(daemon, ctx) -> None:
    client = daemon.docker_sdk()
    image, logs = client.images.build(path=str(ctx), tag="sdk:1", buildargs={"LABEL_VALUE": "sdk"},
                                      labels={"via": "sdk"}, rm=True)
    assert "sdk:1" in image.tags and image.labels == {"origin": "sdk", "via": "sdk"}
    assert any("Successfully built" in m.get("stream", "") for m in logs)
    assert client.containers.run("sdk:1", remove=True) == b"made by root\n"
    # A stage as target, and a Dockerfile given as a file object (the SDK makes the context).
    target, _ = client.images.build(path=str(ctx), target="build", tag="sdk:build")
    assert target.attrs["Config"]["Cmd"] == client.images.get("busybox").attrs["Config"]["Cmd"]
    fileobj, _ = client.images.build(fileobj=io.BytesIO(b"FROM busybox\nENV FROM_FILEOBJ=1\n"), tag="sdk:fo")
    assert "FROM_FILEOBJ=1" in fileobj.attrs["Config"]["Env"]


def test_sdk_build_error(daemon, ctx) -> None:
    client = daemon.docker_sdk()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo sdk-output && false\n")
    with pytest.raises(docker.errors.BuildError) as e:
        client.images.build(path=str(ctx))
    assert "returned a non-zero code: 1" in str(e.value)
    assert any("sdk-output" in m.get("stream", "") for m in e.value.build_log)
    (ctx / "Dockerfile").write_text("FROM busybox\nNOPE\n")
    with pytest.raises(docker.errors.APIError, match="unknown instruction: NOPE"):
        client.images.build(path=str(ctx))
