"""Container commands: start, stop, restart, kill, pause, unpause, rm, logs,
wait, top, port, rename, diff, export, commit, container prune."""

from __future__ import annotations

import os
import sys

from ... import errdefs
from ..errors import CLIError, StatusError
from .common import (Parser, client, confirm, daemon_call, daemon_error, each, parse_filters, print_prune,
                     split_name_tag)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def cmd_start(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard start", usage="dockyard start [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals")
    p.add_argument("--checkpoint", default="", help="Restore from this checkpoint")
    p.add_argument("--checkpoint-dir", default="", help="Use a custom checkpoint storage directory")
    p.add_argument("--detach-keys", default="", help="Override the key sequence for detaching a container")
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    a = p.parse_args(argv)
    if a.checkpoint or a.checkpoint_dir:
        raise CLIError("checkpoints are not supported by dockyard", 1)
    api = client(gopts)
    if a.attach or a.interactive:
        if len(a.containers) > 1:
            raise CLIError("you cannot start and attach multiple containers at once", 1)
        return _start_attached(api, a.containers[0], a, gopts)
    errors = []
    for c in a.containers:
        try:
            api.container_start(c)
            sys.stdout.write(c + "\n")
        except errdefs.EngineError as e:
            errors.append(daemon_error(e).args[0])
    if errors:
        errors.append("Error: failed to start containers: " + ", ".join(
            c for c in a.containers))
        raise CLIError("\n".join(errors), 1)
    return 0


def _start_attached(api: Any, name: str, a: Any, gopts: dict) -> int:
    """docker start -a/-i: attach first, then start, stream, exit status."""
    from .run import detach_keys_for, start_error_status
    from ..streams import SignalProxy, check_tty, session
    info = daemon_call(api.container_inspect, name)
    cid = info["Id"]
    tty = bool(info["Config"].get("Tty"))
    stdin = bool(a.interactive and info["Config"].get("OpenStdin"))
    check_tty(stdin, tty)
    if info.get("State", {}).get("Restarting"):
        raise CLIError("You cannot attach to a restarting container, wait until it is running", 1)
    keys_spec, keys = detach_keys_for(gopts, a.detach_keys)
    proxy = SignalProxy(lambda sig: api.container_kill(cid, sig)) if not tty else None
    if proxy:
        proxy.__enter__()
    try:
        sock, leftover = daemon_call(api.container_attach, cid, stdin, True, True, detach_keys=keys_spec)
        wait = daemon_call(api.container_wait_open, cid,
                           "removed" if info["HostConfig"].get("AutoRemove") else "next-exit")
        try:
            api.container_start(cid)
        except errdefs.EngineError as e:
            sock.close()
            msg = daemon_error(e).args[0]
            sys.stderr.write(msg + "\n")
            raise StatusError(start_error_status(msg) if "executable" in msg else 1) from None
        outcome = session(sock, leftover, tty, stdin, keys, lambda h, w: api.container_resize(cid, h, w),
                          tty and os.isatty(sys.stdout.fileno()))
        if outcome == "detached":
            wait.close()
            return 0
        res = api.wait_result(wait)
        return int(res.get("StatusCode", 0))
    finally:
        if proxy:
            proxy.__exit__()


def _stop_parser(name: str, verb: str) -> Parser:
    p = Parser(prog=f"dockyard {name}", usage=f"dockyard {name} [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-s", "--signal", default="", help="Signal to send to the container")
    p.add_argument("-t", "--timeout", type=int, default=None, help="Seconds to wait before killing the container")
    p.add_argument("--time", type=int, dest="timeout", hidden=True)
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    return p


def cmd_stop(argv: list[str], gopts: dict) -> int:
    a = _stop_parser("stop", "stop").parse_args(argv)
    api = client(gopts)
    return each(a.containers, lambda c: api.container_stop(c, a.timeout, a.signal or None))


def cmd_restart(argv: list[str], gopts: dict) -> int:
    a = _stop_parser("restart", "restart").parse_args(argv)
    api = client(gopts)
    return each(a.containers, lambda c: api.container_restart(c, a.timeout, a.signal or None))


def cmd_kill(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard kill", usage="dockyard kill [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-s", "--signal", default="", help="Signal to send to the container")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    a = p.parse_args(argv)
    api = client(gopts)
    return each(a.containers, lambda c: api.container_kill(c, a.signal or None))


def cmd_pause(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard pause", usage="dockyard pause CONTAINER [CONTAINER...]")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    a = p.parse_args(argv)
    api = client(gopts)
    return each(a.containers, api.container_pause)


def cmd_unpause(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard unpause", usage="dockyard unpause CONTAINER [CONTAINER...]")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    a = p.parse_args(argv)
    api = client(gopts)
    return each(a.containers, api.container_unpause)


def cmd_rm(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard rm", usage="dockyard rm [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of a running container (uses SIGKILL)")
    p.add_argument("-l", "--link", action="store_true", help="Remove the specified link")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes associated with the container")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    a = p.parse_args(argv)
    api = client(gopts)
    names = [c.strip("/") for c in a.containers if c.strip("/")]
    if len(names) != len(a.containers):
        raise CLIError("Error: container name cannot be empty", 1)
    errors, failed = [], False
    for n in names:
        try:
            api.container_remove(n, a.force, a.volumes, a.link)
        except errdefs.EngineError as e:
            errors.append(daemon_error(e).args[0])
            # with -f a container that is not there is reported, not a failure (as docker)
            failed = failed or not (a.force and isinstance(e, errdefs.NotFound))
            continue
        sys.stdout.write(n + "\n")
    if errors:
        sys.stdout.flush()
        sys.stderr.write("\n".join(errors) + "\n")
    return 1 if failed else 0


def cmd_logs(argv: list[str], gopts: dict) -> int:
    from ..streams import Demuxer
    p = Parser(prog="dockyard logs", usage="dockyard logs [OPTIONS] CONTAINER")
    p.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("--since", default="",
                   help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    p.add_argument("-n", "--tail", default="all", help="Number of lines to show from the end of the logs")
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--until", default="",
                   help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
    p.add_argument("container")
    a = p.parse_args(argv)
    api = client(gopts)
    info = daemon_call(api.container_inspect, a.container)
    q = {"stdout": 1, "stderr": 1, "follow": 1 if a.follow else None, "tail": a.tail,
         "timestamps": 1 if a.timestamps else None, "details": 1 if a.details else None,
         "since": to_api_time(a.since) if a.since else None, "until": to_api_time(a.until) if a.until else None}
    resp = daemon_call(api.container_logs, info["Id"], q)
    demux = Demuxer(bool(info["Config"].get("Tty")))
    try:
        for chunk in resp.iter_chunks():
            demux.feed(chunk)
    finally:
        resp.close()
    return 0


def to_api_time(value: str) -> str:
    """docker's timetypes.GetTimestamp: relative durations ("42m") become
    seconds since the epoch; RFC 3339 dates and plain numbers pass through
    as the API takes them."""
    import time
    from .opts import duration_ns
    v = value.strip()
    try:
        float(v)
        return v
    except ValueError:
        pass
    try:
        d = duration_ns(v)
        return f"{time.time() - d / 1e9:.9f}"
    except ValueError:
        pass
    from ..format import parse_timestamp
    t = parse_timestamp(v if "T" in v else v + "T00:00:00Z") if v[:4].isdigit() else None
    if t is None:
        raise CLIError(f'invalid value for "since"/"until": {value}', 1)
    return f"{t:.9f}"


def cmd_wait(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard wait", usage="dockyard wait CONTAINER [CONTAINER...]")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    a = p.parse_args(argv)
    api = client(gopts)
    errors = []
    for c in a.containers:
        try:
            res = api.wait_result(api.container_wait_open(c))
            if res.get("Error") and res["Error"].get("Message"):
                errors.append(res["Error"]["Message"])
                continue
            sys.stdout.write(f"{res.get('StatusCode', 0)}\n")
            sys.stdout.flush()
        except errdefs.EngineError as e:
            errors.append(daemon_error(e).args[0])
    if errors:
        raise CLIError("\n".join(errors), 1)
    return 0


def cmd_top(argv: list[str], gopts: dict) -> int:
    from ..format import print_table
    p = Parser(prog="dockyard top", usage="dockyard top CONTAINER [ps OPTIONS]", interspersed=False)
    p.add_argument("container")
    p.add_argument("ps_args", nargs="*", metavar="ps OPTIONS")
    a = p.parse_args(argv)
    res = daemon_call(client(gopts).container_top, a.container, " ".join(a.ps_args) or None)
    print_table(res.get("Titles") or [], [list(r) for r in res.get("Processes") or []], minwidth=20)
    return 0


def cmd_port(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard port", usage="dockyard port CONTAINER [PRIVATE_PORT[/PROTO]]")
    p.add_argument("container")
    p.add_argument("port", nargs="?", default="")
    a = p.parse_args(argv)
    info = daemon_call(client(gopts).container_inspect, a.container)
    ports = ((info.get("NetworkSettings") or {}).get("Ports") or {})

    def show(binding: dict[str, str]) -> str:
        ip = binding.get("HostIp") or "0.0.0.0"
        if ":" in ip:
            ip = f"[{ip}]"
        return f"{ip}:{binding.get('HostPort', '')}"

    if a.port:
        port, _, proto = a.port.partition("/")
        key = f"{port}/{proto or 'tcp'}"
        if not port.isdigit():
            raise CLIError(f"Error: invalid port ({port}): strconv.ParseUint: parsing \"{port}\": invalid syntax", 1)
        bindings = ports.get(key)
        if bindings:
            for b in bindings:
                sys.stdout.write(show(b) + "\n")
            return 0
        raise CLIError(f"Error: No public port '{key}' published for {a.container}", 1)
    lines = []
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        for b in ports[key] or []:
            lines.append(f"{key} -> {show(b)}")
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


def cmd_rename(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard rename", usage="dockyard rename CONTAINER NEW_NAME")
    p.add_argument("container")
    p.add_argument("new_name")
    a = p.parse_args(argv)
    new = a.new_name.strip().lstrip("/")
    if not new:
        raise CLIError("Error: neither old nor new names may be empty", 1)
    try:
        client(gopts).container_rename(a.container.strip(), new)
    except errdefs.EngineError as e:
        raise CLIError(f"{daemon_error(e).args[0]}\nError: failed to rename container named {a.container}", 1) from None
    return 0


def cmd_diff(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard diff", usage="dockyard diff CONTAINER")
    p.add_argument("container")
    a = p.parse_args(argv)
    changes = daemon_call(client(gopts).container_changes, a.container)
    kinds = {0: "C", 1: "A", 2: "D"}
    sys.stdout.write("".join(f"{kinds.get(c.get('Kind'), '?')} {c.get('Path')}\n" for c in changes))
    return 0


def cmd_export(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard export", usage="dockyard export [OPTIONS] CONTAINER")
    p.add_argument("-o", "--output", default="", help="Write to a file, instead of STDOUT")
    p.add_argument("container")
    a = p.parse_args(argv)
    if not a.output and os.isatty(sys.stdout.fileno()):
        raise CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1)
    resp = daemon_call(client(gopts).container_export, a.container)
    write_stream(resp, a.output)
    return 0


def write_stream(resp: Any, output: str) -> None:
    """A response body to a file (written beside it, then renamed) or stdout."""
    from ..streams import write_all
    if not output:
        fd = sys.stdout.fileno()
        for chunk in resp.iter_chunks():
            write_all(fd, chunk)
        resp.close()
        return
    directory = os.path.dirname(os.path.abspath(output))
    tmp = os.path.join(directory, f".{os.path.basename(output)}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            for chunk in resp.iter_chunks():
                f.write(chunk)
        os.replace(tmp, output)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CLIError(f"failed to export container: {e.strerror or e}", 1) from None
    finally:
        resp.close()


def cmd_commit(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard commit", usage="dockyard commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]")
    p.add_argument("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    p.add_argument("-c", "--change", action="append", default=[], help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", default="", help="Commit message")
    p.add_argument("-p", "--pause", action="store_true", default=True, help="Pause container during commit")
    p.add_argument("container")
    p.add_argument("reference", nargs="?", default="")
    a = p.parse_args(argv)
    if "@" in a.reference:
        raise CLIError("refusing to create a tag with a digest reference", 1)
    repo, tag = split_name_tag(a.reference)
    res = daemon_call(client(gopts).commit, a.container, repo, tag, a.message, a.author, a.pause, a.change)
    sys.stdout.write(res.get("Id", "") + "\n")
    return 0


def cmd_container_prune(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard container prune", usage="dockyard container prune [OPTIONS]")
    p.add_argument("--filter", action="append", default=[], kind="filter",
                   help='Provide filter values (e.g. "until=<timestamp>")')
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    a = p.parse_args(argv)
    if not confirm("WARNING! This will remove all stopped containers.", a.force):
        return 0
    res = daemon_call(client(gopts).container_prune, parse_filters(a.filter))
    print_prune("Deleted Containers:", res.get("ContainersDeleted"), res.get("SpaceReclaimed", 0))
    return 0
