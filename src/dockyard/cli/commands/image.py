"""Image commands: pull, push, rmi, tag, history, save, load, import, login,
logout, image prune/inspect (`images` is imagelist.py's)."""

from __future__ import annotations

import sys

from ... import errdefs
from ..errors import CLIError
from ..format import LIST_FORMAT_HELP, Context, ago, ellipsis, human_size, local_rfc3339, trunc_id, write_list
from .common import (Parser, client, confirm, daemon_call, daemon_error, image_delete_lines, parse_filters, print_prune,
                     split_name_tag)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

def _chunks(f) -> Iterator[bytes]:
    while True:
        data = f.read(1 << 20)
        if not data:
            return
        yield data


def cmd_import(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard import", usage="dockyard import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]")
    p.add_argument("-c", "--change", action="append", default=[], help="Apply Dockerfile instruction to the created image")
    p.add_argument("-m", "--message", default="", help="Set commit message for imported image")
    p.add_argument("--platform", default="", help="Set platform if server is multi-platform capable")
    p.add_argument("source")
    p.add_argument("reference", nargs="?", default="")
    a = p.parse_args(argv)
    repo, tag = split_name_tag(a.reference)
    api = client(gopts)
    if a.source == "-":
        src = _chunks(sys.stdin.buffer)
    else:
        if "://" in a.source:
            raise CLIError("importing from a URL is not supported; download it and import the file", 1)
        try:
            f = open(a.source, "rb")
        except OSError as e:
            raise CLIError(f"open {a.source}: {(e.strerror or str(e)).lower()}", 1) from None
        src = _chunks(f)
    try:
        for msg in api.image_import(src, repo, tag, a.change, a.message, a.platform):
            if msg.get("error"):
                raise CLIError(msg["error"], 1)
            if msg.get("status"):
                print(msg["status"])
    except errdefs.EngineError as e:
        raise daemon_error(e) from None
    return 0


def cmd_tag(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard tag", usage="dockyard tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")
    p.add_argument("source")
    p.add_argument("target")
    a = p.parse_args(argv)
    repo, tag = split_name_tag(a.target)
    daemon_call(client(gopts).image_tag, a.source, repo, tag)
    return 0


def _split_tag(ref: str) -> tuple[str, str]:
    """name[:tag][@digest] -> (name, tag or digest)."""
    if "@" in ref:
        name, digest = ref.split("@", 1)
        return name, digest
    return split_name_tag(ref)


def _full_name(name: str, tag: str) -> str:
    from ...oci import reference
    try:
        r = reference.parse(name if not tag else (f"{name}@{tag}" if tag.startswith("sha256:") else f"{name}:{tag}"))
        return str(r)
    except errdefs.InvalidArgument:
        return name


def pull_image(api, ref: str, platform: str = "", quiet: bool = False, all_tags: bool = False,
               out=None, status: int = 1) -> None:
    """docker pull's client side (also used by run/create for a missing image)."""
    from ..progress import display_stream
    name, tag = _split_tag(ref)
    if not tag and not all_tags:
        tag = "latest"
        if not quiet:
            (out or sys.stdout).write("Using default tag: latest\n")
    try:
        display_stream(api.image_pull(name, tag, platform), out=out, quiet=quiet)
    except errdefs.EngineError as e:
        raise daemon_error(e, status) from None
    except CLIError as e:
        raise CLIError(e.args[0], status) from None


def cmd_pull(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard pull", usage="dockyard pull [OPTIONS] NAME[:TAG|@DIGEST]")
    p.add_argument("-a", "--all-tags", action="store_true", help="Download all tagged images in the repository")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("--platform", default="", help="Set platform if server is multi-platform capable")
    p.add_argument("--disable-content-trust", action="store_true", default=True, help=argparse_hidden())
    p.add_argument("name")
    a = p.parse_args(argv)
    name, tag = _split_tag(a.name)
    if a.all_tags and tag:
        raise CLIError("tag can't be used with --all-tags/-a", 1)
    pull_image(client(gopts), a.name, a.platform, a.quiet, a.all_tags)
    print(_full_name(name, tag or ("" if a.all_tags else "latest")))
    return 0


def argparse_hidden() -> str:
    import argparse
    return argparse.SUPPRESS


def cmd_push(argv: list[str], gopts: dict) -> int:
    from ..progress import display_stream
    p = Parser(prog="dockyard push", usage="dockyard push [OPTIONS] NAME[:TAG]")
    p.add_argument("-a", "--all-tags", action="store_true", help="Push all tags of an image to the repository")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    p.add_argument("--disable-content-trust", action="store_true", default=True, help=argparse_hidden())
    p.add_argument("--platform", default="", api_version="1.46", help="Push a platform-specific manifest as a single-platform image to "
                   "the registry.\nImage index won't be pushed, meaning that other manifests, including attestations "
                   "won't be preserved.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)")
    p.add_argument("name")
    a = p.parse_args(argv)
    platform = platform_query(a.platform) if a.platform else ""
    name, tag = _split_tag(a.name)
    if "@" in a.name:
        raise CLIError("cannot push a digest reference", 1)
    if a.all_tags and tag:
        raise CLIError("tag can't be used with --all-tags/-a", 1)
    if not tag and not a.all_tags:
        tag = "latest"
        if not a.quiet:
            print("Using default tag: latest")
    api = client(gopts)
    try:
        display_stream(api.image_push(name, tag, platform=platform), quiet=a.quiet)
    except errdefs.EngineError as e:
        raise daemon_error(e) from None
    if a.quiet:
        print(_full_name(name, tag))
    return 0


def cmd_rmi(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard rmi", usage="dockyard rmi [OPTIONS] IMAGE [IMAGE...]")
    p.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    p.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents")
    p.add_argument("--platform", action="append", default=[], kind="strings", api_version="1.50", help='Remove only the given platform '
                   'variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")')
    p.add_argument("images", nargs="+")
    a = p.parse_args(argv)
    platforms = [platform_query(v) for arg in a.platform for v in arg.split(",") if v]
    api = client(gopts)
    failed = False
    for ref in a.images:
        try:
            for rec in api.image_remove(ref, a.force, a.no_prune, platforms):
                for k, v in rec.items():
                    print(f"{k}: {v}")
        except errdefs.EngineError as e:
            sys.stderr.write(daemon_error(e).args[0] + "\n")
            failed = True
    return 1 if failed else 0


HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_TABLE_NOT_HUMAN = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"


class HistoryContext(Context):
    """One row of `history`, docker's historyContext."""

    template_type = "*image.historyContext"
    FIELDS = ("Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size")
    HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
               "Size": "SIZE", "Comment": "COMMENT"}

    def __init__(self, h: dict[str, Any], trunc: bool, human: bool) -> None:
        self.h = h
        self.trunc = trunc
        self.human = human

    @property
    def ID(self) -> str:  # noqa: N802 - docker's template field names
        i = self.h.get("Id", "")
        return trunc_id(i) if self.trunc else i

    @property
    def CreatedAt(self) -> str:  # noqa: N802
        return local_rfc3339(self.h.get("Created", 0))

    @property
    def CreatedSince(self) -> str:  # noqa: N802
        return ago(self.h.get("Created", 0)) if self.human else self.CreatedAt

    @property
    def CreatedBy(self) -> str:  # noqa: N802
        by = (self.h.get("CreatedBy") or "").replace("\t", " ")
        return ellipsis(by, 45) if self.trunc else by

    @property
    def Size(self) -> str:  # noqa: N802
        size = int(self.h.get("Size") or 0)
        return human_size(size, 3) if self.human else str(size)

    @property
    def Comment(self) -> str:  # noqa: N802
        return self.h.get("Comment") or ""


def platform_query(value: str) -> str:
    """--platform as the API takes it: an OCI platform in JSON. (The flags
    carry the API version that introduced them, which the parser checks.)"""
    from ... import errdefs
    from ...client import jsonfast
    from ...oci import platform
    try:
        return jsonfast.dumps(platform.parse(value).to_dict())
    except errdefs.InvalidArgument as e:
        raise CLIError(f"invalid platform: {e}", 1) from None


def cmd_history(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard history", usage="dockyard history [OPTIONS] IMAGE")
    p.add_argument("--format", default="", help=LIST_FORMAT_HELP)
    p.add_argument("-H", "--human", action="store_true", default=True,
                   help="Print sizes and dates in human readable format")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("--platform", default="", api_version="1.48", help='Show history for the given platform. '
                   'Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")')
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("image")
    a = p.parse_args(argv)
    platform = platform_query(a.platform) if a.platform else ""
    human = a.human
    fmt = a.format
    if not fmt or fmt == "table":
        fmt = "{{.ID}}" if a.quiet else HISTORY_TABLE if human else HISTORY_TABLE_NOT_HUMAN
    items = daemon_call(client(gopts).image_history, a.image, platform)
    write_list(fmt, [HistoryContext(h, not a.no_trunc, human) for h in items], HISTORY_TABLE,
               headers=HistoryContext.HEADERS)
    return 0


def cmd_save(argv: list[str], gopts: dict) -> int:
    import os
    p = Parser(prog="dockyard save", usage="dockyard save [OPTIONS] IMAGE [IMAGE...]")
    p.add_argument("-o", "--output", default="", help="Write to a file, instead of STDOUT")
    p.add_argument("--platform", default="", api_version="1.48", help='Save only the given platform variant. Formatted as '
                   '"os[/arch[/variant]]" (e.g., "linux/amd64")')
    p.add_argument("images", nargs="+")
    a = p.parse_args(argv)
    platforms = [platform_query(a.platform)] if a.platform else []
    if not a.output and sys.stdout.isatty():
        raise CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1)
    resp = daemon_call(client(gopts).image_save, a.images, platforms)
    if a.output:
        tmp = a.output + ".dockyard-tmp"
        try:
            out = open(tmp, "wb")
        except OSError as e:
            raise CLIError(f"failed to save image: {e.strerror}: {a.output}", 1) from None
    else:
        out = sys.stdout.buffer
    try:
        for chunk in resp.iter_chunks():
            out.write(chunk)
        out.flush()
        if a.output:
            out.close()
            os.replace(tmp, a.output)
    except BaseException:
        if a.output:
            out.close()
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise
    return 0


def cmd_load(argv: list[str], gopts: dict) -> int:
    from ..progress import display_stream
    p = Parser(prog="dockyard load", usage="dockyard load [OPTIONS]")
    p.add_argument("-i", "--input", default="", help="Read from tar archive file, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")
    p.add_argument("--platform", default="", api_version="1.48", help='Load only the given platform variant. Formatted as '
                   '"os[/arch[/variant]]" (e.g., "linux/amd64")')
    a = p.parse_args(argv)
    platforms = [platform_query(a.platform)] if a.platform else []
    if a.input:
        try:
            f = open(a.input, "rb")
        except OSError as e:
            raise CLIError(f"open {a.input}: {(e.strerror or str(e)).lower()}", 1) from None
    else:
        if sys.stdin.isatty():
            raise CLIError("requested load from stdin, but stdin is empty", 1)
        f = sys.stdin.buffer
    try:
        display_stream(client(gopts).image_load(_chunks(f), a.quiet, platforms))
    except errdefs.EngineError as e:
        raise daemon_error(e) from None
    return 0


def cmd_login(argv: list[str], gopts: dict) -> int:
    from ...registry.client import dockerconfig
    p = Parser(prog="dockyard login", usage="dockyard login [OPTIONS] [SERVER]")
    p.add_argument("-u", "--username", default="", help="Username")
    p.add_argument("-p", "--password", default="", help="Password")
    p.add_argument("--password-stdin", action="store_true", help="Take the password from stdin")
    p.add_argument("server", nargs="?", default="")
    a = p.parse_args(argv)
    password = a.password
    if a.password_stdin:
        if a.password:
            raise CLIError("--password and --password-stdin are mutually exclusive", 1)
        if not a.username:
            raise CLIError("Must provide --username with --password-stdin", 1)
        password = sys.stdin.read().rstrip("\r\n")
    elif a.password:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    server = a.server or dockerconfig.DOCKER_HUB_KEY
    username = a.username
    if not username or not password:
        try:
            saved = dockerconfig.get_credentials(server) or {}
        except ValueError:  # as docker: unreadable saved credentials just are not offered
            saved = {}
        if not sys.stdin.isatty():
            if saved and not username:
                username, password = saved.get("username", ""), saved.get("password", "")
            if not username or not password:
                raise CLIError("Error: Cannot perform an interactive login from a non TTY device", 1)
        else:
            import getpass
            if not username:
                username = input(f"Username ({saved.get('username', '')}): " if saved else "Username: ").strip() \
                    or saved.get("username", "")
            if not password:
                password = getpass.getpass("Password: ")
        if not username:
            raise CLIError("Error: Non-null Username Required", 1)
        if not password:
            raise CLIError("Error: Password Required", 1)
    res = daemon_call(client(gopts).login, username, password, server)
    try:
        path = dockerconfig.config_path()
        helper = dockerconfig.helper_for(server)
        dockerconfig.store_credentials(server, username, password, (res or {}).get("IdentityToken", ""))
    except (OSError, ValueError) as e:
        raise CLIError(f"Error saving credentials: {e}", 1) from None
    if not helper:
        sys.stderr.write(f"WARNING! Your password will be stored unencrypted in {path}.\n")
    print((res or {}).get("Status") or "Login Succeeded")
    return 0


def cmd_logout(argv: list[str], gopts: dict) -> int:
    from ...registry.client import dockerconfig
    p = Parser(prog="dockyard logout", usage="dockyard logout [SERVER]")
    p.add_argument("server", nargs="?", default="")
    a = p.parse_args(argv)
    server = a.server or dockerconfig.DOCKER_HUB_KEY
    key = dockerconfig.server_key(server)
    warning = ""
    try:
        removed = dockerconfig.erase_credentials(server)
    except dockerconfig.HelperError as e:  # config.json is updated; the helper kept its copy
        removed, warning = True, str(e)
    except (OSError, ValueError) as e:
        raise CLIError(f"Error: {e}", 1) from None
    if not removed:
        print(f"Not logged in to {key}")
        return 0
    print(f"Removing login credentials for {key}")
    if warning:
        sys.stderr.write(f"WARNING: could not erase credentials:\n{key}: {warning}\n")
    return 0


def cmd_image_prune(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard image prune", usage="dockyard image prune [OPTIONS]")
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones")
    p.add_argument("--filter", action="append", default=[], kind="filter",
                   help='Provide filter values (e.g. "until=<timestamp>")')
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    a = p.parse_args(argv)
    filters = parse_filters(a.filter)
    if a.all:
        filters["dangling"] = ["false"]
    warning = ("WARNING! This will remove all images without at least one container associated to them."
               if a.all else "WARNING! This will remove all dangling images.")
    if not confirm(warning, a.force):
        return 0
    res = daemon_call(client(gopts).image_prune, filters or None)
    print_prune("Deleted Images:", image_delete_lines(res.get("ImagesDeleted")), res.get("SpaceReclaimed", 0))
    return 0


def cmd_image_inspect(argv: list[str], gopts: dict) -> int:
    import json
    p = Parser(prog="dockyard image inspect", usage="dockyard image inspect [OPTIONS] IMAGE [IMAGE...]")
    p.add_argument("-f", "--format", default="", help="Format output using a custom template")
    p.add_argument("images", nargs="+")
    a = p.parse_args(argv)
    api = client(gopts)
    out, failed = [], False
    for ref in a.images:
        try:
            out.append(api.image_inspect(ref))
        except errdefs.NotFound:
            sys.stderr.write(f"Error: No such image: {ref}\n")
            failed = True
        except errdefs.EngineError as e:
            sys.stderr.write(daemon_error(e).args[0] + "\n")
            failed = True
    if a.format:
        from ..template import render
        for obj in out:
            print(render(a.format, obj))
    else:
        print(json.dumps(out, indent=4))
    return 1 if failed else 0
