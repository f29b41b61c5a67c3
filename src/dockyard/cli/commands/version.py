"""version: client and server versions, as docker prints them."""

from __future__ import annotations

import sys

from ... import __version__, errdefs
from ..main import context_name
from .common import Parser, client, daemon_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

API_VERSION = "1.45"
# format.INSPECT_FORMAT_HELP's text; not imported, version has no other use for format.py
FORMAT_HELP = """Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"""


def _client_info(gopts: dict) -> dict[str, Any]:
    import posix  # not platform (it costs more than the rest of `version`), nor os (see cli/main.py)
    machine = posix.uname().machine
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    py = "python%d.%d.%d" % sys.version_info[:3]
    return {"Platform": {"Name": ""}, "Version": __version__, "ApiVersion": API_VERSION,
            "DefaultAPIVersion": API_VERSION, "GitCommit": "", "GoVersion": py,
            "Os": "linux", "Arch": arch, "BuildTime": "", "Context": context_name(gopts)}


def cmd_version(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard version", usage="dockyard version [OPTIONS]")
    p.add_argument("-f", "--format", default="", help=FORMAT_HELP)
    a = p.parse_args(argv)
    tmpl = None
    if a.format:
        from ..format import expand_escapes, parse_template
        tmpl = parse_template(expand_escapes("{{json .}}" if a.format == "json" else a.format))
    cli = _client_info(gopts)
    server = None
    err = None
    try:
        server = client(gopts).version_info()
    except errdefs.EngineError as e:
        err = e
    if tmpl is not None:
        from ..format import render
        sys.stdout.write(render(tmpl, {"Client": cli, "Server": server}) + "\n")
        if err is not None:
            raise daemon_error(err)
        return 0
    out = ["Client:",
           f" Version:           {cli['Version']}",
           f" API version:       {cli['ApiVersion']}",
           f" Go version:        {cli['GoVersion']}",
           f" OS/Arch:           {cli['Os']}/{cli['Arch']}",
           f" Context:           {cli['Context']}"]
    sys.stdout.write("\n".join(out) + "\n")
    if err is not None:
        sys.stdout.write("\n")
        sys.stdout.flush()
        raise daemon_error(err)
    assert server is not None
    out = ["", f"Server: {(server.get('Platform') or {}).get('Name', '')}".rstrip(), " Engine:",
           f"  Version:          {server.get('Version', '')}",
           f"  API version:      {server.get('ApiVersion', '')} (minimum version {server.get('MinAPIVersion', '')})",
           f"  Go version:       {server.get('GoVersion', '')}",
           f"  Git commit:       {server.get('GitCommit', '')}",
           f"  Built:            {server.get('BuildTime', '')}",
           f"  OS/Arch:          {server.get('Os', '')}/{server.get('Arch', '')}",
           f"  Experimental:     {str(bool(server.get('Experimental'))).lower()}"]
    for comp in server.get("Components") or []:
        if comp.get("Name") == "Engine":
            continue
        out.append(f" {comp.get('Name')}:")
        out.append(f"  Version:          {comp.get('Version', '')}")
        for k, v in sorted((comp.get("Details") or {}).items()):
            out.append(f"  {k + ':':<17} {v}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0
