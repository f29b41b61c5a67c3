"""GET /version, /info and /system/df."""

from __future__ import annotations

import os
import platform
import time
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..apitypes import API_VERSION, MIN_API_VERSION

if TYPE_CHECKING:
    from .daemon import Daemon


def version(d: "Daemon") -> dict[str, Any]:
    uname = os.uname()
    return {
        "Platform": {"Name": "Dockyard Engine"},
        "Components": [{"Name": "Engine", "Version": __version__,
                        "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                                    "Os": "linux", "Arch": _arch(), "KernelVersion": uname.release,
                                    "GoVersion": "python" + platform.python_version(),
                                    "GitCommit": "", "BuildTime": "", "Experimental": "false"}},
                       {"Name": "dockyard-runtime", "Version": __version__, "Details": {"GitCommit": ""}}],
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": _arch(),
        "KernelVersion": uname.release,
        "BuildTime": "",
    }


def _arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(m, m)


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def info(d: "Daemon") -> dict[str, Any]:
    from .container import Status
    cs = d.containers_store.all()
    running = sum(1 for c in cs if c.status in (Status.RUNNING, Status.RESTARTING))
    paused = sum(1 for c in cs if c.status is Status.PAUSED)
    uname = os.uname()
    from ..cgroups import detect_mode
    cgver = "2" if detect_mode() == "v2" else "1"
    return {
        "ID": d.engine_id,
        "Containers": len(cs),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": len(cs) - running - paused,
        "Images": len(d.images.service.list_images()),
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "none", "macvlan", "null"],
                    "Authorization": None, "Log": ["json-file", "local", "none"]},
        "MemoryLimit": True, "SwapLimit": True, "KernelMemory": False, "CpuCfsPeriod": True,
        "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "BridgeNfIptables": True, "BridgeNfIp6tables": True, "Debug": d.config.debug, "OomKillDisable": cgver == "1",
        "NFd": len(os.listdir("/proc/self/fd")), "NGoroutines": 0,
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": cgver,
        "NEventsListener": 0, "KernelVersion": uname.release,
        "OperatingSystem": _os_name(), "OSVersion": "", "OSType": "linux", "Architecture": uname.machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": _registry_config(d),
        "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(), "GenericResources": None,
        "DockerRootDir": d.config.data_root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": uname.nodename, "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
        "Runtimes": {"runc": {"path": d.tasks.runtime}, "dockyard-runtime": {"path": d.tasks.runtime}},
        "DefaultRuntime": "runc", "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                                            "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": d.config.live_restore, "Isolation": "", "InitBinary": "docker-init",
        "ContainerdCommit": {"ID": "", "Expected": ""}, "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": ["name=seccomp,profile=builtin"] + (["name=cgroupns"] if cgver == "2" else []),
        "Warnings": None,
        **_address_pools(d), **_kernel_memory_tcp(cgver),
    }


def _registry_config(d: "Daemon") -> dict[str, Any]:
    """As docker's registry service reports it: Docker Hub's index always, empty lists as []."""
    insecure = ["127.0.0.0/8"] + [r for r in d.config.insecure_registries if "/" in r]
    indexes = {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True, "Official": True}}
    for r in d.config.insecure_registries:
        if "/" not in r:
            indexes[r] = {"Name": r, "Mirrors": [], "Secure": False, "Official": False}
    return {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": insecure, "IndexConfigs": indexes, "Mirrors": []}


def _address_pools(d: "Daemon") -> dict[str, Any]:
    """DefaultAddressPools, shown (as docker does) only when configured."""
    if not d.config.default_address_pools:
        return {}
    from ..network.ipam import parse_pool
    pools = [parse_pool(p) for p in d.config.default_address_pools]
    return {"DefaultAddressPools": [{"Base": str(p.base), "Size": p.size} for p in pools]}


def _kernel_memory_tcp(cgver: str) -> dict[str, Any]:
    """Reported only where the kernel has it: cgroup v1's memory.kmem.tcp (API 1.42)."""
    if cgver != "1":
        return {}
    from ..cgroups.common import CGROUP_ROOT
    from ..cgroups.v1 import v1_mounts
    memory = v1_mounts(CGROUP_ROOT)[0].get("memory", "")
    return {"KernelMemoryTCP": bool(memory) and os.path.exists(os.path.join(memory, "memory.kmem.tcp.limit_in_bytes"))}


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def disk_usage(d: "Daemon", types: list[str] | None = None) -> dict[str, Any]:
    """GET /system/df: images, containers, volumes and the build cache with their sizes."""
    valid = {"container", "image", "volume", "build-cache"}
    for t in types or []:
        if t not in valid:
            from .. import errdefs
            raise errdefs.InvalidArgument(f"unknown object type: {t}")
    want = set(types or valid)
    out: dict[str, Any] = {}
    if "image" in want:
        from ..core.images import chain_ids
        images = d.images.list(all_=True)
        out["Images"] = images
        layers: dict[str, int] = {}
        users: dict[str, int] = {}
        per_image: dict[str, list[str]] = {}
        for img in d.images.service.list_images():
            chains = chain_ids(img.diff_ids)
            per_image[img.id] = chains
            for chain, size in zip(chains, d.images.service.layer_sizes(img)):
                layers[chain] = size
                users[chain] = users.get(chain, 0) + 1
        out["LayersSize"] = sum(layers.values())
        # Shared size: what the image's layers take that other images use too.
        for s in images:
            s["SharedSize"] = sum(layers[ch] for ch in per_image.get(s["Id"], []) if users.get(ch, 0) > 1)
    if "container" in want:
        import time as _time
        from . import views
        now = _time.time()
        cs = []
        for c in sorted(d.containers_store.all(), key=lambda c: c.created, reverse=True):
            s = views.summary_view(c, d.images.display_ref(c), now)
            rw = d.containers.rw_size(c)
            s["SizeRw"] = rw
            s["SizeRootFs"] = rw + d.containers._image_size(c)
            cs.append(s)
        out["Containers"] = cs
    if "volume" in want:
        out["Volumes"] = [d.volumes.view(v, usage=True) for v in d.volumes.driver.list()]
    if "build-cache" in want:
        cache = d.builder.usage()
        out["BuildCache"] = cache or None  # docker's nil slice when there is no build cache
    return out
