"""The fast launchers (dockyard.launcher) that tools/setup.sh installs over
pip's scripts, and what the CLI imports and does on its way to `ps` and
`version`."""

import os
import subprocess
import sys

import pytest

from _support.fakeapi import FakeAPI, Reply
from dockyard import launcher

BIN = os.path.dirname(sys.executable)
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}


@pytest.mark.parametrize("name", sorted(launcher.LAUNCHERS))
def test_setup_installed_the_fast_launchers(name: str) -> None:
    """After tools/setup.sh the venv's executables are the launchers, with
    the paths as they are now (a moved tree would need setup again)."""
    path = os.path.join(BIN, name)
    assert launcher.is_fast_launcher(path), f"{path} is not the fast launcher: run tools/setup.sh"
    with open(path) as f:
        text = f.read()
    python = text.split("\n", 1)[0][2:].split()[0]
    assert os.path.realpath(python) == os.path.realpath(launcher.launcher_python())
    assert text == launcher.script_text(name, python=python)
    assert os.access(path, os.X_OK)


def test_launcher_starts_without_site() -> None:
    """The launcher's own lines, run as its shebang says, import the entry
    point with neither site nor os loaded."""
    text = launcher.script_text("dockyard")
    first, body = text.split("\n", 1)
    assert first == f"#!{sys.executable} -IS"
    probe = body.replace("sys.exit(run())", "print(sorted(m for m in ('site', 'os') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-IS", "-c", probe], capture_output=True, text=True, env=CLEAN_ENV)
    assert out.returncode == 0 and out.stdout == "[]\n", out.stderr


def test_launchers_run_their_programs() -> None:
    runs = {"dockyard": ["--version"], "dockyard-runtime": ["--version"], "dockyard-shim": ["--help"]}
    for name, args in runs.items():
        out = subprocess.run([os.path.join(BIN, name), *args], capture_output=True, text=True, env=CLEAN_ENV)
        assert out.returncode == 0 and out.stdout, (name, out.stderr)
    # the proxy refuses an empty command line (after importing everything it needs)
    out = subprocess.run([os.path.join(BIN, "dockyard-proxy")], capture_output=True, text=True, env=CLEAN_ENV)
    assert out.returncode == 1 and "usage: dockyard-proxy" in out.stderr


def test_fallback_when_the_recorded_paths_are_wrong(tmp_path) -> None:
    """With -IS and a bogus path nothing could import dockyard: it still
    runs, so the launcher went through site."""
    path = tmp_path / "dockyard"
    path.write_text(launcher.script_text("dockyard", paths=[str(tmp_path / "moved")]))
    path.chmod(0o755)
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True, env=CLEAN_ENV)
    assert out.returncode == 0 and out.stdout.startswith("Dockyard version"), out.stderr
    # and without the fallback it would not have
    body = launcher.script_text("dockyard", paths=[str(tmp_path / "moved")]).split("\n", 1)[1]
    no_fallback = body.replace("if not sys.flags.no_site:", "if True:")
    assert no_fallback != body
    out = subprocess.run([sys.executable, "-IS", "-c", no_fallback, "--version"], capture_output=True, text=True,
                         env=CLEAN_ENV)
    assert out.returncode != 0 and "ModuleNotFoundError" in out.stderr


def test_launcher_python_is_the_systems_build_when_it_can_run_our_code(tmp_path, monkeypatch) -> None:
    """The system's own build of this Python version where it has what the
    programs need (same bytecode, the extension modules), else the venv's;
    DOCKYARD_LAUNCHER_PYTHON overrides, and a candidate that fails the probe
    is never taken."""
    monkeypatch.delenv("DOCKYARD_LAUNCHER_PYTHON", raising=False)
    system = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    usable = os.access(system, os.X_OK) and launcher._probe(system) == launcher._probe(sys.executable) != ""
    assert launcher.launcher_python() == (system if usable and os.path.realpath(system) != os.path.realpath(
        sys.executable) else launcher.venv_python())
    monkeypatch.setenv("DOCKYARD_LAUNCHER_PYTHON", "venv")
    assert launcher.launcher_python() == launcher.venv_python()
    monkeypatch.setenv("DOCKYARD_LAUNCHER_PYTHON", str(tmp_path / "missing"))
    assert launcher.launcher_python() == launcher.venv_python()
    other = tmp_path / "python-other"  # runs, but another version: refused
    other.write_text("#!/bin/sh\necho cpython-312 cb0d0d0a '(3, 12)'\n")
    other.chmod(0o755)
    monkeypatch.setenv("DOCKYARD_LAUNCHER_PYTHON", str(other))
    assert launcher.launcher_python() == launcher.venv_python()
    same = tmp_path / "python-same"  # another interpreter of the same build: taken
    same.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    same.chmod(0o755)
    monkeypatch.setenv("DOCKYARD_LAUNCHER_PYTHON", str(same))
    assert launcher.launcher_python() == str(same)


def test_install_is_atomic_and_idempotent(tmp_path) -> None:
    paths = launcher.install(str(tmp_path), ["dockyard", "dockyard-shim"])
    assert sorted(os.listdir(tmp_path)) == ["dockyard", "dockyard-shim"]
    inodes = [os.stat(p).st_ino for p in paths]
    assert launcher.install(str(tmp_path), ["dockyard", "dockyard-shim"]) == paths
    assert [os.stat(p).st_ino for p in paths] == inodes  # unchanged files are left alone
    assert all(launcher.is_fast_launcher(p) for p in paths)
    assert not launcher.is_fast_launcher(os.path.join(BIN, "pytest"))


def test_daemon_starts_the_shim_launcher_without_site(tmp_path) -> None:
    """core.tasks.fast_argv turns our shim (pip's script or the launcher)
    into `python -I -S -c ...`, which keeps the spare shim in use."""
    from dockyard.core.tasks import fast_argv
    path = tmp_path / "dockyard-shim"
    path.write_text(launcher.script_text("dockyard-shim"))
    argv = fast_argv(str(path), "dockyard.shim.main")
    assert argv[:4] == [sys.executable, "-I", "-S", "-c"]


# -- the CLI's start-up path ------------------------------------------------------------

# Modules that `ps`, `version` and the other listings must not load: each
# costs milliseconds at every command (os: _collections_abc; re and json: re's
# compiler and enum; typing; socket: enum and selectors), or would keep run()
# from skipping the interpreter's teardown (threading, tempfile).
HEAVY = ("os", "re", "json", "typing", "enum", "socket", "selectors", "threading", "tempfile", "argparse",
         "urllib", "platform", "importlib", "dataclasses", "subprocess", "locale", "datetime", "calendar",
         "struct", "collections", "functools")

CONTAINER = {"Id": "c" * 64, "Names": ["/web"], "Image": "busybox", "Command": "sleep 1", "Created": 1700000000,
             "State": "running", "Status": "Up 2 minutes", "Ports": [{"PrivatePort": 80, "Type": "tcp"}],
             "Labels": {}, "Mounts": []}
VERSION = {"Version": "0.1.0", "ApiVersion": "1.45", "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64",
           "Components": [{"Name": "Engine", "Version": "0.1.0"}]}


@pytest.fixture
def api(tmp_path) -> FakeAPI:
    fake = FakeAPI()
    fake.on("GET", "/containers/json", Reply(200, [CONTAINER]))
    fake.on("GET", "/version", Reply(200, VERSION))
    fake.on("GET", "/images/json", Reply(200, [{"Id": "sha256:" + "b" * 64, "RepoTags": ["busybox:latest"],
                                                 "RepoDigests": [], "Created": 1700000000, "Size": 4261550,
                                                 "Containers": -1, "Labels": None}]))
    fake.on("GET", "/volumes", Reply(200, {"Volumes": [{"Name": "data", "Driver": "local"}], "Warnings": []}))
    fake.on("GET", "/networks", Reply(200, [{"Name": "bridge", "Id": "d" * 64, "Driver": "bridge",
                                             "Scope": "local"}]))
    yield fake
    fake.close()


@pytest.mark.parametrize("command, shows", [(["ps", "-a"], "web"), (["version"], "Server:"),
                                            (["images"], "busybox"), (["volume", "ls"], "data"),
                                            (["network", "ls"], "bridge")])
def test_cli_hot_path_imports(api: FakeAPI, tmp_path, command: list[str], shows: str) -> None:
    probe = (launcher.script_text("dockyard").split("\n", 1)[1].replace("sys.exit(run())", "")
             + "from dockyard.cli.main import main\n"
             f"code = main({command!r})\n"
             f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n")
    env = {**CLEAN_ENV, "DOCKYARD_HOST": api.host, "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-IS", "-c", probe], capture_output=True, text=True, env=env)
    assert out.stderr.splitlines()[-1] == "0 []", out.stderr
    assert shows in out.stdout


@pytest.mark.parametrize("command, later", [
    (["ps"], ["dockyard.cli.commands.containerview", "dockyard.cli.format", "dockyard.client.jsonfast"]),
    (["images"], ["dockyard.cli.commands.imageview", "dockyard.cli.format", "dockyard.client.jsonfast"]),
    (["version"], ["dockyard.client.jsonfast"]),
])
def test_cli_loads_what_prints_the_answer_while_the_daemon_computes_it(api: FakeAPI, tmp_path, command: list[str],
                                                                        later: list[str]) -> None:
    """The modules that decode and print the answer are loaded after the
    request is sent and before its response is read (Transport.while_waiting),
    so that their loading overlaps with the daemon's work."""
    probe = (launcher.script_text("dockyard").split("\n", 1)[1].replace("sys.exit(run())", "")
             + "from dockyard.client import transport\n"
             "seen = {}\n"
             "connect, read_head = transport.Transport.connect, transport.Transport._read_head\n"
             "def at(name, fn):\n"
             "    def wrapped(*a):\n"
             f"        seen.setdefault(name, [m for m in {later!r} if m in sys.modules])\n"
             "        return fn(*a)\n"
             "    return wrapped\n"
             "transport.Transport.connect = at('connect', connect)\n"
             "transport.Transport._read_head = staticmethod(at('read', read_head))\n"
             "from dockyard.cli.main import main\n"
             f"code = main({command!r})\n"
             "print(code, seen, file=sys.stderr)\n")
    env = {**CLEAN_ENV, "DOCKYARD_HOST": api.host, "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-IS", "-c", probe], capture_output=True, text=True, env=env)
    assert out.stderr.splitlines()[-1] == f"0 {{'connect': [], 'read': {later!r}}}", out.stderr


def test_cli_reads_the_environment_as_os_would(api: FakeAPI, tmp_path) -> None:
    """DOCKYARD_HOST, DOCKER_CONFIG (psFormat) and HOME without os."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text('{"psFormat": "{{.Names}}|{{.Status}}"}')
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text('{"psFormat": "home {{.Names}}"}')
    dockyard = os.path.join(BIN, "dockyard")
    env = {**CLEAN_ENV, "DOCKYARD_HOST": api.host, "HOME": str(tmp_path)}
    out = subprocess.run([dockyard, "ps"], capture_output=True, text=True, env={**env, "DOCKER_CONFIG": str(cfg)})
    assert (out.returncode, out.stdout) == (0, "web|Up 2 minutes\n"), out.stderr
    out = subprocess.run([dockyard, "ps"], capture_output=True, text=True, env=env)
    assert (out.returncode, out.stdout) == (0, "home web\n"), out.stderr
    out = subprocess.run([dockyard, "--config", str(cfg), "ps"], capture_output=True, text=True, env=env)
    assert (out.returncode, out.stdout) == (0, "web|Up 2 minutes\n"), out.stderr


def test_cli_exit_flushes_and_keeps_teardown_when_needed(api: FakeAPI, tmp_path) -> None:
    """run() skips the interpreter's teardown only when nothing waits for it:
    output piped through a small pipe arrives whole; an atexit callback runs."""
    dockyard = os.path.join(BIN, "dockyard")
    env = {**CLEAN_ENV, "DOCKYARD_HOST": api.host, "HOME": str(tmp_path)}
    api.on("GET", "/containers/json", Reply(200, [dict(CONTAINER, Id=f"{i:064x}", Names=[f"/c{i}"])
                                                 for i in range(3000)]))
    out = subprocess.run([dockyard, "ps", "-q"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.splitlines() == [f"{i:064x}"[:12] for i in range(3000)]
    code = ("import atexit, sys\n"
            "atexit.register(lambda: sys.stdout.write('teardown ran\\n'))\n"
            "from dockyard.cli.main import run\nsys.argv = ['dockyard', '--version']\nrun()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.endswith("teardown ran\n"), out.stderr
    # a daemon error still exits non-zero, its message written out before the fast exit
    out = subprocess.run([dockyard, "ps"], capture_output=True, text=True,
                         env={**env, "DOCKYARD_HOST": "unix://" + str(tmp_path / "nothing.sock")})
    assert out.returncode == 1 and "Cannot connect to the Dockyard daemon" in out.stderr
