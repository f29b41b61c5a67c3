"""The Docker SDK for Python against dockyardd's network routes."""

from __future__ import annotations

import docker
import pytest


def test_sdk_networks(daemon) -> None:
    client = daemon.docker_sdk()
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.127.249.0/24",
                                                                       gateway="10.127.249.1")])
    net = client.networks.create("sdknet", driver="bridge", ipam=ipam, labels={"k": "v"}, check_duplicate=True)
    try:
        assert client.networks.get("sdknet").attrs["IPAM"]["Config"][0]["Subnet"] == "10.127.249.0/24"
        assert [n.name for n in client.networks.list(filters={"label": "k=v"})] == ["sdknet"]
        assert {"bridge", "host", "none", "sdknet"} <= {n.name for n in client.networks.list()}
        with pytest.raises(docker.errors.APIError) as e:
            client.networks.create("sdknet")
        assert e.value.status_code == 409
        c = client.containers.run("busybox", "sleep 300", detach=True, network="sdknet")
        try:
            net.connect(client.containers.run("busybox", "sleep 300", detach=True), ipv4_address="10.127.249.50",
                        aliases=["extra"])
            net.reload()
            ips = sorted(v["IPv4Address"] for v in net.attrs["Containers"].values())
            assert ips[-1] == "10.127.249.50/24" and len(ips) == 2
            c.reload()
            assert c.attrs["NetworkSettings"]["Networks"]["sdknet"]["IPAddress"].startswith("10.127.249.")
            net.disconnect(c)
            c.reload()
            assert "sdknet" not in c.attrs["NetworkSettings"]["Networks"]
            with pytest.raises(docker.errors.APIError) as e:
                net.remove()
            assert e.value.status_code == 403
        finally:
            for ctr in client.containers.list(all=True):
                ctr.remove(force=True)
        net.remove()
        with pytest.raises(docker.errors.NotFound):
            client.networks.get("sdknet")
        client.networks.create("sdkspare")
        assert client.networks.prune()["NetworksDeleted"] == ["sdkspare"]
    finally:
        for n in client.networks.list(names=["sdknet", "sdkspare"]):
            n.remove()
