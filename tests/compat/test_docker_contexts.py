"""Contexts shared with the real docker CLI: what dockyard creates and
selects, docker uses against a real dockyardd, and the reverse."""

from __future__ import annotations

import os
import subprocess

import pytest

from _support.paths import binary

DOCKER = "/usr/local/bin/docker"


@pytest.fixture
def env(tmp_path):
    if not os.path.exists(DOCKER):
        pytest.skip("the docker CLI is not installed")
    e = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKYARD_HOST", "DOCKER_CONTEXT")}
    e["DOCKER_CONFIG"] = str(tmp_path / "cfg")
    return e


def run(argv: list[str], env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env={**env, **extra}, timeout=120)


def test_docker_uses_what_dockyard_created(daemon, env) -> None:
    dy = binary("dockyard")
    r = run([dy, "context", "create", "dyd", "--description", "test daemon", "--docker", f"host={daemon.host}"], env)
    assert r.returncode == 0, r.stderr
    r = run([DOCKER, "context", "ls", "--format", "{{.Name}}|{{.Description}}|{{.DockerEndpoint}}"], env)
    assert f"dyd|test daemon|{daemon.host}" in r.stdout.splitlines(), r.stdout + r.stderr
    r = run([DOCKER, "--context", "dyd", "run", "--rm", "busybox", "echo", "via docker"], env)
    assert (r.returncode, r.stdout) == (0, "via docker\n"), r.stderr
    # `dockyard context use` is docker's current context too.
    assert run([dy, "context", "use", "dyd"], env).returncode == 0
    r = run([DOCKER, "context", "show"], env)
    assert r.stdout == "dyd\n"
    r = run([DOCKER, "version", "--format", "{{.Server.Os}} {{.Client.Context}}"], env)
    assert (r.returncode, r.stdout) == (0, "linux dyd\n"), r.stderr
    r = run([dy, "ps", "-a", "--format", "{{.Names}}"], env)
    assert r.returncode == 0, r.stderr
    r = run([DOCKER, "context", "rm", "-f", "dyd"], env)
    assert r.returncode == 0 and run([dy, "context", "show"], env).stdout == "default\n"
    r = run([dy, "--context", "dyd", "ps"], env)
    assert r.returncode == 1 and 'context "dyd": context not found' in r.stderr


def test_dockyard_uses_what_docker_created(daemon, env) -> None:
    dy = binary("dockyard")
    r = run([DOCKER, "context", "create", "dkr", "--docker", f"host={daemon.host}"], env)
    assert r.returncode == 0, r.stderr
    r = run([dy, "--context", "dkr", "run", "--rm", "busybox", "echo", "via dockyard"], env)
    assert (r.returncode, r.stdout) == (0, "via dockyard\n"), r.stderr
    r = run([dy, "run", "--rm", "busybox", "echo", "via DOCKER_CONTEXT"], env, DOCKER_CONTEXT="dkr")
    assert (r.returncode, r.stdout) == (0, "via DOCKER_CONTEXT\n"), r.stderr
    assert run([DOCKER, "context", "use", "dkr"], env).returncode == 0
    r = run([dy, "version", "--format", "{{.Client.Context}} {{.Server.Os}}"], env)
    assert (r.returncode, r.stdout) == (0, "dkr linux\n"), r.stderr
    r = run([dy, "info", "--format", "{{.ClientInfo.Context}} {{.OSType}}"], env)
    assert (r.returncode, r.stdout) == (0, "dkr linux\n"), r.stderr
    # docker's update is seen by dockyard, dockyard's inspect reads docker's store.
    assert run([DOCKER, "context", "update", "dkr", "--description", "from docker"], env).returncode == 0
    r = run([dy, "context", "inspect", "--format", "{{.Name}} {{.Metadata.Description}} {{.Endpoints.docker.Host}}"],
            env)
    assert r.stdout == f"dkr from docker {daemon.host}\n", r.stderr
    # and what dockyard shows matches docker's listing, row for row
    fmt = "{{.Name}} {{.Current}} {{.Description}} {{.DockerEndpoint}}"
    ours = run([dy, "context", "ls", "--format", fmt], env).stdout.splitlines()
    theirs = run([DOCKER, "context", "ls", "--format", fmt], env).stdout.splitlines()
    assert [l for l in ours if not l.startswith("default")] == [l for l in theirs if not l.startswith("default")]
    assert run([dy, "context", "rm", "-f", "dkr"], env).returncode == 0
    assert run([DOCKER, "context", "show"], env).stdout == "default\n"
    assert "dkr" not in run([DOCKER, "context", "ls", "-q"], env).stdout
