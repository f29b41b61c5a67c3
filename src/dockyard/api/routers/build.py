"""/build and /build/prune.

POST /build takes the context as a tar (plain or compressed) in the body,
or a `remote` URL, and answers with the classic builder's JSON stream. An
error before the first message (an unreadable context, a Dockerfile that
does not parse) is an HTTP error; later ones are an errorDetail message.
The build is cancelled when the client goes away."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import shutil
import time
from typing import TYPE_CHECKING, Any

from ... import errdefs
from ..server.http import Request, Response, json_response
from ..server.router import Router

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon

log = logging.getLogger("dockyard.api")


def _json_map(req: Request, name: str) -> dict[str, Any]:
    value = req.query.json(name, {}) or {}
    if not isinstance(value, dict):
        raise errdefs.InvalidArgument(f"invalid {name}: a JSON object is expected")
    return value


def _int_or_zero(value: str) -> int:
    """moby's Int64ValueOrZero: a number, anything else is 0."""
    try:
        return int(value)
    except ValueError:
        return 0


def run_host_config(q: Any) -> dict[str, Any]:
    """The HostConfig of the RUN steps' containers from the query, as moby's
    newImageBuildOptions reads it and its hostConfigFromOptions applies it
    (checked like any container's when the first RUN runs)."""
    hc: dict[str, Any] = {}
    for key, name in (("memory", "Memory"), ("memswap", "MemorySwap"), ("cpushares", "CpuShares"),
                      ("cpuperiod", "CpuPeriod"), ("cpuquota", "CpuQuota")):
        if _int_or_zero(q.get(key)):
            hc[name] = _int_or_zero(q.get(key))
    for key, name in (("cpusetcpus", "CpusetCpus"), ("cpusetmems", "CpusetMems"), ("cgroupparent", "CgroupParent")):
        if q.get(key):
            hc[name] = q.get(key)
    isolation = q.get("isolation")
    if isolation and isolation.lower() != "default":  # Linux has only the default isolation
        raise errdefs.InvalidArgument(f'Unsupported isolation: "{isolation}"')
    if "securityopt" in q:  # as moby: only Windows takes security options for builds
        raise errdefs.InvalidArgument("The daemon on this platform does not support setting security options on build")
    raw = q.get("ulimits")
    if raw:
        try:
            ulimits = json.loads(raw)
            if ulimits is not None and not (isinstance(ulimits, list) and all(isinstance(u, dict) for u in ulimits)):
                raise ValueError("json: cannot unmarshal into Go value of type []*units.Ulimit")
        except ValueError as e:
            raise errdefs.InvalidArgument(f"error reading ulimit settings: {e}") from None
        if ulimits:
            hc["Ulimits"] = [{"Name": u.get("Name", ""), "Soft": u.get("Soft", 0), "Hard": u.get("Hard", 0)}
                             for u in ulimits]
    return hc


def parse_options(req: Request) -> Any:
    from ...build.builder import BuildOptions
    q = req.query
    if q.get("version", "1") not in ("", "1"):
        raise errdefs.InvalidArgument("BuildKit (version=2) is not supported by this daemon: "
                                      "use the classic builder (DOCKER_BUILDKIT=0)")
    if q.get("outputs"):
        raise errdefs.InvalidArgument("outputs are only supported by BuildKit")
    shm_size = q.int("shmsize", 0)
    host_config = run_host_config(q)
    build_args = _json_map(req, "buildargs")
    labels = _json_map(req, "labels")
    if q.bool("squash"):  # moby checks it once the options are read
        raise errdefs.InvalidArgument("squash is only supported with experimental mode")
    hosts: list[str] = []
    for v in q.getall("extrahosts"):
        hosts += [h for h in v.split(",") if h]
    network = q.get("networkmode") or "default"
    cache_from = req.query.json("cachefrom", []) or []
    if not isinstance(cache_from, list) or not all(isinstance(c, str) for c in cache_from):
        raise errdefs.InvalidArgument("invalid cachefrom: a JSON list of image references is expected")
    auth = None
    raw = req.headers.get("X-Registry-Config")
    if raw:
        try:
            auth = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except ValueError:
            auth = None
    return BuildOptions(
        dockerfile=q.get("dockerfile") or "Dockerfile", tags=[t for t in q.getall("t") if t],
        build_args={str(k): (None if v is None else str(v)) for k, v in build_args.items()},
        target=q.get("target"), no_cache=q.bool("nocache"), pull=q.bool("pull"), quiet=q.bool("q"),
        labels={str(k): str(v) for k, v in labels.items()}, network=network, platform=q.get("platform"),
        extra_hosts=hosts, resources=host_config, shm_size=shm_size, registry_auth=auth,
        cache_from=[c for c in cache_from if c])


def register(r: Router, d: "Daemon") -> None:
    builder = d.builder

    async def load_context(req: Request, workdir: str) -> Any:
        from ...build.context import BuildContext
        remote = req.query.get("remote")
        if remote:
            return await asyncio.to_thread(_remote_context, remote, workdir)
        spool = BuildContext.spooler(workdir)
        t = time.monotonic()
        try:
            async for chunk in req.stream():
                if spool.compressed:
                    await asyncio.to_thread(spool.feed, chunk)
                else:
                    spool.feed(chunk)  # a copy and the index of what came: cheaper than a thread hop
            t1 = time.monotonic()
            data = await asyncio.to_thread(spool.finish) if spool.spilled else spool.finish()
        finally:
            spool.close()
        ctx = BuildContext.open(spool, data)
        log.debug("build context: %d bytes, %d entries, %d of %d members as an earlier upload's; received and "
                  "indexed in %.0f ms, finished in %.0f ms", ctx.size, len(ctx.entries), spool.reused,
                  len(spool.members), (t1 - t) * 1000, (time.monotonic() - t1) * 1000)
        return ctx

    async def post_build(req: Request) -> Response | None:
        opts = parse_options(req)
        workdir = builder.new_workdir()
        ctx = None
        try:
            ctx = await load_context(req, workdir)
            resp = req.stream_response_(200, "application/json")

            async def send(msg: dict[str, Any]) -> None:
                await resp.write_json(msg)

            build = asyncio.ensure_future(builder.build(ctx, opts, send))
            gone = asyncio.ensure_future(req.disconnected())
            try:
                await asyncio.wait({build, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not build.done():
                    build.cancel()
                    try:
                        await build
                    except BaseException:
                        pass
                    raise ConnectionError("client went away: build cancelled")
                gone.cancel()
                try:  # it must stop reading before the connection's next request is read
                    await gone
                except (asyncio.CancelledError, ConnectionError, OSError):
                    pass
            try:
                build.result()
            except Exception as e:
                if not resp.started:
                    raise
                if not isinstance(e, errdefs.EngineError):
                    log.exception("build failed")
                message = e.message if isinstance(e, errdefs.EngineError) else f"internal error: {e}"
                detail: dict[str, Any] = {"message": message}
                code = getattr(e, "exit_code", None)
                if code is not None:
                    detail["code"] = code
                await resp.write_json({"errorDetail": detail, "error": message})
            return None
        finally:
            if ctx is not None:
                ctx.close()
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def post_build_prune(req: Request) -> Response:
        from ...daemon.timeutil import parse_time_filter
        filters = req.query.json("filters", {}) or {}
        until = None
        values = filters.get("until") if isinstance(filters, dict) else None
        if isinstance(values, dict):
            values = [k for k, v in values.items() if v]
        if values:
            until = parse_time_filter(values[-1])
        all_ = req.query.bool("all")
        res = await asyncio.to_thread(builder.prune, all_, until, req.query.int("keep-storage", 0))
        return json_response(res)

    r.post("/build", post_build)
    r.post("/build/prune", post_build_prune)


def _remote_context(url: str, workdir: str) -> Any:
    """A context from a URL: a git repository (docker's rules say which
    URLs are), a tarball, or a bare Dockerfile."""
    import io
    import tarfile
    import urllib.request

    from ...build import gitcontext
    from ...build.context import BuildContext, ContextError
    if gitcontext.is_git_url(url):
        return gitcontext.context_from_git(url, workdir)
    if not url.startswith(("http://", "https://")):
        raise errdefs.InvalidArgument(f"unable to prepare context: unsupported remote {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            data = resp.read(512 << 20)
    except OSError as e:
        raise errdefs.InvalidArgument(f"unable to prepare context: {getattr(e, 'reason', None) or e}") from None
    try:
        return BuildContext.load(io.BytesIO(data), workdir)
    except ContextError:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo("Dockerfile")
            ti.size = len(data)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
        buf.seek(0)
        return BuildContext.load(buf, workdir)
