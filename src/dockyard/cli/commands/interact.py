"""exec and attach: interactive sessions with a running container."""

from __future__ import annotations

import os
import sys

from ... import errdefs
from ..errors import CLIError, StatusError
from . import opts as o
from .common import REMAINDER, Parser, client, daemon_call, daemon_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def cmd_exec(argv: list[str], gopts: dict) -> int:
    from .run import detach_keys_for
    from ..streams import check_tty, session, terminal_size
    p = Parser(prog="dockyard exec", usage="dockyard exec [OPTIONS] CONTAINER COMMAND [ARG...]", interspersed=False,
               min_args=2)
    p.add_argument("-d", "--detach", action="store_true", help="Detached mode: run command in the background")
    p.add_argument("--detach-keys", default="", help="Override the key sequence for detaching a container")
    p.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    p.add_argument("--env-file", action="append", default=[], help="Read in a file of environment variables")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    p.add_argument("--privileged", action="store_true", help="Give extended privileges to the command")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("-u", "--user", default="", help='Username or UID (format: "<name|uid>[:<group|gid>]")')
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    p.add_argument("container")
    p.add_argument("command", nargs=REMAINDER)
    a = p.parse_args(argv)
    try:
        env = []
        for f in a.env_file:
            env += o.read_kv_file(f, env=True)
        env += [o.env_value(e) for e in a.env]
    except ValueError as e:
        raise CLIError(str(e), 1) from None
    api = client(gopts)
    daemon_call(api.container_inspect, a.container)  # "No such container" before anything else, as docker
    attach_stdin = a.interactive and not a.detach
    if not a.detach:
        check_tty(attach_stdin, a.tty)
    keys_spec, keys = detach_keys_for(gopts, a.detach_keys)
    config: dict[str, Any] = {
        "User": a.user, "Privileged": a.privileged, "Tty": a.tty, "AttachStdin": attach_stdin,
        "AttachStdout": not a.detach, "AttachStderr": not a.detach, "Env": env or None,
        "Cmd": list(a.command), "WorkingDir": a.workdir, "DetachKeys": keys_spec,
    }
    if a.tty:
        h, w = terminal_size()
        if h and w:
            config["ConsoleSize"] = [h, w]
    res = daemon_call(api.exec_create, a.container, config)
    exec_id = res.get("Id") or res.get("ID")
    if not exec_id:
        raise CLIError("exec ID empty", 1)
    if a.detach:
        daemon_call(api.exec_start_detached, exec_id, a.tty)
        return 0
    sock, leftover = daemon_call(api.exec_start_attached, exec_id, a.tty)
    outcome = session(sock, leftover, a.tty, attach_stdin, keys, lambda h, w: api.exec_resize(exec_id, h, w),
                      a.tty and os.isatty(sys.stdin.fileno()))
    if outcome == "detached":
        return 0
    try:
        info = api.exec_inspect(exec_id)
    except errdefs.EngineError as e:
        from ...client import DaemonUnreachable
        if isinstance(e, DaemonUnreachable):
            return 255
        raise daemon_error(e) from None
    code = info.get("ExitCode")
    return int(code) if code is not None else 0


def cmd_attach(argv: list[str], gopts: dict) -> int:
    from .run import detach_keys_for
    from ..streams import SignalProxy, check_tty, session
    p = Parser(prog="dockyard attach", usage="dockyard attach [OPTIONS] CONTAINER")
    p.add_argument("--detach-keys", default="", help="Override the key sequence for detaching a container")
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("--sig-proxy", action="store_true", default=True, help="Proxy all received signals to the process")
    p.add_argument("container")
    a = p.parse_args(argv)
    api = client(gopts)
    wait = daemon_call(api.container_wait_open, a.container)
    info = _check_attachable(api, a.container)
    cid = info["Id"]
    tty = bool(info["Config"].get("Tty"))
    stdin = not a.no_stdin and bool(info["Config"].get("OpenStdin"))
    check_tty(stdin, tty)
    keys_spec, keys = detach_keys_for(gopts, a.detach_keys)
    proxy = SignalProxy(lambda sig: api.container_kill(cid, sig)) if (a.sig_proxy and not tty) else None
    if proxy:
        proxy.__enter__()
    try:
        sock, leftover = daemon_call(api.container_attach, cid, stdin, True, True, detach_keys=keys_spec)
        _check_attachable(api, cid)
        outcome = session(sock, leftover, tty, stdin, keys, lambda h, w: api.container_resize(cid, h, w),
                          tty and os.isatty(sys.stdout.fileno()))
    finally:
        if proxy:
            proxy.__exit__()
    if outcome == "detached":
        wait.close()
        raise CLIError("read escape sequence", 1)
    res = api.wait_result(wait)
    if res.get("Error") and res["Error"].get("Message"):
        raise CLIError(res["Error"]["Message"], 1)
    status = int(res.get("StatusCode", 0))
    if status:
        raise StatusError(status)
    return 0


def _check_attachable(api: Any, name: str) -> dict[str, Any]:
    info = daemon_call(api.container_inspect, name)
    state = info.get("State") or {}
    if not state.get("Running"):
        raise CLIError("You cannot attach to a stopped container, start it first", 1)
    if state.get("Paused"):
        raise CLIError("You cannot attach to a paused container, unpause it first", 1)
    if state.get("Restarting"):
        raise CLIError("You cannot attach to a restarting container, wait until it is running", 1)
    return info
