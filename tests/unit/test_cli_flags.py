"""pflag's parsing rules and docker's usage errors, help and exit codes."""

from __future__ import annotations

import pytest

from dockyard.cli import main
from dockyard.cli.errors import CLIError, StatusError
from dockyard.cli.flags import REMAINDER, Parser


def run_parser() -> Parser:
    p = Parser(prog="dockyard run", usage="dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]", add_help=False)
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-p", "--publish", action="append", default=[])
    p.add_argument("--pids-limit", type=int, default=0)
    p.add_argument("--rm", action="store_true")
    p.add_argument("--sig-proxy", action="store_true", default=True)
    p.add_argument("--name", default="")
    p.add_argument("--help", action="help")
    p.add_argument("image")
    p.add_argument("command", nargs=REMAINDER)
    return p


def test_grouped_short_flags_and_attached_values() -> None:
    a = run_parser().parse_args(["-itd", "-eA=1", "-e", "B=2", "-p8080:80", "busybox", "sh"])
    assert (a.interactive, a.tty, a.detach) == (True, True, True)
    assert a.env == ["A=1", "B=2"] and a.publish == ["8080:80"]
    assert a.image == "busybox" and a.command == ["sh"]


def test_flags_after_image_belong_to_the_command() -> None:
    a = run_parser().parse_args(["--rm", "busybox", "ls", "-la", "--name", "x"])
    assert a.rm and a.name == "" and a.command == ["ls", "-la", "--name", "x"]


def test_value_may_start_with_dash_and_bool_takes_equals() -> None:
    a = run_parser().parse_args(["--pids-limit", "-1", "--sig-proxy=false", "--name=web", "img"])
    assert a.pids_limit == -1 and a.sig_proxy is False and a.name == "web"


def test_flags_interspersed_for_other_commands() -> None:
    p = Parser(prog="dockyard rm", usage="dockyard rm [OPTIONS] CONTAINER [CONTAINER...]")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(["a", "-f", "b"])
    assert a.force and a.containers == ["a", "b"]
    a = p.parse_args(["--", "-weird"])
    assert a.containers == ["-weird"]


@pytest.mark.parametrize("argv,message,status", [
    (["--nope", "img"], "unknown flag: --nope", 125),
    (["-x", "img"], "unknown shorthand flag: 'x' in -x", 125),
    (["-e"], "flag needs an argument: 'e' in -e", 125),
    (["--name"], "flag needs an argument: --name", 125),
    (["--pids-limit", "abc", "img"], 'invalid argument "abc" for "--pids-limit" flag: strconv.ParseInt', 125),
    (["--rm=maybe", "img"], 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool', 125),
    ([], "dockyard: 'dockyard run' requires at least 1 argument", 1),
])
def test_usage_errors(argv: list[str], message: str, status: int) -> None:
    with pytest.raises(CLIError) as e:
        run_parser().parse_args(argv)
    assert str(e.value).startswith(message)
    assert "Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]" in str(e.value)
    assert e.value.status == status


def test_exact_argument_count_message() -> None:
    p = Parser(prog="dockyard rename", usage="dockyard rename CONTAINER NEW_NAME")
    p.add_argument("container")
    p.add_argument("new_name")
    with pytest.raises(CLIError) as e:
        p.parse_args(["a"])
    assert str(e.value).startswith("dockyard: 'dockyard rename' requires 2 arguments")
    with pytest.raises(CLIError) as e:
        p.parse_args(["a", "b", "c"])
    assert "requires 2 arguments" in str(e.value)


def test_help_reads_like_docker(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["ps", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage:  dockyard ps [OPTIONS]\n\nList containers\n\nAliases:\n"
                          "  dockyard container ls, dockyard container list, dockyard container ps, dockyard ps\n\n"
                          "Options:\n  -a, --all             Show all containers (default shows just running)\n")
    assert "  -n, --last int        Show n last created containers (includes all states)" in out
    assert "(default -1)" in out
    # a help text given as a function (format.py's, loaded only for --help)
    assert "      --format string   Format output using a custom template:\n" in out
    # invoked through the management command, help names that form
    assert main.main(["container", "ls", "-h"]) == 0
    assert capsys.readouterr().out.startswith("Usage:  dockyard container ls [OPTIONS]\n")


def test_run_help_has_no_short_h_but_hostname(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "  -h, --hostname string" in out and "      --help                             Print usage" in out
    assert "  -p, --publish list" in out and '--restart string' in out and '(default "no")' in out


def test_top_level_and_management_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main([]) == 0
    out = capsys.readouterr().out
    for word in ("Common Commands:", "Management Commands:", "Global Options:", "container   Manage containers"):
        assert word in out
    for name in main.COMMANDS:
        if " " not in name:
            assert f"  {name.ljust(12)}" in out, name
    assert main.main(["volume"]) == 0
    out = capsys.readouterr().out
    assert "Usage:  dockyard volume COMMAND" in out and "  ls          List volumes" in out
    assert "list" not in out.split("Commands:")[1].split()  # aliases are not listed twice


def test_unknown_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["frobnicate"]) == 1
    assert capsys.readouterr().err.startswith("dockyard: unknown command: dockyard frobnicate\n")
    assert main.main(["container", "frob"]) == 1
    assert "unknown command: dockyard container frob" in capsys.readouterr().err
    assert main.main(["--bogus", "ps"]) == 125
    assert capsys.readouterr().err.startswith("unknown flag: --bogus")


def test_global_options() -> None:
    g, rest = main.split_global(["-H", "tcp://1.2.3.4:2376", "--tlsverify", "-D", "--config=/x", "ps", "-a"])
    assert g == {"host": "tcp://1.2.3.4:2376", "tlsverify": True, "debug": True, "config": "/x"}
    assert rest == ["ps", "-a"]
    g, rest = main.split_global(["-Hunix:///s", "ps"])
    assert g["host"] == "unix:///s"
    with pytest.raises(CLIError):
        main.split_global(["-H", "a", "-H", "b", "ps"])


def test_aliases_resolve_to_commands() -> None:
    assert main.resolve("container", ["ls", "-a"]) == ("ps", ["-a"])
    assert main.resolve("image", ["ls"]) == ("images", [])
    assert main.resolve("volume", ["remove", "v"]) == ("volume rm", ["v"])
    assert main.resolve("system", ["events"]) == ("events", [])
    for group, subs in main.MANAGEMENT.items():
        for sub, target in subs.items():
            assert target in main.COMMANDS, f"{group} {sub} -> {target}"
    with pytest.raises(StatusError):
        main.resolve("container", ["--help"])


def test_optional_value_flags_and_hidden_ones() -> None:
    p = Parser(prog="dockyard history", usage="dockyard history [OPTIONS] IMAGE")
    p.add_argument("-H", "--human", default="true", nargs="?", const="true", help="human sizes")
    p.add_argument("--secret", action="store_true", help="==SUPPRESS==")
    p.add_argument("image")
    assert p.parse_args(["img"]).human == "true"
    assert p.parse_args(["--human=false", "img"]).human == "false"
    assert p.parse_args(["-H", "img"]).human == "true" and p.parse_args(["-H", "img"]).image == "img"
    assert p.parse_args(["-H=false", "img"]).human == "false"
    assert p.parse_args(["--secret", "img"]).secret is True
    assert "--secret" not in p.format_help() and "-H, --human string" in p.format_help()
