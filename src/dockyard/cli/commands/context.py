"""context create, ls, inspect, use, show, update, rm: docker's contexts,
in docker's store (cli/contextstore.py), so the docker CLI and dockyard
see the same contexts and the same current one."""

from __future__ import annotations

import os
import sys

from .. import contextstore as store
from ..errors import CLIError
from ..format import INSPECT_FORMAT_HELP, LIST_FORMAT_HELP, Context, write_inspect, write_list
from ..main import context_name
from .common import Parser

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DOCKER_HELP = """set the docker endpoint (default [])"""
ENDPOINT_KEYS = ("from", "host", "ca", "cert", "key", "skip-tls-verify")
ENDPOINT_EPILOG = """Docker endpoint config:

NAME                DESCRIPTION
from                Copy named context's Docker endpoint configuration
host                Docker endpoint on which to connect
ca                  Trust certs signed only by this CA
cert                Path to TLS certificate file
key                 Path to TLS key file
skip-tls-verify     Skip TLS certificate validation
"""


class ContextRow(Context):
    template_type = "*context.ClientContext"
    FIELDS = ("Current", "Description", "DockerEndpoint", "Error", "Name")
    HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "DockerEndpoint": "DOCKER ENDPOINT", "Error": "ERROR",
               "Current": ""}  # "NAME", not "NAME *", in the header

    def __init__(self, meta: dict[str, Any], current: bool) -> None:
        self.Name = meta["Name"]  # noqa: N815 - docker's template names
        self.Description = (meta.get("Metadata") or {}).get("Description", "")  # noqa: N815
        self.DockerEndpoint = store.docker_endpoint(meta).get("Host", "")  # noqa: N815
        self.Current = current  # noqa: N815
        self.Error = ""  # noqa: N815


def _parse_docker(values: list[str]) -> dict[str, str]:
    """--docker "host=...,ca=...": docker's stringToString flag."""
    out: dict[str, str] = {}
    for v in values:
        for part in v.split(","):
            if not part:
                continue
            k, eq, val = part.partition("=")
            if not eq:
                raise CLIError(f'invalid argument "{v}" for "--docker" flag: {part} must be formatted as key=value'
                               "\n\nUsage:  dockyard context create [OPTIONS] CONTEXT\n\n"
                               "Run 'dockyard context create --help' for more information", 125)
            if k not in ENDPOINT_KEYS:
                raise CLIError(f"unable to create docker endpoint config: unrecognized config key: {k}", 1)
            out[k] = val
    return out


def _endpoint(gopts: dict, spec: dict[str, str], base: dict[str, Any] | None, base_name: str
              ) -> tuple[dict[str, Any], dict[str, bytes] | None]:
    """The docker endpoint and TLS files for --docker, starting from base
    (a context's endpoint) when the spec says `from=` or says nothing."""
    if "from" in spec:
        base_name = spec["from"]
        base = store.docker_endpoint(store.load(gopts, base_name))
    ep = {"Host": (base or {}).get("Host", ""), "SkipTLSVerify": bool((base or {}).get("SkipTLSVerify"))}
    tls: dict[str, bytes] | None = None
    if base is not None and base_name != store.DEFAULT:
        tls = {}
        for fname, path in store.tls_files(gopts, base_name).items():
            with open(path, "rb") as f:
                tls[fname] = f.read()
    if "host" in spec:
        host = spec["host"]
        if host and "://" not in host:
            raise CLIError("unable to create docker endpoint config: unable to apply docker endpoint options: "
                           f"unable to parse docker host `{host}`", 1)
        ep["Host"] = host
    if "skip-tls-verify" in spec:
        v = spec["skip-tls-verify"].lower()
        if v not in ("true", "false", "1", "0", "t", "f"):
            raise CLIError(f"unable to create docker endpoint config: name: skip-tls-verify, "
                           f'value: {spec["skip-tls-verify"]}: invalid syntax', 1)
        ep["SkipTLSVerify"] = v in ("true", "1", "t")
    for key, fname in (("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")):
        if spec.get(key):
            path = os.path.expanduser(spec[key])
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise CLIError(f"unable to create docker endpoint config: open {path}: {e.strerror.lower()}", 1) from None
            tls = dict(tls or {})
            tls[fname] = data
    if ("cert" in spec) != ("key" in spec) and (spec.get("cert") or spec.get("key")):
        raise CLIError("unable to create docker endpoint config: cert and key must be provided together", 1)
    if not ep["Host"]:
        from ...client.base import default_host
        ep["Host"] = default_host()
    return ep, tls


def cmd_create(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard context create", usage="dockyard context create [OPTIONS] CONTEXT",
               description="Create a context", epilog=ENDPOINT_EPILOG)
    p.add_argument("--description", default=None, help="Description of the context")
    p.add_argument("--docker", action="append", default=[], help=DOCKER_HELP)
    p.add_argument("--from", dest="from_", default="", help="create context from a named context")
    p.add_argument("name", metavar="CONTEXT")
    a = p.parse_args(argv)
    store.validate_name(a.name)
    if store.exists(gopts, a.name):
        raise CLIError(f'context "{a.name}" already exists', 1)
    spec = _parse_docker(a.docker)
    if a.from_ and spec:
        raise CLIError("cannot use --docker flag when --from is set", 1)
    description = a.description
    if spec:
        ep, tls = _endpoint(gopts, spec, None, "")
    else:
        # Nothing said: a copy of --from, else of the context in use (docker's createFromContext).
        source = a.from_ or context_name(gopts)
        meta = store.load(gopts, source)
        ep, tls = _endpoint(gopts, {}, store.docker_endpoint(meta), source)
        if description is None:
            description = (meta.get("Metadata") or {}).get("Description", "")
    metadata = {"Description": description} if description else {}
    store.save(gopts, {"Name": a.name, "Metadata": metadata, "Endpoints": {"docker": ep}}, tls)
    sys.stdout.write(a.name + "\n")
    sys.stderr.write(f'Successfully created context "{a.name}"\n')
    return 0


def cmd_update(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard context update", usage="dockyard context update [OPTIONS] CONTEXT",
               description="Update a context", epilog=ENDPOINT_EPILOG)
    p.add_argument("--description", default=None, help="Description of the context")
    p.add_argument("--docker", action="append", default=[], help=DOCKER_HELP)
    p.add_argument("name", metavar="CONTEXT")
    a = p.parse_args(argv)
    if a.name == store.DEFAULT:
        raise CLIError(f'"{store.DEFAULT}" is a reserved context name', 1)
    meta = store.load(gopts, a.name)
    tls = None
    spec = _parse_docker(a.docker)
    if spec:
        ep, tls = _endpoint(gopts, spec, store.docker_endpoint(meta), a.name)
        meta.setdefault("Endpoints", {})["docker"] = ep
    if a.description is not None:
        md = meta.get("Metadata") if isinstance(meta.get("Metadata"), dict) else {}
        meta["Metadata"] = {**md, "Description": a.description}
    store.save(gopts, meta, tls)
    sys.stdout.write(a.name + "\n")
    sys.stderr.write(f'Successfully updated context "{a.name}"\n')
    return 0


def cmd_ls(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard context ls", usage="dockyard context ls [OPTIONS]", description="List contexts")
    p.add_argument("--format", default="", help=LIST_FORMAT_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="Only show context names")
    a = p.parse_args(argv)
    current = context_name(gopts)
    from ...client.base import getenv
    configured = getenv("DOCKER_CONTEXT") or _config_current(gopts)
    if (getenv("DOCKYARD_HOST") or getenv("DOCKER_HOST")) and configured not in ("", store.DEFAULT) \
            and not gopts.get("context"):
        sys.stderr.write("Warning: DOCKER_HOST environment variable overrides the active context. To use a "
                         "context, either set the global --context flag, or unset DOCKER_HOST environment "
                         "variable.\n")
    rows = [ContextRow(m, m["Name"] == current) for m in store.list_all(gopts)]
    fmt = "{{.Name}}" if a.quiet else a.format
    write_list(fmt, rows, "table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}",
               headers=ContextRow.HEADERS)
    return 0


def _config_current(gopts: dict) -> str:
    from ..config import load
    return load(gopts).get("currentContext") or ""


def cmd_inspect(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard context inspect", usage="dockyard context inspect [OPTIONS] [CONTEXT] [CONTEXT...]",
               description="Display detailed information on one or more contexts")
    p.add_argument("-f", "--format", default="", help=INSPECT_FORMAT_HELP)
    p.add_argument("names", nargs="*", metavar="CONTEXT")
    a = p.parse_args(argv)
    objects = []
    for name in a.names or [context_name(gopts)]:
        meta = store.load(gopts, name)
        ep = store.docker_endpoint(meta)
        files = store.tls_files(gopts, name)
        in_memory = name == store.DEFAULT
        objects.append({
            "Name": name, "Metadata": {} if in_memory else meta.get("Metadata") or {},
            "Endpoints": {"docker": {"Host": ep.get("Host", ""), "SkipTLSVerify": bool(ep.get("SkipTLSVerify"))}},
            "TLSMaterial": {"docker": sorted(files)} if files else {},
            "Storage": {"MetadataPath": "<IN MEMORY>" if in_memory else store.meta_dir(gopts, name),
                        "TLSPath": "<IN MEMORY>" if in_memory else store.tls_dir(gopts, name)}})
    write_inspect(objects, a.format)
    return 0


def cmd_use(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard context use", usage="dockyard context use CONTEXT",
               description="Set the current docker context")
    p.add_argument("name", metavar="CONTEXT")
    a = p.parse_args(argv)
    store.load(gopts, a.name)  # it must exist
    store.set_current(gopts, a.name)
    sys.stdout.write(a.name + "\n")
    sys.stderr.write(f'Current context is now "{a.name}"\n')
    from ...client.base import getenv
    if a.name != store.DEFAULT and (getenv("DOCKYARD_HOST") or getenv("DOCKER_HOST")):
        sys.stderr.write("Warning: DOCKER_HOST environment variable overrides the active context. To use "
                         f'"{a.name}", either set the global --context flag, or unset DOCKER_HOST environment '
                         "variable.\n")
    return 0


def cmd_show(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard context show", usage="dockyard context show",
               description="Print the name of the current context")
    p.parse_args(argv)
    sys.stdout.write(context_name(gopts) + "\n")
    return 0


def cmd_rm(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard context rm", usage="dockyard context rm CONTEXT [CONTEXT...]",
               description="Remove one or more contexts")
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of a context in use")
    p.add_argument("names", nargs="+", metavar="CONTEXT")
    a = p.parse_args(argv)
    configured = _config_current(gopts)
    errors = []
    for name in a.names:
        if name == store.DEFAULT:
            errors.append('context "default" cannot be removed')
            continue
        if not store.exists(gopts, name):
            errors.append(f'context "{name}" does not exist')
            continue
        if name == configured:
            if not a.force:
                errors.append(f'context "{name}" is in use, set -f flag to force remove')
                continue
            store.set_current(gopts, store.DEFAULT)
        store.remove(gopts, name)
        sys.stdout.write(name + "\n")
    if errors:
        raise CLIError("\n".join(errors), 1)
    return 0
