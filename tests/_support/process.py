"""Server processes that tests start (dockyardd, registries): spawned with
their output in a log file, waited for until they answer, stopped with a
signal and killed if they do not exit in time."""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any, Callable


def spawn(args: list[str], log_path: str, preexec_fn: Any = None) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=preexec_fn)


def log_tail(log_path: str, limit: int = 20000) -> str:
    try:
        with open(log_path, errors="replace") as f:
            return f.read()[-limit:]
    except OSError:
        return ""


def wait_ready(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float, what: str,
               log_path: str) -> None:
    """Poll ready() until it is true; RuntimeError (with the log) when the
    process exits first or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log_tail(log_path)}")
        try:
            if ready():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer within {timeout}s:\n{log_tail(log_path)}")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15.0) -> bool:
    """Signal the process and reap it; True when it exited on its own after
    the signal (False: it was gone already, or had to be killed)."""
    if proc.poll() is not None:
        return False
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
