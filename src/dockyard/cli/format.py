"""Output as docker prints it: tables, --format templates, sizes and times.

For a listing command (ps, images, volume ls, ...):

    class ImageContext(Context):          # fields scripts use in --format
        template_type = "image"
        FIELDS = ("ID", "Repository", "Tag", "CreatedSince", "Size")
        HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", ...}
        def __init__(self, raw): ...      # properties or methods named as FIELDS

    write_list(a.format, [ImageContext(i) for i in images],
               "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}")

Sizes and durations come from dockyard.units (go-units' HumanSize,
BytesSize, HumanDuration), re-exported here for the commands.

`write_list` handles "" (the default table), "table", "table TEMPLATE",
"json" and plain templates; `\\t` and `\\n` typed in a format become tab and
newline as in docker. Tables go through `tabwrite`, Go's text/tabwriter with
docker's settings (min width 10, padding 3), which is why docker's columns
look the way they do. Template errors become CLIError with docker's wording.
"""

from __future__ import annotations

import sys
import time

from ..units import bytes_size, human_duration, human_size  # noqa: F401 - the commands import them from here
from .errors import CLIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, TextIO


# -- tables -------------------------------------------------------------------------

def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter (flags 0, pad char ' ') over text: cells end with
    a tab; consecutive lines sharing a column are aligned as one block."""
    lines = [line.split("\t") for line in text.split("\n")]
    trailing_newline = text.endswith("\n")
    if trailing_newline:
        lines.pop()
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for cells in lines[line0:line1]:
            parts = []
            for j, c in enumerate(cells):
                if j < len(widths) and j < len(cells) - 1:
                    parts.append(c.ljust(widths[j]))
                else:
                    parts.append(c)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    return "\n".join(out) + ("\n" if trailing_newline else "")


def print_table(headers: list[str], rows: list[list[str]], out: TextIO | None = None, minwidth: int = 10) -> None:
    """A docker table from cells (no templates involved); `top` uses min width 20."""
    text = "".join("\t".join(r) + "\n" for r in [headers] + rows)
    (out or sys.stdout).write(tabwrite(text, minwidth))


# -- --format -------------------------------------------------------------------------

class Context:
    """A row for --format: FIELDS are attributes, properties or methods
    (methods may take arguments: {{.Label "key"}}); {{json .}} gives every
    field that is not a method with arguments."""

    template_type = "context"
    FIELDS: tuple[str, ...] = ()
    METHODS: tuple[str, ...] = ()  # take arguments; left out of {{json .}}
    HEADERS: dict[str, str] = {}

    def template_fields(self) -> tuple[str, ...]:
        return self.FIELDS + self.METHODS

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.FIELDS}

    def __template_text__(self) -> str:
        return "{" + " ".join(str(getattr(self, f)) for f in self.FIELDS) + "}"


class _Header:
    """Stands in for a row when a table's header line is rendered."""

    template_type = "header"

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def template_fields(self) -> Any:
        return _AnyName()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _HeaderValue(header_for(self.__dict__.get("headers", {}), name))


def header_for(headers: dict[str, str], name: str) -> str:
    """A column's header: the context's, else the field name in capitals
    ("CreatedAt" -> "CREATED AT")."""
    h = headers.get(name)
    if h is None:
        h = "".join(" " + c if c.isupper() and i else c for i, c in enumerate(name)).upper()
    return h


class _HeaderValue(str):
    def __call__(self, *args: Any) -> str:
        return str(self)


class _AnyName:
    def __contains__(self, name: object) -> bool:
        return True


def expand_escapes(fmt: str) -> str:
    r"""docker turns a typed \t and \n into tab and newline."""
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def parse_template(fmt: str, error_prefix: str = "template parsing error") -> Any:
    from .template import Template, TemplateError
    try:
        return Template(fmt)
    except TemplateError as e:
        raise CLIError(f"{error_prefix}: {e}", 1) from None


def render(tmpl: Any, obj: Any, error_prefix: str = "") -> str:
    from .template import TemplateError
    try:
        return tmpl.render(obj)
    except TemplateError as e:
        raise CLIError(f"{error_prefix}{e}", 1) from None


# docker's formatter.Context words both parse and execution errors this way;
# `ps` alone checks its template first, as "failed to parse/execute template".
TEMPLATE_ERROR = "template parsing error"


def _body(fmt: str) -> str:
    """docker's preFormat: "table" dropped, spaces trimmed, \\t and \\n expanded."""
    return expand_escapes((fmt[5:] if is_table(fmt) else fmt).strip(" "))


def check_format(fmt: str, error_prefix: str = TEMPLATE_ERROR, row: Any = None) -> None:
    """Fail on a bad --format before asking the daemon anything. With `row`
    (an empty Context) the format is also run once, as typed ("table" and
    escapes included, so error positions match), as `docker ps` does."""
    if fmt in ("", "table", "json"):
        return
    body = _body(fmt) if row is None else fmt
    if _render_simple(body, [row] if row is not None else [], None) is not None:
        return
    tmpl = parse_template(body, error_prefix)
    if row is not None:
        render(tmpl, row, error_prefix.replace("parse", "execute") + ": ")


def is_table(fmt: str) -> bool:
    """docker's Format.IsTable: anything that starts with "table"."""
    return fmt.startswith("table")


def write_list(fmt: str, items: Iterable[Any], default: str, out: TextIO | None = None,
               headers: dict[str, str] | None = None, error_prefix: str = TEMPLATE_ERROR) -> None:
    """Print items with a docker --format value (see the module docstring)."""
    out = out or sys.stdout
    fmt = fmt or default
    if fmt == "table":
        fmt = default
    if fmt == "json":
        fmt = "{{json .}}"
    table = is_table(fmt)
    body = _body(fmt)
    items = list(items)
    hdrs = (headers if headers is not None else (type(items[0]).HEADERS if items else {})) or {}
    chunks = _render_simple(body, items, hdrs if table else None)
    if chunks is None:
        tmpl = parse_template(body, error_prefix)
        chunks = [render(tmpl, _Header(hdrs), error_prefix + ": ")] if table else []
        chunks += [render(tmpl, it, error_prefix + ": ") for it in items]
    text = "".join(c + "\n" for c in chunks)
    out.write(tabwrite(text) if table else text)


def _render_simple(body: str, items: list[Any], headers: dict[str, str] | None) -> list[str] | None:
    """Templates made only of text and {{.Field}} (docker's default tables and
    most scripts' formats) rendered without the template engine, which the
    listing commands would otherwise load on every run. None: use the engine."""
    parts: list[str] = []
    fields: list[str] = []
    i = 0
    while True:
        j = body.find("{{", i)
        if j < 0:
            parts.append(body[i:])
            break
        k = body.find("}}", j)
        inner = body[j + 2:k].strip() if k > 0 else ""
        if not (inner.startswith(".") and inner[1:].isidentifier()):
            return None
        parts.append(body[i:j])
        fields.append(inner[1:])
        i = k + 2
    for it in items:
        if not isinstance(it, Context) or any(f not in it.FIELDS for f in fields):
            return None
    rows = []
    if headers is not None:
        rows.append([header_for(headers, f) for f in fields])
    for it in items:
        values = [getattr(it, f) for f in fields]
        if not all(isinstance(v, str) for v in values):
            return None
        rows.append(values)
    out = []
    for values in rows:
        text = parts[0]
        for v, lit in zip(values, parts[1:]):
            text += v + lit
        out.append(text)
    return out


# -- numbers and times --------------------------------------------------------------

def ago(ts: float) -> str:
    return human_duration(time.time() - ts) + " ago"


def trunc_id(i: str) -> str:
    """docker's TruncateID: without the algorithm, 12 characters."""
    return i.split(":", 1)[-1][:12]


def ellipsis(s: str, width: int) -> str:
    """docker's formatter.Ellipsis: at most width characters, the last one "…"."""
    return s if len(s) <= width else s[: width - 1] + "…"


def parse_timestamp(s: str) -> float | None:
    """Seconds since the epoch for the API's RFC 3339 times (None for the zero time)."""
    if not s or s.startswith("0001-01-01"):
        return None
    date, _, rest = s.partition("T")
    try:
        y, mo, d = (int(x) for x in date.split("-"))
        tz = 0
        clock = rest
        if rest.endswith("Z"):
            clock = rest[:-1]
        else:
            for sign in "+-":
                if sign in rest:
                    clock, off = rest.rsplit(sign, 1)
                    hh, _, mm = off.partition(":")
                    tz = (int(hh) * 3600 + int(mm or 0) * 60) * (1 if sign == "+" else -1)
                    break
        hms, _, frac = clock.partition(".")
        hh, mi, ss = (int(x) for x in hms.split(":"))
    except ValueError:
        return None
    import calendar
    t = calendar.timegm((y, mo, d, hh, mi, ss, 0, 0, 0)) - tz
    if frac:
        t += float("0." + frac[:9])
    return t


def local_time(ts: float) -> str:
    """docker's CreatedAt: "2006-01-02 15:04:05 -0700 MST"."""
    lt = time.localtime(ts)
    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", lt)


def go_time_string(rfc3339: str) -> str:
    """Go's time.Time.String() of a time the API sent ("2021-06-28T13:31:01.4746Z"
    -> "2021-06-28 13:31:01.4746 +0000 UTC"): its own zone, fraction without
    trailing zeros."""
    date, _, rest = rfc3339.partition("T")
    if not rest:
        return rfc3339
    if rest.endswith("Z"):
        clock, zone = rest[:-1], "+0000 UTC"
    else:
        cut = max(rest.rfind("+"), rest.rfind("-"))
        clock, off = (rest[:cut], rest[cut:].replace(":", "")) if cut > 0 else (rest, "+0000")
        zone = f"{off} {off}"
    hms, _, frac = clock.partition(".")
    frac = frac.rstrip("0")
    return f"{date} {hms}{'.' + frac if frac else ''} {zone}"


def local_rfc3339(ts: float) -> str:
    """Go's time.RFC3339 in local time: "2006-01-02T15:04:05Z07:00" ("Z" for UTC)."""
    lt = time.localtime(ts)
    off = lt.tm_gmtoff or 0
    zone = "Z" if off == 0 else f"{'+' if off > 0 else '-'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", lt) + zone


LIST_FORMAT_HELP = """Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"""

INSPECT_FORMAT_HELP = """Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"""


def write_inspect(objects: list[Any], fmt: str, out: TextIO | None = None) -> None:
    """docker's inspect output: an indented JSON array, or each object
    through the --format template, one per line."""
    out = out or sys.stdout
    if not fmt:
        import json
        out.write(json.dumps(objects, indent=4, ensure_ascii=False) + "\n")
        return
    if fmt == "json":
        fmt = "{{json .}}"
    tmpl = parse_template(expand_escapes(fmt), "template parsing error")
    out.write("".join(render(tmpl, obj, "template parsing error: ") + "\n" for obj in objects))
