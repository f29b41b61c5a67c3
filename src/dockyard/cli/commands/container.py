"""Container commands: run, create, start, stop, kill, rm, ps, logs, wait, inspect."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Any

from ... import errdefs
from ..errors import CLIError, StatusError, start_error_status
from ..format import ago, human_duration, print_table
from .common import Parser, client, daemon_call, daemon_error


def _parse_size(v: str) -> int:
    s = v.strip().lower()
    mult = 1
    for suffix, m in (("kb", 1024), ("mb", 1024**2), ("gb", 1024**3), ("k", 1024), ("m", 1024**2),
                      ("g", 1024**3), ("b", 1)):
        if s.endswith(suffix):
            s, mult = s[: -len(suffix)], m
            break
    try:
        return int(float(s) * mult)
    except ValueError:
        raise CLIError(f"invalid size: '{v}'", 125) from None


def add_create_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("--name", default="", help="Assign a name to the container")
    p.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    p.add_argument("--env-file", action="append", default=[], help="Read in a file of environment variables")
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    p.add_argument("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("--entrypoint", default=None, help="Overwrite the default ENTRYPOINT of the image")
    p.add_argument("-h", "--hostname", default="", help="Container host name")
    p.add_argument("--domainname", default="", help="Container NIS domain name")
    p.add_argument("-l", "--label", action="append", default=[], help="Set meta data on a container")
    p.add_argument("--restart", default="no", help="Restart policy to apply when a container exits")
    p.add_argument("--rm", action="store_true", help="Automatically remove the container when it exits")
    p.add_argument("-m", "--memory", default="", help="Memory limit")
    p.add_argument("--cpus", default="", help="Number of CPUs")
    p.add_argument("--pids-limit", type=int, default=None, help="Tune container pids limit (-1 for unlimited)")
    p.add_argument("--read-only", action="store_true", help="Mount the container's root filesystem as read only")
    p.add_argument("--stop-signal", default="", help="Signal to stop the container")
    p.add_argument("--stop-timeout", type=int, default=None, help="Timeout (in seconds) to stop a container")
    p.add_argument("--log-driver", default="", help="Logging driver for the container")
    p.add_argument("--log-opt", action="append", default=[], help="Log driver options")
    p.add_argument("--add-host", action="append", default=[], help="Add a custom host-to-IP mapping (host:ip)")
    p.add_argument("--dns", action="append", default=[], help="Set custom DNS servers")
    p.add_argument("--help", action="help", help="Print usage")
    p.add_argument("image")
    p.add_argument("command", nargs=argparse.REMAINDER)


def _env_file(path: str) -> list[str]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if "=" not in line:
                    v = os.environ.get(line)
                    if v is None:
                        continue
                    line = f"{line}={v}"
                out.append(line)
    except OSError as e:
        raise CLIError(f"open {path}: {e.strerror.lower() if e.strerror else e}", 125) from None
    return out


def _env(values: list[str]) -> list[str]:
    out = []
    for v in values:
        if "=" in v:
            out.append(v)
        elif v in os.environ:
            out.append(f"{v}={os.environ[v]}")
    return out


def build_create_body(a: argparse.Namespace) -> dict[str, Any]:
    env = []
    for f in a.env_file:
        env += _env_file(f)
    env += _env(a.env)
    labels = {}
    for lab in a.label:
        k, _, v = lab.partition("=")
        labels[k] = v
    body: dict[str, Any] = {
        "Image": a.image,
        "Cmd": a.command or None,
        "Env": env,
        "Tty": a.tty,
        "OpenStdin": a.interactive,
        "StdinOnce": a.interactive and not getattr(a, "detach", False),
        "AttachStdin": a.interactive and not getattr(a, "detach", False),
        "AttachStdout": not getattr(a, "detach", False),
        "AttachStderr": not getattr(a, "detach", False),
        "WorkingDir": a.workdir,
        "User": a.user,
        "Hostname": a.hostname,
        "Domainname": a.domainname,
        "Labels": labels,
    }
    if a.entrypoint is not None:
        body["Entrypoint"] = [a.entrypoint] if a.entrypoint else [""]
    if a.stop_signal:
        body["StopSignal"] = a.stop_signal
    if a.stop_timeout is not None:
        body["StopTimeout"] = a.stop_timeout
    name, _, count = a.restart.partition(":")
    hc: dict[str, Any] = {
        "AutoRemove": a.rm,
        "RestartPolicy": {"Name": name, "MaximumRetryCount": int(count) if count else 0},
        "ReadonlyRootfs": a.read_only,
        "ExtraHosts": a.add_host or None,
        "Dns": a.dns,
    }
    if a.memory:
        hc["Memory"] = _parse_size(a.memory)
    if a.cpus:
        try:
            hc["NanoCpus"] = int(float(a.cpus) * 1e9)
        except ValueError:
            raise CLIError(f"invalid argument \"{a.cpus}\" for \"--cpus\" flag", 125) from None
    if a.pids_limit is not None:
        hc["PidsLimit"] = a.pids_limit
    if a.log_driver or a.log_opt:
        hc["LogConfig"] = {"Type": a.log_driver, "Config": dict(o.split("=", 1) for o in a.log_opt if "=" in o)}
    body["HostConfig"] = hc
    return body


def _create(api: Any, body: dict[str, Any], name: str) -> str:
    try:
        res = api.container_create(body, name)
    except errdefs.NotFound as e:
        if "No such image" in e.message:
            sys.stderr.write(f"Unable to find image '{_familiar(body['Image'])}' locally\n")
            from .image import pull_image
            pull_image(api, _familiar(body["Image"]), out=sys.stderr, status=125)
            res = daemon_call(api.container_create, body, name, status=125)
        else:
            raise daemon_error(e, 125) from None
    except errdefs.EngineError as e:
        raise daemon_error(e, 125) from None
    for w in res.get("Warnings") or []:
        sys.stderr.write(f"WARNING: {w}\n")
    return res["Id"]


def _familiar(ref: str) -> str:
    return ref if ":" in ref.rsplit("/", 1)[-1] or "@" in ref else ref + ":latest"


def cmd_create(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard create", add_help=False, usage="dockyard create [OPTIONS] IMAGE [COMMAND] [ARG...]")
    add_create_flags(p)
    a = p.parse_args(argv)
    api = client(gopts)
    print(_create(api, build_create_body(a), a.name))
    return 0


def cmd_run(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard run", add_help=False, usage="dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]")
    p.add_argument("-d", "--detach", action="store_true", help="Run container in background and print container ID")
    p.add_argument("--detach-keys", default=None, help="Override the key sequence for detaching a container")
    add_create_flags(p)
    a = p.parse_args(argv)
    if a.detach and a.rm and False:
        pass
    api = client(gopts)
    body = build_create_body(a)
    cid = _create(api, body, a.name)
    if a.detach:
        try:
            api.container_start(cid)
        except errdefs.EngineError as e:
            raise daemon_error(e, start_error_status(e.message)) from None
        print(cid)
        return 0
    return _run_attached(api, cid, a.interactive, a.tty, a.rm, a.detach_keys)


def _run_attached(api: Any, cid: str, interactive: bool, tty: bool, auto_remove: bool,
                  detach_keys: str | None) -> int:
    from ..streams import RawTerminal, copy_output, pump_stdin, terminal_size
    try:
        sock, leftover = api.container_attach(cid, stdin=interactive, stdout=True, stderr=True,
                                              detach_keys=detach_keys)
        wait = api.container_wait_open(cid, "removed" if auto_remove else "next-exit")
    except errdefs.EngineError as e:
        raise daemon_error(e, 125) from None
    try:
        api.container_start(cid)
    except errdefs.EngineError as e:
        sock.close()
        msg = daemon_error(e).args[0]
        sys.stderr.write(f"dockyard: {msg}\n")
        if auto_remove:
            try:
                api.wait_result(wait)
            except Exception:
                pass
        raise StatusError(start_error_status(e.message)) from None
    if tty:
        h, w = terminal_size()
        if h and w:
            try:
                api.request("POST", f"/containers/{cid}/resize", {"h": h, "w": w}).read()
            except errdefs.EngineError:
                pass
    stop = threading.Event()
    raw = RawTerminal(sys.stdin.fileno()) if (tty and interactive) else None
    if raw:
        raw.__enter__()
    try:
        if interactive:
            pump_stdin(sock, stop)
        copy_output(sock, leftover, tty)
    finally:
        stop.set()
        if raw:
            raw.__exit__()
        sock.close()
    try:
        res = api.wait_result(wait)
    except Exception as e:
        raise CLIError(f"Error waiting for container: {e}", 125) from None
    if res.get("Error"):
        sys.stderr.write(f"Error waiting for container: {res['Error'].get('Message')}\n")
        return 125
    return int(res.get("StatusCode", 0))


def cmd_start(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard start", usage="dockyard start [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals")
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    p.add_argument("--detach-keys", default=None)
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    api = client(gopts)
    if a.attach or a.interactive:
        if len(a.containers) > 1:
            raise CLIError("you cannot start and attach multiple containers at once", 1)
        cid = a.containers[0]
        info = daemon_call(api.container_inspect, cid)
        return _run_attached(api, info["Id"], a.interactive, bool(info["Config"].get("Tty")),
                             bool(info["HostConfig"].get("AutoRemove")), a.detach_keys)
    failed = []
    for c in a.containers:
        try:
            api.container_start(c)
            print(c)
        except errdefs.EngineError as e:
            failed.append(f"Error response from daemon: {e.message}")
    if failed:
        failed.append("Error: failed to start containers: " + ", ".join(a.containers))
        raise CLIError("\n".join(failed), 1)
    return 0


def _each(argv_containers: list[str], fn: Any, verb: str) -> int:
    errors = []
    for c in argv_containers:
        try:
            fn(c)
            print(c)
        except errdefs.EngineError as e:
            errors.append(f"Error response from daemon: {e.message}")
    if errors:
        raise CLIError("\n".join(errors), 1)
    return 0


def cmd_stop(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard stop", usage="dockyard stop [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-t", "--time", type=int, default=None, help="Seconds to wait before killing the container")
    p.add_argument("-s", "--signal", default=None, help="Signal to send to the container")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    api = client(gopts)
    return _each(a.containers, lambda c: api.container_stop(c, a.time, a.signal), "stop")


def cmd_kill(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard kill", usage="dockyard kill [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-s", "--signal", default=None, help="Signal to send to the container")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    api = client(gopts)
    return _each(a.containers, lambda c: api.container_kill(c, a.signal), "kill")


def cmd_rm(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard rm", usage="dockyard rm [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of a running container")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    api = client(gopts)
    return _each(a.containers, lambda c: api.container_remove(c, a.force, a.volumes), "rm")


def cmd_ps(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard ps", usage="dockyard ps [OPTIONS]")
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-n", "--last", type=int, default=-1, help="Show n last created containers")
    p.add_argument("-l", "--latest", action="store_true", help="Show the latest created container")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-f", "--filter", action="append", default=[], help="Filter output based on conditions")
    a = p.parse_args(argv)
    filters: dict[str, list[str]] = {}
    for f in a.filter:
        k, _, v = f.partition("=")
        filters.setdefault(k, []).append(v)
    limit = 1 if a.latest else a.last
    cs = daemon_call(client(gopts).container_list, a.all, limit, a.size, filters)
    if a.quiet:
        for c in cs:
            print(c["Id"] if a.no_trunc else c["Id"][:12])
        return 0
    rows = []
    for c in cs:
        cmd = c.get("Command", "")
        if not a.no_trunc and len(cmd) > 20:
            cmd = cmd[:19] + "…"
        ports = ", ".join(_port_str(pp) for pp in c.get("Ports") or [])
        rows.append([c["Id"] if a.no_trunc else c["Id"][:12], c.get("Image", ""), json.dumps(cmd, ensure_ascii=False),
                     ago(c.get("Created", 0)), c.get("Status", ""), ports,
                     ",".join(n.lstrip("/") for n in c.get("Names") or [])])
    print_table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows)
    return 0


def _port_str(p: dict[str, Any]) -> str:
    if p.get("PublicPort"):
        return f"{p.get('IP', '0.0.0.0')}:{p['PublicPort']}->{p['PrivatePort']}/{p.get('Type', 'tcp')}"
    return f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"


def cmd_logs(argv: list[str], gopts: dict) -> int:
    from ..streams import Demuxer
    p = Parser(prog="dockyard logs", usage="dockyard logs [OPTIONS] CONTAINER")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("-n", "--tail", default="all", help="Number of lines to show from the end of the logs")
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--since", default="", help="Show logs since timestamp or relative (e.g. 42m)")
    p.add_argument("--until", default="", help="Show logs before a timestamp or relative")
    p.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    p.add_argument("container")
    a = p.parse_args(argv)
    api = client(gopts)
    info = daemon_call(api.container_inspect, a.container)
    q = {"stdout": 1, "stderr": 1, "follow": int(a.follow), "tail": a.tail, "timestamps": int(a.timestamps),
         "since": a.since or None, "until": a.until or None}
    resp = daemon_call(api.container_logs, info["Id"], q)
    demux = Demuxer(bool(info["Config"].get("Tty")))
    for chunk in resp.iter_chunks():
        demux.feed(chunk)
    return 0


def cmd_wait(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard wait", usage="dockyard wait CONTAINER [CONTAINER...]")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    api = client(gopts)
    errors = []
    for c in a.containers:
        try:
            res = api.wait_result(api.container_wait_open(c))
            print(res.get("StatusCode", 0))
        except errdefs.EngineError as e:
            errors.append(f"Error response from daemon: {e.message}")
    if errors:
        raise CLIError("\n".join(errors), 1)
    return 0


def cmd_inspect(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard inspect", usage="dockyard inspect [OPTIONS] NAME|ID [NAME|ID...]")
    p.add_argument("-f", "--format", default="")
    p.add_argument("--type", default="")
    p.add_argument("names", nargs="+")
    a = p.parse_args(argv)
    api = client(gopts)
    out = []
    errors = []
    for n in a.names:
        obj = None
        for kind, fn in (("container", api.container_inspect), ("image", api.image_inspect)):
            if a.type and a.type != kind:
                continue
            try:
                obj = fn(n)
                break
            except errdefs.NotFound:
                continue
            except errdefs.EngineError as e:
                raise daemon_error(e) from None
        if obj is None:
            errors.append(f"Error: No such object: {n}")
        else:
            out.append(obj)
    if a.format:
        from ..template import render
        for obj in out:
            print(render(a.format, obj))
    else:
        print(json.dumps(out, indent=4))
    if errors:
        raise CLIError("\n".join(errors), 1)
    return 0
