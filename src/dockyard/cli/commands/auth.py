"""login and logout: credentials checked by the daemon (POST /auth) and kept
in docker's config.json, so docker and dockyard share them."""

from __future__ import annotations

import os
import sys

from ..errors import CLIError
from .. import config
from .common import Parser, client, daemon_call


def _default_server(gopts: dict) -> str:
    try:
        return client(gopts).info().get("IndexServerAddress") or config.INDEX_SERVER
    except Exception:  # no daemon: docker falls back to the hub's address too
        return config.INDEX_SERVER


def _server_key(server: str) -> str:
    """How config.json names a registry: the hub's index URL, else host[:port]."""
    norm = config.normalize_server(server)
    return norm


def cmd_login(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard login", usage="dockyard login [OPTIONS] [SERVER]",
               description="Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.")
    p.add_argument("-p", "--password", default="", help="Password or Personal Access Token (PAT)")
    p.add_argument("--password-stdin", action="store_true",
                   help="Take the Password or Personal Access Token (PAT) from stdin")
    p.add_argument("-u", "--username", default="", help="Username")
    p.add_argument("server", nargs="?", default="")
    a = p.parse_args(argv)
    if a.password and a.password_stdin:
        raise CLIError("--password and --password-stdin are mutually exclusive", 1)
    password = a.password
    if a.password:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if a.password_stdin:
        if not a.username:
            raise CLIError("Must provide --username with --password-stdin", 1)
        password = sys.stdin.read().rstrip("\r\n")
    server = a.server or _default_server(gopts)
    key = _server_key(server)
    username = a.username
    if not username:
        stored = config.credentials(key, gopts)
        default = stored[0] if stored else ""
        if not os.isatty(sys.stdin.fileno()):
            raise CLIError("Error: Cannot perform an interactive login from a non TTY device", 1)
        sys.stdout.write(f"Username ({default}): " if default else "Username: ")
        sys.stdout.flush()
        username = sys.stdin.readline().strip() or default
        if not username:
            raise CLIError("Error: Non-null Username Required", 1)
    if not password:
        if not os.isatty(sys.stdin.fileno()):
            raise CLIError("Error: Cannot perform an interactive login from a non TTY device", 1)
        import getpass
        password = getpass.getpass("Password: ")
        if not password:
            raise CLIError("Error: Password Required", 1)
    res = daemon_call(client(gopts).auth, {"username": username, "password": password, "serveraddress": server})
    import base64
    cfg = dict(config.load(gopts))
    auths = dict(cfg.get("auths") or {})
    for k in list(auths):
        if config.normalize_server(k) == key:
            del auths[k]
    entry = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
    if res.get("IdentityToken"):
        entry = {"auth": base64.b64encode(f"{username}:".encode()).decode(), "identitytoken": res["IdentityToken"]}
    auths[key] = entry
    cfg["auths"] = auths
    path = config.save(cfg, gopts)
    sys.stderr.write(f"WARNING! Your credentials are stored unencrypted in '{path}'.\n"
                     "Configure a credential helper to remove this warning. See\n"
                     "https://docs.docker.com/go/credential-store/\n\n")
    sys.stdout.write((res.get("Status") or "Login Succeeded") + "\n")
    return 0


def cmd_logout(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard logout", usage="dockyard logout [SERVER]",
               description="Log out from a registry.\nIf no server is specified, the default is defined by the daemon.")
    p.add_argument("server", nargs="?", default="")
    a = p.parse_args(argv)
    server = a.server or _default_server(gopts)
    key = _server_key(server)
    cfg = dict(config.load(gopts))
    auths = dict(cfg.get("auths") or {})
    found = [k for k in auths if config.normalize_server(k) == key]
    if not found:
        sys.stdout.write(f"Not logged in to {server}\n")
        return 0
    sys.stdout.write(f"Removing login credentials for {server}\n")
    for k in found:
        del auths[k]
    cfg["auths"] = auths
    config.save(cfg, gopts)
    return 0
