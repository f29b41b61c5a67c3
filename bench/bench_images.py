#!/usr/bin/env python3
"""Images: pull and push of a ~100 MB multi-layer image through Debian's
docker-registry on loopback, next to skopeo; layer unpack throughput next
to `tar -xzf`; save/load next to skopeo's docker-archive transport.

Side by side in one run (medians of --runs):
- pull: `dockyard pull` (download, verify, unpack into snapshots, record)
  vs `skopeo copy docker://… dir:` (download and verify only: skopeo does
  not unpack, so it does strictly less work);
- push: `dockyard push` vs `skopeo copy dir: docker://…`, each into a fresh
  registry so every blob is uploaded;
- unpack: one ~50 MB gzip layer applied by the core (archive.apply_layer)
  vs `tar -xzf` of the same blob;
- save/load: `dockyard save`/`load` vs skopeo copy between dir: and
  docker-archive:.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import tempfile
import time

from _common import BIN, report, run_ok, summary


def _layer_tar(seed: int, size: int) -> bytes:
    """Files that compress like real software: some random, some text."""
    from _support import images as ti
    rnd = random.Random(seed)
    entries = []
    total = 0
    words = [rnd.randbytes(rnd.randint(3, 9)).hex() for _ in range(5000)]
    i = 0
    while total < size:
        n = rnd.choice([4_000, 40_000, 400_000, 2_000_000])
        if i % 3 == 0:
            data = rnd.randbytes(n)
        else:
            data = " ".join(rnd.choice(words) for _ in range(n // 8)).encode()[:n]
        entries.append(ti.file_entry(f"d{seed}/{i % 17}/f{i}", data))
        total += len(data)
        i += 1
    return ti.tar_bytes(entries)


def build_image():
    from _support import images as ti
    from _support.daemon import busybox_tar
    layers = [ti.layer(busybox_tar(), "gzip")]
    for seed, size in ((1, 65_000_000), (2, 45_000_000), (3, 30_000_000), (4, 12_000_000)):
        layers.append(ti.layer(_layer_tar(seed, size), "gzip"))
    return ti.image(layers, cmd=["true"])


def timed(fn, runs: int, before=None) -> list[float]:
    out = []
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    from _support import images as ti
    from _support.daemon import TestDaemon
    from _support.registry import TestRegistry

    skopeo = shutil.which("skopeo")
    img = build_image()
    total = sum(len(x.blob.data) for x in img.layers)
    unpacked = sum(0 for _ in ())
    notes = [f"image: {len(img.layers)} gzip layers, {total / 1e6:.1f} MB compressed"]
    rows = []
    tmp = tempfile.mkdtemp(prefix="dybench-img")
    reg = TestRegistry().start()
    d = TestDaemon().start()
    dy = os.path.join(BIN, "dockyard")
    env = d.env()
    try:
        layout = os.path.join(tmp, "layout")
        ti.write_oci_layout(layout, img, "bench")
        ref = f"{reg.host}/bench/image:1"
        run_ok([skopeo, "copy", "--dest-tls-verify=false", f"oci:{layout}:bench", f"docker://{ref}"])

        # -- pull ------------------------------------------------------------------------
        def clean_local() -> None:
            subprocess.run([dy, "rmi", ref], env=env, capture_output=True)
            subprocess.run([dy, "image", "prune", "-af"], env=env, capture_output=True)

        pull = timed(lambda: run_ok([dy, "pull", "-q", ref], env=env), a.runs, clean_local)
        rows.append(("dockyard pull (download+unpack)", summary(pull)))
        if skopeo:
            dirs = iter(range(1000))

            def skopeo_pull() -> None:
                dest = os.path.join(tmp, f"pulled{next(dirs)}")
                run_ok([skopeo, "copy", "--src-tls-verify=false", f"docker://{ref}", f"dir:{dest}"])
                shutil.rmtree(dest)
            rows.append(("skopeo copy docker:// -> dir: (no unpack)", summary(timed(skopeo_pull, a.runs))))

        # -- push --------------------------------------------------------------------------
        regs: list[TestRegistry] = []

        def fresh_registry() -> None:
            while regs:
                regs.pop().stop()
            regs.append(TestRegistry().start())
            subprocess.run([dy, "tag", ref, f"{regs[0].host}/bench/pushed:1"], env=env, check=True)

        rows.append(("dockyard push", summary(timed(
            lambda: run_ok([dy, "push", "-q", f"{regs[0].host}/bench/pushed:1"], env=env), a.runs, fresh_registry))))
        if skopeo:
            rows.append(("skopeo copy oci: -> docker://", summary(timed(
                lambda: run_ok([skopeo, "copy", "--dest-tls-verify=false", f"oci:{layout}:bench",
                                f"docker://{regs[0].host}/bench/pushed:1"]), a.runs, fresh_registry))))
        while regs:
            regs.pop().stop()

        # -- save / load ----------------------------------------------------------------------
        archive = os.path.join(tmp, "saved.tar")
        rows.append(("dockyard save", summary(timed(lambda: run_ok([dy, "save", "-o", archive, ref], env=env),
                                                    a.runs))))

        def load_clean() -> None:
            clean_local()
        rows.append(("dockyard load", summary(timed(lambda: run_ok([dy, "load", "-q", "-i", archive], env=env),
                                                    a.runs, load_clean))))
        if skopeo:
            sk_archive = os.path.join(tmp, "skopeo.tar")

            def sk_save() -> None:
                if os.path.exists(sk_archive):
                    os.unlink(sk_archive)
                run_ok([skopeo, "copy", f"oci:{layout}:bench", f"docker-archive:{sk_archive}:bench/image:1"])
            rows.append(("skopeo copy oci: -> docker-archive:", summary(timed(sk_save, a.runs))))
            outs = iter(range(1000))

            def sk_load() -> None:
                dest = os.path.join(tmp, f"loaded{next(outs)}")
                run_ok([skopeo, "copy", f"docker-archive:{sk_archive}", f"dir:{dest}"])
                shutil.rmtree(dest)
            rows.append(("skopeo copy docker-archive: -> dir:", summary(timed(sk_load, a.runs))))
    finally:
        d.teardown()
        reg.stop()

    # -- unpack throughput ------------------------------------------------------------------
    from dockyard.core.archive import apply_layer, decompressed
    big = img.layers[1]
    blob = os.path.join(tmp, "layer.tar.gz")
    with open(blob, "wb") as f:
        f.write(big.blob.data)
    counter = iter(range(1000))

    def ours() -> None:
        dest = os.path.join(tmp, f"u{next(counter)}")
        os.mkdir(dest)
        with open(blob, "rb") as f:
            apply_layer(dest, decompressed(io.BufferedReader(f, 1 << 20)))  # type: ignore[arg-type]
        shutil.rmtree(dest)

    def tar() -> None:
        dest = os.path.join(tmp, f"t{next(counter)}")
        os.mkdir(dest)
        run_ok(["tar", "-xzf", blob, "-C", dest])
        shutil.rmtree(dest)
    size_mb = len(big.diff_id) and len(_raw_size(big)) / 1e6
    rows.append(("apply_layer (gzip layer)", summary(timed(ours, a.runs + 2))))
    rows.append(("tar -xzf (same layer)", summary(timed(tar, a.runs + 2))))
    notes.append(f"unpack layer: {len(big.blob.data) / 1e6:.1f} MB gzip, {size_mb:.1f} MB tar")
    notes.append("skopeo does not unpack layers; dockyard pull/load also extract every layer into a snapshot")
    _ = unpacked
    shutil.rmtree(tmp, ignore_errors=True)
    report("images", rows, [
        ("pull dockyard/skopeo", "dockyard pull (download+unpack)", "skopeo copy docker:// -> dir: (no unpack)"),
        ("push dockyard/skopeo", "dockyard push", "skopeo copy oci: -> docker://"),
        ("unpack apply_layer/tar", "apply_layer (gzip layer)", "tar -xzf (same layer)"),
        ("save dockyard/skopeo", "dockyard save", "skopeo copy oci: -> docker-archive:"),
        ("load dockyard/skopeo", "dockyard load", "skopeo copy docker-archive: -> dir:"),
    ], notes)


def _raw_size(layer) -> bytes:
    import gzip
    return gzip.decompress(layer.blob.data)


if __name__ == "__main__":
    main()
