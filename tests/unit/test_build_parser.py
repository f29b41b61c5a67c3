"""The Dockerfile parser and instruction checks (no daemon)."""

from __future__ import annotations

import pytest

from dockyard.build import instructions as ins
from dockyard.build.parser import ParseError, parse, parse_words


def nodes(text: str):
    return parse(text).nodes


def test_directives_and_escape() -> None:
    df = parse("# syntax=docker/dockerfile:1\n#escape=`\n\nFROM busybox\nRUN echo a `\n  b\n")
    assert df.syntax == "docker/dockerfile:1" and df.escape == "`"
    assert nodes_args(df.nodes) == [["busybox"], ["echo a   b"]]


def nodes_args(ns):
    return [n.args for n in ns]


def test_directive_rules() -> None:
    # After a comment, a directive is only a comment; unknown directives end the header too.
    assert parse("# about\n# escape=`\nFROM a\n").escape == "\\"
    assert parse("# unknown=x\n# escape=`\nFROM a\n").escape == "\\"
    with pytest.raises(ParseError, match="only one escape parser directive"):
        parse("# escape=`\n# escape=\\\nFROM a\n")
    with pytest.raises(ParseError, match=r"line 1, column 10: invalid escape token 'x'"):
        parse("# escape=x\nFROM a\n")


def test_continuations_comments_and_blank_lines() -> None:
    df = parse("FROM busybox\nRUN echo hello \\\n# a comment inside\n\n  world\n   # comment\nCMD [\"sh\"]\n")
    run, cmd = df.nodes[1], df.nodes[2]
    assert run.args == ["echo hello   world"]
    assert (run.line, run.end_line) == (2, 5)
    assert cmd.json and cmd.args == ["sh"] and cmd.line == 7
    assert any("Empty continuation line" in w for w in df.warnings)


def test_json_and_shell_forms() -> None:
    ns = nodes('FROM a\nRUN ["echo", "x y"]\nRUN [not json]\nENTRYPOINT ["a", 1]\nSHELL ["/bin/bash", "-c"]\n')
    assert ns[1].json and ns[1].args == ["echo", "x y"]
    assert not ns[2].json and ns[2].args == ["[not json]"]
    assert not ns[3].json  # non-string elements: shell form, as docker does
    assert ns[4].json


def test_env_and_label_forms() -> None:
    ns = nodes('FROM a\nENV A=1 B="two words" C=\\$D\nENV LEGACY value with spaces\nLABEL "k k"=v x=\'y z\'\n')
    assert ns[1].args == ["A", "1", "B", '"two words"', "C", "\\$D"]
    assert ns[2].legacy_kv and ns[2].args == ["LEGACY", "value with spaces"]
    assert ns[3].args == ['"k k"', "v", "x", "'y z'"]
    with pytest.raises(ParseError, match="can't find = in 'B'"):
        parse("FROM a\nENV A=1 B\n")
    with pytest.raises(ParseError, match="ENV must have two arguments"):
        parse("FROM a\nENV A\n")


def test_parse_words_keeps_quotes_for_expansion() -> None:
    assert parse_words('a="b c" d\\ e \'f g\'', "\\") == ['a="b c"', "d\\ e", "'f g'"]


def test_flags() -> None:
    n = nodes("FROM a\nCOPY --from=build --chown=1:2 src dst\n")[1]
    assert n.flags == ["from=build", "chown=1:2"] and n.args == ["src", "dst"]
    assert ins.parse_flags(n) == {"from": "build", "chown": "1:2"}
    for text, msg in (("COPY --nope=1 a b", "unknown flag: nope"),
                      ("COPY --link=maybe a b", "expecting boolean value for flag link"),
                      ("COPY --from a b", "missing a value on flag: --from"),
                      ("COPY --from=a --from=b a b", "duplicate flag specified: --from"),
                      ("RUN --mount=type=cache,target=/x --network=none true", None)):
        n = nodes("FROM a\n" + text + "\n")[1]
        if msg is None:
            assert ins.parse_flags(n) == {"mount": ["type=cache,target=/x"], "network": "none"}
        else:
            with pytest.raises(ParseError, match=msg):
                ins.parse_flags(n)


def test_heredocs() -> None:
    df = parse("FROM a\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-\"END\" /x\n\tkeep $HOME\n\tEND\nRUN echo done\n")
    run, copy, last = df.nodes[1], df.nodes[2], df.nodes[3]
    assert run.args == ["<<EOF"] and run.heredocs[0].content == "echo one\necho two\n"
    assert run.heredocs[0].expand and (run.line, run.end_line) == (2, 5)
    doc = copy.heredocs[0]
    assert doc.name == "END" and doc.chomp and not doc.expand and doc.text() == "keep $HOME\n"
    assert last.args == ["echo done"] and last.line == 9


def test_several_heredocs_and_quotes() -> None:
    df = parse("FROM a\nRUN <<A cat > /a && <<B cat > /b\n1\nA\n2\nB\nRUN echo '<<NOT'\n")
    assert [d.name for d in df.nodes[1].heredocs] == ["A", "B"]
    assert df.nodes[2].heredocs == []


def test_unterminated_heredoc_names_the_line() -> None:
    with pytest.raises(ParseError) as e:
        parse("FROM a\n  RUN <<EOF\necho\n")
    assert e.value.line == 2 and e.value.column == 3
    assert "line 2, column 3: unterminated heredoc EOF" in str(e.value)


def test_unknown_instruction_with_suggestion() -> None:
    df = parse("FROM busybox\n\n   RUNN echo\n")
    with pytest.raises(ParseError) as e:
        ins.plan(df)
    assert str(e.value) == "dockerfile parse error on line 3, column 4: unknown instruction: RUNN (did you mean run?)"


@pytest.mark.parametrize("text,msg", [
    ("RUN echo\n", "no build stage in current context"),
    ("FROM a b\n", "FROM requires either one or three arguments"),
    ("FROM a AS 1x\n", "invalid name for build stage"),
    ("FROM a AS x\nFROM b AS X\n", "duplicate stage name"),
    ("FROM a\nCOPY onlyone\n", "COPY requires at least two arguments"),
    ("FROM a\nSHELL /bin/bash -c\n", "SHELL requires the arguments to be in JSON form"),
    ("FROM a\nONBUILD ONBUILD RUN x\n", "Chaining ONBUILD"),
    ("FROM a\nONBUILD FROM b\n", "FROM isn't allowed as an ONBUILD trigger"),
    ("FROM a\nHEALTHCHECK WHAT\n", "Unknown type"),
])
def test_instruction_errors(text: str, msg: str) -> None:
    with pytest.raises(ParseError, match=msg):
        ins.plan(parse(text))


def test_plan_stages_and_meta_args() -> None:
    p = ins.plan(parse("ARG V=1\nFROM busybox:$V AS Base\nRUN a\nFROM base\nCOPY --from=0 / /\n"))
    assert [a.args for a in p.meta_args] == [["V=1"]]
    assert [(s.index, s.name, s.image, len(s.commands)) for s in p.stages] == [
        (0, "base", "busybox:$V", 1), (1, "", "base", 1)]
    assert p.stage_by_name("BASE").index == 0


def test_bom_crlf_and_case() -> None:
    df = parse("\ufefffrom busybox\r\nrun echo hi\r\n".encode())
    assert [(n.cmd, n.args) for n in df.nodes] == [("from", ["busybox"]), ("run", ["echo hi"])]
