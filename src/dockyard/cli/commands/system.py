"""info, events, system df, system prune (version lives in version.py: it
is run often and needs none of this module's imports)."""

from __future__ import annotations

import sys

from ... import __version__, errdefs
from ..errors import CLIError
from ..format import (INSPECT_FORMAT_HELP, LIST_FORMAT_HELP, Context, ago, bytes_size, expand_escapes, go_time_string,
                      human_size, is_table, parse_template, parse_timestamp, render, trunc_id, write_list)
from ..main import context_name
from .common import Parser, client, confirm, daemon_call, daemon_error, image_delete_lines, parse_filters, print_prune

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
                     f" Context:    {context_name(gopts)}\n"
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

    TYPES = {"Images": "*formatter.diskUsageImagesContext", "Containers": "*formatter.diskUsageContainersContext",
             "Local Volumes": "*formatter.diskUsageVolumesContext", "Build Cache": "*formatter.diskUsageBuilderContext"}

    def __init__(self, kind: str, total: int, active: int, size: int, reclaimable: int, percent: bool) -> None:
        self.template_type = self.TYPES[kind]  # docker has one Go type per row
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
    b_size = builder_size(du)
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


class BuildCacheContext(Context):
    """A row of `system df -v`'s build cache section, docker's buildCacheContext."""

    template_type = "*formatter.buildCacheContext"
    FIELDS = ("CacheType", "CreatedAt", "CreatedSince", "Description", "ID", "InUse", "LastUsedAt", "LastUsedSince",
              "Parent", "Shared", "Size", "UsageCount")
    HEADERS = {"ID": "CACHE ID", "Parent": "PARENT", "CacheType": "CACHE TYPE", "Size": "SIZE",
               "CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "InUse": "IN USE",
               "Shared": "SHARED", "Description": "DESCRIPTION"}

    def __init__(self, b: dict[str, Any], trunc: bool) -> None:
        self.b = b
        self.trunc = trunc

    @property
    def ID(self) -> str:  # noqa: N802 - docker's template field names
        i = self.b.get("ID", "")
        return (trunc_id(i) if self.trunc else i) + ("*" if self.b.get("InUse") else "")

    @property
    def Parent(self) -> str:  # noqa: N802
        parent = ", ".join(self.b.get("Parents") or []) or self.b.get("Parent") or ""
        return trunc_id(parent) if self.trunc else parent

    CacheType = property(lambda self: self.b.get("Type", ""))  # noqa: N815
    Description = property(lambda self: self.b.get("Description", ""))  # noqa: N815
    UsageCount = property(lambda self: str(self.b.get("UsageCount") or 0))  # noqa: N815
    InUse = property(lambda self: "true" if self.b.get("InUse") else "false")  # noqa: N815
    Shared = property(lambda self: "true" if self.b.get("Shared") else "false")  # noqa: N815

    @property
    def Size(self) -> str:  # noqa: N802
        size = int(self.b.get("Size") or 0)
        return human_size(size, 3) if size >= 0 else ""

    @property
    def CreatedAt(self) -> str:  # noqa: N802
        return go_time_string(self.b.get("CreatedAt") or "")

    @property
    def CreatedSince(self) -> str:  # noqa: N802
        t = parse_timestamp(self.b.get("CreatedAt") or "")
        return ago(t or 0)

    @property
    def LastUsedAt(self) -> str:  # noqa: N802
        return go_time_string(self.b["LastUsedAt"]) if self.b.get("LastUsedAt") else ""

    @property
    def LastUsedSince(self) -> str:  # noqa: N802
        t = parse_timestamp(self.b.get("LastUsedAt") or "")
        return ago(t) if t is not None else ""


class VerboseDiskUsage(Context):
    """What `system df -v --format` runs its template on (docker's diskUsageContext)."""

    template_type = "*formatter.diskUsageContext"
    FIELDS = ("Images", "Containers", "Volumes", "BuildCache")

    def __init__(self, images: list[Any], containers: list[Any], volumes: list[Any], cache: list[Any]) -> None:
        self.Images, self.Containers, self.Volumes, self.BuildCache = images, containers, volumes, cache


DF_IMAGES_TABLE = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"
                   "\t{{.UniqueSize}}\t{{.Containers}}")
DF_CONTAINERS_TABLE = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}"
                       "\t{{.Status}}\t{{.Names}}")
DF_VOLUMES_TABLE = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
DF_CACHE_TABLE = ("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
                  "\t{{.UsageCount}}\t{{.Shared}}")


def builder_size(du: dict[str, Any]) -> int:
    """What docker's CLI counts as the build cache's size: records not shared with images."""
    return sum(int(b.get("Size") or 0) for b in du.get("BuildCache") or [] if not b.get("Shared"))


def cmd_df(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard system df", usage="dockyard system df [OPTIONS]")
    p.add_argument("--format", default="", help=LIST_FORMAT_HELP)
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed information on space usage")
    a = p.parse_args(argv)
    du = daemon_call(client(gopts).system_df)
    if a.verbose:
        _df_verbose(du, a.format or "table")
        return 0
    write_list(a.format, disk_usage_rows(du),
               "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
               headers=DiskUsageContext.HEADERS)
    return 0


def _df_verbose(du: dict[str, Any], fmt: str) -> None:
    """docker's verboseWrite: four tables, or the template run once on all of it."""
    from .imageview import ImageContext, is_dangling
    from .containerview import ContainerContext
    from .volume import VolumeContext
    trunc = is_table(fmt)
    images = []
    for i in du.get("Images") or []:
        repo = tag = "<none>"
        if (i.get("RepoTags") or []) and not is_dangling(i):  # only the first tag, as docker shows it
            name, _, t = i["RepoTags"][0].rpartition(":")
            if not name or "/" in t:
                continue
            repo, tag = name, t
        images.append(ImageContext(i, repo, tag, "", trunc))
    containers = [ContainerContext(dict(c, SizeRootFs=0), trunc) for c in du.get("Containers") or []]
    volumes = [VolumeContext(v) for v in du.get("Volumes") or []]
    cache = du.get("BuildCache") or []
    # docker's buildCacheSort: least recently used first, records never used last
    order = sorted(range(len(cache)), key=lambda n: (parse_timestamp(cache[n].get("LastUsedAt") or "") is None,
                                                     parse_timestamp(cache[n].get("LastUsedAt") or "") or 0, n))
    records = [BuildCacheContext(cache[n], trunc) for n in order]
    if fmt != "table":
        tmpl = parse_template(expand_escapes((fmt[5:] if trunc else fmt).strip(" ")) if fmt != "json"
                              else "{{json .}}")
        sys.stdout.write(render(tmpl, VerboseDiskUsage(images, containers, volumes, records)))  # as docker: no prefix
        return
    out = sys.stdout
    out.write("Images space usage:\n\n")
    write_list(DF_IMAGES_TABLE, images, DF_IMAGES_TABLE, headers=ImageContext.HEADERS)
    out.write("\nContainers space usage:\n\n")
    write_list(DF_CONTAINERS_TABLE, containers, DF_CONTAINERS_TABLE, headers=ContainerContext.HEADERS)
    out.write("\nLocal Volumes space usage:\n\n")
    write_list(DF_VOLUMES_TABLE, volumes, DF_VOLUMES_TABLE, headers=VolumeContext.HEADERS)
    out.write(f"\nBuild cache usage: {human_size(builder_size(du))}\n\n")
    write_list(DF_CACHE_TABLE, records, DF_CACHE_TABLE, headers=BuildCacheContext.HEADERS)


# -- system prune -------------------------------------------------------------------

def cmd_prune(argv: list[str], gopts: dict) -> int:
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
        section("Deleted Images:", image_delete_lines(r.get("ImagesDeleted")))
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
