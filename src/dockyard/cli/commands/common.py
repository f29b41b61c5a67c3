"""Helpers shared by commands: the client, daemon errors, filters, --format.

- client(gopts): the APIClient for -H/TLS/env (see main.client).
- daemon_call(fn, *args, status=1): call the API, turn a daemon error into
  "Error response from daemon: ..." with exit status `status`.
- each(names, fn): docker's loop over several objects (print each name that
  worked, one error line per failure, exit 1 if any failed).
- parse_filters(["k=v", ...]) -> {"k": ["v"]} for the API's filters.
- parse_key_values / read_kv_file: label and env options.
"""

from __future__ import annotations

import sys

from ... import errdefs
from ..errors import CLIError, StatusError
from ..flags import REMAINDER, Namespace, Parser
from ..main import client, load_while_waiting  # noqa: F401 - the commands import it from here

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

__all__ = ["Parser", "Namespace", "REMAINDER", "client", "daemon_call", "daemon_error", "each", "parse_filters",
           "CLIError", "StatusError", "flag_set", "confirm", "parse_key_values", "check_flag_support", "print_prune",
           "image_delete_lines", "split_name_tag"]


def daemon_error(e: errdefs.EngineError, status: int = 1) -> CLIError:
    from ...client import DaemonUnreachable
    if isinstance(e, DaemonUnreachable):
        return CLIError(e.message, status)
    return CLIError(f"Error response from daemon: {e.message}", status)


def list_format_help() -> str:
    """format.LIST_FORMAT_HELP, as a callable help text (flags.py): format.py
    loads only when --help shows it."""
    from ..format import LIST_FORMAT_HELP
    return LIST_FORMAT_HELP


def daemon_call(fn: Callable[..., Any], *args: Any, status: int = 1, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except errdefs.EngineError as e:
        raise daemon_error(e, status) from None


def each(names: Iterable[str], fn: Callable[[str], Any], echo: bool = True) -> int:
    """Apply fn to every name as docker does for rm/stop/kill/...: print the
    name on success, collect errors, then fail with all of them (exit 1)."""
    errors = []
    for n in names:
        try:
            fn(n)
        except errdefs.EngineError as e:
            from ...client import DaemonUnreachable
            if isinstance(e, DaemonUnreachable):
                raise daemon_error(e) from None
            errors.append(f"Error response from daemon: {e.message}")
            continue
        if echo:
            sys.stdout.write(n + "\n")
            sys.stdout.flush()
    if errors:
        raise CLIError("\n".join(errors), 1)
    return 0


def parse_filters(values: list[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in values or []:
        k, eq, v = f.partition("=")
        if not eq:
            raise CLIError("bad format of filter (expected name=value)", 1)
        out.setdefault(k.strip().lower(), []).append(v)
    return out


def parse_key_values(values: list[str] | None) -> dict[str, str]:
    """key=value list (labels, options); a bare key gets an empty value."""
    out: dict[str, str] = {}
    for v in values or []:
        k, _, val = v.partition("=")
        out[k] = val
    return out


def check_flag_support(gopts: dict, flags: list[tuple[str, str | None, bool]]) -> None:
    """docker's check of annotated flags the user gave, (name, API version that
    introduced it, experimental only): a flag newer than the API version in use,
    or experimental on a daemon that is not, is refused before anything else is
    done (dockyard's API is 1.45: --platform on save/load/history/push/rmi is
    refused that way; it is not experimental: --squash too)."""
    api = client(gopts)
    errors = []
    current = ""
    experimental = None
    for name, needed, exp in flags:
        if needed:
            current = current or daemon_call(api.api_version)
            if tuple(map(int, current.split("."))) < tuple(map(int, needed.split("."))):
                errors.append(f'"--{name}" requires API version {needed}, but the Docker daemon API version is '
                              f'{current}')
                continue
        if exp:
            if experimental is None:
                experimental = daemon_call(api.ping).get("docker-experimental", "").lower() == "true"
            if not experimental:
                errors.append(f'"--{name}" is only supported on a Docker daemon with experimental features enabled')
    if errors:
        raise CLIError("\n".join(errors), 1)


def split_name_tag(ref: str) -> tuple[str, str]:
    """name[:tag] -> (name, tag or ""); a registry's port is no tag (localhost:5000/app)."""
    if ":" in ref.rsplit("/", 1)[-1]:
        name, _, tag = ref.rpartition(":")
        return name, tag
    return ref, ""


def flag_set(ns: Namespace, dest: str) -> bool:
    """Whether the user gave the flag (docker's Flags().Changed)."""
    return dest in ns.__dict__.get("_set_flags", ())


def print_prune(title: str, deleted: list[str] | None, reclaimed: int) -> None:
    """What every prune prints: the title and what went, then the space freed."""
    from ..format import human_size
    out = []
    if deleted:
        out.append(title)
        out.extend(deleted)
        out.append("")
    out.append(f"Total reclaimed space: {human_size(reclaimed or 0)}")
    sys.stdout.write("\n".join(out) + "\n")


def image_delete_lines(records: list[dict[str, str]] | None) -> list[str]:
    """rmi's and image prune's records as docker prints them ("untagged: x", "deleted: sha256:...")."""
    return [f"{k.lower()}: {v}" for rec in records or [] for k, v in rec.items()]


def confirm(question: str, force: bool) -> bool:
    """docker's prune prompt: "Are you sure you want to continue? [y/N]"."""
    if force:
        return True
    sys.stdout.write(f"{question}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
