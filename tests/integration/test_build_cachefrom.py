"""--cache-from (POST /build?cachefrom=[...]): an image that was not built
here (saved, everything removed, loaded back, as if from another machine)
is a cache source; without it the same build runs every step again."""

from __future__ import annotations

import json
import os
import subprocess

from _support.build import build, image_files, leftovers

DOCKERFILE = """\
FROM busybox
ENV A=1
WORKDIR /app
COPY f.txt .
RUN echo "built $(cat /proc/sys/kernel/random/uuid)" > /app/stamp
LABEL x=y
CMD ["cat", "/app/stamp"]
"""


def ok(res):
    assert res.status == 200 and not res.error, f"build failed: {res.error}\n{res.text}"
    return res


def cache_records(daemon) -> list[str]:
    d = os.path.join(daemon.data_root, "builder", "cache")
    return [n for n in os.listdir(d) if n.endswith(".json") and not n.startswith("mount-")]


def test_loaded_image_is_a_cache_source(daemon, tmp_path) -> None:
    files = {"Dockerfile": DOCKERFILE, "f.txt": "one\n"}
    first = ok(build(daemon, files, t="cf:1"))
    stamp = image_files(daemon, "cf:1")["app/stamp"]
    saved = tmp_path / "cf.tar"
    assert daemon.cli("save", "-o", str(saved), "cf:1").returncode == 0
    # Remove everything the build made: the image, its layers, the build cache.
    assert daemon.cli("rmi", "cf:1").returncode == 0
    assert daemon.cli("builder", "prune", "-a", "-f").returncode == 0
    assert cache_records(daemon) == []
    assert daemon.cli("image", "inspect", first.image_id).returncode != 0
    load = daemon.cli("load", "-i", str(saved))
    assert load.returncode == 0, load.stderr.decode()
    assert daemon.client().image_inspect("cf:1")["Id"] == first.image_id

    hit = ok(build(daemon, files, t="cf:2", cachefrom=json.dumps(["cf:1", "no-such-image:x"])))
    assert hit.cached_steps == 6 and hit.runs == 0, hit.text
    assert hit.image_id == first.image_id  # every step taken from the source: the same image
    assert image_files(daemon, "cf:2")["app/stamp"] == stamp

    # A changed file: the steps before the COPY come from the source, the rest are made.
    part = ok(build(daemon, {**files, "f.txt": "two\n"}, cachefrom=json.dumps(["cf:1"])))
    assert part.cached_steps == 2 and part.runs == 1, part.text
    cfg_src = daemon.client().image_inspect("cf:1")
    cfg_new = daemon.client().image_inspect(part.image_id)
    assert cfg_new["RootFS"]["Layers"][:-2] == cfg_src["RootFS"]["Layers"][:-2]  # busybox's and WORKDIR's
    assert image_files(daemon, part.image_id)["app/f.txt"] == b"two\n"

    # Without --cache-from a loaded image is no cache: every step runs again.
    assert cache_records(daemon) != []  # what the partial build made is cache, but not for these steps
    again = ok(build(daemon, files))
    assert again.cached_steps == 0 and again.runs == 1, again.text
    assert again.image_id != first.image_id
    assert image_files(daemon, again.image_id)["app/stamp"] != stamp
    assert ok(build(daemon, files)).cached_steps == 6  # now the local cache has them
    # As dockerd: with --cache-from, a local hit counts only on the way to one of its
    # images; names that find nothing leave no cache at all.
    for sources in (["busybox"], ["no-such-image:x"]):
        unrelated = ok(build(daemon, files, cachefrom=json.dumps(sources)))
        assert unrelated.cached_steps == 0 and unrelated.runs == 1, (sources, unrelated.text)
    assert leftovers(daemon) == []


def test_cache_from_through_docker_cli_and_sdk(daemon, tmp_path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "f.txt").write_text("cli\n")
    env = daemon.env()
    env["DOCKER_BUILDKIT"] = "0"
    docker = ["/usr/local/bin/docker"]
    first = subprocess.run(docker + ["build", "-q", "-t", "cfcli:1", str(ctx)], env=env, capture_output=True,
                           timeout=180)
    assert first.returncode == 0, first.stderr.decode()
    image_id = first.stdout.decode().strip()
    saved = tmp_path / "cfcli.tar"
    assert subprocess.run(docker + ["save", "-o", str(saved), "cfcli:1"], env=env, timeout=60).returncode == 0
    assert daemon.cli("rmi", "cfcli:1").returncode == 0
    assert daemon.cli("builder", "prune", "-a", "-f").returncode == 0
    assert subprocess.run(docker + ["load", "-q", "-i", str(saved)], env=env, capture_output=True,
                          timeout=60).returncode == 0
    res = subprocess.run(docker + ["build", "--cache-from", "cfcli:1", str(ctx)], env=env, capture_output=True,
                         timeout=180)
    out = res.stdout.decode()
    assert res.returncode == 0 and out.count("Using cache") == 6 and f"Successfully built {image_id[7:19]}" in out, \
        res.stderr.decode() + out
    img, _ = daemon.docker_sdk().images.build(path=str(ctx), cache_from=["cfcli:1"])
    assert img.id == image_id
    cli = daemon.cli("build", "--cache-from", "cfcli:1", str(ctx))
    assert cli.returncode == 0 and f"Successfully built {image_id[7:19]}" in cli.stdout.decode(), cli.stdout.decode()


def test_bad_cachefrom(daemon) -> None:
    res = build(daemon, {"Dockerfile": "FROM busybox\n"}, cachefrom='{"a": 1}')
    assert res.status == 400 and "cachefrom" in res.error
