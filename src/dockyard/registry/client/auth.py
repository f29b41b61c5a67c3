"""Registry authentication: the credentials docker sends (X-Registry-Auth),
WWW-Authenticate challenges, and the Docker token protocol (a Bearer token
from the challenge's realm for a scope such as repository:x:pull,push)."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from ... import errdefs


@dataclass(frozen=True)
class AuthConfig:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth2 refresh token
    registry_token: str = ""  # a bearer token to send as is
    server_address: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    @classmethod
    def from_api(cls, data: dict[str, Any], server: str = "") -> "AuthConfig":
        """docker's AuthConfig JSON (X-Registry-Auth, X-Registry-Config
        entries, POST /auth): username and password, or "auth" holding
        base64(user:password)."""
        user, password = data.get("username") or "", data.get("password") or ""
        if not user and data.get("auth"):
            try:
                user, _, password = base64.b64decode(data["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                pass
        return cls(user, password, data.get("identitytoken") or "", data.get("registrytoken") or "",
                   data.get("serveraddress") or server)


def decode_registry_auth(header: str) -> AuthConfig | None:
    """X-Registry-Auth: base64url(JSON). docker tolerates a malformed one
    (treated as no credentials), so do we."""
    if not header:
        return None
    try:
        pad = "=" * (-len(header) % 4)
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(header + pad))
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    cfg = AuthConfig.from_api(data)
    return None if cfg.empty else cfg


def encode_registry_auth(cfg: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cfg).encode()).decode()


_PARAM = re.compile(r'\s*([a-zA-Z0-9_\-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """WWW-Authenticate -> [(scheme, params)], e.g. ('bearer', {'realm': ..})."""
    out: list[tuple[str, dict[str, str]]] = []
    rest = header.strip()
    while rest:
        m = re.match(r"([A-Za-z][A-Za-z0-9_\-]*)\s*", rest)
        if not m:
            break
        scheme = m.group(1).lower()
        rest = rest[m.end():]
        params: dict[str, str] = {}
        while rest:
            pm = _PARAM.match(rest)
            if not pm:
                break
            # A bare word followed by a space (not '=') starts the next challenge.
            params[pm.group(1).lower()] = pm.group(2).replace('\\"', '"') if pm.group(2) is not None else pm.group(3)
            rest = rest[pm.end():].lstrip()
            if rest and re.match(r"[A-Za-z][A-Za-z0-9_\-]*\s+[A-Za-z0-9_\-]+\s*=", rest):
                break
        out.append((scheme, params))
    return out


class Authorizer:
    """Per registry: remembers the challenge and hands out Authorization
    headers per scope, fetching and caching Bearer tokens as needed."""

    def __init__(self, creds: AuthConfig | None, http: Any) -> None:
        self.creds = creds
        self.http = http
        self.scheme = ""
        self.params: dict[str, str] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _basic(self) -> str | None:
        if self.creds and (self.creds.username or self.creds.password):
            raw = f"{self.creds.username}:{self.creds.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        return None

    def header(self, scope: str) -> str | None:
        if self.creds and self.creds.registry_token:
            return "Bearer " + self.creds.registry_token
        if self.scheme == "basic":
            return self._basic()
        if self.scheme == "bearer":
            with self._lock:
                tok = self._tokens.get(scope)
            if tok and tok[1] > time.monotonic():
                return "Bearer " + tok[0]
            return "Bearer " + self._fetch_token(scope)
        return None

    def challenge(self, www_authenticate: str) -> bool:
        """Take a 401's challenge; True when retrying may now succeed."""
        for scheme, params in parse_challenges(www_authenticate):
            if scheme == "bearer" and params.get("realm"):
                changed = self.scheme != "bearer" or params.get("realm") != self.params.get("realm")
                self.scheme, self.params = "bearer", params
                with self._lock:
                    self._tokens.clear()
                return changed or True
            if scheme == "basic":
                changed = self.scheme != "basic"
                self.scheme, self.params = "basic", params
                return changed and self._basic() is not None
        return False

    def _fetch_token(self, scope: str) -> str:
        realm = self.params["realm"]
        query = {"service": self.params.get("service", "")} if self.params.get("service") else {}
        scopes = [s for s in (scope, self.params.get("scope", "")) if s]
        if self.creds and self.creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": self.creds.identity_token,
                    "client_id": "dockyard", "service": self.params.get("service", ""),
                    "scope": " ".join(scopes)}
            resp = self.http.request("POST", realm, {"Content-Type": "application/x-www-form-urlencoded"},
                                     urllib.parse.urlencode(form).encode())
        else:
            q = urllib.parse.urlencode(list(query.items()) + [("scope", s) for s in scopes])
            url = realm + ("&" if "?" in realm else "?") + q if q else realm
            headers = {}
            basic = self._basic()
            if basic:
                headers["Authorization"] = basic
            resp = self.http.request("GET", url, headers)
        with resp:
            body = resp.read_limited(1 << 20)
            if resp.status in (401, 403):
                raise errdefs.Unauthorized(_token_error(body, resp.status))
            if resp.status != 200:
                raise errdefs.Unavailable(f"token server {realm} answered {resp.status} {resp.reason}")
        try:
            data = json.loads(body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise errdefs.Unavailable(f"token server {realm} returned no token")
        ttl = float(data.get("expires_in") or 60)
        with self._lock:
            self._tokens[scope] = (token, time.monotonic() + max(ttl - 10, 5))
        return token


def _token_error(body: bytes, status: int) -> str:
    try:
        data = json.loads(body)
        errs = data.get("errors") or []
        if errs:
            return f"unauthorized: {errs[0].get('message', 'authentication required')}"
        if data.get("details"):
            return f"unauthorized: {data['details']}"
    except (ValueError, AttributeError):
        pass
    return "unauthorized: incorrect username or password" if status == 401 else "denied: requested access to the resource is denied"
