"""A private Docker engine (Debian's docker.io dockerd) as a reference peer for
interop tests and benchmarks.

It gets what a test dockyardd gets: its own data root, exec root, socket,
cgroup parent and bridge subnet (a claimed test block). dockerd always names
its default bridge docker0 and its chains DOCKER*, and never removes them when
it stops, so only one private dockerd runs at a time (a lock), none starts
while another Docker engine owns those names, and stop() removes what dockerd
leaves behind: its iptables rules and chains, docker0, mounts, cgroups, its
trust key and /run/docker, when they were not there before it started."""

from __future__ import annotations

import fcntl
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import leaks, process
from .daemon import claim_subnets

DOCKERD = shutil.which("dockerd") or ("/usr/sbin/dockerd" if os.path.exists("/usr/sbin/dockerd") else None)
LOCK = "/tmp/dockyard-private-dockerd.lock"
_DOCKER_CHAINS = ("DOCKER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2", "DOCKER-USER")
_HOST_FILES = ("/etc/docker/key.json", "/run/docker")


class DockerdUnavailable(RuntimeError):
    pass


def unavailable_reason() -> str | None:
    """Why no private dockerd can run here, or None when one can."""
    if DOCKERD is None:
        return "dockerd is not installed (Debian package docker.io; tools/setup.sh installs it)"
    return None


def _dockerd_processes() -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/comm") as f:
                    if f.read().strip() == "dockerd":
                        pids.append(int(name))
            except OSError:
                pass
    return pids


def _user_network_bridges() -> list[str]:
    """Links named as dockerd names a user network's bridge: br- and 12 hex digits."""
    return [n for n in os.listdir("/sys/class/net")
            if len(n) == 15 and n.startswith("br-") and all(c in "0123456789abcdef" for c in n[3:])]


def private_dockerd_or_skip() -> "PrivateDockerd":
    """For a test fixture: a PrivateDockerd to enter, or the test skipped when a
    Docker engine of the host's own owns docker0."""
    try:
        return PrivateDockerd()
    except DockerdUnavailable as e:
        import pytest
        pytest.skip(str(e))


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class PrivateDockerd:
    """with PrivateDockerd() as d: subprocess.run(["docker", "ps"], env=d.env())"""

    def __init__(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise DockerdUnavailable(reason)
        self._lock = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # one private dockerd at a time (docker0, DOCKER chains)
        if _dockerd_processes():
            os.close(self._lock)
            raise DockerdUnavailable("another Docker engine runs on this host: it owns docker0 and the DOCKER chains")
        self.subnet = ""
        self._remove_leftovers()  # of a private dockerd that was killed with its test
        self.base = tempfile.mkdtemp(prefix="dyd", dir="/tmp")
        self.socket = os.path.join(self.base, "docker.sock")
        self.host = "unix://" + self.socket
        self.cgroup_parent = "/" + os.path.basename(self.base)
        self._claim_fd, block = claim_subnets(os.getpid())
        subnets = list(block.subnets(new_prefix=24))
        self.bip = f"{subnets[0].network_address + 1}/24"
        self.subnet = str(subnets[0])
        self.pool = f"base={list(block.subnets(new_prefix=20))[1]},size=24"
        self.log_path = os.path.join(self.base, "dockerd.log")
        self._preexisting = {p for p in _HOST_FILES if os.path.exists(p)}
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "PrivateDockerd":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        problems = self.stop()
        if problems and exc[0] is None:
            raise AssertionError("private dockerd left: " + "; ".join(problems))

    def args(self) -> list[str]:
        assert DOCKERD
        return [DOCKERD, "--data-root", os.path.join(self.base, "data"), "--exec-root", os.path.join(self.base, "exec"),
                "--pidfile", os.path.join(self.base, "docker.pid"), "-H", self.host, "--bip", self.bip,
                "--default-address-pool", self.pool, "--cgroup-parent", self.cgroup_parent,
                "--storage-driver", "overlay2", "--log-level", "warn"]

    def start(self, timeout: float = 60.0) -> "PrivateDockerd":
        self.proc = process.spawn(self.args(), self.log_path)
        process.wait_ready(self.proc, self.ping, timeout, "dockerd", self.log_path)
        return self

    def ping(self) -> bool:
        try:
            conn = _UnixHTTP(self.socket)
            conn.request("GET", "/_ping")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_HOST", "DOCKER_CONTEXT")}
        env["DOCKER_HOST"] = self.host
        env["DOCKYARD_HOST"] = self.host
        env.update(extra)
        return env

    def docker(self, *args: str, input: bytes | None = None, check: bool = True,
               binary: str = "docker") -> subprocess.CompletedProcess[bytes]:
        res = subprocess.run([binary, *args], input=input, env=self.env(), capture_output=True, timeout=300)
        if check and res.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {res.stderr.decode(errors='replace')}")
        return res

    def import_busybox(self, rootfs_tar: bytes, ref: str = "busybox:latest") -> str:
        """The same rootfs the dockyard test daemons import, as `docker import` makes it."""
        return self.docker("import", "-c", 'CMD ["sh"]', "-", ref, input=rootfs_tar).stdout.decode().strip()

    # -- stopping and what dockerd leaves behind ----------------------------------
    def stop(self) -> list[str]:
        """Stop dockerd (and the containerd it started), remove its leftovers;
        return what could not be removed."""
        problems: list[str] = []
        if self.proc is not None:
            if self.proc.poll() is None and self.ping():
                ids = self.docker("ps", "-aq", check=False).stdout.decode().split()
                if ids:
                    self.docker("rm", "-f", *ids, check=False)
                # dockerd keeps user networks' bridges and rules when it stops
                self.docker("network", "prune", "-f", check=False)
            process.stop(self.proc, signal.SIGTERM, timeout=30)
            self.proc = None
        strays = leaks.processes_mentioning(self.base, exclude={os.getpid()})
        if strays:
            problems.append(f"processes: {strays}")
            leaks.kill_pids([p for p, _ in strays])
            time.sleep(0.5)
        self._remove_leftovers()
        mounts = leaks.mounts_under(self.base)
        if mounts:
            leaks.unmount_all(mounts)
        leaks.remove_cgroup_tree(self.cgroup_parent)
        if leaks.cgroups_under(self.cgroup_parent) or any(
                os.path.isdir(root + self.cgroup_parent) for root in leaks.cgroup_roots()):
            problems.append(f"cgroups under {self.cgroup_parent}")
        for path in _HOST_FILES:
            if path not in self._preexisting and os.path.lexists(path):
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
        shutil.rmtree(self.base, ignore_errors=True)
        if leaks.mounts_under(self.base):
            problems.append(f"mounts under {self.base}")
        os.close(self._claim_fd)
        os.close(self._lock)
        return problems

    def _remove_leftovers(self) -> None:
        """Called with the lock held and no dockerd running: docker0 and the
        br-<network id> bridges of user networks are a stopped dockerd's."""
        bridges = ["docker0"] + _user_network_bridges()
        self._remove_iptables(bridges)
        leaks.delete_links([b for b in bridges if os.path.exists(f"/sys/class/net/{b}")])

    def _remove_iptables(self, bridges: list[str]) -> None:
        """dockerd keeps its rules when it stops: delete the ones in built-in
        chains that jump to DOCKER* or name its bridges or subnet, then its chains."""
        for table in ("filter", "nat"):
            rules = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout.splitlines()
            for rule in rules:
                words = rule.split()
                if rule.startswith("-A ") and not words[1].startswith("DOCKER") and \
                        ("DOCKER" in rule or any(b in words for b in bridges) or (self.subnet and self.subnet in words)):
                    subprocess.run(["iptables", "-w", "-t", table, "-D", *words[1:]], capture_output=True)
            present = {r[1:].split()[0] for r in rules if r.startswith(":")}
            for chain in _DOCKER_CHAINS:
                if chain in present:
                    subprocess.run(["iptables", "-w", "-t", table, "-F", chain], capture_output=True)
            for chain in _DOCKER_CHAINS:
                if chain in present:
                    subprocess.run(["iptables", "-w", "-t", table, "-X", chain], capture_output=True)
