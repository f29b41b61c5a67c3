"""dockyard-registry's configuration: a YAML (.yml/.yaml) or TOML (.toml)
file, overridden by the command-line flags. Every key and its default::

    addr: "127.0.0.1:5000"
    root: /var/lib/dockyard-registry
    read_only: false
    tls: {cert: "", key: ""}
    storage:
      driver: filesystem
      fsync: true              # fsync blobs and metadata before they become visible
      delete: true             # allow DELETE of manifests, tags and blobs
    uploads:
      ttl: 86400               # seconds an idle upload session lives
      purge_interval: 3600
    limits:
      max_manifest_bytes: 4194304
      max_blob_bytes: 34359738368   # 32 GiB per blob; 0: unlimited
    http:
      shutdown_timeout: 30     # seconds in-flight requests get on SIGTERM
      metrics: true            # /metrics and /healthz
    log: {access: true, level: info}
    auth:
      htpasswd: {path: FILE, realm: dockyard-registry}
      token:
        realm: "https://host/token"
        service: dockyard-registry
        issuer: dockyard-registry-token
        public_key: FILE       # PEM public key or certificate of the issuer
        issuer_server:         # optional: serve the realm at /token in this process
          private_key: FILE    # PEM RSA, EC or Ed25519 key
          htpasswd: FILE       # accounts that may log in
          expiration: 300
          acl:
            - {account: "*", name: "*", actions: ["*"]}
            - {account: anonymous, name: "public/*", actions: [pull]}
            - {account: "*", type: registry, name: catalog, actions: ["*"]}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TokenServerConfig:
    private_key: str
    htpasswd: str = ""
    expiration: int = 300
    acl: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TokenConfig:
    realm: str
    service: str = "dockyard-registry"
    issuer: str = "dockyard-registry-token"
    public_key: str = ""
    issuer_server: TokenServerConfig | None = None


@dataclass
class Config:
    addr: str = "127.0.0.1:5000"
    root: str = "/var/lib/dockyard-registry"
    read_only: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    storage_driver: str = "filesystem"
    fsync: bool = True
    delete_enabled: bool = True
    upload_ttl: float = 86400.0
    upload_purge_interval: float = 3600.0
    max_manifest_bytes: int = 4 * 1024 * 1024
    max_blob_bytes: int = 32 << 30
    shutdown_timeout: float = 30.0
    metrics: bool = True
    access_log: bool = True
    log_level: str = "info"
    htpasswd: str = ""
    htpasswd_realm: str = "dockyard-registry"
    token: TokenConfig | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.addr.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"--addr must be HOST:PORT, got {self.addr!r}")
        return host.strip("[]") or "0.0.0.0", int(port)


def _read_file(path: str) -> dict[str, Any]:
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".toml"):
        import tomllib
        doc = tomllib.loads(raw.decode())
    else:
        import yaml
        doc = yaml.safe_load(raw) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: the configuration must be a mapping")
    return doc


def _section(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        raise ValueError(f"configuration key {key!r} must be a mapping")
    return value


_KNOWN = {"addr", "root", "read_only", "tls", "storage", "uploads", "limits", "http", "log", "auth"}


def load(path: str | None) -> Config:
    cfg = Config()
    if not path:
        return cfg
    doc = _read_file(path)
    unknown = set(doc) - _KNOWN
    if unknown:
        raise ValueError(f"{path}: unknown configuration keys: {', '.join(sorted(unknown))}")
    cfg.addr = str(doc.get("addr", cfg.addr))
    cfg.root = str(doc.get("root", cfg.root))
    cfg.read_only = bool(doc.get("read_only", cfg.read_only))
    tls = _section(doc, "tls")
    cfg.tls_cert, cfg.tls_key = str(tls.get("cert", "")), str(tls.get("key", ""))
    storage = _section(doc, "storage")
    cfg.storage_driver = str(storage.get("driver", cfg.storage_driver))
    cfg.fsync = bool(storage.get("fsync", cfg.fsync))
    cfg.delete_enabled = bool(storage.get("delete", cfg.delete_enabled))
    uploads = _section(doc, "uploads")
    cfg.upload_ttl = float(uploads.get("ttl", cfg.upload_ttl))
    cfg.upload_purge_interval = float(uploads.get("purge_interval", cfg.upload_purge_interval))
    limits = _section(doc, "limits")
    cfg.max_manifest_bytes = int(limits.get("max_manifest_bytes", cfg.max_manifest_bytes))
    cfg.max_blob_bytes = int(limits.get("max_blob_bytes", cfg.max_blob_bytes))
    http = _section(doc, "http")
    cfg.shutdown_timeout = float(http.get("shutdown_timeout", cfg.shutdown_timeout))
    cfg.metrics = bool(http.get("metrics", cfg.metrics))
    log = _section(doc, "log")
    cfg.access_log = bool(log.get("access", cfg.access_log))
    cfg.log_level = str(log.get("level", cfg.log_level))
    auth = _section(doc, "auth")
    if "htpasswd" in auth:
        hp = _section(auth, "htpasswd")
        cfg.htpasswd = str(hp.get("path", ""))
        cfg.htpasswd_realm = str(hp.get("realm", cfg.htpasswd_realm))
    if "token" in auth:
        tok = _section(auth, "token")
        if "realm" not in tok:
            raise ValueError(f"{path}: auth.token needs a realm")
        server = None
        if tok.get("issuer_server"):
            srv = _section(tok, "issuer_server")
            server = TokenServerConfig(private_key=str(srv["private_key"]), htpasswd=str(srv.get("htpasswd", "")),
                                       expiration=int(srv.get("expiration", 300)), acl=list(srv.get("acl") or []))
        cfg.token = TokenConfig(realm=str(tok["realm"]), service=str(tok.get("service", "dockyard-registry")),
                                issuer=str(tok.get("issuer", "dockyard-registry-token")),
                                public_key=str(tok.get("public_key", "")), issuer_server=server)
        if not cfg.token.public_key and server is None:
            raise ValueError(f"{path}: auth.token needs public_key or issuer_server")
    if cfg.htpasswd and cfg.token:
        raise ValueError(f"{path}: choose one of auth.htpasswd and auth.token")
    return cfg


def validate(cfg: Config) -> None:
    cfg.host_port  # noqa: B018 - raises on a bad address
    if bool(cfg.tls_cert) != bool(cfg.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    for p in (cfg.tls_cert, cfg.tls_key, cfg.htpasswd):
        if p and not os.path.isfile(p):
            raise ValueError(f"{p}: no such file")
    if cfg.htpasswd and cfg.token:
        raise ValueError("choose one of htpasswd and token auth")
