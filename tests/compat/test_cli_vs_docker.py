"""dockyard and the real docker CLI (client only) print the same things
against the same daemon: tables, --format output, errors and exit statuses
(with "docker" read as "dockyard")."""

from __future__ import annotations

import os
import subprocess

import pytest

from _support.paths import binary

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")


def both(daemon, *args: str, input: bytes | None = None) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    env = daemon.env()
    d = subprocess.run(["/usr/local/bin/docker", *args], capture_output=True, env=env, input=input, timeout=60)
    y = subprocess.run([binary("dockyard"), *args], capture_output=True, env=env, input=input, timeout=60)

    def norm(r: subprocess.CompletedProcess[bytes], name: str) -> tuple[int, str, str]:
        return r.returncode, r.stdout.decode().replace(name, "CLI"), r.stderr.decode().replace(name, "CLI")
    return norm(d, "docker"), norm(y, "dockyard")


def same(daemon, *args: str, input: bytes | None = None) -> None:
    # listings hold "N seconds ago": try again if a second ticked between the two runs
    for _ in range(3):
        d, y = both(daemon, *args, input=input)
        if d == y:
            return
    assert y == d


@pytest.fixture(scope="module")
def populated(daemon):
    daemon.cli("run", "-d", "--name", "up", "-l", "tier=web", "-e", "A=1", "busybox", "sleep", "300", check=True)
    daemon.cli("create", "--name", "fresh", "busybox", "echo", "hi", check=True)
    daemon.cli("run", "--name", "gone", "busybox", "sh", "-c", "exit 3")
    yield daemon
    daemon.cli("rm", "-f", "up", "fresh", "gone")


@pytest.mark.parametrize("args", [
    ["ps"], ["ps", "-a"], ["ps", "-a", "--no-trunc"], ["ps", "-a", "-s"], ["ps", "-aq"], ["ps", "-n", "2"],
    ["ps", "-l"], ["ps", "-a", "--filter", "status=exited"], ["ps", "-a", "-f", "label=tier=web"],
    ["ps", "-a", "--format", "{{.Names}}\t{{.Status}}\t{{.Label \"tier\"}}"],
    ["ps", "-a", "--format", "table {{.ID}}\t{{.Names}}\t{{.Labels}}\t{{.State}}"],
    ["ps", "-a", "--format", "{{json .}}"], ["ps", "--format", "{{.Nope}}"], ["ps", "--format", "{{nope}}"],
    ["container", "ls", "-a"],
    ["inspect", "-f", "{{.State.Status}} {{.Config.Labels}} {{range .Config.Env}}{{.}};{{end}}", "up"],
    ["inspect", "--format", "{{.Name}} {{.State.ExitCode}}", "up", "fresh", "gone"],
    ["inspect", "nope"], ["logs", "nope"], ["rm", "nope"], ["rm", "-f", "nope"], ["stop", "nope"],
    ["kill", "nope"], ["wait", "gone"], ["start", "nope"], ["rename", "nope", "x"], ["pause", "nope"],
    ["version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"],
    ["info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Images}}"],
    ["volume", "ls"], ["volume", "ls", "-q"], ["network", "ls"], ["network", "ls", "--format", "{{.Name}}"],
    ["rm"], ["ps", "--bogus"], ["ps", "-x"], ["logs"], ["rename", "a"], ["container", "frob"], ["frob"],
    ["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 4"],
    ["run", "--rm", "busybox", "/nonexistent"], ["run", "--rm", "busybox", "/etc"],
    ["run", "--rm", "--restart", "always", "busybox"], ["run", "-m", "lots", "busybox"],
    ["run", "--pull", "bogus", "busybox"], ["create", "--memory-swappiness", "200", "busybox"],
    ["run", "-it", "--rm", "busybox", "true"], ["exec"], ["exec", "gone", "true"],
    ["cp", "a", "b"], ["cp", "a:/x", "b:/y"], ["stats", "--no-stream", "nope"],
    ["exec", "up", "sh", "-c", "echo in; echo err >&2; exit 3"], ["exec", "-i", "up", "cat"],
    ["exec", "up", "/no/such"], ["top", "up"], ["port", "up"], ["diff", "gone"],
    ["stats", "--no-stream", "--format", "{{.Name}} {{.ID}}", "up"], ["system", "df"],
    ["system", "df", "--format", "{{.Type}} {{.TotalCount}}"], ["volume", "inspect", "nope"],
    ["attach", "gone"], ["logs", "--tail", "1", "gone"], ["container", "prune", "--filter", "bad"],
    ["update", "up"], ["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.State.Running}}", "up"],
])
def test_same_output_as_docker(populated, args: list[str]) -> None:
    same(populated, *args, input=b"")
