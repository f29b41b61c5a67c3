"""FaultProxy: an HTTP proxy in front of a test registry that injects the
faults a network or a broken registry produces. (The registries themselves:
registry_server.py.)"""

from __future__ import annotations

import threading


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of a real registry that injects
    faults a network or a broken registry produces: a blob response cut off
    mid-body (once per digest listed), or a manifest served with another
    Content-Type. Everything else passes through unchanged; ``ranges``
    records the Range headers clients sent."""

    def __init__(self, upstream: str) -> None:
        import http.server
        self.upstream = upstream
        self.truncate_once: set[str] = set()
        self.content_types: dict[str, str] = {}  # path suffix -> Content-Type to answer with
        self.ranges: list[str] = []
        # digest -> bytes of the blob to send before stalling until ``release`` is set (0: not even
        # the status line);
        # ``stalled`` is set when a stall begins, ``aborted`` lists requests whose client left mid-stall.
        self.stall: dict[str, int] = {}
        self.release = threading.Event()
        self.stalled = threading.Event()
        self.aborted: list[str] = []
        # Uploads (PUT/PATCH bodies to /blobs/uploads/ longer than this many bytes): read that much,
        # then only a trickle until ``release`` (the upload is slowed to a crawl); ``upload_stalled``
        # is set when it begins, and a client that leaves mid-body is listed in ``aborted``.
        self.upload_stall: int | None = None
        self.upload_stalled = threading.Event()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, as they arrive
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def _forward(self) -> None:
                import http.client
                proxy.requests.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                if proxy.upload_stall is not None and self.command in ("PUT", "PATCH") \
                        and "/blobs/uploads/" in self.path and length > proxy.upload_stall:
                    body = self._read_slowly(length)
                    if body is None:
                        proxy.aborted.append(self.path)
                        self.close_connection = True
                        return
                else:
                    body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                if "Range" in headers:
                    proxy.ranges.append(headers["Range"])
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                cut = None
                for d in list(proxy.truncate_once):
                    if self.command == "GET" and self.path.endswith("/blobs/" + d) and resp.status in (200, 206):
                        proxy.truncate_once.discard(d)
                        cut = len(data) // 2
                stall = next((n for d, n in proxy.stall.items() if self.command == "GET"
                              and self.path.endswith("/blobs/" + d) and resp.status in (200, 206)), None)
                if stall == 0 and not proxy.release.is_set():  # no answer at all yet
                    proxy.stalled.set()
                    if not self._wait_for_release():
                        proxy.aborted.append(self.path)
                        self.close_connection = True
                        return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() in ("transfer-encoding", "connection"):
                        continue
                    if k.lower() == "content-type":
                        v = next((ct for suffix, ct in proxy.content_types.items() if self.path.endswith(suffix)), v)
                    if k.lower() == "location" and v.startswith("http://" + proxy.upstream):
                        v = "http://" + proxy.host + v[len("http://" + proxy.upstream):]
                    self.send_header(k, v)
                if cut is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if stall and not proxy.release.is_set():
                    self.wfile.write(data[:stall])
                    self.wfile.flush()
                    proxy.stalled.set()
                    if not self._wait_for_release():
                        proxy.aborted.append(self.path)
                        self.close_connection = True
                        return
                    data = data[stall:]
                if self.command != "HEAD":
                    self.wfile.write(data if cut is None else data[:cut])
                if cut is not None:
                    self.wfile.flush()
                    self.close_connection = True

            def _read_slowly(self, length: int) -> bytes | None:
                """The body, its first upload_stall bytes at once, then 64 KiB per
                50 ms until release; None if the client goes away first."""
                import time
                data = bytearray(self.rfile.read(proxy.upload_stall))
                proxy.upload_stalled.set()
                while len(data) < length:
                    try:
                        piece = self.rfile.read1(min(length - len(data), 1 << 20 if proxy.release.is_set() else 1 << 16))
                    except OSError:
                        return None
                    if not piece:
                        return None
                    data += piece
                    if not proxy.release.is_set():
                        time.sleep(0.05)
                return bytes(data)

            def _wait_for_release(self) -> bool:
                """False when the client closes the connection first."""
                import select
                import socket as socketlib
                while not proxy.release.wait(0.05):
                    readable, _, _ = select.select([self.connection], [], [], 0)
                    if readable:
                        try:
                            if not self.connection.recv(1, socketlib.MSG_PEEK):
                                return False
                        except OSError:
                            return False
                return True

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FaultProxy":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
