"""Go text/template, the part of it people use in `--format`.

Supported: text and actions with trim markers (`{{- ... -}}`), comments,
fields and chains (`.State.Status`, `$v.Name`, `(index .X 0).Y`), methods
with arguments on context objects (`.Label "com.example"`), variables
(`$x := ...`, `$x = ...`, `$` the root), pipelines (`.Names | upper`),
parentheses, string/raw-string/number/bool/nil literals, `if`/`else if`/
`else`, `range` (over lists, dicts in sorted key order, integers; with
`$i, $v :=`, `else`, `break`, `continue`), `with`/`else`.

Functions: docker's (json, join, split, lower, upper, title, pad, truncate,
println) and Go's builtins (and, or, not, len, index, slice, print, printf,
println, eq, ne, lt, le, gt, ge, html, js, urlquery). Anything else is a
parse error naming what is unsupported (`define`, `template`, `block`, an
unknown function), as Go reports it.

Values print as Go's %v does: <no value> for a missing key, <nil> for null,
lists as [a b], dicts as map[k:v] (sorted), floats as strconv 'g'.

Usage: `Template(text).render(obj)`; `render(text, obj)` for one-shots.
Errors are TemplateError (parse errors) and TemplateExecError (runtime).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


class TemplateError(Exception):
    pass


class TemplateExecError(TemplateError):
    pass


class _Missing:
    """A map key that is not there: prints as <no value>."""

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# -- lexing -------------------------------------------------------------------------

class _Word(str):
    """A field or variable token that remembers where it was: (line, column)."""
    pos: tuple[int, int] = (1, 0)


def _split(text: str) -> list[tuple[Any, ...]]:
    """[(kind, value, line[, col])]: ("text", ...) and ("action", inner, line, col), trim markers applied."""
    out: list[tuple[str, str, int]] = []
    i = 0
    line = 1
    while True:
        j = text.find("{{", i)
        if j < 0:
            out.append(("text", text[i:], line))
            break
        chunk = text[i:j]
        inner_start = j + 2
        if text.startswith("- ", inner_start) or text.startswith("-\t", inner_start) or \
                text.startswith("-\n", inner_start):
            chunk = chunk.rstrip(" \t\r\n")
            inner_start += 1
        out.append(("text", chunk, line))
        line += text.count("\n", i, j)
        if text.startswith("/*", inner_start) or text.startswith(" /*", inner_start):
            end = text.find("*/", inner_start)
            close = text.find("}}", end + 2) if end >= 0 else -1
            if end < 0 or close < 0:
                raise TemplateError(f"template: :{line}: unclosed comment")
            trim_right = text[end + 2:close].strip() == "-"
            i = close + 2
            if trim_right:
                while i < len(text) and text[i] in " \t\r\n":
                    i += 1
            continue
        k = _find_close(text, inner_start, line)
        inner = text[inner_start:k]
        trim_right = inner.endswith(" -") or inner.endswith("\t-") or inner.endswith("\n-")
        if trim_right:
            inner = inner[:-1]
        col = inner_start - (text.rfind("\n", 0, inner_start) + 1)
        out.append(("action", inner, line, col))  # type: ignore[arg-type]
        line += text.count("\n", j, k)
        i = k + 2
        if trim_right:
            while i < len(text) and text[i] in " \t\r\n":
                i += 1
    return [t for t in out if not (t[0] == "text" and not t[1])]


def _find_close(text: str, start: int, line: int) -> int:
    """Index of the "}}" ending the action at start (quotes may hold "}}")."""
    i = start
    while i < len(text):
        c = text[i]
        if c in "\"'`":
            q = c
            i += 1
            while i < len(text) and text[i] != q:
                if text[i] == "\\" and q != "`":
                    i += 1
                i += 1
            if i >= len(text):
                raise TemplateError(f"template: :{line}: unterminated quoted string")
            i += 1
            continue
        if text.startswith("}}", i):
            return i
        i += 1
    raise TemplateError(f"template: :{line}: unclosed action")


_PUNCT = "|(),="


def _tokens(s: str, line: int, col: int = 0) -> list[tuple[str, Any]]:
    """Tokens of one action: (kind, value)."""
    toks: list[tuple[str, Any]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in " \t\r\n":
            i += 1
        elif c == ":" and s.startswith(":=", i):
            toks.append(("decl", ":="))
            i += 2
        elif c in _PUNCT:
            toks.append(("punct", c))
            i += 1
        elif c == '"':
            j = i + 1
            buf = []
            while j < n and s[j] != '"':
                if s[j] == "\\" and j + 1 < n:
                    esc = s[j + 1]
                    buf.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'",
                                "0": "\0"}.get(esc, "\\" + esc))
                    j += 2
                else:
                    buf.append(s[j])
                    j += 1
            if j >= n:
                raise TemplateError(f"template: :{line}: unterminated quoted string")
            toks.append(("str", "".join(buf)))
            i = j + 1
        elif c == "`":
            j = s.find("`", i + 1)
            if j < 0:
                raise TemplateError(f"template: :{line}: unterminated raw quoted string")
            toks.append(("str", s[i + 1:j]))
            i = j + 1
        elif c == "'":
            j = s.find("'", i + 1)
            if j < 0:
                raise TemplateError(f"template: :{line}: unterminated character constant")
            body = s[i + 1:j]
            toks.append(("num", ord(body[-1]) if body else 0))
            i = j + 1
        elif c == "." or c == "$":
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] in "_."):
                j += 1
            word = _Word(s[i:j])
            nl = s.rfind("\n", 0, i)
            word.pos = (line + s.count("\n", 0, i), col + i if nl < 0 else i - nl - 1)
            toks.append(("var" if c == "$" else "field", word))
            i = j
        elif c.isdigit() or (c in "+-" and i + 1 < n and s[i + 1].isdigit()):
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] in ".+-_") and not (s[j] in "+-" and s[j - 1] not in "eE"):
                j += 1
            word = s[i:j].replace("_", "")
            try:
                num: Any = int(word, 0)
            except ValueError:
                try:
                    num = float(word)
                except ValueError:
                    raise TemplateError(f"template: :{line}: bad number syntax: {s[i:j]!r}") from None
            toks.append(("num", num))
            i = j
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] == "_"):
                j += 1
            word = _Word(s[i:j])
            nl = s.rfind("\n", 0, i)
            word.pos = (line + s.count("\n", 0, i), col + i if nl < 0 else i - nl - 1)
            # a field chain may follow an identifier only after parentheses; here it is a name
            toks.append(("ident", word))
            i = j
        else:
            raise TemplateError(f"template: :{line}: unexpected {c!r} in command")
    return toks


# -- parsing ------------------------------------------------------------------------

class Node:
    pass


class Text(Node):
    def __init__(self, text: str) -> None:
        self.text = text


class Pipeline(Node):
    def __init__(self, decl: list[str], assign: bool, cmds: list[list[Any]]) -> None:
        self.decl, self.assign, self.cmds = decl, assign, cmds


class Action(Node):
    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe


class Branch(Node):
    def __init__(self, kind: str, pipe: Pipeline, body: list[Node], orelse: list[Node]) -> None:
        self.kind, self.pipe, self.body, self.orelse = kind, pipe, body, orelse


class Control(Node):
    def __init__(self, kind: str) -> None:
        self.kind = kind


_KEYWORDS = ("if", "else", "end", "range", "with", "break", "continue")
_UNSUPPORTED = ("define", "template", "block")


class _Parser:
    def __init__(self, text: str, funcs: dict[str, Callable]) -> None:
        self.items = _split(text)
        self.pos = 0
        self.funcs = funcs
        self.loop_depth = 0

    def parse(self) -> list[Node]:
        body, stop = self._list(())
        if stop is not None:
            raise TemplateError(f"template: :{stop[2]}: unexpected {{{{{stop[0]}}}}}")
        return body

    def _list(self, stops: tuple[str, ...]) -> tuple[list[Node], Any]:
        out: list[Node] = []
        while self.pos < len(self.items):
            item = self.items[self.pos]
            kind, val, line = item[:3]
            self.pos += 1
            if kind == "text":
                out.append(Text(val))
                continue
            toks = _tokens(val, line, item[3])
            if not toks:
                raise TemplateError(f"template: :{line}: missing value for command")
            head = toks[0][1] if toks[0][0] == "ident" else None
            if head in ("end", "else"):
                if head not in stops:
                    raise TemplateError(f"template: :{line}: unexpected {{{{{head}}}}}")
                return out, (head, toks[1:], line)
            if head in _UNSUPPORTED:
                raise TemplateError(f"template: :{line}: {{{{{head}}}}} is not supported by dockyard's --format "
                                    f"(supported: if, else, range, with, end, break, continue, variables, "
                                    f"pipelines and functions)")
            if head in ("if", "range", "with"):
                out.append(self._branch(head, toks[1:], line))
            elif head in ("break", "continue"):
                if self.loop_depth == 0:
                    raise TemplateError(f"template: :{line}: {{{{{head}}}}} outside {{{{range}}}}")
                out.append(Control(head))
            else:
                out.append(Action(self._pipeline(toks, line)))
        return out, None

    def _branch(self, kind: str, toks: list[tuple[str, Any]], line: int) -> Branch:
        if not toks:
            raise TemplateError(f"template: :{line}: missing value for {kind}")
        pipe = self._pipeline(toks, line, allow_two=kind == "range")
        if kind == "range":
            self.loop_depth += 1
        body, stop = self._list(("end", "else"))
        if kind == "range":
            self.loop_depth -= 1
        if stop is None:
            raise TemplateError(f"template: :{line}: unexpected EOF")
        orelse: list[Node] = []
        if stop[0] == "else":
            rest = stop[1]
            if rest and rest[0] == ("ident", "if") and kind == "if":
                orelse = [self._branch("if", rest[1:], stop[2])]
                return Branch(kind, pipe, body, orelse)
            if rest and rest[0] == ("ident", "with") and kind == "with":
                orelse = [self._branch("with", rest[1:], stop[2])]
                return Branch(kind, pipe, body, orelse)
            if rest:
                raise TemplateError(f"template: :{stop[2]}: unexpected {rest[0][1]!r} in else")
            orelse, stop2 = self._list(("end",))
            if stop2 is None:
                raise TemplateError(f"template: :{line}: unexpected EOF")
        return Branch(kind, pipe, body, orelse)

    def _pipeline(self, toks: list[tuple[str, Any]], line: int, allow_two: bool = False) -> Pipeline:
        decl: list[str] = []
        assign = False
        # declarations: $x := / $x = / $i, $v :=
        if toks and toks[0][0] == "var":
            if len(toks) > 1 and toks[1] in (("decl", ":="), ("punct", "=")):
                decl, assign = [toks[0][1]], toks[1] == ("punct", "=")
                toks = toks[2:]
            elif allow_two and len(toks) > 3 and toks[1] == ("punct", ",") and toks[2][0] == "var" and \
                    toks[3] in (("decl", ":="), ("punct", "=")):
                decl = [toks[0][1], toks[2][1]]
                toks = toks[4:]
        cmds: list[list[Any]] = []
        cur: list[Any] = []
        i = 0
        while i < len(toks):
            kind, val = toks[i]
            if (kind, val) == ("punct", "|"):
                if not cur:
                    raise TemplateError(f"template: :{line}: missing command before |")
                cmds.append(cur)
                cur = []
                i += 1
                continue
            node, i = self._operand(toks, i, line)
            cur.append(node)
        if not cur:
            raise TemplateError(f"template: :{line}: missing value for command")
        cmds.append(cur)
        for c in cmds:
            if c[0][0] == "ident" and c[0][1] not in self.funcs and c[0][1] not in ("true", "false", "nil"):
                if c[0][1] in _KEYWORDS:
                    raise TemplateError(f"template: :{line}: unexpected {{{{{c[0][1]}}}}} in command")
                raise TemplateError(f'template: :{line}: function "{c[0][1]}" not defined')
        return Pipeline(decl, assign, cmds)

    def _operand(self, toks: list[tuple[str, Any]], i: int, line: int) -> tuple[Any, int]:
        kind, val = toks[i]
        if (kind, val) == ("punct", "("):
            depth, j = 1, i + 1
            while j < len(toks) and depth:
                if toks[j] == ("punct", "("):
                    depth += 1
                elif toks[j] == ("punct", ")"):
                    depth -= 1
                j += 1
            if depth:
                raise TemplateError(f"template: :{line}: unclosed left paren")
            node: Any = ("pipe", self._pipeline(toks[i + 1:j - 1], line))
            # a field chain right after the parenthesis: (index .X 0).Name
            if j < len(toks) and toks[j][0] == "field" and toks[j][1] != ".":
                node = ("chain", node, [p for p in toks[j][1].split(".") if p], toks[j][1].pos)
                j += 1
            return node, j
        if kind == "punct":
            raise TemplateError(f"template: :{line}: unexpected {val!r} in operand")
        if kind == "ident":
            if val in ("true", "false"):
                return ("lit", val == "true"), i + 1
            if val == "nil":
                return ("lit", None), i + 1
            if val not in self.funcs:
                if val in _KEYWORDS or val in _UNSUPPORTED:
                    raise TemplateError(f"template: :{line}: unexpected {{{{{val}}}}} in operand")
                raise TemplateError(f'template: :{line}: function "{val}" not defined')
            return ("ident", val, getattr(val, "pos", (line, 0))), i + 1
        if kind in ("str", "num"):
            return ("lit", val), i + 1
        if kind == "field":
            return ("field", [p for p in val.split(".") if p], val.pos), i + 1
        if kind == "var":
            name, _, rest = val.partition(".")
            return ("var", name, [p for p in rest.split(".") if p], (val.pos[0], val.pos[1] + len(name))), i + 1
        raise TemplateError(f"template: :{line}: unexpected {val!r}")


# -- values -------------------------------------------------------------------------

def go_float(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v prints float64."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    r = repr(f)
    mant, _, e = r.partition("e")
    exp10 = int(e) if e else 0
    sign = "-" if mant.startswith("-") else ""
    mant = mant.lstrip("-")
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = (ip + fp).lstrip("0")
    dp = len(ip) + exp10 if ip != "0" else exp10 - (len(fp) - len(fp.lstrip("0")))
    if not digits:
        return "0"
    digits = digits.rstrip("0") or "0"
    exp = dp - 1
    if exp < -4 or exp >= 6:  # shortest 'g' decides with precision 6
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return f"{sign}{digits}{'0' * (dp - len(digits))}"
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def to_text(v: Any) -> str:
    """fmt's %v."""
    if v is MISSING:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(to_text(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{to_text(v[k])}" for k in sorted(v, key=str)) + "]"
    if hasattr(v, "to_json") and hasattr(v, "__template_text__"):
        return v.__template_text__()
    return str(v)


def truth(v: Any) -> bool:
    """Go template truth: false, 0, nil, empty string/list/map are false."""
    if v is MISSING or v is None:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


def to_json_value(v: Any) -> Any:
    if hasattr(v, "to_json"):
        return v.to_json()
    if v is MISSING:
        return None
    return v


_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_text(v: Any) -> str:
    """docker's `json` function: compact, no HTML escaping, UTF-8 kept. A
    listing's row (a formatter Context) marshals itself with json.Marshal
    in docker, which does escape <, > and & ("\\u003cnone\\u003e")."""
    import json
    text = json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=to_json_value)
    if hasattr(v, "to_json") and any(c in text for c in _HTML_ESCAPES):
        text = "".join(_HTML_ESCAPES.get(c, c) for c in text)
    return text


def _index(item: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(item, dict):
            item = item.get(k, MISSING)
        elif isinstance(item, (list, tuple, str)):
            if not isinstance(k, int):
                raise TemplateExecError(f"error calling index: cannot index slice/array with type {type(k).__name__}")
            if k < 0 or k >= len(item):
                raise TemplateExecError(f"error calling index: index out of range: {k}")
            item = item[k]
        elif item is None or item is MISSING:
            raise TemplateExecError("error calling index: index of untyped nil")
        else:
            raise TemplateExecError(f"error calling index: can't index item of type {type(item).__name__}")
    return item


def _slice(item: Any, *idx: int) -> Any:
    if len(idx) > 2:
        return item[idx[0]:idx[1]]
    return item[slice(*idx)] if len(idx) == 2 else item[idx[0]:] if idx else item


def _len(v: Any) -> int:
    try:
        return len(v)
    except TypeError:
        raise TemplateExecError(f"error calling len: len of type {type(v).__name__}") from None


def _cmp(name: str, op: Callable[[Any, Any], bool]) -> Callable:
    def f(a: Any, *bs: Any) -> bool:
        if name == "eq" and bs:
            return any(_eq(a, b) for b in bs)
        if len(bs) != 1:
            raise TemplateExecError(f"wrong number of args for {name}: want 2 got {len(bs) + 1}")
        b = bs[0]
        try:
            return op(a, b)
        except TypeError:
            raise TemplateExecError(f"error calling {name}: incompatible types for comparison") from None
    return f


def _eq(a: Any, b: Any) -> bool:
    if a is MISSING:
        a = None
    if b is MISSING:
        b = None
    return bool(a == b)


def _title(s: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in _keep_spaces(s))


def _keep_spaces(s: str) -> list[str]:
    out, cur = [], ""
    for ch in s:
        if ch.isspace():
            if cur:
                out.append(cur)
                cur = ""
            out.append(ch)
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def _truncate(s: str, n: int) -> str:
    return s[:n] if len(s) > n else s


def _pad(s: str, before: int, after: int) -> str:
    return " " * before + s + " " * after


def _sprint(*args: Any) -> str:
    # Go's Sprint adds spaces between operands when neither is a string.
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += to_text(a)
    return out


def _sprintln(*args: Any) -> str:
    return " ".join(to_text(a) for a in args) + "\n"


def sprintf(fmt: str, *args: Any) -> str:
    """Go's Sprintf for the verbs scripts use: %s %v %d %q %x %X %f %e %g %t %c %%,
    with flags, width and precision."""
    out = []
    i, ai, n = 0, 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        j = i + 1
        while j < n and fmt[j] in "+-# 0":
            j += 1
        while j < n and (fmt[j].isdigit() or fmt[j] == "."):
            j += 1
        if j >= n:
            out.append("%!(NOVERB)")
            break
        verb, spec = fmt[j], fmt[i + 1:j]
        i = j + 1
        if verb == "%":
            out.append("%")
            continue
        if ai >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[ai]
        ai += 1
        if verb in "vs":
            s = to_text(a) if not (verb == "v" and spec.startswith("#")) else repr(a)
            out.append(("%" + spec.replace("#", "") + "s") % s)
        elif verb == "q":
            out.append(json_text(to_text(a)) if not isinstance(a, int) else "'" + chr(a) + "'")
        elif verb == "t":
            out.append(("%" + spec + "s") % to_text(bool(a)))
        elif verb == "c":
            out.append(chr(int(a)))
        elif verb in "dxXobeEfFgG":
            try:
                out.append(("%" + spec + verb) % (a if verb in "eEfFgG" else int(a)))
            except (TypeError, ValueError):
                out.append(f"%!{verb}({type(a).__name__}={to_text(a)})")
        else:
            out.append(f"%!{verb}({type(a).__name__}={to_text(a)})")
    if ai < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{type(a).__name__}={to_text(a)}" for a in args[ai:]) + ")")
    return "".join(out)


def _html(*args: Any) -> str:
    s = _sprint(*args)
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
            .replace("'", "&#39;"))


def _js(*args: Any) -> str:
    s = _sprint(*args)
    out = []
    for ch in s:
        if ch in "\\'\"<>&=":
            out.append("\\u%04X" % ord(ch) if ch in "<>&=" else "\\" + ch)
        elif ord(ch) < 32:
            out.append("\\u%04X" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    from ..client.transport import quote
    return quote(_sprint(*args)).replace("%20", "+")


def _join(items: Any, sep: str) -> str:
    if not isinstance(items, (list, tuple)):
        raise TemplateExecError(f"error calling join: expected a list, got {type(items).__name__}")
    return sep.join(to_text(x) for x in items)


def _split_fn(s: str, sep: str) -> list[str]:
    return s.split(sep) if sep else list(s)


FUNCS: dict[str, Callable] = {
    # docker's
    "json": json_text, "join": _join, "split": _split_fn, "title": _title,
    "lower": lambda s: to_text(s).lower(), "upper": lambda s: to_text(s).upper(),
    "pad": _pad, "truncate": _truncate, "println": _sprintln,
    # Go's builtins (and/or are special-cased: they short-circuit)
    "and": None, "or": None, "not": lambda v: not truth(v), "len": _len, "index": _index, "slice": _slice,
    "print": _sprint, "printf": sprintf, "html": _html, "js": _js, "urlquery": _urlquery,
    "eq": _cmp("eq", lambda a, b: _eq(a, b)), "ne": _cmp("ne", lambda a, b: not _eq(a, b)),
    "lt": _cmp("lt", lambda a, b: a < b), "le": _cmp("le", lambda a, b: a <= b),
    "gt": _cmp("gt", lambda a, b: a > b), "ge": _cmp("ge", lambda a, b: a >= b),
}


# -- execution ----------------------------------------------------------------------

class Template:
    def __init__(self, text: str, funcs: dict[str, Callable] | None = None) -> None:
        self.text = text
        self.funcs = dict(FUNCS)
        if funcs:
            self.funcs.update(funcs)
        self.root = _Parser(text, self.funcs).parse()

    def render(self, dot: Any) -> str:
        out: list[str] = []
        self._exec(self.root, dot, [("$", dot)], out)
        return "".join(out)

    def _exec(self, nodes: list[Node], dot: Any, scope: list[tuple[str, Any]], out: list[str]) -> None:
        mark = len(scope)
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                v = self._pipe(node.pipe, dot, scope)
                if not node.pipe.decl:
                    out.append(to_text(v))
            elif isinstance(node, Branch):
                self._branch(node, dot, scope, out)
            elif isinstance(node, Control):
                raise _Break() if node.kind == "break" else _Continue()
        del scope[mark:]

    def _branch(self, node: Branch, dot: Any, scope: list[tuple[str, Any]], out: list[str]) -> None:
        mark = len(scope)
        if node.kind == "range":
            pipe = node.pipe
            val = self._pipe(Pipeline([], False, pipe.cmds), dot, scope)
            if isinstance(val, dict):
                pairs: list[tuple[Any, Any]] = [(k, val[k]) for k in sorted(val, key=str)]
            elif isinstance(val, (list, tuple)):
                pairs = list(enumerate(val))
            elif isinstance(val, int) and not isinstance(val, bool):
                pairs = [(i, i) for i in range(val)]
            elif val is None or val is MISSING:
                pairs = []
            else:
                raise TemplateExecError(f"range can't iterate over {to_text(val)}")
            if not pairs:
                self._exec(node.orelse, dot, scope, out)
                return
            for k, v in pairs:
                if len(pipe.decl) == 2:
                    scope.extend([(pipe.decl[0], k), (pipe.decl[1], v)])
                elif len(pipe.decl) == 1:
                    scope.append((pipe.decl[0], v))
                try:
                    self._exec(node.body, v, scope, out)
                except _Continue:
                    pass
                except _Break:
                    del scope[mark:]
                    break
                del scope[mark:]
            return
        val = self._pipe(node.pipe, dot, scope)
        if truth(val):
            self._exec(node.body, val if node.kind == "with" else dot, scope, out)
        else:
            self._exec(node.orelse, dot, scope, out)
        del scope[mark:]

    def _pipe(self, pipe: Pipeline, dot: Any, scope: list[tuple[str, Any]]) -> Any:
        val: Any = MISSING
        first = True
        for cmd in pipe.cmds:
            val = self._cmd(cmd, dot, scope, None if first else val, not first)
            first = False
        if pipe.decl:
            name = pipe.decl[0]
            if pipe.assign:
                for idx in range(len(scope) - 1, -1, -1):
                    if scope[idx][0] == name:
                        scope[idx] = (name, val)
                        break
                else:
                    raise TemplateExecError(f"undefined variable: {name}")
            else:
                scope.append((name, val))
        return val

    def _cmd(self, cmd: list[Any], dot: Any, scope: list[tuple[str, Any]], piped: Any, has_piped: bool) -> Any:
        head = cmd[0]
        if head[0] == "ident" and head[1] in self.funcs:
            name = head[1]
            if name in ("and", "or"):
                args_nodes = cmd[1:]
                v: Any = None
                values = [lambda n=n: self._arg(n, dot, scope) for n in args_nodes]
                if has_piped:
                    values.append(lambda: piped)
                if not values:
                    raise TemplateExecError(f"wrong number of args for {name}: want at least 1 got 0")
                for get in values:
                    v = get()
                    if (name == "and") != truth(v):
                        return v
                return v
            args = [self._arg(n, dot, scope) for n in cmd[1:]]
            if has_piped:
                args.append(piped)
            _check_arity(name, self.funcs[name], len(args), head[2] if len(head) > 2 else (1, 0))
            try:
                return self.funcs[name](*args)
            except TemplateExecError as e:
                raise TemplateExecError(f'template: :1: executing "" at <{name}>: {e}') from None
            except TypeError as e:
                raise TemplateExecError(f'template: :1: executing "" at <{name}>: wrong arguments: {e}') from None
            except (ValueError, IndexError, KeyError, AttributeError) as e:
                raise TemplateExecError(f'template: :1: executing "" at <{name}>: error calling {name}: {e}') from None
        # a field/method with arguments: .Label "x"
        args = [self._arg(n, dot, scope) for n in cmd[1:]]
        if has_piped:
            args.append(piped)
        return self._arg(head, dot, scope, args)

    def _arg(self, node: Any, dot: Any, scope: list[tuple[str, Any]], call_args: list[Any] | None = None) -> Any:
        kind = node[0]
        if kind == "lit":
            if call_args:
                raise TemplateExecError(f"can't give argument to non-function {to_text(node[1])}")
            return node[1]
        if kind == "ident":
            return self.funcs[node[1]]()
        if kind == "pipe":
            return self._pipe(node[1], dot, scope)
        if kind == "field":
            return self._chain(dot, node[1], call_args, "." + ".".join(node[1]), node[2])
        if kind == "var":
            for name, val in reversed(scope):
                if name == node[1]:
                    return self._chain(val, node[2], call_args, node[1] + "".join("." + p for p in node[2]),
                                       node[3])
            raise TemplateExecError(f"undefined variable: {node[1]}")
        if kind == "chain":
            base = self._arg(node[1], dot, scope)
            return self._chain(base, node[2], call_args, "(...)." + ".".join(node[2]), node[3])
        raise TemplateExecError(f"bad node {kind}")

    @staticmethod
    def _chain(obj: Any, parts: list[str], call_args: list[Any] | None, shown: str,
               pos: tuple[int, int] = (1, 0)) -> Any:
        """Follow .A.B.C; errors say where, as Go's "template: :LINE:COL:" does
        (COL is the byte offset of the field that failed)."""
        def where(idx: int) -> str:
            return f":{pos[0]}:{pos[1] + sum(len(p) + 1 for p in parts[:idx])}"

        if not parts:
            if call_args:
                raise TemplateExecError(f'template: {where(0)}: executing "" at <{shown}>: '
                                        "can't give argument to non-function")
            return obj
        for idx, part in enumerate(parts):
            last = idx == len(parts) - 1
            if isinstance(obj, dict):
                obj = _dict_field(obj, part)
            elif obj is None or obj is MISSING:
                if obj is MISSING:
                    return MISSING
                raise TemplateExecError(f'template: {where(idx)}: executing "" at <{shown}>: nil pointer evaluating '
                                        f'interface {{}}.{part}')
            elif hasattr(obj, "template_fields") and part in obj.template_fields():
                attr = getattr(obj, part)
                if callable(attr):
                    obj = attr(*(call_args or [])) if last else attr()
                    if last:
                        return obj
                else:
                    obj = attr
            else:
                kind = getattr(obj, "template_type", None) or _GO_TYPES.get(type(obj), type(obj).__name__)
                raise TemplateExecError(f'template: {where(idx)}: executing "" at <{shown}>: can\'t evaluate '
                                        f'field {part} in type {kind}')
        if call_args:
            raise TemplateExecError(f'template: {where(len(parts) - 1)}: executing "" at <{shown}>: '
                                    f'{parts[-1]} is not a method but has arguments')
        return obj


def _check_arity(name: str, fn: Callable, got: int, pos: tuple[int, int]) -> None:
    """Go checks a function's argument count before calling it; Python
    functions with a fixed signature stand for Go's (*args for variadic ones)."""
    code = getattr(fn, "__code__", None)
    if code is None or getattr(fn, "__defaults__", None):
        return
    want = code.co_argcount
    variadic = bool(code.co_flags & 0x04)
    if got == want or (variadic and got >= want):
        return
    raise TemplateExecError(f'template: :{pos[0]}:{pos[1]}: executing "" at <{name}>: wrong number of args for '
                            f'{name}: want {"at least " if variadic else ""}{want} got {got}')


_GO_TYPES = {str: "string", int: "int", float: "float64", bool: "bool", list: "[]interface {}"}


def _dict_field(d: dict[str, Any], name: str) -> Any:
    """A key of a decoded API object. docker runs templates on its typed Go
    structs first, so Go field names work too (.ID for "Id", .APIVersion for
    "ApiVersion", .NanoCPUs for "NanoCpus"): exported names fall back to a
    case-insensitive match."""
    if name in d:
        return d[name]
    if name[:1].isupper():
        low = name.lower()
        for k, v in d.items():
            if isinstance(k, str) and k.lower() == low:
                return v
    return MISSING


def render(text: str, obj: Any) -> str:
    return Template(text).render(obj)
