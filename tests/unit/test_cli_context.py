"""dockyard context: docker's context store on disk, which daemon each way
of naming one selects (two fake daemons tell them apart), and the start-up
path staying lean when no context is in use."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from _support.fakeapi import FakeAPI, Reply
from dockyard import launcher

BIN = os.path.dirname(sys.executable)
DOCKYARD = os.path.join(BIN, "dockyard")


def fake(name: str) -> FakeAPI:
    api = FakeAPI()
    api.on("GET", "/containers/json", Reply(200, [{"Id": "c" * 64, "Names": [f"/{name}"], "Image": "busybox",
                                                   "Command": "sh", "Created": 1700000000, "State": "running",
                                                   "Status": "Up", "Ports": [], "Labels": {}, "Mounts": []}]))
    return api


@pytest.fixture
def daemons():
    apis = {n: fake(n) for n in ("envd", "ctxa", "ctxb", "hostd", "deflt")}
    yield apis
    for a in apis.values():
        a.close()


@pytest.fixture
def home(tmp_path):
    (tmp_path / ".docker").mkdir()
    return tmp_path


def dockyard(home, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {"PATH": "/usr/bin:/bin", "HOME": str(home), **env}
    return subprocess.run([DOCKYARD, *args], capture_output=True, text=True, env=full, timeout=30)


def meta_path(home, name: str) -> str:
    return os.path.join(home, ".docker", "contexts", "meta", hashlib.sha256(name.encode()).hexdigest(), "meta.json")


def which(home, *args: str, **env: str) -> str:
    """The daemon `ps` reached (each fake names its one container after itself)."""
    r = dockyard(home, *args, "ps", "--format", "{{.Names}}", **env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_store_format_is_dockers(home) -> None:
    r = dockyard(home, "context", "create", "aa", "--description", "first", "--docker", "host=unix:///tmp/a.sock")
    assert (r.returncode, r.stdout, r.stderr) == (0, "aa\n", 'Successfully created context "aa"\n')
    with open(meta_path(home, "aa")) as f:
        assert json.load(f) == {"Name": "aa", "Metadata": {"Description": "first"},
                                "Endpoints": {"docker": {"Host": "unix:///tmp/a.sock", "SkipTLSVerify": False}}}
    cfg = home / ".docker" / "config.json"
    cfg.write_text('{\n\t"auths": {"r.example": {"auth": "eDp5"}},\n\t"psFormat": "x"\n}')
    r = dockyard(home, "context", "use", "aa")
    assert (r.returncode, r.stdout) == (0, "aa\n") and 'Current context is now "aa"' in r.stderr
    assert json.loads(cfg.read_text()) == {"auths": {"r.example": {"auth": "eDp5"}}, "psFormat": "x",
                                           "currentContext": "aa"}
    assert dockyard(home, "context", "show").stdout == "aa\n"
    assert dockyard(home, "context", "use", "default").returncode == 0
    assert "currentContext" not in json.loads(cfg.read_text())  # docker removes the key
    # A copy (no --docker) takes the endpoint of the context in use, or of --from.
    assert dockyard(home, "context", "create", "bb", "--from", "aa").returncode == 0
    with open(meta_path(home, "bb")) as f:
        assert json.load(f)["Endpoints"]["docker"]["Host"] == "unix:///tmp/a.sock"
    r = dockyard(home, "context", "ls", "--format", "{{.Name}} {{.Current}} {{.DockerEndpoint}}",
                 DOCKER_CONTEXT="bb")
    assert r.stdout.splitlines() == ["aa false unix:///tmp/a.sock", "bb true unix:///tmp/a.sock",
                                     "default false unix:///run/dockyard/dockyard.sock"]


def test_bad_input(home) -> None:
    cases = [
        (["create", "default"], 1, '"default" is a reserved context name'),
        (["create", "b@d"], 1, 'context name "b@d" is invalid, names are validated against regexp'),
        (["create", "xx", "--docker", "hots=unix:///a"], 1, "unrecognized config key: hots"),
        (["create", "xx", "--docker", "host"], 125, "host must be formatted as key=value"),
        (["create", "xx", "--docker", "host=nowhere"], 1, "unable to parse docker host `nowhere`"),
        (["create", "xx", "--docker", "host=tcp://h:1,ca=/nonexistent"], 1, "open /nonexistent: no such file"),
        (["use", "nope"], 1, 'context "nope": context not found: open '),
        (["rm", "nope"], 1, 'context "nope" does not exist'),
        (["rm", "default"], 1, 'context "default" cannot be removed'),
    ]
    for args, code, msg in cases:
        r = dockyard(home, "context", *args)
        assert r.returncode == code and msg in r.stderr, (args, r.returncode, r.stderr)
    assert not os.path.exists(home / ".docker" / "contexts" / "meta") or \
        os.listdir(home / ".docker" / "contexts" / "meta") == []  # nothing half-made
    assert dockyard(home, "context", "create", "xx", "--docker", "host=unix:///a").returncode == 0
    r = dockyard(home, "context", "create", "xx", "--docker", "host=unix:///b")
    assert r.returncode == 1 and r.stderr == 'context "xx" already exists\n'


def test_rm_of_the_current_context_needs_force(home) -> None:
    dockyard(home, "context", "create", "aa", "--docker", "host=unix:///a")
    dockyard(home, "context", "use", "aa")
    r = dockyard(home, "context", "rm", "aa")
    assert r.returncode == 1 and 'context "aa" is in use, set -f flag to force remove' in r.stderr
    r = dockyard(home, "context", "rm", "-f", "aa")
    assert (r.returncode, r.stdout) == (0, "aa\n")
    assert not os.path.exists(meta_path(home, "aa"))
    assert dockyard(home, "context", "show").stdout == "default\n"


def test_host_precedence(home, daemons) -> None:
    for name in ("ctxa", "ctxb"):
        assert dockyard(home, "context", "create", name, "--docker", f"host={daemons[name].host}").returncode == 0
    assert which(home, DOCKYARD_HOST=daemons["deflt"].host) == "deflt"
    dockyard(home, "context", "use", "ctxa")
    assert which(home) == "ctxa"                                                    # currentContext
    assert which(home, DOCKER_CONTEXT="ctxb") == "ctxb"                             # DOCKER_CONTEXT over it
    assert which(home, DOCKER_HOST=daemons["envd"].host, DOCKER_CONTEXT="ctxb") == "envd"  # DOCKER_HOST over both
    assert which(home, DOCKYARD_HOST=daemons["envd"].host) == "envd"
    assert which(home, "--context", "ctxb", DOCKER_HOST=daemons["envd"].host) == "ctxb"  # --context over DOCKER_HOST
    assert which(home, "-H", daemons["hostd"].host, DOCKER_CONTEXT="ctxb") == "hostd"
    assert which(home, "--context", "default", DOCKYARD_HOST=daemons["deflt"].host) == "deflt"
    r = dockyard(home, "-H", daemons["hostd"].host, "--context", "ctxb", "ps")
    assert r.returncode == 1 and r.stderr == "conflicting options: cannot specify both --host and --context\n"
    r = dockyard(home, "--context", "nope", "ps")
    assert r.returncode == 1 and r.stderr.startswith(
        'Failed to initialize: unable to resolve docker endpoint: context "nope": context not found')
    r = dockyard(home, "context", "ls", DOCKER_HOST=daemons["envd"].host)
    assert "Warning: DOCKER_HOST environment variable overrides the active context" in r.stderr
    assert r.stdout.splitlines()[3].startswith("default *") and daemons["envd"].host in r.stdout
    assert r.stdout.splitlines()[0].split() == ["NAME", "DESCRIPTION", "DOCKER", "ENDPOINT", "ERROR"]


def test_no_context_loads_nothing_new(home, daemons) -> None:
    """With a config.json but no context in use, `ps` reads no context files
    and imports neither the context store nor hashlib/os/json; with one in
    use it goes through the store."""
    (home / ".docker" / "config.json").write_text('{"auths": {}}')
    probe = (launcher.script_text("dockyard").split("\n", 1)[1].replace("sys.exit(run())", "")
             + "from dockyard.cli.main import main\ncode = main(['ps'])\n"
             "print(code, sorted(m for m in ('dockyard.cli.contextstore', 'hashlib', 'os', 'json') "
             "if m in sys.modules), file=sys.stderr)\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    out = subprocess.run([sys.executable, "-IS", "-c", probe], capture_output=True, text=True,
                         env={**env, "DOCKYARD_HOST": daemons["deflt"].host})
    assert out.stderr.splitlines()[-1] == "0 []", out.stderr
    assert dockyard(home, "context", "create", "ctxa", "--docker", f"host={daemons['ctxa'].host}").returncode == 0
    out = subprocess.run([sys.executable, "-IS", "-c", probe], capture_output=True, text=True,
                         env={**env, "DOCKER_CONTEXT": "ctxa"})
    assert out.stderr.splitlines()[-1].startswith("0 ['dockyard.cli.contextstore'"), out.stderr
    assert "ctxa" in out.stdout
