"""Pure parts of the runtime: flag parsing, capabilities, mount options,
secure path resolution, config validation."""

import json
import os

import pytest

from dockyard.runtime import capabilities, cli, mountopts
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
    ({"mounts": [{"destination": "rel"}]}, "mounts[0].destination"),
    ({"hostname": "x"}, "hostname"),
    ({"process": {"args": ["sh"], "cwd": "/", "capabilities": {"bounding": ["CAP_NOPE"]}}}, "capabilities"),
])
def test_invalid_config_names_the_field(tmp_path, over, field) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        validate(_spec(tmp_path, **over), str(tmp_path))


def test_valid_config(tmp_path) -> None:
    validate(_spec(tmp_path), str(tmp_path))
