"""`images`, `history` and the --platform flags against a fake Engine API:
docker's rows per tag and digest, field names and sizes, and the API
version each --platform needs."""

from __future__ import annotations

import json

import pytest

from _support.fakeapi import FakeAPI, Reply, run_cli

IMG = "sha256:" + "1" * 64
OLD = "sha256:" + "2" * 64


@pytest.fixture
def api(api: FakeAPI) -> FakeAPI:
    api.on("GET", "/_ping", Reply(200, b"OK", {"API-Version": "1.50"}))
    return api


run = run_cli


def summary(id_: str, tags: list[str], digests: list[str], size: int = 1982997) -> dict:
    return {"Id": id_, "ParentId": "", "RepoTags": tags, "RepoDigests": digests, "Created": 1_700_000_000,
            "Size": size, "SharedSize": -1, "Labels": {}, "Containers": -1}


def test_rows_per_tag_and_digest(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/images/json", [
        summary(IMG, ["repo:1", "repo:2"], ["repo@sha256:aaa", "other@sha256:bbb"]),
        summary(OLD, ["<none>:<none>"], ["<none>@<none>"], 999_500),
    ])
    fmt = "{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}} {{.Size}} {{.VirtualSize}} {{.SharedSize}} {{.Containers}}"
    rc, out, _ = run(capfd, "images", "--format", fmt)
    assert rc == 0
    # a tagged repository's digests get no row of their own; a repository known only by digest does
    assert out.splitlines() == [
        "repo 1 sha256:aaa 111111111111 1.98MB 1.983MB N/A N/A",
        "repo 2 sha256:aaa 111111111111 1.98MB 1.983MB N/A N/A",
        "other <none>  111111111111 1.98MB 1.983MB N/A N/A",
        "<none> <none> <none> 222222222222 1e+03kB 999.5kB N/A N/A",
    ]
    rc, out, _ = run(capfd, "images", "--digests")
    assert out.splitlines()[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert [line.split()[:3] for line in out.splitlines()[1:]] == [
        ["repo", "1", "sha256:aaa"], ["repo", "2", "sha256:aaa"], ["other", "<none>", "sha256:bbb"],
        ["<none>", "<none>", "<none>"]]
    rc, out, _ = run(capfd, "images", "-q")
    assert out.split() == ["111111111111"] * 3 + ["222222222222"]  # one line per row, as docker


def test_json_rows_escape_html_as_docker(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/images/json", [summary(OLD, [], [])])
    rc, out, _ = run(capfd, "images", "--format", "{{json .}}")
    row = out.strip()
    assert '"Repository":"\\u003cnone\\u003e"' in row and "<" not in row
    assert json.loads(row)["Repository"] == "<none>"
    assert list(json.loads(row)) == sorted(json.loads(row))  # Go marshals a map: keys sorted
    rc, out, _ = run(capfd, "images", "--format", "{{json .Repository}}")
    assert out == '"<none>"\n'  # a plain value is not escaped


@pytest.fixture
def utc():
    import os
    import time
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_history_fields(api: FakeAPI, capfd: pytest.CaptureFixture[str], utc) -> None:
    api.on("GET", "/images/busybox/history", [
        {"Id": IMG, "Created": 1_700_000_000, "CreatedBy": "/bin/sh -c echo\tone two three four five six seven eight",
         "Size": 2048, "Comment": "hi", "Tags": ["busybox:latest"]},
        {"Id": "<missing>", "Created": 1_600_000_000, "CreatedBy": "ADD x", "Size": 0, "Comment": ""}])
    rc, out, _ = run(capfd, "history", "--human=false", "--format", "{{.ID}}|{{.CreatedAt}}|{{.CreatedSince}}|"
                     "{{.CreatedBy}}|{{.Size}}|{{.Comment}}", "busybox")
    assert rc == 0
    assert out.splitlines() == [
        "111111111111|2023-11-14T22:13:20Z|2023-11-14T22:13:20Z|/bin/sh -c echo one two three four five six …"
        "|2048|hi",
        "<missing>|2020-09-13T12:26:40Z|2020-09-13T12:26:40Z|ADD x|0|"]
    rc, out, _ = run(capfd, "history", "busybox")
    assert out.splitlines()[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert "2.05kB" in out.splitlines()[1]
    assert api.find("GET", "/images/busybox/history")[-1].q("platform") is None


@pytest.mark.parametrize("argv,needed", [
    (["history", "--platform", "linux/arm64", "busybox"], "1.48"), (["save", "--platform", "linux", "x"], "1.48"),
    (["load", "--platform", "linux"], "1.48"), (["push", "--platform", "linux", "x"], "1.46"),
    (["rmi", "--platform", "linux", "x"], "1.50"), (["rmi", "--platform", "linux"], "1.50"),
])
def test_platform_needs_its_api_version(api: FakeAPI, capfd: pytest.CaptureFixture[str], monkeypatch,
                                        argv: list[str], needed: str) -> None:
    # This CLI speaks API 1.45 at most: even a newer daemon gets 1.45 (docker negotiates the same way).
    rc, out, err = run(capfd, *argv)
    assert (rc, out) == (1, "")
    assert err == f'"--platform" requires API version {needed}, but the Docker daemon API version is 1.45\n'
    assert [r.path for r in api.requests] == ["/_ping"]
    api.on("GET", "/_ping", Reply(200, b"OK", {"API-Version": "1.44"}))
    assert run(capfd, *argv)[2].endswith("Docker daemon API version is 1.44\n")
    rc, out, err = run(capfd, argv[0], "--help")
    assert "--platform" not in out


def test_platform_sent_as_oci_json_at_newer_api_versions(api: FakeAPI, capfd: pytest.CaptureFixture[str],
                                                          monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DOCKER_API_VERSION", "1.50")
    arm64 = '{"architecture":"arm64","os":"linux"}'
    armv7 = '{"architecture":"arm","os":"linux","variant":"v7"}'
    api.on("GET", "/images/busybox/history", [])
    assert run(capfd, "history", "--platform", "linux/aarch64", "busybox")[0] == 0
    assert api.find("GET", "/images/busybox/history")[-1].query["platform"] == [arm64]
    api.on("DELETE", "/images/x", [{"Untagged": "x:latest"}])
    assert run(capfd, "rmi", "--platform", "linux/arm64,linux/arm", "x")[0] == 0
    assert api.find("DELETE", "/images/x")[-1].query["platforms"] == [arm64, armv7]
    api.on("POST", "/images/x/push", Reply(chunks=[b'{"status":"done"}\n']))
    assert run(capfd, "push", "--platform", "arm64", "x")[0] == 0
    assert api.find("POST", "/images/x/push")[-1].query["platform"] == [arm64]
    api.on("GET", "/images/get", Reply(chunks=[b"tar"]))
    out = tmp_path / "out.tar"
    assert run(capfd, "save", "--platform", "linux/arm64", "-o", str(out), "x")[0] == 0
    assert api.find("GET", "/images/get")[-1].query["platform"] == [arm64] and out.read_bytes() == b"tar"
    api.on("POST", "/images/load", Reply(chunks=[b'{"stream":"Loaded image: x\\n"}\n']))
    src = tmp_path / "in.tar"
    src.write_bytes(b"tar")
    assert run(capfd, "load", "--platform", "linux/arm64", "-i", str(src))[0] == 0
    assert api.find("POST", "/images/load")[-1].query["platform"] == [arm64]
    rc, _, err = run(capfd, "history", "--platform", "a/b/c/d", "busybox")
    assert rc == 1 and err.startswith("invalid platform: ")
    assert "/_ping" not in [r.path for r in api.requests]  # DOCKER_API_VERSION is used as is
