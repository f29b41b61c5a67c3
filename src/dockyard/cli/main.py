"""Entry point: global options, then one subcommand, as docker's CLI."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from .errors import CLIError, StatusError

# name -> (module, function name); modules load only for the command in use.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("container", "cmd_run"), "create": ("container", "cmd_create"),
    "start": ("container", "cmd_start"), "stop": ("container", "cmd_stop"),
    "kill": ("container", "cmd_kill"), "rm": ("container", "cmd_rm"), "ps": ("container", "cmd_ps"),
    "logs": ("container", "cmd_logs"), "wait": ("container", "cmd_wait"),
    "inspect": ("container", "cmd_inspect"),
    "images": ("image", "cmd_images"), "import": ("image", "cmd_import"), "tag": ("image", "cmd_tag"),
    "pull": ("image", "cmd_pull"), "push": ("image", "cmd_push"), "rmi": ("image", "cmd_rmi"),
    "history": ("image", "cmd_history"), "save": ("image", "cmd_save"), "load": ("image", "cmd_load"),
    "login": ("image", "cmd_login"), "logout": ("image", "cmd_logout"),
    "image-prune": ("image", "cmd_image_prune"), "image-inspect": ("image", "cmd_image_inspect"),
    "version": ("system", "cmd_version"), "info": ("system", "cmd_info"),
}
MANAGEMENT = {
    "container": {"ls": "ps", "list": "ps", "ps": "ps", "run": "run", "create": "create", "start": "start",
                  "stop": "stop", "kill": "kill", "rm": "rm", "logs": "logs", "wait": "wait",
                  "inspect": "inspect"},
    "image": {"ls": "images", "list": "images", "import": "import", "tag": "tag", "inspect": "image-inspect",
              "pull": "pull", "push": "push", "rm": "rmi", "remove": "rmi", "history": "history",
              "save": "save", "load": "load", "prune": "image-prune"},
    "system": {"info": "info"},
}

USAGE = """
Usage:  dockyard [OPTIONS] COMMAND

A self-sufficient runtime for containers (Docker-compatible)

Common Commands:
  run         Create and run a new container from an image
  ps          List containers
  images      List images
  version     Show the Dockyard version information
  info        Display system-wide information

Management Commands:
  container   Manage containers
  image       Manage images
  system      Manage Dockyard

Commands:
  create      Create a new container
  import      Import the contents from a tarball to create a filesystem image
  inspect     Return low-level information on Dockyard objects
  kill        Kill one or more running containers
  logs        Fetch the logs of a container
  rm          Remove one or more containers
  start       Start one or more stopped containers
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  wait        Block until one or more containers stop, then print their exit codes

Global Options:
  -H, --host string        Daemon socket to connect to (env DOCKYARD_HOST, then DOCKER_HOST)
  -D, --debug              Enable debug mode
  -v, --version            Print version information and quit

Run 'dockyard COMMAND --help' for more information on a command.
"""


def _split_global(argv: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    opts: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-H", "--host"):
            if i + 1 >= len(argv):
                raise CLIError(f"flag needs an argument: {a}", 125)
            opts["host"] = argv[i + 1]
            i += 2
        elif a.startswith("--host="):
            opts["host"] = a.split("=", 1)[1]
            i += 1
        elif a in ("-D", "--debug"):
            opts["debug"] = True
            i += 1
        elif a in ("-v", "--version"):
            opts["version"] = True
            i += 1
        elif a in ("-h", "--help"):
            opts["help"] = True
            i += 1
        elif a.startswith("-"):
            raise CLIError(f"unknown flag: {a}\nSee 'dockyard --help'.", 125)
        else:
            break
    return opts, argv[i:]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        gopts, rest = _split_global(argv)
        if gopts.get("version"):
            from .. import __version__
            print(f"Dockyard version {__version__}")
            return 0
        if not rest or gopts.get("help"):
            sys.stdout.write(USAGE)
            return 0
        name, args = rest[0], rest[1:]
        if name in MANAGEMENT:
            if not args or args[0] in ("-h", "--help"):
                print(f"\nUsage:  dockyard {name} COMMAND\n\nCommands:\n" +
                      "\n".join(f"  {k}" for k in MANAGEMENT[name]))
                return 0
            sub = MANAGEMENT[name].get(args[0])
            if sub is None:
                raise CLIError(f"dockyard: '{name} {args[0]}' is not a dockyard command.\n"
                               f"See 'dockyard {name} --help'", 1)
            name, args = sub, args[1:]
        if name not in COMMANDS:
            raise CLIError(f"dockyard: '{name}' is not a dockyard command.\nSee 'dockyard --help'", 1)
        module_name, func = COMMANDS[name]
        import importlib
        module = importlib.import_module(f".commands.{module_name}", __package__)
        handler: Callable[[list[str], dict], int] = getattr(module, func)
        return handler(args, gopts) or 0
    except StatusError as e:
        return e.status
    except CLIError as e:
        sys.stderr.write(str(e) + "\n")
        return e.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def client(gopts: dict):
    from ..client import APIClient
    return APIClient(gopts.get("host") or None)  # type: ignore[arg-type]


class Parser(argparse.ArgumentParser):
    """argparse with docker's usage errors (exit 125, 'See ... --help')."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIError(f"dockyard {self.prog.split()[-1]}: {message}\nSee 'dockyard {self.prog.split()[-1]} --help'.", 125)


if __name__ == "__main__":
    sys.exit(main())
