"""images: its own module, since people run it often (the other image
commands are image.py's). The rows and fields are imageview.py's, loaded
while the daemon answers."""

from __future__ import annotations

import sys

from ..errors import CLIError
from .common import Parser, client, daemon_call, list_format_help, load_while_waiting, parse_filters

IMAGES_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_TABLE_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
# docker's "docker image" subcommands: `docker images ls` most likely meant `docker image ls`.
_IMAGE_SUBCOMMANDS = ("build", "history", "import", "inspect", "list", "load", "ls", "prune", "pull", "push",
                      "rm", "save", "tag")



def cmd_images(argv: list[str], gopts: dict) -> int:
    from ..main import INVOKED_AS
    p = Parser(prog="dockyard images", usage="dockyard images [OPTIONS] [REPOSITORY[:TAG]]")
    p.add_argument("-a", "--all", action="store_true", help="Show all images (default hides intermediate images)")
    p.add_argument("--digests", action="store_true", help="Show digests")
    p.add_argument("-f", "--filter", action="append", default=[], kind="filter",
                   help="Filter output based on conditions provided")
    p.add_argument("--format", default="", help=list_format_help)
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    p.add_argument("--tree", action="store_true", api_version="1.47",
                   help="List multi-platform images as a tree (EXPERIMENTAL)")
    p.add_argument("repository", nargs="?")
    a = p.parse_args(argv)
    if a.tree:  # only past the API version check, i.e. with DOCKER_API_VERSION >= 1.47 against another daemon
        raise CLIError("dockyard does not draw the image tree (--tree); use docker's CLI for it", 1)
    fmt = a.format
    if not fmt:
        from ..config import load
        fmt = "" if a.quiet else load(gopts).get("imagesFormat", "")
    # docker's NewImageFormat: "table" picks the quiet or digests variant; a
    # custom table gets the digest column appended when --digests is given.
    if not fmt or fmt == "table":
        fmt = "{{.ID}}" if a.quiet else IMAGES_TABLE_DIGESTS if a.digests else IMAGES_TABLE
    elif fmt.startswith("table") and a.digests and "{{.Digest}}" not in fmt:  # format.is_table
        fmt += "\t{{.Digest}}"
    if fmt not in (IMAGES_TABLE, IMAGES_TABLE_DIGESTS, "{{.ID}}"):
        from ..format import check_format
        check_format(fmt)
    filters = parse_filters(a.filter)
    if a.repository:
        filters.setdefault("reference", []).append(a.repository)
    api = client(gopts)
    load_while_waiting(api, "dockyard.cli.commands.imageview")
    images = daemon_call(api.image_list, a.all, filters)
    from ..format import write_list
    from .imageview import ImageContext, image_rows
    need_digest = a.digests or "{{.Digest}}" in fmt
    rows = [row for img in images for row in image_rows(img, not a.no_trunc, a.digests, need_digest)]
    write_list(fmt, rows, IMAGES_TABLE, headers=ImageContext.HEADERS)
    if a.repository and not images and "dockyard images" not in INVOKED_AS and a.repository in _IMAGE_SUBCOMMANDS:
        sys.stderr.write(f'\nNo images found matching "{a.repository}": did you mean "dockyard image {a.repository}"?\n')
    return 0
