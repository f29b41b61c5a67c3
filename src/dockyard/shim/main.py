"""dockyard-shim's command line: ``start`` creates the container through the
runtime and leaves a detached server behind; ``delete`` cleans up after a
shim that died."""

from __future__ import annotations

import json
import os
import sys
import time
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of the long-lived shim's memory
    from typing import Any

USAGE = "usage: dockyard-shim start --id ID --bundle DIR --socket PATH --runtime BIN [options]\n" \
        "       dockyard-shim delete --id ID --bundle DIR --runtime BIN [--runtime-root DIR]\n" \
        "       dockyard-shim standby [--state-dir DIR]   (then the start flags as one JSON list on stdin)\n"

VALUE_FLAGS = {"--id", "--bundle", "--socket", "--runtime", "--runtime-root", "--log-path", "--log-driver",
               "--log-opt", "--debug-log"}
BOOL_FLAGS = {"--stdin", "--tty"}


def parse(argv: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {"log_opts": {}}
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, value = a.partition("=")
        if name in VALUE_FLAGS:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise SystemExit(f"dockyard-shim: flag needs an argument: {name}")
                value = argv[i]
            if name == "--log-opt":
                k, _, v = value.partition("=")
                opts["log_opts"][k] = v
            else:
                opts[name[2:].replace("-", "_")] = value
        elif name in BOOL_FLAGS:
            opts[name[2:]] = True
        else:
            raise SystemExit(f"dockyard-shim: unknown flag {a}\n{USAGE}")
        i += 1
    for required in ("id", "bundle", "runtime"):
        if required not in opts:
            raise SystemExit(f"dockyard-shim: --{required} is required\n{USAGE}")
    return opts


def _print(msg: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def cmd_start(opts: dict[str, Any]) -> int:
    if "socket" not in opts:
        raise SystemExit("dockyard-shim: --socket is required")
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        data = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        os.close(r)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        if not data:
            _print({"error": {"kind": "Internal", "message": "shim exited during start"}})
            return 1
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        # The daemon waits for this process to end: skip the interpreter's
        # teardown (a standby has the whole shim loaded), nothing is left to flush.
        os._exit(0 if b'"error"' not in data else 1)
    os.close(r)
    # First child: new session, then fork again so the server is not a
    # session leader and is reparented away from the caller.
    os.setsid()
    if os.fork():
        os._exit(0)
    _serve(opts, w)
    os._exit(0)


def _serve(opts: dict[str, Any], ready_fd: int) -> None:
    from .._sys import consts, libc
    os.chdir(opts["bundle"])
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    log_fd = os.open(opts["debug_log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) \
        if opts.get("debug_log") else devnull
    os.dup2(devnull, 1)
    os.dup2(log_fd, 2)
    libc.prctl(consts.PR_SET_CHILD_SUBREAPER, 1)
    libc.set_process_name("dockyard-shim")
    from .server import Server
    server = Server(opts)
    server.install_sigchld()
    try:
        t0 = time.monotonic()
        pid = server.create_container()
        server.listen(opts["socket"])
        # runtime_create_ms and the monotonic (system-wide) times: where a
        # start's time goes (the daemon's debug log shows them).
        msg = {"address": opts["socket"], "shim_pid": os.getpid(), "pid": pid,
               "runtime_create_ms": round((time.monotonic() - t0) * 1000, 1),
               "t_flags": opts.get("t_flags", 0.0), "t_create": t0}
    except Exception as e:
        from .runtime_client import RuntimeFailed
        kind = "InvalidArgument" if isinstance(e, RuntimeFailed) else "Internal"
        os.write(ready_fd, (json.dumps({"error": {"kind": kind, "message": str(e)}}) + "\n").encode())
        os.close(ready_fd)
        try:
            server.runtime.delete(opts["id"], force=True)
        except Exception:
            pass
        os._exit(1)
    with open(os.path.join(opts["bundle"], "shim.pid"), "w") as f:
        f.write(str(os.getpid()))
    os.write(ready_fd, (json.dumps(msg) + "\n").encode())
    os.close(ready_fd)
    try:
        server.serve()
    finally:
        server.finish()


def cmd_delete(opts: dict[str, Any]) -> int:
    """Cleanup when the shim is gone: force-delete the container in the runtime."""
    from .runtime_client import RuntimeClient, RuntimeFailed
    rc = RuntimeClient(opts["runtime"], opts.get("runtime_root"), os.path.join(opts["bundle"], "runtime.log"))
    try:
        rc.delete(opts["id"], force=True)
    except RuntimeFailed as e:
        if "does not exist" not in str(e):
            _print({"error": {"kind": "Internal", "message": str(e)}})
            return 1
    _print({})
    return 0


def cmd_standby() -> int:
    """A shim started ahead of need: everything a start needs is loaded,
    then it waits for the start's flags (one JSON list on stdin) and goes on
    as `start` would. It takes the interpreter's start-up off the critical
    path of `docker run`. EOF on stdin (the daemon went away) ends it."""
    from .._sys import consts, libc  # noqa: F401
    from . import server  # noqa: F401
    line = sys.stdin.readline()
    t_flags = time.monotonic()
    if not line.strip():
        return 0
    args = json.loads(line)
    if not isinstance(args, list) or not args or args[0] != "start":
        _print({"error": {"kind": "InvalidArgument", "message": "standby: expected start flags"}})
        return 1
    opts = parse([str(a) for a in args[1:]])
    opts["t_flags"] = t_flags
    return cmd_start(opts)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 1
    verb, rest = argv[0], argv[1:]
    if verb == "standby":
        return cmd_standby()
    opts = parse(rest)
    if verb == "start":
        return cmd_start(opts)
    if verb == "delete":
        return cmd_delete(opts)
    sys.stderr.write(f"dockyard-shim: unknown command {verb!r}\n{USAGE}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
