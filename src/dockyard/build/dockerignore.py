""".dockerignore files with docker's semantics (moby/patternmatcher):
patterns are cleaned paths relative to the context root, Go's
filepath.Match syntax plus `**` for any number of directories, `!` marks
an exception, the last matching pattern decides, and a pattern matching a
parent directory matches everything below it.

Also used by COPY/ADD --exclude. Stdlib only: the CLI imports it."""

from __future__ import annotations

import posixpath
import re

IGNORE_FILE = ".dockerignore"


class Pattern:
    """One pattern line (a plain class: the CLI imports this module, and
    dataclasses would bring inspect along)."""
    __slots__ = ("text", "exclusion", "regex")

    def __init__(self, text: str, exclusion: bool, regex: "re.Pattern[str]") -> None:
        self.text = text  # cleaned, without the "!"
        self.exclusion = exclusion
        self.regex = regex

    def __repr__(self) -> str:
        return f"Pattern({self.text!r}, exclusion={self.exclusion})"

    @property
    def dirs(self) -> list[str]:
        return self.text.split("/")

    @property
    def dirs(self) -> list[str]:
        return self.text.split("/")


def read_patterns(data: str | bytes) -> list[str]:
    """The pattern lines of an ignore file, normalized as docker does."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if data.startswith("\ufeff"):
        data = data[1:]
    out = []
    for line in data.splitlines():
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = posixpath.normpath(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


def _compile(pattern: str) -> "re.Pattern[str]":
    rx = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                rx.append(".*" if i >= n else "(.*/)?")
            else:
                rx.append("[^/]*")
        elif ch == "?":
            rx.append("[^/]")
        elif ch == "\\":
            if i < n:
                rx.append(re.escape(pattern[i]))
                i += 1
            else:
                rx.append("\\\\")
        elif ch == "[":
            end = pattern.find("]", i + 1 if i < n and pattern[i] in "!^" else i)
            if end < 0:
                raise ValueError(f"syntax error in pattern {pattern!r}: unterminated [")
            body = pattern[i:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            rx.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            rx.append(re.escape(ch))
    rx.append("$")
    return re.compile("".join(rx), re.S)


class PatternMatcher:
    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[Pattern] = []
        for p in patterns:
            exclusion = p.startswith("!")
            text = p[1:] if exclusion else p
            if not text:
                raise ValueError("illegal exclusion pattern: \"!\"")
            text = posixpath.normpath(text)
            self.patterns.append(Pattern(text, exclusion, _compile(text)))
        self._memo: dict[str, tuple[bool, ...]] = {}

    @property
    def has_exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        """Is path (relative, '/'-separated) excluded? The last pattern that
        matches it or one of its parent directories decides."""
        path = posixpath.normpath(path)
        parent = posixpath.dirname(path)
        return self.matches_below(path, self._hits(parent) if parent else None)

    def directory_verdict(self, directory: str) -> tuple[bool, ...]:
        """For each pattern: does it match the (clean) directory or one of
        its parents? Memoized; for matches_below."""
        return self._hits(directory)

    def matches_below(self, path: str, above: tuple[bool, ...] | None) -> bool:
        """matches() for a clean path whose parent directory's verdict is
        known already (None at the top): what a walker asks per file."""
        matched = False
        for i, p in enumerate(self.patterns):
            if (above is not None and above[i]) or p.regex.match(path):
                matched = not p.exclusion
        return matched

    def _hits(self, directory: str) -> tuple[bool, ...]:
        """For each pattern: does it match directory or one of its parents?
        (memoized: a context's files share their directories)"""
        hits = self._memo.get(directory)
        if hits is None:
            parent = posixpath.dirname(directory)
            above = self._hits(parent) if parent else None
            hits = tuple((above is not None and above[i]) or bool(p.regex.match(directory))
                         for i, p in enumerate(self.patterns))
            self._memo[directory] = hits
        return hits

    def may_match_below(self, directory: str) -> bool:
        """Could an exception pattern re-include something below an excluded
        directory? (lets a walker skip whole directories otherwise)"""
        directory = posixpath.normpath(directory)
        depth = len(directory.split("/"))
        for p in self.patterns:
            if not p.exclusion:
                continue
            if "**" in p.text:
                return True
            prefix = "/".join(p.dirs[:depth])
            if _compile(prefix).match(directory) or p.text.startswith(directory + "/"):
                return True
        return False


def ignore_file_for(dockerfile: str) -> str:
    """The Dockerfile-specific ignore file (<name>.dockerignore next to it),
    which takes precedence over the context's .dockerignore."""
    return dockerfile + IGNORE_FILE
