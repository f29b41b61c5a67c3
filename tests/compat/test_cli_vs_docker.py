"""dockyard and the real docker CLI (client only) print the same things
against the same daemon: tables, --format output, errors and exit statuses
(with "docker" read as "dockyard")."""

from __future__ import annotations

import os

import pytest

from _support.clicompare import same

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/local/bin/docker"), reason="docker CLI not installed")


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


@pytest.fixture(scope="module")
def with_images(populated, tmp_path_factory):
    """populated, plus: busybox under a second tag, an untagged image, and a
    built one (history, build cache records and a RUN cache mount)."""
    d = populated
    d.cli("tag", "busybox", "busybox:two", check=True)
    d.cli("commit", "gone", check=True)
    ctx = tmp_path_factory.mktemp("ctx")
    (ctx / "f.txt").write_text("hello\n")
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nCOPY f.txt /f.txt\n"
        "RUN --mount=type=cache,target=/cache echo data > /cache/x && cp /cache/x /y\n"
        "LABEL a=b\nRUN echo 'a command line that is longer than forty-five characters\twith a tab' > /z\n")
    d.cli("build", "-q", "-t", "hist:1", str(ctx), check=True)
    yield d
    d.cli("rmi", "-f", "hist:1", "busybox:two")


@pytest.mark.parametrize("args", [
    ["images"], ["images", "-a"], ["images", "-q"], ["images", "--no-trunc"], ["images", "--digests"],
    ["images", "busybox"], ["images", "nothing"], ["images", "ls"], ["image", "ls", "ls"],
    ["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}} {{.VirtualSize}} {{.Digest}}"],
    ["images", "--format", "table {{.ID}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}\t{{.CreatedAt}}"],
    ["images", "--format", "{{json .}}"], ["images", "--format", "json"], ["images", "-q", "--format", "{{.Tag}}"],
    ["images", "--format", "table\t{{.ID}}", "--digests"], ["images", "--format", "  {{.ID}}  "],
    ["images", "--format", "{{.Nope}}"], ["images", "--format", "{{json}}"], ["images", "-f", "dangling=true"],
    ["images", "-f", "bogus"], ["image", "ls", "--format", "table {{.Repository}}\t{{.Size}}"],
    ["history", "hist:1"], ["history", "--no-trunc", "hist:1"], ["history", "-q", "hist:1"],
    ["history", "-H=false", "hist:1"], ["history", "--format", "{{json .}}", "hist:1"],
    ["history", "--format", "table {{.ID}}\t{{.CreatedAt}}\t{{.Size}}", "hist:1"],
    ["history", "--format", "{{.Nope}}", "hist:1"], ["history", "nope"], ["image", "history", "-q", "busybox"],
    # --platform: the flags exist, and API 1.45 does not take them (docker refuses them the same way)
    ["history", "--platform", "linux/amd64", "hist:1"], ["save", "--platform", "linux/amd64", "hist:1"],
    ["load", "--platform", "linux/amd64"], ["push", "--platform", "linux/amd64", "hist:1"],
    ["rmi", "--platform", "linux/amd64", "hist:1"], ["rmi", "--platform", "linux/amd64"],
    ["image", "rm", "--platform", "linux/amd64,linux/arm64", "hist:1"],
    ["system", "df"], ["system", "df", "-v"], ["system", "df", "--format", "{{json .}}"],
    ["system", "df", "-v", "--format", "{{range .BuildCache}}{{.ID}} {{.CacheType}} {{.Size}} {{.UsageCount}} "
     "{{.Shared}} {{.InUse}}\n{{end}}"],
    ["system", "df", "-v", "--format", "{{.Nope}}"], ["system", "df", "--format", "{{.Nope}}"],
    ["network", "ls", "--format", "{{.Nope}}"], ["ps", "--format", "table {{.Nope}}"],
    ["ps", "-a", "--format", "{{.Names}}\t{{.Nope}}"], ["stats", "--no-stream", "--format", "{{nope}}"],
])
def test_image_listings_as_docker(with_images, args: list[str]) -> None:
    same(with_images, *args, input=b"")
