"""version, info."""

from __future__ import annotations

import sys

from ... import __version__, errdefs
from ...apitypes import API_VERSION
from .common import Parser, client, daemon_error


def cmd_version(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard version", add_help=True)
    p.add_argument("-f", "--format", default="")
    a = p.parse_args(argv)
    import platform
    print("Client:")
    print(f" Version:           {__version__}")
    print(f" API version:       {API_VERSION}")
    print(f" Python version:    {platform.python_version()}")
    print(f" OS/Arch:           linux/{'amd64' if platform.machine() == 'x86_64' else platform.machine()}")
    try:
        v = client(gopts).version_info()
    except errdefs.EngineError as e:
        print()
        raise daemon_error(e) from None
    print()
    print(f"Server: {v.get('Platform', {}).get('Name', '')}")
    print(" Engine:")
    print(f"  Version:          {v.get('Version', '')}")
    print(f"  API version:      {v.get('ApiVersion', '')} (minimum version {v.get('MinAPIVersion', '')})")
    print(f"  OS/Arch:          {v.get('Os', '')}/{v.get('Arch', '')}")
    print(f"  Kernel version:   {v.get('KernelVersion', '')}")
    return 0


def cmd_info(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard info")
    p.add_argument("-f", "--format", default="")
    p.parse_args(argv)
    try:
        i = client(gopts).info()
    except errdefs.EngineError as e:
        raise daemon_error(e) from None
    out = [
        "Server:",
        f" Containers: {i.get('Containers', 0)}",
        f"  Running: {i.get('ContainersRunning', 0)}",
        f"  Paused: {i.get('ContainersPaused', 0)}",
        f"  Stopped: {i.get('ContainersStopped', 0)}",
        f" Images: {i.get('Images', 0)}",
        f" Server Version: {i.get('ServerVersion', '')}",
        f" Storage Driver: {i.get('Driver', '')}",
        f" Logging Driver: {i.get('LoggingDriver', '')}",
        f" Cgroup Driver: {i.get('CgroupDriver', '')}",
        f" Cgroup Version: {i.get('CgroupVersion', '')}",
        f" Kernel Version: {i.get('KernelVersion', '')}",
        f" Operating System: {i.get('OperatingSystem', '')}",
        f" OSType: {i.get('OSType', '')}",
        f" Architecture: {i.get('Architecture', '')}",
        f" CPUs: {i.get('NCPU', 0)}",
        f" Total Memory: {i.get('MemTotal', 0) / (1 << 30):.2f}GiB",
        f" Name: {i.get('Name', '')}",
        f" ID: {i.get('ID', '')}",
        f" Docker Root Dir: {i.get('DockerRootDir', '')}",
        f" Debug Mode: {str(i.get('Debug', False)).lower()}",
        f" Live Restore Enabled: {str(i.get('LiveRestoreEnabled', False)).lower()}",
    ]
    sys.stdout.write("\n".join(out) + "\n")
    return 0
