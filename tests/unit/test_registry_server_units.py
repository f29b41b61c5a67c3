"""The registry server's pure parts: name grammar, scopes, ACLs, manifest
parsing, configuration, and the filesystem storage on a temporary dir."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from dockyard.registry.server import config, manifests, names
from dockyard.registry.server.auth import AclRule, parse_scope
from dockyard.registry.server.errors import RegistryError
from dockyard.registry.server.storage.base import DigestMismatch
from dockyard.registry.server.storage.filesystem import FilesystemStorage


@pytest.mark.parametrize("name,ok", [
    ("a", True), ("library/busybox", True), ("a.b_c__d---e/f", True), ("a" * 255, True),
    ("a" * 256, False), ("", False), ("A", False), ("a/", False), ("/a", False), ("a//b", False),
    ("..", False), ("a/../b", False), ("a/.b", False), ("_a", False), ("a_", False), ("a___b", False),
    ("a/_uploads", False), ("a%2fb", False), ("a b", False), ("a\nb", False),
])
def test_repository_name_grammar(name: str, ok: bool) -> None:
    assert names.is_name(name) is ok


@pytest.mark.parametrize("tag,ok", [
    ("latest", True), ("_x", True), ("v1.2-rc_3", True), ("a" * 128, True), ("a" * 129, False),
    (".hidden", False), ("-x", False), ("..", False), ("a/b", False), ("", False),
])
def test_tag_grammar(tag: str, ok: bool) -> None:
    assert names.is_tag(tag) is ok


def test_digests() -> None:
    assert names.is_supported_digest("sha256:" + "a" * 64)
    assert names.is_supported_digest("sha512:" + "0" * 128)
    assert not names.is_supported_digest("sha256:" + "A" * 64)
    assert not names.is_supported_digest("sha256:abc")
    assert names.is_digest_syntax("md5:abc") and not names.is_supported_digest("md5:abc")
    with pytest.raises(RegistryError) as e:
        names.check_digest("sha256:../../etc")
    assert e.value.code == "DIGEST_INVALID" and e.value.status == 400
    assert names.is_upload_id("0b0b0b0b-0000-4000-8000-000000000000")
    assert not names.is_upload_id("../../x")


def test_parse_scope_keeps_a_port_in_the_name() -> None:
    assert parse_scope("repository:localhost:5000/a/b:pull,push registry:catalog:*") == [
        ("repository", "localhost:5000/a/b", ["pull", "push"]), ("registry", "catalog", ["*"])]
    assert parse_scope("repository(plugin):x:pull") == [("repository", "x", ["pull"])]
    assert parse_scope("garbage nocolon:") == []


def test_acl_rules() -> None:
    own = AclRule("*", "${account}/*", ["*"])
    assert own.matches("alice", "repository", "alice/app")
    assert not own.matches("alice", "repository", "bob/app")
    assert not own.matches("", "repository", "/app")
    anon = AclRule("anonymous", "public/*", ["pull"])
    assert anon.matches("", "repository", "public/x") and not anon.matches("alice", "repository", "public/x")
    assert not AclRule("*", "*", ["*"], type="registry").matches("alice", "repository", "x")


def _oci(**extra) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": manifests.mt.OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + "1" * 64, "size": 2},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                   "digest": "sha256:" + "2" * 64, "size": 3}], **extra}).encode()


def test_manifest_parse_and_referrer_descriptor() -> None:
    m = manifests.parse(_oci(annotations={"k": "v"}), "")
    assert [d.digest[-1] for d in m.blobs] == ["1", "2"] and m.subject is None
    desc = m.referrer_descriptor("sha256:" + "3" * 64, 10)
    assert desc["artifactType"] == "application/vnd.oci.image.config.v1+json" and desc["annotations"] == {"k": "v"}
    m = manifests.parse(_oci(artifactType="application/x.a"), manifests.mt.OCI_MANIFEST + "; charset=utf-8")
    assert m.referrer_descriptor("sha256:" + "3" * 64, 1)["artifactType"] == "application/x.a"
    index = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    m = manifests.parse(index, "")
    assert m.is_index and "artifactType" not in m.referrer_descriptor("sha256:" + "3" * 64, 1)


@pytest.mark.parametrize("body,ctype", [
    (_oci(), manifests.mt.DOCKER_MANIFEST),                       # mediaType vs Content-Type
    (b'{"schemaVersion": 2}', ""),                                 # no type at all
    (_oci(subject={"mediaType": "x", "digest": "nope", "size": 1}), ""),
    (_oci(annotations={"k": 1}), ""),
    (_oci(layers="x"), ""),
])
def test_manifest_parse_rejects(body: bytes, ctype: str) -> None:
    with pytest.raises(RegistryError) as e:
        manifests.parse(body, ctype)
    assert e.value.code == "MANIFEST_INVALID"


def test_config_yaml_and_toml(tmp_path) -> None:
    y = tmp_path / "c.yml"
    y.write_text("addr: 0.0.0.0:6000\nstorage: {fsync: false, delete: false}\nuploads: {ttl: 5}\n"
                 "auth: {htpasswd: {path: /x}}\n")
    c = config.load(str(y))
    assert c.host_port == ("0.0.0.0", 6000) and not c.fsync and not c.delete_enabled and c.upload_ttl == 5
    assert c.htpasswd == "/x"
    t = tmp_path / "c.toml"
    t.write_text('read_only = true\n[limits]\nmax_blob_bytes = 10\n[auth.token]\nrealm = "http://r/token"\n'
                 'public_key = "/k.pem"\n')
    c = config.load(str(t))
    assert c.read_only and c.max_blob_bytes == 10 and c.token is not None and c.token.realm == "http://r/token"
    bad = tmp_path / "bad.yml"
    bad.write_text("auth: {token: {service: x}}\n")
    with pytest.raises(ValueError, match="realm"):
        config.load(str(bad))


def test_filesystem_storage_upload_commit_rollback_and_mismatch(tmp_path) -> None:
    s = FilesystemStorage(str(tmp_path), fsync=False)
    data = os.urandom(5000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    uid = s.upload_start("a/b")
    w = s.upload_writer("a/b", uid)
    w.write(data[:2000])
    w.close()
    w = s.upload_writer("a/b", uid)
    w.write(b"garbage")
    w.rollback()             # a chunk that failed leaves nothing
    w.write(data[2000:])
    w.close()
    s._hashers.clear()       # as after a restart: the hash is rebuilt from disk
    assert s.upload_commit("a/b", uid, digest) == 5000
    assert s.blob_linked("a/b", digest) and s.blob_size(digest) == 5000
    assert s.upload_info("a/b", uid) is None
    uid = s.upload_start("a/b")
    w = s.upload_writer("a/b", uid)
    w.write(b"other")
    w.close()
    with pytest.raises(DigestMismatch):
        s.upload_commit("a/b", uid, "sha256:" + "0" * 64)
    assert s.blob_size("sha256:" + "0" * 64) is None and s.upload_info("a/b", uid) is None
    assert [d for d, _ in s.blobs()] == [digest]
    assert s.repositories() == ["a/b"]


def test_filesystem_storage_manifests_tags_referrers(tmp_path) -> None:
    s = FilesystemStorage(str(tmp_path), fsync=False)
    d = s.blob_put(b"{}")
    s.put_manifest("r", d, "application/x")
    s.set_tag("r", "t1", d)
    s.set_tag("r", "t2", d)
    s.add_referrer("r", "sha256:" + "9" * 64, {"digest": d, "mediaType": "application/x", "size": 2})
    assert s.resolve_tag("r", "t1") == d and sorted(s.tags("r")) == ["t1", "t2"]
    assert s.referrers("r", "sha256:" + "9" * 64)[0]["digest"] == d
    assert s.delete_manifest("r", d)
    assert s.tags("r") == [] and s.manifest_media_type("r", d) is None


def test_gc_spares_blobs_of_a_manifest_pushed_during_the_collection(tmp_path) -> None:
    from dockyard.registry.server.gc import collect
    s = FilesystemStorage(str(tmp_path), fsync=False)
    layer = s.blob_put(b"layer")
    config = s.blob_put(b"{}")
    orphan = s.blob_put(b"orphan")
    for d in (layer, config, orphan):
        s.link_blob("r", d)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": manifests.mt.OCI_MANIFEST,
                           "config": {"mediaType": "application/x", "digest": config, "size": 2},
                           "layers": [{"mediaType": "application/x", "digest": layer, "size": 5}]}).encode()
    listing = s.blobs

    def blobs_then_a_push():
        out = list(listing())
        # the push lands after the mark, before the sweep
        s.put_manifest("r", s.blob_put(manifest), manifests.mt.OCI_MANIFEST)
        return iter(out)

    s.blobs = blobs_then_a_push  # type: ignore[method-assign]
    report = collect(s, min_age=0)
    assert [d for d, _ in report.deleted_blobs] == [orphan]
    assert s.blob_size(layer) == 5 and s.blob_size(config) == 2 and s.blob_size(orphan) is None
