"""Variable expansion and word splitting of Dockerfile arguments, with the
rules of docker's shell lexer: single quotes are literal, double quotes
expand variables and let the escape character escape only `"`, `$` and
itself, the escape character outside quotes escapes anything, `$NAME`,
`${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`,
`${NAME+word}`, `${NAME:?msg}`, `${NAME?msg}` and the pattern forms
`${NAME#p}`, `##`, `%`, `%%`, `/p/r`, `//p/r`. A `$` not followed by a
name is literal."""

from __future__ import annotations

import re
from typing import Mapping

from ..errdefs import InvalidArgument

_SPECIAL = set("@*#?-$!0")


class ExpansionError(InvalidArgument):
    pass


class _Words:
    """Splits into words at unquoted whitespace (ProcessWords)."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.cur: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word:
                self.words.append("".join(self.cur))
                self.cur = []
                self.in_word = False
            return
        self.add_raw(ch)

    def add_raw(self, s: str) -> None:
        self.cur.append(s)
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def finish(self) -> list[str]:
        if self.in_word:
            self.words.append("".join(self.cur))
        return self.words


class Lexer:
    def __init__(self, escape: str = "\\", raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_unset: bool = False, skip_quotes: bool = False) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset  # keep $UNSET as written (build-time expansion of heredocs)
        self.skip_quotes = skip_quotes  # heredoc content: quotes are ordinary characters

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        return _Scan(self, word, env).process()[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        return _Scan(self, word, env).process()[1]


class _Scan:
    def __init__(self, lex: Lexer, src: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.src = src
        self.pos = 0
        self.env = env

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def process(self) -> tuple[str, list[str]]:
        result, words = self._until("")
        return result, words.finish()

    def _until(self, stop: str) -> tuple[str, _Words]:
        out: list[str] = []
        words = _Words()
        esc = self.lex.escape
        while self.pos < len(self.src):
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(out), words
            if ch == "'" and not self.lex.skip_quotes:
                s = self._single_quote()
                out.append(s)
                words.add_raw(s)
            elif ch == '"' and not self.lex.skip_quotes:
                s = self._double_quote()
                out.append(s)
                words.add_raw(s)
            elif ch == "$":
                s = self._dollar()
                out.append(s)
                words.add_string(s)
            else:
                ch = self.next()
                if ch == esc:
                    if self.lex.raw_escapes:
                        words.add_raw(ch)
                        out.append(ch)
                    ch = self.next()
                    if not ch:
                        break
                    if self.lex.skip_quotes and ch not in ("$", esc):
                        # heredoc content: only $ and the escape character are escapable
                        out.append(esc)
                        words.add_raw(esc)
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words

    def _single_quote(self) -> str:
        self.next()
        out = ["'"] if self.lex.raw_quotes else []
        while True:
            ch = self.next()
            if not ch:
                raise ExpansionError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                break
            out.append(ch)
        if self.lex.raw_quotes:
            out.append("'")
        return "".join(out)

    def _double_quote(self) -> str:
        self.next()
        out = ['"'] if self.lex.raw_quotes else []
        esc = self.lex.escape
        while True:
            ch = self.peek()
            if not ch:
                raise ExpansionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                break
            if ch == "$":
                out.append(self._dollar())
                continue
            ch = self.next()
            if ch == esc:
                if self.lex.raw_escapes:
                    out.append(ch)
                nxt = self.peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", esc):
                    ch = self.next()
            out.append(ch)
        if self.lex.raw_quotes:
            out.append('"')
        return "".join(out)

    def _name(self) -> str:
        start = self.pos
        ch = self.peek()
        if ch.isdigit():
            while self.peek().isdigit():
                self.next()
            return self.src[start:self.pos]
        if ch in _SPECIAL and ch:
            self.next()
            return ch
        while True:
            ch = self.peek()
            if not ch or not (ch.isalnum() or ch == "_"):
                break
            self.next()
        return self.src[start:self.pos]

    def _lookup(self, name: str) -> str | None:
        return self.env.get(name)

    def _dollar(self) -> str:
        self.next()  # $
        if self.peek() != "{":
            name = self._name()
            if not name:
                return "$"
            value = self._lookup(name)
            if value is None:
                return "$" + name if self.lex.skip_unset else ""
            return value
        self.next()  # {
        name = self._name()
        if not name:
            raise ExpansionError(f"bad substitution: {self.src!r}")
        ch = self.peek()
        if not ch:
            raise ExpansionError("unexpected end of statement while looking for matching }")
        value = self._lookup(name)
        if ch == "}":
            self.next()
            if value is None:
                return "${" + name + "}" if self.lex.skip_unset else ""
            return value
        colon = False
        if ch == ":":
            self.next()
            colon = True
            ch = self.peek()
        if ch in ("-", "+", "?"):
            self.next()
            word, _ = self._until("}")
            unset = value is None or (colon and value == "")
            if ch == "-":
                return word if unset else value  # type: ignore[return-value]
            if ch == "+":
                return "" if unset else word
            if unset:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
            return value  # type: ignore[return-value]
        if colon:
            raise ExpansionError(f"unsupported modifier ({ch}) in substitution")
        if ch in ("#", "%"):
            self.next()
            longest = self.peek() == ch
            if longest:
                self.next()
            pattern, _ = self._until("}")
            return _trim(value or "", pattern, prefix=ch == "#", longest=longest)
        if ch == "/":
            self.next()
            all_ = self.peek() == "/"
            if all_:
                self.next()
            pattern = self._raw_until("/}")
            repl = ""
            if self.src[self.pos - 1] == "/":
                repl, _ = self._until("}")
            return _replace(value or "", pattern, repl, all_)
        raise ExpansionError(f"missing ':' in substitution: {self.src!r}")

    def _raw_until(self, stops: str) -> str:
        out = []
        while True:
            ch = self.next()
            if not ch:
                raise ExpansionError("unexpected end of statement while looking for matching }")
            if ch in stops:
                return "".join(out)
            if ch == self.lex.escape and self.peek():
                out.append(ch)
                ch = self.next()
            out.append(ch)


def _glob_regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return "".join(out)


def _trim(value: str, pattern: str, prefix: bool, longest: bool) -> str:
    rx = re.compile(_glob_regex(pattern), re.S)
    cuts = range(len(value), -1, -1) if longest else range(0, len(value) + 1)
    for n in cuts:
        part = value[:n] if prefix else value[len(value) - n:]
        if rx.fullmatch(part):
            return value[n:] if prefix else value[:len(value) - n]
    return value


def _replace(value: str, pattern: str, repl: str, all_: bool) -> str:
    rx = re.compile(_glob_regex(pattern), re.S)  # longest match, as bash replaces
    return rx.sub(lambda m: repl, value, count=0 if all_ else 1)


DEFAULT = Lexer()


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    return (DEFAULT if escape == "\\" else Lexer(escape)).process_word(word, env)


def expand_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    return (DEFAULT if escape == "\\" else Lexer(escape)).process_words(word, env)


def expand_heredoc(content: str, env: Mapping[str, str]) -> str:
    """Build-time expansion of a heredoc whose delimiter is unquoted:
    variables and the \\$ and \\\\ escapes; quotes are plain characters."""
    return Lexer(skip_unset=False, skip_quotes=True).process_word(content, env)
