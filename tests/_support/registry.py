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
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def _forward(self) -> None:
                import http.client
                length = int(self.headers.get("Content-Length") or 0)
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
