"""Who may do what.

- ``Htpasswd``: users from an htpasswd file with bcrypt hashes (the only
  scheme accepted: the others htpasswd can write are weak).
- ``BasicAuth``: HTTP basic auth against it; an authenticated user may do anything.
- ``TokenAuth``: the Docker token protocol (docker-registry-spec/auth/token.md):
  401 with a Bearer challenge naming the realm, service and scope; the client
  fetches a JWT from the realm and retries; the registry checks the JWT's
  signature, issuer, audience, lifetime and its ``access`` claims against
  the repository and action of each request.
- ``TokenIssuer``: the realm itself: authenticates the client with basic auth
  (or none), intersects the requested scopes with an ACL and signs a JWT.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from .errors import RegistryError

ALL_ACTIONS = ("pull", "push", "delete")


@dataclass(frozen=True, slots=True)
class Access:
    type: str      # "repository" or "registry"
    name: str      # repository name or "catalog"
    action: str    # pull, push, delete, or "*"

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{self.action}"


def parse_scope(scope: str) -> list[tuple[str, str, list[str]]]:
    """Space-separated resource scopes -> (type, name, actions). The name may
    hold one ':' (a registry host:port), so the type ends at the first colon
    and the actions start after the last (auth/scope.md grammar)."""
    out = []
    for item in scope.split():
        first, last = item.find(":"), item.rfind(":")
        if first <= 0 or last == first:
            continue
        rtype, name, actions = item[:first], item[first + 1:last], item[last + 1:]
        rtype = rtype.split("(", 1)[0]
        if not name:
            continue
        out.append((rtype, name, [a for a in actions.split(",") if a]))
    return out


def _basic_credentials(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    return (user, password) if sep else None


class Htpasswd:
    """An htpasswd file of bcrypt hashes, reread when it changes. Successful
    checks are remembered (keyed by a hash of the password) so that every
    request does not pay bcrypt's deliberate slowness."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime = -1.0
        self._users: dict[str, bytes] = {}
        self._verified: dict[tuple[str, bytes], bytes] = {}
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        st = os.stat(self.path)
        if st.st_mtime == self._mtime:
            return
        users: dict[str, bytes] = {}
        with open(self.path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                user, sep, hashed = line.partition(":")
                if not sep or not hashed.startswith(("$2y$", "$2b$", "$2a$")):
                    raise ValueError(f"{self.path}:{n}: only bcrypt entries are supported (htpasswd -B)")
                users[user] = hashed.encode()
        self._users, self._mtime, self._verified = users, st.st_mtime, {}

    def check(self, user: str, password: str) -> bool:
        import bcrypt
        with self._lock:
            self._load()
            hashed = self._users.get(user)
        if hashed is None:
            return False
        key = (user, hashlib.sha256(password.encode()).digest())
        if self._verified.get(key) == hashed:
            return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False
        if ok:
            self._verified[key] = hashed
        return ok


class Authenticator:
    """Decides a request: returns the user name ('' when anonymous) or raises
    UNAUTHORIZED with the challenge to send."""

    def authorize(self, headers: Any, required: list[Access]) -> str:
        raise NotImplementedError

    def allows(self, headers: Any, access: Access) -> bool:
        try:
            self.authorize(headers, [access])
            return True
        except RegistryError:
            return False


class NoAuth(Authenticator):
    def authorize(self, headers: Any, required: list[Access]) -> str:
        return ""


class BasicAuth(Authenticator):
    def __init__(self, htpasswd: Htpasswd, realm: str = "dockyard-registry") -> None:
        self.htpasswd, self.realm = htpasswd, realm

    def authorize(self, headers: Any, required: list[Access]) -> str:
        creds = _basic_credentials(headers.get("Authorization", ""))
        if creds and self.htpasswd.check(*creds):
            return creds[0]
        detail = [{"Type": a.type, "Name": a.name, "Action": a.action} for a in required]
        raise RegistryError("UNAUTHORIZED", detail or None, headers={"WWW-Authenticate": f'Basic realm="{self.realm}"'})


def _load_key(path: str, private: bool) -> Any:
    from cryptography.hazmat.primitives import serialization
    with open(path, "rb") as f:
        data = f.read()
    if private:
        return serialization.load_pem_private_key(data, password=None)
    try:
        return serialization.load_pem_public_key(data)
    except ValueError:
        from cryptography import x509
        return x509.load_pem_x509_certificate(data).public_key()


def _algorithm(key: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RS256"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}[key.curve.name]
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "EdDSA"
    raise ValueError(f"unsupported token key type {type(key).__name__}")


def _grants(claims: dict[str, Any]) -> set[tuple[str, str, str]]:
    out = set()
    for entry in claims.get("access") or []:
        if not isinstance(entry, dict):
            continue
        rtype, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
        if isinstance(rtype, str) and isinstance(name, str) and isinstance(actions, list):
            out.update((rtype, name, a) for a in actions if isinstance(a, str))
    return out


class TokenAuth(Authenticator):
    """Bearer tokens from a realm this registry trusts (by its public key)."""

    def __init__(self, realm: str, service: str, issuer: str, public_key_path: str | None = None,
                 public_key: Any = None, leeway: float = 30.0) -> None:
        self.realm, self.service, self.issuer, self.leeway = realm, service, issuer, leeway
        self.key = public_key if public_key is not None else _load_key(str(public_key_path), private=False)
        self.algorithm = _algorithm(self.key)
        self._cache: dict[str, tuple[float, set[tuple[str, str, str]], str]] = {}

    def _challenge(self, required: list[Access], error: str = "") -> RegistryError:
        parts = [f'realm="{self.realm}"', f'service="{self.service}"']
        scopes = {}
        for a in required:
            scopes.setdefault((a.type, a.name), []).append(a.action)
        if scopes:
            parts.append('scope="' + " ".join(f"{t}:{n}:{','.join(acts)}" for (t, n), acts in scopes.items()) + '"')
        if error:
            parts.append(f'error="{error}"')
        detail = [{"Type": a.type, "Name": a.name, "Action": a.action} for a in required]
        return RegistryError("UNAUTHORIZED", detail or None, headers={"WWW-Authenticate": "Bearer " + ",".join(parts)})

    def _verify(self, token: str) -> tuple[set[tuple[str, str, str]], str]:
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        import jwt
        claims = jwt.decode(token, self.key, algorithms=[self.algorithm], audience=self.service,
                            issuer=self.issuer, leeway=self.leeway,
                            options={"require": ["exp", "iss", "aud"]})
        grants = _grants(claims)
        sub = str(claims.get("sub", ""))
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[token] = (float(claims["exp"]), grants, sub)
        return grants, sub

    def authorize(self, headers: Any, required: list[Access]) -> str:
        header = headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            raise self._challenge(required)
        try:
            grants, sub = self._verify(header[7:].strip())
        except Exception:
            raise self._challenge(required, "invalid_token") from None
        for a in required:
            if (a.type, a.name, a.action) not in grants and (a.type, a.name, "*") not in grants:
                raise self._challenge(required, "insufficient_scope")
        return sub


# -- the token issuer (the realm) -----------------------------------------------------------

@dataclass(slots=True)
class AclRule:
    """``account``: a user name, '*' for any authenticated user or
    'anonymous'; ``name``: a glob over resource names ('${account}' is the
    user's own name); ``actions``: granted actions, '*' for all."""
    account: str
    name: str
    actions: list[str]
    type: str = "repository"

    def matches(self, account: str, rtype: str, name: str) -> bool:
        if rtype != self.type:
            return False
        if self.account == "anonymous":
            if account:
                return False
        elif self.account == "*":
            if not account:
                return False
        elif self.account != account:
            return False
        pattern = self.name.replace("${account}", account) if account else self.name
        return fnmatch.fnmatchcase(name, pattern)


def libtrust_key_id(der_public_key: bytes) -> str:
    """The key ID docker's token auth looks a signing key up by (libtrust's:
    the first 240 bits of the SHA-256 of the DER public key, base32, in
    groups of four), so registries that trust the issuer's certificate
    (distribution's ``rootcertbundle``) accept its tokens."""
    b32 = base64.b32encode(hashlib.sha256(der_public_key).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


@dataclass
class TokenIssuer:
    private_key_path: str
    issuer: str
    service: str
    htpasswd: Htpasswd | None
    acl: list[AclRule] = field(default_factory=list)
    expiration: int = 300

    def __post_init__(self) -> None:
        self._key = _load_key(self.private_key_path, private=True)
        self._alg = _algorithm(self._key)
        from cryptography.hazmat.primitives import serialization
        der = self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        self._kid = libtrust_key_id(der)

    def public_key(self) -> Any:
        return self._key.public_key()

    def authenticate(self, authorization: str) -> str:
        """The account of a token request: '' when anonymous; UNAUTHORIZED
        for credentials that do not check out (token.md: 401)."""
        if not authorization:
            return ""
        creds = _basic_credentials(authorization)
        if creds is None or self.htpasswd is None or not self.htpasswd.check(*creds):
            raise RegistryError("UNAUTHORIZED", message="invalid credentials",
                                headers={"WWW-Authenticate": 'Basic realm="dockyard-registry-token"'})
        return creds[0]

    def granted(self, account: str, rtype: str, name: str, requested: Iterable[str]) -> list[str]:
        allowed: set[str] = set()
        for rule in self.acl:
            if rule.matches(account, rtype, name):
                allowed.update(ALL_ACTIONS if "*" in rule.actions else rule.actions)
                if "*" in rule.actions:
                    allowed.add("*")
        return [a for a in requested if a in allowed]

    def issue(self, account: str, service: str, scopes: list[str]) -> dict[str, Any]:
        import jwt
        if service and service != self.service:
            raise RegistryError("DENIED", {"service": service}, message="unknown service")
        access = []
        for scope in scopes:
            for rtype, name, actions in parse_scope(scope):
                granted = self.granted(account, rtype, name, actions)
                access.append({"type": rtype, "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": account, "aud": self.service, "iat": now, "nbf": now - 1,
                  "exp": now + self.expiration, "jti": secrets.token_hex(16), "access": access}
        token = jwt.encode(claims, self._key, algorithm=self._alg, headers={"kid": self._kid})
        issued = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": token, "access_token": token, "expires_in": self.expiration, "issued_at": issued}
