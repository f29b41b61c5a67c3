"""Pure parts of images and distribution: auth challenges, platforms,
docker's config.json, the image store model and mark-and-sweep gc (on a
plain directory; layers unpack without root into non-overlay dirs)."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tarfile

import pytest

from dockyard import errdefs
from dockyard.core.archive import Inflater
from dockyard.core.content import ContentStore
from dockyard.core.images import ImageService, ImageStore
from dockyard.core.snapshots import OverlaySnapshotter
from dockyard.oci import platform
from dockyard.registry.client import decode_registry_auth, encode_registry_auth
from dockyard.registry.client import dockerconfig
from dockyard.registry.client.auth import parse_challenges


def test_parse_challenges() -> None:
    got = parse_challenges('Bearer realm="https://auth.example/token",service="registry.example",'
                           'scope="repository:a/b:pull" , Basic realm="x"')
    assert got[0] == ("bearer", {"realm": "https://auth.example/token", "service": "registry.example",
                                 "scope": "repository:a/b:pull"})
    assert got[1] == ("basic", {"realm": "x"})


def test_registry_auth_header_roundtrip() -> None:
    hdr = encode_registry_auth({"username": "u", "password": "p", "serveraddress": "r"})
    cfg = decode_registry_auth(hdr)
    assert cfg is not None and (cfg.username, cfg.password, cfg.server_address) == ("u", "p", "r")
    assert decode_registry_auth("not base64 json") is None
    assert decode_registry_auth(encode_registry_auth({})) is None


def test_platform_selection() -> None:
    amd = {"digest": "a", "platform": {"os": "linux", "architecture": "amd64"}}
    arm = {"digest": "b", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
    att = {"digest": "c", "platform": {"os": "unknown", "architecture": "unknown"},
           "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}
    assert platform.select(platform.parse("linux/amd64"), [att, arm, amd])["digest"] == "a"
    assert platform.select(platform.parse("linux/aarch64"), [amd, arm])["digest"] == "b"
    assert platform.select(platform.parse("linux/s390x"), [amd, arm]) is None
    with pytest.raises(errdefs.InvalidArgument):
        platform.parse("linux//x")


def test_dockerconfig_store_and_erase(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"psFormat": "table {{.ID}}"}))
    assert dockerconfig.store_credentials("https://index.docker.io/v1/", "u", "p") == dockerconfig.DOCKER_HUB_KEY
    dockerconfig.store_credentials("localhost:5000", "a", "b")
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["psFormat"] == "table {{.ID}}"
    assert data["auths"]["localhost:5000"]["auth"] == base64.b64encode(b"a:b").decode()
    assert dockerconfig.get_credentials("docker.io")["username"] == "u"
    assert dockerconfig.erase_credentials("localhost:5000")
    assert dockerconfig.get_credentials("localhost:5000") is None
    assert not dockerconfig.erase_credentials("localhost:5000")


def test_inflater_multi_member_and_truncation() -> None:
    data = gzip.compress(b"a" * 100000) + gzip.compress(b"b" * 10)
    assert io.BufferedReader(Inflater(io.BytesIO(data))).read() == b"a" * 100000 + b"b" * 10
    with pytest.raises(EOFError):
        io.BufferedReader(Inflater(io.BytesIO(data[:30]))).read()
    bad = bytearray(gzip.compress(os.urandom(5000)))
    bad[-6] ^= 0xFF  # CRC
    with pytest.raises(Exception):
        io.BufferedReader(Inflater(io.BytesIO(bytes(bad)))).read()


def _service(tmp_path) -> ImageService:
    return ImageService(ContentStore(str(tmp_path / "content")), OverlaySnapshotter(str(tmp_path / "overlay")),
                        ImageStore(str(tmp_path / "image")))


def _rootfs(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_untag_delete_and_gc_free_exactly_what_is_unused(tmp_path) -> None:
    svc = _service(tmp_path)
    shared = svc.import_rootfs(io.BytesIO(_rootfs({"a": b"1"})), ["one:1"], same_owner_safe_config())
    svc.tag(shared, "two:1")
    other = svc.import_rootfs(io.BytesIO(_rootfs({"b": b"2"})), ["other:1"], same_owner_safe_config())
    blobs_all = {i.digest for i in svc.content.walk()}
    assert len(blobs_all) == 6
    assert svc.untag("docker.io/library/one:1") == shared.id
    assert not svc.resolve("two:1").dangling
    svc.untag("docker.io/library/two:1")
    assert svc.get(shared.id).dangling
    names, freed = svc.delete(shared.id)
    assert names == [] and len(freed.blobs) == 3 and freed.snapshots == [shared.chain_id]
    assert {i.digest for i in svc.content.walk()} == blobs_all - set(freed.blobs)
    assert svc.resolve("other:1").id == other.id
    with pytest.raises(errdefs.NotFound):
        svc.resolve(shared.id)
    # A lease protects content that no image references yet.
    with svc.lease() as lease:
        info = svc.content.write_blob(b"in flight")
        lease.add(info.digest)
        assert svc.gc().blobs == []
    assert svc.gc().blobs == [info.digest]


def test_store_migrates_dangling_names(tmp_path) -> None:
    svc = _service(tmp_path)
    img = svc.import_rootfs(io.BytesIO(_rootfs({"a": b"1"})), [], same_owner_safe_config())
    old = {"dangling@" + img.id: {"target": {"mediaType": img.media_type, "digest": img.manifest_digest,
                                              "size": 1}},
           "docker.io/library/x:1": {"target": {"mediaType": img.media_type, "digest": img.manifest_digest,
                                                "size": 1}}}
    (tmp_path / "image" / "images.json").write_text(json.dumps(old))
    svc2 = _service(tmp_path)
    assert svc2.resolve("x:1").id == img.id
    assert svc2.get(img.id).names == ["docker.io/library/x:1"]


def same_owner_safe_config() -> dict:
    return {"Cmd": ["sh"]}


def test_layer_reader_hashes_everything_and_only_seeks_forward() -> None:
    import hashlib
    import tarfile as tarmod

    from dockyard.core.archive import LayerReader, layer_reader
    data = bytes(range(256)) * 40000
    chunks = iter([data[i:i + 300_000] for i in range(0, len(data), 300_000)] + [b""])
    r = LayerReader(lambda: next(chunks))
    assert r.read(10) == data[:10]
    assert b"".join(bytes(p) for p in r.pieces(1_000_000)) == data[10:1_000_010]
    r.seek(2_000_000)
    assert r.tell() == 2_000_000 and r.read(5) == data[2_000_000:2_000_005]
    with pytest.raises(tarmod.ReadError):
        r.seek(5)
    r.drain()
    assert r.digest == "sha256:" + hashlib.sha256(data).hexdigest() and r.size == len(data)
    # gzip through ISA-L: concatenated members, damaged data is an OSError (a layer error)
    gz = layer_reader(io.BytesIO(gzip.compress(b"x" * 5000) + gzip.compress(b"y")), "gzip")
    assert gz.read(-1) == b"x" * 5000 + b"y"
    bad = bytearray(gzip.compress(os.urandom(5000)))
    bad[20:40] = b"\0" * 20
    with pytest.raises(OSError):
        layer_reader(io.BytesIO(bytes(bad)), "gzip").drain()


def test_credential_helper_selection_and_identity_tokens(tmp_path, monkeypatch) -> None:
    from dockyard.registry.client import dockerconfig
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "secrets.json"
    helper = bindir / "docker-credential-fake"
    helper.write_text(f"""#!/bin/sh
case "$1" in
  store) cat > {store} ;;
  get) cat {store} ;;
  erase) rm -f {store} ;;
esac
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "nope", "credHelpers": {"reg.example": "fake"}}))
    assert dockerconfig.helper_for("https://reg.example/v2/") == "fake"
    assert dockerconfig.helper_for("docker.io") == "nope"
    dockerconfig.store_credentials("reg.example", "u", "", identity_token="refresh-me")
    assert json.loads(store.read_text()) == {"ServerURL": "reg.example", "Username": "<token>", "Secret": "refresh-me"}
    assert dockerconfig.get_credentials("reg.example") == {"serveraddress": "reg.example", "identitytoken": "refresh-me"}
    assert json.loads((tmp_path / "config.json").read_text())["auths"] == {"reg.example": {}}
    assert dockerconfig.erase_credentials("reg.example") and not store.exists()
    with pytest.raises(dockerconfig.HelperError, match='exec: "docker-credential-nope": executable file not found'):
        dockerconfig.get_credentials("docker.io")


def test_cancel_hooks_and_feed() -> None:
    import threading

    from dockyard.core.distribution import Cancel, Cancelled, _Feed
    cancel = Cancel()
    fired: list[str] = []
    remove = cancel.hook(lambda: fired.append("a"))
    cancel.hook(lambda: fired.append("b"))
    remove()
    feed = _Feed(cancel, depth=2)
    feed.put(b"x" * 10)
    feed.put(b"y" * 10)
    assert feed.read(4) == b"xxxx" and feed.read(100) == b"xxxxxx" and feed.read(100) == b"y" * 10
    # A producer blocked on a full queue stops when the consumer goes away.
    feed.put(b"1")
    feed.put(b"2")
    blocked: list[BaseException] = []

    def produce() -> None:
        try:
            feed.put(b"3")
        except BaseException as e:
            blocked.append(e)
    t = threading.Thread(target=produce)
    t.start()
    feed.close()
    t.join(10)
    assert not t.is_alive()
    # Cancelling wakes a consumer waiting for data; hooks run once, removed ones not at all.
    other = _Feed(cancel)
    waiter: list[BaseException] = []

    def consume() -> None:
        try:
            other.read(10)
        except BaseException as e:
            waiter.append(e)
    t = threading.Thread(target=consume)
    t.start()
    cancel.set()
    t.join(10)
    assert isinstance(waiter[0], Cancelled) and fired == ["b"]
    late: list[str] = []
    cancel.hook(lambda: late.append("now"))
    assert late == ["now"]
    # Closing the feed aborts what the producer is blocked reading.
    aborted: list[bool] = []
    f3 = _Feed(Cancel())
    f3.set_abort(lambda: aborted.append(True))
    f3.close()
    assert aborted == [True] and f3.closed
    # What the producer raised reaches the consumer.
    err = _Feed(Cancel())
    err.finish(ValueError("broken"))
    with pytest.raises(ValueError, match="broken"):
        err.read(1)
