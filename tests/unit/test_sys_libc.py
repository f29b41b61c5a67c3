"""The syscall layer on the _ctypes core: the calls a non-root test can make."""

import os
import subprocess
import sys


def test_libc_does_not_import_ctypes() -> None:
    code = "import sys; import dockyard._sys.libc; print('ctypes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_capget_prctl_name_and_errors() -> None:
    from dockyard._sys import libc
    eff, perm, inh = libc.capget()
    status = dict(line.split(":\t") for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    assert eff == int(status["CapEff"], 16) and perm == int(status["CapPrm"], 16)
    assert inh == int(status["CapInh"], 16)
    code = ("from dockyard._sys import libc; libc.set_process_name('dy-test-name-long'); "
            "print(open('/proc/self/comm').read().strip())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "dy-test-name-lo"  # 15 bytes, as the kernel keeps
    try:
        libc.umount2("/definitely/not/a/mountpoint")
    except OSError as e:
        assert e.errno in (2, 1, 22) and "umount /definitely/not/a/mountpoint" in e.strerror
    else:
        raise AssertionError("umount2 of a non-mount succeeded")


def test_close_range_cloexec() -> None:
    import fcntl
    from dockyard._sys import libc
    r, w = os.pipe()
    os.set_inheritable(w, True)
    assert not fcntl.fcntl(w, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    libc.close_range(w, w, 4)  # CLOSE_RANGE_CLOEXEC
    assert fcntl.fcntl(w, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    os.close(r)
    os.close(w)


def test_fs_helpers_match_os_path(tmp_path) -> None:
    from dockyard._sys import fs
    for p in ("/a/b", "/a", "/", "a", "a/b/", "/a/b/", "", "//a//b", "/a/./b/../c", "../x", "./y"):
        assert fs.dirname(p) == os.path.dirname(p), p
        assert fs.basename(p) == os.path.basename(p), p
        if p and not p.startswith("//"):  # (POSIX leaves a leading // to the system)
            assert fs.normpath(p) == os.path.normpath(p), p
    for parts in (("/a", "b"), ("/a/", "b"), ("a", "/b", "c"), ("", "x"), ("/a", "b/", "c")):
        assert fs.join(*parts) == os.path.join(*parts), parts
    (tmp_path / "f").write_text("")
    os.symlink(tmp_path / "f", tmp_path / "l")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    for name in ("f", "l", "dangling", "missing", ""):
        p = str(tmp_path / name)
        assert (fs.exists(p), fs.lexists(p), fs.isdir(p), fs.isfile(p)) == \
            (os.path.exists(p), os.path.lexists(p), os.path.isdir(p), os.path.isfile(p)), name
    os.symlink(tmp_path, tmp_path / "dirlink")
    assert fs.realdir(str(tmp_path / "dirlink")) == os.path.realpath(tmp_path)
    fs.makedirs(str(tmp_path / "x/y/z"), 0o755)
    fs.makedirs(str(tmp_path / "x/y/z"), 0o755)
    assert os.path.isdir(tmp_path / "x/y/z")
    assert fs.abspath("rel") == os.path.abspath("rel")
    assert fs.getenv("PATH") == os.environ.get("PATH") and fs.getenv("NO_SUCH_VAR_XYZ", "d") == "d"


def test_raw_signal_dispositions_reach_glibcs_internal_signals() -> None:
    """glibc's sigaction refuses signals 32 and 33; the raw calls do not, and
    default_all_signals/unblock_all_signals leave nothing ignored or blocked."""
    code = """
import signal
from dockyard._sys import libc
def status():
    d = dict(l.split(':\\t') for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)
    return int(d['SigIgn'], 16), int(d['SigBlk'], 16)
try:
    signal.signal(32, signal.SIG_IGN)
    print('libc allowed 32')
except OSError:
    pass
for sig in (1, 32, 33, 64):
    libc.set_signal_disposition(sig, libc.SIG_IGN)
assert libc.signal_disposition(32) == libc.SIG_IGN
assert libc.set_blocked_signals(1 << 9 | 1 << 31) == 0
ign, blk = status()
print(hex(ign & (1 << 0 | 1 << 31 | 1 << 32 | 1 << 63)), hex(blk))
libc.default_all_signals()
libc.unblock_all_signals()
print(status(), libc.signal_disposition(32))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["0x8000000180000001 0x80000200", "(0, 0) 0"], out


def test_ignored_signals_without_proc_counts_every_signal(monkeypatch) -> None:
    """Where /proc/self/status cannot be read (a container without /proc),
    default_all_signals resets every signal, as if all were ignored."""
    from dockyard._sys import fs, libc
    from dockyard.daemon.caps import ALL_CAPS, kernel_caps
    fields = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    assert fs.proc_status_hex("CapBnd") == int(fields["CapBnd"], 16)
    assert libc._ignored_signals() == fs.proc_status_hex("SigIgn") == int(fields["SigIgn"], 16)
    assert fs.proc_status_hex("NoSuchField") is None
    assert set(kernel_caps()) <= set(ALL_CAPS) and "CAP_SYS_ADMIN" in kernel_caps()  # CI runs as root
    def refuse(*a: object) -> int:
        raise PermissionError(13, "no /proc")
    monkeypatch.setattr(fs.posix, "open", refuse)
    assert fs.proc_status_hex("SigIgn") is None
    assert libc._ignored_signals() == (1 << 64) - 1
