"""Variable expansion (docker's shell lexer), .dockerignore patterns and
the values some instructions take."""

from __future__ import annotations

import pytest

from dockyard.build.dockerignore import PatternMatcher, read_patterns
from dockyard.build.shell import ExpansionError, Lexer, expand, expand_heredoc, expand_words
from dockyard.build.values import parse_duration, parse_ports, parse_signal
from dockyard.errdefs import InvalidArgument

ENV = {"FOO": "foo", "EMPTY": "", "PATHS": "a b", "str": "foobarbaz"}


@pytest.mark.parametrize("word,want", [
    ("$FOO", "foo"), ("${FOO}", "foo"), ("${FOO}_x", "foo_x"), ("$FOO_x", ""),
    ("'$FOO'", "$FOO"), ('"$FOO"', "foo"), ("\\$FOO", "$FOO"), ('"\\$FOO"', "$FOO"),
    ("${NOPE:-def}", "def"), ("${EMPTY:-def}", "def"), ("${EMPTY-def}", ""), ("${FOO:-def}", "foo"),
    ("${FOO:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"), ("${NOPE:+alt}", ""),
    ("${NOPE:-$FOO}", "foo"), ("${NOPE:-${FOO:+x}y}", "xy"),
    ("a\\ b", "a b"), ('"a\\b"', "a\\b"), ("$", "$"), ("$ x", "$ x"), ("100$", "100$"),
    ("${str#f*b}", "arbaz"), ("${str##f*b}", "az"), ("${str%b*}", "foobar"), ("${str%%b*}", "foo"),
    ("${str/ba/fo}", "fooforbaz"), ("${str//ba/fo}", "fooforfoz"),
])
def test_process_word(word: str, want: str) -> None:
    assert expand(word, ENV) == want


def test_process_words_splits_unquoted() -> None:
    assert expand_words('$PATHS "x y" z', ENV) == ["a", "b", "x y", "z"]


def test_escape_directive_changes_the_escape() -> None:
    assert Lexer("`").process_word("a`$FOO c\\d", ENV) == "a$FOO c\\d"


@pytest.mark.parametrize("word,msg", [
    ("${NOPE:?must be set}", "NOPE: must be set"), ("${NOPE?}", "is not allowed to be unset"),
    ("'open", "single-quote"), ('"open', "double-quote"), ("${FOO", "matching }"),
    ("${FOO:x}", "unsupported modifier"),
])
def test_expansion_errors(word: str, msg: str) -> None:
    with pytest.raises(ExpansionError, match=msg):
        expand(word, ENV)


def test_heredoc_expansion_keeps_quotes() -> None:
    assert expand_heredoc('echo "hello ${FOO}" \'$FOO\' \\$FOO\n', ENV) == 'echo "hello foo" \'foo\' $FOO\n'


# -- .dockerignore --------------------------------------------------------------------

def test_read_patterns_normalizes() -> None:
    text = "# comment\n\n  *.md  \n!README.md\n/abs/path\n./rel//x/\n!  spaced\n"
    assert read_patterns(text) == ["*.md", "!README.md", "abs/path", "rel/x", "!spaced"]


@pytest.mark.parametrize("patterns,path,excluded", [
    (["*.md"], "a.md", True), (["*.md"], "docs/a.md", False), (["**/*.md"], "docs/x/a.md", True),
    (["**/*.md"], "a.md", True), (["docs"], "docs/deep/file", True), (["*.md", "!README.md"], "README.md", False),
    (["!README.md", "*.md"], "README.md", True), (["docs", "!docs/keep"], "docs/keep", False),
    (["docs", "!docs/keep"], "docs/drop", True), (["a/**"], "a/b/c", True), (["a/**"], "a", False),
    (["?.txt"], "ab.txt", False), (["[ab].txt"], "b.txt", True), (["[!ab].txt"], "c.txt", True),
    (["**"], "anything/at/all", True), (["dir/*/x"], "dir/y/x", True), (["dir/*/x"], "dir/y/z/x", False),
    (["a\\*b"], "a*b", True), (["a\\*b"], "axb", False),
])
def test_pattern_matching(patterns, path, excluded) -> None:
    assert PatternMatcher(patterns).matches(path) is excluded


def test_may_match_below() -> None:
    m = PatternMatcher(["docs", "!docs/keep/*.txt"])
    assert m.may_match_below("docs") and not PatternMatcher(["docs"]).may_match_below("docs")


# -- values -----------------------------------------------------------------------------

def test_durations() -> None:
    assert parse_duration("1m30s") == 90 * 10**9
    assert parse_duration("1.5h") == 5400 * 10**9 and parse_duration("250ms") == 250 * 10**6
    for bad in ("5", "5x", ""):
        with pytest.raises(InvalidArgument):
            parse_duration(bad)


def test_ports_and_signals() -> None:
    assert parse_ports(["80", "53/udp", "8000-8001"]) == ["80/tcp", "53/udp", "8000/tcp", "8001/tcp"]
    for bad in ("http", "80/xyz", "9-1", "1:80"):
        with pytest.raises(InvalidArgument):
            parse_ports([bad])
    assert parse_signal("SIGKILL") == "SIGKILL" and parse_signal("9") == "9" and parse_signal("rtmin+3")
    with pytest.raises(InvalidArgument, match="Invalid signal: SIGNOPE"):
        parse_signal("SIGNOPE")
