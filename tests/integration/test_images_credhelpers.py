"""docker's credential helpers (config.json ``credsStore`` and
``credHelpers``): dockyard login/logout/push/pull keep secrets in the
helper, never in config.json, exactly as the docker CLI does, so both
CLIs share them. The helper here is a small test double of an external
docker-credential-<name> program that keeps its secrets in a JSON file and
logs every call."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from _support.images import store_listing
from _support.paths import binary
from _support.registry_server import DockerRegistry

HELPER = '''#!/usr/bin/python3
import json, sys
STORE, LOG = {store!r}, {log!r}
action, data = sys.argv[1], sys.stdin.read()
with open(LOG, "a") as f:
    f.write(json.dumps([action, data if action != "store" else json.loads(data)["ServerURL"]]) + "\\n")
try:
    with open(STORE) as f:
        creds = json.load(f)
except FileNotFoundError:
    creds = {{}}
if action == "store":
    c = json.loads(data)
    creds[c["ServerURL"]] = {{"Username": c["Username"], "Secret": c["Secret"]}}
elif action in ("get", "erase"):
    if data.strip() not in creds:
        print("credentials not found in native keychain")
        sys.exit(1)
    if action == "get":
        print(json.dumps({{"ServerURL": data.strip(), **creds[data.strip()]}}))
        sys.exit(0)
    del creds[data.strip()]
else:
    sys.exit(2)
with open(STORE, "w") as f:
    json.dump(creds, f)
'''


class Helper:
    def __init__(self, bindir, name: str) -> None:
        self.store = str(bindir.parent / f"{name}.json")
        self.log = str(bindir.parent / f"{name}.log")
        path = bindir / f"docker-credential-{name}"
        path.write_text(HELPER.format(store=self.store, log=self.log))
        path.chmod(0o755)

    def calls(self) -> list[list[str]]:
        try:
            with open(self.log) as f:
                return [json.loads(line) for line in f]
        except FileNotFoundError:
            return []

    def secrets(self) -> dict:
        try:
            with open(self.store) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}


@pytest.fixture(scope="module")
def registries():
    a, b = DockerRegistry(users={"carol": "c-pass"}), DockerRegistry(users={"dave": "d-pass"})
    a.start()
    try:
        b.start()
        try:
            yield a, b
        finally:
            b.teardown()
    finally:
        a.teardown()


def test_creds_store_and_per_registry_helpers(daemon, registries, tmp_path) -> None:
    reg, other = registries
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store, per_registry = Helper(bindir, "dytest"), Helper(bindir, "dyother")
    cfgdir = tmp_path / "cfg"
    cfgdir.mkdir()
    cfg = cfgdir / "config.json"
    cfg.write_text(json.dumps({"credsStore": "dytest", "credHelpers": {other.host: "dyother"},
                               "psFormat": "table {{.ID}}"}))
    env = daemon.env()
    env["DOCKER_CONFIG"] = str(cfgdir)
    env["PATH"] = f"{bindir}:{env['PATH']}"

    def cli(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([binary("dockyard"), *args], input=input, capture_output=True, env=env, timeout=120)

    ref, ref2 = f"{reg.host}/carol/busybox:1", f"{other.host}/dave/busybox:1"
    daemon.cli("tag", "busybox", ref, check=True)
    daemon.cli("tag", "busybox", ref2, check=True)
    try:
        ok = cli("login", "-u", "carol", "--password-stdin", reg.host, input=b"c-pass\n")
        assert ok.returncode == 0 and b"Login Succeeded" in ok.stdout, ok.stderr
        assert b"unencrypted" not in ok.stderr
        assert store.secrets() == {reg.host: {"Username": "carol", "Secret": "c-pass"}}
        data = json.loads(cfg.read_text())
        assert data["auths"] == {reg.host: {}} and data["psFormat"] == "table {{.ID}}"  # no secret in the file
        ok = cli("login", "-u", "dave", "--password-stdin", other.host, input=b"d-pass\n")
        assert ok.returncode == 0, ok.stderr
        assert per_registry.secrets() == {other.host: {"Username": "dave", "Secret": "d-pass"}}
        assert other.host not in store.secrets()  # credHelpers wins over credsStore
        assert "pass" not in cfg.read_text()

        # push and pull read them back through "get".
        assert cli("push", ref).returncode == 0
        assert cli("push", ref2).returncode == 0
        assert ["get", reg.host] in store.calls() and ["get", other.host] in per_registry.calls()
        assert cli("rmi", ref).returncode == 0
        assert cli("pull", ref).returncode == 0
        # The docker CLI finds the same credentials through the same helpers.
        docker = subprocess.run(["/usr/local/bin/docker", "pull", ref2], capture_output=True, env=env, timeout=120)
        assert docker.returncode == 0, docker.stderr

        out = cli("logout", reg.host)
        assert out.returncode == 0 and b"Removing login credentials for " + reg.host.encode() in out.stdout
        assert ["erase", reg.host] in store.calls() and store.secrets() == {}
        assert reg.host not in json.loads(cfg.read_text())["auths"]
        assert b"Not logged in" in cli("logout", reg.host).stdout
        assert cli("rmi", ref).returncode == 0
        denied = cli("pull", ref)  # no credentials now: the registry refuses
        assert denied.returncode == 1 and b"unauthorized" in denied.stderr.lower(), denied.stderr

        # A helper that is not installed: a clear error and nothing changes.
        cfg.write_text(json.dumps({"credsStore": "dytest", "credHelpers": {other.host: "missing"}}))
        before, listing = cfg.read_text(), store_listing(daemon)
        res = cli("pull", ref2)
        assert res.returncode == 1
        assert b'error getting credentials - err: exec: "docker-credential-missing": executable file not found ' \
               b'in $PATH' in res.stderr, res.stderr
        res = cli("login", "-u", "dave", "--password-stdin", other.host, input=b"d-pass\n")
        assert res.returncode == 1 and b"Error saving credentials: error storing credentials" in res.stderr, res.stderr
        assert cfg.read_text() == before and store_listing(daemon) == listing
    finally:
        for r in (ref, ref2):
            daemon.cli("rmi", "-f", r)
