"""The Go-template subset behind --format: what scripts commonly write."""

from __future__ import annotations

import pytest

from dockyard.cli.format import Context, tabwrite, write_list
from dockyard.cli.template import Template, TemplateError, TemplateExecError, go_float, render, sprintf

OBJ = {
    "Id": "abc123", "Name": "/web",
    "State": {"Status": "running", "Running": True, "ExitCode": 0, "Health": None},
    "Config": {"Env": ["A=1", "B=2"], "Labels": {"tier": "front", "app": "shop"}, "Cmd": None},
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "back": {"IPAddress": "10.0.0.3"}}},
    "Mounts": [{"Source": "/a", "Destination": "/x"}, {"Source": "/b", "Destination": "/y"}],
    "Count": 3, "Ratio": 0.5, "ApiVersion": "1.45",
}


@pytest.mark.parametrize("tmpl,expected", [
    ("{{.Id}}", "abc123"),
    ("{{.State.Status}}", "running"),
    ("{{.State.Running}}", "true"),
    ("{{.State.Health}}", "<nil>"),
    ("{{.Nope}}", "<no value>"),
    ("{{.Config.Labels.tier}}", "front"),
    ("{{.Config.Labels.missing}}", "<no value>"),
    ("{{.Config.Env}}", "[A=1 B=2]"),
    ("{{.Config.Labels}}", "map[app:shop tier:front]"),
    ("{{json .State}}", '{"Status":"running","Running":true,"ExitCode":0,"Health":null}'),
    ("{{json .Config.Cmd}}", "null"),
    ("{{range .Config.Env}}{{.}};{{end}}", "A=1;B=2;"),
    ("{{range $i, $e := .Config.Env}}{{$i}}={{$e}} {{end}}", "0=A=1 1=B=2 "),
    ("{{range $k, $v := .NetworkSettings.Networks}}{{$k}}:{{$v.IPAddress}} {{end}}", "back:10.0.0.3 bridge:172.17.0.2 "),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "10.0.0.3172.17.0.2"),
    ("{{range .Mounts}}{{.Source}}->{{.Destination}}\n{{end}}", "/a->/x\n/b->/y\n"),
    ("{{range .Config.Cmd}}x{{else}}empty{{end}}", "empty"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if eq .State.Status \"exited\"}}gone{{else if eq .State.Status \"running\"}}alive{{end}}", "alive"),
    ("{{if and .State.Running (eq .Count 3)}}yes{{end}}", "yes"),
    ("{{if or .Nope .Count}}{{.Count}}{{end}}", "3"),
    ("{{if not .State.ExitCode}}ok{{end}}", "ok"),
    ("{{with .State}}{{.Status}}{{end}}", "running"),
    ("{{with .Nope}}x{{else}}none{{end}}", "none"),
    ("{{join .Config.Env \",\"}}", "A=1,B=2"),
    ("{{.Name | upper}}", "/WEB"),
    ("{{upper .Name}}", "/WEB"),
    ("{{lower \"ABC\"}}", "abc"),
    ("{{title \"hello world\"}}", "Hello World"),
    ("{{len .Mounts}}", "2"),
    ("{{index .Config.Env 1}}", "B=2"),
    ("{{index .Config.Labels \"app\"}}", "shop"),
    ("{{(index .Mounts 1).Source}}", "/b"),
    ("{{split \"a:b:c\" \":\"}}", "[a b c]"),
    ("{{println .Id}}", "abc123\n"),
    ("{{printf \"%s-%d\" .Id .Count}}", "abc123-3"),
    ("{{printf \"%q\" .Id}}", '"abc123"'),
    ("{{printf \"%5.1f|\" .Ratio}}", "  0.5|"),
    ("{{$n := .Name}}{{$n}}", "/web"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
    ("{{.Id -}}  \n  {{- .Name}}", "abc123/web"),
    ("a {{/* a comment */}}b", "a b"),
    ("{{range .Config.Env}}{{if eq . \"B=2\"}}{{break}}{{end}}{{.}}{{end}}", "A=1"),
    ("{{range .Config.Env}}{{if eq . \"A=1\"}}{{continue}}{{end}}{{.}}{{end}}", "B=2"),
    ("{{truncate .Id 3}}", "abc"),
    ("{{pad .Id 1 2}}|", " abc123  |"),
    ("{{.Ratio}} {{.Count}}", "0.5 3"),
    ("{{.ID}} {{.APIVersion}}", "abc123 1.45"),  # Go field names as docker's typed structs
    ("{{ range 3 }}x{{ end }}", "xxx"),
    ("{{`raw {{` }}", "raw {{"),
    ("{{lt 1 2}} {{ge 1 2}} {{ne \"a\" \"b\"}}", "true false true"),
])
def test_render(tmpl: str, expected: str) -> None:
    assert render(tmpl, OBJ) == expected


@pytest.mark.parametrize("tmpl,message", [
    ("{{foo .Id}}", 'function "foo" not defined'),
    ("{{define \"x\"}}{{end}}", "not supported"),
    ("{{template \"x\"}}", "not supported"),
    ("{{if .Id}}", "unexpected EOF"),
    ("{{end}}", "unexpected {{end}}"),
    ("{{.Id", "unclosed action"),
    ("{{\"abc}}", "unterminated quoted string"),
    ("{{break}}", "outside {{range}}"),
])
def test_parse_errors_are_clear(tmpl: str, message: str) -> None:
    with pytest.raises(TemplateError) as e:
        Template(tmpl)
    assert message in str(e.value)


def test_exec_errors() -> None:
    with pytest.raises(TemplateExecError):
        render("{{index .Config.Env 5}}", OBJ)
    with pytest.raises(TemplateExecError):
        render("{{$nope}}", OBJ)


class Row(Context):
    FIELDS = ("ID", "Names")
    METHODS = ("Label",)
    HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Label": "LABEL"}
    template_type = "*formatter.ContainerContext"

    def __init__(self, i: str, n: str) -> None:
        self.ID, self.Names = i, n

    def Label(self, k: str) -> str:  # noqa: N802
        return f"<{k}>"


def test_context_fields_methods_and_json() -> None:
    r = Row("abc", "web")
    assert render('{{.ID}} {{.Label "x"}}', r) == "abc <x>"
    assert render("{{json .}}", r) == '{"ID":"abc","Names":"web"}'
    with pytest.raises(TemplateExecError) as e:
        render("{{.Nope}}", r)
    assert "can't evaluate field Nope" in str(e.value)


def test_write_list_table_plain_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [Row("abc", "web"), Row("defdefdefdefdef", "db")]
    write_list("", rows, "table {{.ID}}\t{{.Names}}")
    assert capsys.readouterr().out == ("CONTAINER ID      NAMES\n"
                                       "abc               web\n"
                                       "defdefdefdefdef   db\n")
    write_list("table {{.Names}}\\t{{.ID}}", rows, "")
    assert capsys.readouterr().out == "NAMES     CONTAINER ID\nweb       abc\ndb        defdefdefdefdef\n"
    write_list("{{.Names}}", rows, "")
    assert capsys.readouterr().out == "web\ndb\n"
    write_list("json", rows, "")
    assert capsys.readouterr().out == '{"ID":"abc","Names":"web"}\n{"ID":"defdefdefdefdef","Names":"db"}\n'
    write_list("table", [], "table {{.ID}}\t{{.Names}}", headers=Row.HEADERS)
    assert capsys.readouterr().out == "CONTAINER ID   NAMES\n"


def test_tabwriter_matches_docker_padding() -> None:
    # minwidth 10, padding 3: docker's empty `ps` header
    text = "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n"
    assert tabwrite(text) == "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
    # a block of lines with more cells is aligned on its own
    assert tabwrite("a\tb\nccc\tdddddddddddd\te\n") == "a         b\nccc       dddddddddddd   e\n"


def test_go_float_and_sprintf() -> None:
    assert go_float(1000000.0) == "1e+06"
    assert go_float(123456.0) == "123456"
    assert go_float(0.5) == "0.5"
    assert go_float(0.00001) == "1e-05"
    assert sprintf("%d%%", 5) == "5%"
    assert sprintf("%s") == "%!s(MISSING)"
