"""The builder: a Dockerfile and its context to an image, the way docker's
classic builder reports it (its JSON stream messages), with layers made
from overlay snapshots and a persistent cache.

A build plans the stages the target needs, runs them in order (stage.py
dispatches each instruction), then stores the final state as an image and
tags it. Everything a step acquires (snapshots, mounts, tasks, views) is
released whether the step succeeds, fails or the client goes away; what
successful steps produced stays, as cache."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

from .. import errdefs
from ..core.content import ContentStore
from ..core.diff import is_empty, overlay_dirs, write_tar
from ..core.images import Image, ImageService, Lease, chain_ids, config_diff_ids
from ..core.mount import mount_all, unmount_all
from ..core.snapshots import OverlaySnapshotter
from ..core.tasks import TaskService
from ..oci import reference
from ..units import rfc3339_nano
from . import instructions, parser
from .cache import BuildCache, Record
from .context import BuildContext
from .cachefrom import CacheSources
from .dockerignore import IGNORE_FILE, PatternMatcher, ignore_file_for, read_patterns
from .run import Backend
from .state import State, config_digest, layer_descriptor

log = logging.getLogger("dockyard.build")

PROXY_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                        "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"})
SNAPSHOT_PREFIX = "build-"
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class BuildOptions:
    dockerfile: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str | None] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    quiet: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"
    platform: str = ""
    extra_hosts: list[str] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)  # HostConfig fields for RUN (Memory, CpuShares, ...)
    shm_size: int = 0
    registry_auth: dict[str, Any] | None = None
    cache_from: list[str] = field(default_factory=list)  # images to take steps from (--cache-from)


T = TypeVar("T")


class StepError(errdefs.InvalidArgument):
    """A step that cannot be carried out as written (docker's message as is)."""


async def finish(fn: Callable[[], T]) -> T:
    """fn in a worker thread; a cancellation waits for it to end (a thread
    cannot be stopped half way through a commit), then goes on."""
    fut = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        try:
            await fut
        except BaseException:
            pass
        raise


async def acquire(make: Callable[[], T], release: Callable[[T], None]) -> T:
    """make() in a worker thread; if the caller is cancelled meanwhile, what
    it made is released before the cancellation goes on."""
    fut = asyncio.ensure_future(asyncio.to_thread(make))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        try:
            obj = await fut
        except BaseException:
            raise asyncio.CancelledError from None
        await asyncio.to_thread(release, obj)
        raise


class Output:
    """docker's build stream: text in "stream" messages (not in quiet
    mode), the image ID in an "aux" message."""

    def __init__(self, send: Send, quiet: bool) -> None:
        self.send = send
        self.quiet = quiet

    async def text(self, text: str) -> None:
        if not self.quiet and text:
            await self.send({"stream": text})

    async def aux(self, obj: dict[str, Any]) -> None:
        await self.send({"aux": obj})

    async def progress(self, msg: dict[str, Any]) -> None:
        if not self.quiet:
            await self.send(msg)


class Scratch:
    """An active snapshot above a state: where a step writes, then either
    its layer (committed under the new chain ID) or nothing."""

    def __init__(self, b: "Builder", parent: State, lease: Lease | None = None) -> None:
        self.b = b
        self.parent = parent
        self.lease = lease
        self.key = SNAPSHOT_PREFIX + secrets.token_hex(26)
        self.mounts = b.snapshotter.prepare(self.key, parent.chain_id, labels={"dockyard.build": "step"})
        self.target = ""
        self.done = False

    @property
    def upper(self) -> str:
        return overlay_dirs(self.mounts)[0]

    @property
    def lowers(self) -> list[str]:
        return overlay_dirs(self.mounts)[1]

    def mount(self) -> str:
        self.target = os.path.join(self.b.run_root, self.key, "rootfs")
        os.makedirs(self.target, mode=0o700, exist_ok=True)
        mount_all(self.mounts, self.target)
        return self.target

    def unmount(self) -> None:
        if self.target:
            unmount_all(self.target)
            shutil.rmtree(os.path.dirname(self.target), ignore_errors=True)
            self.target = ""

    def commit(self) -> tuple[dict[str, Any], str] | None:
        """The step's layer (descriptor, diff ID), or None for an empty diff;
        the snapshot is committed or removed either way."""
        self.unmount()
        self.done = True
        upper = self.upper
        if is_empty(upper):
            self.b.snapshotter.remove(self.key)
            return None
        w = self.b.content.writer(f"build-layer-{self.key}")
        try:
            write_tar(upper, w)  # type: ignore[arg-type]
            # Under the image store's lock, so its gc never sees the new blob
            # or snapshot before the build's lease holds them.
            with self.b.images.lock:
                info = w.commit()
                chain = chain_ids(self.parent.diff_ids + [info.digest])[-1]
                if self.lease is not None:
                    self.lease.add(info.digest)
                    self.lease.snapshots.add(chain)
                if self.b.snapshotter.exists(chain):
                    self.b.snapshotter.remove(self.key)  # the same layer exists already
                else:
                    self.b.snapshotter.commit(chain, self.key, {"size": str(info.size)})
        except BaseException:
            w.abort()
            if self.b.snapshotter.exists(self.key):
                self.b.snapshotter.remove(self.key)
            raise
        return layer_descriptor(info.digest, info.size), info.digest

    def discard(self) -> None:
        if self.done:
            return
        self.done = True
        try:
            self.unmount()
        finally:
            if self.b.snapshotter.exists(self.key):
                self.b.snapshotter.remove(self.key)


class View:
    """A state's filesystem mounted read-only (COPY --from, RUN --mount)."""

    def __init__(self, b: "Builder", state: State) -> None:
        self.b = b
        self.key = SNAPSHOT_PREFIX + "view-" + secrets.token_hex(24)
        self.path = os.path.join(b.run_root, self.key, "rootfs")
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        chain = state.chain_id
        self.snapshot = bool(chain)
        try:
            if chain:
                mount_all(b.snapshotter.view(self.key, chain, labels={"dockyard.build": "view"}), self.path)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        try:
            unmount_all(self.path)
        finally:
            shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)
            if self.b.snapshotter.exists(self.key):
                self.b.snapshotter.remove(self.key)


class Builder:
    def __init__(self, root: str, exec_root: str, content: ContentStore, snapshotter: OverlaySnapshotter,
                 images: ImageService, tasks: TaskService, backend: Backend) -> None:
        self.root = root
        self.tmp = os.path.join(root, "tmp")
        self.cache_mounts = os.path.join(root, "cache-mounts")
        self.run_root = os.path.join(exec_root, "build")
        for d in (root, self.tmp, self.cache_mounts, self.run_root):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.content = content
        self.snapshotter = snapshotter
        self.images = images
        self.tasks = tasks
        self.backend = backend
        self.cache = BuildCache(root)
        self.cache_locks: dict[str, asyncio.Lock] = {}
        self.cache_users: dict[str, int] = {}

    # -- recovery ---------------------------------------------------------------
    async def recover(self) -> None:
        """After a crash: tasks, mounts, snapshots and files of builds that
        were running are released."""
        for cid in self.tasks.list_bundles():
            if cid.startswith(SNAPSHOT_PREFIX):
                task = await self.tasks.connect(cid)
                if task is not None:
                    try:
                        await task.kill(9, all_=True)
                    except errdefs.EngineError:
                        pass
                    try:
                        await task.delete()
                    except errdefs.EngineError:
                        pass
                await self.tasks.cleanup_dead_shim(cid)
                await self.tasks.remove_bundle(cid)
        for name in os.listdir(self.run_root):
            target = os.path.join(self.run_root, name, "rootfs")
            if os.path.exists(target):
                await asyncio.to_thread(unmount_all, target)
            shutil.rmtree(os.path.join(self.run_root, name), ignore_errors=True)
        for info in self.snapshotter.walk():
            if info.key.startswith(SNAPSHOT_PREFIX) and info.kind != "committed":
                try:
                    self.snapshotter.remove(info.key)
                except errdefs.EngineError as e:
                    log.warning("build snapshot %s: %s", info.key, e)
        for name in os.listdir(self.tmp):
            shutil.rmtree(os.path.join(self.tmp, name), ignore_errors=True)

    # -- a build ----------------------------------------------------------------
    def new_workdir(self) -> str:
        d = os.path.join(self.tmp, secrets.token_hex(8))
        os.makedirs(d, mode=0o700)
        return d

    async def build(self, ctx: BuildContext, opts: BuildOptions, send: Send) -> Image:
        out = Output(send, opts.quiet)
        for t in opts.tags:
            try:
                reference.parse(t)
            except errdefs.InvalidArgument:
                raise errdefs.InvalidArgument(f"invalid reference format: {t!r}") from None
        df = self.read_dockerfile(ctx, opts.dockerfile)
        try:
            plan = instructions.plan(df)
        except ValueError:
            raise errdefs.InvalidArgument(f"the Dockerfile ({opts.dockerfile}) cannot be empty") from None
        self.apply_ignore(ctx, opts.dockerfile)
        from .stage import Session
        t0 = time.monotonic()
        with self.images.lease() as lease:  # what the build makes or uses stays until it is referenced
            session = Session(self, ctx, opts, out, plan, df, lease)
            try:
                state = await session.run()
            finally:
                await session.close()
            t1 = time.monotonic()
            state = state.with_labels(opts.labels)
            img = await asyncio.to_thread(self.store_result, state, opts.tags)
        log.debug("build %s: %d steps in %.0f ms, image stored in %.0f ms", img.id[7:19], session.step_no,
                  (t1 - t0) * 1000, (time.monotonic() - t1) * 1000)
        if img.id != state.identity:
            log.warning("built image %s but expected %s", img.id, state.identity)
        for w in session.warnings():
            await out.text(w)
        await out.aux({"ID": img.id})
        if opts.quiet:
            await send({"stream": img.id + "\n"})
        else:
            await out.text(f"Successfully built {img.id[7:19]}\n")
            for t in opts.tags:
                await out.text(f"Successfully tagged {reference.familiar(str(reference.parse(t)))}\n")
        return img

    def store_result(self, state: State, tags: list[str]) -> Image:
        """The built image. A state that is an image taken whole (a
        --cache-from image at its last step, a bare FROM) is that image, with
        its ID even when its config has fields a state drops (docker's
        container_config): docker reports the source image then."""
        if state.identity.startswith("sha256:") and state.identity != config_digest(state.config):
            try:
                img = self.images.get(state.identity)
            except errdefs.NotFound:
                img = None
            if img is not None:
                for t in tags:
                    self.images.tag(img, t)
                return self.images.get(img.id)
        return self.images.create_image(state.config, state.layers, tags)

    def read_dockerfile(self, ctx: BuildContext, name: str) -> parser.Dockerfile:
        name = name or "Dockerfile"
        entry = ctx.resolve(name)
        if entry is None and name == "Dockerfile":
            entry = ctx.resolve("dockerfile")  # docker accepts the lower-case name too
        if entry is None:
            raise errdefs.InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
        data = ctx.read(entry.path)
        if not data.strip():
            raise errdefs.InvalidArgument(f"the Dockerfile ({name}) cannot be empty")
        return parser.parse(data)

    def apply_ignore(self, ctx: BuildContext, dockerfile: str) -> None:
        """The Dockerfile's own ignore file (<Dockerfile>.dockerignore) if
        the context has one, else .dockerignore, as docker picks them."""
        for name in (ignore_file_for(dockerfile or "Dockerfile"), IGNORE_FILE):
            e = ctx.resolve(name)
            if e is not None and e.type in ("f", "h"):
                try:
                    matcher = PatternMatcher(read_patterns(ctx.read(e.path)))
                except ValueError as err:
                    raise errdefs.InvalidArgument(f"failed to parse {name}: {err}") from None
                ctx.apply_ignore(matcher)
                return

    # -- cache ------------------------------------------------------------------
    @staticmethod
    def step_key(parent: State, parts: list[Any]) -> str:
        return hashlib.sha256(json.dumps([parent.identity, *parts], sort_keys=True,
                                         separators=(",", ":")).encode()).hexdigest()

    def cached_state(self, key: str, lease: Lease | None = None) -> State | None:
        """A usable cache hit: every layer blob present, snapshots re-made
        from them if they went away."""
        rec = self.cache.get(key)
        if rec is None:
            return None
        state = State.from_record(rec.config, rec.layers)
        if not self.usable(state, lease):
            if any(not self.content.has(l["digest"]) for l in state.layers):
                self.cache.delete(key)
            return None
        return state

    def usable(self, state: State, lease: Lease | None = None) -> bool:
        """Are a state's layers here (blobs present, snapshots re-made from
        them if they went away)? Leased first so gc can't take them meanwhile."""
        if lease is not None:
            self.protect(lease, state)
        if any(not self.content.has(l["digest"]) for l in state.layers):
            return False
        if state.chain_id and not self.snapshotter.exists(state.chain_id):
            try:
                self.images.unpack(Image(state.identity, "", {"layers": state.layers}, state.config), lease)
            except errdefs.EngineError as e:
                log.warning("cached state %s: cannot unpack its layers: %s", state.short_id, e)
                return False
        return True

    def cache_sources(self, refs: list[str]) -> CacheSources:
        """The --cache-from images; as moby, a name that finds no image is skipped."""
        images = []
        for ref in refs:
            try:
                images.append(self.images.resolve(ref))
            except errdefs.EngineError as e:
                log.info("cache-from %s: skipped: %s", ref, e)
        return CacheSources(images)

    def protect(self, lease: Lease, state: State) -> None:
        """Keep a state's blobs and snapshots from the image store's gc."""
        with self.images.lock:
            lease.add(*(l["digest"] for l in state.layers))
            lease.snapshots.update(chain_ids(state.diff_ids))

    def remember(self, key: str, state: State, description: str, layer: dict[str, Any] | None) -> None:
        now = time.time()
        self.cache.put(Record(key, now, now, description, state.config, state.layers, layer))

    # -- builder prune -------------------------------------------------------------
    def prune(self, all_: bool = False, until: float | None = None, keep_storage: int = 0) -> dict[str, Any]:
        """Remove cache records (with all_, every one; otherwise the ones whose
        layer no image uses), then the layers only they kept alive."""
        image_blobs: set[str] = set()
        image_chains: set[str] = set()
        for img in self.images.list_images():
            image_blobs.update(l["digest"] for l in img.manifest.get("layers") or [])
            image_chains.update(chain_ids(img.diff_ids))
        records = sorted(self.cache.records(), key=lambda r: r.last_used)
        doomed: list[Record] = []
        kept_size = sum(r.size for r in records)
        for rec in records:
            if until is not None and rec.last_used > until:
                continue
            if not all_ and rec.layer is not None and rec.layer["digest"] in image_blobs:
                continue
            if keep_storage and kept_size <= keep_storage:
                break
            doomed.append(rec)
            kept_size -= rec.size
        for rec in doomed:
            self.cache.delete(rec.key)
        live_blobs, live_chains = self.cache.references()
        live_blobs |= image_blobs
        live_chains |= image_chains
        reclaimed = 0
        chains: list[str] = []
        for rec in doomed:
            ids = chain_ids(config_diff_ids(rec.config))
            chains.extend(c for c in ids if c not in live_chains and c not in chains)
        # Children first: a longer chain sits above a shorter one.
        for chain in sorted(chains, key=lambda c: -self._depth(c)):
            if not self.snapshotter.exists(chain) or self.snapshotter.children(chain):
                continue
            try:
                reclaimed += self.snapshotter.usage(chain)[0]
                self.snapshotter.remove(chain)
            except errdefs.EngineError as e:
                log.warning("prune snapshot %s: %s", chain[:19], e)
        for rec in doomed:
            for l in rec.layers:
                d = l["digest"]
                if d not in live_blobs and self.content.has(d):
                    try:
                        reclaimed += self.content.info(d).size
                        self.content.delete(d)
                    except errdefs.NotFound:
                        pass
        if all_ or until is None:
            for name in os.listdir(self.cache_mounts):
                if self.cache_users.get(name):
                    continue
                p = os.path.join(self.cache_mounts, name)
                reclaimed += _du(p)
                shutil.rmtree(p, ignore_errors=True)
                self.cache.drop_mount(name)
        return {"CachesDeleted": [r.key for r in doomed] or None, "SpaceReclaimed": reclaimed}

    def _depth(self, chain: str) -> int:
        n = 0
        while chain:
            try:
                chain = self.snapshotter.stat(chain).parent
            except errdefs.NotFound:
                break
            n += 1
        return n

    def usage(self) -> list[dict[str, Any]]:
        """The build cache as GET /system/df reports it (BuildKit's record
        shape): each step's record (Shared when an image has its layer too,
        which `builder prune` keeps unless --all) and each RUN cache mount."""
        image_blobs = {l["digest"] for img in self.images.list_images() for l in img.manifest.get("layers") or []}
        out: list[dict[str, Any]] = []
        for rec in self.cache.records():
            out.append({"ID": rec.key, "Type": "regular", "Description": rec.description, "InUse": False,
                        "Shared": rec.layer is not None and rec.layer["digest"] in image_blobs, "Size": rec.size,
                        "CreatedAt": rfc3339_nano(rec.created), "LastUsedAt": rfc3339_nano(rec.last_used),
                        "UsageCount": rec.uses})
        names = sorted(n for n in os.listdir(self.cache_mounts) if not n.startswith("."))
        for name, mrec in self.cache.mount_records(names).items():
            entry: dict[str, Any] = {"ID": name, "Type": "exec.cachemount", "InUse": bool(self.cache_users.get(name)),
                                     "Shared": False, "Size": _du(os.path.join(self.cache_mounts, name))}
            if mrec is not None:
                entry.update({"Description": f"cached mount {mrec.target} (id {mrec.id})",
                              "CreatedAt": rfc3339_nano(mrec.created), "LastUsedAt": rfc3339_nano(mrec.last_used),
                              "UsageCount": mrec.uses})
            else:  # made before its directory had a record
                entry.update({"Description": "cached mount", "CreatedAt": rfc3339_nano(
                    os.stat(os.path.join(self.cache_mounts, name)).st_mtime), "UsageCount": 0})
            out.append(entry)
        return out


def _du(path: str) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for n in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
            except OSError:
                pass
    return total
