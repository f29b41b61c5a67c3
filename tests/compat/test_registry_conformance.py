"""Conformance with the OCI distribution-spec v1.1 (../shared/reference/
oci-distribution-spec/spec.md), written from its MUSTs, category by
category (pull, push, content discovery, content management), and run
against dockyard-registry and against the Debian docker-registry
(distribution 2.8) as a reference.

Where docker-registry deviates from the spec, the test is marked
``deviation(...)``: an xfail(strict=True) for docker-registry alone, with
the spec sentence it breaks; should a later docker-registry conform, the
strict xfail turns red and the mark must go."""

from __future__ import annotations

import json
import os
import re

import pytest
import requests

from _support.registry_server import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, DockerRegistry, DockyardRegistry, sha256
from _support.registry_server import RegistryClient as Client

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SPEC_CODES = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
              "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN",
              "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS"}


@pytest.fixture(scope="module", params=["dockyard", "docker-registry"])
def registry(request: pytest.FixtureRequest):
    if request.param == "docker-registry" and not os.path.exists("/usr/bin/docker-registry"):
        pytest.skip("docker-registry is not installed (tools/setup.sh installs it)")
    server = (DockyardRegistry() if request.param == "dockyard" else DockerRegistry()).start()
    try:
        yield server
    finally:
        server.teardown()


@pytest.fixture
def http(registry) -> Client:
    return Client(registry.url)


def deviation(request: pytest.FixtureRequest, registry, reason: str) -> None:
    if registry.kind == "docker-registry":
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"docker-registry 2.8 deviates: {reason}"))


def error_codes(r: requests.Response) -> list[str]:
    return [e["code"] for e in r.json()["errors"]]


def assert_error(r: requests.Response, status: int | tuple[int, ...], code: str | None = None) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.text)
    if code is not None:
        body = r.json()
        assert set(body) == {"errors"} and body["errors"], body
        for e in body["errors"]:
            assert re.fullmatch(r"[A-Z_]+", e["code"]) and e["code"] in SPEC_CODES, e
        assert code in error_codes(r), r.text


# -- Pull -------------------------------------------------------------------------------------------

def test_base_endpoint_answers_200_with_api_version_header(http) -> None:
    r = http("GET", "/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_pull_manifest_by_tag_and_digest_returns_exact_bytes_and_type(http) -> None:
    digest, body = http.push_image("conf/pull", "v1")
    for ref in ("v1", digest):
        r = http("GET", f"/v2/conf/pull/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200
        assert r.content == body
        assert r.headers["Content-Type"] == OCI_MANIFEST
        assert r.headers["Docker-Content-Digest"] == digest


def test_head_manifest_and_blob_give_length_and_digest(http) -> None:
    layer = os.urandom(1000)
    digest, body = http.push_image("conf/head", "v1", layer=layer)
    r = http("HEAD", "/v2/conf/head/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["Content-Length"]) == len(body)
    assert r.headers["Docker-Content-Digest"] == digest
    r = http("HEAD", f"/v2/conf/head/blobs/{sha256(layer)}")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["Content-Length"]) == 1000
    assert r.headers["Docker-Content-Digest"] == sha256(layer)


def test_pull_blob_body_matches_its_digest(http) -> None:
    data = os.urandom(70000)
    digest = http.push_blob("conf/blob", data)
    r = http("GET", f"/v2/conf/blob/blobs/{digest}")
    assert r.status_code == 200 and r.content == data
    assert r.headers["Docker-Content-Digest"] == sha256(r.content)


def test_pull_blob_range_resumes_a_download(http) -> None:
    data = os.urandom(10000)
    digest = http.push_blob("conf/range", data)
    r = http("GET", f"/v2/conf/range/blobs/{digest}", headers={"Range": "bytes=5000-"})
    assert r.status_code == 206 and r.content == data[5000:]
    r = http("GET", f"/v2/conf/range/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]


def test_missing_manifest_and_blob_are_404(http) -> None:
    http.push_image("conf/missing", "v1")
    assert_error(http("GET", "/v2/conf/missing/manifests/nope"), 404, "MANIFEST_UNKNOWN")
    assert_error(http("GET", f"/v2/conf/missing/manifests/{sha256(b'nope')}"), 404, "MANIFEST_UNKNOWN")
    assert_error(http("GET", f"/v2/conf/missing/blobs/{sha256(b'nope')}"), 404, "BLOB_UNKNOWN")
    assert http("HEAD", f"/v2/conf/missing/blobs/{sha256(b'nope')}").status_code == 404
    assert http("HEAD", "/v2/conf/missing/manifests/nope").status_code == 404


def test_nonexistent_repository_is_404(http) -> None:
    assert http("GET", "/v2/conf/never-pushed/manifests/latest").status_code == 404
    assert http("GET", f"/v2/conf/never-pushed/blobs/{sha256(b'x')}").status_code == 404
    assert http("GET", "/v2/conf/never-pushed/tags/list").status_code == 404


def test_blob_linked_in_one_repository_is_not_pullable_from_another(http) -> None:
    digest = http.push_blob("conf/owner", os.urandom(100))
    assert http("GET", f"/v2/conf/owner/blobs/{digest}").status_code == 200
    http.push_blob("conf/stranger", os.urandom(100))
    assert http("GET", f"/v2/conf/stranger/blobs/{digest}").status_code == 404


# -- Push -------------------------------------------------------------------------------------------

def test_post_then_put_upload(http) -> None:
    data = os.urandom(3000)
    r = http("POST", "/v2/conf/push/blobs/uploads/")
    assert r.status_code == 202 and r.headers["Location"]
    r = http("PUT", http.location(r), params={"digest": sha256(data)}, data=data,
             headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201
    assert http("GET", http.location(r)).content == data


def test_single_post_monolithic_upload(http) -> None:
    data = os.urandom(2000)
    r = http("POST", "/v2/conf/mono/blobs/uploads/", params={"digest": sha256(data)}, data=data,
             headers={"Content-Type": "application/octet-stream"})
    # "Registries MAY support pushing blobs using a single POST request";
    # those that do not SHOULD answer 202 and a Location for a PUT.
    assert r.status_code in (201, 202)
    if r.status_code == 202:
        r = http("PUT", http.location(r), params={"digest": sha256(data)}, data=data)
        assert r.status_code == 201
    assert http("GET", http.location(r)).content == data


def test_chunked_upload_out_of_order_is_416(request, registry, http) -> None:
    deviation(request, registry, "a PATCH whose Content-Range does not start at the session's offset is "
              "accepted (202) and appended; spec.md: 'If a chunk is uploaded out of order, the registry MUST "
              "respond with a 416 Requested Range Not Satisfiable code'")
    data = os.urandom(2000)
    r = http("POST", "/v2/conf/chunks416/blobs/uploads/", headers={"Content-Length": "0"})
    r = http("PATCH", http.location(r), data=data[:1000], headers={
        "Content-Type": "application/octet-stream", "Content-Range": "0-999", "Content-Length": "1000"})
    assert r.status_code == 202
    loc = http.location(r)
    r = http("PATCH", loc, data=data[1001:], headers={
        "Content-Type": "application/octet-stream", "Content-Range": "1001-1999", "Content-Length": "999"})
    assert r.status_code == 416
    r = http("GET", loc)
    assert r.status_code == 204 and r.headers["Range"] == "0-999"


def test_chunked_upload_in_order_with_status(http) -> None:
    data = os.urandom(30000)
    a, b, c = data[:10000], data[10000:20000], data[20000:]
    r = http("POST", "/v2/conf/chunks/blobs/uploads/", headers={"Content-Length": "0"})
    assert r.status_code == 202
    loc = http.location(r)
    r = http("PATCH", loc, data=a, headers={"Content-Type": "application/octet-stream",
                                           "Content-Range": "0-9999", "Content-Length": "10000"})
    assert r.status_code == 202
    assert r.headers["Range"] == "0-9999" and r.headers["Location"]
    loc = http.location(r)
    r = http("GET", loc)
    assert r.status_code == 204 and r.headers["Range"] == "0-9999" and r.headers["Location"]
    loc = http.location(r)
    r = http("PATCH", loc, data=b, headers={"Content-Type": "application/octet-stream",
                                           "Content-Range": "10000-19999", "Content-Length": "10000"})
    assert r.status_code == 202 and r.headers["Range"] == "0-19999"
    # the final chunk in the closing PUT
    r = http("PUT", http.location(r), params={"digest": sha256(data)}, data=c,
             headers={"Content-Type": "application/octet-stream", "Content-Range": "20000-29999",
                      "Content-Length": "10000"})
    assert r.status_code == 201
    assert http("GET", f"/v2/conf/chunks/blobs/{sha256(data)}").content == data


def test_put_with_wrong_digest_is_digest_invalid_and_stores_nothing(http) -> None:
    data = os.urandom(500)
    r = http("POST", "/v2/conf/wrongdigest/blobs/uploads/")
    r = http("PUT", http.location(r), params={"digest": sha256(b"other")}, data=data)
    assert_error(r, 400, "DIGEST_INVALID")
    assert http("HEAD", f"/v2/conf/wrongdigest/blobs/{sha256(data)}").status_code == 404
    assert http("HEAD", f"/v2/conf/wrongdigest/blobs/{sha256(b'other')}").status_code == 404


def test_cross_repository_mount_and_fallback_to_a_session(http) -> None:
    data = os.urandom(800)
    digest = http.push_blob("conf/mount-src", data)
    r = http("POST", "/v2/conf/mount-dst/blobs/uploads/", params={"mount": digest, "from": "conf/mount-src"})
    assert r.status_code == 201 and r.headers["Location"]
    assert http("GET", http.location(r)).content == data
    assert http("GET", f"/v2/conf/mount-dst/blobs/{digest}").content == data
    # unknown in the source: an upload session begins instead
    r = http("POST", "/v2/conf/mount-dst2/blobs/uploads/",
             params={"mount": sha256(b"not there"), "from": "conf/mount-src"})
    assert r.status_code == 202 and r.headers["Location"]


def test_push_manifest_stores_exact_bytes_and_answers_location_and_digest(http) -> None:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    layer = os.urandom(64)
    cd, ld = http.push_blob("conf/manifest", config), http.push_blob("conf/manifest", layer)
    body = (b'{\n  "schemaVersion" : 2,\n\t"mediaType": "application/vnd.oci.image.manifest.v1+json",'
            b'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},'
            b'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":64}]}   \n'
            % (cd.encode(), len(config), ld.encode()))
    r = http.push_manifest("conf/manifest", "exact", body)
    assert r.status_code == 201 and r.headers["Location"]
    assert r.headers["Docker-Content-Digest"] == sha256(body)
    assert http("GET", http.location(r), headers={"Accept": OCI_MANIFEST}).content == body
    r = http.push_manifest("conf/manifest", sha256(body), body)
    assert r.status_code == 201 and r.headers["Docker-Content-Digest"] == sha256(body)


def test_push_docker_manifest_and_list(http) -> None:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    layer = os.urandom(64)
    cd, ld = http.push_blob("conf/docker", config), http.push_blob("conf/docker", layer)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                      "digest": cd, "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                       "digest": ld, "size": 64}]}).encode()
    r = http.push_manifest("conf/docker", "img", manifest, DOCKER_MANIFEST)
    assert r.status_code == 201, r.text
    lst = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": sha256(manifest), "size": len(manifest),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    r = http.push_manifest("conf/docker", "list", lst, DOCKER_LIST)
    assert r.status_code == 201, r.text
    r = http("GET", "/v2/conf/docker/manifests/list", headers={"Accept": f"{DOCKER_LIST}, {DOCKER_MANIFEST}"})
    assert r.status_code == 200 and r.content == lst and r.headers["Content-Type"] == DOCKER_LIST
    # content-negotiation.md: a client without manifest-list support gets the linux/amd64 image
    r = http("GET", "/v2/conf/docker/manifests/list", headers={"Accept": DOCKER_MANIFEST})
    assert r.status_code == 200 and r.content == manifest and r.headers["Content-Type"] == DOCKER_MANIFEST


def test_push_oci_index(http) -> None:
    digest, body = http.push_image("conf/index", "amd64")
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    r = http.push_manifest("conf/index", "multi", index, OCI_INDEX)
    assert r.status_code == 201, r.text
    r = http("GET", "/v2/conf/index/manifests/multi", headers={"Accept": f"{OCI_INDEX}, {OCI_MANIFEST}"})
    assert r.status_code == 200 and r.content == index and r.headers["Content-Type"] == OCI_INDEX


def test_manifest_with_empty_layers_is_accepted(request, registry, http) -> None:
    # spec.md "Pushing Manifests": "the list of blobs MAY be empty".
    config = b"{}"
    cd = http.push_blob("conf/empty-layers", config)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.test",
                       "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": 2},
                       "layers": []}).encode()
    assert http.push_manifest("conf/empty-layers", "art", body).status_code == 201


def test_manifest_with_unknown_blob_is_rejected_with_manifest_blob_unknown(request, registry, http) -> None:
    config = b'{"architecture":"amd64","os":"linux"}'
    cd = http.push_blob("conf/unknown-blob", config)
    missing = sha256(b"never uploaded")
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(config)},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": missing,
                                   "size": 14}]}).encode()
    r = http.push_manifest("conf/unknown-blob", "bad", body)
    # "A registry MAY reject ... When a manifest is rejected for this reason,
    # it MUST result in one or more MANIFEST_BLOB_UNKNOWN errors."
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    assert http("GET", "/v2/conf/unknown-blob/manifests/bad").status_code == 404


def test_manifest_with_subject_to_a_missing_manifest_is_accepted(request, registry, http) -> None:
    # "A registry MUST initially accept an otherwise valid manifest with a
    # subject field that references a manifest that does not exist".
    config = b"{}"
    cd = http.push_blob("conf/subject", config)
    subject = {"mediaType": OCI_MANIFEST, "digest": sha256(b"not pushed yet"), "size": 14}
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.sig",
                       "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": 2},
                       "layers": [], "subject": subject}).encode()
    r = http.push_manifest("conf/subject", sha256(body), body)
    assert r.status_code == 201, r.text


def test_push_with_subject_answers_oci_subject_header(request, registry, http) -> None:
    deviation(request, registry, "no referrers API (distribution-spec 1.1), so no OCI-Subject header: "
              "'a registry implementation that supports the referrers API MUST respond with OCI-Subject'")
    digest, _ = http.push_image("conf/ocisubject", "base")
    cd = http.push_blob("conf/ocisubject", b"{}")
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.sbom",
                       "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": 2},
                       "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": 1}}).encode()
    r = http.push_manifest("conf/ocisubject", sha256(body), body)
    assert r.status_code == 201
    assert r.headers.get("OCI-Subject") == digest


# -- Content discovery ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tagged_repo(registry) -> tuple[str, list[str]]:
    http = Client(registry.url)
    digest, body = http.push_image("conf/tags", "t0")
    tags = ["t0", "t1", "t2", "t3", "t4", "t5"]
    for t in tags[1:]:
        assert http.push_manifest("conf/tags", t, body).status_code == 201
    return "conf/tags", tags


def test_tags_list_is_complete(http, tagged_repo) -> None:
    repo, tags = tagged_repo
    r = http("GET", f"/v2/{repo}/tags/list")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == repo and sorted(body["tags"]) == tags


def test_tags_list_is_in_lexical_order(request, registry, http, tagged_repo) -> None:
    deviation(request, registry, "tags come in directory order (e.g. t0 t3 t4 t5 t1 t2); spec.md 'Listing "
              "Tags': 'If the list is not empty, the tags MUST be in lexical order'")
    repo, tags = tagged_repo
    assert http("GET", f"/v2/{repo}/tags/list").json()["tags"] == tags


def test_tags_list_n_returns_exactly_n(request, registry, http, tagged_repo) -> None:
    deviation(request, registry, "?n= is ignored on tags/list (every tag comes back); spec.md: "
              "'Otherwise, the response MUST include <int> results'")
    repo, tags = tagged_repo
    r = http("GET", f"/v2/{repo}/tags/list", params={"n": 2})
    assert r.status_code == 200 and r.json()["tags"] == tags[:2]
    assert 'rel="next"' in r.headers.get("Link", "")
    r = http("GET", f"/v2/{repo}/tags/list", params={"n": 100})
    assert r.json()["tags"] == tags


def test_tags_list_n_zero_is_empty_without_link(request, registry, http, tagged_repo) -> None:
    deviation(request, registry, "?n=0 returns every tag, not 'an empty list' (spec.md 'Listing Tags': "
              "'When n is zero, this endpoint MUST return an empty list')")
    repo, _ = tagged_repo
    r = http("GET", f"/v2/{repo}/tags/list", params={"n": 0})
    assert r.status_code == 200
    assert r.json()["tags"] == [] and "Link" not in r.headers


def test_tags_list_last_continues_after_the_tag(request, registry, http, tagged_repo) -> None:
    deviation(request, registry, "?last= is ignored on tags/list; spec.md: 'A request of this sort will "
              "return up to <int> tags, beginning non-inclusively with <tagname>'")
    repo, tags = tagged_repo
    r = http("GET", f"/v2/{repo}/tags/list", params={"n": 2, "last": "t1"})
    assert r.json()["tags"] == ["t2", "t3"]
    r = http("GET", f"/v2/{repo}/tags/list", params={"last": "t3"})
    assert r.json()["tags"] == ["t4", "t5"]


def test_tags_are_in_case_insensitive_lexical_order(request, registry, http) -> None:
    deviation(request, registry, "tags sorted by byte value ('B' before 'a'), while spec.md 'Listing Tags' "
              "says 'lexical order (i.e. case-insensitive alphanumeric order)'")
    digest, body = http.push_image("conf/case", "b")
    for t in ("B", "a", "C"):
        assert http.push_manifest("conf/case", t, body).status_code == 201
    tags = http("GET", "/v2/conf/case/tags/list").json()["tags"]
    assert sorted(tags) == ["B", "C", "a", "b"]
    assert [t.lower() for t in tags] == ["a", "b", "b", "c"]  # 'b'/'B' tie: either order


def test_catalog_paginates(http) -> None:
    for i in range(3):
        http.push_blob(f"conf/catalog/r{i}", os.urandom(10))
    everything = http("GET", "/v2/_catalog").json()["repositories"]
    assert {"conf/catalog/r0", "conf/catalog/r1", "conf/catalog/r2"} <= set(everything)
    r = http("GET", "/v2/_catalog", params={"n": 1, "last": "conf/catalog/r0"})
    assert r.json()["repositories"] == ["conf/catalog/r1"]
    assert 'rel="next"' in r.headers["Link"]


@pytest.fixture(scope="module")
def referrers_repo(registry) -> dict:
    http = Client(registry.url)
    repo = "conf/referrers"
    subject, body = http.push_image(repo, "base")
    empty = http.push_blob(repo, b"{}")
    made = {}
    for name, extra in {
        "sbom": {"artifactType": "application/vnd.example.sbom.v1", "annotations": {"org.example.k": "v"}},
        "sig": {"config_type": "application/vnd.example.signature.v1"},
    }.items():
        config_type = extra.get("config_type", "application/vnd.oci.empty.v1+json")
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
             "config": {"mediaType": config_type, "digest": empty, "size": 2}, "layers": [],
             "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(body)}}
        if "artifactType" in extra:
            m["artifactType"] = extra["artifactType"]
        if "annotations" in extra:
            m["annotations"] = extra["annotations"]
        b = json.dumps(m).encode()
        assert http.push_manifest(repo, sha256(b), b).status_code == 201
        made[name] = (sha256(b), len(b))
    return {"repo": repo, "subject": subject, **made}


def test_referrers_lists_manifests_with_the_subject(request, registry, http, referrers_repo) -> None:
    deviation(request, registry, "no referrers API: GET /v2/<name>/referrers/<digest> is 404 "
              "(the API is part of the content discovery category since distribution-spec 1.1)")
    repo, subject = referrers_repo["repo"], referrers_repo["subject"]
    r = http("GET", f"/v2/{repo}/referrers/{subject}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    by_digest = {d["digest"]: d for d in index["manifests"]}
    sbom, sig = by_digest[referrers_repo["sbom"][0]], by_digest[referrers_repo["sig"][0]]
    assert sbom["artifactType"] == "application/vnd.example.sbom.v1"
    assert sbom["annotations"] == {"org.example.k": "v"} and sbom["size"] == referrers_repo["sbom"][1]
    # no artifactType: the config's media type stands in
    assert sig["artifactType"] == "application/vnd.example.signature.v1"
    assert len(by_digest) == 2


def test_referrers_filter_by_artifact_type(request, registry, http, referrers_repo) -> None:
    deviation(request, registry, "no referrers API")
    repo, subject = referrers_repo["repo"], referrers_repo["subject"]
    r = http("GET", f"/v2/{repo}/referrers/{subject}", params={"artifactType": "application/vnd.example.sbom.v1"})
    assert r.status_code == 200 and r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [d["digest"] for d in r.json()["manifests"]] == [referrers_repo["sbom"][0]]


def test_referrers_of_an_unreferenced_digest_is_an_empty_index(request, registry, http, referrers_repo) -> None:
    deviation(request, registry, "no referrers API")
    r = http("GET", f"/v2/{referrers_repo['repo']}/referrers/{sha256(b'nobody')}")
    assert r.status_code == 200 and r.json()["manifests"] == []


def test_referrers_with_an_invalid_digest_is_400(request, registry, http, referrers_repo) -> None:
    deviation(request, registry, "no referrers API")
    assert http("GET", f"/v2/{referrers_repo['repo']}/referrers/sha256:xyz").status_code == 400


# -- Content management ------------------------------------------------------------------------------

def test_delete_tag(http) -> None:
    digest, body = http.push_image("conf/deltag", "keep")
    assert http.push_manifest("conf/deltag", "gone", body).status_code == 201
    r = http("DELETE", "/v2/conf/deltag/manifests/gone")
    # "If tag deletion is disabled, the registry MUST respond with either a
    # 400 Bad Request or a 405 Method Not Allowed."
    assert r.status_code in (202, 400, 405)
    if r.status_code == 202:
        assert http("GET", "/v2/conf/deltag/manifests/gone").status_code == 404
        assert http("GET", "/v2/conf/deltag/manifests/keep").status_code == 200


def test_delete_manifest_by_digest(http) -> None:
    digest, _ = http.push_image("conf/delman", "v1")
    r = http("DELETE", f"/v2/conf/delman/manifests/{digest}")
    assert r.status_code == 202
    assert http("GET", f"/v2/conf/delman/manifests/{digest}").status_code == 404
    assert http("GET", "/v2/conf/delman/manifests/v1").status_code == 404


def test_delete_manifest_in_a_missing_repository_is_404(http) -> None:
    assert http("DELETE", f"/v2/conf/no-such-repo/manifests/{sha256(b'x')}").status_code == 404


def test_delete_blob(http) -> None:
    data = os.urandom(300)
    digest = http.push_blob("conf/delblob", data)
    assert http("DELETE", f"/v2/conf/delblob/blobs/{digest}").status_code == 202
    assert http("GET", f"/v2/conf/delblob/blobs/{digest}").status_code == 404
    assert http("DELETE", f"/v2/conf/delblob/blobs/{digest}").status_code == 404


def test_cancel_upload(http) -> None:
    r = http("POST", "/v2/conf/cancel/blobs/uploads/")
    r = http("PATCH", http.location(r), data=b"abc")
    assert r.status_code == 202
    loc = http.location(r)  # distribution's locations carry state: use the latest (spec.md: SHOULD)
    assert http("DELETE", loc).status_code == 204
    assert_error(http("GET", loc), 404, "BLOB_UPLOAD_UNKNOWN")


def test_deleted_referrer_leaves_the_referrers_list(request, registry, http) -> None:
    deviation(request, registry, "no referrers API")
    subject, body = http.push_image("conf/delref", "base")
    cd = http.push_blob("conf/delref", b"{}")
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.a",
                    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": 2},
                    "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(body)}}).encode()
    assert http.push_manifest("conf/delref", sha256(m), m).status_code == 201
    assert len(http("GET", f"/v2/conf/delref/referrers/{subject}").json()["manifests"]) == 1
    assert http("DELETE", f"/v2/conf/delref/manifests/{sha256(m)}").status_code == 202
    assert http("GET", f"/v2/conf/delref/referrers/{subject}").json()["manifests"] == []


# -- Error bodies ---------------------------------------------------------------------------------------

def test_invalid_name_is_name_invalid(http) -> None:
    # upper case is outside the <name> grammar
    r = http("POST", "/v2/Conf/UPPER/blobs/uploads/")
    assert_error(r, (400, 404), "NAME_INVALID" if r.status_code == 400 else None)


def test_digest_mismatch_on_manifest_push_by_digest(http) -> None:
    _, body = http.push_image("conf/mdigest", "v1")
    r = http.push_manifest("conf/mdigest", sha256(b"something else"), body)
    assert r.status_code == 400
    assert error_codes(r)[0] in ("DIGEST_INVALID", "MANIFEST_INVALID")


def test_unknown_upload_is_blob_upload_unknown(http) -> None:
    http.push_blob("conf/upload-unknown", b"x")
    r = http("PATCH", "/v2/conf/upload-unknown/blobs/uploads/0b0b0b0b-0000-4000-8000-000000000000", data=b"x")
    # end-5: 404. docker-registry says BLOB_UPLOAD_INVALID here (its upload
    # URLs need a _state parameter); both codes are in the spec's table.
    assert_error(r, 404)
    assert error_codes(r)[0] in ("BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID")


def test_json_error_bodies_have_the_spec_format(http) -> None:
    http.push_blob("conf/errors", b"x")
    for r in (http("GET", "/v2/conf/errors/manifests/nope"), http("GET", f"/v2/conf/errors/blobs/{sha256(b'q')}")):
        body = r.json()
        for e in body["errors"]:
            assert set(e) <= {"code", "message", "detail"} and e["code"] in SPEC_CODES
