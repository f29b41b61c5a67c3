"""The dockyard CLI driven as a user drives it, against a real dockyardd."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pexpect
import pytest

from _support.paths import binary


def out(res: subprocess.CompletedProcess[bytes]) -> str:
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout.decode()


def test_run_options_reach_the_container(daemon, tmp_path) -> None:
    envfile = tmp_path / "env"
    envfile.write_text("FROM_FILE=yes\n# comment\n")
    res = daemon.cli("run", "--rm", "-e", "GREETING=hi", "--env-file", str(envfile), "-w", "/tmp", "-u", "1:2",
                     "-h", "boxname", "busybox", "sh", "-c",
                     'echo "$GREETING $FROM_FILE $(pwd) $(id -u):$(id -g) $(hostname)"')
    assert out(res) == "hi yes /tmp 1:2 boxname\n"
    res = daemon.cli("run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint")
    assert out(res) == "from entrypoint\n"


def test_exit_statuses_follow_docker(daemon) -> None:
    assert daemon.cli("run", "--rm", "busybox", "sh", "-c", "exit 42").returncode == 42
    res = daemon.cli("run", "--rm", "busybox", "/nonexistent")
    assert res.returncode == 127 and res.stderr.decode().startswith("dockyard: Error response from daemon: ")
    res = daemon.cli("run", "--rm", "busybox", "/etc")
    assert res.returncode == 126, res.stderr
    res = daemon.cli("run", "--rm", "--bogus-flag", "busybox")
    assert res.returncode == 125 and b"unknown flag: --bogus-flag" in res.stderr
    res = daemon.cli("run", "--rm", "no-such-image-here")
    assert res.returncode == 125 and b"Unable to find image 'no-such-image-here:latest' locally" in res.stderr
    assert b"Run 'dockyard run --help' for more information" in res.stderr
    assert daemon.cli("ps", "-aq").stdout == b""


def test_detached_container_lifecycle_and_listing(daemon, tmp_path) -> None:
    cidfile = tmp_path / "cid"
    cid = out(daemon.cli("run", "-d", "--name", "lister", "--label", "role=test", "--cidfile", str(cidfile),
                         "busybox", "sh", "-c", "trap 'exit 0' TERM; echo started; while :; do sleep 0.1; done"))
    cid = cid.strip()
    assert len(cid) == 64 and cidfile.read_text() == cid
    try:
        listing = out(daemon.cli("ps")).splitlines()
        assert listing[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
        row = next(line for line in listing if line.endswith("lister"))
        assert row.startswith(cid[:12] + "   busybox   \"sh -c trap 'exit 0'…\"   ")
        assert "Up " in row
        assert out(daemon.cli("ps", "-q", "--filter", "label=role=test")) == cid[:12] + "\n"
        assert out(daemon.cli("ps", "--no-trunc", "-q", "-f", "name=lister")) == cid + "\n"
        assert out(daemon.cli("ps", "--format", "{{.Names}} {{.Label \"role\"}} {{.State}}")) .strip() == \
            "lister test running"
        doc = json.loads(out(daemon.cli("ps", "--format", "json")).splitlines()[0])
        assert doc["Names"] == "lister" and doc["Image"] == "busybox" and doc["State"] == "running"
        assert out(daemon.cli("container", "ls", "-l", "--format", "{{.ID}}")) == cid[:12] + "\n"
        assert out(daemon.cli("inspect", "-f", "{{.State.Status}} {{.Config.Labels.role}} {{json .Config.Cmd}}",
                              "lister")) == 'running test ["sh","-c","trap \'exit 0\' TERM; echo started; ' \
                                            'while :; do sleep 0.1; done"]\n'
        assert out(daemon.cli("container", "inspect", "--format", "{{.Name}}", cid[:12])) == "/lister\n"
        for _ in range(100):
            if daemon.cli("logs", "lister").stdout == b"started\n":
                break
            time.sleep(0.1)
        assert out(daemon.cli("logs", "--tail", "1", "lister")) == "started\n"
        stamped = out(daemon.cli("logs", "-t", "lister"))
        assert stamped.endswith(" started\n") and stamped[:4].isdigit() and "T" in stamped.split()[0]
        assert out(daemon.cli("stop", "-t", "5", "lister")) == "lister\n"
        assert out(daemon.cli("wait", "lister")) == "0\n"
        assert "Exited (0)" in out(daemon.cli("ps", "-a", "--filter", "name=lister"))
    finally:
        daemon.cli("rm", "-f", "lister")
    res = daemon.cli("rm", "lister")
    assert res.returncode == 1 and res.stderr.decode().startswith("Error response from daemon: ")


def test_logs_follow_streams_until_exit(daemon) -> None:
    daemon.cli("run", "-d", "--name", "follower", "busybox", "sh", "-c",
               "for i in 1 2 3; do echo line$i; sleep 0.2; done", check=True)
    try:
        res = daemon.cli("logs", "-f", "follower", timeout=60)
        assert out(res) == "line1\nline2\nline3\n"
    finally:
        daemon.cli("rm", "-f", "follower")


def test_kill_rm_several_and_errors_for_some(daemon) -> None:
    for n in ("k1", "k2"):
        daemon.cli("run", "-d", "--name", n, "busybox", "sleep", "60", check=True)
    res = daemon.cli("kill", "k1", "ghost", "k2")
    assert res.stdout == b"k1\nk2\n" and res.returncode == 1
    assert res.stderr.decode().startswith("Error response from daemon: ") and "ghost" in res.stderr.decode()
    assert out(daemon.cli("rm", "-f", "k1", "k2")) == "k1\nk2\n"


def test_stdin_and_stdout_separation(daemon) -> None:
    res = daemon.cli("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo to-err >&2", input=b"piped in\n")
    assert (res.returncode, res.stdout, res.stderr) == (0, b"piped in\n", b"to-err\n")


def test_inspect_any_object_and_missing_ones(daemon) -> None:
    doc = json.loads(out(daemon.cli("inspect", "busybox")))
    assert isinstance(doc, list) and doc[0]["Id"].startswith("sha256:")
    assert out(daemon.cli("inspect", "--type", "image", "-f", "{{.Id}}", "busybox")).startswith("sha256:")
    res = daemon.cli("inspect", "nothing-by-this-name")
    assert res.returncode == 1 and res.stderr == b"Error: No such object: nothing-by-this-name\n"
    assert res.stdout == b"[]\n"
    res = daemon.cli("inspect", "-f", "{{nosuch .}}", "busybox")
    assert res.returncode == 1 and b'function "nosuch" not defined' in res.stderr


def test_version_info_events(daemon) -> None:
    v = out(daemon.cli("version"))
    assert v.startswith("Client:\n Version:") and "\nServer: " in v and "API version:      1.45" in v
    assert out(daemon.cli("version", "--format", "{{.Server.APIVersion}}")) == "1.45\n"
    assert "Containers:" in out(daemon.cli("info")) and out(daemon.cli("info", "-f", "{{.OSType}}")) == "linux\n"
    since = str(int(time.time()) - 1)
    daemon.cli("run", "--rm", "--name", "eventful", "busybox", "true", check=True)
    until = str(int(time.time()) + 1)
    res = daemon.cli("events", "--since", since, "--until", until, "--filter", "container=eventful",
                     "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}", timeout=30)
    lines = out(res).splitlines()
    assert "container start eventful" in lines and "container die eventful" in lines
    plain = out(daemon.cli("events", "--since", since, "--until", until, "-f", "event=start", timeout=30))
    assert " container start " in plain and "name=eventful" in plain


def test_help_and_completion_as_shipped() -> None:
    res = subprocess.run([binary("dockyard"), "run", "--help"], capture_output=True)
    assert res.returncode == 0 and res.stdout.startswith(b"Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]")
    res = subprocess.run([binary("dockyard"), "container", "frob"], capture_output=True)
    assert res.returncode == 1 and b"unknown command: dockyard container frob" in res.stderr


@pytest.mark.skipif(not shutil.which("bash"), reason="bash is not installed")
def test_completion_lists_containers_from_the_daemon(daemon) -> None:
    daemon.cli("create", "--name", "completable", "busybox", "true", check=True)
    try:
        script = out(daemon.cli("completion", "bash"))
        prog = (script + "\nCOMP_WORDS=(dockyard start comp); COMP_CWORD=2; _dockyard; "
                'printf "%s\\n" "${COMPREPLY[@]}"')
        env = daemon.env()
        env["PATH"] = os.path.dirname(binary("dockyard")) + ":" + env.get("PATH", "")
        res = subprocess.run([shutil.which("bash"), "-c", prog], capture_output=True, env=env, timeout=30)
        assert res.stdout.decode().split() == ["completable"], res.stderr
    finally:
        daemon.cli("rm", "completable")


def test_missing_daemon_says_how_to_start_it(tmp_path) -> None:
    env = dict(os.environ, DOCKYARD_HOST=f"unix://{tmp_path}/no.sock")
    for argv in (["ps"], ["version"], ["run", "--rm", "busybox"]):
        res = subprocess.run([binary("dockyard"), *argv], capture_output=True, env=env)
        err = res.stderr.decode()
        assert res.returncode != 0
        lines = [line for line in err.splitlines() if line]
        assert "Cannot connect to the Dockyard daemon at unix://" in lines[-1] and "dockyardd" in lines[-1]
        assert len([line for line in lines if "Cannot connect" in line]) == 1


# -- TLS ------------------------------------------------------------------------------

def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def certs(tmp_path) -> str:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    d = str(tmp_path)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=test-ca", cwd=d)
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "client.cnf"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, ext in (("server", "san.cnf"), ("cert", "client.cnf")):
        key = "key.pem" if name == "cert" else f"{name}-key.pem"
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", f"{name}.csr", "-subj", f"/CN={name}",
                 cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", ext, cwd=d)
    return d


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_with_tls_verification(fresh_daemon, certs) -> None:
    port = _free_port()
    host = f"tcp://127.0.0.1:{port}"
    d = fresh_daemon("-H", host, "--tlsverify", "--tlscacert", f"{certs}/ca.pem", "--tlscert",
                     f"{certs}/server.pem", "--tlskey", f"{certs}/server-key.pem", busybox=False)
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_HOST", "DOCKER_HOST", "DOCKER_TLS_VERIFY",
                                                            "DOCKER_CERT_PATH")}
    dy = binary("dockyard")
    res = subprocess.run([dy, "-H", host, "--tlsverify", "--tlscacert", f"{certs}/ca.pem", "--tlscert",
                          f"{certs}/cert.pem", "--tlskey", f"{certs}/key.pem", "version", "-f",
                          "{{.Server.APIVersion}}"], capture_output=True, env=env, timeout=60)
    assert (res.returncode, res.stdout) == (0, b"1.45\n"), res.stderr
    # docker's environment: DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)
    env2 = dict(env, DOCKER_HOST=host, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=certs)
    res = subprocess.run([dy, "ps", "-a"], capture_output=True, env=env2, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith(b"CONTAINER ID"), res.stderr
    # without a client certificate the daemon refuses; without TLS the client cannot talk to it
    res = subprocess.run([dy, "-H", host, "--tlsverify", "--tlscacert", f"{certs}/ca.pem", "--tlscert",
                          f"{certs}/nope.pem", "ps"], capture_output=True, env=env, timeout=60)
    assert res.returncode == 1 and b"nope.pem" in res.stderr
    res = subprocess.run([dy, "-H", host, "ps"], capture_output=True, env=env, timeout=60)
    assert res.returncode == 1 and res.stderr.count(b"\n") == 1
    # a server certificate from another CA fails verification
    res = subprocess.run([dy, "-H", host, "--tlsverify", "--tlscacert", f"{certs}/cert.pem", "--tlscert",
                          f"{certs}/cert.pem", "--tlskey", f"{certs}/key.pem", "ps"],
                         capture_output=True, env=env, timeout=60)
    assert res.returncode == 1 and b"certificate verify failed" in res.stderr
    del d


def test_pull_and_push_progress_on_a_terminal_and_in_a_pipe(daemon) -> None:
    """Per-layer lines redrawn in place on a terminal; plain status lines otherwise."""
    from _support.registry_server import DockyardRegistry
    registry = DockyardRegistry().start()
    try:
        ref = f"{registry.host}/cli/busybox:progress"
        assert daemon.cli("tag", "busybox:latest", ref).returncode == 0
        child = pexpect.spawn(binary("dockyard"), ["push", ref], env=daemon.env(), dimensions=(40, 120),
                              encoding="utf-8", timeout=180)
        child.expect(pexpect.EOF, timeout=180)
        shown = child.before
        child.close()
        assert child.exitstatus == 0, shown
        assert "\x1b[2K" in shown and "Pushed" in shown  # cursor-addressed layer lines
        assert daemon.cli("rmi", ref).returncode == 0
        child = pexpect.spawn(binary("dockyard"), ["pull", ref], env=daemon.env(), dimensions=(40, 120),
                              encoding="utf-8", timeout=180)
        child.expect(pexpect.EOF, timeout=180)
        shown = child.before
        child.close()
        assert child.exitstatus == 0, shown
        # the layers are the local busybox's: "Already exists" rather than a download
        assert "\x1b[2K" in shown and "Already exists" in shown and shown.rstrip().endswith(ref)
        assert daemon.cli("rmi", ref).returncode == 0
        res = daemon.cli("pull", ref, timeout=180)
        text = res.stdout.decode()
        assert res.returncode == 0 and "\x1b[" not in text, res.stderr
        assert ": Already exists\n" in text and "Downloading" not in text and text.rstrip().endswith(ref)
    finally:
        daemon.cli("rmi", f"{registry.host}/cli/busybox:progress")
        registry.teardown()
