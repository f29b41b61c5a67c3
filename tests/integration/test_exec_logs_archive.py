"""exec, logs and docker cp (archive) through the Engine API."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import tarfile
import time

import pytest

from _support.engine import Engine, demux, frames


@pytest.fixture(scope="module")
def api(daemon) -> Engine:
    return Engine(daemon.socket)


@pytest.fixture(scope="module")
def box(api) -> str:
    cid = api.run("sh", "-c", "ln -s / /up; ln -s /etc /etclink; mkdir -p /work; sleep 600", name="box")
    api.until(lambda: api.exec(cid, "test", "-L", "/etclink")[0] == 0)
    return cid


# -- exec ------------------------------------------------------------------------------
def test_exec_runs_and_reports(api, box) -> None:
    code, out = api.exec(box, "sh", "-c", "echo out; echo err >&2; exit 5")
    assert code == 5 and out == b"out\nerr\n"
    eid = api.ok("POST", f"/containers/{box}/exec", 201, body={"Cmd": ["sh", "-c", "echo $A $B; pwd; id -u"],
                                                               "Env": ["A=1", "B=two"], "WorkingDir": "/work",
                                                               "User": "65534", "AttachStdout": True})["Id"]
    status, data, headers = api.call("POST", f"/exec/{eid}/start", body={"Detach": False, "Tty": False})
    assert status == 200 and frames(data) == [(1, b"1 two\n/work\n65534\n")] or demux(data) == b"1 two\n/work\n65534\n"
    info = api.ok("GET", f"/exec/{eid}/json", 200)
    assert info["ExitCode"] == 0 and info["Running"] is False and info["ContainerID"] == box
    assert info["ProcessConfig"] == {"privileged": False, "user": "65534", "tty": False, "entrypoint": "sh",
                                     "arguments": ["-c", "echo $A $B; pwd; id -u"]}
    assert info["Pid"] > 0 and info["OpenStdout"] is True and info["OpenStdin"] is False
    assert api.err("POST", f"/exec/{eid}/start", 409, body={}) == f"Error: Exec command {eid} has already run"
    # as moby: a finished exec leaves the container's list (and stays inspectable by its ID)
    assert eid not in (api.inspect(box)["ExecIDs"] or [])


def test_exec_tty_privileged_and_detached(api, box) -> None:
    eid = api.ok("POST", f"/containers/{box}/exec", 201, body={"Cmd": ["sh", "-c", "tty; grep CapEff /proc/self/status"],
                                                               "Tty": True, "AttachStdout": True,
                                                               "Privileged": True, "ConsoleSize": [33, 111]})["Id"]
    status, data, headers = api.call("POST", f"/exec/{eid}/start", body={"Tty": True})
    assert data.startswith(b"/dev/pts/") and b"\r\n" in data  # raw, through a terminal
    assert not data.rstrip().endswith(b"00000000a80425fb")
    eid = api.ok("POST", f"/containers/{box}/exec", 201, body={"Cmd": ["sh", "-c", "sleep 0.5; touch /detached"]})["Id"]
    status, data, _ = api.call("POST", f"/exec/{eid}/start", body={"Detach": True})
    assert status == 200 and data == b""
    assert api.ok("GET", f"/exec/{eid}/json", 200)["Running"] is True
    api.until(lambda: api.ok("GET", f"/exec/{eid}/json", 200)["ExitCode"] == 0, timeout=30)
    assert api.exec(box, "test", "-f", "/detached")[0] == 0


def test_exec_errors(api, box) -> None:
    assert api.err("POST", f"/containers/{box}/exec", 400, body={"Cmd": []}) == "No exec command specified"
    assert api.err("POST", "/containers/nonexistent/exec", 404, body={"Cmd": ["true"]}) == \
        "No such container: nonexistent"
    assert api.err("GET", "/exec/nonexistent/json", 404) == "No such exec instance: nonexistent"
    stopped = api.create(Cmd=["true"])
    assert api.err("POST", f"/containers/{stopped}/exec", 409, body={"Cmd": ["true"]}) == \
        f"Container {stopped} is not running"
    api.rm(stopped)
    code, out = api.exec(box, "no-such-binary")
    assert code == 127 and b'exec: "no-such-binary": executable file not found in $PATH' in out


# -- logs ------------------------------------------------------------------------------
def test_logs_follow_since_until_timestamps(api) -> None:
    cid = api.run("sh", "-c", "echo first; sleep 1.2; echo second >&2; sleep 1.2; echo third")
    t0 = time.time()
    status, data, headers = api.call("GET", f"/containers/{cid}/logs",
                                     query={"stdout": True, "stderr": True, "follow": True}, timeout=60)
    assert status == 200 and headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    assert frames(data) == [(1, b"first\n"), (2, b"second\n"), (1, b"third\n")]
    assert time.time() - t0 > 1.5  # it followed the container until it stopped
    stamped = demux(api.logs(cid, timestamps=True)).decode().splitlines()
    stamps = [line.split(" ", 1)[0] for line in stamped]
    assert [line.split(" ", 1)[1] for line in stamped] == ["first", "second", "third"]
    from dockyard.daemon.timeutil import parse_rfc3339
    t_second = parse_rfc3339(stamps[1])
    assert demux(api.logs(cid, since=f"{t_second - 0.05:.6f}")) == b"second\nthird\n"
    assert demux(api.logs(cid, until=f"{t_second + 0.05:.6f}")) == b"first\nsecond\n"
    assert demux(api.logs(cid, stderr=False)) == b"first\nthird\n"
    assert demux(api.logs(cid, tail=1)) == b"third\n"
    assert demux(api.logs(cid, tail=0)) == b""
    assert "you must choose at least one stream" in api.err("GET", f"/containers/{cid}/logs", 400)
    api.rm(cid)


def test_logs_raw_with_tty_and_long_lines(api) -> None:
    cid = api.run("sh", "-c", "echo tty-line; head -c 40000 /dev/zero | tr '\\0' a; echo", Tty=True)
    api.wait(cid)
    status, data, headers = api.call("GET", f"/containers/{cid}/logs", query={"stdout": True})
    assert headers["content-type"] == "application/vnd.docker.raw-stream"
    assert data.startswith(b"tty-line\r\n") and data.count(b"a") == 40000  # a long line comes back whole
    api.rm(cid)


# -- archive (docker cp) --------------------------------------------------------------------
def _tar(entries: list[tuple[str, bytes | None, dict]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data, extra in entries:
            ti = tarfile.TarInfo(name)
            for k, v in extra.items():
                setattr(ti, k, v)
            if data is not None:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return buf.getvalue()


def test_archive_head_get_put(api, box) -> None:
    status, _, headers = api.call("HEAD", f"/containers/{box}/archive", query={"path": "/etc/passwd"})
    st = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert status == 200 and st["name"] == "passwd" and st["mode"] == 0o644 and st["size"] > 0
    status, _, headers = api.call("HEAD", f"/containers/{box}/archive", query={"path": "/etclink"})
    st = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert st["linkTarget"] == "/etc" and st["mode"] & (1 << 27)  # Go's ModeSymlink
    status, _, headers = api.call("HEAD", f"/containers/{box}/archive", query={"path": "/etc"})
    assert json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))["mode"] & (1 << 31)  # ModeDir
    assert api.err("GET", f"/containers/{box}/archive", 404, query={"path": "/nope"}) == \
        f"Could not find the file /nope in container {box}"  # the container as the client named it
    status, data, headers = api.call("GET", f"/containers/{box}/archive", query={"path": "/etc"})
    assert headers["content-type"] == "application/x-tar"
    names = tarfile.open(fileobj=io.BytesIO(data)).getnames()
    assert "etc" in names and "etc/passwd" in names
    status, data, _ = api.call("GET", f"/containers/{box}/archive", query={"path": "/etc/."})
    assert "./passwd" in tarfile.open(fileobj=io.BytesIO(data)).getnames() or \
        "passwd" in [n.lstrip("./") for n in tarfile.open(fileobj=io.BytesIO(data)).getnames()]
    payload = _tar([("newdir", None, {"type": tarfile.DIRTYPE, "mode": 0o750}),
                    ("newdir/file", b"content", {"mode": 0o640, "uid": 1234, "gid": 5678}),
                    ("newdir/link", None, {"type": tarfile.SYMTYPE, "linkname": "file"})])
    api.ok("PUT", f"/containers/{box}/archive", 200, query={"path": "/work"}, raw=payload)
    code, out = api.exec(box, "sh", "-c", "cat /work/newdir/link; stat -c '%a %u:%g' /work/newdir /work/newdir/file")
    assert out.decode().splitlines() == ["content750 0:0", "640 0:0"]  # the file has no newline
    api.ok("PUT", f"/containers/{box}/archive", 200, query={"path": "/work", "copyUIDGID": True}, raw=payload)
    assert api.exec(box, "stat", "-c", "%u:%g", "/work/newdir/file")[1] == b"1234:5678\n"
    assert api.err("PUT", f"/containers/{box}/archive", 404, query={"path": "/nowhere"}, raw=payload) == \
        f"Could not find the file /nowhere in container {box}"
    assert api.err("PUT", f"/containers/{box}/archive", 400, query={"path": "/etc/passwd"}, raw=payload) == \
        "extraction point is not a directory"
    over = _tar([("newdir", None, {"type": tarfile.REGTYPE})])
    assert "cannot overwrite directory" in api.err("PUT", f"/containers/{box}/archive", 400,
                                                   query={"path": "/work", "noOverwriteDirNonDir": True}, raw=over)


def test_archive_is_safe_against_hostile_input(daemon, api, box) -> None:
    marker = f"dy-escape-{secrets.token_hex(4)}"
    # Entries climbing out of the extraction point are refused; nothing is written.
    evil = _tar([(f"../../../../../../tmp/{marker}", b"x", {})])
    assert "outside the extraction point" in api.err("PUT", f"/containers/{box}/archive", 400,
                                                     query={"path": "/work"}, raw=evil)
    evil = _tar([("h", None, {"type": tarfile.LNKTYPE, "linkname": "../../../../etc/passwd"})])
    assert "outside the extraction point" in api.err("PUT", f"/containers/{box}/archive", 400,
                                                     query={"path": "/work"}, raw=evil)
    # A symlink (planted by the archive or by the container) resolves inside the container.
    via_link = _tar([("esc", None, {"type": tarfile.SYMTYPE, "linkname": "/tmp"}),
                     (f"esc/{marker}", b"inside", {})])
    api.ok("PUT", f"/containers/{box}/archive", 200, query={"path": "/work"}, raw=via_link)
    api.ok("PUT", f"/containers/{box}/archive", 200, query={"path": "/up/tmp"},
           raw=_tar([(marker + "2", b"inside", {})]))
    assert not os.path.exists(f"/tmp/{marker}") and not os.path.exists(f"/tmp/{marker}2")
    assert api.exec(box, "cat", f"/tmp/{marker}", f"/tmp/{marker}2") == (0, b"insideinside")
    # Reading through a symlink gets the container's file, never the host's.
    status, data, _ = api.call("GET", f"/containers/{box}/archive", query={"path": "/etclink/hostname"})
    member = tarfile.open(fileobj=io.BytesIO(data)).extractfile("hostname").read()
    assert member == api.exec(box, "cat", "/etc/hostname")[1]
    status, data, _ = api.call("GET", f"/containers/{box}/archive", query={"path": "/up/../../../etc/passwd"})
    member = tarfile.open(fileobj=io.BytesIO(data)).extractfile("passwd").read()
    assert member == api.exec(box, "cat", "/etc/passwd")[1]
    with open("/etc/passwd", "rb") as f:
        assert member != f.read()
    assert api.err("PUT", f"/containers/{box}/archive", 400, query={"path": "/work"}, raw=b"not a tar" * 100)


def test_archive_on_stopped_container_and_readonly_rootfs(daemon, api, tmp_path) -> None:
    cid = api.create(Cmd=["cat", "/data/in", "/root/put"], HostConfig={"Binds": [f"{tmp_path}:/data"]})
    (tmp_path / "in").write_text("bound\n")
    api.ok("PUT", f"/containers/{cid}/archive", 200, query={"path": "/root"}, raw=_tar([("put", b"copied\n", {})]))
    status, data, _ = api.call("GET", f"/containers/{cid}/archive", query={"path": "/data/in"})
    assert tarfile.open(fileobj=io.BytesIO(data)).extractfile("in").read() == b"bound\n"
    api.ok("POST", f"/containers/{cid}/start", 204)
    api.wait(cid)
    assert demux(api.logs(cid)) == b"bound\ncopied\n"
    api.rm(cid)
    ro = api.run("sleep", "60", HostConfig={"ReadonlyRootfs": True, "Binds": [f"{tmp_path}:/data"]})
    assert api.err("PUT", f"/containers/{ro}/archive", 403, query={"path": "/root"},
                   raw=_tar([("x", b"x", {})])) == "container rootfs is marked read-only"
    api.ok("PUT", f"/containers/{ro}/archive", 200, query={"path": "/data"}, raw=_tar([("ok", b"x", {})]))
    assert (tmp_path / "ok").read_bytes() == b"x"
    api.rm(ro)
