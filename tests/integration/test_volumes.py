"""Volumes: the local driver through /volumes, and volumes in containers
(named, anonymous, from the image's VOLUMEs, seeded from the image,
VolumesFrom), with docker's messages and no mount left behind."""

from __future__ import annotations

import os

import pytest

from _support import leaks
from _support.engine import Engine, demux


@pytest.fixture(scope="module")
def api(daemon) -> Engine:
    return Engine(daemon.socket)


def run(api: Engine, script: str, **config) -> tuple[int, str, str]:
    cid = api.run("sh", "-c", script, **config)
    code = api.wait(cid)["StatusCode"]
    return code, demux(api.logs(cid)).decode(), cid


def test_create_inspect_list_remove(daemon, api) -> None:
    v = api.ok("POST", "/volumes/create", 201, body={"Name": "data1", "Labels": {"team": "a"}})
    assert v["Name"] == "data1" and v["Driver"] == "local" and v["Scope"] == "local"
    assert v["Labels"] == {"team": "a"} and v["Options"] is None
    assert v["Mountpoint"] == os.path.join(daemon.data_root, "volumes", "data1", "_data")
    assert v["CreatedAt"].endswith("Z")
    assert api.ok("POST", "/volumes/create", 201, body={"Name": "data1"})["Labels"] == {"team": "a"}  # idempotent
    assert api.ok("GET", "/volumes/data1", 200) == v
    api.ok("POST", "/volumes/create", 201, body={"Name": "data2"})
    anon = api.ok("POST", "/volumes/create", 201, body={})
    assert len(anon["Name"]) == 64 and "com.docker.volume.anonymous" in anon["Labels"]

    def names(**f):
        return {x["Name"] for x in api.ok("GET", "/volumes", 200, query={"filters": f} if f else None)["Volumes"]}
    assert {"data1", "data2", anon["Name"]} <= names()
    assert names(label=["team=a"]) == {"data1"}
    assert names(name=["data"]) >= {"data1", "data2"} and anon["Name"] not in names(name=["data"])
    assert names(driver=["local"]) >= {"data1", "data2"}
    cid = api.create(Cmd=["true"], HostConfig={"Binds": ["data2:/d"]})
    assert "data2" not in names(dangling=["true"]) and "data1" in names(dangling=["true"])
    assert "data2" in names(dangling=["false"])
    assert api.err("GET", "/volumes", 400, query={"filters": {"size": ["1"]}}) == "invalid filter 'size'"
    msg = api.err("DELETE", "/volumes/data2", 409)
    assert msg == f"remove data2: volume is in use - [{cid}]"
    api.rm(cid)
    api.ok("DELETE", "/volumes/data2", 204)
    assert api.err("GET", "/volumes/data2", 404) == "get data2: no such volume"
    assert api.err("DELETE", "/volumes/data2", 404) == "get data2: no such volume"
    api.ok("DELETE", "/volumes/data2", 204, query={"force": True})
    res = api.ok("POST", "/volumes/prune", 200)
    assert res["VolumesDeleted"] == [anon["Name"]] and "data1" in names()  # named ones stay by default
    res = api.ok("POST", "/volumes/prune", 200, query={"filters": {"all": ["true"], "label": ["team=a"]}})
    assert res["VolumesDeleted"] == ["data1"]


def test_bad_volume_requests(api) -> None:
    msg = api.err("POST", "/volumes/create", 400, body={"Name": "bad/name"})
    assert msg.startswith('create bad/name: "bad/name" includes invalid characters for a local volume name')
    assert api.err("POST", "/volumes/create", 400, body={"Name": "vv", "DriverOpts": {"colour": "red"}}) == \
        'create vv: invalid option: "colour"'
    assert api.err("POST", "/volumes/create", 400, body={"Name": "vv", "DriverOpts": {"type": "tmpfs"}}) == \
        'create vv: missing required option: "device"'
    assert "plugin \"flocker\" not found" in api.err("POST", "/volumes/create", 404,
                                                   body={"Name": "vv", "Driver": "flocker"})
    assert api.call("GET", "/volumes/vv")[0] == 404


def test_tmpfs_and_bind_volumes_mount_while_used(daemon, api, tmp_path) -> None:
    api.ok("POST", "/volumes/create", 201, body={"Name": "ramvol", "DriverOpts": {
        "type": "tmpfs", "device": "tmpfs", "o": "size=2m,uid=1000"}})
    code, out, cid = run(api, "mount | grep ' /r '; stat -c %u /r; echo x > /r/f", HostConfig={"Binds": ["ramvol:/r"]})
    assert code == 0 and "tmpfs" in out and "size=2048k" in out and out.splitlines()[1] == "1000"
    # The volume's filesystem is unmounted once no container uses it.
    assert not [m for m in leaks.mounts_under(daemon.base) if "ramvol" in m]
    api.rm(cid)
    (tmp_path / "hostfile").write_text("on the host")
    api.ok("POST", "/volumes/create", 201, body={"Name": "bindvol", "DriverOpts": {
        "type": "none", "device": str(tmp_path), "o": "bind"}})
    code, out, cid = run(api, "cat /b/hostfile; echo back > /b/written", HostConfig={"Binds": ["bindvol:/b"]})
    assert out == "on the host" and (tmp_path / "written").read_text() == "back\n"
    api.rm(cid)
    api.ok("DELETE", "/volumes/bindvol", 204)
    assert (tmp_path / "hostfile").exists()  # removing the volume leaves the bound directory alone
    api.ok("DELETE", "/volumes/ramvol", 204)


def test_seeding_anonymous_volumes_and_rm_v(daemon, api) -> None:
    # A new volume on a path the image has is seeded with its content (modes, owners, links kept).
    code, out, cid = run(api, "ls -l /etc/passwd; ls /bin | wc -l; /bin/sh -c 'echo runs'",
                         HostConfig={"Binds": ["etcvol:/etc", "/bin"]})
    assert code == 0 and out.startswith("-rw-r--r--") and int(out.splitlines()[1]) > 50
    assert out.splitlines()[2] == "runs"
    vols = {m["Destination"]: m for m in api.inspect(cid)["Mounts"]}
    assert vols["/etc"]["Name"] == "etcvol" and vols["/etc"]["Type"] == "volume" and vols["/etc"]["RW"] is True
    anon = vols["/bin"]["Name"]
    assert len(anon) == 64
    data = api.ok("GET", "/volumes/etcvol", 200)["Mountpoint"]
    assert os.path.isfile(os.path.join(data, "passwd"))
    # A seeded volume is not seeded again: what the container changed stays.
    code, out, cid2 = run(api, "echo changed > /etc/hostname.new; rm /etc/group; ls /etc",
                          HostConfig={"Binds": ["etcvol:/etc"]})
    code, out, cid3 = run(api, "ls /etc", HostConfig={"Binds": ["etcvol:/etc"]})
    assert "group" not in out.split() and "hostname.new" in out.split()
    # nocopy: an empty volume stays empty.
    code, out, cid4 = run(api, "ls /etc | wc -l", HostConfig={"Binds": ["emptyvol:/etc:nocopy"]})
    assert out.strip() in ("0", "3")  # only the daemon's hosts/hostname/resolv.conf mount points
    for c in (cid2, cid3, cid4):
        api.rm(c)
    api.ok("DELETE", f"/containers/{cid}", 204, query={"v": True})
    assert api.call("GET", f"/volumes/{anon}")[0] == 404  # the anonymous one went with the container
    assert api.call("GET", "/volumes/etcvol")[0] == 200  # the named one stays
    api.ok("DELETE", "/volumes/etcvol", 204)
    api.ok("DELETE", "/volumes/emptyvol", 204)


def test_image_volumes_and_volumes_from(api) -> None:
    src = api.create("vsrc", Cmd=["sh", "-c", "echo shared > /data/f; echo other > /cfg/g"],
                     Volumes={"/data": {}}, HostConfig={"Binds": ["cfgvol:/cfg"]})
    mounts = api.inspect(src)["Mounts"]
    assert {m["Destination"] for m in mounts} == {"/data", "/cfg"}
    api.ok("POST", f"/containers/{src}/start", 204)
    api.wait(src)
    code, out, reader = run(api, "cat /data/f /cfg/g; echo x > /cfg/h 2>&1 || echo ro",
                            HostConfig={"VolumesFrom": ["vsrc:ro"]})
    assert out.splitlines()[:2] == ["shared", "other"] and "Read-only file system" in out
    assert all(m["RW"] is False for m in api.inspect(reader)["Mounts"])
    api.rm(reader)
    assert "invalid mode" in api.err("POST", "/containers/create", 400, body={
        "Image": "busybox", "HostConfig": {"VolumesFrom": ["vsrc:bogus"]}})
    anon = [m["Name"] for m in mounts if m["Destination"] == "/data"][0]
    api.ok("DELETE", f"/containers/{src}", 204, query={"v": True})
    assert api.call("GET", f"/volumes/{anon}")[0] == 404
    api.ok("DELETE", "/volumes/cfgvol", 204)


def test_mounts_api_volume_options_and_subpath(api) -> None:
    api.ok("POST", "/volumes/create", 201, body={"Name": "subvol"})
    code, out, cid = run(api, "mkdir -p /v/inner && echo deep > /v/inner/f",
                         HostConfig={"Mounts": [{"Type": "volume", "Source": "subvol", "Target": "/v"}]})
    api.rm(cid)
    code, out, cid = run(api, "cat /s/f; ls /s",
                         HostConfig={"Mounts": [{"Type": "volume", "Source": "subvol", "Target": "/s",
                                                 "VolumeOptions": {"Subpath": "inner"}}]})
    assert out.splitlines() == ["deep", "f"]
    api.rm(cid)
    code, out, cid = run(api, "touch /l/x",
                         HostConfig={"Mounts": [{"Type": "volume", "Source": "labelled", "Target": "/l",
                                                 "VolumeOptions": {"Labels": {"made": "by-mount"}}}]})
    assert api.ok("GET", "/volumes/labelled", 200)["Labels"] == {"made": "by-mount"}
    api.rm(cid)
    for v in ("subvol", "labelled"):
        api.ok("DELETE", f"/volumes/{v}", 204)
