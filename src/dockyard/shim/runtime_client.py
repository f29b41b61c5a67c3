"""The OCI runtime's command line as typed calls (like go-runc). The shim
talks to the runtime only through this."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any


class RuntimeFailed(Exception):
    pass


class RuntimeClient:
    def __init__(self, binary: str, root: str | None, log_path: str) -> None:
        self.binary = binary
        self.root = root
        self.log_path = log_path

    def _base(self) -> list[str]:
        args = [self.binary]
        if self.root:
            args += ["--root", self.root]
        args += ["--log", self.log_path, "--log-format", "json"]
        return args

    def _run(self, args: list[str], stdin: int | None = subprocess.DEVNULL, stdout: int | None = None,
             stderr: int | None = None, capture: bool = True) -> str:
        proc = subprocess.run(self._base() + args, stdin=stdin,
                              stdout=subprocess.PIPE if capture else stdout,
                              stderr=subprocess.PIPE if capture else stderr, close_fds=True)
        if proc.returncode != 0:
            raise RuntimeFailed(self.last_error() or (proc.stderr or b"").decode(errors="replace").strip()
                                or f"{args[0]} exited with status {proc.returncode}")
        return (proc.stdout or b"").decode(errors="replace") if capture else ""

    def last_error(self) -> str:
        """The runtime's last error line from its JSON log."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().splitlines()
        except OSError:
            return ""
        for line in reversed(lines):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("level") == "error":
                return str(rec.get("msg", ""))
        return ""

    def create(self, cid: str, bundle: str, pid_file: str, stdio: tuple[int, int, int],
               console_socket: str | None = None) -> None:
        args = ["create", "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        # Stdio goes straight to the container: the runtime must not hold pipes of ours.
        proc = subprocess.run(self._base() + args + [cid], stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                              close_fds=True)
        if proc.returncode != 0:
            raise RuntimeFailed(self.last_error() or f"runtime create exited with status {proc.returncode}")

    def start(self, cid: str) -> None:
        self._run(["start", cid])

    def kill(self, cid: str, signal: int, all_: bool = False) -> None:
        self._run(["kill"] + (["--all"] if all_ else []) + [cid, str(signal)])

    def delete(self, cid: str, force: bool = False) -> None:
        self._run(["delete"] + (["--force"] if force else []) + [cid])

    def state(self, cid: str) -> dict[str, Any]:
        return json.loads(self._run(["state", cid]))

    def pause(self, cid: str) -> None:
        self._run(["pause", cid])

    def resume(self, cid: str) -> None:
        self._run(["resume", cid])

    def ps(self, cid: str) -> list[int]:
        return json.loads(self._run(["ps", "--format", "json", cid]) or "[]")

    def update(self, cid: str, resources: dict[str, Any]) -> None:
        r, w = os.pipe()
        os.write(w, json.dumps(resources).encode())
        os.close(w)
        try:
            self._run(["update", "--resources", "-", cid], stdin=r)
        finally:
            os.close(r)

    def exec(self, cid: str, process_file: str, pid_file: str, stdio: tuple[int, int, int],
             console_socket: str | None = None) -> None:
        args = ["exec", "--process", process_file, "--detach", "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        proc = subprocess.run(self._base() + args + [cid], stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                              close_fds=True)
        if proc.returncode != 0:
            raise RuntimeFailed(self.last_error() or f"runtime exec exited with status {proc.returncode}")
