"""The runtime's verbs that are not on the path of a container's create,
start, kill and delete (see cli.py, which loads this module only for them):
run, exec, list, ps, spec, features, update and events."""

import sys

from .._sys import fs
from .cli import ExecFailed, UsageError, _int_flag, _listen_fds, _need_id, _opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
else:
    # Annotations are evaluated here (no `from __future__ import annotations`:
    # importing __future__ costs 0.2 ms at every start of the runtime).
    Any = object


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
    import gc
    gc.enable()  # runs as long as the container: collect as usual (entry() turned it off)

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
