"""Pull and push against the real registry (Debian's docker-registry) and
interop with skopeo; bad input leaves the store exactly as it was."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from _support import images as ti
from _support.daemon import busybox_tar
from _support.images import store_listing
from _support.registry import FaultProxy
from _support.registry_server import DockerRegistry, free_port


SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"


@pytest.fixture(scope="module")
def registry():
    reg = DockerRegistry().start()
    try:
        yield reg
    finally:
        reg.teardown()


@pytest.fixture(scope="module")
def layout_images():
    """A multi-layer image (gzip busybox rootfs, zstd and uncompressed layers
    with a whiteout), plus an arm64 sibling for an index."""
    base = ti.layer(busybox_tar(), "gzip")
    second = ti.layer(ti.tar_bytes([ti.file_entry("hello.txt", b"hello from zstd\n"),
                                    ti.file_entry("etc/gone", b"x")]), "zstd")
    wh = tarfile.TarInfo("etc/.wh.gone")
    wh.mtime = 1700000000
    third = ti.layer(ti.tar_bytes([wh, ti.file_entry("plain.txt", b"uncompressed\n")]), "")
    amd = ti.image([base, second, third], cmd=["cat", "/hello.txt"], labels={"org.test": "yes"})
    arm = ti.image([ti.layer(ti.tar_bytes([ti.file_entry("arch", b"arm64\n")]), "gzip")], arch="arm64",
                   variant="v8")
    return amd, arm


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    res = subprocess.run([SKOPEO, *args], capture_output=True, timeout=120)
    if check and res.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed: {res.stderr.decode()}")
    return res


def skopeo_push_layout(registry: DockerRegistry, top, ref: str, extra=(), fmt: str = "", all_: bool = False) -> None:
    with tempfile.TemporaryDirectory() as d:
        ti.write_oci_layout(d, top, "t", list(extra))
        args = ["copy", "--dest-tls-verify=false"]
        if fmt:
            args += ["--format", fmt]
        if all_:
            args.append("--all")
        skopeo(*args, f"oci:{d}:t", f"docker://{registry.host}/{ref}")


def test_push_then_pull_into_another_daemon_and_run(daemon, registry, fresh_daemon) -> None:
    ref = f"{registry.host}/dockyard/busybox:v1"
    assert daemon.cli("tag", "busybox", ref).returncode == 0
    res = daemon.cli("push", ref)
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode()
    assert "Pushed" in out and "v1: digest: sha256:" in out
    again = daemon.cli("push", ref)
    assert "Layer already exists" in again.stdout.decode()
    # A second repository on the same registry mounts the layer instead of uploading it.
    ref2 = f"{registry.host}/other/busybox:v1"
    daemon.cli("tag", "busybox", ref2, check=True)
    mounted = daemon.cli("push", ref2)
    assert mounted.returncode == 0 and "Mounted from dockyard/busybox" in mounted.stdout.decode(), mounted.stdout

    other = fresh_daemon(busybox=False)
    res = other.cli("pull", ref)
    assert res.returncode == 0, res.stderr
    assert "Downloaded newer image" in res.stdout.decode()
    assert res.stdout.decode().strip().endswith(ref)
    assert other.cli("run", "--rm", ref, "echo", "pulled").stdout == b"pulled\n"
    src, dst = daemon.client().image_inspect(ref), other.client().image_inspect(ref)
    assert src["Id"] == dst["Id"] and dst["RepoDigests"]
    assert "Image is up to date" in other.cli("pull", ref).stdout.decode()


def test_run_pulls_a_missing_image(registry, daemon, fresh_daemon) -> None:
    ref = f"{registry.host}/dockyard/busybox:run"
    daemon.cli("tag", "busybox", ref, check=True)
    assert daemon.cli("push", ref).returncode == 0
    other = fresh_daemon(busybox=False)
    res = other.cli("run", "--rm", ref, "echo", "auto")
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"auto\n"
    assert f"Unable to find image '{ref}' locally" in res.stderr.decode()
    assert "Pull complete" in res.stderr.decode()


def test_skopeo_reads_what_dockyard_pushed(daemon, registry) -> None:
    ref = f"{registry.host}/dockyard/busybox:skopeo"
    daemon.cli("tag", "busybox", ref, check=True)
    assert daemon.cli("push", ref).returncode == 0
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}").stdout)
    local = daemon.client().image_inspect(ref)
    assert info["Layers"] and info["Architecture"] == "amd64"
    with tempfile.TemporaryDirectory() as d:
        skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{d}:x")
        index = json.load(open(os.path.join(d, "index.json")))
        manifest = json.load(open(os.path.join(d, "blobs", "sha256", index["manifests"][0]["digest"][7:])))
        assert manifest["config"]["digest"] == local["Id"]


def test_skopeo_pushed_multiarch_image_is_pulled_and_run(daemon, registry, layout_images) -> None:
    amd, arm = layout_images
    idx = ti.index([amd, arm])
    skopeo_push_layout(registry, idx, "skopeo/multi:1", extra=[amd, arm], all_=True)
    ref = f"{registry.host}/skopeo/multi:1"
    res = daemon.cli("pull", ref)
    assert res.returncode == 0, res.stderr
    img = daemon.client().image_inspect(ref)
    assert img["Id"] == amd.id and img["Architecture"] == "amd64"
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout
    assert img["RepoDigests"] == [f"{registry.host}/skopeo/multi@{ti.digest(raw)}"]
    run = daemon.cli("run", "--rm", ref)
    assert run.stdout == b"hello from zstd\n", run.stderr
    listing = daemon.cli("run", "--rm", ref, "sh", "-c", "cat /plain.txt; ls /etc/gone 2>&1 || true")
    assert b"uncompressed" in listing.stdout and b"No such file" in listing.stdout
    # --platform picks the other entry.
    arm_ref = f"{registry.host}/skopeo/multi:1"
    res = daemon.cli("pull", "--platform", "linux/arm64", arm_ref)
    assert res.returncode == 0, res.stderr
    assert daemon.client().image_inspect(arm_ref)["Id"] == arm.id
    # History and list filters see the image config.
    hist = daemon.client().image_history(amd.id)
    assert [h["CreatedBy"] for h in hist] == ["layer 2", "layer 1", "layer 0"]
    labelled = daemon.client().image_list(filters={"label": ["org.test=yes"]})
    assert [i["Id"] for i in labelled] == [amd.id]
    assert daemon.cli("rmi", amd.id).returncode == 0


def test_docker_v2_manifest_from_skopeo(daemon, registry, layout_images) -> None:
    amd, _ = layout_images
    hello = ti.layer(ti.tar_bytes([ti.file_entry("hello.txt", b"hello from zstd\n")]), "gzip")
    amd = ti.image([amd.layers[0], hello], cmd=["cat", "/hello.txt"])  # docker's format has no zstd
    skopeo_push_layout(registry, amd, "skopeo/v2s2:1", fmt="v2s2")
    ref = f"{registry.host}/skopeo/v2s2:1"
    res = daemon.cli("pull", ref)
    assert res.returncode == 0, res.stderr
    desc = daemon.client().image_inspect(ref)["Descriptor"]
    assert desc["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert daemon.cli("run", "--rm", ref).stdout == b"hello from zstd\n"
    assert daemon.cli("rmi", ref).returncode == 0


def test_basic_auth_login_push_pull_logout(daemon, tmp_path) -> None:
    reg = DockerRegistry(users={"alice": "s3cret"}).start()
    try:
        env = daemon.env()
        env["DOCKER_CONFIG"] = str(tmp_path)
        ref = f"{reg.host}/private/busybox:1"
        daemon.cli("tag", "busybox", ref, check=True)

        def cli(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
            from _support.paths import binary
            return subprocess.run([binary("dockyard"), *args], input=input, capture_output=True, env=env, timeout=60)

        denied = cli("push", ref)
        assert denied.returncode == 1 and b"unauthorized" in denied.stderr.lower()
        bad = cli("login", "-u", "alice", "--password-stdin", reg.host, input=b"wrong\n")
        assert bad.returncode == 1 and b"unauthorized" in bad.stderr
        assert not (tmp_path / "config.json").exists()
        ok = cli("login", "-u", "alice", "--password-stdin", reg.host, input=b"s3cret\n")
        assert ok.returncode == 0 and b"Login Succeeded" in ok.stdout
        cfg = json.load(open(tmp_path / "config.json"))
        assert cfg["auths"][reg.host]["auth"] == "YWxpY2U6czNjcmV0"
        assert oct(os.stat(tmp_path / "config.json").st_mode & 0o777) == "0o600"
        assert cli("push", ref).returncode == 0
        assert cli("rmi", ref).returncode == 0
        assert cli("pull", ref).returncode == 0
        # The real docker CLI reads the same config.json.
        docker = subprocess.run(["/usr/local/bin/docker", "pull", ref], capture_output=True, env=env, timeout=60)
        assert docker.returncode == 0, docker.stderr
        assert b"Removing login credentials" in cli("logout", reg.host).stdout
        assert reg.host not in json.load(open(tmp_path / "config.json")).get("auths", {})
        assert cli("pull", ref).returncode == 1  # logged out: the registry refuses again
    finally:
        daemon.cli("rmi", "-f", f"{reg.host}/private/busybox:1")
        reg.teardown()


# -- bad input -----------------------------------------------------------------------------------


def _push_layout(registry, img, ref) -> None:
    skopeo_push_layout(registry, img, ref)


def test_corrupt_blob_in_registry_is_rejected_and_nothing_kept(daemon, registry) -> None:
    img = ti.image([ti.layer(ti.tar_bytes([ti.file_entry("f", os.urandom(4096))]), "gzip")])
    _push_layout(registry, img, "bad/corrupt:1")
    path = registry.blob_path(img.layers[0].blob.digest)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    before = store_listing(daemon)
    res = daemon.cli("pull", f"{registry.host}/bad/corrupt:1")
    assert res.returncode == 1
    assert b"failed to verify layer" in res.stderr or b"digest" in res.stderr, res.stderr
    assert store_listing(daemon) == before


def test_truncated_download_resumes_or_fails_cleanly(daemon, registry) -> None:
    payload = os.urandom(600_000)
    img = ti.image([ti.layer(ti.tar_bytes([ti.file_entry("big", payload)]), "gzip")])
    _push_layout(registry, img, "bad/truncated:1")
    layer = img.layers[0].blob.digest
    proxy = FaultProxy(registry.host).start()
    try:
        before = store_listing(daemon)
        # Cut once: the pull retries with a Range request and completes.
        proxy.truncate_once.add(layer)
        res = daemon.cli("pull", f"{proxy.host}/bad/truncated:1")
        assert res.returncode == 0, res.stderr
        assert proxy.ranges and proxy.ranges[0].startswith("bytes=") and proxy.ranges[0] != "bytes=0-"
        # Digest and diff ID were verified over the resumed stream.
        assert daemon.client().image_inspect(f"{proxy.host}/bad/truncated:1")["Id"] == img.id
        assert daemon.cli("rmi", f"{proxy.host}/bad/truncated:1").returncode == 0
        assert store_listing(daemon) == before
        # A registry that always serves a short blob: a clear error, nothing committed.
        path = registry.blob_path(layer)
        full = open(path, "rb").read()
        open(path, "wb").write(full[: len(full) // 3])
        try:
            res = daemon.cli("pull", f"{registry.host}/bad/truncated:1", timeout=120)
            assert res.returncode == 1
            assert b"unexpected EOF" in res.stderr, res.stderr
            assert store_listing(daemon) == before
        finally:
            open(path, "wb").write(full)
        # The partial download was kept: the next pull resumes and succeeds.
        res = daemon.cli("pull", f"{registry.host}/bad/truncated:1")
        assert res.returncode == 0, res.stderr
        assert daemon.cli("rmi", f"{registry.host}/bad/truncated:1").returncode == 0
        assert store_listing(daemon) == before
    finally:
        proxy.stop()


def test_unknown_manifest_media_type(daemon, registry) -> None:
    img = ti.image([ti.layer(ti.tar_bytes([ti.file_entry("f", b"x")]), "gzip")])
    _push_layout(registry, img, "bad/mediatype:1")
    proxy = FaultProxy(registry.host).start()
    try:
        proxy.content_types["/manifests/1"] = "application/vnd.example.unknown.v1+json"
        before = store_listing(daemon)
        res = daemon.cli("pull", f"{proxy.host}/bad/mediatype:1")
        assert res.returncode == 1
        assert b"unsupported manifest media type: application/vnd.example.unknown.v1+json" in res.stderr
        assert store_listing(daemon) == before
    finally:
        proxy.stop()


def test_image_for_another_platform(daemon, registry, layout_images) -> None:
    _, arm = layout_images
    skopeo_push_layout(registry, ti.index([arm]), "bad/armonly:1", extra=[arm], all_=True)
    before = store_listing(daemon)
    res = daemon.cli("pull", f"{registry.host}/bad/armonly:1")
    assert res.returncode == 1
    assert b"no matching manifest for linux/amd64 in the manifest list entries" in res.stderr
    _push_layout(registry, arm, "bad/armsingle:1")
    res = daemon.cli("pull", f"{registry.host}/bad/armsingle:1")
    assert res.returncode == 1 and b"does not match the specified platform" in res.stderr
    assert store_listing(daemon) == before


@pytest.mark.parametrize("entries", [
    [("../../escape-{tag}", b"x")],
    [("sym", None, "/tmp"), ("sym/escape-{tag}", b"x")],
    [("hl", "hard", "/etc/passwd")],
], ids=["dotdot", "through-symlink", "hardlink-outside"])
def test_malicious_layer_rejected(daemon, registry, entries) -> None:
    import secrets
    tag = secrets.token_hex(4)
    tis = [ti.file_entry("ok", b"fine")]
    for e in entries:
        name = e[0].format(tag=tag)
        if len(e) == 2:
            tis.append(ti.file_entry(name, e[1]))
        elif e[1] == "hard":
            t = tarfile.TarInfo(name)
            t.type, t.linkname = tarfile.LNKTYPE, e[2]
            tis.append(t)
        else:
            t = tarfile.TarInfo(name)
            t.type, t.linkname = tarfile.SYMTYPE, e[2]
            tis.append(t)
    img = ti.image([ti.layer(ti.tar_bytes(tis), "gzip")])
    ref = f"bad/evil{tag}:1"
    _push_layout(registry, img, ref)
    before = store_listing(daemon)
    res = daemon.cli("pull", f"{registry.host}/{ref}")
    assert res.returncode == 1
    assert b"layer" in res.stderr and (b"escapes" in res.stderr or b"symlink" in res.stderr or b"missing" in res.stderr), \
        res.stderr
    assert store_listing(daemon) == before
    assert not any(tag in n for n in os.listdir("/tmp"))


def test_unknown_repository_and_registry_errors(daemon, registry) -> None:
    res = daemon.cli("pull", f"{registry.host}/nobody/here:1")
    assert res.returncode == 1
    assert b"Error response from daemon:" in res.stderr and b"not found" in res.stderr.lower() or \
        b"does not exist" in res.stderr
    res = daemon.cli("pull", f"127.0.0.1:{free_port()}/x:1")
    assert res.returncode == 1 and b"connection refused" in res.stderr
    res = daemon.cli("push", "nosuchimage:1")
    assert res.returncode == 1 and b"does not exist locally" in res.stderr


def _ingests(d) -> list[str]:
    base = os.path.join(d.data_root, "content", "ingest")
    return sorted(os.listdir(base)) if os.path.isdir(base) else []


@pytest.mark.parametrize("stall_at", [1_500_000, 0], ids=["mid-body", "before-headers"])
def test_pull_is_cancelled_when_the_client_goes_away(daemon, registry, stall_at) -> None:
    """The client disconnects while a layer is mid-transfer (the proxy
    stalls it, in its body or before it answers at all): the daemon stops
    the transfer at once and removes everything the pull added (the layer
    it had committed, blobs, partial downloads)."""
    import time
    small = ti.layer(ti.tar_bytes([ti.file_entry("small.txt", b"small\n")]), "gzip")
    big = ti.layer(ti.tar_bytes([ti.file_entry("big.bin", os.urandom(3_000_000))]), "gzip")
    img = ti.image([small, big])
    _push_layout(registry, img, "cancel/me:1")
    proxy = FaultProxy(registry.host).start()
    try:
        proxy.stall[big.blob.digest] = stall_at  # mid-body: more than one 1 MiB read
        ref = f"{proxy.host}/cancel/me:1"
        before = store_listing(daemon)
        ingests_before = _ingests(daemon)
        from _support.paths import binary
        cli = subprocess.Popen([binary("dockyard"), "pull", ref], env=daemon.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        try:
            assert proxy.stalled.wait(60), "the pull never reached the stalled layer"
            # The small layer is committed by then or soon: there is something to remove.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and small.diff_id not in store_listing(daemon)["snapshots"]:
                time.sleep(0.05)
            assert small.diff_id in store_listing(daemon)["snapshots"]
        finally:
            cli.kill()  # the client goes away, as a killed docker CLI would
            cli.communicate(timeout=30)
        deadline = gone = time.monotonic()
        deadline += 60
        while time.monotonic() < deadline and not (proxy.aborted and store_listing(daemon) == before and
                                                   _ingests(daemon) == ingests_before):
            time.sleep(0.05)
        assert time.monotonic() - gone < 20  # not the registry client's 120 s read timeout
        assert proxy.aborted == [f"/v2/cancel/me/blobs/{big.blob.digest}"]  # the transfer stopped
        assert store_listing(daemon) == before
        assert _ingests(daemon) == ingests_before
        assert daemon.client().image_list(filters={"reference": [ref]}) == []
        # The daemon is fine, and so is a new pull.
        proxy.release.set()
        res = daemon.cli("pull", ref)
        assert res.returncode == 0, res.stderr
        assert daemon.client().image_inspect(ref)["Id"] == img.id
        assert daemon.cli("rmi", ref).returncode == 0
        assert store_listing(daemon) == before
        assert _ingests(daemon) == ingests_before
    finally:
        proxy.stop()


def test_keep_alive_connection_serves_requests_after_a_pull(daemon, registry) -> None:
    """A pull's response watches its connection for the client going away;
    the next request on the same keep-alive connection must still be read."""
    import http.client
    import socket as socketlib
    ref = f"{registry.host}/dockyard/busybox:keepalive"
    daemon.cli("tag", "busybox", ref, check=True)
    try:
        assert daemon.cli("push", ref).returncode == 0

        class UnixConnection(http.client.HTTPConnection):
            def connect(self) -> None:
                self.sock = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
                self.sock.connect(daemon.socket)

        conn = UnixConnection("localhost", timeout=60)
        for _ in range(2):
            conn.request("POST", f"/images/create?fromImage={registry.host}/dockyard/busybox&tag=keepalive")
            resp = conn.getresponse()
            lines = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
            assert resp.status == 200 and "Image is up to date" in lines[-1]["status"], lines
            conn.request("GET", "/_ping")
            ping = conn.getresponse()
            assert ping.status == 200 and ping.read() == b"OK"
        conn.close()
        assert "another coroutine is already waiting" not in daemon.log()
    finally:
        daemon.cli("rmi", ref)


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_push_is_cancelled_when_the_client_goes_away(daemon, registry) -> None:
    """The client disconnects while a big layer is being uploaded (the proxy
    reads its body at a crawl): the daemon cuts the upload at once, deletes
    the upload session, writes no manifest and sends nothing more; its push
    threads end and the store is as it was. A later push completes."""
    import time
    import urllib.request
    small = ti.layer(ti.tar_bytes([ti.file_entry("small.txt", b"small push\n")]), "gzip")
    big = ti.layer(ti.tar_bytes([ti.file_entry("big.bin", os.urandom(12_000_000))]), "gzip")
    img = ti.image([small, big])
    _push_layout(registry, img, "pushsrc/img:1")
    assert daemon.cli("pull", f"{registry.host}/pushsrc/img:1").returncode == 0
    proxy = FaultProxy(registry.host).start()
    try:
        proxy.upload_stall = 1_000_000
        ref = f"{proxy.host}/cancel/push:1"
        assert daemon.cli("tag", f"{registry.host}/pushsrc/img:1", ref).returncode == 0
        before = store_listing(daemon)
        ingests_before = _ingests(daemon)
        pid = daemon.proc.pid
        threads_before = _threads(pid)
        from _support.paths import binary
        cli = subprocess.Popen([binary("dockyard"), "push", ref], env=daemon.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        try:
            assert proxy.upload_stalled.wait(60), "the push never reached the slowed upload"
        finally:
            cli.kill()  # the client goes away, as a killed docker CLI would
            cli.communicate(timeout=30)
        gone = time.monotonic()
        deadline = gone + 60
        while time.monotonic() < deadline and not (proxy.aborted and any(m == "DELETE" for m, _ in proxy.requests)):
            time.sleep(0.05)
        assert time.monotonic() - gone < 20, (proxy.aborted, proxy.requests)  # not the 120 s read timeout
        (upload,) = proxy.aborted
        assert "/v2/cancel/push/blobs/uploads/" in upload
        session = upload.split("?", 1)[0]
        # The session of the cut upload is deleted (and those of any other blob in flight then).
        deletes = [p.split("?", 1)[0] for m, p in proxy.requests if m == "DELETE"]
        assert session in deletes and all("/v2/cancel/push/blobs/uploads/" in p for p in deletes)
        # Its threads end; nothing more reaches the registry, no manifest was written.
        while time.monotonic() < deadline and _threads(pid) > threads_before:
            time.sleep(0.05)
        assert _threads(pid) <= threads_before
        seen = len(proxy.requests)
        time.sleep(1)
        assert len(proxy.requests) == seen, proxy.requests[seen:]
        assert not any(m == "PUT" and "/manifests/" in p for m, p in proxy.requests)
        for path in (f"/v2/cancel/push/manifests/1", f"/v2/cancel/push/blobs/{big.blob.digest}"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(urllib.request.Request(f"http://{registry.host}{path}", method="HEAD"))
            assert e.value.code == 404
        for path in deletes:  # the sessions are gone from the registry
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(urllib.request.Request(f"http://{registry.host}{path}"))
            assert e.value.code == 404
        assert store_listing(daemon) == before
        assert _ingests(daemon) == ingests_before
        # The daemon is fine, and so is a new push.
        proxy.release.set()
        res = daemon.cli("push", ref)
        assert res.returncode == 0, res.stderr
        assert b"1: digest: sha256:" in res.stdout
    finally:
        proxy.stop()
        daemon.cli("rmi", f"{proxy.host}/cancel/push:1", f"{registry.host}/pushsrc/img:1")
