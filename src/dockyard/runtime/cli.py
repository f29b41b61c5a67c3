"""runc's command line. Imports stay lazy: this process starts for every
container operation, so only the verb being run is loaded."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

DEFAULT_ROOT = "/run/dockyard-runtime"
VERSION = "0.1.0"

# flag -> takes a value?
GLOBAL_FLAGS = {"--root": True, "--log": True, "--log-format": True, "--debug": False,
                "--systemd-cgroup": False, "--criu": True, "--rootless": True}
COMMAND_FLAGS: dict[str, dict[str, bool]] = {
    "create": {"--bundle": True, "-b": True, "--pid-file": True, "--console-socket": True,
               "--no-pivot": False, "--no-new-keyring": False, "--preserve-fds": True},
    "run": {"--bundle": True, "-b": True, "--pid-file": True, "--console-socket": True,
            "--no-pivot": False, "--no-new-keyring": False, "--preserve-fds": True,
            "--detach": False, "-d": False, "--keep": False},
    "start": {}, "state": {}, "pause": {}, "resume": {},
    "kill": {"--all": False, "-a": False},
    "delete": {"--force": False, "-f": False},
    "list": {"--format": True, "-f": True, "--quiet": False, "-q": False},
    "ps": {"--format": True, "-f": True},
    "spec": {"--bundle": True, "-b": True, "--rootless": False},
    "features": {},
    "events": {"--stats": False, "--interval": True},
    "exec": {"--process": True, "-p": True, "--tty": False, "-t": False, "--console-socket": True,
             "--detach": False, "-d": False, "--pid-file": True, "--cwd": True, "--env": True, "-e": True,
             "--user": True, "-u": True, "--cap": True, "-c": True, "--additional-gids": True, "-g": True,
             "--no-new-privs": False, "--preserve-fds": True, "--process-label": True,
             "--apparmor": True, "--ignore-paused": False, "--cgroup": True},
    "update": {"--resources": True, "-r": True, "--memory": True, "--memory-reservation": True,
               "--memory-swap": True, "--cpu-shares": True, "--cpu-quota": True, "--cpu-period": True,
               "--cpuset-cpus": True, "--cpuset-mems": True, "--pids-limit": True, "--blkio-weight": True},
}
REPEATABLE = {"--env", "-e", "--cap", "-c", "--additional-gids", "-g"}


class UsageError(Exception):
    pass


def parse(argv: list[str], spec: dict[str, bool]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {}
    args: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            args.extend(argv[i + 1:])
            break
        if a.startswith("-") and a != "-":
            name, eq, value = a.partition("=")
            if name not in spec:
                raise UsageError(f"flag provided but not defined: {name}")
            if spec[name]:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        raise UsageError(f"flag needs an argument: {name}")
                    value = argv[i]
                if name in REPEATABLE:
                    opts.setdefault(name, []).append(value)
                else:
                    opts[name] = value
            else:
                opts[name] = value.lower() not in ("false", "0") if eq else True
        else:
            args.append(a)
            if spec is GLOBAL_FLAGS:
                args.extend(argv[i + 1:])
                break
        i += 1
    return opts, args


def _opt(opts: dict[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if n in opts:
            return opts[n]
    return default


class Logger:
    """--log/--log-format json: errors go where containerd and the shim look."""

    def __init__(self, path: str | None, fmt: str, debug: bool) -> None:
        self.path, self.fmt, self.debug_enabled = path, fmt or "text", debug

    def error(self, msg: str) -> None:
        sys.stderr.write(f"dockyard-runtime: {msg}\n")
        if self.path:
            import time
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            line = json.dumps({"level": "error", "msg": msg, "time": ts}) if self.fmt == "json" \
                else f'time="{ts}" level=error msg="{msg}"'
            try:
                with open(self.path, "a") as f:
                    f.write(line + "\n")
            except OSError:
                pass


def _need_id(args: list[str], verb: str) -> str:
    if len(args) < 1:
        raise UsageError(f'"{verb}" requires a container id')
    return args[0]


def cmd_create(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from .create import create
    cid = _need_id(args, "create")
    create(root, cid, _opt(opts, "--bundle", "-b", default="."), _opt(opts, "--pid-file"),
           _opt(opts, "--console-socket"), bool(_opt(opts, "--no-pivot")),
           int(_opt(opts, "--preserve-fds", default=0) or 0) + _listen_fds())
    return 0


def _listen_fds() -> int:
    try:
        return int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return 0


def cmd_run(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    from .create import create
    cid = _need_id(args, "run")
    detach = bool(_opt(opts, "--detach", "-d"))
    s = create(root, cid, _opt(opts, "--bundle", "-b", default="."), _opt(opts, "--pid-file"),
               _opt(opts, "--console-socket"), bool(_opt(opts, "--no-pivot")),
               int(_opt(opts, "--preserve-fds", default=0) or 0) + _listen_fds(), subreaper=not detach)
    try:
        ops.start(root, cid)
    except BaseException:
        ops.delete(root, cid, force=True)
        raise
    if detach:
        return 0
    import signal
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda n, _f: _forward(s.pid, n))
    code = ops.wait_exit(s.pid)
    if not _opt(opts, "--keep"):
        ops.delete(root, cid, force=True)
    return code


def _forward(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def cmd_start(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    ops.start(root, _need_id(args, "start"))
    return 0


def cmd_state(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import state as st
    s = st.load(root, _need_id(args, "state"))
    sys.stdout.write(json.dumps(s.oci(), indent=2) + "\n")
    return 0


def cmd_kill(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    cid = _need_id(args, "kill")
    sig = ops.parse_signal(args[1] if len(args) > 1 else "TERM")
    ops.kill(root, cid, sig, bool(_opt(opts, "--all", "-a")))
    return 0


def cmd_delete(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    ops.delete(root, _need_id(args, "delete"), bool(_opt(opts, "--force", "-f")))
    return 0


def cmd_pause(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    ops.pause(root, _need_id(args, "pause"))
    return 0


def cmd_resume(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    ops.resume(root, _need_id(args, "resume"))
    return 0


def cmd_list(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    items = ops.list_containers(root)
    if _opt(opts, "--quiet", "-q"):
        for it in items:
            print(it["id"])
    elif _opt(opts, "--format", "-f", default="table") == "json":
        print(json.dumps(items))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(i["id"], str(i["pid"]), i["status"], i["bundle"], i["created"], i["owner"]) for i in items]
        widths = [max(len(r[k]) for r in rows) for k in range(6)]
        for r in rows:
            print("   ".join(v.ljust(widths[k]) for k, v in enumerate(r)).rstrip())
    return 0


def cmd_ps(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    pids = ops.ps_pids(root, _need_id(args, "ps"))
    if _opt(opts, "--format", "-f", default="table") == "json":
        print(json.dumps(pids))
        return 0
    import subprocess
    ps_args = args[1:] or ["-ef"]
    out = subprocess.run(["ps", *ps_args], stdout=subprocess.PIPE, check=True).stdout.decode()
    lines = out.splitlines()
    if not lines:
        return 0
    header = lines[0]
    cols = header.split()
    pid_col = cols.index("PID") if "PID" in cols else 1
    print(header)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
            print(line)
    return 0


def cmd_spec(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from .defaults import default_spec
    bundle = _opt(opts, "--bundle", "-b", default=".")
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise UsageError("File config.json exists. Remove it first")
    with open(path, "w") as f:
        json.dump(default_spec(rootless=bool(_opt(opts, "--rootless"))), f, indent="\t")
    return 0


def cmd_features(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from .defaults import features
    print(json.dumps(features(), indent="    "))
    return 0


COMMANDS: dict[str, Callable[[str, dict[str, Any], list[str]], int]] = {
    "create": cmd_create, "run": cmd_run, "start": cmd_start, "state": cmd_state, "kill": cmd_kill,
    "delete": cmd_delete, "pause": cmd_pause, "resume": cmd_resume, "list": cmd_list, "ps": cmd_ps,
    "spec": cmd_spec, "features": cmd_features,
}

USAGE = """usage: dockyard-runtime [global options] command [command options] [arguments...]

An OCI runtime with runc's command line.

commands:
  create     create a container
  start      executes the user defined process in a created container
  run        create and run a container
  state      output the state of a container
  kill       kill sends the specified signal (default: SIGTERM) to the container's init process
  delete     delete any resources held by the container often used with detached container
  pause      pause suspends all processes inside the container
  resume     resumes all processes that have been previously paused
  list       lists containers started by runtime with the given root
  ps         ps displays the processes running inside a container
  spec       create a new specification file
  features   show the enabled features

global options:
  --root value        root directory for storage of container state (default: "/run/dockyard-runtime")
  --log value         set the log file to write runtime logs to
  --log-format value  set the log format ('text' (default), or 'json')
  --debug             enable debug logging
  --systemd-cgroup    accepted for compatibility (cgroupfs is used)
  --version, -v       print the version
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("--version", "-v", "version"):
        print(f"dockyard-runtime version {VERSION}\nspec: 1.2.0")
        return 0
    if not argv or argv[0] in ("--help", "-h", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 1
    log = Logger(None, "text", False)
    try:
        gopts, rest = parse(argv, GLOBAL_FLAGS)
        log = Logger(gopts.get("--log"), gopts.get("--log-format", "text"), bool(gopts.get("--debug")))
        if not rest:
            raise UsageError("no command given")
        verb, rest = rest[0], rest[1:]
        if verb not in COMMANDS:
            from . import extra
            handler = extra.COMMANDS.get(verb) if hasattr(extra, "COMMANDS") else None
            if handler is None:
                raise UsageError(f"No help topic for '{verb}'")
        else:
            handler = COMMANDS[verb]
        opts, args = parse(rest, COMMAND_FLAGS.get(verb, {}))
        root = gopts.get("--root") or DEFAULT_ROOT
        return handler(root, opts, args)
    except UsageError as e:
        log.error(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # one line with the cause, never a traceback
        msg = str(e) or type(e).__name__
        if os.environ.get("DOCKYARD_RUNTIME_TRACEBACK"):
            import traceback
            traceback.print_exc()
        log.error(msg)
        return 1


if __name__ == "__main__":
    sys.exit(main())
