"""info, events, system df, system prune (version lives in version.py: it
is run often and needs none of this module's imports)."""

from __future__ import annotations

import sys

from ... import __version__, errdefs
from ..errors import CLIError
from ..format import INSPECT_FORMAT_HELP, Context, bytes_size, human_size, write_list
from .common import Parser, client, confirm, daemon_call, daemon_error, parse_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

def cmd_info(argv: list[str], gopts: dict) -> int:
    from .version import _client_info
    p = Parser(prog="dockyard info", usage="dockyard info [OPTIONS]")
    p.add_argument("-f", "--format", default="", help=INSPECT_FORMAT_HELP)
    a = p.parse_args(argv)
    if a.format:
        from ..format import expand_escapes, parse_template, render
        tmpl = parse_template(expand_escapes("{{json .}}" if a.format == "json" else a.format))
        info = daemon_call(client(gopts).info)
        cli = dict(_client_info(gopts), Debug=bool(gopts.get("debug")), Plugins=[], Warnings=None)
        doc = dict(info)
        doc["ClientInfo"] = cli
        sys.stdout.write(render(tmpl, doc) + "\n")
        return 0
    sys.stdout.write("Client:\n"
                     f" Version:    {__version__}\n"
                     f" Context:    {gopts.get('context') or 'default'}\n"
                     f" Debug Mode: {str(bool(gopts.get('debug'))).lower()}\n\n")
    sys.stdout.flush()
    try:
        i = client(gopts).info()
    except errdefs.EngineError as e:
        sys.stdout.write("Server:\n")
        sys.stdout.flush()
        raise CLIError(f"ERROR: {daemon_error(e).args[0]}\nerrors pretty printing info", 1) from None
    sys.stdout.write(format_info(i))
    for w in i.get("Warnings") or []:
        sys.stderr.write(w + "\n")
    return 0


def format_info(i: dict[str, Any]) -> str:
    out = ["Server:",
           f" Containers: {i.get('Containers', 0)}",
           f"  Running: {i.get('ContainersRunning', 0)}",
           f"  Paused: {i.get('ContainersPaused', 0)}",
           f"  Stopped: {i.get('ContainersStopped', 0)}",
           f" Images: {i.get('Images', 0)}",
           f" Server Version: {i.get('ServerVersion', '')}",
           f" Storage Driver: {i.get('Driver', '')}"]
    for k, v in i.get("DriverStatus") or []:
        out.append(f"  {k}: {v}")
    out.append(f" Logging Driver: {i.get('LoggingDriver', '')}")
    out.append(f" Cgroup Driver: {i.get('CgroupDriver', '')}")
    out.append(f" Cgroup Version: {i.get('CgroupVersion', '')}")
    plugins = i.get("Plugins") or {}
    out.append(" Plugins:")
    for kind in ("Volume", "Network", "Log"):
        if plugins.get(kind):
            out.append(f"  {kind}: {' '.join(plugins[kind])}")
    swarm = (i.get("Swarm") or {}).get("LocalNodeState") or "inactive"
    out.append(f" Swarm: {swarm}")
    runtimes = i.get("Runtimes") or {}
    if runtimes:
        out.append(f" Runtimes: {' '.join(sorted(runtimes))}")
    out.append(f" Default Runtime: {i.get('DefaultRuntime', '')}")
    out.append(f" Init Binary: {i.get('InitBinary', '')}")
    for label, key in (("containerd version", "ContainerdCommit"), ("runc version", "RuncCommit"),
                       ("init version", "InitCommit")):
        out.append(f" {label}: {(i.get(key) or {}).get('ID', '')}")
    sec = i.get("SecurityOptions") or []
    if sec:
        out.append(" Security Options:")
        for s in sec:
            fields = dict(f.partition("=")[::2] for f in s.split(","))
            out.append(f"  {fields.get('name', s)}")
            for k, v in fields.items():
                if k != "name":
                    out.append(f"   {k.title()}: {v}")
    out += [f" Kernel Version: {i.get('KernelVersion', '')}",
            f" Operating System: {i.get('OperatingSystem', '')}",
            f" OSType: {i.get('OSType', '')}",
            f" Architecture: {i.get('Architecture', '')}",
            f" CPUs: {i.get('NCPU', 0)}",
            f" Total Memory: {bytes_size(i.get('MemTotal', 0))}",
            f" Name: {i.get('Name', '')}",
            f" ID: {i.get('ID', '')}",
            f" Docker Root Dir: {i.get('DockerRootDir', '')}",  # docker's label: scripts grep for it
            f" Debug Mode: {str(bool(i.get('Debug'))).lower()}"]
    if i.get("Debug"):
        out += [f"  File Descriptors: {i.get('NFd', 0)}", f"  Goroutines: {i.get('NGoroutines', 0)}",
                f"  System Time: {i.get('SystemTime', '')}", f"  EventsListeners: {i.get('NEventsListener', 0)}"]
    if i.get("Labels"):
        out.append(" Labels:")
        out += [f"  {lab}" for lab in i["Labels"]]
    out.append(f" Experimental: {str(bool(i.get('ExperimentalBuild'))).lower()}")
    reg = i.get("RegistryConfig") or {}
    insecure = [c for c in reg.get("InsecureRegistryCIDRs") or []] + \
        [k for k, v in (reg.get("IndexConfigs") or {}).items() if not v.get("Secure")]
    if insecure:
        out.append(" Insecure Registries:")
        out += [f"  {r}" for r in insecure]
    out.append(f" Live Restore Enabled: {str(bool(i.get('LiveRestoreEnabled'))).lower()}")
    return "\n".join(out) + "\n\n"


# -- events -------------------------------------------------------------------------

def _event_time(e: dict[str, Any]) -> str:
    import time
    nano = e.get("timeNano") or int(e.get("time", 0)) * 10**9
    secs, frac = divmod(int(nano), 10**9)
    lt = time.localtime(secs)
    tz = time.strftime("%z", lt)
    tz = "Z" if tz == "+0000" else f"{tz[:3]}:{tz[3:]}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", lt) + f".{frac:09d}{tz}"


def format_event(e: dict[str, Any]) -> str:
    actor = e.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    line = f"{_event_time(e)} {e.get('Type', '')} {e.get('Action', '')} {actor.get('ID', '')}"
    if attrs:
        line += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return line


def cmd_events(argv: list[str], gopts: dict) -> int:
    from .container import to_api_time
    p = Parser(prog="dockyard events", usage="dockyard events [OPTIONS]")
    p.add_argument("-f", "--filter", action="append", default=[], kind="filter",
                   help="Filter output based on conditions provided")
    p.add_argument("--format", default="", help=INSPECT_FORMAT_HELP)
    p.add_argument("--since", default="", help="Show all events created since timestamp")
    p.add_argument("--until", default="", help="Stream events until this timestamp")
    a = p.parse_args(argv)
    tmpl = None
    if a.format:
        from ..format import expand_escapes, parse_template
        tmpl = parse_template(expand_escapes("{{json .}}" if a.format == "json" else a.format))
    api = client(gopts)
    try:
        events = api.events(since=to_api_time(a.since) if a.since else None,
                            until=to_api_time(a.until) if a.until else None, filters=parse_filters(a.filter))
        for e in events:
            if tmpl is not None:
                from ..format import render
                sys.stdout.write(render(tmpl, e) + "\n")
            else:
                sys.stdout.write(format_event(e) + "\n")
            sys.stdout.flush()
    except errdefs.EngineError as e:
        raise daemon_error(e) from None
    except KeyboardInterrupt:
        return 0
    return 0


# -- system df ------------------------------------------------------------------------

class DiskUsageContext(Context):
    template_type = "*formatter.diskUsageContext"
    FIELDS = ("Active", "Reclaimable", "Size", "TotalCount", "Type")
    HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
               "Reclaimable": "RECLAIMABLE"}

    def __init__(self, kind: str, total: int, active: int, size: int, reclaimable: int, percent: bool) -> None:
        self.Type = kind
        self.TotalCount = str(total)
        self.Active = str(active)
        self.Size = human_size(size)
        pct = f" ({reclaimable * 100 // size}%)" if percent and size > 0 else ""
        self.Reclaimable = human_size(reclaimable) + pct


def disk_usage_rows(du: dict[str, Any]) -> list[DiskUsageContext]:
    images = du.get("Images") or []
    total_images = du.get("LayersSize") or sum(max(0, i.get("Size", 0)) for i in images)
    used = sum(i.get("Size", 0) - i.get("SharedSize", 0) for i in images
               if i.get("Containers") and i.get("Size", -1) != -1 and i.get("SharedSize", -1) != -1)
    containers = du.get("Containers") or []
    active_states = ("running", "paused", "restarting")
    c_size = sum(c.get("SizeRw") or 0 for c in containers)
    c_rec = sum(c.get("SizeRw") or 0 for c in containers if c.get("State") not in active_states)
    vols = du.get("Volumes") or []
    v_size = sum(max(0, (v.get("UsageData") or {}).get("Size", 0)) for v in vols)
    v_rec = sum(max(0, (v.get("UsageData") or {}).get("Size", 0)) for v in vols
                if (v.get("UsageData") or {}).get("RefCount", 0) == 0)
    cache = du.get("BuildCache") or []
    b_size = sum(b.get("Size", 0) for b in cache if not b.get("Shared"))
    b_rec = sum(b.get("Size", 0) for b in cache if not b.get("InUse") and not b.get("Shared"))
    return [
        DiskUsageContext("Images", len(images), sum(1 for i in images if i.get("Containers")), total_images,
                         total_images - used, True),
        DiskUsageContext("Containers", len(containers), sum(1 for c in containers if c.get("State") in active_states),
                         c_size, c_rec, True),
        DiskUsageContext("Local Volumes", len(vols), sum(1 for v in vols if (v.get("UsageData") or {}).get("RefCount")),
                         v_size, v_rec, True),
        DiskUsageContext("Build Cache", len(cache), sum(1 for b in cache if b.get("InUse")), b_size, b_rec, False),
    ]


def cmd_df(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard system df", usage="dockyard system df [OPTIONS]")
    p.add_argument("--format", default="", help="Format output using a custom template:\n"
                   "'table':            Print output in table format with column headers (default)\n"
                   "'table TEMPLATE':   Print output in table format using the given Go template\n"
                   "'json':             Print in JSON format\n"
                   "'TEMPLATE':         Print output using the given Go template.")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed information on space usage")
    a = p.parse_args(argv)
    du = daemon_call(client(gopts).system_df)
    if a.verbose and not a.format:
        _df_verbose(du)
        return 0
    write_list(a.format, disk_usage_rows(du),
               "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
               headers=DiskUsageContext.HEADERS)
    return 0


def _df_verbose(du: dict[str, Any]) -> None:
    from ..format import ago, print_table
    from .ps import go_quote
    images = du.get("Images") or []
    rows = []
    for i in images:
        tags = i.get("RepoTags") or ["<none>:<none>"]
        for t in tags:
            repo, _, tag = t.rpartition(":")
            rows.append([repo, tag, i.get("Id", "").split(":")[-1][:12], ago(i.get("Created", 0)),
                         human_size(i.get("Size", 0)), human_size(i.get("SharedSize", 0) if i.get("SharedSize", -1) >= 0 else 0),
                         human_size(i.get("Size", 0) - max(0, i.get("SharedSize", 0))), str(i.get("Containers", 0))])
    sys.stdout.write("Images space usage:\n\n")
    print_table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"], rows)
    rows = []
    for c in du.get("Containers") or []:
        cmd = c.get("Command", "")
        rows.append([c.get("Id", "")[:12], c.get("Image", ""), go_quote(cmd if len(cmd) <= 20 else cmd[:19] + "…"),
                     str(len(c.get("Mounts") or [])), human_size(c.get("SizeRw") or 0), ago(c.get("Created", 0)),
                     c.get("Status", ""), ",".join(n.lstrip("/") for n in c.get("Names") or [])])
    sys.stdout.write("\nContainers space usage:\n\n")
    print_table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"], rows)
    rows = [[v.get("Name", ""), str((v.get("UsageData") or {}).get("RefCount", 0)),
             human_size(max(0, (v.get("UsageData") or {}).get("Size", 0)))] for v in du.get("Volumes") or []]
    sys.stdout.write("\nLocal Volumes space usage:\n\n")
    print_table(["VOLUME NAME", "LINKS", "SIZE"], rows)
    from ..format import parse_timestamp

    def since(ts: str) -> str:
        t = parse_timestamp(ts or "")
        return ago(t) if t else ""

    rows = [[b.get("ID", "")[:12], b.get("Type", ""), human_size(b.get("Size", 0)), since(b.get("CreatedAt")),
             since(b.get("LastUsedAt")), str(b.get("UsageCount", 0)), str(bool(b.get("Shared"))).lower()]
            for b in du.get("BuildCache") or []]
    sys.stdout.write("\nBuild cache usage: " + human_size(sum(b.get("Size", 0) for b in du.get("BuildCache") or [])) +
                     "\n\n")
    print_table(["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"], rows)


# -- system prune -------------------------------------------------------------------

def cmd_prune(argv: list[str], gopts: dict) -> int:
    from .container import print_prune
    p = Parser(prog="dockyard system prune", usage="dockyard system prune [OPTIONS]")
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images not just dangling ones")
    p.add_argument("--filter", action="append", default=[], kind="filter",
                   help='Provide filter values (e.g. "label=<key>=<value>")')
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--volumes", action="store_true", help="Prune anonymous volumes")
    a = p.parse_args(argv)
    items = ["all stopped containers", "all networks not used by at least one container"]
    if a.volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append("all images without at least one container associated to them" if a.all else "all dangling images")
    items.append("unused build cache" if not a.all else "all build cache")
    warning = "WARNING! This will remove:\n" + "\n".join(f"  - {x}" for x in items) + "\n"
    if not confirm(warning, a.force):
        return 0
    api = client(gopts)
    filters = parse_filters(a.filter)
    total = 0
    lines: list[str] = []

    def section(title: str, names: list[str] | None) -> None:
        if names:
            lines.append(title)
            lines.extend(names)
            lines.append("")

    try:
        r = api.container_prune(filters)
        section("Deleted Containers:", r.get("ContainersDeleted"))
        total += r.get("SpaceReclaimed") or 0
        r = api.network_prune(filters)
        section("Deleted Networks:", r.get("NetworksDeleted"))
        if a.volumes:
            r = api.volume_prune(filters)
            section("Deleted Volumes:", r.get("VolumesDeleted"))
            total += r.get("SpaceReclaimed") or 0
        img_filters = dict(filters)
        img_filters["dangling"] = ["false" if a.all else "true"]
        r = api.image_prune(img_filters)
        deleted = []
        for d in r.get("ImagesDeleted") or []:
            if d.get("Untagged"):
                deleted.append(f"untagged: {d['Untagged']}")
            if d.get("Deleted"):
                deleted.append(f"deleted: {d['Deleted']}")
        section("Deleted Images:", deleted)
        total += r.get("SpaceReclaimed") or 0
        try:
            r = api.build_prune(a.all, filters)
            section("Deleted build cache objects:", r.get("CachesDeleted"))
            total += r.get("SpaceReclaimed") or 0
        except errdefs.NotFound:
            pass  # a daemon without a build cache
    except errdefs.EngineError as e:
        sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
        raise daemon_error(e) from None
    sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
    print_prune("", None, total)
    return 0
