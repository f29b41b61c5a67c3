"""An isolated dockyardd for a test: its own data root, exec root, socket,
cgroup parent, bridge name, bridge subnet and address pool. Stopping it
checks that nothing leaked (mounts, cgroups, processes, links, iptables
rules, network namespace files)."""

from __future__ import annotations

import fcntl
import io
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from typing import Any

from . import leaks, process
from .paths import REPO, binary

_BUSYBOX_TAR: bytes | None = None


def busybox_tar() -> bytes:
    global _BUSYBOX_TAR
    if _BUSYBOX_TAR is None:
        import sys
        sys.path.insert(0, os.path.join(REPO, "tools"))
        import busybox_rootfs
        buf = io.BytesIO()
        busybox_rootfs.build(os.environ.get("BUSYBOX", "/bin/busybox"), buf)  # type: ignore[arg-type]
        _BUSYBOX_TAR = buf.getvalue()
    return _BUSYBOX_TAR


class LeakError(AssertionError):
    pass


# Test daemons take /19 blocks of 10.64.0.0/10: the first /24 for --bip, the
# upper /20 as --default-address-pool. A block is claimed with a lock file
# held for the daemon's life (a crashed test's claim ends with its process)
# and skipped while anything on the host routes into it.
NET_SPACE = ipaddress.IPv4Network("10.64.0.0/10")
CLAIMS = "/tmp/dockyard-test-nets"


def claim_subnets(seed: int) -> tuple[int, ipaddress.IPv4Network]:
    os.makedirs(CLAIMS, exist_ok=True)
    blocks = list(NET_SPACE.subnets(new_prefix=19))
    routed = [ipaddress.IPv4Network(r) for r in leaks.routed_subnets()]
    for i in range(len(blocks)):
        block = blocks[(seed + i) % len(blocks)]
        if any(block.overlaps(r) for r in routed):
            continue
        fd = os.open(os.path.join(CLAIMS, str(block).replace("/", "_")), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return fd, block
    raise RuntimeError("no free test subnet block in 10.64.0.0/10")


class TestDaemon:
    __test__ = False  # not a test class, whatever the name says
    def __init__(self, extra_args: list[str] | None = None, net_defaults: bool = True) -> None:
        self.tag = secrets.token_hex(3)
        self.base = tempfile.mkdtemp(prefix="dy", dir="/tmp")
        self.data_root = os.path.join(self.base, "data")
        self.exec_root = os.path.join(self.base, "run")
        self.socket = os.path.join(self.exec_root, "dockyard.sock")
        self.host = "unix://" + self.socket
        self.cgroup_parent = f"/dockyard-test-{self.tag}"
        self.bridge = f"dyt{self.tag}"
        self._claim_fd, block = claim_subnets(int(self.tag, 16))
        first = next(block.subnets(new_prefix=24))
        self.bip = f"{first.network_address + 1}/24"
        self.pool = f"base={list(block.subnets(new_prefix=20))[1]},size=24"
        from dockyard.network.naming import Names
        names = Names.for_data_root(self.data_root)
        self.link_prefix = names.link_prefix
        self.chain_prefix = names.chain_prefix
        # Without them the daemon picks docker's defaults (its own bridge name, 172.17.0.0/16 if free).
        self.net_args = ["--bridge", self.bridge, "--bip", self.bip, "--default-address-pool", self.pool] \
            if net_defaults else []
        self.extra_args = list(extra_args or [])
        self.log_path = os.path.join(self.base, "dockyardd.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.stop_problems: list[str] = []  # what clean stops left behind (reported by teardown)

    # -- lifecycle -------------------------------------------------------------
    def args(self) -> list[str]:
        return [binary("dockyardd"), "--data-root", self.data_root, "--exec-root", self.exec_root,
                "-H", self.host, "--cgroup-parent", self.cgroup_parent, *self.net_args, "--debug", *self.extra_args]

    def start(self, timeout: float = 15.0, preexec_fn: Any = None) -> "TestDaemon":
        self.proc = process.spawn(self.args(), self.log_path, preexec_fn)
        process.wait_ready(self.proc, lambda: self.client().ping() is not None, timeout, "dockyardd", self.log_path)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        clean = process.stop(self.proc, sig) and sig == signal.SIGTERM
        self.proc = None
        if clean and os.path.exists(self.socket):
            self.stop_problems.append(f"API socket {self.socket} left by a clean stop")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return process.log_tail(self.log_path)

    # -- clients ---------------------------------------------------------------
    def client(self) -> Any:
        from dockyard.client import APIClient
        return APIClient(self.host)

    def docker_sdk(self) -> Any:
        import docker
        return docker.DockerClient(base_url=self.host, version="auto", timeout=60)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKYARD_HOST"] = self.host
        env["DOCKER_HOST"] = self.host
        env.pop("DOCKER_CONTEXT", None)
        return env

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([binary("dockyard"), *args], input=input, capture_output=True,
                              env=self.env(), timeout=timeout, check=check)

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["/usr/local/bin/docker", *args], input=input, capture_output=True,
                              env=self.env(), timeout=timeout)

    def import_busybox(self, ref: str = "busybox:latest") -> str:
        data = busybox_tar()
        msgs = list(self.client().image_import(iter([data]), ref.rsplit(":", 1)[0], ref.rsplit(":", 1)[1],
                                               ['CMD ["sh"]']))
        return msgs[-1]["status"]

    # -- cleanup and leak checks ---------------------------------------------------
    def remove_all_containers(self) -> list[str]:
        problems = []
        try:
            api = self.client()
            for c in api.container_list(all_=True):
                try:
                    api.container_remove(c["Id"], force=True)
                except Exception as e:
                    problems.append(f"removing container {c['Id'][:12]}: {e}")
        except Exception as e:
            problems.append(f"listing containers: {e}")
        return problems

    def find_leaks(self) -> list[str]:
        found = []
        for mp in leaks.mounts_under(self.base):
            found.append(f"mount {mp}")
        for cg in leaks.cgroups_under(self.cgroup_parent):
            found.append(f"cgroup {cg}")
        for pid, cmd in leaks.processes_mentioning(self.base):
            found.append(f"process {pid}: {cmd}")
        for link in leaks.links_named([self.bridge, self.link_prefix]):
            found.append(f"link {link}")
        for rule in leaks.iptables_rules_mentioning(self.chain_prefix):
            found.append(f"iptables {rule}")
        for path in leaks.files_in(os.path.join(self.exec_root, "netns")):
            found.append(f"netns file {path}")
        found += leaks.build_leftovers(self.data_root, self.exec_root)
        return found + self.stop_problems

    def force_clean(self) -> None:
        leaks.kill_pids([pid for pid, _ in leaks.processes_mentioning(self.base)])
        leaks.remove_cgroup_tree(self.cgroup_parent)
        leaks.unmount_all(leaks.mounts_under(self.base))
        leaks.delete_links(leaks.links_named([self.bridge, self.link_prefix]))
        leaks.remove_iptables_chains(self.chain_prefix)

    def teardown(self, check: bool = True) -> None:
        problems = self.remove_all_containers() if self.proc is not None else []
        self.stop()
        found = self.find_leaks()
        self.force_clean()
        # The cgroup parent itself stays after a daemon stops (as /docker does); ours is per test.
        leaks.remove_cgroup_tree(self.cgroup_parent)
        if not found and not problems:
            shutil.rmtree(self.base, ignore_errors=True)
        if self._claim_fd >= 0:
            os.close(self._claim_fd)
            self._claim_fd = -1
        if check and (found or problems):
            raise LeakError("daemon teardown found:\n  " + "\n  ".join(problems + found) +
                            f"\n--- daemon log ({self.log_path}) ---\n{self.log()[-4000:]}")
