"""Real clients against dockyard-registry, with docker-registry alongside as
the reference: skopeo copies images in and out (single-platform OCI and
Docker schema 2, multi-platform indexes), inspects, lists tags and deletes.

dockyard push/pull (the image service's registry client, through dockyardd)
go both ways too. docker push/pull through a real Docker engine are in
test_dockerd_interop.py."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess

import pytest

from _support.registry_server import OCI_INDEX, DockerRegistry, DockyardRegistry, busybox_layout, sha256, write_layout

SKOPEO = shutil.which("skopeo")
pytestmark = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed (tools/setup.sh installs it)")


@pytest.fixture(scope="module", params=["dockyard", "docker-registry"])
def registry(request: pytest.FixtureRequest):
    server = (DockyardRegistry() if request.param == "dockyard" else DockerRegistry()).start()
    try:
        yield server
    finally:
        server.teardown()


def skopeo(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SKOPEO, "--insecure-policy", *args], capture_output=True, text=True, timeout=timeout)


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, res.stderr
    return res.stdout


def layout_blobs(path: str) -> dict[str, bytes]:
    base = os.path.join(path, "blobs", "sha256")
    return {f"sha256:{n}": open(os.path.join(base, n), "rb").read() for n in os.listdir(base)}


def test_skopeo_copy_in_and_out_preserves_the_image(registry, tmp_path) -> None:
    src = busybox_layout(str(tmp_path / "src"))
    ref = f"docker://{registry.host}/clients/busybox:1.0"
    ok(skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'src'}:latest", ref))
    inspect = json.loads(ok(skopeo("inspect", "--tls-verify=false", ref)))
    assert inspect["Digest"] == src["descriptor"]["digest"]
    raw = ok(skopeo("inspect", "--raw", "--tls-verify=false", ref)).encode()
    assert raw == src["manifest"]
    ok(skopeo("copy", "--src-tls-verify=false", ref, f"oci:{tmp_path / 'out'}:x"))
    assert layout_blobs(str(tmp_path / "out")) == layout_blobs(str(tmp_path / "src"))
    tags = json.loads(ok(skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/clients/busybox")))
    assert tags["Tags"] == ["1.0"]


def test_skopeo_docker_schema2_conversion(registry, tmp_path) -> None:
    busybox_layout(str(tmp_path / "src"))
    ref = f"docker://{registry.host}/clients/v2s2:1"
    ok(skopeo("copy", "--format", "v2s2", "--dest-tls-verify=false", f"oci:{tmp_path / 'src'}:latest", ref))
    raw = json.loads(ok(skopeo("inspect", "--raw", "--tls-verify=false", ref)))
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    ok(skopeo("copy", "--src-tls-verify=false", ref, f"docker-archive:{tmp_path / 'out.tar'}:clients/v2s2:1"))
    assert os.path.getsize(tmp_path / "out.tar") > 1000


def test_skopeo_multi_platform_index_with_all(registry, tmp_path) -> None:
    src = tmp_path / "multi"
    images = []
    for arch in ("amd64", "arm64"):
        layer = gzip.compress(os.urandom(2000) + arch.encode(), mtime=0)
        images.append((arch, write_layout(str(tmp_path / arch), [layer], architecture=arch)))
    os.makedirs(src / "blobs" / "sha256")
    for arch, _ in images:
        for name in os.listdir(tmp_path / arch / "blobs" / "sha256"):
            shutil.copy(tmp_path / arch / "blobs" / "sha256" / name, src / "blobs" / "sha256" / name)
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {**img["descriptor"], "annotations": {}, "platform": {"os": "linux", "architecture": arch}}
        for arch, img in images]}).encode()
    (src / "blobs" / "sha256" / sha256(index)[7:]).write_bytes(index)
    (src / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_INDEX, "digest": sha256(index), "size": len(index),
         "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    (src / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    ref = f"docker://{registry.host}/clients/multi:1"
    ok(skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{src}:multi", ref))
    assert ok(skopeo("inspect", "--raw", "--tls-verify=false", ref)).encode() == index
    ok(skopeo("copy", "--all", "--src-tls-verify=false", ref, f"oci:{tmp_path / 'out'}:m"))
    assert layout_blobs(str(tmp_path / "out")) == layout_blobs(str(src))
    arm = json.loads(ok(skopeo("inspect", "--override-arch", "arm64", "--tls-verify=false", ref)))
    assert arm["Architecture"] == "arm64" and arm["Layers"] == images[1][1]["layers"]


def test_skopeo_delete(registry, tmp_path) -> None:
    busybox_layout(str(tmp_path / "src"))
    ref = f"docker://{registry.host}/clients/del:1"
    ok(skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'src'}:latest", ref))
    ok(skopeo("delete", "--tls-verify=false", ref))
    res = skopeo("inspect", "--tls-verify=false", ref)
    assert res.returncode != 0 and "manifest unknown" in res.stderr


def test_skopeo_with_basic_auth(tmp_path) -> None:
    for server in (DockyardRegistry(users={"u": "p"}), DockerRegistry(users={"u": "p"})):
        server.start()
        try:
            import requests
            r = requests.get(f"{server.url}/v2/", timeout=30)
            assert r.status_code == 401 and r.json()["errors"][0]["code"] == "UNAUTHORIZED", server.kind
            assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
            assert requests.get(f"{server.url}/v2/", auth=("u", "wrong"), timeout=30).status_code == 401
            busybox_layout(str(tmp_path / f"src-{server.kind}"))
            ref = f"docker://{server.host}/auth/busybox:1"
            src = f"oci:{tmp_path / f'src-{server.kind}'}:latest"
            res = skopeo("copy", "--dest-tls-verify=false", src, ref)
            assert res.returncode != 0 and "authentication required" in res.stderr.lower(), (server.kind, res.stderr)
            ok(skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "u:p", src, ref))
            ok(skopeo("inspect", "--tls-verify=false", "--creds", "u:p", ref))
        finally:
            server.teardown()


def _dockyard_has(command: str) -> bool:
    from _support.paths import binary
    try:
        res = subprocess.run([binary("dockyard"), command, "--help"], capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return res.returncode == 0


def test_dockyard_push_and_pull(registry, daemon, tmp_path) -> None:
    if not (_dockyard_has("push") and _dockyard_has("pull")):
        pytest.skip("dockyard push/pull are not on main yet (the image service's registry client brings them)")
    ref = f"{registry.host}/clients/busybox:pushed"
    assert daemon.cli("tag", "busybox:latest", ref).returncode == 0
    res = daemon.cli("push", ref, timeout=180)
    assert res.returncode == 0, res.stderr
    raw = json.loads(ok(skopeo("inspect", "--tls-verify=false", f"docker://{ref}")))
    assert raw["Architecture"] and raw["Layers"]
    assert daemon.cli("rmi", ref).returncode == 0
    res = daemon.cli("pull", ref, timeout=180)
    assert res.returncode == 0, res.stderr
    res = daemon.cli("run", "--rm", ref, "echo", "pulled")
    assert res.returncode == 0 and b"pulled" in res.stdout, res.stderr
    # what skopeo pushed comes down through dockyard too
    busybox_layout(str(tmp_path / "src"), tag="sk")
    ok(skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'src'}:sk",
              f"docker://{registry.host}/clients/from-skopeo:1"))
    res = daemon.cli("run", "--rm", f"{registry.host}/clients/from-skopeo:1", "echo", "skopeo-pushed")
    assert res.returncode == 0 and b"skopeo-pushed" in res.stdout, res.stderr
