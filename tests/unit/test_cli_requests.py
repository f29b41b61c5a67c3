"""What each command sends to the Engine API and how it prints the answer,
against a fake API server (request shapes follow the Engine API swagger)."""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import tarfile
import io

import pytest

from _support.fakeapi import FakeAPI, Reply, run_cli

CID = "a" * 64


run = run_cli


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


# -- run / create ---------------------------------------------------------------------

def test_create_sends_every_option(api: FakeAPI, capfd: pytest.CaptureFixture[str], tmp_path) -> None:
    envfile = tmp_path / "env"
    envfile.write_text("# comment\nFROM_FILE=1\n\nEMPTY=\n")
    api.on("POST", "/containers/create", Reply(201, {"Id": CID, "Warnings": ["careful"]}))
    rc, out, err = run(capfd, "create", "--name", "web", "-e", "A=1", "--env-file", str(envfile), "-l", "tier=front",
                       "-v", "/srv:/data:ro", "-v", "/anon", "--mount", "type=tmpfs,target=/t,tmpfs-size=64m",
                       "--mount", "type=volume,source=vol,target=/v,volume-opt=o=1,readonly",
                       "-p", "8080:80", "-p", "127.0.0.1::53/udp", "-p", "9000-9001:90-91", "-P", "--expose", "7000",
                       "--restart", "on-failure:3", "-m", "512m", "--memory-swap", "-1", "--cpus", "1.5",
                       "--pids-limit", "100", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged",
                       "--read-only", "--security-opt", "no-new-privileges", "--init", "--tmpfs", "/run:size=1m",
                       "--ulimit", "nofile=1024:2048", "--log-driver", "json-file", "--log-opt", "max-size=1m",
                       "--add-host", "db:10.0.0.5", "--dns", "1.1.1.1", "--dns-search", "example.com",
                       "--network", "backend", "--ip", "10.1.0.9", "--network-alias", "api",
                       "-h", "box", "-u", "1000:1000", "-w", "/work", "--entrypoint", "/bin/sh",
                       "--health-cmd", "true", "--health-interval", "30s", "--health-retries", "3",
                       "--stop-signal", "SIGINT", "--stop-timeout", "5", "--sysctl", "net.core.somaxconn=1024",
                       "--device", "/dev/null:/dev/nul2:r", "--shm-size", "64m", "--oom-score-adj", "10",
                       "--label-file", str(envfile), "-it", "busybox", "sh", "-c", "echo hi")
    assert rc == 0, err
    assert out == CID + "\n" and "WARNING: careful" in err
    req = api.find("POST", "/containers/create")[0]
    assert req.q("name") == "web"
    b = req.json()
    hc = b["HostConfig"]
    assert b["Image"] == "busybox" and b["Cmd"] == ["sh", "-c", "echo hi"] and b["Entrypoint"] == ["/bin/sh"]
    assert b["Env"] == ["FROM_FILE=1", "EMPTY=", "A=1"]
    assert b["Labels"] == {"FROM_FILE": "1", "EMPTY": "", "tier": "front"}
    assert b["Tty"] and b["OpenStdin"] and b["AttachStdin"] and b["StdinOnce"]
    assert b["Hostname"] == "box" and b["User"] == "1000:1000" and b["WorkingDir"] == "/work"
    assert b["Volumes"] == {"/anon": {}}
    assert set(b["ExposedPorts"]) == {"80/tcp", "53/udp", "90/tcp", "91/tcp", "7000/tcp"}
    assert b["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 30 * 10**9, "Timeout": 0,
                                "StartPeriod": 0, "StartInterval": 0, "Retries": 3}
    assert b["StopSignal"] == "SIGINT" and b["StopTimeout"] == 5
    assert hc["Binds"] == ["/srv:/data:ro"]
    assert hc["Mounts"] == [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 64 << 20}},
                            {"Type": "volume", "Source": "vol", "Target": "/v", "ReadOnly": True,
                             "VolumeOptions": {"DriverConfig": {"Options": {"o": "1"}}}}]
    assert hc["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                                  "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                                  "90/tcp": [{"HostIp": "", "HostPort": "9000"}],
                                  "91/tcp": [{"HostIp": "", "HostPort": "9001"}]}
    assert hc["PublishAllPorts"] is True
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert hc["Memory"] == 512 << 20 and hc["MemorySwap"] == -1 and hc["NanoCpus"] == 1_500_000_000
    assert hc["PidsLimit"] == 100 and hc["CapAdd"] == ["NET_ADMIN"] and hc["CapDrop"] == ["ALL"]
    assert hc["Privileged"] and hc["ReadonlyRootfs"] and hc["Init"] is True
    assert hc["SecurityOpt"] == ["no-new-privileges"] and hc["Tmpfs"] == {"/run": "size=1m"}
    assert hc["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert hc["ExtraHosts"] == ["db:10.0.0.5"] and hc["Dns"] == ["1.1.1.1"] and hc["DnsSearch"] == ["example.com"]
    assert hc["NetworkMode"] == "backend" and hc["Sysctls"] == {"net.core.somaxconn": "1024"}
    assert hc["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/nul2", "CgroupPermissions": "r"}]
    assert hc["ShmSize"] == 64 << 20 and hc["OomScoreAdj"] == 10 and hc["AutoRemove"] is False
    assert b["NetworkingConfig"] == {"EndpointsConfig": {"backend": {
        "IPAMConfig": {"IPv4Address": "10.1.0.9", "IPv6Address": "", "LinkLocalIPs": None}, "Aliases": ["api"]}}}


def test_create_defaults_match_docker(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/containers/create", Reply(201, {"Id": CID}))
    assert run(capfd, "create", "busybox")[0] == 0
    b = api.find("POST", "/containers/create")[0].json()
    assert b["Cmd"] is None and "Entrypoint" not in b and b["AttachStdout"] and b["AttachStderr"]
    assert not b["AttachStdin"] and not b["OpenStdin"] and not b["Tty"]
    hc = b["HostConfig"]
    assert hc["NetworkMode"] == "default" and hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert "Init" not in hc and "PidsLimit" not in hc and "MemorySwappiness" not in hc
    assert b["NetworkingConfig"] == {"EndpointsConfig": {}}


@pytest.mark.parametrize("argv,message", [
    (["--restart", "always", "--rm"], "conflicting options: cannot specify both --restart and --rm"),
    (["--memory-swappiness", "200"], "invalid value: 200. Valid memory swappiness range is 0-100"),
    (["--no-healthcheck", "--health-cmd", "x"], "--no-healthcheck conflicts with --health-* options"),
    (["--pid", "weird"], "--pid: invalid PID mode"),
])
def test_create_rejects_bad_options_like_docker(api: FakeAPI, capfd: pytest.CaptureFixture[str], argv,
                                                 message) -> None:
    rc, out, err = run(capfd, "create", *argv, "busybox")
    assert rc == 125
    assert err == f"dockyard: {message}\n\nRun 'dockyard create --help' for more information\n"
    assert api.requests == []


@pytest.mark.parametrize("argv,fragment", [
    (["-m", "lots"], "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'"),
    (["--ulimit", "nofile"], "invalid ulimit argument: nofile"),
    (["--mount", "type=bind,target=/x"], "source is required when specifying bind mounts"),
    (["-p", "80:90-91"], "invalid ranges specified"),
    (["--health-interval", "5x"], 'unknown unit "x"'),
    (["--restart", "sometimes"], "unknown policy 'sometimes'"),
])
def test_typed_flags_fail_at_parse_time(api: FakeAPI, capfd: pytest.CaptureFixture[str], argv, fragment) -> None:
    rc, out, err = run(capfd, "run", *argv, "busybox")
    assert rc == 125 and fragment in err and api.requests == []


def test_run_detached_prints_id(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/containers/create", Reply(201, {"Id": CID}))
    api.on("POST", f"/containers/{CID}/start", Reply(204))
    rc, out, err = run(capfd, "run", "-d", "--rm", "busybox", "top")
    assert (rc, out) == (0, CID + "\n")
    b = api.find("POST", "/containers/create")[0].json()
    assert not b["AttachStdout"] and not b["AttachStderr"] and b["HostConfig"]["AutoRemove"]


def test_run_attached_streams_and_passes_the_exit_status(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/containers/create", Reply(201, {"Id": CID}))
    api.on("POST", f"/containers/{CID}/attach", Reply(hijack=frame(1, b"out\n") + frame(2, b"err\n")))
    api.on("POST", f"/containers/{CID}/wait", {"StatusCode": 3})
    api.on("POST", f"/containers/{CID}/start", Reply(204))
    rc, out, err = run(capfd, "run", "--rm", "busybox", "sh")
    assert (rc, out, err) == (3, "out\n", "err\n")
    attach = api.find("POST", f"/containers/{CID}/attach")[0]
    assert attach.q("stream") == "1" and attach.q("stdout") == "1" and attach.q("stdin") == "0"
    assert attach.headers["upgrade"] == "tcp"
    assert api.find("POST", f"/containers/{CID}/wait")[0].q("condition") == "removed"
    order = [r.path.rsplit("/", 1)[-1] for r in api.requests]
    assert order.index("attach") < order.index("start") and order.index("wait") < order.index("start")


def test_run_pulls_a_missing_image(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    created = []

    def create(req):
        created.append(req)
        if len(created) == 1:
            return Reply(404, {"message": "No such image: alpine:3"})
        return Reply(201, {"Id": CID})

    api.on("POST", "/containers/create", create)
    api.on("POST", "/images/create", Reply(chunks=[
        b'{"status":"Pulling from library/alpine","id":"3"}\n',
        b'{"status":"Pulling fs layer","progressDetail":{},"id":"abc"}\n',
        b'{"status":"Downloading","progressDetail":{"current":5,"total":10},"progress":"[=>  ]","id":"abc"}\n',
        b'{"status":"Pull complete","progressDetail":{},"id":"abc"}\n',
        b'{"status":"Digest: sha256:123"}\n']))
    api.on("POST", f"/containers/{CID}/start", Reply(204))
    rc, out, err = run(capfd, "run", "-d", "alpine:3")
    assert rc == 0 and out == CID + "\n"
    assert err.startswith("Unable to find image 'alpine:3' locally\n3: Pulling from library/alpine\n")
    assert "abc: Pulling fs layer" in err and "abc: Pull complete" in err and "Downloading" not in err
    pull = api.find("POST", "/images/create")[0]
    assert pull.q("fromImage") == "alpine" and pull.q("tag") == "3"


def test_run_pull_never_and_pull_errors(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/containers/create", Reply(404, {"message": "No such image: nope:latest"}))
    rc, out, err = run(capfd, "run", "--pull", "never", "nope")
    assert rc == 125 and err == ("dockyard: Error response from daemon: No such image: nope:latest\n\n"
                                 "Run 'dockyard run --help' for more information\n")
    rc, out, err = run(capfd, "create", "--pull", "never", "nope")
    assert rc == 1 and err == "Error response from daemon: No such image: nope:latest\n"
    api.on("POST", "/images/create", Reply(404, {"message": "pull access denied for nope"}))
    rc, out, err = run(capfd, "run", "nope")
    assert rc == 125 and "Unable to find image 'nope:latest' locally" in err
    assert "dockyard: Error response from daemon: pull access denied for nope\n\nRun 'dockyard run --help'" in err


@pytest.mark.parametrize("message,status", [
    ('exec: "nosuch": executable file not found in $PATH', 127),
    ("open /x: no such file or directory", 127),
    ("exec /etc: permission denied", 126),
    ("cgroup trouble", 125),
])
def test_start_failures_map_to_docker_statuses(api: FakeAPI, capfd: pytest.CaptureFixture[str], message,
                                               status) -> None:
    api.on("POST", "/containers/create", Reply(201, {"Id": CID}))
    api.on("POST", f"/containers/{CID}/attach", Reply(hijack=b""))
    api.on("POST", f"/containers/{CID}/wait", {"StatusCode": 0})
    api.on("POST", f"/containers/{CID}/start", Reply(400, {"message": message}))
    rc, out, err = run(capfd, "run", "busybox", "nosuch")
    assert rc == status
    assert err == f"dockyard: Error response from daemon: {message}\n\nRun 'dockyard run --help' for more information\n"


def test_cidfile_written_and_refused_when_present(api: FakeAPI, capfd: pytest.CaptureFixture[str], tmp_path) -> None:
    api.on("POST", "/containers/create", Reply(201, {"Id": CID}))
    cidfile = tmp_path / "cid"
    assert run(capfd, "create", "--cidfile", str(cidfile), "busybox")[0] == 0
    assert cidfile.read_text() == CID
    rc, _, err = run(capfd, "create", "--cidfile", str(cidfile), "busybox")
    assert rc == 125 and "container ID file found" in err


# -- container commands -------------------------------------------------------------

def test_ps_query_and_output(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    import time
    api.on("GET", "/containers/json", [
        {"Id": CID, "Names": ["/web", "/other/link"], "Image": "busybox", "Command": "sh -c 'while true; do sleep 1; done'",
         "Created": int(time.time()) - 7200, "State": "running", "Status": "Up 2 hours",
         "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                   {"PrivatePort": 443, "Type": "tcp"}],
         "Labels": {"b": "2", "a": "1"}, "SizeRw": 12, "SizeRootFs": 1200000}])
    rc, out, err = run(capfd, "ps", "-a", "--filter", "status=running", "-f", "label=a=1", "-n", "5")
    assert rc == 0, err
    q = api.requests[-1].query
    assert q["all"] == ["1"] and q["limit"] == ["5"] and json.loads(q["filters"][0]) == {
        "status": ["running"], "label": ["a=1"]}
    lines = out.splitlines()
    assert lines[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert lines[1].startswith(CID[:12] + "   busybox   \"sh -c 'while true; …\"   2 hours ago   Up 2 hours   ")
    assert "0.0.0.0:8080->80/tcp, 443/tcp" in lines[1] and lines[1].endswith("   web")
    rc, out, _ = run(capfd, "ps", "-q")
    assert out == CID[:12] + "\n"
    rc, out, _ = run(capfd, "ps", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Label \"a\"}} {{.Labels}}")
    assert out == f"{CID} web,other/link 1 a=1,b=2\n"
    rc, out, _ = run(capfd, "ps", "--format", "table {{.Names}}\\t{{.State}}")
    assert out == "NAMES     STATE\nweb       running\n"
    rc, out, _ = run(capfd, "ps", "-s")
    assert out.splitlines()[0].endswith("SIZE") and "12B (virtual 1.2MB)" in out
    rc, out, _ = run(capfd, "ps", "--format", "{{json .}}")
    doc = json.loads(out)
    assert doc["ID"] == CID[:12] and doc["Names"] == "web" and doc["Ports"].startswith("0.0.0.0:8080")


def test_ps_bad_template_fails_before_asking(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capfd, "ps", "--format", "{{nosuchfunc .ID}}")
    assert rc == 1 and err == 'failed to parse template: template: :1: function "nosuchfunc" not defined\n'
    assert api.requests == []


def test_ps_uses_config_psformat(api: FakeAPI, capfd: pytest.CaptureFixture[str], tmp_path) -> None:
    cfg = tmp_path / "dockercfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"psFormat": "{{.Names}}!"}))
    api.on("GET", "/containers/json", [{"Id": CID, "Names": ["/web"]}])
    assert run(capfd, "ps")[1] == "web!\n"


def test_lifecycle_commands_send_docker_queries(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    for verb in ("stop", "restart", "kill", "pause", "unpause"):
        api.on("POST", f"/containers/c1/{verb}", Reply(204))
    api.on("POST", "/containers/c2/stop", Reply(404, {"message": "No such container: c2"}))
    api.on("DELETE", "/containers/c1", Reply(204))
    rc, out, err = run(capfd, "stop", "-t", "3", "-s", "SIGINT", "c1", "c2")
    assert rc == 1 and out == "c1\n" and err == "Error response from daemon: No such container: c2\n"
    stop = api.find("POST", "/containers/c1/stop")[0]
    assert stop.q("t") == "3" and stop.q("signal") == "SIGINT"
    assert run(capfd, "kill", "-s", "HUP", "c1")[:2] == (0, "c1\n")
    assert api.find("POST", "/containers/c1/kill")[0].q("signal") == "HUP"
    assert run(capfd, "restart", "c1")[0] == 0 and api.find("POST", "/containers/c1/restart")[0].q("t") is None
    assert run(capfd, "pause", "c1")[0] == 0 and run(capfd, "unpause", "c1")[0] == 0
    assert run(capfd, "rm", "-fv", "c1")[:2] == (0, "c1\n")
    rm = api.find("DELETE", "/containers/c1")[0]
    assert rm.q("force") == "1" and rm.q("v") == "1"
    assert run(capfd, "container", "rm", "c1")[0] == 0


def test_logs_query_and_demux(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/containers/web/json", {"Id": CID, "Config": {"Tty": False}})
    api.on("GET", f"/containers/{CID}/logs", Reply(chunks=[frame(1, b"one\n") + frame(2, b"two\n")[:5],
                                                          frame(2, b"two\n")[5:]]))
    rc, out, err = run(capfd, "logs", "-f", "-t", "--tail", "5", "--since", "2024-01-02T03:04:05Z", "web")
    assert (rc, out, err) == (0, "one\n", "two\n")
    q = api.find("GET", f"/containers/{CID}/logs")[0]
    assert q.q("follow") == "1" and q.q("timestamps") == "1" and q.q("tail") == "5"
    assert q.q("stdout") == "1" and q.q("stderr") == "1" and float(q.q("since")) == 1704164645.0


def test_wait_top_port_rename_diff(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/containers/c1/wait", {"StatusCode": 7})
    assert run(capfd, "wait", "c1")[:2] == (0, "7\n")
    api.on("GET", "/containers/c1/top", {"Titles": ["PID", "CMD"], "Processes": [["1", "sleep 100"]]})
    rc, out, _ = run(capfd, "top", "c1", "-o", "pid,comm")
    assert out == "PID" + " " * 17 + "CMD\n1" + " " * 19 + "sleep 100\n"
    assert api.find("GET", "/containers/c1/top")[0].q("ps_args") == "-o pid,comm"
    api.on("GET", "/containers/c1/json", {"Id": CID, "NetworkSettings": {"Ports": {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
        "53/udp": None}}})
    assert run(capfd, "port", "c1")[1] == "80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n"
    assert run(capfd, "port", "c1", "80")[1] == "0.0.0.0:8080\n[::]:8080\n"
    rc, _, err = run(capfd, "port", "c1", "53/udp")
    assert rc == 1 and "No public port '53/udp' published for c1" in err
    api.on("POST", "/containers/c1/rename", Reply(204))
    assert run(capfd, "rename", "c1", "c2")[0] == 0
    assert api.find("POST", "/containers/c1/rename")[0].q("name") == "c2"
    api.on("GET", "/containers/c1/changes", [{"Kind": 0, "Path": "/etc"}, {"Kind": 1, "Path": "/etc/x"},
                                             {"Kind": 2, "Path": "/tmp/y"}])
    assert run(capfd, "diff", "c1")[1] == "C /etc\nA /etc/x\nD /tmp/y\n"


def test_update_sends_only_given_fields(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/containers/c1/update", {"Warnings": []})
    assert run(capfd, "update", "-m", "256m", "--cpus", "0.5", "--restart", "always", "--pids-limit", "-1",
               "c1")[:2] == (0, "c1\n")
    assert api.requests[-1].json() == {"Memory": 256 << 20, "NanoCpus": 500_000_000, "PidsLimit": -1,
                                       "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}}
    rc, _, err = run(capfd, "update", "c1")
    assert rc == 1 and "you must provide one or more flags" in err


def test_commit_and_export(api: FakeAPI, capfd: pytest.CaptureFixture[str], tmp_path) -> None:
    api.on("POST", "/commit", Reply(201, {"Id": "sha256:" + "b" * 64}))
    rc, out, _ = run(capfd, "commit", "-a", "me", "-m", "msg", "-c", "ENV X=1", "c1", "repo/img:v1")
    assert out == "sha256:" + "b" * 64 + "\n"
    q = api.requests[-1]
    assert (q.q("container"), q.q("repo"), q.q("tag"), q.q("author"), q.q("comment"), q.q("pause")) == \
        ("c1", "repo/img", "v1", "me", "msg", "true")
    assert q.query["changes"] == ["ENV X=1"]
    api.on("GET", "/containers/c1/export", Reply(chunks=[b"tar-part-1", b"tar-part-2"]))
    out_file = tmp_path / "c.tar"
    assert run(capfd, "export", "-o", str(out_file), "c1")[0] == 0
    assert out_file.read_bytes() == b"tar-part-1tar-part-2"


def test_exec_flow(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/containers/c1/json", {"Id": CID, "State": {"Running": True}})
    api.on("POST", "/containers/c1/exec", Reply(201, {"Id": "e1"}))
    api.on("POST", "/exec/e1/start",
           lambda r: Reply(200) if r.json()["Detach"] else Reply(hijack=frame(1, b"hi\n")))
    api.on("GET", "/exec/e1/json", {"ExitCode": 4, "Running": False})
    rc, out, err = run(capfd, "exec", "-e", "A=1", "-u", "nobody", "-w", "/tmp", "c1", "sh", "-c", "echo hi")
    assert (rc, out) == (4, "hi\n")
    body = api.find("POST", "/containers/c1/exec")[0].json()
    assert body["Cmd"] == ["sh", "-c", "echo hi"] and body["Env"] == ["A=1"] and body["User"] == "nobody"
    assert body["WorkingDir"] == "/tmp" and body["AttachStdout"] and not body["AttachStdin"] and not body["Tty"]
    assert api.find("POST", "/exec/e1/start")[0].json() == {"Detach": False, "Tty": False}
    rc, out, err = run(capfd, "exec", "-d", "c1", "sleep", "5")
    assert (rc, out) == (0, "")
    assert api.find("POST", "/exec/e1/start")[-1].json() == {"Detach": True, "Tty": False}
    rc, out, err = run(capfd, "exec", "c1")
    assert rc == 1 and "requires at least 2 arguments" in err


def test_inspect_tries_each_kind(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/networks/front", {"Name": "front", "Id": "n1", "Driver": "bridge"})
    api.on("GET", "/volumes/data", {"Name": "data", "Driver": "local"})
    rc, out, err = run(capfd, "inspect", "--format", "{{.Name}}/{{.Driver}}", "front", "data", "ghost")
    assert rc == 1 and out == "front/bridge\ndata/local\n" and err == "Error: No such object: ghost\n"
    paths = [r.path for r in api.requests]
    assert paths[:4] == ["/containers/front/json", "/images/front/json", "/networks/front", "/containers/data/json"]
    rc, out, _ = run(capfd, "inspect", "--type", "volume", "data")
    assert json.loads(out) == [{"Name": "data", "Driver": "local"}] and out.startswith("[\n    {\n")
    rc, out, err = run(capfd, "inspect", "-f", "{{nope}}", "x")
    assert rc == 1 and err.startswith('template parsing error: template: :1: function "nope" not defined')


def test_cp_from_and_to_a_container(api: FakeAPI, capfd: pytest.CaptureFixture[str], tmp_path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("etc/hostname", b"box\n"),):
            ti = tarfile.TarInfo("hostname")
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    stat = base64.b64encode(json.dumps({"name": "hostname", "size": 4, "mode": 0o644, "mtime": "",
                                        "linkTarget": ""}).encode()).decode()
    api.on("HEAD", "/containers/c1/archive", Reply(200, None, {"X-Docker-Container-Path-Stat": stat}))
    api.on("GET", "/containers/c1/archive", Reply(200, buf.getvalue()))
    assert run(capfd, "cp", "c1:/etc/hostname", str(tmp_path / "h"))[0] == 0
    assert (tmp_path / "h").read_bytes() == b"box\n"
    (tmp_path / "d").mkdir()
    assert run(capfd, "cp", "c1:/etc/hostname", str(tmp_path / "d"))[0] == 0
    assert (tmp_path / "d" / "hostname").read_bytes() == b"box\n"
    # a hostile archive cannot write outside the destination
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tf:
        ti = tarfile.TarInfo("hostname/../../escaped")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    api.on("GET", "/containers/c1/archive", Reply(200, evil.getvalue()))
    rc, _, err = run(capfd, "cp", "c1:/etc/hostname", str(tmp_path / "d" / "new"))
    assert rc == 1 and not (tmp_path / "escaped").exists() and "refusing" in err
    # to the container: a tar of the file, named after the destination, PUT in its parent
    dstat = base64.b64encode(json.dumps({"name": "tmp", "mode": (1 << 31) | 0o755}).encode()).decode()
    api.on("HEAD", "/containers/c1/archive", Reply(200, None, {"X-Docker-Container-Path-Stat": dstat}))
    api.on("PUT", "/containers/c1/archive", Reply(200))
    src = tmp_path / "local.txt"
    src.write_text("payload")
    assert run(capfd, "cp", "-a", str(src), "c1:/tmp")[0] == 0
    put = api.find("PUT", "/containers/c1/archive")[-1]
    assert put.q("path") == "/tmp" and put.q("copyUIDGID") == "true"
    with tarfile.open(fileobj=io.BytesIO(put.body)) as tf:
        assert [m.name for m in tf.getmembers()] == ["local.txt"]
    api.on("HEAD", "/containers/c1/archive", Reply(404))
    assert run(capfd, "cp", str(src), "c1:/tmp/renamed.txt")[0] == 0
    put = api.find("PUT", "/containers/c1/archive")[-1]
    with tarfile.open(fileobj=io.BytesIO(put.body)) as tf:
        assert [m.name for m in tf.getmembers()] == ["renamed.txt"]
    assert put.q("path") == "/tmp"
    rc, _, err = run(capfd, "cp", "a:/x", "b:/y")
    assert rc == 1 and "copying between containers is not supported" in err


def test_container_prune(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/containers/prune", {"ContainersDeleted": ["c1", "c2"], "SpaceReclaimed": 2000})
    rc, out, _ = run(capfd, "container", "prune", "-f", "--filter", "until=24h")
    assert out == "Deleted Containers:\nc1\nc2\n\nTotal reclaimed space: 2kB\n"
    assert json.loads(api.requests[-1].q("filters")) == {"until": ["24h"]}


# -- volumes, networks, system ---------------------------------------------------------

def test_volume_commands(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/volumes/create", Reply(201, {"Name": "data"}))
    assert run(capfd, "volume", "create", "--label", "a=b", "-o", "type=tmpfs", "data")[1] == "data\n"
    assert api.requests[-1].json() == {"Name": "data", "Driver": "local", "DriverOpts": {"type": "tmpfs"},
                                       "Labels": {"a": "b"}}
    api.on("GET", "/volumes", {"Volumes": [{"Name": "zz", "Driver": "local"}, {"Name": "data", "Driver": "local"}],
                               "Warnings": None})
    assert run(capfd, "volume", "ls")[1] == "DRIVER    VOLUME NAME\nlocal     data\nlocal     zz\n"
    assert run(capfd, "volume", "ls", "-q", "-f", "dangling=true")[1] == "data\nzz\n"
    assert json.loads(api.requests[-1].q("filters")) == {"dangling": ["true"]}
    api.on("DELETE", "/volumes/data", Reply(204))
    api.on("DELETE", "/volumes/busy", Reply(409, {"message": "remove busy: volume is in use"}))
    rc, out, err = run(capfd, "volume", "rm", "-f", "data", "busy")
    assert (rc, out) == (1, "data\n") and "volume is in use" in err
    assert api.find("DELETE", "/volumes/data")[0].q("force") == "true"
    api.on("POST", "/volumes/prune", {"VolumesDeleted": ["v1"], "SpaceReclaimed": 0})
    assert run(capfd, "volume", "prune", "-af")[1] == "Deleted Volumes:\nv1\n\nTotal reclaimed space: 0B\n"
    assert json.loads(api.requests[-1].q("filters")) == {"all": ["true"]}


def test_network_commands(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/networks/create", Reply(201, {"Id": "n" * 64, "Warning": ""}))
    rc, out, err = run(capfd, "network", "create", "--subnet", "10.5.0.0/16", "--gateway", "10.5.0.1",
                       "--ip-range", "10.5.1.0/24", "--internal", "-o", "com.docker.network.bridge.name=br5",
                       "--label", "x=y", "net5")
    assert rc == 0, err
    b = api.requests[-1].json()
    assert b["Name"] == "net5" and b["Driver"] == "bridge" and b["Internal"] is True
    assert b["IPAM"] == {"Driver": "default", "Options": {},
                         "Config": [{"Subnet": "10.5.0.0/16", "IPRange": "10.5.1.0/24", "Gateway": "10.5.0.1"}]}
    assert b["Options"] == {"com.docker.network.bridge.name": "br5"} and b["Labels"] == {"x": "y"}
    rc, _, err = run(capfd, "network", "create", "--gateway", "10.9.0.1", "bad")
    assert rc == 1 and "every ip-range or gateway must have a corresponding subnet" in err
    api.on("GET", "/networks", [{"Id": "f" * 64, "Name": "host", "Driver": "host", "Scope": "local"},
                                {"Id": "e" * 64, "Name": "bridge", "Driver": "bridge", "Scope": "local"}])
    assert run(capfd, "network", "ls")[1] == ("NETWORK ID     NAME      DRIVER    SCOPE\n"
                                              f"{'e' * 12}   bridge    bridge    local\n"
                                              f"{'f' * 12}   host      host      local\n")
    api.on("POST", "/networks/net5/connect", Reply(200))
    assert run(capfd, "network", "connect", "--ip", "10.5.1.9", "--alias", "a1", "net5", "c1")[0] == 0
    assert api.requests[-1].json() == {"Container": "c1", "EndpointConfig": {
        "IPAMConfig": {"IPv4Address": "10.5.1.9", "IPv6Address": "", "LinkLocalIPs": None}, "Aliases": ["a1"]}}
    api.on("POST", "/networks/net5/disconnect", Reply(200))
    assert run(capfd, "network", "disconnect", "-f", "net5", "c1")[0] == 0
    assert api.requests[-1].json() == {"Container": "c1", "Force": True}
    api.on("DELETE", "/networks/gone", Reply(404, {"message": "network gone not found"}))
    assert run(capfd, "network", "rm", "-f", "gone")[0] == 0
    assert run(capfd, "network", "rm", "gone")[0] == 1
    api.on("POST", "/networks/prune", {"NetworksDeleted": ["net5"]})
    assert run(capfd, "network", "prune", "-f")[1] == "Deleted Networks:\nnet5\n"


def test_version_info_events_df(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/version", {"Version": "9.9", "ApiVersion": "1.45", "MinAPIVersion": "1.24", "Os": "linux",
                               "Arch": "amd64", "Platform": {"Name": "Engine X"},
                               "Components": [{"Name": "runtime", "Version": "1.0", "Details": {"GitCommit": "x"}}]})
    rc, out, _ = run(capfd, "version")
    assert "Server: Engine X" in out and "  API version:      1.45 (minimum version 1.24)" in out
    assert " runtime:\n  Version:          1.0\n" in out
    assert run(capfd, "version", "--format", "{{.Server.Version}} {{.Client.APIVersion}}")[1] == "9.9 1.45\n"
    api.on("GET", "/info", {"Containers": 2, "ContainersRunning": 1, "Images": 3, "MemTotal": 2**30,
                            "NCPU": 2, "Driver": "overlay2", "SecurityOptions": ["name=seccomp,profile=builtin"]})
    rc, out, _ = run(capfd, "info")
    assert " Containers: 2\n  Running: 1\n" in out and " Total Memory: 1GiB\n" in out and "   Profile: builtin" in out
    assert run(capfd, "info", "-f", "{{.NCPU}}")[1] == "2\n"
    api.on("GET", "/events", Reply(chunks=[
        json.dumps({"Type": "container", "Action": "start", "Actor": {"ID": "c1", "Attributes": {
            "name": "web", "image": "busybox"}}, "time": 1700000000, "timeNano": 1700000000123456789}).encode() + b"\n"]))
    rc, out, _ = run(capfd, "events", "--since", "1700000000", "--until", "1700000001", "-f", "type=container")
    assert out.endswith(".123456789" + out.split(".123456789")[1])
    assert "container start c1 (image=busybox, name=web)" in out
    q = api.requests[-1]
    assert q.q("since") == "1700000000" and json.loads(q.q("filters")) == {"type": ["container"]}
    assert run(capfd, "events", "--format", "{{.Action}} {{.Actor.Attributes.name}}")[1] == "start web\n"
    api.on("GET", "/system/df", {"LayersSize": 1000, "Images": [{"Size": 1000, "SharedSize": 0, "Containers": 1}],
                                 "Containers": [{"SizeRw": 10, "State": "exited"}],
                                 "Volumes": [{"UsageData": {"Size": 5, "RefCount": 0}}], "BuildCache": []})
    rc, out, _ = run(capfd, "system", "df")
    assert out == ("TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
                   "Images          1         1         1kB       0B (0%)\n"
                   "Containers      1         0         10B       10B (100%)\n"
                   "Local Volumes   1         0         5B        5B (100%)\n"
                   "Build Cache     0         0         0B        0B\n")


def test_daemon_errors_and_missing_daemon(api: FakeAPI, capfd: pytest.CaptureFixture[str], monkeypatch,
                                          tmp_path) -> None:
    api.on("GET", "/containers/nope/json", Reply(404, {"message": "No such container: nope"}))
    rc, out, err = run(capfd, "logs", "nope")
    assert (rc, err) == (1, "Error response from daemon: No such container: nope\n")
    monkeypatch.setenv("DOCKYARD_HOST", f"unix://{tmp_path}/none.sock")
    rc, out, err = run(capfd, "ps")
    assert rc == 1 and err.count("\n") == 1
    assert err.startswith(f"Cannot connect to the Dockyard daemon at unix://{tmp_path}/none.sock.")
    assert "dockyardd" in err


def test_host_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.cli.main import client
    monkeypatch.delenv("DOCKYARD_HOST", raising=False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///from/docker")
    assert client({}).host == "unix:///from/docker"
    monkeypatch.setenv("DOCKYARD_HOST", "unix:///from/dockyard")
    assert client({}).host == "unix:///from/dockyard"
    assert client({"host": "tcp://10.0.0.1"}).host == "tcp://10.0.0.1:2375"
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", "/nonexistent")
    c = client({"host": "tcp://10.0.0.1"})
    assert c.host == "tcp://10.0.0.1:2376" and c.transport.tls is not None
    assert c.transport.tls.verify_mode.name == "CERT_REQUIRED"
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    c = client({"host": "tcp://10.0.0.1:1234", "tls": True})
    assert c.transport.tls is not None and c.transport.tls.verify_mode.name == "CERT_NONE"


def test_login_then_pull_sends_the_stored_credentials(api: FakeAPI, capfd: pytest.CaptureFixture[str],
                                                       tmp_path, monkeypatch) -> None:
    api.on("POST", "/auth", {"Status": "Login Succeeded"})
    rc, out, err = subprocess_cli(api, ["login", "-u", "me", "--password-stdin", "localhost:5000"], b"s3cret\n",
                                  tmp_path)
    assert rc == 0 and out == "Login Succeeded\n" and "stored unencrypted" in err
    cfg = json.loads((tmp_path / "dockercfg" / "config.json").read_text())
    assert cfg["auths"]["localhost:5000"]["auth"] == base64.b64encode(b"me:s3cret").decode()
    assert json.loads(api.requests[-1].body) == {"username": "me", "password": "s3cret",
                                                 "serveraddress": "localhost:5000"}
    # run pulls a missing image with the credentials config.json holds for its registry
    created = []
    api.on("POST", "/containers/create", lambda r: created.append(r) or (
        Reply(404, {"message": "No such image: localhost:5000/app:1"}) if len(created) == 1 else Reply(201, {"Id": CID})))
    api.on("POST", "/images/create", Reply(chunks=[b'{"status":"Downloaded"}\n']))
    api.on("POST", f"/containers/{CID}/start", Reply(204))
    rc, out, err = run(capfd, "--config", str(tmp_path / "dockercfg"), "run", "-d", "localhost:5000/app:1")
    assert rc == 0, err
    auth = json.loads(base64.urlsafe_b64decode(api.find("POST", "/images/create")[0].headers["x-registry-auth"]))
    assert auth["username"] == "me" and auth["password"] == "s3cret"
    rc, out, _ = subprocess_cli(api, ["logout", "localhost:5000"], b"", tmp_path)
    assert out == "Removing login credentials for localhost:5000\n"
    assert json.loads((tmp_path / "dockercfg" / "config.json").read_text())["auths"] == {}


def subprocess_cli(api: FakeAPI, argv: list[str], stdin: bytes, tmp_path) -> tuple[int, str, str]:
    env = dict(os.environ, DOCKYARD_HOST=api.host, DOCKER_CONFIG=str(tmp_path / "dockercfg"))
    res = subprocess.run([sys.executable, "-m", "dockyard.cli.main", *argv], input=stdin, capture_output=True,
                         env=env, timeout=60)
    return res.returncode, res.stdout.decode(), res.stderr.decode()


def test_use_api_socket_mounts_the_daemon_socket(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.on("POST", "/containers/create", Reply(201, {"Id": CID}))
    assert run(capfd, "create", "--use-api-socket", "-v", "/a:/b", "busybox")[0] == 0
    hc = api.requests[-1].json()["HostConfig"]
    assert hc["Mounts"] == [{"Type": "bind", "Source": api.path, "Target": "/var/run/docker.sock"}]
    assert hc["Binds"] == ["/a:/b"]
    rc, _, err = run(capfd, "-H", "tcp://127.0.0.1:1", "create", "--use-api-socket", "busybox")
    assert rc == 125 and "not a Unix socket" in err
