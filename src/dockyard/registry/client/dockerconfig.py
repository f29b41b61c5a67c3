"""Credentials in docker's config.json ($DOCKER_CONFIG/config.json, else
~/.docker/config.json): {"auths": {"<server>": {"auth": base64(user:pass)}}}.
Docker Hub's key is https://index.docker.io/v1/. Other keys of the file are
kept as they are when we write it.

Credential helpers, as docker uses them: ``credHelpers`` {"<server>":
"<name>"} names a helper per registry, ``credsStore`` one for all the others.
A helper is the program docker-credential-<name> on PATH, run with one
action: ``get`` (server address on stdin; JSON {"ServerURL", "Username",
"Secret"} on stdout, Username "<token>" meaning Secret is an identity
token), ``store`` (that JSON on stdin) or ``erase`` (the address on
stdin). What a helper stores, config.json keeps only as an empty entry
under "auths", as docker does."""

from __future__ import annotations

import base64
import json
import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DOCKER_HUB_KEY = "https://index.docker.io/v1/"


def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def config_path() -> str:
    return os.path.join(config_dir(), "config.json")


def server_key(registry: str) -> str:
    """The key docker files a registry's credentials under."""
    host = registry
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix):]
    host = host.split("/", 1)[0]
    if host in ("", "docker.io", "index.docker.io", "registry-1.docker.io"):
        return DOCKER_HUB_KEY
    return host


def load() -> dict[str, Any]:
    try:
        with open(config_path(), "rb") as f:
            data = json.loads(f.read() or b"{}")
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise ValueError(f"loading config file {config_path()}: {e}") from None
    return data if isinstance(data, dict) else {}


def encode_auth(cfg: dict[str, str]) -> str:
    """X-Registry-Auth: base64url(JSON)."""
    return base64.urlsafe_b64encode(json.dumps(cfg).encode()).decode()


def save(data: dict[str, Any]) -> None:
    """Atomically, mode 0600 (it holds credentials)."""
    import tempfile
    d = config_dir()
    os.makedirs(d, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=d)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, config_path())
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class HelperError(ValueError):
    """A credential helper that is missing or failed (docker's wording)."""


NOT_FOUND = "credentials not found in native keychain"


def helper_for(registry: str, data: dict[str, Any] | None = None) -> str:
    """The credential helper's name for registry ('' for config.json itself)."""
    data = load() if data is None else data
    key = server_key(registry)
    helpers = data.get("credHelpers") or {}
    if isinstance(helpers, dict):
        for k, name in helpers.items():
            if server_key(k) == key and name:
                return str(name)
    return str(data.get("credsStore") or "")


def _run_helper(name: str, action: str, stdin: bytes) -> bytes:
    import shutil
    import subprocess
    program = f"docker-credential-{name}"
    what = {"get": "getting", "store": "storing", "erase": "erasing"}.get(action, action)
    path = shutil.which(program)
    if path is None:
        raise HelperError(f'error {what} credentials - err: exec: "{program}": executable file not found '
                          f"in $PATH, out: ``")
    try:
        res = subprocess.run([path, action], input=stdin, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HelperError(f"error {what} credentials - err: {e}, out: ``") from None
    if res.returncode != 0:
        out = (res.stdout or res.stderr).decode(errors="replace").strip()
        raise HelperError(f"error {what} credentials - err: exit status {res.returncode}, out: `{out}`")
    return res.stdout


def get_credentials(registry: str) -> dict[str, str] | None:
    """{"username", "password", "serveraddress"} (or identitytoken) for
    registry, from its credential helper or from config.json."""
    data = load()
    key = server_key(registry)
    helper = helper_for(registry, data)
    if helper:
        try:
            raw = _run_helper(helper, "get", key.encode())
        except HelperError as e:
            if NOT_FOUND in str(e):
                return None
            raise
        try:
            creds = json.loads(raw)
        except ValueError:
            raise HelperError(f"error getting credentials - err: invalid JSON from docker-credential-{helper}") \
                from None
        if not isinstance(creds, dict) or not creds.get("Secret"):
            return None
        out = {"serveraddress": key}
        if creds.get("Username") == "<token>":
            out["identitytoken"] = str(creds["Secret"])
        else:
            out.update(username=str(creds.get("Username") or ""), password=str(creds["Secret"]))
        return out
    auths = data.get("auths") or {}
    entry = auths.get(key)
    if entry is None:
        for k, v in auths.items():
            if server_key(k) == key:
                entry = v
                break
    if not entry:
        return None
    out = {"serveraddress": key}
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        out.update(username=user, password=password)
    if entry.get("identitytoken"):
        out["identitytoken"] = entry["identitytoken"]
    return out if len(out) > 1 else None


def store_credentials(registry: str, username: str, password: str, identity_token: str = "") -> str:
    """Save credentials (in the registry's helper when it has one); returns
    the key they are filed under."""
    data = load()
    key = server_key(registry)
    helper = helper_for(registry, data)
    if helper:
        secret = {"ServerURL": key, "Username": "<token>" if identity_token else username,
                  "Secret": identity_token or password}
        _run_helper(helper, "store", json.dumps(secret).encode())
        entry: dict[str, str] = {}
    else:
        entry = {"auth": base64.b64encode(f"{username}:{password if not identity_token else ''}".encode()).decode()}
        if identity_token:
            entry["identitytoken"] = identity_token
    data.setdefault("auths", {})[key] = entry
    save(data)
    return key


def erase_credentials(registry: str) -> bool:
    """Forget registry's credentials; False when there were none. A helper
    that cannot erase raises HelperError after config.json is updated."""
    data = load()
    key = server_key(registry)
    auths = data.get("auths") or {}
    found = [k for k in auths if server_key(k) == key]
    for k in found:
        del auths[k]
    if found:
        save(data)
    helper = helper_for(registry, data)
    if helper and found:
        try:
            _run_helper(helper, "erase", key.encode())
        except HelperError as e:
            if NOT_FOUND not in str(e):
                raise
    return bool(found)
