"""Against a real Docker engine (Debian's dockerd 20.10, started privately):
the dockyard CLI works as the docker CLI does and prints the same things;
images move between dockerd and dockyardd with their IDs intact; dockerd
pushes to and pulls from dockyard-registry; and the two engines run side by
side on one host without touching each other's bridges and rules."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
import time
import urllib.request

import pytest

from _support import leaks
from _support.clicompare import DOCKER_CLI, same
from _support.daemon import busybox_tar
from _support.dockerd import private_dockerd_or_skip, unavailable_reason
from _support.paths import binary
from _support.registry_server import DockyardRegistry, free_port

pytestmark = [
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
    pytest.mark.skipif(not os.path.exists(DOCKER_CLI), reason="docker CLI not installed"),
]


@pytest.fixture(scope="module")
def dockerd():
    with private_dockerd_or_skip() as d:
        d.import_busybox(busybox_tar())
        yield d


def dockyard(engine, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    res = subprocess.run([binary("dockyard"), *args], env=engine.env(), input=input, capture_output=True, timeout=120)
    if check:
        assert res.returncode == 0, f"dockyard {' '.join(args)}: {res.stderr.decode(errors='replace')}"
    return res


@pytest.fixture(scope="module")
def populated(dockerd):
    dockerd.docker("run", "-d", "--name", "up", "-l", "tier=web", "-e", "A=1", "-p", "127.0.0.1::80",
                   "busybox", "sleep", "300")
    dockerd.docker("create", "--name", "fresh", "busybox", "echo", "hi")
    dockerd.docker("run", "--name", "gone", "busybox", "sh", "-c", "echo bye; exit 3", check=False)
    dockerd.docker("volume", "create", "--label", "k=v", "vol1")
    dockerd.docker("network", "create", "--subnet", "10.250.7.0/24", "net1")
    dockerd.docker("tag", "busybox", "busybox:two")
    yield dockerd
    dockerd.docker("rm", "-f", "up", "fresh", "gone", check=False)
    dockerd.docker("volume", "rm", "vol1", check=False)
    dockerd.docker("network", "rm", "net1", check=False)


@pytest.mark.parametrize("args", [
    ["ps"], ["ps", "-a"], ["ps", "-a", "--no-trunc"], ["ps", "-aq"], ["ps", "-n", "2"], ["ps", "-l"],
    ["ps", "-a", "--filter", "status=exited"], ["ps", "-a", "-f", "label=tier=web"], ["ps", "-a", "-f", "name=fr"],
    ["ps", "-a", "--format", "{{.Names}}\t{{.Status}}\t{{.Ports}}\t{{.Label \"tier\"}}"],
    ["ps", "-a", "--format", "table {{.ID}}\t{{.Names}}\t{{.Labels}}\t{{.State}}"],
    ["ps", "-a", "--format", "{{json .}}"], ["container", "ls", "-a"],
    ["inspect", "-f", "{{.State.Status}} {{.Config.Labels}} {{range .Config.Env}}{{.}};{{end}}", "up"],
    ["inspect", "--format", "{{.Name}} {{.State.ExitCode}}", "up", "fresh", "gone"],
    ["inspect", "nope"], ["logs", "gone"], ["logs", "--tail", "1", "gone"], ["logs", "nope"], ["rm", "nope"],
    ["stop", "nope"], ["wait", "gone"], ["port", "up", "80"], ["top", "up"], ["diff", "gone"],
    ["exec", "up", "sh", "-c", "echo in; echo err >&2; exit 3"], ["exec", "-i", "up", "cat"], ["exec", "up", "/no/such"],
    ["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 4"], ["run", "--rm", "busybox", "/nonexistent"],
    ["run", "--rm", "-e", "X=1", "-w", "/tmp", "-u", "1:1", "busybox", "sh", "-c", "echo $X $(pwd) $(id -u)"],
    ["stats", "--no-stream", "--format", "{{.Name}}", "up"],
    ["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"],
    ["info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Driver}}"],
    ["images"], ["images", "-q"], ["images", "--no-trunc"], ["images", "busybox"], ["images", "--format", "{{json .}}"],
    ["images", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.Size}}"], ["history", "busybox"],
    ["history", "--no-trunc", "-q", "busybox"], ["image", "inspect", "-f", "{{.Os}} {{.Config.Cmd}}", "busybox"],
    ["rmi", "nope:none"], ["volume", "ls"], ["volume", "ls", "-f", "label=k=v"], ["volume", "inspect", "vol1"],
    ["network", "ls", "--format", "{{.Name}} {{.Driver}}"], ["network", "inspect", "-f", "{{json .IPAM.Config}}", "net1"],
    ["system", "df"], ["system", "df", "--format", "{{.Type}} {{.TotalCount}}"],
])
def test_same_output_as_docker_against_dockerd(populated, args: list[str]) -> None:
    same(populated, *args, input=b"")


def test_container_lifecycle_through_dockyard(dockerd) -> None:
    assert dockyard(dockerd, "run", "--rm", "busybox", "echo", "hello").stdout == b"hello\n"
    assert dockyard(dockerd, "run", "--rm", "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
    cid = dockyard(dockerd, "run", "-d", "--name", "dy1", "busybox", "sh", "-c",
                   "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done").stdout.decode().strip()
    try:
        follow = subprocess.Popen([binary("dockyard"), "logs", "-f", cid], env=dockerd.env(), stdout=subprocess.PIPE)
        assert follow.stdout is not None
        assert follow.stdout.readline() == b"line0\n"
        follow.kill()
        follow.wait()
        assert dockyard(dockerd, "exec", "dy1", "cat", "/etc/hostname").stdout.decode().strip() == cid[:12]
        dockyard(dockerd, "cp", "-", "dy1:/tmp", input=_tar({"in.txt": b"copied in\n"}))
        assert dockyard(dockerd, "exec", "dy1", "cat", "/tmp/in.txt").stdout == b"copied in\n"
        out = dockyard(dockerd, "cp", "dy1:/tmp/in.txt", "-").stdout
        assert tarfile.open(fileobj=io.BytesIO(out)).extractfile("in.txt").read() == b"copied in\n"
        dockyard(dockerd, "pause", "dy1")
        assert dockerd.docker("inspect", "-f", "{{.State.Status}}", "dy1").stdout == b"paused\n"
        dockyard(dockerd, "unpause", "dy1")
        dockyard(dockerd, "stop", "-t", "1", "dy1")
        assert dockyard(dockerd, "wait", "dy1").stdout.strip() in (b"137", b"143")
    finally:
        dockyard(dockerd, "rm", "-f", "dy1", check=False)
    assert dockyard(dockerd, "ps", "-aq", "-f", "name=dy1").stdout == b""


def test_build_through_dockyard_on_dockerd(dockerd, tmp_path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nCMD cat /b.txt\n")
    (tmp_path / "a.txt").write_text("built\n")
    try:
        dockyard(dockerd, "build", "-t", "dybuilt:1", str(tmp_path))
        assert dockerd.docker("run", "--rm", "dybuilt:1").stdout == b"built\n"
        again = dockyard(dockerd, "build", "-t", "dybuilt:1", str(tmp_path)).stdout.decode()
        assert again.count("CACHED") == 3  # COPY, RUN and CMD
    finally:
        dockerd.docker("rmi", "-f", "dybuilt:1", check=False)


def test_images_move_between_engines_with_their_ids(dockerd, daemon, tmp_path) -> None:
    """docker save from dockerd → dockyard load into dockyardd, and back: the
    image ID (its config digest) is the same on both engines, and it runs."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo from-dockerd > /origin\nLABEL made=by-dockerd\n")
    dockerd.docker("build", "-t", "moved:1", str(tmp_path))
    try:
        docker_id = dockerd.docker("inspect", "-f", "{{.Id}}", "moved:1").stdout.decode().strip()
        saved = dockerd.docker("save", "moved:1").stdout
        dockyard(daemon, "load", input=saved)
        assert dockyard(daemon, "inspect", "-f", "{{.Id}}", "moved:1").stdout.decode().strip() == docker_id
        assert dockyard(daemon, "run", "--rm", "moved:1", "cat", "/origin").stdout == b"from-dockerd\n"
        dockerd.docker("rmi", "moved:1")
        back = dockyard(daemon, "save", "moved:1").stdout
        dockerd.docker("load", input=back)
        assert dockerd.docker("inspect", "-f", "{{.Id}}", "moved:1").stdout.decode().strip() == docker_id
        assert dockerd.docker("run", "--rm", "moved:1", "cat", "/origin").stdout == b"from-dockerd\n"
    finally:
        dockerd.docker("rmi", "-f", "moved:1", check=False)
        dockyard(daemon, "rmi", "-f", "moved:1", check=False)


def test_dockerd_pushes_to_and_pulls_from_dockyard_registry(dockerd) -> None:
    reg = DockyardRegistry().start()  # on 127.0.0.1: an insecure registry dockerd allows by default
    try:
        ref = f"{reg.host}/interop/busybox:1"
        dockerd.docker("tag", "busybox", ref)
        pushed = dockerd.docker("push", ref).stdout.decode()
        assert "digest: sha256:" in pushed
        digest = pushed.split("digest: ")[1].split()[0]
        dockerd.docker("rmi", ref)
        dockerd.docker("pull", ref)
        assert dockerd.docker("run", "--rm", ref, "echo", "pulled").stdout == b"pulled\n"
        assert dockerd.docker("inspect", "-f", "{{index .RepoDigests 0}}", ref).stdout.decode().strip() == \
            f"{reg.host}/interop/busybox@{digest}"
        with urllib.request.urlopen(f"{reg.url}/v2/interop/busybox/tags/list") as r:
            assert json.load(r)["tags"] == ["1"]
        dockerd.docker("rmi", ref)
    finally:
        reg.teardown()


def test_docker_login_and_push_with_basic_auth(dockerd, daemon, tmp_path) -> None:
    """docker login stores what dockyard reads (one config.json), dockerd
    pushes with those credentials to an htpasswd dockyard-registry, and
    dockyardd pulls the same image back with dockyard's login."""
    reg = DockyardRegistry(users={"alice": "s3cret"}).start()
    env = {"DOCKER_CONFIG": str(tmp_path)}
    try:
        ref = f"{reg.host}/auth/busybox:1"
        dockerd.docker("tag", "busybox", ref)
        denied = subprocess.run([DOCKER_CLI, "push", ref], env=dockerd.env(**env), capture_output=True, timeout=120)
        assert denied.returncode != 0 and b"no basic auth credentials" in denied.stderr
        subprocess.run([DOCKER_CLI, "login", "-u", "alice", "--password-stdin", reg.host], input=b"s3cret",
                       env=dockerd.env(**env), check=True, capture_output=True, timeout=60)
        assert reg.host in json.loads((tmp_path / "config.json").read_text())["auths"]
        subprocess.run([DOCKER_CLI, "push", ref], env=dockerd.env(**env), check=True, capture_output=True, timeout=120)
        dockerd.docker("rmi", ref)
        # dockyard, with docker's config.json, against dockyardd
        dy_env = {**daemon.env(), **env}
        pulled = subprocess.run([binary("dockyard"), "pull", ref], env=dy_env, capture_output=True, timeout=120)
        assert pulled.returncode == 0, pulled.stderr.decode()
        ran = subprocess.run([binary("dockyard"), "run", "--rm", ref, "echo", "authed"], env=dy_env,
                             capture_output=True, timeout=120)
        assert ran.stdout == b"authed\n"
        subprocess.run([binary("dockyard"), "logout", reg.host], env=dy_env, check=True, capture_output=True)
        assert reg.host not in json.loads((tmp_path / "config.json").read_text()).get("auths", {})
        subprocess.run([binary("dockyard"), "rmi", ref], env=dy_env, check=True, capture_output=True)
    finally:
        reg.teardown()


def test_engines_side_by_side(dockerd, fresh_daemon) -> None:
    """A dockyardd (its own bridge and DY- chains) and dockerd (docker0 and
    DOCKER chains) publish ports at the same time; stopping dockyardd leaves
    docker's bridge, rules and published port alone."""
    dy = fresh_daemon()
    p_docker, p_dy = free_port(), free_port()
    dockerd.docker("run", "-d", "--name", "web", "-p", f"127.0.0.1:{p_docker}:80", "busybox", "sh", "-c",
                   "echo docker > /www; httpd -f -h / -p 80")
    try:
        dy.cli("run", "-d", "--name", "web", "-p", f"127.0.0.1:{p_dy}:80", "busybox", "sh", "-c",
               "echo dockyard > /www; httpd -f -h / -p 80", check=True)
        assert _get(p_docker) == b"docker\n" and _get(p_dy) == b"dockyard\n"
        docker_rules = _docker_rules()
        assert docker_rules and not any(dy.chain_prefix in r for r in docker_rules)
        dy.teardown()  # stops dockyardd and checks its own leaks
        assert _docker_rules() == docker_rules
        assert os.path.exists("/sys/class/net/docker0")
        assert _get(p_docker) == b"docker\n"
    finally:
        dockerd.docker("rm", "-f", "web", check=False)


def _docker_rules() -> list[str]:
    return [r for r in leaks.iptables_rules_mentioning("DOCKER") + leaks.iptables_rules_mentioning("docker0")]


def _get(port: int, timeout: float = 20.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/www", timeout=5) as r:
                return r.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _classic_build(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    res = subprocess.run([DOCKER_CLI, "build", *args], env={**env, "DOCKER_BUILDKIT": "0"}, capture_output=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr.decode(errors="replace") + res.stdout.decode(errors="replace")
    return res


def test_build_history_and_cache_from_across_engines(dockerd, daemon, tmp_path) -> None:
    """The classic builder's history on both engines is word for word the
    same (COPY/ADD name their sources by docker's file hashes, from the
    context and from another stage's files), so an image
    dockerd built is a --cache-from source for dockyardd: every step hits
    and the result is dockerd's image, ID included."""
    ctx = tmp_path / "ctx"
    (ctx / "bin").mkdir(parents=True)
    (ctx / "sub" / "dir").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(
        "FROM xbase:1 AS gen\nRUN mkdir -p /out/d && echo x > /out/d/f && ln -s d/f /out/l && ln -s gone /out/dl"
        " && chmod 4755 /out/d/f && chown 5:6 /out/d\n"
        "FROM xbase:1\nWORKDIR /app\nENV A=1\nCOPY a.txt .\nCOPY bin/run.sh /usr/local/bin/\nCOPY sub /sub/\n"
        "COPY . /all/\nCOPY *.conf /conf/\nCOPY a.txt empty.txt /two/\nADD a.txt /added\nCOPY sub/link /linked\n"
        "COPY --from=gen /out /o/\nCOPY --from=gen /out/l /via-link\nCOPY h.txt /hard-linked\n"
        "RUN echo \"$(cat /proc/sys/kernel/random/uuid)\" > /stamp\nCMD [\"cat\", \"/stamp\"]\n")
    (ctx / "a.txt").write_text("a\n")
    os.link(ctx / "a.txt", ctx / "h.txt")  # the CLIs send it as a hard link
    (ctx / "bin" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(ctx / "bin" / "run.sh", 0o755)
    (ctx / "sub" / "dir" / "deep.txt").write_text("deep\n")
    os.symlink("dir/deep.txt", ctx / "sub" / "link")
    os.symlink("nowhere", ctx / "sub" / "dangling")
    (ctx / "empty.txt").write_text("")
    (ctx / "x1.conf").write_text("1\n")
    (ctx / "x2.conf").write_text("2\n")
    os.chmod(ctx / "x2.conf", 0o4755)
    dockerd.docker("tag", "busybox:latest", "xbase:1")  # one base image, the same ID on both engines
    try:
        dockyard(daemon, "load", input=dockerd.docker("save", "xbase:1").stdout)
        _classic_build(dockerd.env(), "-q", "-t", "xhist:1", str(ctx))
        _classic_build(daemon.env(), "-q", "-t", "xhist:2", str(ctx))
        fmt = ("history", "--no-trunc", "--format", "{{.CreatedBy}}")
        theirs = dockerd.docker(*fmt, "xhist:1").stdout.decode().splitlines()
        ours = dockyard(daemon, *fmt, "xhist:2").stdout.decode().splitlines()
        assert ours == theirs
        docker_id = dockerd.docker("inspect", "-f", "{{.Id}}", "xhist:1").stdout.decode().strip()
        dockyard(daemon, "load", input=dockerd.docker("save", "xhist:1").stdout)
        out = _classic_build(daemon.env(), "--cache-from", "xhist:1", "-t", "xhist:3", str(ctx)).stdout.decode()
        # The final stage's 15 steps; the first stage's RUN is not in the source's history.
        assert out.count("Using cache") == 15 and f"Successfully built {docker_id[7:19]}" in out, out
        assert dockyard(daemon, "inspect", "-f", "{{.Id}}", "xhist:3").stdout.decode().strip() == docker_id
    finally:
        dockerd.docker("rmi", "-f", "xbase:1", "xhist:1", check=False)
        dockyard(daemon, "rmi", "-f", "xbase:1", "xhist:1", "xhist:2", "xhist:3", check=False)


def test_git_contexts_as_dockerd(dockerd, daemon, tmp_path) -> None:
    """POST /build?remote=<git URL> on both engines: the same files for a
    ref:subdir fragment, the same status and words for the errors (temporary
    paths aside)."""
    import re

    import docker as docker_sdk

    from _support.gitrepo import GitServers, commit, git, publish
    work = tmp_path / "work"
    work.mkdir()
    git(str(work), "init", "-q")
    commit(str(work), {"Dockerfile": "FROM busybox\n", "a.txt": "a\n",
                       "sub/Dockerfile": "FROM busybox\nCOPY b.txt /b.txt\n", "sub/b.txt": "b\n"}, "one")
    publish(str(work), str(tmp_path / "repo.git"))
    srv = GitServers(str(tmp_path))
    try:
        url = f"{srv.git_url}/repo.git"

        def attempt(api, remote: str) -> tuple[int, str]:
            try:
                for _ in api.build(path=remote, decode=True):  # the SDK sends a URL as remote=
                    pass
            except docker_sdk.errors.APIError as e:
                return e.status_code, re.sub(r"\S*(docker-build-git\d+|/builder/tmp/\w+/git)", "<clone>",
                                             str(e.explanation))
            return 200, ""

        engines = [docker_sdk.APIClient(base_url=dockerd.host), docker_sdk.APIClient(base_url=daemon.host)]
        for fragment in ("#nosuch", "#master:nodir", "#master:a.txt", "#-x"):
            theirs, ours = (attempt(api, url + fragment) for api in engines)
            assert theirs[0] == 500 and ours == theirs, (fragment, theirs, ours)
        for api, tag in zip(engines, ("gitctx:d", "gitctx:y")):
            for _ in api.build(path=url + "#master:sub", tag=tag, decode=True):
                pass
        assert dockerd.docker("run", "--rm", "gitctx:d", "cat", "/b.txt").stdout == b"b\n"
        assert dockyard(daemon, "run", "--rm", "gitctx:y", "cat", "/b.txt").stdout == b"b\n"
    finally:
        srv.close()
        dockerd.docker("rmi", "-f", "gitctx:d", check=False)
        dockyard(daemon, "rmi", "-f", "gitctx:y", check=False)
