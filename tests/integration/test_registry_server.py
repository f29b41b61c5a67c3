"""dockyard-registry beyond the conformance suite: hostile and malformed
input (each the spec's error, and nothing stored), htpasswd and token
auth, TLS, read-only mode, upload expiry and restart, graceful shutdown,
garbage collection, counters and access logs. Every server is a real
process on 127.0.0.1; teardown fails on a leaked process or directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from _support.registry_server import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, DockyardRegistry, sha256
from _support.registry_server import RegistryClient as Client


@pytest.fixture(scope="module")
def reg():
    server = DockyardRegistry(config={"limits": {"max_manifest_bytes": 65536, "max_blob_bytes": 1 << 20}}).start()
    try:
        yield server
    finally:
        server.teardown()


@pytest.fixture
def http(reg) -> Client:
    return Client(reg.url)


@pytest.fixture
def make_registry():
    made: list[DockyardRegistry] = []

    def make(**kw) -> DockyardRegistry:
        r = DockyardRegistry(**kw)
        made.append(r)
        return r.start()

    yield make
    errors = []
    for r in made:
        try:
            r.teardown()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))


def files_under(path: str) -> set[str]:
    out = set()
    for dirpath, _, filenames in os.walk(path):
        out.update(os.path.relpath(os.path.join(dirpath, f), path) for f in filenames)
    return out


def blob_files(reg) -> set[str]:
    return {f for f in files_under(os.path.join(reg.root, "blobs"))}


def raw_request(port: int, head: bytes, body: bytes = b"", close_early: bool = False, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        if close_early:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
                if not close_early and b"\r\n\r\n" in b"".join(chunks):
                    break
        except (ConnectionResetError, socket.timeout):
            pass
        return b"".join(chunks)


def codes(r: requests.Response) -> list[str]:
    return [e["code"] for e in r.json()["errors"]]


# -- malformed and hostile input ----------------------------------------------------------------------

@pytest.mark.parametrize("body,content_type,reason", [
    (b"{not json", OCI_MANIFEST, "not JSON"),
    (b"[]", OCI_MANIFEST, "must be a JSON object"),
    (b'{"schemaVersion": 1, "mediaType": "%s", "config": {}, "layers": []}' % OCI_MANIFEST.encode(),
     OCI_MANIFEST, "schemaVersion"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v1+json"}',
     "application/vnd.docker.distribution.manifest.v1+json", "schema 1"),
    (b'{"schemaVersion": 2, "mediaType": "%s", "layers": []}' % OCI_MANIFEST.encode(), OCI_MANIFEST, "config"),
    (b'{"schemaVersion": 2, "mediaType": "%s", "config": {"mediaType": "x", "digest": "sha256:abc", "size": 1},'
     b' "layers": []}' % OCI_MANIFEST.encode(), OCI_MANIFEST, "invalid digest"),
    (b'{"schemaVersion": 2, "mediaType": "%s", "manifests": []}' % OCI_INDEX.encode(), OCI_MANIFEST,
     "does not match Content-Type"),
    (b'{"schemaVersion": 2, "mediaType": "text/plain"}', "text/plain", "unsupported manifest media type"),
])
def test_malformed_manifest_is_manifest_invalid_and_not_stored(reg, http, body, content_type, reason) -> None:
    before = files_under(reg.root)
    r = http("PUT", "/v2/bad/manifest/manifests/t", data=body, headers={"Content-Type": content_type})
    assert r.status_code == 400 and codes(r) == ["MANIFEST_INVALID"], r.text
    assert reason in json.dumps(r.json())
    assert files_under(reg.root) == before


def test_manifest_naming_a_blob_with_the_wrong_size_is_rejected(reg, http) -> None:
    cd = http.push_blob("bad/size", b"{}")
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": 3}, "layers": []}).encode()
    r = http("PUT", "/v2/bad/size/manifests/t", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and codes(r) == ["MANIFEST_INVALID"]
    assert http("GET", "/v2/bad/size/manifests/t").status_code == 404


def test_index_naming_missing_manifests_lists_each(reg, http) -> None:
    http.push_blob("bad/index", b"x")
    missing = [sha256(b"a"), sha256(b"b")]
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": 1} for d in missing]}).encode()
    r = http("PUT", "/v2/bad/index/manifests/t", data=body, headers={"Content-Type": OCI_INDEX})
    assert r.status_code == 400 and codes(r) == ["MANIFEST_BLOB_UNKNOWN"] * 2
    assert [e["detail"]["digest"] for e in r.json()["errors"]] == missing


def test_oversized_manifest_is_413_and_not_stored(reg, http) -> None:
    before = files_under(reg.root)
    body = b'{"schemaVersion":2,"pad":"' + b"x" * 70000 + b'"}'
    r = http("PUT", "/v2/bad/big/manifests/t", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 413 and codes(r) == ["MANIFEST_INVALID"]
    assert files_under(reg.root) == before


def test_oversized_blob_is_413_and_the_session_keeps_nothing(reg, http) -> None:
    r = http("POST", "/v2/bad/bigblob/blobs/uploads/")
    loc = http.location(r)
    r = http("PATCH", loc, data=os.urandom((1 << 20) + 1))
    assert r.status_code == 413 and codes(r) == ["SIZE_INVALID"]
    r = http("GET", loc)
    assert r.status_code == 204 and r.headers["Range"] == "0-0"
    r = http("POST", "/v2/bad/bigblob/blobs/uploads/", params={"digest": sha256(b"y" * ((1 << 20) + 5))},
             data=b"y" * ((1 << 20) + 5))
    assert r.status_code == 413
    http("DELETE", loc)
    assert not any("_uploads/" in f for f in files_under(reg.root) if "bad/bigblob" in f)


def test_wrong_digest_stores_nothing(reg, http) -> None:
    before = blob_files(reg)
    data = os.urandom(4000)
    r = http("POST", "/v2/bad/digest/blobs/uploads/", params={"digest": sha256(b"else")}, data=data)
    assert r.status_code == 400 and codes(r) == ["DIGEST_INVALID"]
    r = http("POST", "/v2/bad/digest/blobs/uploads/")
    loc = http.location(r)
    assert http("PATCH", loc, data=data).status_code == 202
    r = http("PUT", loc, params={"digest": sha256(b"else")})
    assert r.status_code == 400 and codes(r) == ["DIGEST_INVALID"]
    assert blob_files(reg) == before
    assert not [f for f in files_under(reg.root) if "/_uploads/" in f and "bad/digest" in f]
    # the session ended with the mismatch
    assert http("GET", loc).status_code == 404


def test_malformed_and_unsupported_digests_are_digest_invalid(http) -> None:
    for d in ("sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64):
        r = http("GET", f"/v2/bad/d/blobs/{d}")
        assert r.status_code == 400 and codes(r) == ["DIGEST_INVALID"], d
    r = http("PUT", "/v2/bad/d/blobs/uploads/0b0b0b0b-0000-4000-8000-000000000000")
    assert r.status_code == 404 and codes(r) == ["BLOB_UPLOAD_UNKNOWN"]


def test_put_without_digest_is_digest_invalid_and_keeps_the_session(http) -> None:
    loc = http.location(http("POST", "/v2/bad/nodigest/blobs/uploads/"))
    assert http("PATCH", loc, data=b"abc").status_code == 202
    r = http("PUT", loc)
    assert r.status_code == 400 and codes(r) == ["DIGEST_INVALID"]
    r = http("PUT", loc, params={"digest": sha256(b"abc")})
    assert r.status_code == 201


def test_content_range_length_mismatch_and_malformed(http) -> None:
    loc = http.location(http("POST", "/v2/bad/range/blobs/uploads/"))
    r = http("PATCH", loc, data=b"x" * 10, headers={"Content-Range": "0-4"})
    assert r.status_code == 400 and codes(r) == ["SIZE_INVALID"]
    r = http("PATCH", loc, data=b"x" * 10, headers={"Content-Range": "bytes=0-9/10"})
    assert r.status_code == 400 and codes(r) == ["BLOB_UPLOAD_INVALID"]
    r = http("PATCH", loc, data=b"x" * 10, headers={"Content-Range": "5-14"})
    assert r.status_code == 416 and r.headers["Range"] == "0-0" and r.headers["Location"]
    assert http("GET", loc).headers["Range"] == "0-0"


def test_truncated_uploads_store_nothing(reg, http) -> None:
    data = os.urandom(5000)
    # single POST, the connection drops half-way
    head = (f"POST /v2/bad/trunc/blobs/uploads/?digest={sha256(data)} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    raw_request(reg.port, head, data[:2500], close_early=True)
    # a chunk of a session, the connection drops half-way: the chunk is rolled back
    loc = http.location(http("POST", "/v2/bad/trunc/blobs/uploads/"))
    assert http("PATCH", loc, data=data[:1000]).status_code == 202
    path = loc.split(reg.host, 1)[1]
    head = (f"PATCH {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: 4000\r\n\r\n").encode()
    raw_request(reg.port, head, data[1000:3000], close_early=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = http("GET", loc)
        if r.headers.get("Range") == "0-999":
            break
        time.sleep(0.05)
    assert r.status_code == 204 and r.headers["Range"] == "0-999"
    assert http("PUT", loc, params={"digest": sha256(data)}, data=data[1000:]).status_code == 201
    assert http("GET", f"/v2/bad/trunc/blobs/{sha256(data)}").content == data
    uploads = [f for f in files_under(reg.root) if "bad/trunc/_uploads" in f]
    assert uploads == []
    assert '"error":"BLOB_UPLOAD_INVALID"' in reg.log() and "Traceback" not in reg.log()


@pytest.mark.parametrize("target", [
    b"/v2/../../../etc/passwd",
    b"/v2/a/../../../../etc/blobs/uploads/",
    b"/v2/a/%2e%2e/%2e%2e/x/manifests/latest",
    b"/v2/..%2f..%2fetc/tags/list",
    b"/v2/a/_uploads/x/blobs/uploads/",
    b"/v2/a//b/manifests/latest",
    b"/v2/.hidden/manifests/latest",
    b"/v2/a/manifests/..",
    b"/v2/a/manifests/sha256:..%2f..%2f",
    b"/v2/a/blobs/sha256:..%2f..%2fetc%2fpasswd",
    b"/v2/a/blobs/uploads/..%2f..%2f..%2fx",
    b"/v2/a/referrers/..%2f..",
])
def test_path_traversal_is_refused_and_touches_nothing(reg, target) -> None:
    before = files_under(reg.root)
    beside = set(os.listdir(reg.base))
    passwd = os.stat("/etc/passwd").st_mtime_ns
    for method in (b"GET", b"PUT", b"POST", b"DELETE", b"PATCH"):
        resp = raw_request(reg.port, method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                           b"Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\r\n", b"{}")
        status = int(resp.split(b" ", 2)[1])
        assert status in (301, 400, 404, 405), (method, target, resp[:300])
    assert files_under(reg.root) == before
    assert set(os.listdir(reg.base)) == beside  # nothing beside the storage root either
    assert os.stat("/etc/passwd").st_mtime_ns == passwd


def test_name_longer_than_255_is_name_invalid(http) -> None:
    r = http("GET", "/v2/" + "a/" * 130 + "x/tags/list")
    assert r.status_code == 400 and codes(r) == ["NAME_INVALID"]


# -- uploads: concurrency, restart, expiry ---------------------------------------------------------------

def test_concurrent_uploads_of_the_same_blob_both_succeed(http) -> None:
    data = os.urandom(300000)
    results = []

    def push() -> None:
        c = Client(http.base)
        results.append(c("POST", "/v2/conc/a/blobs/uploads/", params={"digest": sha256(data)}, data=data).status_code)

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 4
    assert http("GET", f"/v2/conc/a/blobs/{sha256(data)}").content == data


def test_upload_resumes_after_a_restart(make_registry) -> None:
    reg = make_registry()
    http = Client(reg.url)
    data = os.urandom(100000)
    loc = http.location(http("POST", "/v2/resume/blobs/uploads/"))
    assert http("PATCH", loc, data=data[:40000], headers={"Content-Range": "0-39999"}).status_code == 202
    assert reg.stop() == 0
    reg.start()
    r = http("GET", loc)
    assert r.status_code == 204 and r.headers["Range"] == "0-39999"
    r = http("PUT", loc, params={"digest": sha256(data)}, data=data[40000:],
             headers={"Content-Range": "40000-99999"})
    assert r.status_code == 201
    assert http("GET", f"/v2/resume/blobs/{sha256(data)}").content == data


def test_idle_upload_sessions_expire(make_registry) -> None:
    reg = make_registry(config={"uploads": {"ttl": 1, "purge_interval": 0.3}})
    http = Client(reg.url)
    loc = http.location(http("POST", "/v2/expire/blobs/uploads/"))
    assert http("PATCH", loc, data=b"abc").status_code == 202
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any("_uploads/" in f for f in files_under(reg.root)):
        time.sleep(0.1)
    assert not any("_uploads/" in f for f in files_under(reg.root))
    r = http("GET", loc)
    assert r.status_code == 404 and codes(r) == ["BLOB_UPLOAD_UNKNOWN"]
    assert "dockyard_registry_uploads_expired_total 1" in http("GET", "/metrics").text


def test_graceful_shutdown_finishes_an_upload_in_flight(make_registry) -> None:
    reg = make_registry(config={"http": {"shutdown_timeout": 30}})
    http = Client(reg.url)
    data = os.urandom(600000)
    loc = http.location(http("POST", "/v2/graceful/blobs/uploads/"))
    started, release = threading.Event(), threading.Event()
    result: dict = {}

    def body():
        yield data[:200000]
        started.set()
        release.wait(20)
        yield data[200000:]

    def upload() -> None:
        result["r"] = Client(reg.url)("PUT", loc, params={"digest": sha256(data)}, data=body())

    t = threading.Thread(target=upload)
    t.start()
    assert started.wait(10)
    time.sleep(0.3)
    proc = reg.proc
    assert proc is not None
    proc.send_signal(signal.SIGTERM)
    # it stops listening at once ...
    deadline = time.monotonic() + 10
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            socket.create_connection(("127.0.0.1", reg.port), timeout=1).close()
            time.sleep(0.05)
        except OSError:
            refused = True
    assert refused
    assert proc.poll() is None  # ... but waits for the upload
    release.set()
    t.join(30)
    assert "r" in result, reg.log()
    assert result["r"].status_code == 201
    assert proc.wait(30) == 0
    assert os.path.exists(os.path.join(reg.root, "blobs", "sha256", sha256(data)[7:9], sha256(data)[7:]))


# -- auth --------------------------------------------------------------------------------------------

def test_htpasswd_basic_auth(make_registry) -> None:
    reg = make_registry(users={"alice": "wonderland"})
    http = Client(reg.url)
    r = http("GET", "/v2/")
    assert r.status_code == 401 and codes(r) == ["UNAUTHORIZED"]
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert http("GET", "/v2/", auth=("alice", "wrong")).status_code == 401
    assert http("GET", "/v2/", auth=("mallory", "wonderland")).status_code == 401
    assert http("GET", "/v2/", auth=("alice", "wonderland")).status_code == 200
    before = files_under(reg.root)
    r = http("POST", "/v2/secret/blobs/uploads/", params={"digest": sha256(b"x")}, data=b"x")
    assert r.status_code == 401
    assert files_under(reg.root) == before
    authed = Client(reg.url, auth=("alice", "wonderland"))
    authed.push_image("secret/img", "v1")
    assert http("GET", "/v2/secret/img/manifests/v1").status_code == 401
    assert authed("GET", "/v2/secret/img/manifests/v1").status_code == 200


def _ec_key(path: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return path


@pytest.fixture(scope="module")
def token_registry():
    reg = DockyardRegistry()
    key = _ec_key(os.path.join(reg.base, "token.key"))
    users = reg.write_htpasswd({"alice": "a-pass", "bob": "b-pass"})
    reg.config["auth"] = {"token": {
        "realm": f"http://{reg.host}/token", "service": "dockyard-test", "issuer": "dockyard-test-issuer",
        "issuer_server": {"private_key": key, "htpasswd": users, "expiration": 300, "acl": [
            {"account": "alice", "name": "*", "actions": ["*"]},
            {"account": "alice", "type": "registry", "name": "catalog", "actions": ["*"]},
            {"account": "bob", "name": "alice/*", "actions": ["pull"]},
            {"account": "bob", "name": "bob/*", "actions": ["pull", "push"]},
            {"account": "anonymous", "name": "public/*", "actions": ["pull"]},
        ]}}}
    reg.start()
    try:
        yield reg
    finally:
        reg.teardown()


def _token(reg, scope: str | list[str], auth=None, service: str = "dockyard-test") -> str:
    r = requests.get(f"{reg.url}/token", params={"service": service, "scope": scope}, auth=auth, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] >= 60
    return body["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_challenge_names_realm_service_and_scope(token_registry) -> None:
    r = requests.get(f"{token_registry.url}/v2/alice/app/manifests/latest", timeout=30)
    assert r.status_code == 401 and codes(r) == ["UNAUTHORIZED"]
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="http://{token_registry.host}/token"' in challenge
    assert 'service="dockyard-test"' in challenge and 'scope="repository:alice/app:pull"' in challenge


def test_token_flow_push_and_pull_within_scope(token_registry) -> None:
    tok = _token(token_registry, "repository:alice/app:pull,push", auth=("alice", "a-pass"))
    http = Client(token_registry.url, headers=_bearer(tok))
    http.push_image("alice/app", "v1")
    assert http("GET", "/v2/alice/app/manifests/v1").status_code == 200
    assert http("GET", "/v2/").status_code == 200
    # bob may pull alice/* but his push request is cut down to pull
    tok = _token(token_registry, "repository:alice/app:pull,push", auth=("bob", "b-pass"))
    import jwt
    claims = jwt.decode(tok, options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]
    bob = Client(token_registry.url, headers=_bearer(tok))
    assert bob("GET", "/v2/alice/app/manifests/v1").status_code == 200
    before = files_under(token_registry.root)
    r = bob("POST", "/v2/alice/app/blobs/uploads/", params={"digest": sha256(b"evil")}, data=b"evil")
    assert r.status_code == 401 and codes(r) == ["UNAUTHORIZED"]
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert bob("DELETE", "/v2/alice/app/manifests/v1").status_code == 401
    assert files_under(token_registry.root) == before
    # a token for one repository is no good for another
    assert bob("GET", "/v2/alice/other/tags/list").status_code == 401


def test_token_anonymous_and_bad_credentials(token_registry) -> None:
    r = requests.get(f"{token_registry.url}/token", params={"service": "dockyard-test", "scope": "repository:x:pull"},
                     auth=("alice", "wrong"), timeout=30)
    assert r.status_code == 401
    tok = _token(token_registry, ["repository:public/a:pull", "repository:alice/app:pull"])
    import jwt
    access = jwt.decode(tok, options={"verify_signature": False})["access"]
    assert access == [{"type": "repository", "name": "public/a", "actions": ["pull"]},
                      {"type": "repository", "name": "alice/app", "actions": []}]
    assert requests.get(f"{token_registry.url}/v2/alice/app/tags/list", headers=_bearer(tok),
                        timeout=30).status_code == 401


def test_forged_expired_and_foreign_tokens_are_refused(token_registry) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    now = int(time.time())
    claims = {"iss": "dockyard-test-issuer", "aud": "dockyard-test", "sub": "alice", "iat": now, "nbf": now,
              "exp": now + 300, "access": [{"type": "repository", "name": "alice/app", "actions": ["*"]}]}
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    key = open(os.path.join(token_registry.base, "token.key"), "rb").read()
    from cryptography.hazmat.primitives import serialization
    real_key = serialization.load_pem_private_key(key, None)
    expired = jwt.encode({**claims, "exp": now - 3600, "iat": now - 4000, "nbf": now - 4000}, real_key, algorithm="ES256")
    foreign = jwt.encode({**claims, "aud": "another-registry"}, real_key, algorithm="ES256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for tok in (forged, expired, foreign, unsigned, "garbage"):
        r = requests.get(f"{token_registry.url}/v2/alice/app/tags/list", headers=_bearer(tok), timeout=30)
        assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"], tok
    good = jwt.encode(claims, real_key, algorithm="ES256")
    r = requests.get(f"{token_registry.url}/v2/alice/app/tags/list", headers=_bearer(good), timeout=30)
    assert r.status_code in (200, 404)


def test_mount_without_pull_on_the_source_falls_back_to_a_session(token_registry) -> None:
    alice = Client(token_registry.url, headers=_bearer(_token(
        token_registry, "repository:alice/private:pull,push", auth=("alice", "a-pass"))))
    digest = alice.push_blob("alice/private", os.urandom(100))
    tok = _token(token_registry, ["repository:bob/app:pull,push", "repository:alice/private:pull"],
                 auth=("bob", "b-pass"))
    # bob can pull alice/*: the mount works
    r = requests.post(f"{token_registry.url}/v2/bob/app/blobs/uploads/", params={"mount": digest,
                      "from": "alice/private"}, headers=_bearer(tok), timeout=30)
    assert r.status_code == 201
    # a token without pull on the source: an upload session instead
    tok = _token(token_registry, "repository:bob/other:pull,push", auth=("bob", "b-pass"))
    r = requests.post(f"{token_registry.url}/v2/bob/other/blobs/uploads/", params={"mount": digest,
                      "from": "alice/private"}, headers=_bearer(tok), timeout=30)
    assert r.status_code == 202 and "/blobs/uploads/" in r.headers["Location"]
    assert requests.get(f"{token_registry.url}/v2/bob/other/blobs/{digest}", headers=_bearer(tok),
                        timeout=30).status_code == 404


def test_catalog_needs_the_registry_scope(token_registry) -> None:
    tok = _token(token_registry, "registry:catalog:*", auth=("bob", "b-pass"))
    assert requests.get(f"{token_registry.url}/v2/_catalog", headers=_bearer(tok), timeout=30).status_code == 401
    tok = _token(token_registry, "registry:catalog:*", auth=("alice", "a-pass"))
    r = requests.get(f"{token_registry.url}/v2/_catalog", headers=_bearer(tok), timeout=30)
    assert r.status_code == 200 and "repositories" in r.json()


def test_skopeo_pushes_and_pulls_through_the_token_realm(token_registry, tmp_path) -> None:
    from _support.registry_server import busybox_layout
    busybox_layout(str(tmp_path / "src"))
    dest = f"docker://{token_registry.host}/alice/busybox:1"
    res = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "alice:a-pass",
                          f"oci:{tmp_path / 'src'}:latest", dest], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--src-creds", "bob:b-pass", dest,
                          f"oci:{tmp_path / 'out'}:x"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "bob:b-pass",
                          f"oci:{tmp_path / 'src'}:latest", f"docker://{token_registry.host}/alice/stolen:1"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0


# -- TLS, read-only --------------------------------------------------------------------------------------

def test_tls_with_a_given_certificate(make_registry, tmp_path) -> None:
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    reg = make_registry(flags=["--tls-cert", cert, "--tls-key", key])
    assert reg.url.startswith("https://")
    r = requests.get(f"{reg.url}/v2/", verify=cert, timeout=30)
    assert r.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{reg.url}/v2/", timeout=30)  # not trusted by default
    resp = raw_request(reg.port, b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n", close_early=True)
    assert b"200 OK" not in resp
    certs = tmp_path / "certs.d"
    certs.mkdir()
    os.link(cert, certs / "ca.crt")
    from _support.registry_server import busybox_layout
    busybox_layout(str(tmp_path / "src"))
    res = subprocess.run(["skopeo", "copy", f"--dest-cert-dir={certs}", f"oci:{tmp_path / 'src'}:latest",
                          f"docker://{reg.host}/tls/busybox:1"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_read_only_mode_refuses_writes_and_serves_reads(make_registry) -> None:
    reg = make_registry()
    http = Client(reg.url)
    digest, body = http.push_image("ro/img", "v1")
    reg.stop()
    reg.flags.append("--read-only")
    reg.start()
    before = files_under(reg.root)
    assert http("GET", "/v2/ro/img/manifests/v1").content == body
    for method, path in (("POST", "/v2/ro/img/blobs/uploads/"), ("PUT", "/v2/ro/img/manifests/v2"),
                         ("DELETE", f"/v2/ro/img/manifests/{digest}")):
        r = http(method, path, data=body)
        assert r.status_code == 405 and codes(r) == ["UNSUPPORTED"], (method, r.text)
    assert files_under(reg.root) == before


# -- gc --------------------------------------------------------------------------------------------------

def test_gc_removes_unreferenced_blobs_and_never_a_used_one(make_registry) -> None:
    reg = make_registry()
    http = Client(reg.url)
    shared = os.urandom(2000)
    keep_digest, keep_body = http.push_image("gc/keep", "v1", layer=shared)
    gone_digest, _ = http.push_image("gc/gone", "v1", layer=shared)
    gone_manifest = json.loads(http("GET", f"/v2/gc/gone/manifests/{gone_digest}").content)
    orphan = http.push_blob("gc/orphan", os.urandom(3000))
    assert http("DELETE", f"/v2/gc/gone/manifests/{gone_digest}").status_code == 202
    before = blob_files(reg)

    res = reg.gc("--dry-run", "--min-age", "0")
    assert res.returncode == 0, res.stderr
    assert f"would delete blob {orphan}" in res.stdout
    assert f"would delete blob {gone_digest}" in res.stdout
    assert f"would delete blob {gone_manifest['config']['digest']}" in res.stdout
    assert sha256(shared) not in res.stdout
    assert blob_files(reg) == before

    assert "0 deleted" in reg.gc().stdout  # everything is younger than the default --min-age
    res = reg.gc("--min-age", "0")
    assert res.returncode == 0, res.stderr
    after = blob_files(reg)
    deleted = {orphan, gone_digest, gone_manifest["config"]["digest"]}
    assert {f.split("/")[-1] for f in before - after} == {d.split(":")[1] for d in deleted}
    # everything the kept image uses is still there and pullable
    manifest = json.loads(http("GET", "/v2/gc/keep/manifests/v1", headers={"Accept": OCI_MANIFEST}).content)
    for d in [manifest["config"]["digest"]] + [l["digest"] for l in manifest["layers"]]:
        assert http("GET", f"/v2/gc/keep/blobs/{d}").status_code == 200
    assert http("GET", f"/v2/gc/orphan/blobs/{orphan}").status_code == 404


def test_gc_delete_untagged_keeps_index_children_and_referrers(make_registry) -> None:
    reg = make_registry()
    http = Client(reg.url)
    child, child_body = http.push_image("gcu/app", "tmp")
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": child, "size": len(child_body)}]}).encode()
    assert http("PUT", "/v2/gcu/app/manifests/multi", data=index,
                headers={"Content-Type": OCI_INDEX}).status_code == 201
    assert http("DELETE", "/v2/gcu/app/manifests/tmp").status_code == 202   # child now untagged
    cd = http.push_blob("gcu/app", b"{}")
    sig = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.sig",
                      "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": 2},
                      "layers": [], "subject": {"mediaType": OCI_INDEX, "digest": sha256(index),
                                                "size": len(index)}}).encode()
    assert http("PUT", f"/v2/gcu/app/manifests/{sha256(sig)}", data=sig,
                headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    loose, _ = http.push_image("gcu/app", "loose")
    assert http("DELETE", "/v2/gcu/app/manifests/loose").status_code == 202
    reg.stop()  # a strict collection runs with the registry stopped (or read-only)
    res = reg.gc("--delete-untagged", "--min-age", "0")
    assert res.returncode == 0, res.stderr
    assert f"deleted manifest gcu/app@{loose}" in res.stdout
    assert f"gcu/app@{child}" not in res.stdout and f"gcu/app@{sha256(sig)}" not in res.stdout
    reg.start()
    assert http("GET", f"/v2/gcu/app/manifests/{child}").status_code == 200
    assert http("GET", f"/v2/gcu/app/manifests/{sha256(sig)}").status_code == 200
    assert http("GET", f"/v2/gcu/app/manifests/{loose}").status_code == 404


def test_gc_refuses_to_run_over_an_unreadable_manifest(make_registry) -> None:
    reg = make_registry()
    http = Client(reg.url)
    digest, _ = http.push_image("gcbad/app", "v1")
    reg.stop()
    path = os.path.join(reg.root, "blobs", "sha256", digest[7:9], digest[7:])
    with open(path, "wb") as f:
        f.write(b"corrupt")
    before = blob_files(reg)
    res = reg.gc("--min-age", "0")
    assert res.returncode == 1 and "refusing to collect" in res.stderr
    assert blob_files(reg) == before


# -- operability --------------------------------------------------------------------------------------------

def test_metrics_health_and_json_access_log(reg, http) -> None:
    http("GET", "/v2/")
    text = http("GET", "/metrics").text
    assert 'dockyard_registry_requests_total{method="GET",status="200"}' in text
    health = http("GET", "/healthz").json()
    assert health["status"] == "ok" and health["requests_total"] > 0
    lines = [json.loads(l) for l in reg.log().splitlines() if l.startswith('{"time"') and '"method"' in l]
    assert any(l["path"] == "/v2/" and l["status"] == 200 and l["method"] == "GET" for l in lines)
    assert all({"remote", "duration_ms", "bytes_in", "bytes_out", "user"} <= set(l) for l in lines)


def test_bad_flags_and_config_fail_with_a_message(tmp_path) -> None:
    from _support.paths import binary
    cases = [
        ["serve", "--addr", "nonsense"],
        ["serve", "--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(tmp_path / "k.pem")],
        ["serve", "--tls-cert", str(tmp_path)],
    ]
    bad = tmp_path / "bad.yml"
    bad.write_text("colour: blue\n")
    cases.append(["serve", "--config", str(bad)])
    for args in cases:
        res = subprocess.run([binary("dockyard-registry"), *args, "--root", str(tmp_path / "r")],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode != 0 and res.stderr.startswith("dockyard-registry: "), (args, res.stderr)


def test_blob_downloads_keep_framing_and_survive_clients_that_hang_up(make_registry) -> None:
    reg = make_registry()
    http = Client(reg.url)
    data = os.urandom(16 << 20)
    digest = http.push_blob("dl/big", data)
    # twice on one keep-alive connection: the body is exactly Content-Length long
    for _ in range(2):
        r = http("GET", f"/v2/dl/big/blobs/{digest}")
        assert r.status_code == 200 and r.content == data
    # a client that reads a little and hangs up, several times over
    path = f"/v2/dl/big/blobs/{digest}".encode()
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", reg.port), timeout=10) as s:
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(1000)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    r = http("GET", f"/v2/dl/big/blobs/{digest}", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert http("GET", f"/v2/dl/big/blobs/{digest}").content == data
    assert "Traceback" not in reg.log()
