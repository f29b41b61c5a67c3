"""/images/..., /auth and /distribution/{name}/json routes."""

from __future__ import annotations

import asyncio
import io
import os
import threading
from typing import TYPE_CHECKING, Any, Callable

from ... import errdefs
from ...core.distribution import Cancel
from ...registry.client import decode_registry_auth
from ..server.http import Request, Response, json_response
from ..server.router import Router

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon

_DONE = object()


class _PipeReader(io.RawIOBase):
    """A blocking file object fed from the event loop: lets the synchronous
    core consume a request body as it arrives."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        self._rf = os.fdopen(self._r, "rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        return self._rf.readinto(b)

    def close(self) -> None:
        self._rf.close()
        super().close()


async def feed_body(req: Request, pipe: _PipeReader) -> None:
    w = pipe._w
    try:
        async for chunk in req.stream():
            view = memoryview(chunk)
            while view:
                n = await asyncio.to_thread(os.write, w, view)
                view = view[n:]
    except (BrokenPipeError, OSError):
        pass
    finally:
        os.close(w)


async def consume_body(req: Request, fn: Callable[[io.RawIOBase], Any]) -> Any:
    """Run fn(file) in a thread while the request body streams into file."""
    pipe = _PipeReader()
    feeder = asyncio.create_task(feed_body(req, pipe))
    try:
        return await asyncio.to_thread(fn, pipe)
    finally:
        pipe.close()
        try:
            await feeder
        except (OSError, ConnectionError):
            pass


async def stream_progress(req: Request, work: Callable[[Callable[[dict[str, Any]], None]], Any],
                          cancel: threading.Event | None = None) -> None:
    """Run work(emit) in a thread and stream what it emits as JSON lines.
    An error before the first message is an HTTP error; after it, docker's
    {"errorDetail": ..., "error": ...} line ends the stream. With cancel,
    a client that goes away (closes its connection) sets it, and the
    request ends once work has cleaned up."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def emit(msg: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, msg)

    def run() -> None:
        try:
            work(emit)
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)
        except BaseException as e:  # handed to the loop, raised or streamed there
            loop.call_soon_threadsafe(queue.put_nowait, e)

    threading.Thread(target=run, name="image-op", daemon=True).start()
    gone = asyncio.ensure_future(req.disconnected()) if cancel is not None else None
    resp = None
    try:
        while True:
            item = await _next_item(queue, gone)
            if item is _GONE:
                raise ConnectionError("client went away")
            if item is _DONE:
                if resp is None:
                    resp = req.stream_response_(200, "application/json")
                    await resp.start()
                return
            if isinstance(item, BaseException):
                if resp is None:
                    if isinstance(item, errdefs.EngineError):
                        raise item
                    raise errdefs.Internal(str(item) or type(item).__name__) from item
                msg = item.message if isinstance(item, errdefs.EngineError) else (str(item) or type(item).__name__)
                await resp.write_json({"errorDetail": {"message": msg}, "error": msg})
                return
            if resp is None:
                resp = req.stream_response_(200, "application/json")
            await resp.write_json(item)
    except (ConnectionError, OSError):
        if cancel is not None:
            # Stop the work and wait until it has removed what it added.
            cancel.set()
            while True:
                item = await queue.get()
                if item is _DONE or isinstance(item, BaseException):
                    break
        raise
    finally:
        if gone is not None and not gone.done():
            # Wait until it has stopped reading: the connection's next request reads next.
            gone.cancel()
            try:
                await gone
            except (asyncio.CancelledError, ConnectionError, OSError):
                pass


_GONE = object()


async def _next_item(queue: "asyncio.Queue[Any]", gone: "asyncio.Future[None] | None") -> Any:
    if gone is None:
        return await queue.get()
    if not queue.empty():
        return queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.wait({getter, gone}, return_when=asyncio.FIRST_COMPLETED)
    if getter.done():
        return getter.result()
    getter.cancel()
    try:
        await getter
    except asyncio.CancelledError:
        pass
    else:  # it got an item after all: keep it for the cleanup loop
        queue.put_nowait(getter.result())
    return _GONE


def _auth(req: Request):
    return decode_registry_auth(req.headers.get("x-registry-auth"))


def register(r: Router, d: "Daemon") -> None:
    images = d.images
    try:
        images.loop = asyncio.get_running_loop()
    except RuntimeError:
        pass

    async def get_images_json(req: Request) -> Response:
        from ...daemon.filters import normalize
        filters = normalize(req.query.json("filters", {}))
        return json_response(await asyncio.to_thread(images.list, req.query.bool("all"), filters))

    async def get_image_json(req: Request) -> Response:
        return json_response(await asyncio.to_thread(images.inspect, req.match["name"]))

    async def get_image_history(req: Request) -> Response:
        return json_response(await asyncio.to_thread(images.history, req.match["name"]))

    async def post_images_create(req: Request) -> Response | None:
        images.loop = asyncio.get_running_loop()
        src = req.query.get("fromSrc")
        if src:
            if src != "-":
                raise errdefs.NotImplementedKind("importing from a URL is not supported; use fromSrc=-")
            repo, tag = req.query.get("repo"), req.query.get("tag")
            changes = req.query.getall("changes")
            img = await consume_body(req, lambda pipe: images.import_image(
                pipe, repo, tag, changes, req.query.get("message"), req.query.get("platform")))
            resp = req.stream_response_(200, "application/json")
            await resp.write_json({"status": img.id})
            return None
        image = req.query.get("fromImage")
        if not image:
            raise errdefs.InvalidArgument("fromImage or fromSrc is required")
        auth = _auth(req)
        tag, platform = req.query.get("tag"), req.query.get("platform")
        cancel = Cancel()
        await stream_progress(req, lambda emit: images.pull(image, tag, platform, auth, emit, cancel=cancel), cancel)
        return None

    async def post_image_push(req: Request) -> None:
        images.loop = asyncio.get_running_loop()
        auth = _auth(req)
        name, tag = req.match["name"], req.query.get("tag")
        cancel = Cancel()  # as for pull: a client that goes away stops the push
        await stream_progress(req, lambda emit: images.push(name, tag, auth, emit, cancel=cancel), cancel)

    async def post_image_tag(req: Request) -> Response:
        await asyncio.to_thread(images.tag, req.match["name"], req.query.get("repo"), req.query.get("tag"))
        return Response(201)

    async def delete_image(req: Request) -> Response:
        return json_response(await asyncio.to_thread(
            images.delete, req.match["name"], req.query.bool("force"), not req.query.bool("noprune")))

    async def post_images_prune(req: Request) -> Response:
        from ...daemon.filters import normalize
        filters = normalize(req.query.json("filters", {}))
        return json_response(await asyncio.to_thread(images.prune, filters))

    async def save(req: Request, names: list[str]) -> None:
        await asyncio.to_thread(images.check_save, names)
        r_fd, w_fd = os.pipe()
        failure: list[BaseException] = []

        def produce() -> None:
            try:
                with os.fdopen(w_fd, "wb", buffering=1 << 20) as out:
                    images.save(names, out)
            except BaseException as e:
                failure.append(e)

        t = threading.Thread(target=produce, name="image-save", daemon=True)
        t.start()
        resp = req.stream_response_(200, "application/x-tar")
        try:
            while True:
                data = await asyncio.to_thread(os.read, r_fd, 1 << 20)
                if not data:
                    break
                await resp.write(data)
        finally:
            os.close(r_fd)
            await asyncio.to_thread(t.join)
        if failure and not isinstance(failure[0], (BrokenPipeError, ConnectionError)):
            # The archive is cut short: the client sees a truncated tar, and the log says why.
            raise ConnectionError(f"save failed: {failure[0]}")

    async def get_images_get(req: Request) -> None:
        await save(req, req.query.getall("names"))

    async def get_image_get(req: Request) -> None:
        await save(req, [req.match["name"]])

    async def post_images_load(req: Request) -> None:
        images.loop = asyncio.get_running_loop()
        platform = req.query.get("platform")
        pipe = _PipeReader()
        feeder = asyncio.create_task(feed_body(req, pipe))

        def work(emit: Callable[[dict[str, Any]], None]) -> None:
            try:
                images.load(pipe, emit, platform)
            finally:
                pipe.close()
        try:
            await stream_progress(req, work)
        finally:
            try:
                await feeder
            except (OSError, ConnectionError):
                pass

    async def post_auth(req: Request) -> Response:
        body = await req.json({})
        return json_response(await asyncio.to_thread(images.login, body))

    async def get_distribution(req: Request) -> Response:
        return json_response(await asyncio.to_thread(images.distribution_inspect, req.match["name"], _auth(req)))

    r.get("/images/json", get_images_json)
    r.post("/images/create", post_images_create)
    r.get("/images/get", get_images_get)
    r.post("/images/load", post_images_load)
    r.post("/images/prune", post_images_prune)
    r.get("/images/{name:.+}/json", get_image_json)
    r.get("/images/{name:.+}/history", get_image_history)
    r.get("/images/{name:.+}/get", get_image_get)
    r.post("/images/{name:.+}/push", post_image_push)
    r.post("/images/{name:.+}/tag", post_image_tag)
    r.delete("/images/{name:.+}", delete_image)
    r.post("/auth", post_auth)
    r.get("/distribution/{name:.+}/json", get_distribution)
