"""A real registry for tests: Debian's docker-registry (the CNCF
distribution registry) on 127.0.0.1 and a free port, with its own config and
storage in a temp dir, optionally with htpasswd basic auth. Stopping it
checks that its process is gone."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from . import leaks

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestRegistry:
    def __init__(self, users: dict[str, str] | None = None) -> None:
        self.base = tempfile.mkdtemp(prefix="dyreg", dir="/tmp")
        self.storage = os.path.join(self.base, "storage")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.users = dict(users or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = os.path.join(self.base, "registry.log")

    def _config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  accesslog:",
            "    disabled: false",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.storage}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: {self.host}",
            "  secret: dockyard-test-secret",
        ]
        if self.users:
            import bcrypt
            path = os.path.join(self.base, "htpasswd")
            with open(path, "w") as f:
                for user, password in self.users.items():
                    f.write(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n")
            lines += ["auth:", "  htpasswd:", "    realm: dockyard-test", f"    path: {path}"]
        cfg = os.path.join(self.base, "config.yml")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        return cfg

    def start(self, timeout: float = 20.0) -> "TestRegistry":
        if not os.path.exists(REGISTRY_BIN):
            raise RuntimeError(f"{REGISTRY_BIN} is missing (tools/setup.sh installs docker-registry)")
        cfg = self._config()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited with {self.proc.returncode}:\n{self.log()}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2).read()
                return self
            except urllib.error.HTTPError as e:
                if e.code == 401:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-8000:]
        except OSError:
            return ""

    def blob_path(self, digest: str) -> str:
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker", "registry", "v2", "blobs", "sha256", hexd[:2], hexd, "data")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        left = leaks.processes_mentioning(self.base)
        leaks.kill_pids([pid for pid, _ in left])
        shutil.rmtree(self.base, ignore_errors=True)
        if left:
            raise AssertionError(f"registry processes left behind: {left}")
