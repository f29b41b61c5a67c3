"""volume create, ls, inspect, rm, prune."""

from __future__ import annotations

import sys

from ..errors import CLIError
from ..format import INSPECT_FORMAT_HELP, LIST_FORMAT_HELP, Context, write_list
from .common import Parser, client, confirm, daemon_call, each, parse_filters, parse_key_values, print_prune

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class VolumeContext(Context):
    template_type = "*formatter.volumeContext"
    FIELDS = ("Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size", "Status")
    METHODS = ("Label",)
    HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
               "Labels": "LABELS", "Label": "LABEL", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
               "Availability": "AVAILABILITY", "Status": "STATUS"}

    def __init__(self, v: dict[str, Any]) -> None:
        self.v = v

    Name = property(lambda self: self.v.get("Name", ""))  # noqa: N815 - docker's template names
    Driver = property(lambda self: self.v.get("Driver", ""))  # noqa: N815
    Scope = property(lambda self: self.v.get("Scope", ""))  # noqa: N815
    Mountpoint = property(lambda self: self.v.get("Mountpoint", ""))  # noqa: N815
    Group = property(lambda self: "N/A")  # noqa: N815 - a cluster volume's group; there are none
    Availability = property(lambda self: "N/A")  # noqa: N815
    Status = property(lambda self: "N/A")  # noqa: N815

    @property
    def Labels(self) -> str:  # noqa: N802
        labels = self.v.get("Labels") or {}
        return ",".join(f"{k}={labels[k]}" for k in sorted(labels))

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.v.get("Labels") or {}).get(name, "")

    @property
    def Links(self) -> str:  # noqa: N802
        u = self.v.get("UsageData")
        return str(u.get("RefCount")) if u else "N/A"

    @property
    def Size(self) -> str:  # noqa: N802
        from ..format import human_size
        u = self.v.get("UsageData")
        return human_size(u["Size"]) if u and u.get("Size", -1) >= 0 else "N/A"


def cmd_create(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard volume create", usage="dockyard volume create [OPTIONS] [VOLUME]")
    p.add_argument("-d", "--driver", default="local", help="Specify volume driver name")
    p.add_argument("--label", action="append", default=[], help="Set metadata for a volume")
    p.add_argument("--name", default="", help="Specify volume name", hidden=True)
    p.add_argument("-o", "--opt", action="append", default=[], kind="map", help="Set driver specific options")
    p.add_argument("name_arg", nargs="?", default="", metavar="VOLUME")
    a = p.parse_args(argv)
    if a.name and a.name_arg and a.name != a.name_arg:
        raise CLIError("conflicting options: cannot specify a volume-name through both --name and as a "
                       "positional arg", 1)
    body = {"Name": a.name_arg or a.name, "Driver": a.driver, "DriverOpts": parse_key_values(a.opt),
            "Labels": parse_key_values(a.label)}
    v = daemon_call(client(gopts).volume_create, body)
    sys.stdout.write(v.get("Name", "") + "\n")
    return 0


def cmd_ls(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard volume ls", usage="dockyard volume ls [OPTIONS]")
    p.add_argument("--cluster", action="store_true", help="Display only cluster volumes", hidden=True)
    p.add_argument("-f", "--filter", action="append", default=[], kind="filter",
                   help='Provide filter values (e.g. "dangling=true")')
    p.add_argument("--format", default="", help=LIST_FORMAT_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")
    a = p.parse_args(argv)
    fmt = "{{.Name}}" if a.quiet else a.format
    if not fmt:
        from ..config import load
        fmt = load(gopts).get("volumesFormat", "")
    res = daemon_call(client(gopts).volume_list, parse_filters(a.filter))
    for w in res.get("Warnings") or []:
        sys.stderr.write(f"WARNING: {w}\n")
    vols = sorted(res.get("Volumes") or [], key=lambda v: v.get("Name", ""))
    write_list(fmt, [VolumeContext(v) for v in vols], "table {{.Driver}}\t{{.Name}}", headers=VolumeContext.HEADERS)
    return 0


def cmd_inspect(argv: list[str], gopts: dict) -> int:
    from .inspect import finish, inspect_all
    p = Parser(prog="dockyard volume inspect", usage="dockyard volume inspect [OPTIONS] VOLUME [VOLUME...]")
    p.add_argument("-f", "--format", default="", help=INSPECT_FORMAT_HELP)
    p.add_argument("names", nargs="+", metavar="VOLUME")
    a = p.parse_args(argv)
    api = client(gopts)
    objects, errors = inspect_all(a.names, ("volume",), {"volume": api.volume_inspect},
                                  lambda n: f"Error response from daemon: get {n}: no such volume")
    return finish(objects, errors, a.format)


def cmd_rm(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard volume rm", usage="dockyard volume rm [OPTIONS] VOLUME [VOLUME...]",
               description="Remove one or more volumes. You cannot remove a volume that is in use by a container.")
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of one or more volumes")
    p.add_argument("names", nargs="+", metavar="VOLUME")
    a = p.parse_args(argv)
    api = client(gopts)
    return each(a.names, lambda n: api.volume_remove(n, a.force))


def cmd_prune(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard volume prune", usage="dockyard volume prune [OPTIONS]")
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused volumes, not just anonymous ones")
    p.add_argument("--filter", action="append", default=[], kind="filter",
                   help='Provide filter values (e.g. "label=<label>")')
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    a = p.parse_args(argv)
    filters = parse_filters(a.filter)
    if a.all:
        if "all" in filters:
            raise CLIError("conflicting options: cannot specify both --all and --filter all=1", 1)
        filters["all"] = ["true"]
    what = "all local volumes" if a.all else "anonymous local volumes"
    if not confirm(f"WARNING! This will remove {what} not used by at least one container.", a.force):
        return 0
    res = daemon_call(client(gopts).volume_prune, filters)
    print_prune("Deleted Volumes:", res.get("VolumesDeleted"), res.get("SpaceReclaimed", 0))
    return 0
