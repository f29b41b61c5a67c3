"""Registry servers for tests and benchmarks: dockyard-registry and the
Debian docker-registry (CNCF distribution 2.8), each on 127.0.0.1 with a
free port, its own temporary storage and configuration. ``teardown`` stops
the server and fails if its process (or any process naming its directory)
or its directory is left behind.

Also: OCI image layouts to push (``write_layout``), built from the busybox
rootfs or from generated layers."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
from typing import Any

from . import leaks, process
from .paths import binary

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_REGISTRY = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryLeak(AssertionError):
    pass


class RegistryServer:
    """One server process. ``kind`` is "dockyard" or "docker-registry"."""

    kind = ""

    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix=f"dyreg-{self.kind}-", dir="/tmp")
        self.root = os.path.join(self.base, "storage")
        self.port = free_port()
        self.scheme = "http"
        self.log_path = os.path.join(self.base, "server.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.htpasswd: str | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def args(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 20.0) -> "RegistryServer":
        """Start and wait until it listens; on failure nothing is left behind
        (process stopped, directory removed) and the error carries its log."""
        self.proc = process.spawn(self.args(), self.log_path)

        def listening() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        try:
            process.wait_ready(self.proc, listening, timeout, self.kind, self.log_path)
        except RuntimeError:
            self.stop(signal.SIGKILL)
            shutil.rmtree(self.base, ignore_errors=True)
            raise
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        process.stop(self.proc, sig, timeout)
        code = self.proc.returncode
        self.proc = None
        return code

    def log(self) -> str:
        return process.log_tail(self.log_path)

    def teardown(self) -> None:
        pid = self.proc.pid if self.proc else None
        self.stop()
        found = [f"process {p}: {c}" for p, c in leaks.processes_mentioning(self.base)]
        if pid is not None and os.path.exists(f"/proc/{pid}") and _not_zombie(pid):
            found.append(f"server process {pid} still running")
        leaks.kill_pids([p for p, _ in leaks.processes_mentioning(self.base)])
        shutil.rmtree(self.base, ignore_errors=True)
        if os.path.exists(self.base):
            found.append(f"directory {self.base}")
        if found:
            raise RegistryLeak(f"{self.kind} teardown found:\n  " + "\n  ".join(found))

    # -- helpers for tests ---------------------------------------------------------------
    def write_htpasswd(self, users: dict[str, str]) -> str:
        import bcrypt
        path = os.path.join(self.base, "htpasswd")
        with open(path, "w") as f:
            for user, password in users.items():
                f.write(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n")
        self.htpasswd = path
        return path


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class DockyardRegistry(RegistryServer):
    kind = "dockyard"

    def __init__(self, config: dict[str, Any] | None = None, flags: list[str] | None = None,
                 users: dict[str, str] | None = None) -> None:
        super().__init__()
        self.config = {"log": {"access": True}, "uploads": {"purge_interval": 3600}, **(config or {})}
        self.flags = list(flags or [])
        if users:
            self.flags += ["--htpasswd", self.write_htpasswd(users)]
        if "--tls-cert" in self.flags:
            self.scheme = "https"
        self.config_path = os.path.join(self.base, "config.yml")

    def args(self) -> list[str]:
        import yaml
        with open(self.config_path, "w") as f:
            yaml.safe_dump(self.config, f)
        return [binary("dockyard-registry"), "serve", "--config", self.config_path, "--addr", self.host,
                "--root", self.root, *self.flags]

    def gc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([binary("dockyard-registry"), "gc", "--root", self.root, *args],
                              capture_output=True, text=True, timeout=120)


class DockerRegistry(RegistryServer):
    """Debian's docker-registry (the CNCF distribution registry 2.8)."""

    kind = "docker-registry"

    def __init__(self, users: dict[str, str] | None = None, access_log: bool = True,
                 token: dict[str, str] | None = None) -> None:
        super().__init__()
        if users:
            self.write_htpasswd(users)
        self.access_log = access_log
        self.token = token  # distribution's auth.token section: realm, service, issuer, rootcertbundle
        self.config_path = os.path.join(self.base, "config.yml")

    def args(self) -> list[str]:
        import yaml
        config: dict[str, Any] = {
            "version": 0.1,
            # without the access log, also without logrus' per-request "response completed" line
            "log": {"level": "info" if self.access_log else "warn", "accesslog": {"disabled": not self.access_log}},
            "storage": {"filesystem": {"rootdirectory": self.root}, "delete": {"enabled": True},
                        "cache": {"blobdescriptor": "inmemory"}},
            "http": {"addr": self.host, "secret": "dockyard-tests"},
        }
        if self.htpasswd:
            config["auth"] = {"htpasswd": {"realm": "docker-registry", "path": self.htpasswd}}
        if self.token:
            config["auth"] = {"token": dict(self.token)}
        with open(self.config_path, "w") as f:
            yaml.safe_dump(config, f)
        return [DOCKER_REGISTRY, "serve", self.config_path]

    def blob_path(self, digest: str) -> str:
        """Where distribution's filesystem driver keeps a blob."""
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.root, "docker", "registry", "v2", "blobs", "sha256", hexd[:2], hexd, "data")


class RegistryClient:
    """A small distribution-spec client for tests (requests underneath)."""

    def __init__(self, base: str, auth: tuple[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        import requests
        self.base = base
        self.s = requests.Session()
        self.s.auth = auth
        self.s.headers.update(headers or {})

    def __call__(self, method: str, path: str, **kw) -> "requests.Response":
        url = path if path.startswith("http") else self.base + path
        return self.s.request(method, url, allow_redirects=False, timeout=60, **kw)

    def location(self, r: "requests.Response") -> str:
        loc = r.headers["Location"]
        return loc if loc.startswith("http") else self.base + loc

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        r = self("POST", f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202, r.text
        r = self("PUT", self.location(r), params={"digest": digest}, data=data,
                 headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return digest

    def push_manifest(self, repo: str, ref: str, body: bytes, media_type: str = OCI_MANIFEST) -> "requests.Response":
        return self("PUT", f"/v2/{repo}/manifests/{ref}", data=body, headers={"Content-Type": media_type})

    def push_image(self, repo: str, tag: str, layer: bytes | None = None, **extra) -> tuple[str, bytes]:
        layer = layer if layer is not None else os.urandom(512)
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                             "nonce": os.urandom(8).hex()}).encode()
        cd, ld = self.push_blob(repo, config), self.push_blob(repo, layer)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld,
                                "size": len(layer)}], **extra}
        body = json.dumps(manifest, indent=3).encode()  # deliberately not canonical: stored as is
        r = self.push_manifest(repo, tag, body)
        assert r.status_code == 201, r.text
        return sha256(body), body



# -- OCI image layouts ----------------------------------------------------------------------

def gzip_layer(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)


def write_layout(path: str, layers: list[bytes], tag: str = "latest",
                 layer_media_type: str = OCI_LAYER_GZIP, architecture: str = "amd64") -> dict[str, Any]:
    """An OCI image layout (image-layout.md) of one image; returns its
    manifest's descriptor plus the manifest and config bytes."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data: bytes) -> str:
        d = sha256(data)
        with open(os.path.join(blobs, d.split(":")[1]), "wb") as f:
            f.write(data)
        return d

    diff_ids = [sha256(gzip.decompress(layer)) if layer_media_type.endswith("gzip") else sha256(layer)
                for layer in layers]
    config = json.dumps({"architecture": architecture, "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": put(config), "size": len(config)},
        "layers": [{"mediaType": layer_media_type, "digest": put(layer), "size": len(layer)} for layer in layers],
    }).encode()
    desc = {"mediaType": OCI_MANIFEST, "digest": put(manifest), "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag}}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return {"descriptor": desc, "manifest": manifest, "config": config,
            "layers": [sha256(layer) for layer in layers]}


def busybox_layout(path: str, tag: str = "latest") -> dict[str, Any]:
    from .daemon import busybox_tar
    return write_layout(path, [gzip.compress(busybox_tar(), compresslevel=1, mtime=0)], tag)
