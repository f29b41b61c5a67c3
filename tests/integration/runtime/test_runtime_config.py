"""config.json features, each checked from inside a real busybox container,
on dockyard-runtime and on runc."""

from __future__ import annotations

import ctypes
import json
import os
import stat
import subprocess
from _support.runtime import rt  # noqa: F401  (the fixture: each test on both runtimes)


def out_lines(res: subprocess.CompletedProcess) -> list[str]:
    assert res.returncode == 0, res.stderr
    return res.stdout.decode().splitlines()


def caps(*names: str) -> int:
    from dockyard.runtime.capabilities import CAP_NUMBERS
    mask = 0
    for n in names:
        mask |= 1 << CAP_NUMBERS[n]
    return mask


def test_process_user_umask_rlimits_oom_nnp_and_five_capability_sets(rt) -> None:
    def upd(s):
        p = s["process"]
        p["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 0o077}
        p["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
                        {"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192}]
        p["oomScoreAdj"] = 123
        p["noNewPrivileges"] = True
        p["apparmorProfile"] = ""
        p["selinuxLabel"] = ""
        both = ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
        p["capabilities"] = {"bounding": both + ["CAP_CHOWN"], "effective": both, "permitted": both,
                             "inheritable": both, "ambient": both}
        p["env"] = ["PATH=/bin:/usr/bin", "SOMEVAR=some value"]
        p["cwd"] = "/tmp"
    res = rt.run("p1", ["sh", "-c", "id -u; id -g; id -G; umask; cat /proc/self/oom_score_adj; pwd; "
                                    "echo $SOMEVAR; grep -E '^(Cap...|NoNewPrivs):' /proc/self/status; "
                                    "grep -E 'open files|core file' /proc/self/limits"], upd)
    lines = out_lines(res)
    assert lines[:7] == ["1000", "1001", "1001 10 20", "0077", "123", "/tmp", "some value"]
    status = dict(line.split(":\t") for line in lines[7:13])
    want = caps("CAP_NET_BIND_SERVICE", "CAP_KILL")
    assert int(status["CapInh"], 16) == want
    assert int(status["CapPrm"], 16) == want  # kept across execve by the ambient set
    assert int(status["CapEff"], 16) == want
    assert int(status["CapAmb"], 16) == want
    assert int(status["CapBnd"], 16) == want | caps("CAP_CHOWN")
    assert status["NoNewPrivs"] == "1"
    limits = {" ".join(line.split()[:3]): line.split()[3:5] for line in lines[13:]}
    assert limits["Max open files"] == ["256", "512"]
    core = next(line for line in lines[13:] if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["4096", "8192"]


def test_root_user_gets_home_and_config_capabilities(rt) -> None:
    lines = out_lines(rt.run("p2", ["sh", "-c", "echo $HOME; id -u; grep -E '^Cap(Eff|Bnd|Amb):' /proc/self/status"]))
    assert lines[0] == "/root" and lines[1] == "0"
    status = dict(line.split(":\t") for line in lines[2:])
    spec_caps = caps("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")  # runc spec's set
    assert int(status["CapEff"], 16) == spec_caps and int(status["CapBnd"], 16) == spec_caps
    assert int(status["CapAmb"], 16) == 0


def test_readonly_root_hostname_domainname(rt) -> None:
    def upd(s):
        s["root"]["readonly"] = True
        s["hostname"] = "inside-host"
        s["domainname"] = "inside.domain"
        s["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})
    lines = out_lines(rt.run("r1", ["sh", "-c", "hostname; cat /proc/sys/kernel/domainname; "
                                                "touch /newfile 2>/dev/null && echo root-writable || echo root-ro; "
                                                "touch /tmp/ok && echo tmp-writable"], upd))
    assert lines[0] == "inside-host" and lines[2:] == ["root-ro", "tmp-writable"]
    # runc 1.1 predates the domainname field and leaves it unset.
    assert lines[1] == ("(none)" if rt.is_runc else "inside.domain")


def _mountinfo_opts(lines: list[str], mountpoint: str) -> list[str]:
    for line in lines:
        f = line.split()
        if len(f) > 5 and f[4] == mountpoint:
            return f[5].split(",")
    raise AssertionError(f"{mountpoint} not mounted: {lines}")


def test_bind_rbind_tmpfs_mqueue_mounts(rt, tmp_path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "file").write_text("from the host\n")
    libc = ctypes.CDLL(None, use_errno=True)
    # A mount below the source: rbind carries it in, bind does not.
    assert libc.mount(b"tmpfs", str(src / "sub").encode(), b"tmpfs", 0, b"size=1m") == 0
    (src / "sub" / "inner").write_text("submount\n")
    try:
        def upd(s):
            s["mounts"] += [
                {"destination": "/ro", "type": "bind", "source": str(src), "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]},
                {"destination": "/plain", "type": "none", "source": str(src), "options": ["bind"]},
                {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700"]},
            ]
        script = ("cat /ro/file; cat /ro/sub/inner; ls /plain/sub | wc -l; "
                  "touch /ro/new 2>/dev/null && echo ro-writable || echo ro-readonly; "
                  "echo x > /plain/written && echo plain-writable; stat -c %a /scratch; "
                  "cat /proc/self/mountinfo")
        lines = out_lines(rt.run("m1", ["sh", "-c", script], upd))
        assert lines[:6] == ["from the host", "submount", "0", "ro-readonly", "plain-writable", "700"]
        info = lines[6:]
        assert {"ro", "nosuid", "nodev", "noexec"} <= set(_mountinfo_opts(info, "/ro"))
        # "ro" applies to the top mount only ("rro" would reach submounts).
        assert "rw" in _mountinfo_opts(info, "/ro/sub")
        assert "rw" in _mountinfo_opts(info, "/plain")
        assert any(line.split()[4] == "/dev/mqueue" and " - mqueue " in line for line in info)
        assert any(line.split()[4] == "/scratch" and " - tmpfs " in line and "size=1024k" in line for line in info)
        assert (src / "written").read_text() == "x\n"
    finally:
        libc.umount2(str(src / "sub").encode(), 2)


def test_mount_propagation_flags(rt, tmp_path) -> None:
    """rslave: a mount made on the host after start shows up inside;
    rprivate: it does not."""
    libc = ctypes.CDLL(None, use_errno=True)
    src = tmp_path / "shared"
    src.mkdir()
    assert libc.mount(str(src).encode(), str(src).encode(), None, 4096, None) == 0  # MS_BIND
    assert libc.mount(None, str(src).encode(), None, 1 << 20, None) == 0  # MS_SHARED
    (src / "later").mkdir()
    try:
        def upd(s):
            s["mounts"] += [{"destination": "/slave", "type": "bind", "source": str(src), "options": ["rbind", "rslave"]},
                            {"destination": "/private", "type": "bind", "source": str(src), "options": ["rbind", "rprivate"]}]
        rt.start_detached("m2", ["sleep", "60"], upd)
        assert libc.mount(b"tmpfs", str(src / "later").encode(), b"tmpfs", 0, None) == 0
        (src / "later" / "seen").write_text("")
        lines = out_lines(rt("exec", "m2", "sh", "-c", "ls /slave/later; echo --; ls /private/later"))
        assert lines == ["seen", "--"]
        info = out_lines(rt("exec", "m2", "cat", "/proc/self/mountinfo"))
        slave = next(line for line in info if line.split()[4] == "/slave")
        assert "master:" in slave and "shared:" not in slave
    finally:
        libc.umount2(str(src / "later").encode(), 2)
        libc.umount2(str(src).encode(), 2)


def test_rootfs_propagation(rt, tmp_path) -> None:
    """rootfsPropagation rslave: a mount the host makes inside the rootfs
    after start shows up in the container; private: it does not."""
    libc = ctypes.CDLL(None, use_errno=True)
    made = []
    try:
        for prop in ("rslave", "private"):
            cid = f"rp-{prop}"
            b = rt.bundle(cid, ["sleep", "60"], lambda s, p=prop: s["linux"].update(rootfsPropagation=p))
            # the bundle directory becomes a shared mount, as a host's / usually is
            assert libc.mount(b.encode(), b.encode(), None, 4096, None) == 0  # MS_BIND
            made.insert(0, b)
            assert libc.mount(None, b.encode(), None, 1 << 20, None) == 0  # MS_SHARED
            sub = os.path.join(b, "rootfs", "mnt", "sub")
            os.makedirs(sub)
            rt.ids.append(cid)
            with open(os.path.join(rt.tmp, f"{cid}.out"), "wb") as out:
                rt.ok("run", "-d", "--bundle", b, cid, stdout=out, stderr=out)
            assert libc.mount(b"tmpfs", sub.encode(), b"tmpfs", 0, None) == 0
            made.insert(0, sub)
            open(os.path.join(sub, "seen"), "w").close()
            seen = out_lines(rt("exec", cid, "ls", "/mnt/sub"))
            assert seen == (["seen"] if prop == "rslave" else []), prop
            rt.ok("delete", "--force", cid)
    finally:
        for m in made:
            libc.umount2(m.encode(), 2)


def test_mount_onto_a_symlink_resolves_inside_the_rootfs(rt, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()

    def upd(s):
        s["mounts"].append({"destination": "/escape/deeper", "type": "tmpfs", "source": "tmpfs", "options": []})
    b = rt.bundle("m3", ["sh", "-c", "readlink /escape; stat -f -c %T /escape/deeper 2>&1; "
                                     f"stat -f -c %T {outside}/deeper"], upd)
    # An absolute symlink to a host directory, and a relative one climbing out.
    os.symlink(str(outside), os.path.join(b, "rootfs", "escape"))
    rt.ids.append("m3")
    res = rt("run", "--bundle", b, "m3")
    lines = out_lines(res)
    assert lines[0] == str(outside)
    # The tmpfs landed on <rootfs><outside>/deeper, seen inside through the symlink...
    assert lines[1] == "tmpfs" and lines[2] == "tmpfs"
    # ...and never on the host's directory of that name.
    assert not (outside / "deeper").exists()
    assert os.path.isdir(os.path.join(b, "rootfs", str(outside).lstrip("/"), "deeper"))


def test_masked_and_readonly_paths(rt) -> None:
    def upd(s):
        s["linux"]["maskedPaths"] = ["/proc/keys", "/sys/firmware", "/etc/hostname", "/no/such/path"]
        s["linux"]["readonlyPaths"] = ["/proc/sys", "/tmp"]
    script = ("wc -c < /proc/keys; ls /sys/firmware | wc -l; wc -c < /etc/hostname; "
              "(echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo sys-writable || echo sys-ro; "
              "touch /tmp/x 2>/dev/null && echo tmp-writable || echo tmp-ro")
    lines = out_lines(rt.run("mp", ["sh", "-c", script], upd))
    assert [x.strip() for x in lines] == ["0", "0", "0", "sys-ro", "tmp-ro"]


def test_devices_default_nodes_and_links(rt) -> None:
    def upd(s):
        s["linux"]["devices"] = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o646,
                                  "uid": 5, "gid": 6}]
    script = ("stat -c '%n %F %t:%T %a %u:%g' /dev/mynull; echo data > /dev/mynull && echo mynull-ok; "
              "for d in null zero full random urandom tty; do stat -c '%n %t:%T %a' /dev/$d; done; "
              "for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done; "
              "grep -E ' /dev/(pts|shm) ' /proc/self/mountinfo")
    lines = out_lines(rt.run("d1", ["sh", "-c", script], upd))
    assert lines[0] == "/dev/mynull character special file 1:3 646 5:6"
    assert lines[1] == "mynull-ok"
    assert lines[2:8] == ["/dev/null 1:3 666", "/dev/zero 1:5 666", "/dev/full 1:7 666",
                          "/dev/random 1:8 666", "/dev/urandom 1:9 666", "/dev/tty 5:0 666"]
    assert lines[8:13] == ["fd=/proc/self/fd", "stdin=/proc/self/fd/0", "stdout=/proc/self/fd/1",
                           "stderr=/proc/self/fd/2", "ptmx=pts/ptmx"]
    mounted = sorted((line.split()[4], line.split(" - ")[1].split()[0]) for line in lines[13:])
    assert mounted == [("/dev/pts", "devpts"), ("/dev/shm", "tmpfs")]


def test_devices_cgroup_allow_and_deny(rt) -> None:
    """The default rule set denies everything else: a node made inside with
    mknod cannot be opened unless a rule allows it."""
    def upd(allow):
        def f(s):
            s["process"]["capabilities"]["bounding"].append("CAP_MKNOD")
            s["process"]["capabilities"]["effective"].append("CAP_MKNOD")
            s["process"]["capabilities"]["permitted"].append("CAP_MKNOD")
            if allow:
                s["linux"]["resources"]["devices"].append(
                    {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"})
        return f
    script = "mknod /tmp/fuse c 10 229 && (head -c0 /tmp/fuse 2>&1 && echo opened || true)"
    denied = rt.run("dv1", ["sh", "-c", script], upd(False))
    assert b"Operation not permitted" in denied.stdout + denied.stderr
    allowed = rt.run("dv2", ["sh", "-c", script], upd(True))
    assert out_lines(allowed)[-1] == "opened"


def test_user_namespace_with_id_maps(rt) -> None:
    # The container's root (host uid 100000) must be able to reach the rootfs.
    d = rt.tmp
    while d != "/":
        os.chmod(d, os.stat(d).st_mode | 0o011)
        d = os.path.dirname(d)

    def upd(s):
        s["linux"]["namespaces"].append({"type": "user"})
        s["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        s["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    pid = rt.start_detached("u1", ["sleep", "60"], upd)
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    assert status["Uid"].split()[0] == "100000" and status["Gid"].split()[0] == "200000"
    lines = out_lines(rt("exec", "u1", "sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map; "
                                                   "readlink /proc/self/ns/user; stat -c %t:%T /dev/null; "
                                                   "grep -c ' /dev/null ' /proc/self/mountinfo; "
                                                   "echo x > /dev/null && echo null-ok"))
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"] and lines[2].split() == ["0", "200000", "65536"]
    assert lines[3] == os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    # no mknod in a user namespace: the host's nodes are bind-mounted
    assert lines[4:7] == ["1:3", "1", "null-ok"]


def test_join_namespaces_by_path_and_cgroup_namespace(rt) -> None:
    first = rt.start_detached("n1", ["sleep", "60"], lambda s: s.update(hostname="first"))

    def upd(s):
        s.pop("hostname", None)
        s["linux"]["namespaces"] = [{"type": "mount"}, {"type": "cgroup"},
                                    {"type": "network", "path": f"/proc/{first}/ns/net"},
                                    {"type": "uts", "path": f"/proc/{first}/ns/uts"},
                                    {"type": "ipc", "path": f"/proc/{first}/ns/ipc"},
                                    {"type": "pid", "path": f"/proc/{first}/ns/pid"}]
    lines = out_lines(rt.run("n2", ["sh", "-c", "hostname; for n in net uts ipc pid; do readlink /proc/self/ns/$n; done; "
                                                "cat /proc/1/cmdline; echo; grep -c ':/$' /proc/self/cgroup; "
                                                "wc -l < /proc/self/cgroup"], upd))
    assert lines[0] == "first"
    assert lines[1:5] == [os.readlink(f"/proc/{first}/ns/{n}") for n in ("net", "uts", "ipc", "pid")]
    assert lines[5].replace("\0", " ").strip() == "sleep 60"  # the first container's init is our pid 1
    # In its own cgroup namespace every hierarchy's path is the root.
    assert lines[6].strip() == lines[7].strip()


def test_network_namespace_has_loopback_up_and_sysctl(rt) -> None:
    def upd(s):
        s["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}
    lines = out_lines(rt.run("s1", ["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced; "
                                                "ls /sys/class/net; ip -o link show lo"], upd))
    assert lines[:3] == ["1", "1", "lo"]
    assert ",UP," in lines[3]


def test_hooks_order_and_state_on_stdin(rt, tmp_path) -> None:
    logdir = tmp_path / "hooklog"
    logdir.mkdir()
    log = logdir / "log"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\necho \"$1 $(cat)\" >> {log}\n")
    script.chmod(0o755)

    def upd(s):
        hook = lambda name: [{"path": str(script), "args": ["hook.sh", name]}]  # noqa: E731
        s["hooks"] = {k: hook(k) for k in ("prestart", "createRuntime", "createContainer", "poststart", "poststop")}
        # startContainer runs inside the container, after start: its path is the container's.
        s["hooks"]["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c", 'echo "startContainer $(cat)" >> /hooklog/start']}]
        s["mounts"].append({"destination": "/hooklog", "type": "bind", "source": str(logdir), "options": ["rbind"]})
        s["annotations"] = {"org.example.key": "value"}
    pid = rt.start_detached("h1", ["sleep", "60"], upd)
    rt.ok("delete", "--force", "h1")
    entries = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert [e[0] for e in entries] == ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]
    states = {name: json.loads(doc) for name, doc in entries}
    for name, doc in states.items():
        assert doc["id"] == "h1" and doc["bundle"] == os.path.join(rt.tmp, "h1"), name
        assert doc["annotations"] == {"org.example.key": "value"}, name
    assert states["prestart"]["status"] == "creating" and states["prestart"]["pid"] == pid
    assert states["createRuntime"]["status"] == "creating"
    assert states["poststop"]["status"] == "stopped"
    start = (logdir / "start").read_text().split(" ", 1)
    assert start[0] == "startContainer" and json.loads(start[1])["id"] == "h1"


def test_failing_prestart_hook_fails_create_and_leaves_nothing(rt, tmp_path) -> None:
    def upd(s):
        s["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo hook says no >&2; exit 3"]}]}
    b = rt.bundle("h2", ["true"], upd)
    res = rt("create", "--bundle", b, "h2")
    assert res.returncode != 0
    assert rt("state", "h2").returncode != 0
    assert not os.path.exists(os.path.join(rt.root, "h2"))


def test_annotations_and_state_fields(rt) -> None:
    pid = rt.start_detached("a1", ["sleep", "60"], lambda s: s.update(annotations={"k1": "v1", "k2": "v2"}))
    st = rt.state("a1")
    assert st["annotations"] == {"k1": "v1", "k2": "v2"}
    assert st["status"] == "running" and st["pid"] == pid and st["id"] == "a1"
    assert st["bundle"] == os.path.join(rt.tmp, "a1")
    listed = json.loads(rt.ok("list", "--format", "json").stdout)
    assert [c["id"] for c in listed] == ["a1"] and listed[0]["pid"] == pid and listed[0]["status"] == "running"


def test_terminal_over_console_socket_with_console_size(rt, tmp_path) -> None:
    import socket
    sock_path = str(tmp_path / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)

    def upd(s):
        s["process"]["terminal"] = True
        s["process"]["consoleSize"] = {"height": 40, "width": 120}
    b = rt.bundle("t1", ["sh", "-c", "tty; stty size; echo $TERM"], upd)
    rt.ids.append("t1")
    try:
        rt.ok("create", "--bundle", b, "--console-socket", sock_path, "t1",
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        listener.settimeout(10)
        conn, _ = listener.accept()
        _msg, fds, _f, _a = socket.recv_fds(conn, 4096, 1)
        conn.close()
        master = fds[0]
        assert stat.S_ISCHR(os.fstat(master).st_mode)
        rt.ok("start", "t1")
        data = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        os.close(master)
    finally:
        listener.close()
    lines = data.decode().replace("\r", "").split("\n")
    assert lines[0].startswith("/dev/pts/") and lines[1] == "40 120" and lines[2] == "xterm"


def test_empty_apparmor_and_selinux_accepted(rt) -> None:
    def upd(s):
        s["process"]["apparmorProfile"] = ""
        s["process"]["selinuxLabel"] = ""
        s["linux"]["mountLabel"] = ""
    assert out_lines(rt.run("aa", ["echo", "fine"], upd)) == ["fine"]
