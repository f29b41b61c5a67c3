"""A git repository as a build context, as docker's classic builder makes it.

The URL's fragment picks what to build: `#<ref>:<subdir>` (ref defaults to
master, subdir to the repository's root). The daemon fetches the ref into a
fresh repository (shallow when the server can do it), checks it out, updates
the submodules and makes the checkout (or its subdirectory) the context.

The CLI imports is_git_url: the rest is imported when used.

git is run as a program, as moby does: it is a VCS client, not a kernel tool.
It runs with no system or user configuration, no prompts, and with file://
forbidden so that a hostile repository's submodules cannot read the daemon's
files."""

from __future__ import annotations

import json
import os
import posixpath
import re
from typing import TYPE_CHECKING, Callable

from ..errdefs import Internal

if TYPE_CHECKING:
    from .context import BuildContext

_GIT_SUFFIX = r"\.git(?:#.+)?$"  # compiled when first used (the CLI starts faster)
GIT_TIMEOUT = 600.0  # seconds for one git command: a hung server must not hold a build forever


class GitError(Internal):
    """Fetching or checking out failed (moby answers these with a 500)."""


def is_url(s: str) -> bool:
    return s.startswith(("http://", "https://"))


def is_git_url(s: str) -> bool:
    """docker's rules (urlutil.IsGitURL): http(s) URLs whose path ends in .git
    (a fragment may follow), and anything starting with git://, git@,
    ssh:// or the legacy github.com/ prefix."""
    if is_url(s) and re.search(_GIT_SUFFIX, s):
        return True
    return s.startswith(("git://", "github.com/", "git@", "ssh://"))


class GitSource:
    """What a git URL names (a plain class: a dataclass costs the CLI's start-up)."""

    __slots__ = ("remote", "ref", "subdir")

    def __init__(self, remote: str, ref: str, subdir: str) -> None:
        self.remote, self.ref, self.subdir = remote, ref, subdir


def _scheme(url: str) -> str:
    import urllib.parse
    try:
        return urllib.parse.urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def parse(url: str) -> GitSource:
    import urllib.parse
    if not (url.startswith("git@") or _scheme(url) in ("git", "http", "https", "ssh")):
        url = "https://" + url  # github.com/user/repo
    if url.startswith("git@"):  # scp-like, not a URL
        remote, _, fragment = url.partition("#")
    else:
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError as e:
            raise GitError(f"parse {url!r}: {e}") from None
        fragment = parts.fragment
        remote = urllib.parse.urlunsplit(parts._replace(fragment=""))
    ref, _, subdir = fragment.partition(":")
    ref = ref or "master"
    if ref.startswith("-"):  # it would be an option to git fetch
        raise GitError(f"invalid refspec: {ref}")
    return GitSource(remote, ref, subdir)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", HOME="/dev/null", GIT_TERMINAL_PROMPT="0",
               GIT_PROTOCOL_FROM_USER="0", GIT_ASKPASS="/bin/false", SSH_ASKPASS="/bin/false",
               GIT_SSH_COMMAND="ssh -o BatchMode=yes")
    return env


def _git(cwd: str, *args: str) -> tuple[int, str]:
    import subprocess
    try:
        p = subprocess.run(["git", "-c", "protocol.file.allow=never", *args], cwd=cwd, env=_env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=GIT_TIMEOUT, close_fds=True)
    except FileNotFoundError:
        raise GitError('unable to find "git": the daemon needs git to build from a git repository') from None
    except subprocess.TimeoutExpired:
        return -1, f"git {args[0]} timed out after {GIT_TIMEOUT:.0f}s\n"
    return p.returncode, p.stdout.decode("utf-8", "replace")


def _status(code: int) -> str:
    return f"exit status {code}" if code >= 0 else "timed out"


def supports_shallow(remote: str) -> bool:
    """git's dumb HTTP protocol cannot fetch a given depth: only a smart
    server (one that answers the upload-pack advertisement) can."""
    if _scheme(remote) not in ("http", "https"):
        return True
    import urllib.request
    url = remote + "/info/refs?service=git-upload-pack"
    for method in ("HEAD", "GET"):
        try:
            req = urllib.request.Request(url, method=method)
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.headers.get("Content-Type") == "application/x-git-upload-pack-advertisement"
        except (OSError, ValueError):
            continue
    return False


def _inside(root: str, subdir: str) -> str:
    """root/subdir with its symlinks resolved inside root (a link can't lead out)."""
    path = root
    todo = [p for p in subdir.split("/") if p not in ("", ".")]
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            path = os.path.dirname(path) if path != root else root  # links can't climb out
            continue
        nxt = os.path.join(path, part)
        if os.path.islink(nxt):
            hops += 1
            if hops > 255:
                raise GitError(f"error setting git context, {json.dumps(subdir)} not within git root: too many links")
            target = os.readlink(nxt)
            if target.startswith("/"):
                path = root
            todo = [p for p in target.split("/") if p not in ("", ".")] + todo
            continue
        path = nxt
    return path


def clone(url: str, root: str) -> str:
    """Fetch and check out url's ref into root (an empty directory), and
    return the directory to use as the context."""
    src = parse(url)
    os.makedirs(root, mode=0o700, exist_ok=True)
    code, out = _git(root, "init", "-q")
    if code:
        raise GitError(f"failed to init repo at {root}: {out}: {_status(code)}")
    code, out = _git(root, "remote", "add", "origin", src.remote)
    if code:
        raise GitError(f"failed add origin repo at {src.remote}: {out}: {_status(code)}")
    depth = ["--depth", "1"] if supports_shallow(src.remote) else []
    code, out = _git(root, "fetch", "-q", *depth, "origin", "--", src.ref)
    if code:
        raise GitError(f"error fetching: {out}: {_status(code)}")
    # A branch name checks out as that branch; anything else (a tag, a
    # commit, refs/pull/...) as what the fetch brought.
    code, out = _git(root, "checkout", "-q", src.ref)
    if code:
        code2, _ = _git(root, "checkout", "-q", "FETCH_HEAD")
        if code2:
            raise GitError(f"error checking out {src.ref}: {out}: {_status(code)}")
    ctx = root
    if src.subdir:
        norm = posixpath.normpath(src.subdir)
        if norm == ".." or norm.startswith("../"):
            raise GitError(f"error setting git context, {json.dumps(src.subdir)} not within git root")
        ctx = _inside(root, norm)
        if not os.path.lexists(ctx):
            raise GitError(f"stat {ctx}: no such file or directory")
        if not os.path.isdir(ctx):
            raise GitError(f"error setting git context, not a directory: {ctx}")
    code, out = _git(root, "submodule", "-q", "update", "--init", "--recursive", "--depth=1")
    if code:
        raise GitError(f"error initializing submodules: {out}: {_status(code)}")
    return ctx


def tar_into(directory: str, write: Callable[[bytes], object]) -> None:
    """The directory as an uncompressed tar stream (as moby's archive.Tar of
    the checkout: .git included), paths relative to it."""
    import tarfile

    class _Sink:
        def write(self, data: bytes) -> int:
            write(bytes(data))
            return len(data)

    with tarfile.open(fileobj=_Sink(), mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, directory)
                ti = tf.gettarinfo(full, arcname=rel)
                if ti is None:  # a socket: not in a checkout, and not archivable
                    continue
                ti.uname = ti.gname = ""
                if ti.isreg():
                    with open(full, "rb") as f:
                        tf.addfile(ti, f)
                else:
                    tf.addfile(ti)


def context_from_git(url: str, workdir: str) -> "BuildContext":
    """Clone into the build's workdir, make the context, drop the clone."""
    import shutil

    from .context import BuildContext
    root = os.path.join(workdir, "git")
    try:
        ctx_dir = clone(url, root)
        spool = BuildContext.spooler(workdir)
        try:
            tar_into(ctx_dir, spool.feed)
            data = spool.finish()
        finally:
            spool.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return BuildContext.open(spool, data)
