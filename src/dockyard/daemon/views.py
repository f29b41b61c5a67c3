"""Containers as the Engine API shows them (inspect and list shapes)."""

from __future__ import annotations

import os
from typing import Any

from ..units import human_duration
from .container import Container, Status
from .netviews import port_summary

# What docker shows for a field the create body left out: Go's nil slices and maps are null.
HOST_CONFIG_DEFAULTS: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "default", "PortBindings": None, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0],
    "CapAdd": None, "CapDrop": None, "CgroupnsMode": "host", "Dns": None, "DnsOptions": None, "DnsSearch": None,
    "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None,
    "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False,
    "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864, "Runtime": "runc",
    "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
    "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
    "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0, "CpuQuota": 0,
    "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": None,
    "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0, "MemorySwap": 0,
    "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": None, "Ulimits": None, "CpuCount": 0,
    "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": None, "ReadonlyPaths": None,
    "Init": None, "Mounts": None, "Tmpfs": None, "Sysctls": None, "Annotations": None,
}


def host_config_view(hc: dict[str, Any]) -> dict[str, Any]:
    out = dict(HOST_CONFIG_DEFAULTS)
    out.update({k: v for k, v in hc.items()})
    return out


def mounts_view(c: Container) -> list[dict[str, Any]]:
    """inspect's Mounts: volumes, binds and --mount tmpfs (not HostConfig.Tmpfs)."""
    from .mounts import public
    return [public(m) for m in c.mounts if not m.get("_hostconfig_tmpfs")]


def state_view(c: Container) -> dict[str, Any]:
    s = c.state
    st = c.status
    out: dict[str, Any] = {
        "Status": st.value,
        "Running": st in (Status.RUNNING, Status.PAUSED, Status.RESTARTING),
        "Paused": st is Status.PAUSED,
        "Restarting": st is Status.RESTARTING,
        "OOMKilled": s.oom_killed,
        "Dead": st is Status.DEAD,
        "Pid": s.pid if st in (Status.RUNNING, Status.PAUSED) else 0,
        "ExitCode": s.exit_code,
        "Error": s.error,
        "StartedAt": s.started_at,
        "FinishedAt": s.finished_at,
    }
    if s.health is not None:
        out["Health"] = {"Status": s.health.get("Status", "starting"),
                         "FailingStreak": int(s.health.get("FailingStreak") or 0),
                         "Log": list(s.health.get("Log") or [])}
    return out


def inspect_view(c: Container, data_root: str, live_exec_ids: list[str] | None = None,
                 graph_data: dict[str, str] | None = None) -> dict[str, Any]:
    """live_exec_ids: the execs not finished yet (docker forgets an exec in
    ExecIDs when it exits); graph_data: the rootfs directories (GraphDriver.Data)."""
    cdir = os.path.join(data_root, "containers", c.id)
    cfg = dict(c.config)
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": list(c.args),
        "State": state_view(c),
        "Image": c.image,
        "ResolvConfPath": os.path.join(cdir, "resolv.conf"),
        "HostnamePath": os.path.join(cdir, "hostname"),
        "HostsPath": os.path.join(cdir, "hosts"),
        "LogPath": c.log_path if (c.host_config.get("LogConfig") or {}).get("Type", "json-file") == "json-file" else "",
        "Name": c.name,
        "RestartCount": c.state.restart_count,
        "Driver": c.driver,
        "Platform": c.platform,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": list(c.exec_ids if live_exec_ids is None else live_exec_ids) or None,
        "HostConfig": host_config_view(c.host_config),
        "GraphDriver": {"Name": c.driver, "Data": graph_data},
        "Mounts": mounts_view(c),
        "Config": cfg,
        "NetworkSettings": network_settings_view(c),
    }


def network_settings_view(c: Container) -> dict[str, Any]:
    ns = dict(c.network_settings or {})
    ns.setdefault("Bridge", "")
    ns.setdefault("SandboxID", "")
    ns.setdefault("HairpinMode", False)
    ns.setdefault("LinkLocalIPv6Address", "")
    ns.setdefault("LinkLocalIPv6PrefixLen", 0)
    ns.setdefault("Ports", {})
    ns.setdefault("SandboxKey", "")
    ns.setdefault("SecondaryIPAddresses", None)
    ns.setdefault("SecondaryIPv6Addresses", None)
    ns.setdefault("EndpointID", "")
    ns.setdefault("Gateway", "")
    ns.setdefault("GlobalIPv6Address", "")
    ns.setdefault("GlobalIPv6PrefixLen", 0)
    ns.setdefault("IPAddress", "")
    ns.setdefault("IPPrefixLen", 0)
    ns.setdefault("IPv6Gateway", "")
    ns.setdefault("MacAddress", "")
    ns.setdefault("Networks", {})
    return ns


def status_text(c: Container, now: float) -> str:
    """The STATUS column: Up 2 minutes, Exited (0) 3 seconds ago, Created, ..."""
    from .timeutil import parse_rfc3339
    st = c.status
    if st in (Status.RUNNING, Status.PAUSED):
        up = human_duration(now - parse_rfc3339(c.state.started_at))
        health = ""
        if c.state.health:
            hs = c.state.health.get("Status", "")
            health = " (health: starting)" if hs == "starting" else f" ({hs})" if hs else ""
        return f"Up {up}{' (Paused)' if st is Status.PAUSED else health}"
    if st is Status.RESTARTING:
        return f"Restarting ({c.state.exit_code}) {human_duration(now - parse_rfc3339(c.state.finished_at))} ago"
    if st is Status.EXITED:
        if c.state.finished_at.startswith("0001"):
            return "Exited"
        return f"Exited ({c.state.exit_code}) {human_duration(now - parse_rfc3339(c.state.finished_at))} ago"
    if st is Status.REMOVING:
        return "Removal In Progress"
    if st is Status.DEAD:
        return "Dead"
    return "Created"


def summary_view(c: Container, image_ref: str, now: float) -> dict[str, Any]:
    from .timeutil import parse_rfc3339
    cmd = " ".join([c.path] + list(c.args))
    return {
        "Id": c.id,
        "Names": [c.name],
        "Image": image_ref,
        "ImageID": c.image,
        "Command": cmd,
        "Created": int(parse_rfc3339(c.created)),
        "Ports": port_summary(c.network_settings),
        "Labels": dict(c.config.get("Labels") or {}),
        "State": c.status.value,
        "Status": status_text(c, now),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": {name: _summary_endpoint(ep) for name, ep in
                                         ((c.network_settings or {}).get("Networks") or {}).items()}},
        "Mounts": mounts_view(c),
    }


def _summary_endpoint(ep: dict[str, Any]) -> dict[str, Any]:
    """The list's copy of an endpoint: docker's container view keeps addresses
    and IDs, not aliases, links or driver options."""
    out = dict(ep)
    for k in ("Links", "Aliases", "DriverOpts", "DNSNames"):
        if k in out:
            out[k] = None
    return out
