"""ps: its own small module, since it is the command people run most. The
columns and fields are containerview.py's, loaded while the daemon answers."""

from __future__ import annotations

from .common import Parser, client, daemon_call, list_format_help, load_while_waiting, parse_filters

DEFAULT_FORMAT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"


def cmd_ps(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard ps", usage="dockyard ps [OPTIONS]")
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("-f", "--filter", action="append", default=[], kind="filter",
                   help="Filter output based on conditions provided")
    p.add_argument("--format", default="", help=list_format_help)
    p.add_argument("-n", "--last", type=int, default=-1, help="Show n last created containers (includes all states)")
    p.add_argument("-l", "--latest", action="store_true",
                   help="Show the latest created container (includes all states)")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    a = p.parse_args(argv)
    fmt = a.format
    if a.quiet:
        fmt = "{{.ID}}"
    elif not fmt:
        from ..config import load
        fmt = load(gopts).get("psFormat", "")
    if a.size and (not fmt or fmt == "table"):
        fmt = DEFAULT_FORMAT + "\t{{.Size}}"
    if fmt:
        from ..format import check_format
        from .containerview import ContainerContext
        check_format(fmt, "failed to parse template", ContainerContext({}))
    filters = parse_filters(a.filter)
    limit = 1 if a.latest else a.last
    # as docker: a template that shows the size asks for it, unless --size=false was given
    size = a.size or (not a.quiet and "size" not in a.__dict__.get("_set_flags", ()) and
                      (".Size" in fmt or "json ." in fmt or fmt.strip() in ("json", "{{json .}}")))
    api = client(gopts)
    load_while_waiting(api, "dockyard.cli.commands.containerview")
    cs = daemon_call(api.container_list, a.all, limit, size, filters)
    from ..format import write_list
    from .containerview import ContainerContext
    write_list(fmt, [ContainerContext(c, not a.no_trunc) for c in cs], DEFAULT_FORMAT,
               headers=ContainerContext.HEADERS, error_prefix="failed to execute template")
    return 0
