"""Command-line flags parsed the way docker's CLI (cobra + pflag) parses them.

`Parser` keeps the argparse calling convention the commands already use
(`Parser(prog=..., usage=...)`, `add_argument(...)`, `parse_args(argv)`), but
follows pflag's rules and messages, and is cheap to import (no argparse, no re):

- long flags `--name value`, `--name=value`; short flags `-n value`, `-nvalue`,
  `-n=value`, and grouped booleans `-it`, `-itd`, `-ti`;
- a flag's value is the next word even when it starts with "-" (`--pids-limit -1`);
- booleans take no separate value but accept `--rm=false`;
- flags may follow positional arguments, except after a positional with
  nargs=REMAINDER (run, create, exec: `run IMAGE CMD -x` gives -x to CMD) or
  when the parser is built with interspersed=False; `--` ends the flags;
- errors as docker prints them, exit status 125 for flag errors and 1 for a
  wrong number of arguments.

Supported add_argument keywords: action (store, store_true, store_false,
store_const, append, count, help), default, type (a callable; ValueError or
any exception means an invalid value), help, metavar, dest, nargs (None, "?",
"*", "+", REMAINDER) for positionals, choices, const, required, and two of
our own: `kind` (the value type shown in --help, e.g. "list", "bytes",
"duration"; inferred when absent), `hidden` (accepted, not listed) and
`api_version` and `experimental` (docker's "version" and "experimental"
annotations: a flag given while the API version in use is older than the
one that introduced it, or while the daemon is not experimental, is refused
before the arguments are checked; a too new one is left out of --help).

`--help` output reads like docker's: Usage, description (from the command
table in main.py unless given), Aliases (from the management commands),
Options sorted by long name with types and non-zero defaults.
"""

from __future__ import annotations

from .errors import CLIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

REMAINDER = "..."
_UNSET = object()
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class Namespace:
    """The parsed values, as attributes (like argparse.Namespace)."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Namespace) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return "Namespace(" + ", ".join(f"{k}={v!r}" for k, v in sorted(self.__dict__.items())) + ")"


class Option:
    __slots__ = ("long", "short", "dest", "action", "default", "type", "help", "kind", "choices",
                 "const", "required", "_hidden", "optional", "api_version", "experimental")

    @property
    def hidden(self) -> bool:
        """Left out of help and completion. Flags newer than the API version
        are asked only here, when help is shown: the check reads the
        environment and apitypes, which a command's start does not need."""
        return self._hidden or (self.api_version is not None and not _api_at_least(self.api_version))

    def takes_value(self) -> bool:
        """A separate word is its value (optional values need --flag=value)."""
        return self.action in ("store", "append") and not self.optional

    def display(self) -> str:
        s = f"-{self.short}, " if self.short else "    "
        s += f"--{self.long}" if self.long else ""
        if self.takes_value() or self.optional:
            s += " " + self.kind
        return s


class Positional:
    __slots__ = ("dest", "nargs", "default", "type", "choices", "help", "metavar")


class HelpRequested(Exception):
    """Raised instead of printing help when a parser is only being captured."""


class ParserCaptured(Exception):
    """Raised by parse_args in capture mode (completion, tests) so a command's
    parser can be inspected without running the command."""

    def __init__(self, parser: "Parser") -> None:
        super().__init__(parser.prog)
        self.parser = parser


# Set by main.py's completion generator: parse_args raises ParserCaptured.
CAPTURE = False


def filter_value(value: str) -> str:
    """docker's filter flag type: key=value, checked while parsing."""
    if "=" not in value:
        raise ValueError("bad format of filter (expected name=value)")
    return value


def _api_at_least(version: str) -> bool:
    """Whether the newest API version this CLI may use (DOCKER_API_VERSION, else
    its own) has what `version` introduced: docker's help hides flags it has not."""
    import os
    from ..apitypes import API_VERSION
    current = os.environ.get("DOCKER_API_VERSION") or API_VERSION
    try:
        return tuple(map(int, current.split("."))) >= tuple(map(int, version.split(".")))
    except ValueError:
        return True


def parse_bool(value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _type_error(value: str, typ: Any, exc: BaseException) -> str:
    if typ is int:
        return f'strconv.ParseInt: parsing "{value}": invalid syntax'
    if typ is float:
        return f'strconv.ParseFloat: parsing "{value}": invalid syntax'
    return str(exc) or f"invalid value {value!r}"


class Parser:
    def __init__(self, prog: str = "dockyard", usage: str | None = None, description: str | None = None,
                 add_help: bool = True, interspersed: bool = True, epilog: str | None = None,
                 min_args: int | None = None, **_ignored: Any) -> None:
        self.prog = prog
        self.min_args = min_args  # docker's RequiresMinArgs when REMAINDER would allow fewer
        self.usage = usage or (prog + " [OPTIONS]")
        self.description = description
        self.add_help = add_help
        self.interspersed = interspersed
        self.epilog = epilog
        self.options: list[Option] = []
        self.positionals: list[Positional] = []
        self._by_long: dict[str, Option] = {}
        self._by_short: dict[str, Option] = {}
        self._defaults: dict[str, Any] = {}

    # -- declaring ---------------------------------------------------------------
    def add_argument(self, *names: str, action: str = "store", default: Any = _UNSET, type: Callable | None = None,
                     help: str = "", metavar: str | None = None, dest: str | None = None, nargs: Any = None,
                     choices: Any = None, const: Any = None, required: bool = False, kind: str | None = None,
                     hidden: bool = False, api_version: str | None = None, experimental: bool = False) -> None:
        if names and not names[0].startswith("-"):
            p = Positional()
            p.dest = dest or names[0]
            p.nargs = nargs
            p.type = type
            p.choices = choices
            p.help = help
            p.metavar = metavar or names[0].upper()
            if default is _UNSET:
                default = [] if nargs in ("*", "+", REMAINDER) else None
            p.default = default
            self.positionals.append(p)
            return
        o = Option()
        o.long = o.short = ""
        for n in names:
            if n.startswith("--"):
                o.long = o.long or n[2:]
            elif len(n) == 2:
                o.short = n[1]
            else:  # "-name": accepted as a long flag (argparse would)
                o.long = o.long or n[1:]
        o.dest = dest or (o.long or o.short).replace("-", "_")
        o.action = action
        o.type = type
        o.help = help
        o.choices = choices
        o.const = const
        o.required = required
        o.api_version = api_version
        o.experimental = experimental
        # docker's help also leaves out flags the daemon cannot take: too new ones, and
        # experimental ones (dockyardd is never experimental; that is not asked for help)
        o._hidden = hidden or help == "==SUPPRESS==" or experimental
        if o._hidden and help == "==SUPPRESS==":
            o.help = ""
        o.optional = nargs == "?"  # pflag's NoOptDefVal: bare flag means const
        if default is _UNSET:
            default = {"store_true": False, "store_false": True, "count": 0, "append": None}.get(action)
        o.default = default
        if kind == "filter" and type is None:
            o.type = filter_value
        if kind is None:
            if action == "append":
                kind = "list"
            elif type is int:
                kind = "int"
            elif type is float:
                kind = "decimal"
            else:
                kind = (metavar or "string").lower() if action == "store" else ""
        o.kind = kind
        self.options.append(o)
        if o.long:
            self._by_long[o.long] = o
        if o.short:
            self._by_short[o.short] = o

    def set_defaults(self, **kwargs: Any) -> None:
        self._defaults.update(kwargs)

    # -- parsing -------------------------------------------------------------------
    def error(self, message: str, status: int = 125, see: str = "Run") -> None:
        raise CLIError(f"{message}\n\nUsage:  {self._usage()}\n\n{see} '{self._cmd()} --help' for more information",
                       status)

    def _cmd(self) -> str:
        from . import main
        return main.INVOKED_AS.get(self.prog, self.prog)

    def _usage(self) -> str:
        cmd = self._cmd()
        return cmd + self.usage[len(self.prog):] if self.usage.startswith(self.prog) else self.usage

    def parse_args(self, argv: list[str] | None = None) -> Namespace:
        if CAPTURE:
            raise ParserCaptured(self)
        import sys
        args = list(sys.argv[1:] if argv is None else argv)
        values: dict[str, Any] = {}
        for o in self.options:
            if o.action != "help":
                d = o.default
                values[o.dest] = list(d) if isinstance(d, list) else d
        values.update(self._defaults)
        seen: set[str] = set()
        positionals: list[str] = []
        remainder_at = next((i for i, p in enumerate(self.positionals) if p.nargs == REMAINDER), -1)
        i = 0
        while i < len(args):
            a = args[i]
            i += 1
            stop_flags = (not self.interspersed and positionals) or \
                (remainder_at >= 0 and len(positionals) > remainder_at)
            if stop_flags:
                positionals.append(a)
                continue
            if a == "--":
                positionals.extend(args[i:])
                break
            if a.startswith("--"):
                name, eq, val = a[2:].partition("=")
                o = self._by_long.get(name)
                if o is None:
                    if name == "help" and self.add_help:
                        self._help()
                    self.error(f"unknown flag: --{name}")
                if o.action == "help":
                    self._help()
                if o.takes_value() and not eq:
                    if i >= len(args):
                        self.error(f"flag needs an argument: --{name}")
                    val, i = args[i], i + 1
                if o.optional and not eq:
                    val = o.const
                self._apply(o, val if (eq or o.takes_value() or o.optional) else None, values, f"--{name}")
                seen.add(o.dest)
            elif a.startswith("-") and a != "-":
                j = 1
                while j < len(a):
                    c = a[j]
                    o = self._by_short.get(c)
                    if o is None:
                        if c == "h" and self.add_help:
                            self._help()
                        self.error(f"unknown shorthand flag: '{c}' in {a}")
                    if o.action == "help":
                        self._help()
                    rest = a[j + 1:]
                    if o.optional:
                        self._apply(o, rest[1:] if rest.startswith("=") else o.const, values, f"-{c}")
                        seen.add(o.dest)
                        if rest.startswith("=") or not rest:
                            break
                        j += 1
                        continue
                    if o.takes_value():
                        if rest.startswith("="):
                            rest = rest[1:]
                        elif not rest:
                            if i >= len(args):
                                self.error(f"flag needs an argument: '{c}' in {a}")
                            rest, i = args[i], i + 1
                        self._apply(o, rest, values, f"-{c}")
                        seen.add(o.dest)
                        break
                    if rest.startswith("="):
                        self._apply(o, rest[1:], values, f"-{c}")
                        seen.add(o.dest)
                        break
                    self._apply(o, None, values, f"-{c}")
                    seen.add(o.dest)
                    j += 1
            else:
                positionals.append(a)
        annotated = [o for o in self.options if (o.api_version or o.experimental) and o.dest in seen]
        if annotated:
            from .commands.common import check_flag_support
            from .main import CURRENT_GOPTS
            check_flag_support(CURRENT_GOPTS, [(o.long or o.short, o.api_version, o.experimental)
                                               for o in sorted(annotated, key=lambda o: o.long or o.short)])
        for o in self.options:
            if o.required and o.dest not in seen:
                self.error(f'required flag(s) "{o.long or o.short}" not set', 1)
        self._assign_positionals(positionals, values)
        ns = Namespace(**values)
        ns.__dict__["_set_flags"] = seen
        return ns

    def _apply(self, o: Option, raw: str | None, values: dict[str, Any], shown: str) -> None:
        flag = f"-{o.short}, --{o.long}" if (o.short and o.long) else shown
        if o.action in ("store_true", "store_false"):
            v = True
            if raw is not None:
                try:
                    v = parse_bool(raw)
                except ValueError as e:
                    self.error(f'invalid argument "{raw}" for "{flag}" flag: {e}')
            values[o.dest] = v if o.action == "store_true" else not v
            return
        if o.action == "store_const":
            values[o.dest] = o.const
            return
        if o.action == "count":
            values[o.dest] = (values.get(o.dest) or 0) + 1
            return
        assert raw is not None
        v: Any = raw
        if o.type is not None:
            try:
                v = o.type(raw)
            except CLIError:
                raise
            except Exception as e:
                self.error(f'invalid argument "{raw}" for "{flag}" flag: {_type_error(raw, o.type, e)}')
        if o.choices is not None and v not in o.choices:
            self.error(f'invalid argument "{raw}" for "{flag}" flag: must be one of: ' +
                       ", ".join(str(c) for c in o.choices))
        if o.action == "append":
            if values.get(o.dest) is None:
                values[o.dest] = []
            values[o.dest].append(v)
        else:
            values[o.dest] = v

    def _arg_bounds(self) -> tuple[int, int]:
        lo = hi = 0
        for p in self.positionals:
            if p.nargs is None:
                lo += 1
                hi += 1
            elif p.nargs == "?":
                hi += 1
            elif p.nargs == "+":
                lo += 1
                hi = 1 << 30
            else:
                hi = 1 << 30
        if self.min_args is not None:
            lo = max(lo, self.min_args)
        return lo, hi

    def _assign_positionals(self, words: list[str], values: dict[str, Any]) -> None:
        lo, hi = self._arg_bounds()
        n = len(words)
        if n < lo or n > hi:
            plural = lambda k: f"{k} argument" + ("" if k == 1 else "s")  # noqa: E731
            if lo == hi:
                msg = f"requires {plural(lo)}" if lo else "accepts no arguments"
            elif n < lo:
                msg = f"requires at least {plural(lo)}"
            else:
                msg = f"accepts at most {plural(hi)}"
            self.error(f"dockyard: '{self._cmd()}' {msg}", 1, "See" if "at least" in msg else "Run")
        # Fixed ones take one word each; the first variable one takes what is left over.
        for idx, p in enumerate(self.positionals):
            later_min = sum(1 for q in self.positionals[idx + 1:] if q.nargs in (None, "+"))
            if p.nargs is None:
                take = 1
            elif p.nargs == "?":
                take = 1 if len(words) > later_min else 0
            elif p.nargs == "+":
                take = max(1, len(words) - later_min)
            else:
                take = max(0, len(words) - later_min)
            chunk, words = words[:take], words[take:]
            conv = [self._convert(p, w) for w in chunk]
            if p.nargs in (None, "?"):
                values[p.dest] = conv[0] if conv else p.default
            else:
                values[p.dest] = conv

    def _convert(self, p: Positional, w: str) -> Any:
        v: Any = w
        if p.type is not None:
            try:
                v = p.type(w)
            except CLIError:
                raise
            except Exception as e:
                self.error(f'invalid argument "{w}": {_type_error(w, p.type, e)}', 1)
        if p.choices is not None and v not in p.choices:
            self.error(f'invalid argument "{w}": must be one of: ' + ", ".join(str(c) for c in p.choices), 1)
        return v

    # -- help ----------------------------------------------------------------------
    def _help(self) -> None:
        import sys
        sys.stdout.write(self.format_help())
        sys.stdout.flush()
        from .errors import StatusError
        raise StatusError(0)

    def print_help(self) -> None:
        import sys
        sys.stdout.write(self.format_help())

    def format_usage(self) -> str:
        return f"Usage:  {self._usage()}\n"

    def format_help(self) -> str:
        from . import main
        name = self.prog.split(" ", 1)[1] if " " in self.prog else self.prog
        desc = self.description or main.describe(name)
        out = [f"Usage:  {self._usage()}\n"]
        if desc:
            out.append(f"\n{desc}\n")
        aliases = main.aliases_of(name)
        if len(aliases) > 1:
            out.append("\nAliases:\n  " + ", ".join(aliases) + "\n")
        shown = [o for o in self.options if not o.hidden]
        if shown:
            out.append("\nOptions:\n")
            out.append(format_options(shown))
        if self.epilog:
            out.append("\n" + self.epilog.rstrip("\n") + "\n")
        return "".join(out)


def _default_text(o: Option) -> str:
    d = o.default
    if o.action == "store_false" or (o.action == "store_true" and d is True):
        return " (default true)"
    if o.action == "store_true" or d is None or d is False:
        return ""
    if isinstance(d, str):
        return f' (default "{d}")' if d else ""
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        return f" (default {d})" if d else ""
    return ""


def format_options(options: list[Option], width: int = 0) -> str:
    """Two columns like cobra's: "  -a, --all type   Description (default x)",
    sorted by long name, descriptions wrapped to the terminal (80 otherwise)."""
    if not width:
        import os
        try:
            width = os.get_terminal_size(1).columns
        except OSError:
            width = 80
    rows = sorted(options, key=lambda o: (o.long or o.short).lower())
    left = [f"  {o.display()}" for o in rows]
    col = max(len(s) for s in left) + 3
    lines = []
    for lhs, o in zip(left, rows):
        text = ((o.help() if callable(o.help) else o.help) or "") + _default_text(o)  # callable: loaded text
        wrapped = wrap(text, max(20, width - col)) or [""]
        lines.append(lhs.ljust(col) + wrapped[0])
        lines.extend(" " * col + w for w in wrapped[1:])
    return "\n".join(line.rstrip() for line in lines) + "\n"


def wrap(text: str, width: int) -> list[str]:
    out: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return out
