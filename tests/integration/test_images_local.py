"""Local image management: rmi/untag semantics and conflicts with
containers, prune freeing exactly what is unused, history, save/load in
docker's formats and OCI layouts, import."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile

from _support import images as ti
from _support.daemon import busybox_tar
from _support.paths import binary


def blobs(d) -> set[str]:
    return set(os.listdir(os.path.join(d.data_root, "content", "blobs", "sha256")))


def snapshots(d) -> set[str]:
    try:
        return set(json.load(open(os.path.join(d.data_root, "overlay", "metadata.json")))["snapshots"])
    except FileNotFoundError:
        return set()


def _new_image(d, name: str, content: bytes) -> str:
    """A one-layer image of its own (import of a tiny rootfs)."""
    raw = ti.tar_bytes([ti.file_entry("data", content)])
    msgs = list(d.client().image_import(iter([raw]), name.rsplit(":", 1)[0], name.rsplit(":", 1)[1]))
    return msgs[-1]["status"]


def test_rmi_untags_then_deletes_and_frees_exactly_its_blobs(daemon) -> None:
    before_blobs, before_snaps = blobs(daemon), snapshots(daemon)
    iid = _new_image(daemon, "mine:1", b"one")
    assert daemon.cli("tag", "mine:1", "mine:2").returncode == 0
    assert daemon.cli("tag", "mine:1", "elsewhere/mine:1").returncode == 0
    assert len(blobs(daemon)) == len(before_blobs) + 3  # layer, config, manifest
    # By ID with tags in two repositories: must be forced.
    res = daemon.cli("rmi", iid[7:19])
    assert res.returncode == 1 and b"must be forced" in res.stderr and b"multiple repositories" in res.stderr
    # By name: untag only while other references remain.
    res = daemon.cli("rmi", "mine:2")
    assert res.stdout == b"Untagged: mine:2\n"
    assert daemon.cli("rmi", "elsewhere/mine:1").stdout == b"Untagged: elsewhere/mine:1\n"
    res = daemon.cli("rmi", "mine:1")
    lines = res.stdout.decode().splitlines()
    assert lines[0] == "Untagged: mine:1" and f"Deleted: {iid}" in lines
    assert blobs(daemon) == before_blobs and snapshots(daemon) == before_snaps
    res = daemon.cli("rmi", "mine:1")
    assert res.returncode == 1 and b"No such image: mine:1" in res.stderr


def _busybox_variant(d, name: str, env: str) -> str:
    """Another image over busybox's layer (its own config, shared layer)."""
    msgs = list(d.client().image_import(iter([busybox_tar()]), name.rsplit(":", 1)[0], name.rsplit(":", 1)[1],
                                        [f"ENV {env}", 'CMD ["sh"]']))
    return msgs[-1]["status"]


def test_rmi_conflicts_with_containers(daemon) -> None:
    before_blobs = blobs(daemon)
    iid = _busybox_variant(daemon, "used:1", "USED=1")
    cid = daemon.cli("create", "used:1", "true").stdout.decode().strip()
    assert cid
    res = daemon.cli("rmi", "used:1")
    assert res.returncode == 1 and b"must force" in res.stderr and cid[:12].encode() in res.stderr
    res = daemon.cli("rmi", iid[7:19])
    assert res.returncode == 1 and b"stopped container" in res.stderr
    # Forced: the image goes, the container keeps its layers and still starts.
    res = daemon.cli("rmi", "-f", "used:1")
    assert res.returncode == 0, res.stderr
    assert daemon.cli("start", cid).returncode == 0
    assert daemon.cli("wait", cid).stdout.strip() == b"0"
    assert iid.encode() not in daemon.cli("images", "-q", "--no-trunc").stdout
    assert daemon.cli("rm", cid).returncode == 0
    # Now nothing holds the image's config any more: a prune frees it.
    daemon.cli("image", "prune", "-f", check=True)
    assert blobs(daemon) == before_blobs


def test_rmi_refuses_image_of_running_container(daemon) -> None:
    _busybox_variant(daemon, "running-img:1", "RUNNING=1")
    cid = daemon.cli("run", "-d", "running-img:1", "sleep", "60").stdout.decode().strip()
    try:
        res = daemon.cli("rmi", "-f", daemon.client().image_inspect("running-img:1")["Id"])
        assert res.returncode == 1 and b"cannot be forced" in res.stderr and b"running container" in res.stderr
    finally:
        daemon.cli("rm", "-f", cid)
        daemon.cli("rmi", "running-img:1")


def test_prune_dangling_and_all(daemon) -> None:
    before_blobs, before_snaps = blobs(daemon), snapshots(daemon)
    old = _new_image(daemon, "prunable:1", b"first")
    new = _new_image(daemon, "prunable:1", b"second")  # the tag moves: the first becomes dangling
    dangling = daemon.client().image_list(filters={"dangling": ["true"]})
    assert [i["Id"] for i in dangling] == [old]
    assert dangling[0]["RepoTags"] == ["<none>:<none>"]
    res = daemon.cli("image", "prune", "-f")
    assert res.returncode == 0 and f"deleted: {old}" in res.stdout.decode()
    assert "Total reclaimed space:" in res.stdout.decode()
    assert daemon.client().image_inspect("prunable:1")["Id"] == new
    res = daemon.cli("image", "prune", "-a", "-f", "--filter", "label=nothing-has-this")
    assert daemon.client().image_inspect("prunable:1")["Id"] == new
    daemon.cli("rmi", "prunable:1", check=True)
    assert blobs(daemon) == before_blobs and snapshots(daemon) == before_snaps


def test_history_inspect_and_list_filters(daemon) -> None:
    res = daemon.cli("history", "busybox")
    assert res.returncode == 0 and "Imported from -" in res.stdout.decode()
    info = daemon.client().image_inspect("busybox")
    assert info["RootFS"]["Layers"] and info["Size"] > 1_000_000
    assert info["Config"]["Cmd"] == ["sh"]
    out = daemon.cli("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "busybox").stdout
    assert out == b"linux/amd64\n"
    assert [i["RepoTags"] for i in daemon.client().image_list(filters={"reference": ["busy*"]})] == [["busybox:latest"]]
    assert daemon.client().image_list(filters={"reference": ["nothing*"]}) == []


def test_save_and_load_roundtrip_into_another_daemon(daemon, fresh_daemon, tmp_path) -> None:
    daemon.cli("tag", "busybox", "saved:1", check=True)
    path = tmp_path / "out.tar"
    res = daemon.cli("save", "-o", str(path), "saved:1", "busybox")
    assert res.returncode == 0, res.stderr
    with tarfile.open(path) as tf:
        names = set(tf.getnames())
        manifest = json.load(tf.extractfile("manifest.json"))
        index = json.load(tf.extractfile("index.json"))
    assert {"oci-layout", "index.json", "manifest.json"} <= names
    assert sorted(manifest[0]["RepoTags"]) == ["busybox:latest", "saved:1"]
    assert len(index["manifests"]) == 2
    other = fresh_daemon(busybox=False)
    res = other.cli("load", "-i", str(path))
    assert res.returncode == 0, res.stderr
    assert b"Loaded image: saved:1" in res.stdout and b"Loaded image: busybox:latest" in res.stdout
    a, b = daemon.client().image_inspect("saved:1"), other.client().image_inspect("saved:1")
    assert a["Id"] == b["Id"] and a["Descriptor"]["digest"] == b["Descriptor"]["digest"]
    assert other.cli("run", "--rm", "saved:1", "echo", "loaded").stdout == b"loaded\n"
    # The real docker CLI loads through the same API (from stdin).
    data = path.read_bytes()
    docker = other.docker("load", input=data)
    assert docker.returncode == 0 and b"Loaded image" in docker.stdout, docker.stderr
    daemon.cli("rmi", "saved:1", check=True)


def test_load_classic_docker_archive_and_oci_layout(fresh_daemon, tmp_path) -> None:
    d = fresh_daemon(busybox=False)
    img = ti.image([ti.layer(busybox_tar(), "gzip"),
                    ti.layer(ti.tar_bytes([ti.file_entry("hello.txt", b"classic\n")]), "zstd")],
                   cmd=["cat", "/hello.txt"])
    res = d.cli("load", input=ti.docker_classic_archive(img, ["classic:1"]))
    assert res.returncode == 0 and b"Loaded image: classic:1" in res.stdout, res.stderr
    assert d.client().image_inspect("classic:1")["Id"] == img.id
    assert d.cli("run", "--rm", "classic:1").stdout == b"classic\n"
    # A bare OCI layout, tarred and gzipped, named by the containerd annotation.
    layout = tmp_path / "layout"
    ti.write_oci_layout(str(layout), img, "latest")
    idx = json.load(open(layout / "index.json"))
    idx["manifests"][0]["annotations"]["io.containerd.image.name"] = "docker.io/library/oci-layout:7"
    json.dump(idx, open(layout / "index.json", "w"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(str(layout), arcname=".")
    res = d.cli("load", input=buf.getvalue())
    assert res.returncode == 0 and b"Loaded image: oci-layout:7" in res.stdout, res.stderr
    assert d.client().image_inspect("oci-layout:7")["Descriptor"]["digest"] == img.manifest.digest


def test_load_bad_archives_leave_store_unchanged(fresh_daemon) -> None:
    d = fresh_daemon(busybox=False)
    before = (blobs(d), snapshots(d))
    img = ti.image([ti.layer(ti.tar_bytes([ti.file_entry("f", b"data")]), "gzip")])
    # A blob whose content does not match its name.
    with tempfile.TemporaryDirectory() as lay:
        ti.write_oci_layout(lay, img, "x")
        layer_path = os.path.join(lay, "blobs", "sha256", img.layers[0].blob.digest[7:])
        open(layer_path, "wb").write(b"tampered" * 100)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            tf.add(lay, arcname=".")
    res = d.cli("load", input=buf.getvalue())
    assert res.returncode == 1 and b"does not match its digest" in res.stderr or b"digest" in res.stderr, res.stderr
    # A manifest.json naming a layer that is not in the archive.
    bad = ti.tar_bytes([ti.file_entry("cfg.json", img.config.data),
                        ti.file_entry("manifest.json", json.dumps(
                            [{"Config": "cfg.json", "RepoTags": ["x:1"], "Layers": ["nope/layer.tar"]}]).encode())])
    res = d.cli("load", input=bad)
    assert res.returncode == 1 and b"missing" in res.stderr
    # A hostile layer.
    evil = ti.image([ti.layer(ti.tar_bytes([ti.file_entry("../../evil-load", b"x")]), "")])
    res = d.cli("load", input=ti.docker_classic_archive(evil, ["evil:1"]))
    assert res.returncode == 1 and b"escapes" in res.stderr
    # Not a tar at all.
    res = d.cli("load", input=b"this is not an archive")
    assert res.returncode == 1 and b"invalid archive" in res.stderr
    assert (blobs(d), snapshots(d)) == before
    assert d.client().image_list() == []


def test_import_from_file_with_changes(daemon, tmp_path) -> None:
    path = tmp_path / "rootfs.tar"
    path.write_bytes(busybox_tar())
    res = daemon.cli("import", "-c", "ENV FOO=bar", "-c", 'CMD ["sh", "-c", "echo $FOO"]', "-m", "note",
                     str(path), "imported:1")
    assert res.returncode == 0 and res.stdout.startswith(b"sha256:"), res.stderr
    assert daemon.cli("run", "--rm", "imported:1").stdout == b"bar\n"
    hist = daemon.client().image_history("imported:1")
    assert hist[0]["Comment"] == "note"
    daemon.cli("rmi", "imported:1", check=True)
    res = daemon.cli("import", "/nonexistent.tar")
    assert res.returncode == 1


def test_docker_sdk_image_calls(daemon) -> None:
    client = daemon.docker_sdk()
    img = client.images.get("busybox")
    assert "busybox:latest" in img.tags
    img.tag("sdk-tagged", "v1")
    assert client.images.get("sdk-tagged:v1").id == img.id
    client.images.remove("sdk-tagged:v1")
    data = b"".join(client.api.get_image("busybox"))
    assert data[257:262] == b"ustar"
    hist = client.api.history("busybox")
    assert hist[0]["Id"] == img.id
    result = client.images.prune(filters={"dangling": True})
    assert "SpaceReclaimed" in result
    _ = subprocess, binary
