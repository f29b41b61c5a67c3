"""RUN --mount: bind (from the context, a stage or an image), cache
(persistent directories under <data-root>/builder/cache-mounts), tmpfs;
secret and ssh are accepted and mounted only when provided (the classic
API has no way to provide them, so a required one fails the step)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import posixpath
import secrets
import shutil
from typing import TYPE_CHECKING, Any

from . import copy as cp
from . import instructions as ins
from . import values
from .builder import StepError, View, acquire
from .fsops import Meta, RootFS

if TYPE_CHECKING:
    from .stage import StageRun


class RunMounts:
    """The mounts of one RUN step: prepared (and keyed) before the cache
    lookup, made just before the step runs, released after it."""

    def __init__(self, sr: "StageRun", inst: ins.Instruction) -> None:
        self.sr = sr
        self.inst = inst
        self.specs: list[dict[str, str]] = []
        self.views: list[View] = []
        self.dirs: list[str] = []
        self.locked: list[asyncio.Lock] = []
        self.users: list[str] = []
        self._key: list[Any] = []
        self._released = False

    async def prepare(self) -> None:
        for raw in self.inst.flag("mount", []) or []:  # type: ignore[union-attr]
            opts = values.parse_csv_options(self.sr.expand(raw, self.inst.node))
            mtype = opts.get("type", "bind")
            target = opts.get("target") or opts.get("dst") or opts.get("destination") or ""
            if mtype not in ("bind", "cache", "tmpfs", "secret", "ssh"):
                raise self.inst.node.error(f"unsupported mount type {mtype!r}")
            if mtype in ("bind", "cache", "tmpfs") and not target:
                raise self.inst.node.error(f"mount type {mtype} requires a target")
            if target and not target.startswith("/"):
                target = posixpath.join(self.sr.state.run.get("WorkingDir") or "/", target)
            opts["target"] = target
            opts["type"] = mtype
            self.specs.append(opts)
            if mtype == "bind":
                self._key.append(["bind", target, await self._bind_identity(opts)])
            elif mtype == "cache":
                self._key.append(["cache", target, opts.get("id", target)])
            elif mtype == "tmpfs":
                self._key.append(["tmpfs", target, opts.get("size", "")])
            elif values.is_true(opts.get("required", "false")):
                raise StepError(f"{mtype} {opts.get('id') or target} is required but was not provided")

    async def _bind_identity(self, opts: dict[str, str]) -> str:
        frm = opts.get("from", "")
        source = opts.get("source") or opts.get("src") or ""
        if frm:
            state = await self.sr._from_state(frm, self.inst.node)
            return f"{state.identity}:{source}"
        ctx = self.sr.s.ctx
        e = ctx.resolve(source)
        if e is None:
            raise StepError(f"failed to compute cache key: {source or '/'}: not found")
        h = hashlib.sha256()
        for child in [e] + list(ctx.children(e.path) if e.type == "d" else []):
            h.update(f"{child.path}\0{child.type}\0{child.mode:o}\0{child.linkname}\0{child.digest}\n".encode())
        return h.hexdigest()

    def key(self) -> list[Any]:
        return self._key

    async def oci(self) -> list[dict[str, Any]]:
        """The OCI mounts, made now (just before the step runs)."""
        out: list[dict[str, Any]] = []
        for opts in self.specs:
            mtype, target = opts["type"], opts["target"]
            if mtype == "bind":
                out.append(await self._bind(opts))
            elif mtype == "cache":
                out.append(await self._cache(opts))
            elif mtype == "tmpfs":
                o = ["nosuid", "nodev"]
                if opts.get("size"):
                    o.append(f"size={opts['size']}")
                out.append({"destination": target, "type": "tmpfs", "source": "tmpfs", "options": o})
        return out

    async def _bind(self, opts: dict[str, str]) -> dict[str, Any]:
        sr = self.sr
        source = opts.get("source") or opts.get("src") or ""
        rw = values.is_true(opts.get("rw", opts.get("readwrite", "false")))
        frm = opts.get("from", "")
        if frm:
            state = await sr._from_state(frm, self.inst.node)
            view = await acquire(lambda: View(sr.b, state), View.close)
            self.views.append(view)
            with RootFS(view.path) as fs:
                rel = fs.resolve(source)
            host = os.path.join(view.path, rel)
            if rw:  # writes are thrown away: give the step its own copy
                tmp = os.path.join(sr.s.workdir, "bind-" + secrets.token_hex(4))
                await asyncio.to_thread(shutil.copytree, host, tmp, symlinks=True)
                self.dirs.append(tmp)
                host = tmp
        else:
            host = await asyncio.to_thread(self._extract_context, source)
        return {"destination": opts["target"], "type": "bind", "source": host,
                "options": ["rbind", "rw" if rw else "ro"]}

    def _extract_context(self, source: str) -> str:
        ctx = self.sr.s.ctx
        e = ctx.resolve(source)
        if e is None:
            raise StepError(f"{source}: not found in the build context")
        tmp = os.path.join(self.sr.s.workdir, "ctx-" + secrets.token_hex(4))
        self.dirs.append(tmp)
        os.makedirs(tmp, mode=0o755)
        with RootFS(tmp) as fs:
            if e.type == "d":
                src = cp.from_context(ctx, e.path or ".")[0]
                cp.write(fs, "/", True, src.items, cp.Ownership(None, None, True), Meta(0o755))
                return tmp
            src = cp.from_context(ctx, e.path)[0]
            cp.write(fs, "/" + src.name, False, src.items, cp.Ownership(None, None, True), Meta(0o755))
        return os.path.join(tmp, src.name)

    async def _cache(self, opts: dict[str, str]) -> dict[str, Any]:
        b = self.sr.b
        cid = opts.get("id") or opts["target"]
        name = hashlib.sha256(cid.encode()).hexdigest()[:32]
        path = os.path.join(b.cache_mounts, name)
        sharing = opts.get("sharing", "shared")
        if sharing == "locked":
            lock = b.cache_locks.setdefault(name, asyncio.Lock())
            await lock.acquire()
            self.locked.append(lock)
        elif sharing == "private" and b.cache_users.get(name):
            path = os.path.join(self.sr.s.workdir, "cache-" + secrets.token_hex(4))
            self.dirs.append(path)
        b.cache_users[name] = b.cache_users.get(name, 0) + 1
        self.users.append(name)
        if not os.path.isdir(path):
            mode = int(opts.get("mode", "0755"), 8)
            os.makedirs(path, mode=0o700)
            os.chown(path, int(opts.get("uid", "0")), int(opts.get("gid", "0")))
            os.chmod(path, mode)
        if path.startswith(b.cache_mounts):  # not a private copy: `system df` lists it
            b.cache.mount_used(name, cid, opts["target"])
        ro = values.is_true(opts.get("ro", opts.get("readonly", "false")))
        return {"destination": opts["target"], "type": "bind", "source": path,
                "options": ["rbind", "ro" if ro else "rw"]}

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        for view in self.views:
            await asyncio.to_thread(view.close)
        for d in self.dirs:
            await asyncio.to_thread(shutil.rmtree, d, True)
        for lock in self.locked:
            lock.release()
        b = self.sr.b
        for name in self.users:
            b.cache_users[name] -= 1
