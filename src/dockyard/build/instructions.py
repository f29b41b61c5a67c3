"""From parsed nodes to build stages: unknown instructions, flags each
instruction accepts (docker's BFlags rules), stage names and the global
ARGs before the first FROM. Values stay unexpanded: expansion needs the
stage's environment, which only exists while building."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .parser import INSTRUCTIONS, Dockerfile, Node

# flag name -> kind: "str", "bool" or "list" (repeatable)
FLAGS: dict[str, dict[str, str]] = {
    "from": {"platform": "str"},
    "run": {"mount": "list", "network": "str", "security": "str"},
    "copy": {"from": "str", "chown": "str", "chmod": "str", "link": "bool", "parents": "bool",
             "exclude": "list"},
    "add": {"chown": "str", "chmod": "str", "link": "bool", "checksum": "str", "keep-git-dir": "bool",
            "exclude": "list"},
    "healthcheck": {"interval": "str", "timeout": "str", "start-period": "str", "start-interval": "str",
                    "retries": "str"},
}
_STAGE_NAME_RE = re.compile(r"^[a-z][a-z0-9-_.]*$")


@dataclass
class Instruction:
    node: Node
    flags: dict[str, object]

    @property
    def cmd(self) -> str:
        return self.node.cmd

    @property
    def args(self) -> list[str]:
        return self.node.args

    def flag(self, name: str, default: object = None) -> object:
        return self.flags.get(name, default)


@dataclass
class Stage:
    index: int
    name: str  # lower case, "" when unnamed
    image: str  # FROM's argument, unexpanded
    from_: Instruction
    commands: list[Instruction] = field(default_factory=list)

    @property
    def line(self) -> int:
        return self.from_.node.line


@dataclass
class Plan:
    meta_args: list[Instruction]
    stages: list[Stage]
    escape: str

    def stage_by_name(self, name: str) -> Stage | None:
        name = name.lower()
        for s in self.stages:
            if s.name and s.name == name:
                return s
        return None


def parse_flags(node: Node) -> dict[str, object]:
    allowed = FLAGS.get(node.cmd, {})
    out: dict[str, object] = {}
    for raw in node.flags:
        name, eq, value = raw.partition("=")
        kind = allowed.get(name)
        if kind is None:
            raise node.error(f"unknown flag: {name}")
        if kind == "bool":
            if not eq or value.lower() == "true":
                out[name] = True
            elif value.lower() == "false":
                out[name] = False
            else:
                raise node.error(f"expecting boolean value for flag {name}, not: {value}")
            continue
        if not eq:
            raise node.error(f"missing a value on flag: --{name}")
        if kind == "list":
            out.setdefault(name, [])
            out[name].append(value)  # type: ignore[union-attr]
            continue
        if name in out:
            raise node.error(f"duplicate flag specified: --{name}")
        out[name] = value
    return out


def _suggest(word: str) -> str:
    close = difflib.get_close_matches(word.lower(), INSTRUCTIONS, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def check_node(node: Node) -> Instruction:
    if node.cmd not in INSTRUCTIONS:
        raise node.error(f"unknown instruction: {node.original.split()[0]}{_suggest(node.cmd)}")
    flags = parse_flags(node)
    cmd = node.cmd
    if cmd == "run" and not node.args:
        raise node.error("RUN requires at least one argument")
    if cmd in ("copy", "add") and len(node.args) < 2:
        raise node.error(f"{cmd.upper()} requires at least two arguments, but only "
                         f"{'one' if node.args else 'none'} provided. Destination could not be determined")
    if cmd == "shell":
        if not node.json:
            raise node.error("SHELL requires the arguments to be in JSON form")
        if not node.args:
            raise node.error("SHELL requires at least one argument")
    if cmd in ("workdir", "user", "stopsignal", "maintainer") and not node.args:
        raise node.error(f"{cmd.upper()} requires exactly one argument")
    if cmd in ("env", "label", "arg", "expose", "volume") and not node.args:
        raise node.error(f"{cmd.upper()} requires at least one argument")
    if cmd == "from":
        if len(node.args) not in (1, 3) or (len(node.args) == 3 and node.args[1].lower() != "as"):
            raise node.error("FROM requires either one or three arguments")
        if len(node.args) == 3 and not _STAGE_NAME_RE.match(node.args[2].lower()):
            raise node.error(f"invalid name for build stage: {node.args[2]!r}, name can't start with a number "
                             "or contain symbols")
    if cmd == "onbuild":
        sub = node.sub
        assert sub is not None
        if sub.cmd == "onbuild":
            raise node.error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if sub.cmd in ("from", "maintainer"):
            raise node.error(f"{sub.cmd.upper()} isn't allowed as an ONBUILD trigger")
        check_node(sub)
    if cmd == "arg":
        for word in node.args:
            name = word.partition("=")[0]
            if not name:
                raise node.error("ARG requires a name")
    return Instruction(node, flags)


def plan(df: Dockerfile) -> Plan:
    if not df.nodes:
        raise ValueError("empty")
    meta: list[Instruction] = []
    stages: list[Stage] = []
    names: set[str] = set()
    for node in df.nodes:
        inst = check_node(node)
        if node.cmd == "from":
            name = node.args[2].lower() if len(node.args) == 3 else ""
            if name:
                if name in names:
                    raise node.error(f"duplicate stage name {name!r}")
                names.add(name)
            stages.append(Stage(len(stages), name, node.args[0], inst))
        elif not stages:
            if node.cmd != "arg":
                raise node.error("no build stage in current context")
            meta.append(inst)
        else:
            stages[-1].commands.append(inst)
    if not stages:
        raise df.nodes[-1].error("no build stage in current context")
    return Plan(meta, stages, df.escape)
