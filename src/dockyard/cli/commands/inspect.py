"""inspect (any object) and container inspect."""

from __future__ import annotations

from ... import errdefs
from ..errors import CLIError
from ..format import INSPECT_FORMAT_HELP, parse_template, write_inspect, expand_escapes
from .common import Parser, client, daemon_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

KINDS = ("container", "image", "network", "volume")


def _inspectors(api: Any, size: bool) -> dict[str, Callable[[str], Any]]:
    return {"container": lambda n: api.container_inspect(n, size), "image": api.image_inspect,
            "network": api.network_inspect, "volume": api.volume_inspect}


def inspect_all(names: list[str], kinds: tuple[str, ...], get: dict[str, Callable[[str], Any]],
                not_found: Callable[[str], str]) -> tuple[list[Any], list[str]]:
    """Each name as the first kind that has it; docker's errors for the rest."""
    objects, errors = [], []
    for n in names:
        found = None
        for kind in kinds:
            try:
                found = get[kind](n)
                break
            except errdefs.NotFound:
                continue
            except errdefs.EngineError as e:
                raise daemon_error(e) from None
        if found is None:
            errors.append(not_found(n))
        else:
            objects.append(found)
    return objects, errors


def finish(objects: list[Any], errors: list[str], fmt: str) -> int:
    write_inspect(objects, fmt)
    if errors:
        raise CLIError("\n".join(errors), 1)
    return 0


def cmd_inspect(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard inspect", usage="dockyard inspect [OPTIONS] NAME|ID [NAME|ID...]")
    p.add_argument("-f", "--format", default="", help=INSPECT_FORMAT_HELP)
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes if the type is container")
    p.add_argument("--type", default="", help="Only inspect objects of the given type")
    p.add_argument("names", nargs="+", metavar="NAME|ID")
    a = p.parse_args(argv)
    if a.type and a.type not in KINDS:
        raise CLIError(f'"{a.type}" is not a valid value for --type', 1)
    if a.format and a.format != "json":
        parse_template(expand_escapes(a.format))
    kinds = (a.type,) if a.type else KINDS
    objects, errors = inspect_all(a.names, kinds, _inspectors(client(gopts), a.size),
                                  lambda n: f"Error: No such {a.type or 'object'}: {n}")
    return finish(objects, errors, a.format)


def cmd_container_inspect(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard container inspect", usage="dockyard container inspect [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-f", "--format", default="", help=INSPECT_FORMAT_HELP)
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.add_argument("names", nargs="+", metavar="CONTAINER")
    a = p.parse_args(argv)
    if a.format and a.format != "json":
        parse_template(expand_escapes(a.format))
    objects, errors = inspect_all(a.names, ("container",), _inspectors(client(gopts), a.size),
                                  lambda n: f"Error response from daemon: No such container: {n}")
    return finish(objects, errors, a.format)
