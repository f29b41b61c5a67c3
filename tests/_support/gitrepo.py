"""Git repositories served from the test itself, on 127.0.0.1 only: over
git's own protocol (`git daemon`, shallow fetches work) and over git's dumb
HTTP protocol (a plain http.server: no shallow fetch)."""

from __future__ import annotations

import functools
import http.server
import os
import socket
import subprocess
import threading
import time

GIT_ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z"}


def git(cwd: str, *args: str) -> str:
    p = subprocess.run(["git", "-c", "init.defaultBranch=master", "-c", "protocol.file.allow=always", *args],
                       cwd=cwd, env=GIT_ENV, capture_output=True, timeout=60)
    assert p.returncode == 0, f"git {' '.join(args)}: {p.stderr.decode()}"
    return p.stdout.decode()


def write(root: str, files: dict[str, str]) -> None:
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)


def commit(work: str, files: dict[str, str], message: str) -> None:
    write(work, files)
    git(work, "add", "-A")
    git(work, "commit", "-qm", message)


def publish(work: str, bare: str) -> None:
    """(Re)make a bare copy the servers export, with the dumb protocol's index."""
    if not os.path.exists(bare):
        git(os.path.dirname(bare), "clone", "-q", "--bare", work, bare)
    git(work, "push", "-q", "--mirror", bare)
    git(bare, "update-server-info")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a: object) -> None:
        pass


class GitServers:
    """`git daemon` and a dumb HTTP server over one directory of bare repos."""

    def __init__(self, base: str) -> None:
        self.base = base
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.daemon = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}", f"--base-path={base}",
             "--export-all", "--informative-errors", base],
            env=GIT_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.git_url = f"git://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.daemon.poll() is not None:
                    self.close()
                    raise RuntimeError("git daemon did not start")
                time.sleep(0.05)
        handler = functools.partial(_Quiet, directory=base)
        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.http_url = f"http://127.0.0.1:{self.http.server_address[1]}"

    def close(self) -> None:
        if self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        if hasattr(self, "http"):
            self.http.shutdown()
            self.http.server_close()
