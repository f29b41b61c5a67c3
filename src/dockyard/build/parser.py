"""The Dockerfile parser: parser directives, comments, line continuations,
JSON (exec) and shell forms, heredocs, and each instruction's argument
shape, with docker's rules (moby/buildkit frontend/dockerfile/parser).

The result is a list of Nodes, one per instruction, with their source
lines; meaning (flags, expansion, stages) is the business of
instructions.py and the dispatcher. Every error names the line and column."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..errdefs import InvalidArgument
from .shell import ExpansionError, Lexer

KNOWN_DIRECTIVES = ("syntax", "escape", "check")
HEREDOC_COMMANDS = ("add", "copy", "run")
_DIRECTIVE_RE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_HEREDOC_RE = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")
_WS_RE = re.compile(r"[\t\v\f\r ]+")


class ParseError(InvalidArgument):
    def __init__(self, message: str, line: int, column: int = 1, end_line: int = 0) -> None:
        super().__init__(f"dockerfile parse error on line {line}, column {column}: {message}")
        self.reason = message
        self.line = line
        self.column = column
        self.end_line = end_line or line


@dataclass
class Heredoc:
    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False

    def text(self) -> str:
        """The content with <<- tab stripping applied."""
        if not self.chomp:
            return self.content
        return "".join(line.lstrip("\t") for line in self.content.splitlines(keepends=True))


@dataclass
class Node:
    cmd: str  # lower case: run, copy, ...
    original: str  # the instruction as written (continuations joined)
    line: int  # first line (1-based)
    end_line: int
    column: int  # column of the instruction keyword
    flags: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)  # ENV/LABEL: key, value, key, value, ...
    json: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    sub: "Node | None" = None  # ONBUILD's instruction
    legacy_kv: bool = False  # ENV/LABEL written as "KEY value"

    @property
    def keyword(self) -> str:
        return self.cmd.upper()

    def error(self, message: str, column: int | None = None) -> ParseError:
        return ParseError(message, self.line, self.column if column is None else column, self.end_line)


@dataclass
class Dockerfile:
    nodes: list[Node]
    escape: str = "\\"
    syntax: str = ""
    check: str = ""
    warnings: list[str] = field(default_factory=list)


class _Directives:
    def __init__(self) -> None:
        self.escape = "\\"
        self.seen: dict[str, str] = {}
        self.done = False

    def feed(self, raw: str, lineno: int) -> bool:
        """True if the line was a parser directive."""
        if self.done:
            return False
        m = _DIRECTIVE_RE.match(raw)
        if not m:
            self.done = True
            return False
        key, value = m.group(1).lower(), m.group(2)
        if key not in KNOWN_DIRECTIVES:
            self.done = True
            return False
        if key in self.seen:
            raise ParseError(f"only one {key} parser directive can be used", lineno)
        if key == "escape":
            if value not in ("`", "\\"):
                raise ParseError(f"invalid escape token '{value}' does not match ` or \\", lineno,
                                 raw.index(value) + 1)
            self.escape = value
        self.seen[key] = value
        return True


def _is_comment(line: str) -> bool:
    return line.lstrip(" \t").startswith("#")


def _continues(line: str, escape: str) -> tuple[str, bool]:
    """Strip a trailing escape (plus blanks): (line, continues)."""
    stripped = line.rstrip(" \t")
    if stripped.endswith(escape):
        return stripped[:-1], True
    return line, False


def parse(text: str | bytes) -> Dockerfile:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError(f"the Dockerfile is not valid UTF-8 ({e.reason})", text[:e.start].count(b"\n") + 1)
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    d = _Directives()
    df = Dockerfile([])
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i]
        lineno = i + 1
        i += 1
        if d.feed(raw, lineno):
            continue
        stripped = raw.lstrip(" \t")
        if not stripped or _is_comment(stripped):
            continue
        column = len(raw) - len(stripped) + 1
        line, more = _continues(stripped, d.escape)
        start = lineno
        empty_continuation = False
        while more and i < n:
            nxt = lines[i]
            i += 1
            if _is_comment(nxt):
                continue
            if not nxt.strip(" \t"):
                empty_continuation = True
                continue
            part, more = _continues(nxt, d.escape)
            line += part
        end = i
        if empty_continuation:
            df.warnings.append(f"Empty continuation line found in: {line.strip()} (line {start}): "
                               "empty continuation lines will become errors in a future release")
        if not line.strip():
            continue
        node = _node_from_line(line, d.escape, start, end, column)
        if node.cmd in HEREDOC_COMMANDS and "<<" in line:
            try:
                docs = heredocs_in(line, d.escape)
            except ExpansionError as e:
                raise node.error(str(e)) from None
            for doc in docs:
                terminated = False
                body: list[str] = []
                while i < n:
                    content_line = lines[i]
                    i += 1
                    candidate = content_line.lstrip("\t") if doc.chomp else content_line
                    if candidate == doc.name:
                        terminated = True
                        break
                    body.append(content_line + "\n")
                if not terminated:
                    raise ParseError(f"unterminated heredoc {doc.name}", start, column, i)
                doc.content = "".join(body)
                node.heredocs.append(doc)
            node.end_line = i
        df.nodes.append(node)
    df.escape = d.escape
    df.syntax = d.seen.get("syntax", "")
    df.check = d.seen.get("check", "")
    return df


def heredocs_in(line: str, escape: str = "\\") -> list[Heredoc]:
    """The <<WORD markers of a line (quotes protect, as in a shell)."""
    words = Lexer(escape, raw_quotes=True, raw_escapes=True).process_words(line, {})
    out = []
    for w in words:
        doc = parse_heredoc(w)
        if doc is not None:
            out.append(doc)
    return out


def parse_heredoc(word: str) -> Heredoc | None:
    m = _HEREDOC_RE.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    name = Lexer().process_word(rest, {})
    return Heredoc(name=name, expand=name == rest, chomp=m.group(2) == "-")


# -- one instruction -----------------------------------------------------------

def _node_from_line(line: str, escape: str, start: int, end: int, column: int) -> Node:
    parts = _WS_RE.split(line.strip(), maxsplit=1)
    cmd = parts[0].lower()
    rest = parts[1] if len(parts) > 1 else ""
    node = Node(cmd=cmd, original=line.strip(), line=start, end_line=end, column=column)
    rest, node.flags = _extract_flags(rest, node)
    shape = _SHAPES.get(cmd)
    if shape is None:
        return node  # unknown instructions are reported by instructions.py, with a suggestion
    shape(node, rest, escape)
    return node


def _extract_flags(rest: str, node: Node) -> tuple[str, list[str]]:
    """Leading --flag[=value] words (quotes allowed in values)."""
    flags: list[str] = []
    pos = 0
    n = len(rest)
    while True:
        while pos < n and rest[pos] in " \t":
            pos += 1
        if not rest.startswith("--", pos):
            break
        word: list[str] = []
        quote = ""
        while pos < n:
            ch = rest[pos]
            if quote:
                if ch == quote:
                    quote = ""
                else:
                    word.append(ch)
            elif ch in "'\"":
                quote = ch
            elif ch in " \t":
                break
            else:
                word.append(ch)
            pos += 1
        if quote:
            raise node.error(f"unterminated quote in flag {''.join(word)!r}")
        w = "".join(word)
        if w == "--":
            break
        flags.append(w[2:])
    return rest[pos:], flags


def parse_words(rest: str, escape: str) -> list[str]:
    """Whitespace-separated words keeping quotes and escapes (ENV, LABEL,
    ARG): the values are expanded, and their quotes removed, later."""
    words: list[str] = []
    word: list[str] = []
    blank_ok = False
    quote = ""
    in_word = False
    i = 0
    n = len(rest)
    while i < n:
        ch = rest[i]
        if not in_word:
            if ch.isspace():
                i += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == n:
                    i += 1
                    continue
                word.append(ch)
                i += 1
                ch = rest[i]
            word.append(ch)
            i += 1
            continue
        if ch.isspace():
            if blank_ok or word:
                words.append("".join(word))
            word, blank_ok, in_word = [], False, False
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            blank_ok = True
        if ch == escape:
            if i + 1 == n:
                i += 1
                continue
            word.append(ch)
            i += 1
            ch = rest[i]
        word.append(ch)
        i += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def _json_array(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def _maybe_json(node: Node, rest: str, escape: str) -> None:
    """RUN, CMD, ENTRYPOINT, SHELL: a JSON array, else the shell form string."""
    rest = rest.strip()
    if not rest:
        return
    arr = _json_array(rest)
    if arr is not None:
        node.args, node.json = arr, True
    else:
        node.args = [rest]


def _maybe_json_to_list(node: Node, rest: str, escape: str) -> None:
    """ADD, COPY, VOLUME: a JSON array, else whitespace-separated words."""
    rest = rest.strip()
    arr = _json_array(rest)
    if arr is not None:
        node.args, node.json = arr, True
    else:
        node.args = [w for w in _WS_RE.split(rest) if w]


def _whitespace_list(node: Node, rest: str, escape: str) -> None:
    node.args = [w for w in _WS_RE.split(rest.strip()) if w]


def _string(node: Node, rest: str, escape: str) -> None:
    rest = rest.strip()
    node.args = [rest] if rest else []


def _name_val(node: Node, rest: str, escape: str) -> None:
    """ENV and LABEL: key=value pairs, or the legacy 'KEY value'."""
    words = parse_words(rest, escape)
    if not words:
        return
    if "=" not in words[0]:
        parts = _WS_RE.split(rest.strip(), maxsplit=1)
        if len(parts) < 2:
            raise node.error(f"{node.keyword} must have two arguments")
        node.args = [parts[0], parts[1]]
        node.legacy_kv = True
        return
    for w in words:
        if "=" not in w:
            raise node.error(f"Syntax error - can't find = in {w!r}. Must be of the form: name=value")
        k, _, v = w.partition("=")
        node.args += [k, v]


def _name_or_name_val(node: Node, rest: str, escape: str) -> None:
    node.args = parse_words(rest, escape)


def _healthcheck(node: Node, rest: str, escape: str) -> None:
    parts = _WS_RE.split(rest.strip(), maxsplit=1)
    kind = parts[0].upper() if parts and parts[0] else ""
    if kind == "NONE":
        if len(parts) > 1 and parts[1].strip():
            raise node.error("HEALTHCHECK NONE takes no arguments")
        node.args = ["NONE"]
        return
    if kind != "CMD":
        raise node.error("Unknown type " + repr(parts[0] if parts else "") + " in HEALTHCHECK (try CMD)")
    tail = parts[1] if len(parts) > 1 else ""
    sub = Node("cmd", tail, node.line, node.end_line, node.column)
    _maybe_json(sub, tail, escape)
    if not sub.args:
        raise node.error("Missing command after HEALTHCHECK CMD")
    node.args = ["CMD"] + sub.args
    node.json = sub.json


def _onbuild(node: Node, rest: str, escape: str) -> None:
    if not rest.strip():
        raise node.error("ONBUILD requires at least one argument")
    node.sub = _node_from_line(rest, escape, node.line, node.end_line, node.column)
    node.args = [rest.strip()]


_SHAPES = {
    "add": _maybe_json_to_list,
    "arg": _name_or_name_val,
    "cmd": _maybe_json,
    "copy": _maybe_json_to_list,
    "entrypoint": _maybe_json,
    "env": _name_val,
    "expose": _whitespace_list,
    "from": _whitespace_list,
    "healthcheck": _healthcheck,
    "label": _name_val,
    "maintainer": _string,
    "onbuild": _onbuild,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _string,
    "user": _string,
    "volume": _maybe_json_to_list,
    "workdir": _string,
}
INSTRUCTIONS = tuple(sorted(_SHAPES))
