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


def cmd_run(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    from . import state as st
    from .create import create
    from .spec import load_spec
    cid = _need_id(args, "run")
    detach = bool(_opt(opts, "--detach", "-d"))
    bundle = fs.abspath(_opt(opts, "--bundle", "-b", default="."))
    spec = load_spec(bundle)
    console_socket = _opt(opts, "--console-socket")
    proxy = None
    if (spec.get("process") or {}).get("terminal") and not console_socket and not detach:
        # runc's foreground terminal: we hold the pty and copy our stdio through it.
        from .console import TerminalProxy
        proxy = TerminalProxy(root, cid)
        console_socket = proxy.path
    try:
        s = create(root, cid, bundle, _opt(opts, "--pid-file"), console_socket, bool(_opt(opts, "--no-pivot")),
                   _int_flag(opts, "--preserve-fds") + _listen_fds(), subreaper=not detach, spec=spec)
        try:
            if proxy is not None:
                proxy.receive()
            ops.release(root, s)
        except BaseException:
            ops.delete(root, cid, force=True)
            raise
        if detach:
            return 0
        code = proxy.pump(s.pid) if proxy is not None else ops.forward_and_wait(s.pid)
    finally:
        if proxy is not None:
            proxy.close()
    if not _opt(opts, "--keep"):
        s.status = st.STOPPED  # we reaped its init
        ops.destroy(root, s)
    return code


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


def cmd_list(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    items = ops.list_containers(root)
    if _opt(opts, "--quiet", "-q"):
        for it in items:
            print(it["id"])
    elif _opt(opts, "--format", "-f", default="table") == "json":
        from .jsonio import dumps
        print(dumps(items))
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
        from .jsonio import dumps
        print(dumps(pids))
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
    path = fs.join(bundle, "config.json")
    if fs.exists(path):
        raise UsageError("File config.json exists. Remove it first")
    from .jsonio import dumps_pretty
    with open(path, "w") as f:
        f.write(dumps_pretty(default_spec(rootless=bool(_opt(opts, "--rootless"))), "\t") + "\n")
    return 0


def cmd_features(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from .defaults import features
    from .jsonio import dumps_pretty
    print(dumps_pretty(features(), "    "))
    return 0


class ExecFailed(Exception):
    """exec could not run the process: runc exits 255 then."""


def cmd_exec(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from .exec_ import exec_process, load_process_file, process_from_args
    cid = _need_id(args, "exec")
    process_file = _opt(opts, "--process", "-p")
    if process_file:
        proc = load_process_file(process_file)
    else:
        if len(args) > 1 and args[1] == "--":
            args = [args[0]] + args[2:]
        if len(args) < 2:
            raise UsageError('"exec" requires a container id and a command, or --process')
        from . import state as st
        base = st.load_exec_config(root, cid).get("process") or {}
        proc = process_from_args(base, args[1:], {
            "cwd": _opt(opts, "--cwd"), "env": _opt(opts, "--env", "-e"), "tty": _opt(opts, "--tty", "-t"),
            "user": _opt(opts, "--user", "-u"), "caps": _opt(opts, "--cap", "-c"),
            "additional_gids": _opt(opts, "--additional-gids", "-g"),
            "no_new_privs": _opt(opts, "--no-new-privs"), "apparmor": _opt(opts, "--apparmor"),
            "process_label": _opt(opts, "--process-label")})
    detach = bool(_opt(opts, "--detach", "-d"))
    console_socket = _opt(opts, "--console-socket")
    proxy = None
    try:
        if proc.get("terminal") and not console_socket and not detach:
            from .console import TerminalProxy
            proxy = TerminalProxy(root, f"{cid}-exec")
            console_socket = proxy.path
        return exec_process(root, cid, proc, detach=detach, pid_file=_opt(opts, "--pid-file"),
                            console_socket=console_socket,
                            preserve_fds=_int_flag(opts, "--preserve-fds") + _listen_fds(),
                            ignore_paused=bool(_opt(opts, "--ignore-paused")),
                            sub_cgroup=_opt(opts, "--cgroup", default="") or "", proxy=proxy)
    except Exception as e:
        raise ExecFailed(str(e) or type(e).__name__) from e
    finally:
        if proxy is not None:
            proxy.close()


def _int_flag(opts: dict[str, Any], name: str) -> int:
    value = opts.get(name)
    if value in (None, ""):
        return 0
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"invalid value {value!r} for flag {name}") from None


def parse_bytes(value: str, flag: str) -> int:
    """docker/go-units RAMInBytes ("512m", "1g", "1024"), and -1 for unlimited."""
    v = value.strip().lower()
    if v == "-1":
        return -1
    units = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
             "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
             "tib": 1 << 40, "p": 1 << 50, "pb": 1 << 50, "pib": 1 << 50}
    num = v.rstrip("abgikmpt")
    suffix = v[len(num):]
    try:
        n = float(num)
    except ValueError:
        n = -1.0
    if suffix not in units or n < 0:
        raise UsageError(f"invalid value {value!r} for flag {flag}: invalid size")
    return int(n * units[suffix])


def _num(value: str, flag: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"invalid value {value!r} for flag {flag}") from None


def update_resources(opts: dict[str, Any], stdin: Any = None) -> dict[str, Any]:
    """runc update's resources: the -r JSON (file or - for stdin), else the flags."""
    source = _opt(opts, "--resources", "-r")
    if source:
        from .jsonio import loads
        try:
            if source == "-":
                data = (stdin or sys.stdin.buffer).read()
            else:
                with open(source, "rb") as f:
                    data = f.read()
            res = loads(data)
        except OSError as e:
            raise UsageError(f"reading resources {source}: {e.strerror}") from None
        except ValueError as e:
            raise UsageError(f"resources: invalid JSON: {e}") from None
        if not isinstance(res, dict):
            raise UsageError("resources: must be a JSON object")
        _check_resources(res)
        return res
    res: dict[str, Any] = {}
    mem: dict[str, Any] = {}
    for flag, key in (("--memory", "limit"), ("--memory-reservation", "reservation"), ("--memory-swap", "swap"),
                      ("--kernel-memory", "kernel"), ("--kernel-memory-tcp", "kernelTCP")):
        if opts.get(flag) is not None:
            mem[key] = parse_bytes(opts[flag], flag)
    cpu: dict[str, Any] = {}
    for flag, key in (("--cpu-share", "shares"), ("--cpu-shares", "shares"), ("--cpu-quota", "quota"),
                      ("--cpu-period", "period"), ("--cpu-burst", "burst"),
                      ("--cpu-rt-period", "realtimePeriod"), ("--cpu-rt-runtime", "realtimeRuntime")):
        if opts.get(flag) is not None:
            cpu[key] = _num(opts[flag], flag)
    for flag, key in (("--cpuset-cpus", "cpus"), ("--cpuset-mems", "mems")):
        if opts.get(flag) is not None:
            cpu[key] = opts[flag]
    if mem:
        res["memory"] = mem
    if cpu:
        res["cpu"] = cpu
    if opts.get("--pids-limit") is not None:
        res["pids"] = {"limit": _num(opts["--pids-limit"], "--pids-limit")}
    if opts.get("--blkio-weight") is not None:
        res["blockIO"] = {"weight": _num(opts["--blkio-weight"], "--blkio-weight")}
    for flag in ("--l3-cache-schema", "--mem-bw-schema"):
        if opts.get(flag):
            raise UsageError(f"{flag}: Intel RDT is not supported")
    return res


def _check_resources(res: dict[str, Any]) -> None:
    for section, ints in (("memory", ("limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness")),
                          ("cpu", ("shares", "quota", "period", "burst", "realtimeRuntime", "realtimePeriod")),
                          ("pids", ("limit",)), ("blockIO", ("weight", "leafWeight"))):
        sec = res.get(section)
        if sec is None:
            continue
        if not isinstance(sec, dict):
            raise UsageError(f"resources.{section}: must be an object")
        for k in ints:
            v = sec.get(k)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                raise UsageError(f"resources.{section}.{k}: must be an integer")


def cmd_update(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    cid = _need_id(args, "update")
    ops.update(root, cid, update_resources(opts))
    return 0


def cmd_events(root: str, opts: dict[str, Any], args: list[str]) -> int:
    from . import ops
    from .jsonio import dumps
    cid = _need_id(args, "events")
    if _opt(opts, "--stats"):
        print(dumps({"type": "stats", "id": cid, "data": ops.stats(root, cid)}))
        return 0
    interval = _duration(_opt(opts, "--interval", default="5s"))

    def write(event: dict[str, Any]) -> None:
        sys.stdout.write(dumps(event) + "\n")
        sys.stdout.flush()
    ops.events(root, cid, interval, write)
    return 0


def _duration(value: str) -> float:
    """Go's time.ParseDuration for the units runc users write (5s, 500ms, 1m)."""
    for suffix, scale in (("ms", 0.001), ("us", 1e-6), ("ns", 1e-9), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if value.endswith(suffix):
            try:
                d = float(value[:-len(suffix)]) * scale
            except ValueError:
                break
            if d > 0:
                return d
            break
    raise UsageError(f"invalid duration {value!r}")


COMMANDS: "dict[str, Callable[[str, dict[str, Any], list[str]], int]]" = {
    "create": cmd_create, "run": cmd_run, "start": cmd_start, "state": cmd_state, "kill": cmd_kill,
    "delete": cmd_delete, "pause": cmd_pause, "resume": cmd_resume, "list": cmd_list, "ps": cmd_ps,
    "spec": cmd_spec, "features": cmd_features, "exec": cmd_exec, "update": cmd_update, "events": cmd_events,
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
    freeing modules that the kernel frees anyway)."""
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
