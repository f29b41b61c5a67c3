"""Image commands: images, import, tag."""

from __future__ import annotations

import sys
from typing import Iterator

from ... import errdefs
from ..errors import CLIError
from ..format import ago, human_size, print_table
from .common import Parser, client, daemon_call, daemon_error


def cmd_images(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard images", usage="dockyard images [OPTIONS] [REPOSITORY[:TAG]]")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--digests", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("repository", nargs="?")
    a = p.parse_args(argv)
    filters: dict[str, list[str]] = {}
    for f in a.filter:
        k, _, v = f.partition("=")
        filters.setdefault(k, []).append(v)
    if a.repository:
        filters.setdefault("reference", []).append(a.repository)
    imgs = daemon_call(client(gopts).image_list, a.all, filters)
    rows = []
    seen = set()
    for img in imgs:
        iid = img["Id"] if a.no_trunc else img["Id"].split(":", 1)[-1][:12]
        tags = img.get("RepoTags") or ["<none>:<none>"]
        for t in tags:
            repo, _, tag = t.rpartition(":")
            if a.quiet:
                if iid not in seen:
                    print(iid)
                    seen.add(iid)
                continue
            rows.append([repo, tag, iid, ago(img.get("Created", 0)), human_size(img.get("Size", 0))])
    if not a.quiet:
        print_table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows)
    return 0


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
    repo, tag = a.reference, ""
    if repo:
        last = repo.rsplit("/", 1)[-1]
        if ":" in last:
            repo, tag = repo.rsplit(":", 1)
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
    repo, tag = a.target, ""
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = repo.rsplit(":", 1)
    daemon_call(client(gopts).image_tag, a.source, repo, tag)
    return 0
