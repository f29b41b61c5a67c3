"""Git repositories as build contexts (POST /build?remote=<git URL>), served
from the test on 127.0.0.1: refs, subdirectories, submodules, the dumb HTTP
protocol, errors, and no clone left in the daemon's temp dirs."""

from __future__ import annotations

import os
import subprocess

import pytest

from _support.build import build, image_files, leftovers
from _support.gitrepo import GitServers, commit, git, publish


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("gitrepos"))
    srv = GitServers(base)
    try:
        sub = os.path.join(base, "sub-work")
        os.mkdir(sub)
        git(sub, "init", "-q")
        commit(sub, {"s.txt": "from submodule\n"}, "sub")
        publish(sub, os.path.join(base, "sub.git"))

        app = os.path.join(base, "app-work")
        os.mkdir(app)
        git(app, "init", "-q")
        commit(app, {"Dockerfile": "FROM busybox\nCOPY . /ctx/\n", "a.txt": "v1\n", "a.secret": "no\n",
                     ".dockerignore": "*.secret\n",
                     "docker/Dockerfile": "FROM busybox\nCOPY b.txt /b.txt\nCMD [\"cat\", \"/b.txt\"]\n",
                     "docker/b.txt": "b1\n"}, "one")
        os.symlink("/", os.path.join(app, "up"))  # a link out of the repository: stays inside as a context
        commit(app, {}, "link")
        git(app, "tag", "v1")
        git(app, "checkout", "-q", "-b", "feature")
        commit(app, {"a.txt": "feature\n"}, "feature")
        git(app, "checkout", "-q", "master")
        commit(app, {"a.txt": "v2\n", "docker/b.txt": "b2\n"}, "two")
        git(app, "submodule", "-q", "add", os.path.join(base, "sub.git"), "mod")
        git(app, "config", "-f", ".gitmodules", "submodule.mod.url", f"{srv.git_url}/sub.git")
        git(app, "add", "-A")
        git(app, "commit", "-qm", "submodule")
        publish(app, os.path.join(base, "app.git"))
        yield srv
    finally:
        srv.close()


def ok(res):
    assert res.status == 200 and not res.error, f"build failed: {res.error}\n{res.text}"
    return res


def test_default_ref_submodules_and_dockerignore(daemon, repos) -> None:
    ok(build(daemon, b"", remote=f"{repos.git_url}/app.git", t="git:master"))
    fs = image_files(daemon, "git:master")
    assert fs["ctx/a.txt"] == b"v2\n" and fs["ctx/mod/s.txt"] == b"from submodule\n"
    assert "ctx/a.secret" not in fs  # the repository's .dockerignore applies
    assert "ctx/.git/HEAD" in fs  # as moby: the checkout is the context, .git included
    assert leftovers(daemon) == []


@pytest.mark.parametrize("fragment,files", [
    ("#v1:docker", {"b.txt": b"b1\n"}),  # a tag and a subdirectory
    ("#:docker", {"b.txt": b"b2\n"}),  # master's subdirectory
    ("#feature", {"ctx/a.txt": b"feature\n"}),  # another branch
    ("#master:up/docker", {"b.txt": b"b2\n"}),  # a link to / resolves inside the repository
])
def test_ref_and_subdir_fragments(daemon, repos, fragment, files) -> None:
    res = ok(build(daemon, b"", remote=f"{repos.git_url}/app.git{fragment}"))
    fs = image_files(daemon, res.image_id)
    for path, content in files.items():
        assert fs[path] == content
    assert leftovers(daemon) == []


def test_dumb_http_protocol(daemon, repos) -> None:
    """An http(s) URL ending in .git: the server can't do shallow fetches."""
    res = ok(build(daemon, b"", remote=f"{repos.http_url}/app.git#v1:docker"))
    assert image_files(daemon, res.image_id)["b.txt"] == b"b1\n"


@pytest.mark.parametrize("fragment,message", [
    ("#nosuch", "error fetching: fatal: couldn't find remote ref nosuch"),
    ("#master:nodir", "/nodir: no such file or directory"),
    ("#master:a.txt", "error setting git context, not a directory: "),
    ("#master:../..", "error setting git context, \"../..\" not within git root"),
    ("#-upload-pack=touch", "invalid refspec: -upload-pack=touch"),
])
def test_errors(daemon, repos, fragment, message) -> None:
    res = build(daemon, b"", remote=f"{repos.git_url}/app.git{fragment}")
    assert res.status == 500 and message in res.error, (res.status, res.error)
    assert leftovers(daemon) == []


def test_unreachable_server(daemon, repos) -> None:
    res = build(daemon, b"", remote="git://127.0.0.1:1/app.git")
    assert res.status == 500 and res.error.startswith("error fetching: fatal: unable to connect to 127.0.0.1"), res.error
    assert leftovers(daemon) == []


def test_sdk_and_cli(daemon, repos) -> None:
    img, _ = daemon.docker_sdk().images.build(path=f"{repos.git_url}/app.git#v1:docker", tag="git:sdk")
    run = daemon.cli("run", "--rm", "git:sdk")
    assert run.returncode == 0 and run.stdout == b"b1\n"
    res = daemon.cli("build", "-t", "git:cli", f"{repos.http_url}/app.git#:docker")
    assert res.returncode == 0, res.stderr.decode()
    assert daemon.cli("run", "--rm", "git:cli").stdout == b"b2\n"
    bad = daemon.cli("build", f"{repos.git_url}/app.git#nosuch")
    assert bad.returncode == 1
    assert bad.stderr.decode().startswith("unable to prepare context: unable to 'git clone' to temporary context "
                                          "directory: error fetching: fatal: couldn't find remote ref nosuch")
    assert leftovers(daemon) == []


def test_docker_cli_clones_itself(daemon, repos, tmp_path) -> None:
    """docker's CLI (classic builder) clones git URLs on the client and sends
    a tarball: the same URL builds the same files through it."""
    env = daemon.env()
    env["DOCKER_BUILDKIT"] = "0"
    env["TMPDIR"] = str(tmp_path)  # the CLI leaves its clone behind when a subdir is the context
    res = subprocess.run(["/usr/local/bin/docker", "build", "-q", f"{repos.git_url}/app.git#v1:docker"],
                         env=env, capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    assert image_files(daemon, res.stdout.decode().strip())["b.txt"] == b"b1\n"
