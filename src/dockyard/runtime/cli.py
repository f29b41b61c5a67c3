"""runc's command line. Imports stay lazy: this process starts for every
container operation, so only the verb being run is loaded."""

import posix
import sys

from .._sys import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable
else:
    # Annotations are evaluated here (no `from __future__ import annotations`:
    # importing __future__ costs 0.2 ms at every start of the runtime).
    Any = Callable = object

DEFAULT_ROOT = "/run/dockyard-runtime"
VERSION = "0.1.0"

# flag -> takes a value?
GLOBAL_FLAGS = {"--root": True, "--log": True, "--log-format": True, "--debug": False,
                "--systemd-cgroup": False, "--criu": True, "--rootless": True, "--version": False, "-v": False,
                "--help": False, "-h": False}
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
               "--memory-swap": True, "--kernel-memory": True, "--kernel-memory-tcp": True,
               "--cpu-share": True, "--cpu-shares": True, "--cpu-quota": True, "--cpu-period": True,
               "--cpu-burst": True, "--cpu-rt-period": True, "--cpu-rt-runtime": True,
               "--cpuset-cpus": True, "--cpuset-mems": True, "--pids-limit": True, "--blkio-weight": True,
               "--l3-cache-schema": True, "--mem-bw-schema": True},
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
            if spec is GLOBAL_FLAGS or spec is COMMAND_FLAGS["exec"] or spec is COMMAND_FLAGS["ps"]:
                # The verb, or exec's/ps's container id: what follows belongs
                # to the command or to ps(1) (runc's SkipArgReorder).
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
            from .jsonio import dumps
            line = dumps({"level": "error", "msg": msg, "time": ts}) if self.fmt == "json" \
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
           _int_flag(opts, "--preserve-fds") + _listen_fds())
    return 0


def _listen_fds() -> int:
    try:
        return int(fs.getenv("LISTEN_FDS", "0"))
    except ValueError:
        return 0


def cmd_start(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    ops.start(root, _need_id(args, "start"))
    return 0


def cmd_state(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import state as st
    from .jsonio import dumps_pretty
    s = st.load(root, _need_id(args, "state"))
    sys.stdout.write(dumps_pretty(s.oci()) + "\n")
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


class ExecFailed(Exception):
    """exec could not run the process: runc exits 255 then."""


def _int_flag(opts: dict[str, Any], name: str) -> int:
    value = opts.get(name)
    if value in (None, ""):
        return 0
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"invalid value {value!r} for flag {name}") from None


# A verb's handler here, or the name of its function in commands.py (loaded
# only for those verbs: a container's create, start, kill and delete skip it).
COMMANDS: "dict[str, Callable[[str, dict[str, Any], list[str]], int] | str]" = {
    "create": cmd_create, "run": "cmd_run", "start": cmd_start, "state": cmd_state, "kill": cmd_kill,
    "delete": cmd_delete, "pause": cmd_pause, "resume": cmd_resume, "list": "cmd_list", "ps": "cmd_ps",
    "spec": "cmd_spec", "features": "cmd_features", "exec": "cmd_exec", "update": "cmd_update",
    "events": "cmd_events",
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
  exec       execute new process inside the container
  update     update container resource constraints
  events     display container events such as OOM notifications and cpu, memory, and IO usage statistics
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
        if gopts.get("--version") or gopts.get("-v"):
            print(f"dockyard-runtime version {VERSION}\nspec: 1.2.0")
            return 0
        if gopts.get("--help") or gopts.get("-h"):
            sys.stdout.write(USAGE)
            return 0
        log = Logger(gopts.get("--log"), gopts.get("--log-format", "text"), bool(gopts.get("--debug")))
        if not rest:
            raise UsageError("no command given")
        verb, rest = rest[0], rest[1:]
        handler = COMMANDS.get(verb)
        if handler is None:
            raise UsageError(f"No help topic for '{verb}'")
        opts, args = parse(rest, COMMAND_FLAGS.get(verb, {}))
        if isinstance(handler, str):
            from . import commands
            handler = getattr(commands, handler)
        root = gopts.get("--root") or DEFAULT_ROOT
        if verb in ("create", "run", "exec"):
            # They wait for children: an inherited SIGCHLD SIG_IGN would
            # have the kernel reap them first (waitpid: ECHILD).
            from .._sys import libc
            libc.set_signal_disposition(libc.SIGCHLD, libc.SIG_DFL)
        return handler(root, opts, args)
    except UsageError as e:
        log.error(str(e))
        return 1
    except ExecFailed as e:
        if fs.getenv("DOCKYARD_RUNTIME_TRACEBACK"):
            import traceback
            traceback.print_exception(e.__cause__ or e)
        log.error(str(e))
        return 255
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # one line with the cause, never a traceback
        msg = str(e) or type(e).__name__
        if fs.getenv("DOCKYARD_RUNTIME_TRACEBACK"):
            import traceback
            traceback.print_exc()
        log.error(msg)
        return 1


def _verb(argv: list[str]) -> str:
    """The command word, found without parsing everything."""
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = GLOBAL_FLAGS.get(a, False)
        else:
            return a
    return ""


def _trace_modules(path: str) -> None:
    """For tests: one JSON line a command, what it imported and how its
    seccomp filters were found (see seccomp.py)."""
    from .jsonio import dumps
    sc = sys.modules.get("dockyard.runtime.seccomp")
    line = dumps({"verb": _verb(sys.argv[1:]), "modules": sorted(sys.modules),
                  "seccomp": getattr(sc, "stats", None)})
    with open(path, "a") as f:
        f.write(line + "\n")


def entry() -> None:
    """main(), then exit without the interpreter's teardown (a few ms of
    freeing modules that the kernel frees anyway). The cycle collector is
    off: a command allocates its modules and a few objects, frees almost
    nothing, and exits, so its passes (several while modules load) would be
    wasted work; init inherits this until it execs the container."""
    import gc
    gc.disable()
    if _verb(sys.argv[1:]) == "exec":  # create and run need no move by pid, mostly (create.py)
        from ..cgroups.common import start_attach_grace_period
        start_attach_grace_period()
    code = main()
    trace = fs.getenv("DOCKYARD_RUNTIME_MODULES_FILE")
    if trace:
        _trace_modules(trace)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    posix._exit(code)


if __name__ == "__main__":
    entry()
