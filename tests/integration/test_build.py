"""Builds through POST /build on a real daemon: multi-stage Dockerfiles on
busybox, the cache, .dockerignore, heredocs, ARG/ENV, metadata and
history, RUN --mount, ADD, errors and what they leave behind."""

from __future__ import annotations

import gzip
import http.server
import io
import socket
import tarfile
import threading
import time

import pytest

from _support.build import Result, build, context_tar, image_config, image_files, layer_members, leftovers


def ok(res: Result) -> Result:
    assert res.status == 200 and not res.error, f"build failed: {res.error}\n{res.text}"
    assert res.image_id.startswith("sha256:")
    return res


def test_multistage_generates_and_copies(daemon) -> None:
    df = """\
ARG BASE=busybox
FROM $BASE AS gen
WORKDIR /work
RUN for i in 1 2 3 4; do seq $i > n$i.txt; done \\
 && echo "total $(cat n*.txt | wc -l)" > summary && ln -s summary link
FROM busybox AS never
RUN exit 1
FROM 0 AS by-index
FROM ${BASE}:latest
COPY --from=gen /work/n2.txt /work/summary /out/
COPY --from=0 /work/n*.txt /all/
COPY --from=by-index /work/summary /via-index
COPY --from=gen /work/link /linked
CMD ["cat", "/out/summary"]
"""
    res = ok(build(daemon, {"Dockerfile": df}, t="ms:1"))
    assert "Step 10/10 : CMD" in res.text and "exit 1" not in res.text  # the unused stage is skipped
    fs = image_files(daemon, "ms:1")
    assert fs["out/summary"] == b"total 10\n" and fs["out/n2.txt"] == b"1\n2\n"
    assert sorted(k for k in fs if k.startswith("all/")) == ["all/n1.txt", "all/n2.txt", "all/n3.txt", "all/n4.txt"]
    assert fs["linked"] == b"total 10\n"  # an explicitly named symlink source is followed
    assert fs["via-index"] == b"total 10\n"  # FROM 0: a stage by its index
    run = daemon.cli("run", "--rm", "ms:1")
    assert run.returncode == 0 and run.stdout == b"total 10\n"
    # Only the final stage's layers: busybox's plus the four COPY layers.
    cfg = image_config(daemon, "ms:1")
    assert len(cfg["rootfs"]["diff_ids"]) == 5
    assert cfg["history"][-1] == {"created": cfg["history"][-1]["created"],
                                  "created_by": '/bin/sh -c #(nop)  CMD ["cat" "/out/summary"]', "empty_layer": True}
    assert cfg["history"][-2]["created_by"].startswith("/bin/sh -c #(nop) COPY file:")
    assert cfg["history"][-4]["created_by"].startswith("/bin/sh -c #(nop) COPY multi:")
    assert res.image_id == daemon.client().image_inspect("ms:1")["Id"]


def test_cache_hits_and_invalidation(daemon) -> None:
    df = "FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCOPY b.txt /b.txt\n"
    first = ok(build(daemon, {"Dockerfile": df, "a.txt": "a1", "b.txt": "b1"}, t="cache:1"))
    assert first.runs == 2 and first.cached_steps == 0
    again = ok(build(daemon, {"Dockerfile": df, "a.txt": "a1", "b.txt": "b1"}, t="cache:1"))
    assert again.runs == 0 and again.cached_steps == 4 and again.image_id == first.image_id
    # A new mtime with the same content is still a hit (content, not times, is the key).
    touched = ok(build(daemon, context_tar({"Dockerfile": df, "a.txt": "a1", "b.txt": "b1"}, mtime=1_700_000_000)))
    assert touched.cached_steps == 4
    b_changed = ok(build(daemon, {"Dockerfile": df, "a.txt": "a1", "b.txt": "b2"}))
    assert b_changed.cached_steps == 3 and b_changed.runs == 0
    a_changed = ok(build(daemon, {"Dockerfile": df, "a.txt": "a2", "b.txt": "b1"}))
    assert a_changed.cached_steps == 1 and a_changed.runs == 1  # from the first step using a.txt on
    assert "Step 3/5 : COPY a.txt /a.txt\n ---> " in a_changed.text
    assert "Step 3/5 : COPY a.txt /a.txt\n ---> Using cache" not in a_changed.text
    fresh = ok(build(daemon, {"Dockerfile": df, "a.txt": "a1", "b.txt": "b1"}, nocache=1))
    assert fresh.cached_steps == 0 and fresh.runs == 2 and fresh.image_id != first.image_id
    assert image_files(daemon, fresh.image_id)["copy"] == b"a1"


def _context_reuse(daemon) -> tuple[int, int]:
    """(members taken from an earlier upload, members) of the last build, from the daemon's debug log."""
    import re
    found = re.findall(r"(\d+) of (\d+) members as an earlier upload's", daemon.log())
    assert found, "no build context line in the daemon's log"
    return int(found[-1][0]), int(found[-1][1])


def test_rebuilds_of_a_big_context_reuse_its_index_and_still_see_changes(daemon) -> None:
    """A context of a few MB sent again: the daemon takes the earlier
    upload's index for the bytes that are the same (all of them: every step
    a hit, nothing scanned), and a changed file, same size or not, still
    misses from the first step that copies it, with its new content."""
    import random
    rnd = random.Random(7)
    early = {f"early/f{i:03d}.bin": rnd.randbytes(9000 + i) for i in range(120)}
    late = {f"late/g{i:03d}.bin": rnd.randbytes(9000 + i) for i in range(120)}
    df = "FROM busybox\nCOPY early/ /early/\nCOPY late/ /late/\nRUN cat /late/g100.bin /early/f010.bin | md5sum > /sum\n"
    files = {"Dockerfile": df, ".dockerignore": "early/f11*\n", **early, **late}
    first = ok(build(daemon, files, t="bigctx:1"))
    assert first.runs == 1
    again = ok(build(daemon, files, t="bigctx:1"))
    assert again.cached_steps == 3 and again.image_id == first.image_id
    reused, members = _context_reuse(daemon)
    assert reused == members > 240
    late_changed = dict(files, **{"late/g100.bin": rnd.randbytes(9100)})  # same size, other bytes
    res = ok(build(daemon, late_changed))
    assert res.cached_steps == 1 and res.runs == 1  # COPY early/ only
    reused, members = _context_reuse(daemon)
    assert 0 < reused < members
    fs = image_files(daemon, res.image_id)
    assert fs["late/g100.bin"] == late_changed["late/g100.bin"] and fs["early/f010.bin"] == early["early/f010.bin"]
    assert "early/f110.bin" not in fs and "early/f100.bin" in fs  # .dockerignore as before
    early_grown = dict(files, **{"early/f005.bin": b"longer" * 3000})  # every later offset moves
    res = ok(build(daemon, early_grown))
    assert res.cached_steps == 0 and res.runs == 1
    fs = image_files(daemon, res.image_id)
    assert fs["early/f005.bin"] == b"longer" * 3000 and fs["late/g100.bin"] == late["late/g100.bin"]
    assert fs["late/g119.bin"] == late["late/g119.bin"] and "early/f111.bin" not in fs


def test_dockerignore_and_per_dockerfile_ignore(daemon) -> None:
    files = {
        "Dockerfile": "FROM busybox\nCOPY . /ctx/\n",
        ".dockerignore": "*.log\n!keep.log\nsecret/\n**/*.tmp\nDockerfile\n",
        "app.py": "print()\n", "drop.log": "x", "keep.log": "k", "secret/key": "s", "src/a.tmp": "t",
        "src/deep/b.tmp": "t", "src/main.c": "int main;",
        "sub/app.Dockerfile": "FROM busybox\nCOPY . /ctx/\n",
        "sub/app.Dockerfile.dockerignore": "src\n*.py\n",
    }
    ok(build(daemon, files, t="ign:1"))
    got = sorted(k for k in image_files(daemon, "ign:1") if k.startswith("ctx/"))
    assert got == ["ctx/.dockerignore", "ctx/app.py", "ctx/keep.log", "ctx/src", "ctx/src/deep", "ctx/src/main.c",
                   "ctx/sub", "ctx/sub/app.Dockerfile", "ctx/sub/app.Dockerfile.dockerignore"]
    # The Dockerfile's own ignore file replaces .dockerignore.
    ok(build(daemon, files, t="ign:2", dockerfile="sub/app.Dockerfile"))
    got = sorted(k for k in image_files(daemon, "ign:2") if k.startswith("ctx/"))
    assert "ctx/src" not in got and "ctx/app.py" not in got and "ctx/drop.log" in got and "ctx/secret/key" in got
    res = build(daemon, dict(files, Dockerfile="FROM busybox\nCOPY drop.log /\n"))
    assert res.error == ("COPY failed: file not found in build context or excluded by .dockerignore: "
                         "stat drop.log: file does not exist")


def test_heredocs_args_and_env(daemon) -> None:
    df = """\
ARG GREETING=hello
FROM busybox
ARG GREETING
ARG WHO
ENV WHO=${WHO:-nobody} EMPTY=
ENV MSG="$GREETING ${WHO}" ALT=${EMPTY:+set}${UNSET:-dflt}
RUN <<EOF
echo "heredoc sees $MSG" > /run.txt
EOF
RUN <<-EOT sh
\techo tabs stripped > /tabs.txt
\tEOT
COPY <<EOF /copied.txt
$GREETING from ${WHO}
EOF
COPY <<"EOF" /literal.txt
$GREETING
EOF
RUN <<EOF
#!/bin/sh
echo "shebang $0" > /shebang.txt
EOF
WORKDIR ${MSG:+/w}/sub
"""
    res = ok(build(daemon, {"Dockerfile": df}, t="here:1", buildargs={"WHO": "builder", "UNUSED": "x"}))
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in res.text
    fs = image_files(daemon, "here:1")
    assert fs["run.txt"] == b"heredoc sees hello builder\n"
    assert fs["tabs.txt"] == b"tabs stripped\n"
    assert fs["copied.txt"] == b"hello from builder\n" and fs["literal.txt"] == b"$GREETING\n"
    assert fs["shebang.txt"] == b"shebang /dev/pipes/EOF\n"
    assert "w/sub" in fs and "dev" not in {k.split("/")[0] for k in fs if k.startswith("dev/pipes")}
    cfg = image_config(daemon, "here:1")["config"]
    assert {"WHO=builder", "EMPTY=", "MSG=hello builder", "ALT=dflt"} <= set(cfg["Env"])
    assert cfg["WorkingDir"] == "/w/sub"
    # ARG values reach RUN and its history/cache key as docker writes them.
    res = ok(build(daemon, {"Dockerfile": "FROM busybox\nARG V=1\nRUN echo v=$V\n"}, buildargs={"V": "2"}))
    assert "v=2\n" in res.text
    hist = image_config(daemon, res.image_id)["history"]
    assert hist[-1]["created_by"] == "|1 V=2 /bin/sh -c echo v=$V"
    assert hist[-2]["created_by"] == "/bin/sh -c #(nop)  ARG V=1" and hist[-2]["empty_layer"]


def test_metadata_instructions_and_onbuild(daemon) -> None:
    parent = """\
FROM busybox
MAINTAINER someone
LABEL a=1 "b c"="two words"
ENV PATH=/opt/bin:$PATH
EXPOSE 80 53/udp 8000-8001
VOLUME ["/data", "/logs"]
USER nobody
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo"]
CMD hello
ONBUILD ENV TRIGGERED=yes
"""
    ok(build(daemon, {"Dockerfile": parent}, t="meta:1", labels={"built.by": "test"}))
    full = image_config(daemon, "meta:1")
    cfg = full["config"]
    assert full["author"] == "someone"
    assert cfg["Labels"] == {"a": "1", "b c": "two words", "built.by": "test"}
    base_path = dict(e.split("=", 1) for e in image_config(daemon, "busybox")["config"].get("Env") or []).get("PATH", "")
    assert "PATH=/opt/bin:" + base_path in cfg["Env"]
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert cfg["Volumes"] == {"/data": {}, "/logs": {}} and cfg["User"] == "nobody" and cfg["StopSignal"] == "SIGINT"
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost || exit 1"], "Interval": 5_000_000_000,
                                  "Timeout": 2_000_000_000, "Retries": 4}
    assert cfg["Shell"] == ["/bin/sh", "-ec"] and cfg["Entrypoint"] == ["/bin/echo"]
    assert cfg["Cmd"] == ["/bin/sh", "-ec", "hello"] and cfg["OnBuild"] == ["ENV TRIGGERED=yes"]
    assert all(h.get("empty_layer") for h in full["history"][1:])
    child = ok(build(daemon, {"Dockerfile": "FROM meta:1\nRUN test \"$TRIGGERED\" = yes\n"}, t="meta:2"))
    assert "# Executing 1 build trigger" in child.text
    ccfg = image_config(daemon, "meta:2")["config"]
    assert "TRIGGERED=yes" in ccfg["Env"] and not ccfg.get("OnBuild")


def test_errors_fail_with_docker_messages_and_leave_nothing(daemon) -> None:
    before = {c["Id"] for c in daemon.client().container_list(all_=True)}
    res = build(daemon, {"Dockerfile": "FROM busybox\n  RUNN echo\n"})
    assert res.status == 400
    assert res.error == "dockerfile parse error on line 2, column 3: unknown instruction: RUNN (did you mean run?)"
    res = build(daemon, {"Dockerfile": "FROM busybox\nRUN <<EOF\necho\n"})
    assert res.status == 400 and "line 2, column 1: unterminated heredoc EOF" in res.error
    res = build(daemon, {"Dockerfile": "FROM busybox\nENV A=${B\n"})
    assert "line 2" in res.error and "matching }" in res.error
    res = build(daemon, {"Dockerfile": "FROM busybox\nCOPY nope.txt /\n"})
    assert res.status == 200 and res.error == ("COPY failed: file not found in build context or excluded by "
                                               ".dockerignore: stat nope.txt: file does not exist")
    failing = {"Dockerfile": "FROM busybox\nRUN echo partial > /x\nRUN echo bad; echo worse >&2; exit 7\n"}
    res = build(daemon, failing)
    msg = "The command '/bin/sh -c echo bad; echo worse >&2; exit 7' returned a non-zero code: 7"
    assert res.code == 7 and res.error == msg and "bad\nworse\n" in res.text
    # Quiet: nothing was streamed, so it is an HTTP error (as docker's), with the output's last lines.
    res = build(daemon, failing, q=1)
    assert res.status == 500 and res.error == "bad\nworse\n" + msg
    res = build(daemon, {"Dockerfile": "FROM busybox\nUSER nosuchuser\nRUN true\n"})
    assert "unable to find user nosuchuser" in res.error
    res = build(daemon, {"Dockerfile": "FROM nosuch/image:here\n"})
    assert res.error and res.image_id == ""
    assert leftovers(daemon) == []
    assert {c["Id"] for c in daemon.client().container_list(all_=True)} == before


def test_run_mounts_and_network(daemon) -> None:
    df = """\
FROM busybox
RUN --mount=type=cache,target=/cache,id=counter echo run >> /cache/log && wc -l < /cache/log > /count
RUN --mount=type=bind,source=data,target=/data cat /data/x > /fromctx && ! test -e /data-leak
RUN --mount=type=tmpfs,target=/scratch --network=none touch /scratch/t && ls /sys/class/net > /nets
RUN ls /sys/class/net > /nets-default
"""
    files = {"Dockerfile": df, "data/x": "bound\n"}
    ok(build(daemon, files, t="mnt:1", nocache=1))
    ok(build(daemon, files, t="mnt:2", nocache=1))
    fs = image_files(daemon, "mnt:2")
    assert fs["count"] == b"2\n"  # the cache mount kept the first build's line
    assert fs["fromctx"] == b"bound\n" and fs["nets"] == b"lo\n"
    assert fs["nets-default"] == b"eth0\nlo\n"  # RUN is on the default bridge unless told otherwise
    assert not any(k.startswith(("cache", "data", "scratch")) for k in fs)  # mount points never reach a layer


def test_add_archive_and_url(daemon, tmp_path) -> None:
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tf:
        for name, data in {"pkg/bin/tool": b"#!/bin/sh\n", "pkg/README": b"r"}.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.uid = len(data), 0o755, 1234
            tf.addfile(ti, io.BytesIO(data))
    served = b"downloaded\n"
    not_tar = gzip.compress(b"not a tar", mtime=0)

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(served)))
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
            self.end_headers()
            self.wfile.write(served)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/files/remote.txt"
        df = f"FROM busybox\nADD pkg.tgz /opt/\nADD plain.txt.gz /z/\nADD {url} /dl/\nRUN stat -c '%a %Y' /dl/remote.txt\n"
        res = ok(build(daemon, {"Dockerfile": df, "pkg.tgz": tgz.getvalue(),
                                "plain.txt.gz": not_tar}, t="add:1"))
        assert "600 1445412480" in res.text
    finally:
        srv.shutdown()
    fs = image_files(daemon, "add:1")
    assert fs["opt/pkg/bin/tool"] == b"#!/bin/sh\n" and fs["dl/remote.txt"] == served
    assert fs["z/plain.txt.gz"] == not_tar  # compressed, but not an archive: copied as is


def test_cancelled_when_client_goes_away(daemon) -> None:
    body = context_tar({"Dockerfile": "FROM busybox\nRUN echo start$((1 + 1)); sleep 60\n"})
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.socket)
    s.sendall(b"POST /build?nocache=1 HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    seen = b""
    deadline = time.monotonic() + 60
    while b"start2" not in seen and time.monotonic() < deadline:  # the step's own output: it runs
        seen += s.recv(65536)
    assert b"start2" in seen
    s.close()
    deadline = time.monotonic() + 30
    while leftovers(daemon) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftovers(daemon) == []


def test_cli_build(daemon, tmp_path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "src" / "app.txt").write_text("app\n")
    (ctx / "junk.tmp").write_text("junk")
    (ctx / ".dockerignore").write_text("*.tmp\n")
    outside = tmp_path / "elsewhere.Dockerfile"
    outside.write_text("FROM busybox AS base\nARG FLAVOR\nCOPY src /app\nRUN echo flavor=$FLAVOR\n"
                       "FROM base AS final\nLABEL stage=final\n")
    iid = tmp_path / "iid"
    args = ["build", "-t", "cli:1", "-t", "cli:alias", "-f", str(outside), "--build-arg", "FLAVOR=mint",
            "--label", "from=cli", "--iidfile", str(iid), "--target", "base", str(ctx)]
    res = daemon.cli(*args, timeout=120)
    out = res.stdout.decode()
    assert res.returncode == 0, res.stderr.decode() + out
    assert "flavor=mint" in out and "\x1b[" not in out and "#4 DONE" in out and "stage=final" not in out
    again = daemon.cli(*args, timeout=120)
    assert again.returncode == 0 and again.stdout.decode().count("CACHED") == 3
    image_id = iid.read_text()
    insp = daemon.client().image_inspect("cli:alias")
    assert insp["Id"] == image_id and insp["Config"]["Labels"] == {"from": "cli"}
    assert sorted(k for k in image_files(daemon, "cli:1") if k.startswith("app")) == ["app", "app/app.txt"]
    quiet = daemon.cli("build", "-q", "-f", str(outside), str(ctx))
    assert quiet.returncode == 0 and quiet.stdout.decode().strip().startswith("sha256:")
    fail = daemon.cli("build", "-", input=b"FROM busybox\nRUN echo last words; exit 4\n")
    assert fail.returncode == 4 and b"returned a non-zero code: 4" in fail.stderr
    assert "------\n > [2/2] RUN echo last words; exit 4:\nlast words\n------\n" in fail.stdout.decode()
    tty = daemon.cli("build", "--progress=tty", "-f", str(outside), str(ctx))
    assert tty.returncode == 0 and "\x1b[34mCACHED" in tty.stdout.decode()


def test_gzip_context_and_scratch(daemon) -> None:
    body = gzip.compress(context_tar({"Dockerfile": "FROM scratch\nCOPY f /f\nENV X=1\n", "f": "zipped"}))
    res = ok(build(daemon, body))
    assert image_files(daemon, res.image_id) == {"f": b"zipped"}
    cfg = image_config(daemon, res.image_id)
    assert len(cfg["rootfs"]["diff_ids"]) == 1 and len(cfg["history"]) == 2 and cfg["os"] == "linux"


@pytest.mark.parametrize("query,msg", [
    ({"squash": 1}, "squash is only supported with experimental mode"),
    ({"t": "Bad:Tag:x"}, "invalid reference format"),
    ({"dockerfile": "missing.Dockerfile"}, "Cannot locate specified Dockerfile: missing.Dockerfile"),
    ({"target": "nope"}, "failed to reach build target nope in Dockerfile"),
])
def test_bad_requests(daemon, query, msg) -> None:
    res = build(daemon, {"Dockerfile": "FROM busybox\n"}, **query)
    assert res.status == 400 and msg in res.error, res


def test_cache_survives_restart_gc_and_prune(fresh_daemon) -> None:
    d = fresh_daemon()
    df = "FROM busybox AS a\nRUN echo a > /a\nFROM busybox\nCOPY --from=a /a /a\nRUN cat /a\n"
    ok(build(d, {"Dockerfile": df}, t="keep:1"))
    d.restart()
    # Removing an image runs the image store's gc, which must keep what the cache holds.
    d.import_busybox("other:1")
    d.client().image_remove("other:1")
    again = ok(build(d, {"Dockerfile": df}, t="keep:1"))
    assert again.runs == 0 and again.cached_steps == 3
    res = d.cli("builder", "prune", "-a", "-f")
    assert res.returncode == 0 and b"Total reclaimed space:" in res.stdout
    after = ok(build(d, {"Dockerfile": df}, t="keep:1"))
    assert after.runs == 2 and after.cached_steps == 0


def test_forms_shell_and_copy_options(daemon) -> None:
    df = """\
FROM busybox
SHELL ["/bin/sh", "-ec"]
RUN ["sh", "-c", "echo exec-form > /exec"]
RUN echo "proxy=$HTTP_PROXY shell=$0" > /shell
COPY --chown=bin:daemon --chmod=640 --link conf/ /etc/app/
COPY --chown=1234 --exclude=*.secret conf/ /opt/conf/
WORKDIR /tmp/work
USER nobody
RUN echo "$(id -un) in $(pwd)" > /tmp/whoami
"""
    files = {"Dockerfile": df, "conf/a.ini": "a=1", "conf/sub/b.ini": "b=2", "conf/key.secret": "s"}
    ok(build(daemon, files, t="forms:1", buildargs={"HTTP_PROXY": "http://proxy.invalid:3128"}))
    fs = image_files(daemon, "forms:1")
    assert fs["exec"] == b"exec-form\n"
    assert fs["shell"] == b"proxy=http://proxy.invalid:3128 shell=/bin/sh\n"
    hist = image_config(daemon, "forms:1")["history"]
    assert hist[-6]["created_by"] == "/bin/sh -ec echo \"proxy=$HTTP_PROXY shell=$0\" > /shell"  # no proxy value
    assert hist[-7]["created_by"] == "sh -c echo exec-form > /exec"
    assert fs["tmp/whoami"] == b"nobody in /tmp/work\n"
    chowned = layer_members(daemon, "forms:1", -4)
    assert (chowned["etc/app/sub/b.ini"].uid, chowned["etc/app/sub/b.ini"].gid) == (2, 1)
    assert chowned["etc/app/a.ini"].mode == 0o640 and chowned["etc/app/sub"].mode == 0o640
    assert chowned["etc/app/key.secret"].uid == 2
    numeric = layer_members(daemon, "forms:1", -3)
    assert numeric["opt/conf/a.ini"].uid == 1234 and numeric["opt/conf/a.ini"].gid == 1234
    assert "opt/conf/key.secret" not in numeric and numeric["opt/conf/a.ini"].mode == 0o644


def test_from_pulls_a_missing_base_and_pull_refreshes(daemon) -> None:
    from _support.registry_server import DockerRegistry
    reg = DockerRegistry().start()
    try:
        ref = f"{reg.host}/base/busybox:b1"
        assert daemon.cli("tag", "busybox", ref).returncode == 0
        assert daemon.cli("push", ref).returncode == 0
        daemon.client().image_remove(ref)  # only the name goes: the image stays as busybox
        res = ok(build(daemon, {"Dockerfile": f"FROM {ref}\nRUN echo on-pulled\n"}, t="pulled:1"))
        statuses = [m.get("status", "") for m in res.messages]
        assert any("Pulling from base/busybox" in s for s in statuses), res.messages
        assert "on-pulled" in res.text
        res = ok(build(daemon, {"Dockerfile": f"FROM {ref}\nRUN echo on-pulled\n"}, t="pulled:1", pull=1))
        assert any("Image is up to date" in m.get("status", "") for m in res.messages)
        assert res.cached_steps == 1
    finally:
        reg.teardown()


def test_daemon_crash_mid_build_leaves_nothing(fresh_daemon) -> None:
    d = fresh_daemon()
    body = context_tar({"Dockerfile": "FROM busybox\nRUN echo run$((2 + 2)); sleep 60\n"})
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.socket)
    s.sendall(b"POST /build HTTP/1.1\r\nHost: d\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    seen = b""
    deadline = time.monotonic() + 60
    while b"run4" not in seen and time.monotonic() < deadline:
        seen += s.recv(65536)
    assert b"run4" in seen
    d.kill()  # SIGKILL: the step's shim and process outlive the daemon
    s.close()
    assert leftovers(d)  # the crash left the step behind...
    d.start()
    assert leftovers(d) == []  # ...until the next start releases it (teardown checks the rest)
    assert ok(build(d, {"Dockerfile": "FROM busybox\nRUN echo after\n"})).runs == 1
