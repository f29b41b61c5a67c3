"""The bash completion script covers every command and completes flags."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dockyard.cli import main
from dockyard.cli.commands.completion import bash_script, capture_parser


def test_every_command_has_a_parser_and_completion() -> None:
    script = bash_script()
    for name in main.COMMANDS:
        parser = capture_parser(name)
        assert parser is not None, f"{name}: its parser could not be captured (does it act before parsing?)"
        var = "_dockyard_" + "".join(c if c.isalnum() else "_" for c in name) + "_flags"
        assert f'{var}="' in script, name
        for o in parser.options:
            if o.long and not o.hidden:
                assert f"--{o.long}" in script.split(f'{var}="')[1].split('"')[0], f"{name} --{o.long}"
    for group in main.MANAGEMENT:
        assert group in script.split('_dockyard_commands="')[1].split('"')[0]


def complete(words: list[str]) -> list[str]:
    script = bash_script()
    line = " ".join(f"'{w}'" for w in words)
    prog = (f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _dockyard; "
            'printf "%s\\n" "${COMPREPLY[@]}"')
    res = subprocess.run([shutil.which("bash") or "bash", "-c", prog], capture_output=True, text=True, timeout=30,
                         env={"PATH": "/nonexistent"})  # no dockyard on PATH: daemon lookups stay empty
    assert res.returncode == 0, res.stderr
    return [w for w in res.stdout.splitlines() if w]


@pytest.mark.skipif(not shutil.which("bash"), reason="bash is not installed")
def test_bash_completes_commands_subcommands_and_flags() -> None:
    assert "ps" in complete(["dockyard", "p"]) and "pause" in complete(["dockyard", "p"])
    assert "container" in complete(["dockyard", "-H", "unix:///x", "con"])
    assert complete(["dockyard", "volume", "l"]) == ["list", "ls"]
    assert complete(["dockyard", "run", "--res"]) == ["--restart"]
    assert set(complete(["dockyard", "container", "ls", "--"])) >= {"--all", "--format", "--no-trunc", "--quiet"}
    assert complete(["dockyard", "--tl"]) == ["--tls", "--tlscacert", "--tlscert", "--tlskey", "--tlsverify"]


def test_completion_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["completion", "bash"]) == 0
    assert "complete -F _dockyard dockyard" in capsys.readouterr().out
    assert main.main(["completion", "zsh"]) == 1
    assert 'invalid argument "zsh": must be one of: bash' in capsys.readouterr().err
