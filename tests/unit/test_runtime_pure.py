"""Pure parts of the runtime: flag parsing, capabilities, mount options,
secure path resolution, config validation."""

import errno
import json
import os

import pytest

from dockyard.runtime import capabilities, cli, commands, mountopts
from dockyard.runtime.rootfs import secure_join
from dockyard.runtime.spec import ConfigError, validate
from dockyard._sys import consts as c


def test_global_and_command_flags() -> None:
    g, rest = cli.parse(["--root", "/r", "--log-format=json", "create", "--bundle", "b", "id"], cli.GLOBAL_FLAGS)
    assert g == {"--root": "/r", "--log-format": "json"} and rest == ["create", "--bundle", "b", "id"]
    o, args = cli.parse(rest[1:], cli.COMMAND_FLAGS["create"])
    assert o == {"--bundle": "b"} and args == ["id"]
    with pytest.raises(cli.UsageError):
        cli.parse(["--nope"], cli.COMMAND_FLAGS["create"])


def test_capability_masks() -> None:
    m = capabilities.masks({"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"]})
    assert m["bounding"] == (1 << 0) | (1 << 5)
    assert m["effective"] == 1 << 5 and m["ambient"] == 0
    with pytest.raises(ValueError):
        capabilities.to_mask(["CAP_BOGUS"])


def test_mount_options() -> None:
    flags, prop, data, ext = mountopts.parse(["nosuid", "ro", "rbind", "rprivate", "mode=755", "tmpcopyup"])
    assert flags == c.MS_NOSUID | c.MS_RDONLY | c.MS_BIND | c.MS_REC
    assert prop == [c.MS_PRIVATE | c.MS_REC] and data == "mode=755" and ext == {"tmpcopyup"}
    flags, _, _, _ = mountopts.parse(["ro", "rw"])
    assert flags & c.MS_RDONLY == 0


def test_secure_join_stays_inside(tmp_path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../", root / "up")
    assert secure_join(str(root), "/abs/passwd") == str(root / "etc/passwd")
    assert secure_join(str(root), "/up/x") == str(root / "x")
    assert secure_join(str(root), "/../../x") == str(root / "x")
    # a file on the way is not an error here: the join is lexical from there on
    (root / "etc" / "passwd").write_text("")
    assert secure_join(str(root), "/etc/passwd/x") == str(root / "etc/passwd/x")


def _spec(tmp_path, **over):
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    spec = {"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}
    spec.update(over)
    return spec


@pytest.mark.parametrize("over, field", [
    ({"process": {"args": [], "cwd": "/"}}, "process.args"),
    ({"process": {"args": ["sh"], "cwd": "relative"}}, "process.cwd"),
    ({"linux": {"namespaces": [{"type": "bogus"}]}}, "linux.namespaces[0].type"),
    ({"mounts": [{"destination": ""}]}, "mounts[0].destination"),
    ({"hostname": "x"}, "hostname"),
    ({"process": {"args": ["sh"], "cwd": "/", "capabilities": {"bounding": ["CAP_NOPE"]}}}, "capabilities"),
])
def test_invalid_config_names_the_field(tmp_path, over, field) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        validate(_spec(tmp_path, **over), str(tmp_path))


def test_valid_config(tmp_path) -> None:
    validate(_spec(tmp_path), str(tmp_path))


def test_jsonio_matches_json() -> None:
    from dockyard.runtime import jsonio
    doc = {"a": [1, 2.5, {"b": None, "c": True}], "é": 'x"y\n', "n": -3, "e": [], "f": {}}
    assert jsonio.loads(json.dumps(doc)) == doc
    assert jsonio.loads(json.dumps(doc).encode()) == doc
    assert jsonio.dumps(doc) == json.dumps(doc, separators=(",", ":"))
    assert jsonio.dumps_pretty(doc) == json.dumps(doc, indent=2)
    assert jsonio.dumps_pretty(doc, "\t") == json.dumps(doc, indent="\t")
    for bad in ["", "{", "[1,]", "{} x", "nul", '{"a" 1}']:
        with pytest.raises(ValueError) as ours:
            jsonio.loads(bad)
        with pytest.raises(ValueError) as theirs:
            json.loads(bad)
        assert str(ours.value) == str(theirs.value)


def test_exec_flags_stop_at_the_container_id() -> None:
    o, args = cli.parse(["-t", "--env", "A=1", "-e", "B=2", "cid", "sh", "-c", "echo --env"],
                        cli.COMMAND_FLAGS["exec"])
    assert o == {"-t": True, "--env": ["A=1"], "-e": ["B=2"]}
    assert args == ["cid", "sh", "-c", "echo --env"]


def test_process_from_args() -> None:
    from dockyard.runtime.exec_ import ExecError, process_from_args
    base = {"args": ["sh"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}}
    p = process_from_args(base, ["id"], {"env": ["A=1"], "cwd": "/tmp", "user": "1000:1001",
                                         "caps": ["CAP_SYS_ADMIN"], "additional_gids": ["5"], "tty": True})
    assert p["args"] == ["id"] and p["env"] == ["PATH=/bin", "A=1"] and p["cwd"] == "/tmp"
    assert p["user"] == {"uid": 1000, "gid": 1001, "additionalGids": [5]} and p["terminal"] is True
    assert p["capabilities"]["bounding"] == ["CAP_KILL", "CAP_SYS_ADMIN"]
    assert "ambient" not in p["capabilities"]  # no inheritable set in the config
    assert base["env"] == ["PATH=/bin"]  # the container's process is not modified
    with pytest.raises(ExecError):
        process_from_args(base, ["id"], {"user": "root"})


def test_update_flags_to_resources() -> None:
    o, args = cli.parse(["--memory", "512m", "--memory-swap", "-1", "--cpu-quota", "-1", "--cpu-share", "100",
                         "--cpuset-cpus", "0-1", "--pids-limit", "10", "--blkio-weight", "300", "id"],
                        cli.COMMAND_FLAGS["update"])
    assert commands.update_resources(o) == {
        "memory": {"limit": 512 << 20, "swap": -1}, "cpu": {"quota": -1, "shares": 100, "cpus": "0-1"},
        "pids": {"limit": 10}, "blockIO": {"weight": 300}}
    assert commands.parse_bytes("1.5g", "--memory") == 3 << 29
    assert commands.parse_bytes("1024", "--memory") == 1024
    for bad in ("abc", "-5m", "1x"):
        with pytest.raises(cli.UsageError):
            commands.parse_bytes(bad, "--memory")
    import io
    res = commands.update_resources({"-r": "-"}, io.BytesIO(b'{"pids": {"limit": 5}}'))
    assert res == {"pids": {"limit": 5}}
    with pytest.raises(cli.UsageError):
        commands.update_resources({"-r": "-"}, io.BytesIO(b'{"pids": {"limit": "5"}}'))


def test_signal_names_and_numbers() -> None:
    from dockyard.runtime.ops import parse_signal
    from dockyard.runtime.state import RuntimeError_
    assert parse_signal("KILL") == parse_signal("SIGKILL") == parse_signal("9") == 9
    assert parse_signal("term") == 15 and parse_signal("SIGRTMIN+2") == 36 and parse_signal("RTMAX-1") == 63
    for bad in ("0", "65", "NOPE", "RTMIN+40"):
        with pytest.raises(RuntimeError_):
            parse_signal(bad)


def test_container_ids() -> None:
    from dockyard.runtime.state import RuntimeError_, validate_id
    for ok in ("abc", "a-b_c.d+e", "0" * 64):
        validate_id(ok)
    for bad in ("", ".", "..", "a/b", "a b", "é"):
        with pytest.raises(RuntimeError_):
            validate_id(bad)


def test_jsonio_errors_without_json_loaded() -> None:
    import subprocess
    import sys
    code = ("import sys; from dockyard.runtime import jsonio\n"
            "try:\n    jsonio.loads('{\"a\" 1}')\nexcept ValueError as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.startswith("JSONDecodeError Expecting ':' delimiter: line 1 column 6")


def test_launcher_script(tmp_path) -> None:
    """The fast launcher runs isolated, without site, and still finds the package."""
    import subprocess
    import sys
    from dockyard.runtime import launcher
    text = launcher.script_text()
    assert text.startswith(f"#!{sys.executable} -IS\n")
    path = tmp_path / "dockyard-runtime"
    path.write_text(text)
    path.chmod(0o755)
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and out.stdout.startswith("dockyard-runtime version"), out.stderr
    # the module form (what a plain pip install's console script calls) works the same
    out = subprocess.run([sys.executable, "-m", "dockyard.runtime.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("dockyard-runtime version")
    # and nothing heavy is imported for a command
    probe = ("import sys; sys.argv = ['x', '--root', sys.argv[1], 'list']\n"
             "from dockyard.runtime import cli\ncode = cli.main()\n"
             "print(sorted(m for m in ('os', 'json', 're', 'typing', 'ctypes', 'socket', 'signal', 'subprocess')"
             " if m in sys.modules))")
    import dockyard
    src = os.path.dirname(os.path.dirname(dockyard.__file__))
    out = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {src!r})\n" + probe,
                          str(tmp_path)], capture_output=True, text=True, cwd="/")
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_fork_into_cgroup_refused_cleanly_and_single_threaded(tmp_path) -> None:
    """clone3 into something that is no cgroup2 directory fails with the
    kernel's errno and forks nothing, and Python's fork hooks are undone (the
    import lock is free: importing still works)."""
    import os
    import threading

    from dockyard.runtime import clone
    fd = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as e:
            clone.fork_into_cgroup(fd)
        assert e.value.errno in (errno.EBADF, errno.EINVAL, errno.ENOSYS, errno.EPERM), e.value
    finally:
        os.close(fd)
    import colorsys  # noqa: F401  (a fresh import: the import lock was released)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not clone.single_threaded()  # pytest's process has this thread at least
    finally:
        stop.set()
        t.join()
