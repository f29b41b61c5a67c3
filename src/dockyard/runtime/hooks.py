"""OCI hooks: each gets the container state on stdin; a failing hook fails
the operation (except poststart/poststop, which only warn)."""

from __future__ import annotations

import os
import subprocess

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class HookError(Exception):
    pass


def run_hooks(hooks: list[dict[str, Any]] | None, state_json: str) -> None:
    for hook in hooks or []:
        path = hook.get("path", "")
        args = hook.get("args") or [path]
        env = dict(kv.split("=", 1) for kv in hook.get("env") or [] if "=" in kv)
        timeout = hook.get("timeout")
        try:
            res = subprocess.run(args, executable=path, input=state_json.encode(), env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 timeout=timeout, close_fds=True)
        except subprocess.TimeoutExpired:
            raise HookError(f"hook {path} timed out after {timeout}s") from None
        except OSError as e:
            raise HookError(f"hook {path}: {e.strerror}") from None
        if res.returncode != 0:
            detail = (res.stderr or res.stdout).decode(errors="replace").strip()
            raise HookError(f"hook {path} exited with status {res.returncode}: {detail}")


def run_hooks_warn(hooks: list[dict[str, Any]] | None, state_json: str) -> None:
    try:
        run_hooks(hooks, state_json)
    except HookError as e:
        os.write(2, f"warning: {e}\n".encode())
