"""exec and update on a running busybox container, on dockyard-runtime and runc."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
from _support.runtime import rt  # noqa: F401  (the fixture: each test on both runtimes)



def _ns_links(pid: int | str) -> dict[str, str]:
    out = {}
    for name in ("ipc", "mnt", "net", "pid", "uts", "cgroup"):
        out[name] = os.readlink(f"/proc/{pid}/ns/{name}")
    return out


def test_exec_joins_every_namespace_and_the_cgroup(rt) -> None:
    pid = rt.start_detached("x1", ["sleep", "60"], lambda s: s.update(hostname="box"))
    script = ("for n in ipc mnt net pid uts cgroup; do echo $n=$(readlink /proc/self/ns/$n); done; "
              "hostname; echo self=$$; cat /proc/1/cmdline | tr '\\0' ' '")
    res = rt.ok("exec", "x1", "sh", "-c", script)
    lines = res.stdout.decode().splitlines()
    inside = dict(line.split("=", 1) for line in lines[:6])
    assert inside == _ns_links(pid)
    assert lines[6] == "box"
    assert int(lines[7].split("=")[1]) > 1  # a new pid in the container's pid namespace
    assert lines[8].strip() == "sleep 60"
    # and its cgroup: a detached exec stays visible on the host
    epid = rt.exec_detached("x1", "sleep", "30")
    assert open(f"/proc/{epid}/cgroup").read() == open(f"/proc/{pid}/cgroup").read()
    assert epid in json.loads(rt.ok("ps", "--format", "json", "x1").stdout)


def test_exec_exit_code_and_stdio(rt) -> None:
    rt.start_detached("x2", ["sleep", "60"])
    res = rt("exec", "x2", "sh", "-c", "echo out; echo err >&2; exit 42")
    assert res.returncode == 42
    assert res.stdout == b"out\n" and res.stderr.endswith(b"err\n")
    res = rt("exec", "x2", "cat", input=b"piped stdin", stdin=None)
    assert res.stdout == b"piped stdin"


def test_exec_missing_binary_and_stopped_container(rt) -> None:
    rt.start_detached("x3", ["sleep", "60"])
    res = rt("exec", "x3", "/no/such/binary")
    assert res.returncode != 0
    assert b"no such file or directory" in res.stderr.lower()
    rt.ok("kill", "x3", "KILL")
    rt.wait_status("x3", "stopped")
    res = rt("exec", "x3", "true")
    assert res.returncode != 0 and b"stopped" in res.stderr


def test_exec_flags_user_cwd_env_caps(rt) -> None:
    rt.start_detached("x4", ["sleep", "60"])
    res = rt.ok("exec", "--user", "1000:1001", "--additional-gids", "2000", "--cwd", "/tmp",
                "--env", "FOO=bar", "x4", "sh", "-c", "id -u; id -g; id -G; pwd; echo $FOO")
    assert res.stdout.decode().split("\n")[:5] == ["1000", "1001", "1001 2000", "/tmp", "bar"]
    caps = rt.ok("exec", "--cap", "CAP_SYS_ADMIN", "x4", "grep", "CapEff", "/proc/self/status").stdout
    eff = int(caps.split()[1], 16)
    assert eff & (1 << 21)  # CAP_SYS_ADMIN added
    plain = int(rt.ok("exec", "x4", "grep", "CapEff", "/proc/self/status").stdout.split()[1], 16)
    assert not plain & (1 << 21) and plain & (1 << 5)  # the config's set: CAP_KILL yes, SYS_ADMIN no


def test_exec_process_file(rt) -> None:
    rt.start_detached("x5", ["sleep", "60"])
    proc = {
        "terminal": False, "user": {"uid": 33, "gid": 33}, "args": ["sh", "-c",
        "id -u; pwd; echo $V; grep -E 'NoNewPrivs|CapEff|CapBnd' /proc/self/status; grep core /proc/self/limits"],
        "env": ["PATH=/bin:/usr/bin", "V=from-file"], "cwd": "/etc",
        # A non-root process keeps capabilities across execve only through the ambient set.
        "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"],
                         "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
        "noNewPrivileges": True, "rlimits": [{"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192}],
    }
    path = os.path.join(rt.tmp, "proc.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    out = rt.ok("exec", "--process", path, "x5").stdout.decode().split("\n")
    assert out[:3] == ["33", "/etc", "from-file"]
    status = dict(line.split(":\t") for line in out[3:6])
    assert status["NoNewPrivs"] == "1"
    assert int(status["CapEff"], 16) == 1 << 5
    assert int(status["CapBnd"], 16) == (1 << 0) | (1 << 5)
    assert out[6].split()[-3:] == ["4096", "8192", "bytes"]


def test_exec_detached_goes_to_the_callers_subreaper(rt) -> None:
    rt.start_detached("x6", ["sleep", "60"])
    pidfile = os.path.join(rt.tmp, "x6.exec.pid")
    # A small supervisor (like a shim): subreaper, runs `exec -d`, reaps what it gets.
    helper = textwrap.dedent(f"""
        import ctypes, os, subprocess, sys
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        r = subprocess.run({[rt.exe, "--root", rt.root, "exec", "-d", "--pid-file", pidfile, "x6",
                             "sh", "-c", "exit 5"]!r}, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.returncode
        pid = int(open({pidfile!r}).read())
        while True:
            got, status = os.waitpid(-1, 0)
            if got == pid:
                print(os.waitstatus_to_exitcode(status))
                break
    """)
    res = subprocess.run([sys.executable, "-c", helper], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == b"5"


def test_exec_tty_over_console_socket(rt) -> None:
    rt.start_detached("x7", ["sleep", "60"])
    sock_path = os.path.join(rt.tmp, "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    proc = {"terminal": True, "consoleSize": {"height": 33, "width": 111}, "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", "tty; stty size; test -t 0 && echo stdin-is-tty"],
            "env": ["PATH=/bin:/usr/bin", "TERM=xterm"], "cwd": "/"}
    path = os.path.join(rt.tmp, "proc.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    try:
        rt.ok("exec", "-d", "--process", path, "--console-socket", sock_path, "x7",
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        listener.settimeout(10)
        conn, _ = listener.accept()
        _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
        conn.close()
        master = fds[0]
        data = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once the process is gone
                break
            if not chunk:
                break
            data += chunk
        os.close(master)
    finally:
        listener.close()
    lines = data.decode().replace("\r", "").split("\n")
    assert lines[0].startswith("/dev/pts/")
    assert lines[1] == "33 111"
    assert lines[2] == "stdin-is-tty"


def test_exec_keeps_the_container_seccomp_and_nnp(rt) -> None:
    def upd(spec):
        spec["process"]["noNewPrivileges"] = True
        spec["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                                  "errnoRet": 1}]}
    rt.start_detached("x8", ["sleep", "60"], upd)
    res = rt("exec", "x8", "sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/x")
    out = res.stdout.decode()
    assert "NoNewPrivs:\t1" in out and "Seccomp:\t2" in out
    assert res.returncode != 0 and b"Operation not permitted" in res.stderr


def test_update_resources_by_flags_and_json(rt) -> None:
    pid = rt.start_detached("u1", ["sleep", "60"])
    rt.ok("update", "--memory", "64m", "--memory-reservation", "32m", "--pids-limit", "42",
          "--cpu-quota", "20000", "--cpu-period", "100000", "--cpu-share", "512", "u1")
    d = rt.cgroup_dir
    assert open(f"{d('u1', 'memory')}/memory.limit_in_bytes").read().strip() == str(64 << 20)
    assert open(f"{d('u1', 'memory')}/memory.soft_limit_in_bytes").read().strip() == str(32 << 20)
    assert open(f"{d('u1', 'pids')}/pids.max").read().strip() == "42"
    assert open(f"{d('u1', 'cpu')}/cpu.cfs_quota_us").read().strip() == "20000"
    assert open(f"{d('u1', 'cpu')}/cpu.shares").read().strip() == "512"
    # seen from inside the container too (its cgroup namespace and mount)
    inside = rt.ok("exec", "u1", "cat", "/sys/fs/cgroup/pids/pids.max").stdout.strip()
    assert inside == b"42"
    rt.ok("update", "-r", "-", "u1", input=json.dumps(
        {"memory": {"limit": 96 << 20, "swap": 128 << 20}, "pids": {"limit": 7}, "cpu": {"cpus": "0"}}).encode(),
        stdin=None)
    assert open(f"{d('u1', 'memory')}/memory.limit_in_bytes").read().strip() == str(96 << 20)
    if os.path.exists(f"{d('u1', 'memory')}/memory.memsw.limit_in_bytes"):
        assert open(f"{d('u1', 'memory')}/memory.memsw.limit_in_bytes").read().strip() == str(128 << 20)
    assert open(f"{d('u1', 'pids')}/pids.max").read().strip() == "7"
    assert open(f"{d('u1', 'cpuset')}/cpuset.cpus").read().strip() == "0"
    assert str(pid) in open(f"{d('u1', 'pids')}/cgroup.procs").read().split()


def test_update_pids_limit_is_enforced(rt) -> None:
    rt.start_detached("u2", ["sleep", "60"])
    rt.ok("update", "--pids-limit", "3", "u2")
    # init + this shell = 2; two more background sleeps cannot both fork.
    res = rt("exec", "u2", "sh", "-c", "sleep 1 & sleep 1 & sleep 1 & wait")
    assert b"can't fork" in res.stderr or b"Resource temporarily unavailable" in res.stderr


def test_update_errors(rt) -> None:
    res = rt("update", "--memory", "1m", "nosuchcontainer")
    assert res.returncode != 0
    rt.start_detached("u3", ["sleep", "60"])
    res = rt("update", "-r", "-", "u3", input=b"{not json", stdin=None)
    assert res.returncode != 0
    res = rt("update", "--pids-limit", "abc", "u3")
    assert res.returncode != 0


@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", "9"])
def test_kill_signal_forms(rt, sig) -> None:
    rt.start_detached(f"k{sig}", ["sleep", "60"])
    rt.ok("kill", f"k{sig}", sig)
    rt.wait_status(f"k{sig}", "stopped")


def _hostile_signals() -> None:
    """In the runtime's process before exec: every signal ignored (glibc's
    internal 32 and 33 too, as a child of glibc's posix_spawn has them, e.g.
    under GNU make) and every one blocked; the container must see none of it."""
    from dockyard._sys import libc
    for sig in range(1, libc.NSIG):
        if sig not in (libc.SIGKILL, libc.SIGSTOP):
            libc.set_signal_disposition(sig, libc.SIG_IGN)
    libc.set_blocked_signals((1 << 64) - 1)


@pytest.mark.parametrize("rt", ["dockyard-runtime"], indirect=True)
def test_container_processes_start_with_default_signals(rt) -> None:
    """Init and an exec'd process: nothing ignored, nothing blocked, whatever
    the runtime inherited. (Not run on runc: runc 1.1 leaves signals 32 and
    34 ignored and most of the mask blocked in this case.)"""
    b = rt.bundle("sig1", ["sh", "-c", "grep -E 'Sig(Ign|Blk)' /proc/self/status; exec sleep 60"])
    rt.ids.append("sig1")
    out_path = os.path.join(rt.tmp, "sig1.out")
    with open(out_path, "wb") as out:
        rt.ok("create", "--bundle", b, "--pid-file", os.path.join(rt.tmp, "sig1.pid"), "sig1",
              stdout=out, stderr=out, preexec_fn=_hostile_signals)
    rt.ok("start", "sig1", preexec_fn=_hostile_signals)
    pid = int(open(os.path.join(rt.tmp, "sig1.pid")).read())
    clean = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"

    def init_status() -> str:
        status = open(f"/proc/{pid}/status").read()
        return "".join(line + "\n" for line in status.splitlines() if line.startswith(("SigBlk", "SigIgn")))
    from _support.runtime import wait_for
    wait_for(lambda: open(out_path).read(), what="init's output")
    assert open(out_path).read() == clean, rt.name
    # argv[0]: sh's own command line names sleep too, and busybox sh ignores SIGQUIT
    wait_for(lambda: open(f"/proc/{pid}/cmdline").read().split("\0")[0] == "sleep", what="sleep")
    assert init_status() == clean
    res = rt.ok("exec", "sig1", "grep", "-E", "Sig(Ign|Blk)", "/proc/self/status", preexec_fn=_hostile_signals)
    assert res.stdout.decode() == clean, rt.name
    epid = rt.exec_detached("sig1", "sleep", "30")
    wait_for(lambda: "sleep" in open(f"/proc/{epid}/cmdline").read(), what="exec'd sleep")
    status = open(f"/proc/{epid}/status").read()
    assert "SigIgn:\t0000000000000000" in status and "SigBlk:\t0000000000000000" in status
