"""Bearer-token auth end to end: dockyard login/push/pull against registries
that answer 401 with a ``WWW-Authenticate: Bearer realm=...`` challenge.
The realm is dockyard-registry's token issuer (basic credentials in, a
signed JWT with the granted access out); the registry is dockyard-registry
itself, or Debian's docker-registry trusting the issuer's certificate
(its auth.token.rootcertbundle). A scope the issuer does not grant is a
clear error and stores nothing, on either side."""

from __future__ import annotations

import datetime
import json
import os
import subprocess

import pytest

from _support.images import store_listing
from _support.paths import binary
from _support.registry_server import DockerRegistry, DockyardRegistry

SERVICE = "dockyard-token-test"
ISSUER = "dockyard-token-test-issuer"
ACL = [
    {"account": "alice", "name": "*", "actions": ["*"]},
    {"account": "bob", "name": "alice/*", "actions": ["pull"]},
    {"account": "bob", "name": "bob/*", "actions": ["pull", "push"]},
    {"account": "anonymous", "name": "public/*", "actions": ["pull"]},
]


def _key_and_cert(base: str) -> tuple[str, str]:
    """An EC P-256 signing key and a self-signed certificate for it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    key_path, cert_path = os.path.join(base, "token.key"), os.path.join(base, "token.crt")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@pytest.fixture(scope="module")
def issuer():
    """dockyard-registry with its token realm at /token (it also serves as a registry)."""
    reg = DockyardRegistry()
    key, cert = _key_and_cert(reg.base)
    users = reg.write_htpasswd({"alice": "a-pass", "bob": "b-pass"})
    reg.config["auth"] = {"token": {
        "realm": f"http://{reg.host}/token", "service": SERVICE, "issuer": ISSUER,
        "issuer_server": {"private_key": key, "htpasswd": users, "expiration": 300, "acl": ACL}}}
    reg.cert = cert  # type: ignore[attr-defined]
    reg.start()
    try:
        yield reg
    finally:
        reg.teardown()


@pytest.fixture(scope="module", params=["dockyard-registry", "docker-registry"])
def token_registry(request, issuer):
    if request.param == "dockyard-registry":
        yield issuer
        return
    reg = DockerRegistry(token={"realm": f"http://{issuer.host}/token", "service": SERVICE, "issuer": ISSUER,
                                "rootcertbundle": issuer.cert})
    reg.start()
    try:
        yield reg
    finally:
        reg.teardown()


def files_under(path: str) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(path):
        out.update(os.path.join(dirpath, n) for n in dirnames + filenames)
    return out


class User:
    """The dockyard CLI with its own docker config directory."""

    def __init__(self, daemon, config_dir) -> None:
        self.env = daemon.env()
        self.env["DOCKER_CONFIG"] = str(config_dir)
        self.config_dir = config_dir

    def __call__(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([binary("dockyard"), *args], input=input, capture_output=True, env=self.env,
                              timeout=120)

    def login(self, host: str, user: str, password: str) -> subprocess.CompletedProcess[bytes]:
        return self("login", "-u", user, "--password-stdin", host, input=password.encode() + b"\n")


def test_token_login_push_pull_and_refused_scopes(daemon, token_registry, tmp_path) -> None:
    host = token_registry.host
    me = User(daemon, tmp_path)
    ref = f"{host}/alice/busybox:1"
    daemon.cli("tag", "busybox", ref, check=True)
    try:
        # Anonymous: the token the realm hands out grants nothing here.
        denied = me("push", ref)
        assert denied.returncode == 1 and b"denied" in denied.stderr.lower() or b"unauthorized" in denied.stderr
        # A wrong password is refused by the realm; nothing is saved.
        bad = me.login(host, "alice", "wrong")
        assert bad.returncode == 1 and b"unauthorized" in bad.stderr, bad.stderr
        assert not (tmp_path / "config.json").exists()
        ok = me.login(host, "alice", "a-pass")
        assert ok.returncode == 0 and b"Login Succeeded" in ok.stdout, ok.stderr
        assert json.load(open(tmp_path / "config.json"))["auths"][host]["auth"]

        pushed = me("push", ref)
        assert pushed.returncode == 0, pushed.stderr
        assert b"1: digest: sha256:" in pushed.stdout
        assert me("rmi", ref).returncode == 0
        pulled = me("pull", ref)
        assert pulled.returncode == 0, pulled.stderr
        assert b"Downloaded newer image" in pulled.stdout

        # bob may pull alice/* but not push there.
        assert b"Removing login credentials" in me("logout", host).stdout
        assert me.login(host, "bob", "b-pass").returncode == 0
        assert me("rmi", ref).returncode == 0
        assert me("pull", ref).returncode == 0
        stolen = f"{host}/alice/stolen:1"
        daemon.cli("tag", "busybox", stolen, check=True)
        before = files_under(token_registry.root)
        refused = me("push", stolen)
        assert refused.returncode == 1
        err = refused.stderr.decode()
        assert "denied" in err.lower() or "unauthorized" in err.lower(), err
        assert "insufficient" in err or "requested access to the resource is denied" in err, err
        assert files_under(token_registry.root) == before  # the registry stored nothing
        # ... and bob's own namespace works.
        own = f"{host}/bob/busybox:1"
        daemon.cli("tag", "busybox", own, check=True)
        assert me("push", own).returncode == 0

        # Logged out: a pull of alice's image is refused and changes nothing locally.
        assert me("logout", host).returncode == 0
        assert me("rmi", ref).returncode == 0
        local = store_listing(daemon)
        anon = me("pull", ref)
        assert anon.returncode == 1
        assert b"pull access denied for " in anon.stderr and b"may require 'docker login'" in anon.stderr, \
            anon.stderr
        assert store_listing(daemon) == local
    finally:
        for r in (ref, f"{host}/alice/stolen:1", f"{host}/bob/busybox:1"):
            daemon.cli("rmi", "-f", r)


def test_token_realm_is_asked_only_once_per_scope(daemon, issuer, tmp_path) -> None:
    """Tokens are cached per scope for their lifetime: a pull of several
    blobs fetches one pull token (counted in the realm's access log)."""
    me = User(daemon, tmp_path)
    assert me.login(issuer.host, "alice", "a-pass").returncode == 0
    ref = f"{issuer.host}/alice/cached:1"
    daemon.cli("tag", "busybox", ref, check=True)
    try:
        assert me("push", ref).returncode == 0
        assert me("rmi", ref).returncode == 0
        mark = os.path.getsize(issuer.log_path)
        assert me("pull", ref).returncode == 0
        with open(issuer.log_path, errors="replace") as f:
            f.seek(mark)
            log = f.read()
        token_requests = [line for line in log.splitlines() if "/token" in line]
        assert 1 <= len(token_requests) <= 2, token_requests  # one pull scope (+ the /v2/ ping's)
    finally:
        daemon.cli("rmi", "-f", ref)
