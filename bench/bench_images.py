#!/usr/bin/env python3
"""Images: pull and push of a ~100 MB multi-layer image through Debian's
docker-registry on loopback, next to skopeo; layer unpack throughput next
to `tar -xzf`; save/load next to skopeo's docker-archive transport.

Side by side in one run (medians of --runs; the pull rows in interleaved
rounds, so a loaded machine hits them alike):
- pull: `dockyard pull` (download, verify digest, inflate, verify diff IDs,
  unpack into overlay snapshots, record the image) vs
  `skopeo copy docker://… dir:` (download and verify digests only: strictly
  less work) and vs `skopeo copy docker://… containers-storage:` (download,
  verify, unpack into containers/storage's overlay driver: the same work as
  dockyard's pull) and vs `docker pull` by dockerd (the host's engine, else
  a private dockerd started here; 127.0.0.0/8 is an insecure registry to
  it by default), the image removed and pruned before each pull so every
  pull downloads. CPU seconds of each side are reported too (the daemon's,
  dockerd's and skopeo's own; the registry's are the same for all);
- push: `dockyard push` vs `skopeo copy dir: docker://…`, each into a fresh
  registry so every blob is uploaded;
- unpack: one ~50 MB gzip layer applied by the core (archive.apply_layer)
  vs `tar -xzf` of the same blob;
- save/load: `dockyard save`/`load` vs skopeo copy between dir: and
  docker-archive:.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from _common import BIN, DOCKER_CLI, REPO, docker_engine, engine_socket, load_note, report, run_ok, summary


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
    from _support.registry_server import DockerRegistry

    # Byte-compiled first, as an installed package is (this checkout may run with PYTHONDONTWRITEBYTECODE).
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(REPO, "src", "dockyard")],
                   stdout=subprocess.DEVNULL, check=True)
    skopeo = shutil.which("skopeo")
    img = build_image()
    total = sum(len(x.blob.data) for x in img.layers)
    unpacked = sum(0 for _ in ())
    notes = [f"image: {len(img.layers)} gzip layers, {total / 1e6:.1f} MB compressed"]
    rows = []
    tmp = tempfile.mkdtemp(prefix="dybench-img")
    reg = DockerRegistry().start()
    d = TestDaemon().start()
    dy = os.path.join(BIN, "dockyard")
    env = d.env()
    engine = contextlib.ExitStack()
    try:
        denv = engine.enter_context(docker_engine(notes))
        layout = os.path.join(tmp, "layout")
        ti.write_oci_layout(layout, img, "bench")
        ref = f"{reg.host}/bench/image:1"
        run_ok([skopeo, "copy", "--dest-tls-verify=false", f"oci:{layout}:bench", f"docker://{ref}"])

        # -- pull ------------------------------------------------------------------------
        def clean_local() -> None:
            subprocess.run([dy, "rmi", ref], env=env, capture_output=True)
            subprocess.run([dy, "image", "prune", "-af"], env=env, capture_output=True)

        dirs = iter(range(1000))
        walls: dict[str, list[float]] = {k: [] for k in ("dy", "dir", "cs", "docker")}
        cpus: dict[str, list[float]] = {k: [] for k in ("dy", "dir", "cs", "docker")}
        dockerd_pid = _dockerd_pid(denv) if denv is not None else None

        def skopeo_copy(dest: str) -> tuple[float, float]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            run_ok([skopeo, "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", dest])
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

        for _ in range(a.runs):
            clean_local()
            c0, t = _cpu_seconds(d.proc.pid), time.perf_counter()
            run_ok([dy, "pull", "-q", ref], env=env)
            walls["dy"].append(time.perf_counter() - t)
            cpus["dy"].append(_cpu_seconds(d.proc.pid) - c0)
            if denv is not None:
                subprocess.run([DOCKER_CLI, "rmi", ref], env=denv, capture_output=True)
                subprocess.run([DOCKER_CLI, "image", "prune", "-af"], env=denv, capture_output=True)
                c0 = _cpu_seconds(dockerd_pid, children=True) if dockerd_pid else 0.0
                t = time.perf_counter()
                run_ok([DOCKER_CLI, "pull", "-q", ref], env=denv)
                walls["docker"].append(time.perf_counter() - t)
                if dockerd_pid:
                    cpus["docker"].append(_cpu_seconds(dockerd_pid, children=True) - c0)
            if not skopeo:
                continue
            dest = os.path.join(tmp, f"pulled{next(dirs)}")
            wall, cpu = skopeo_copy(f"dir:{dest}")
            walls["dir"].append(wall)
            cpus["dir"].append(cpu)
            shutil.rmtree(dest)
            store = os.path.join(tmp, f"cs{next(dirs)}")
            try:
                wall, cpu = skopeo_copy(f"containers-storage:[overlay@{store}/graph+{store}/run]bench/image:1")
                walls["cs"].append(wall)
                cpus["cs"].append(cpu)
            finally:
                _unmount_under(store)
                shutil.rmtree(store, ignore_errors=True)
        rows.append(("dockyard pull (download+unpack)", summary(walls["dy"])))
        if walls["docker"]:
            rows.append(("docker pull (dockerd, download+unpack)", summary(walls["docker"])))
        notes.append("pull rounds: " + load_note())
        if walls["dir"]:
            rows.append(("skopeo copy docker:// -> dir: (no unpack)", summary(walls["dir"])))
        if walls["cs"]:
            rows.append(("skopeo copy docker:// -> containers-storage: (unpack)", summary(walls["cs"])))
        for key, label in (("dy", "dockyard pull (daemon)"), ("docker", "docker pull (dockerd and its untar children)"),
                           ("dir", "skopeo -> dir:"), ("cs", "skopeo -> containers-storage:")):
            if cpus[key]:
                notes.append(f"CPU seconds, {label}: median {statistics.median(cpus[key]):.2f}")

        # -- push --------------------------------------------------------------------------
        regs: list[DockerRegistry] = []

        def fresh_registry() -> None:
            while regs:
                regs.pop().teardown()
            regs.append(DockerRegistry().start())
            subprocess.run([dy, "tag", ref, f"{regs[0].host}/bench/pushed:1"], env=env, check=True)

        rows.append(("dockyard push", summary(timed(
            lambda: run_ok([dy, "push", "-q", f"{regs[0].host}/bench/pushed:1"], env=env), a.runs, fresh_registry))))
        if skopeo:
            rows.append(("skopeo copy oci: -> docker://", summary(timed(
                lambda: run_ok([skopeo, "copy", "--dest-tls-verify=false", f"oci:{layout}:bench",
                                f"docker://{regs[0].host}/bench/pushed:1"]), a.runs, fresh_registry))))
        while regs:
            regs.pop().teardown()

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
        engine.close()
        d.teardown()
        reg.teardown()

    # -- unpack throughput ------------------------------------------------------------------
    from dockyard.core.archive import apply_layer, layer_reader
    big = img.layers[1]
    blob = os.path.join(tmp, "layer.tar.gz")
    with open(blob, "wb") as f:
        f.write(big.blob.data)
    counter = iter(range(1000))
    # Unpacked on tmpfs when there is one: the rows then compare per-entry work, not
    # the disk (which other processes on a shared machine keep busy).
    unpack_to = tempfile.mkdtemp(prefix="dybench-unpack", dir="/dev/shm") if os.path.isdir("/dev/shm") else tmp

    def ours(path: str):
        def run() -> None:
            dest = os.path.join(unpack_to, f"u{next(counter)}")
            os.mkdir(dest)
            with open(path, "rb") as f:
                reader = layer_reader(f)  # type: ignore[arg-type]
                apply_layer(dest, reader)
                reader.drain()  # the diff ID covers the whole stream
            shutil.rmtree(dest)
        return run

    def tar(path: str):
        def run() -> None:
            dest = os.path.join(unpack_to, f"t{next(counter)}")
            os.mkdir(dest)
            run_ok(["tar", "-xzf", path, "-C", dest])
            shutil.rmtree(dest)
        return run
    try:
        size_mb = len(big.diff_id) and len(_raw_size(big)) / 1e6
        rows.append(("apply_layer (gzip layer)", summary(timed(ours(blob), a.runs + 2))))
        rows.append(("tar -xzf (same layer)", summary(timed(tar(blob), a.runs + 2))))
        notes.append(f"unpack layer: {len(big.blob.data) / 1e6:.1f} MB gzip, {size_mb:.1f} MB tar")
        small_files = os.path.join(tmp, "small-files.tar.gz")
        with open(small_files, "wb") as f:
            f.write(_small_files_layer())
        rows.append(("apply_layer (20000 small files)", summary(timed(ours(small_files), a.runs + 2))))
        rows.append(("tar -xzf (20000 small files)", summary(timed(tar(small_files), a.runs + 2))))
    finally:
        if unpack_to != tmp:
            shutil.rmtree(unpack_to, ignore_errors=True)
    if unpack_to != tmp:
        notes.append("unpack rows write to tmpfs (/dev/shm)")
    notes.append("skopeo does not unpack layers; dockyard pull/load also extract every layer into a snapshot")
    _ = unpacked
    shutil.rmtree(tmp, ignore_errors=True)
    report("images", rows, [
        ("pull dockyard/docker pull on dockerd", "dockyard pull (download+unpack)", "docker pull (dockerd, download+unpack)"),
        ("pull dockyard/skopeo dir:", "dockyard pull (download+unpack)", "skopeo copy docker:// -> dir: (no unpack)"),
        ("pull dockyard/skopeo containers-storage:", "dockyard pull (download+unpack)",
         "skopeo copy docker:// -> containers-storage: (unpack)"),
        ("push dockyard/skopeo", "dockyard push", "skopeo copy oci: -> docker://"),
        ("unpack apply_layer/tar", "apply_layer (gzip layer)", "tar -xzf (same layer)"),
        ("unpack small files apply_layer/tar", "apply_layer (20000 small files)", "tar -xzf (20000 small files)"),
        ("save dockyard/skopeo", "dockyard save", "skopeo copy oci: -> docker-archive:"),
        ("load dockyard/skopeo", "dockyard load", "skopeo copy docker-archive: -> dir:"),
    ], notes)


def _small_files_layer() -> bytes:
    """A layer like a distribution's /usr: many small files in many directories."""
    from _support import images as ti
    rnd = random.Random(7)
    entries = [ti.file_entry(f"usr/share/d{i % 200}/f{i}", rnd.randbytes(rnd.randint(100, 4000)))
               for i in range(20000)]
    import gzip
    return gzip.compress(ti.tar_bytes(entries), compresslevel=6)


def _dockerd_pid(denv: dict[str, str]) -> int | None:
    """dockerd's pid from its pidfile: beside a private dockerd's socket, else docker's default."""
    for path in (os.path.join(os.path.dirname(engine_socket(denv)), "docker.pid"), "/var/run/docker.pid"):
        try:
            with open(path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            continue
    return None


def _cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of a process (all its threads, finished ones included);
    with children, also of its children it waited for (dockerd untars layers
    in a re-executed child)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def _unmount_under(path: str) -> None:
    """containers/storage leaves its overlay home bind-mounted (private)."""
    from dockyard._sys import libc
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for mp in sorted((p for p in points if p == path or p.startswith(path + "/")), key=len, reverse=True):
        libc.umount2(mp, 2)  # MNT_DETACH


def _raw_size(layer) -> bytes:
    import gzip
    return gzip.decompress(layer.blob.data)


if __name__ == "__main__":
    main()
