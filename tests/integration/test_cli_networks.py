"""Network commands and run's network flags through the CLI, on the real kernel."""

from __future__ import annotations

import json
import time
import urllib.request


def ok(res) -> str:
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout.decode()


def test_network_lifecycle_and_run_flags(daemon) -> None:
    nid = ok(daemon.cli("network", "create", "--subnet", "10.213.0.0/24", "--gateway", "10.213.0.1",
                        "--label", "owner=cli", "clinet")).strip()
    assert len(nid) == 64
    try:
        listing = ok(daemon.cli("network", "ls")).splitlines()
        assert listing[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        assert any(line.startswith(nid[:12]) and line.split()[1:] == ["clinet", "bridge", "local"]
                   for line in listing)
        assert ok(daemon.cli("network", "ls", "-q", "-f", "label=owner=cli")) == nid[:12] + "\n"
        assert ok(daemon.cli("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
                             "clinet")) == "10.213.0.0/24 10.213.0.1\n"
        # a static address and an alias; another container reaches it by alias
        ok(daemon.cli("run", "-d", "--name", "srv", "--network", "clinet", "--ip", "10.213.0.50",
                      "--network-alias", "backend", "busybox", "sleep", "300"))
        assert ok(daemon.cli("inspect", "-f", "{{.NetworkSettings.Networks.clinet.IPAddress}}", "srv")) == \
            "10.213.0.50\n"
        out = ok(daemon.cli("run", "--rm", "--network", "clinet", "busybox", "sh", "-c",
                            "ping -c 1 -W 5 backend >/dev/null && echo reached"))
        assert out == "reached\n"
        # connect and disconnect a running container
        ok(daemon.cli("run", "-d", "--name", "roamer", "busybox", "sleep", "300"))
        ok(daemon.cli("network", "connect", "--ip", "10.213.0.77", "clinet", "roamer"))
        nets = json.loads(ok(daemon.cli("inspect", "-f", "{{json .NetworkSettings.Networks}}", "roamer")))
        assert nets["clinet"]["IPAddress"] == "10.213.0.77"
        out = ok(daemon.cli("run", "--rm", "--network", "clinet", "busybox", "sh", "-c",
                            "ping -c 1 -W 5 10.213.0.77 >/dev/null && echo reached"))
        assert out == "reached\n"
        ok(daemon.cli("network", "disconnect", "clinet", "roamer"))
        nets = json.loads(ok(daemon.cli("inspect", "-f", "{{json .NetworkSettings.Networks}}", "roamer")))
        assert "clinet" not in nets
        res = daemon.cli("network", "rm", "clinet")
        assert res.returncode == 1 and res.stderr.startswith(b"Error response from daemon: ")
    finally:
        daemon.cli("rm", "-f", "srv", "roamer")
    assert ok(daemon.cli("network", "rm", "clinet")) == "clinet\n"
    assert ok(daemon.cli("network", "rm", "-f", "clinet")) == ""
    ok(daemon.cli("network", "create", "unusednet"))
    assert ok(daemon.cli("network", "prune", "-f")) == "Deleted Networks:\nunusednet\n"


def test_publish_and_port(daemon) -> None:
    ok(daemon.cli("run", "-d", "--name", "web", "-p", "127.0.0.1::8080", "busybox", "sh", "-c",
                  "mkdir -p /www && echo served > /www/index.html && httpd -f -p 8080 -h /www"))
    try:
        mapping = ok(daemon.cli("port", "web", "8080")).strip()
        assert mapping.startswith("127.0.0.1:")
        assert ok(daemon.cli("port", "web")) == f"8080/tcp -> {mapping}\n"
        assert f"{mapping}->8080/tcp" in ok(daemon.cli("ps", "-f", "name=web", "--format", "{{.Ports}}"))
        body = b""
        for _ in range(50):
            try:
                body = urllib.request.urlopen(f"http://{mapping}/", timeout=5).read()
                break
            except OSError:
                time.sleep(0.1)
        assert body == b"served\n"
    finally:
        daemon.cli("rm", "-f", "web")
