"""Entry point: global options, then one command, as docker's CLI.

The command table is the single source for dispatch, `dockyard --help`,
management-command help (`dockyard container`), the "Aliases:" section of
each command's help and the bash completion script (commands/completion.py).

Adding a command (other areas do this too):
1. write `def cmd_NAME(argv: list[str], gopts: dict) -> int` in a module
   under cli/commands/ whose first step is `Parser(...).parse_args(argv)`
   (the completion generator captures parsers that way, so nothing may talk
   to the daemon before parsing);
2. add `"NAME": ("module", "cmd_NAME", "One-line description")` to COMMANDS.
   Names with a space ("volume create") exist only under their management
   command; list them in MANAGEMENT too;
3. for aliases under a management command, add them to MANAGEMENT.

Helpers for commands: commands/common.py (client(), daemon errors, filters,
--format output), format.py (tables, sizes, durations), template.py (Go
templates), progress.py (pull/push/build JSON message streams), config.py
(docker's config.json: psFormat, detachKeys, ...; credentials live in
registry/client/dockerconfig.py).

Startup is on every command's path: this module imports nothing heavy, not
even os on the way to `ps` and `version` (about 2 ms; client.base.getenv reads
the environment without it). The `dockyard` executable calls run().
"""

from __future__ import annotations

import sys

from .errors import CLIError, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# name -> (module under cli.commands, function, description). Modules load only
# for the command in use.
COMMANDS: dict[str, tuple[str, ...]] = {
    # containers
    "run": ("run", "cmd_run", "Create and run a new container from an image"),
    "create": ("run", "cmd_create", "Create a new container"),
    "start": ("container", "cmd_start", "Start one or more stopped containers"),
    "stop": ("container", "cmd_stop", "Stop one or more running containers"),
    "restart": ("container", "cmd_restart", "Restart one or more containers"),
    "kill": ("container", "cmd_kill", "Kill one or more running containers"),
    "pause": ("container", "cmd_pause", "Pause all processes within one or more containers"),
    "unpause": ("container", "cmd_unpause", "Unpause all processes within one or more containers"),
    "rm": ("container", "cmd_rm", "Remove one or more containers"),
    "ps": ("ps", "cmd_ps", "List containers"),
    "logs": ("container", "cmd_logs", "Fetch the logs of a container"),
    "wait": ("container", "cmd_wait", "Block until one or more containers stop, then print their exit codes"),
    "top": ("container", "cmd_top", "Display the running processes of a container"),
    "port": ("container", "cmd_port", "List port mappings or a specific mapping for the container"),
    "rename": ("container", "cmd_rename", "Rename a container"),
    "diff": ("container", "cmd_diff", "Inspect changes to files or directories on a container's filesystem"),
    "export": ("container", "cmd_export", "Export a container's filesystem as a tar archive"),
    "commit": ("container", "cmd_commit", "Create a new image from a container's changes"),
    "update": ("update", "cmd_update", "Update configuration of one or more containers"),
    "exec": ("interact", "cmd_exec", "Execute a command in a running container"),
    "attach": ("interact", "cmd_attach", "Attach local standard input, output, and error streams to a running container"),
    "cp": ("cp", "cmd_cp", "Copy files/folders between a container and the local filesystem"),
    "stats": ("stats", "cmd_stats", "Display a live stream of container(s) resource usage statistics"),
    "inspect": ("inspect", "cmd_inspect", "Return low-level information on Dockyard objects"),
    "container inspect": ("inspect", "cmd_container_inspect", "Display detailed information on one or more containers"),
    "container prune": ("container", "cmd_container_prune", "Remove all stopped containers"),
    # images (commands/image.py belongs to the images area)
    "images": ("imagelist", "cmd_images", "List images"),
    "import": ("image", "cmd_import", "Import the contents from a tarball to create a filesystem image"),
    "tag": ("image", "cmd_tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "pull": ("image", "cmd_pull", "Download an image from a registry"),
    "push": ("image", "cmd_push", "Upload an image to a registry"),
    "rmi": ("image", "cmd_rmi", "Remove one or more images"),
    "history": ("image", "cmd_history", "Show the history of an image"),
    "save": ("image", "cmd_save", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "load": ("image", "cmd_load", "Load an image from a tar archive or STDIN"),
    "build": ("build", "cmd_build", "Build an image from a Dockerfile"),
    "builder prune": ("build", "cmd_builder_prune", "Remove build cache"),
    "login": ("image", "cmd_login", "Authenticate to a registry"),
    "logout": ("image", "cmd_logout", "Log out from a registry"),
    "image prune": ("image", "cmd_image_prune", "Remove unused images"),
    "image inspect": ("image", "cmd_image_inspect", "Display detailed information on one or more images"),
    # volumes and networks
    "volume create": ("volume", "cmd_create", "Create a volume"),
    "volume ls": ("volume", "cmd_ls", "List volumes"),
    "volume inspect": ("volume", "cmd_inspect", "Display detailed information on one or more volumes"),
    "volume rm": ("volume", "cmd_rm", "Remove one or more volumes"),
    "volume prune": ("volume", "cmd_prune", "Remove unused local volumes"),
    "network create": ("network", "cmd_create", "Create a network"),
    "network ls": ("network", "cmd_ls", "List networks"),
    "network inspect": ("network", "cmd_inspect", "Display detailed information on one or more networks"),
    "network rm": ("network", "cmd_rm", "Remove one or more networks"),
    "network connect": ("network", "cmd_connect", "Connect a container to a network"),
    "network disconnect": ("network", "cmd_disconnect", "Disconnect a container from a network"),
    "network prune": ("network", "cmd_prune", "Remove all unused networks"),
    # system
    "version": ("version", "cmd_version", "Show the Dockyard version information"),
    "info": ("system", "cmd_info", "Display system-wide information"),
    "events": ("system", "cmd_events", "Get real time events from the server"),
    "system df": ("system", "cmd_df", "Show dockyard disk usage"),
    "system prune": ("system", "cmd_prune", "Remove unused data"),
    "completion": ("completion", "cmd_completion", "Generate the autocompletion script for the specified shell"),
    # contexts (docker's store, shared with the docker CLI)
    "context create": ("context", "cmd_create", "Create a context"),
    "context inspect": ("context", "cmd_inspect", "Display detailed information on one or more contexts"),
    "context ls": ("context", "cmd_ls", "List contexts"),
    "context rm": ("context", "cmd_rm", "Remove one or more contexts"),
    "context show": ("context", "cmd_show", "Print the name of the current context"),
    "context update": ("context", "cmd_update", "Update a context"),
    "context use": ("context", "cmd_use", "Set the current docker context"),
}

# management command -> {subcommand: command in COMMANDS}. The first
# subcommand naming a command is the one listed; the others are aliases.
MANAGEMENT: dict[str, dict[str, str]] = {
    "container": {
        "attach": "attach", "commit": "commit", "cp": "cp", "create": "create", "diff": "diff", "exec": "exec",
        "export": "export", "inspect": "container inspect", "kill": "kill", "logs": "logs", "ls": "ps",
        "list": "ps", "ps": "ps", "pause": "pause", "port": "port", "prune": "container prune",
        "rename": "rename", "restart": "restart", "rm": "rm", "remove": "rm", "run": "run", "start": "start",
        "stats": "stats", "stop": "stop", "top": "top", "unpause": "unpause", "update": "update", "wait": "wait",
    },
    "builder": {"build": "build", "prune": "builder prune"},
    "image": {"build": "build", "history": "history", "import": "import", "inspect": "image inspect", "load": "load",
              "ls": "images", "list": "images", "prune": "image prune", "pull": "pull", "push": "push",
              "rm": "rmi", "remove": "rmi", "save": "save", "tag": "tag"},
    "volume": {"create": "volume create", "inspect": "volume inspect", "ls": "volume ls", "list": "volume ls",
               "prune": "volume prune", "rm": "volume rm", "remove": "volume rm"},
    "network": {"connect": "network connect", "create": "network create", "disconnect": "network disconnect",
                "inspect": "network inspect", "ls": "network ls", "list": "network ls",
                "prune": "network prune", "rm": "network rm", "remove": "network rm"},
    "system": {"df": "system df", "events": "events", "info": "info", "prune": "system prune"},
    "context": {"create": "context create", "inspect": "context inspect", "ls": "context ls",
                "list": "context ls", "rm": "context rm", "remove": "context rm", "show": "context show",
                "update": "context update", "use": "context use"},
}
MANAGEMENT_DESCRIPTIONS = {
    "builder": "Manage builds", "container": "Manage containers", "context": "Manage contexts", "image": "Manage images",
    "network": "Manage networks", "system": "Manage Dockyard", "volume": "Manage volumes",
}
COMMON = ["run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "version", "info"]

# prog ("dockyard ps") -> how the user typed it ("dockyard container ls"), for help and errors.
INVOKED_AS: dict[str, str] = {}
# The global options of the command running (flags.Parser asks the daemon's API
# version with them when a flag needs a newer one).
CURRENT_GOPTS: dict = {}

GLOBAL_OPTIONS = """Global Options:
      --config string      Location of client config files (default "~/.docker")
  -c, --context string     Name of the context to use to connect to the daemon (overrides
                           DOCKER_HOST env var and default context set with "dockyard context use")
  -D, --debug              Enable debug mode
  -H, --host list          Daemon socket to connect to (default: $DOCKYARD_HOST, then $DOCKER_HOST,
                           then unix:///run/dockyard/dockyard.sock)
  -l, --log-level string   Set the logging level ("debug", "info", "warn", "error", "fatal")
                           (default "info")
      --tls                Use TLS; implied by --tlsverify
      --tlscacert string   Trust certs signed only by this CA (default "$DOCKER_CERT_PATH/ca.pem")
      --tlscert string     Path to TLS certificate file (default "$DOCKER_CERT_PATH/cert.pem")
      --tlskey string      Path to TLS key file (default "$DOCKER_CERT_PATH/key.pem")
      --tlsverify          Use TLS and verify the remote (env DOCKER_TLS_VERIFY)
  -v, --version            Print version information and quit
"""

# global flag -> (key in gopts, takes a value)
_GLOBAL_FLAGS = {
    "-H": ("host", True), "--host": ("host", True), "-D": ("debug", False), "--debug": ("debug", False),
    "-l": ("log_level", True), "--log-level": ("log_level", True), "--tls": ("tls", False),
    "--tlsverify": ("tlsverify", False), "--tlscacert": ("tlscacert", True), "--tlscert": ("tlscert", True),
    "--tlskey": ("tlskey", True), "--config": ("config", True), "-c": ("context", True),
    "--context": ("context", True), "-v": ("version", False), "--version": ("version", False),
    "-h": ("help", False), "--help": ("help", False),
}


def describe(name: str) -> str:
    entry = COMMANDS.get(name)
    if entry and len(entry) > 2:
        return entry[2]
    return MANAGEMENT_DESCRIPTIONS.get(name, "")


def aliases_of(name: str) -> list[str]:
    """Every way to type a command, as docker's help lists them."""
    out = [f"dockyard {group} {sub}" for group, subs in MANAGEMENT.items() for sub, target in subs.items()
           if target == name]
    if " " not in name:
        out.append(f"dockyard {name}")
    return out


def top_level_usage() -> str:
    width = 12
    common = [c for c in COMMON if c in COMMANDS]
    lines = ["Usage:  dockyard [OPTIONS] COMMAND", "",
             "A self-sufficient runtime for containers (Docker-compatible)", "", "Common Commands:"]
    lines += [f"  {c.ljust(width)}{describe(c)}" for c in common]
    lines += ["", "Management Commands:"]
    lines += [f"  {g.ljust(width)}{MANAGEMENT_DESCRIPTIONS.get(g, '')}" for g in sorted(MANAGEMENT)]
    lines += ["", "Commands:"]
    lines += [f"  {c.ljust(width)}{describe(c)}" for c in sorted(COMMANDS)
              if " " not in c and c not in common]
    lines += ["", GLOBAL_OPTIONS.rstrip("\n"), "",
              "Run 'dockyard COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


def management_usage(group: str) -> str:
    listed: dict[str, str] = {}
    for sub, target in MANAGEMENT[group].items():
        if target not in listed.values():
            listed[sub] = target
    lines = [f"Usage:  dockyard {group} COMMAND", "", MANAGEMENT_DESCRIPTIONS.get(group, ""), "", "Commands:"]
    lines += [f"  {s.ljust(12)}{describe(t)}" for s, t in sorted(listed.items())]
    lines += ["", f"Run 'dockyard {group} COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


def split_global(argv: list[str]) -> tuple[dict, list[str]]:
    """Global options (before the command), as a dict, and the rest."""
    opts: dict = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-") or a == "-":
            break
        if a == "--":
            i += 1
            break
        name, eq, val = a.partition("=") if a.startswith("--") else (a[:2], "=" if len(a) > 2 else "", a[2:].lstrip("="))
        spec = _GLOBAL_FLAGS.get(name)
        if spec is None:
            raise CLIError(f"unknown flag: {name}\n\nUsage:  dockyard [OPTIONS] COMMAND [ARG...]\n\n"
                           "Run 'dockyard --help' for more information", 125)
        key, takes = spec
        i += 1
        if takes:
            if not eq:
                if i >= len(argv):
                    raise CLIError(f"flag needs an argument: {name}\n\nUsage:  dockyard [OPTIONS] COMMAND [ARG...]\n\n"
                                   "Run 'dockyard --help' for more information", 125)
                val = argv[i]
                i += 1
            if key == "host" and "host" in opts:
                raise CLIError("Specify only one -H", 125)
            opts[key] = val
        else:
            opts[key] = val not in ("false", "0", "f", "False") if eq else True
    return opts, argv[i:]


def resolve(name: str, args: list[str]) -> tuple[str, list[str]]:
    """The COMMANDS entry for what was typed: management commands map their
    subcommand; the invoked form is remembered for help and errors."""
    if name in MANAGEMENT:
        if not args or args[0] in ("-h", "--help", "help"):
            sys.stdout.write(management_usage(name))
            raise StatusError(0)
        sub = MANAGEMENT[name].get(args[0])
        if sub is None:
            if args[0].startswith("-"):
                raise CLIError(f"unknown flag: {args[0]}\n\nUsage:  dockyard {name} COMMAND\n\n"
                               f"Run 'dockyard {name} --help' for more information", 125)
            raise CLIError(f"dockyard: unknown command: dockyard {name} {args[0]}\n\n"
                           f"Usage:  dockyard {name}\n\nRun 'dockyard {name} --help' for more information", 1)
        INVOKED_AS[f"dockyard {sub}"] = f"dockyard {name} {args[0]}"
        return sub, args[1:]
    if name not in COMMANDS or " " in name:
        raise CLIError(f"dockyard: unknown command: dockyard {name}\n\nRun 'dockyard --help' for more information", 1)
    return name, args


def run_command(name: str, args: list[str], gopts: dict) -> int:
    entry = COMMANDS[name]
    # __import__ rather than importlib: importlib's package imports warnings, and this is every command's path
    __import__(f"{__package__}.commands.{entry[0]}")
    module = sys.modules[f"{__package__}.commands.{entry[0]}"]
    return getattr(module, entry[1])(args, gopts) or 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    gopts: dict = {}
    try:
        gopts, rest = split_global(argv)
        if gopts.get("version"):
            from .. import __version__
            sys.stdout.write(f"Dockyard version {__version__}, API 1.45\n")
            return 0
        if gopts.get("help") or not rest or rest[0] == "help" and len(rest) == 1:
            sys.stdout.write(top_level_usage())
            return 0
        if rest[0] == "help":  # `dockyard help ps` as `dockyard ps --help`
            rest = rest[1:] + ["--help"]
        if gopts.get("context") and gopts.get("host"):
            raise CLIError("conflicting options: cannot specify both --host and --context", 1)
        if gopts.get("debug") or gopts.get("config"):
            import os
            if gopts.get("debug"):
                os.environ["DOCKYARD_DEBUG"] = "1"
            if gopts.get("config"):  # every reader of config.json (credentials too) looks here
                os.environ["DOCKER_CONFIG"] = gopts["config"]
        name, args = resolve(rest[0], rest[1:])
        CURRENT_GOPTS.clear()
        CURRENT_GOPTS.update(gopts)
        return run_command(name, args, gopts)
    except StatusError as e:
        return e.status
    except CLIError as e:
        msg = str(e)
        if msg:
            sys.stderr.write(msg + "\n")
        return e.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except Exception as e:
        from .. import errdefs
        if isinstance(e, errdefs.EngineError):  # a command let a daemon error through
            sys.stderr.write(f"Error response from daemon: {e.message}\n")
            return 1
        from ..registry.client.dockerconfig import HelperError
        if isinstance(e, HelperError):  # a credential helper failed: docker prints its words as they are
            sys.stderr.write(f"{e}\n")
            return 1
        if gopts.get("debug"):
            raise
        sys.stderr.write(f"dockyard: internal error: {type(e).__name__}: {e} (run with -D for a traceback)\n")
        return 1


def run() -> None:
    """The `dockyard` executable (bin/dockyard, the fast launcher): main(),
    then exit. When nothing waits for the interpreter's teardown, skip it
    (os._exit, as dockyard-runtime does): it only frees what the kernel frees
    anyway, and costs 1-2 ms, a tenth of what `docker ps` takes in all."""
    import gc
    # The collector is off while the command loads its modules, until client()
    # (a command's first request) turns it back on: imports allocate thousands
    # of objects and free almost none, so its passes would be wasted work.
    gc.disable()
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
    except (OSError, ValueError):
        code = code or 1
    if _teardown_needed():
        sys.exit(code)
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    import posix
    posix._exit(code)


def _teardown_needed() -> bool:
    """Whether exiting must go through the interpreter's teardown: atexit
    callbacks (logging, weakref.finalize, tempfile's directories), threads that
    the interpreter joins at exit, temporary files deleted by their finalizer.
    Files a command writes are closed by the command itself. (Callbacks are
    registered through the atexit module: none without it imported.)"""
    atexit = sys.modules.get("atexit")
    return (atexit is not None and atexit._ncallbacks() > 0) or "threading" in sys.modules \
        or "tempfile" in sys.modules


def _quiet_stdout() -> None:
    # Python flushes stdout at exit; after EPIPE that would print a second error.
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def context_name(gopts: dict) -> str:
    """The context in use, by docker's rules: --context, else "default" when
    -H, DOCKYARD_HOST or DOCKER_HOST names a daemon, else DOCKER_CONTEXT,
    else config.json's currentContext, else "default". (No file beyond
    config.json is read, and nothing imported, until a context is in use.)"""
    from ..client.base import getenv
    if gopts.get("context"):
        return gopts["context"]
    if gopts.get("host") or getenv("DOCKYARD_HOST") or getenv("DOCKER_HOST"):
        return "default"
    from .config import load
    return getenv("DOCKER_CONTEXT") or load(gopts).get("currentContext") or "default"


def client(gopts: dict):  # noqa: ANN201 - returns client.APIClient, imported lazily
    """The API client for the global options: -H, else --context, else
    DOCKYARD_HOST, else DOCKER_HOST, else DOCKER_CONTEXT or the current
    context, else the default socket (context_name); TLS for tcp:// as
    docker's CLI decides it (--tls, --tlsverify, DOCKER_TLS_VERIFY,
    DOCKER_TLS, DOCKER_CERT_PATH), or from the context's TLS files."""
    from ..client import APIClient
    from ..client.base import default_host, getenv
    import gc
    gc.enable()  # start-up is over (see run())
    host = gopts.get("host") or default_host()
    verify = bool(gopts.get("tlsverify")) or bool(getenv("DOCKER_TLS_VERIFY"))
    use_tls = verify or bool(gopts.get("tls")) or bool(getenv("DOCKER_TLS"))
    ctx = context_name(gopts)
    if ctx != "default":
        from . import contextstore
        try:
            meta = contextstore.load(gopts, ctx)
        except CLIError as e:
            raise CLIError(f"Failed to initialize: unable to resolve docker endpoint: {e}", 1) from None
        ep = contextstore.docker_endpoint(meta)
        host = ep.get("Host") or default_host()
        files = contextstore.tls_files(gopts, ctx)
        if files or ep.get("SkipTLSVerify"):
            # The context's own TLS settings replace the flags' and the environment's.
            use_tls, verify = True, not ep.get("SkipTLSVerify")
            gopts = {**gopts, "tlscacert": files.get("ca.pem"), "tlscert": files.get("cert.pem"),
                     "tlskey": files.get("key.pem")}
    if host.startswith("tcp://") and host.count(":") == 1:
        host += ":2376" if use_tls else ":2375"
    tls = None
    if use_tls and not host.startswith("unix://") and not host.startswith("/"):
        import os
        from ..client.tls import context
        try:
            for key in ("tlscacert", "tlscert", "tlskey"):
                path = gopts.get(key)
                if path and not os.path.exists(path):
                    raise CLIError(f"could not read {key[3:].upper() if key == 'tlscacert' else key[3:]} file "
                                   f"{path}: open {path}: no such file or directory", 1)
            tls = context(verify, gopts.get("tlscacert"), gopts.get("tlscert"), gopts.get("tlskey"))
        except OSError as e:
            raise CLIError(f"could not load TLS configuration: {e}", 1) from None
    try:
        api = APIClient(host, tls)
    except Exception as e:  # unparsable host
        raise CLIError(str(e), 1) from None
    # Most answers are JSON: the decoder loads while the daemon computes the first one.
    load_while_waiting(api)
    return api


def load_while_waiting(api: Any, *modules: str) -> None:
    """Load the JSON decoder and `modules` (a command's output) while the
    daemon computes the answer to api's next request (Transport.while_waiting)."""
    def load() -> None:
        for name in ("dockyard.client.jsonfast", *modules):
            __import__(name)
    api.transport.while_waiting = load


if __name__ == "__main__":
    run()
