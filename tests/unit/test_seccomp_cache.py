"""The compiled-filter cache's pure parts: entry format, keys, eviction.
(Loading is tested from inside containers: tests/integration/runtime.)"""

from __future__ import annotations

import os

from dockyard.runtime import seccomp

PROGRAM = bytes(range(8)) * 5  # five instructions; the content does not matter here
LOG = 2


def test_entry_round_trip_and_every_corruption_is_refused() -> None:
    entry = seccomp.make_entry(PROGRAM, LOG)
    assert len(entry) % 8 == 0
    assert seccomp.parse_entry(entry, LOG) == PROGRAM
    flipped = bytearray(entry)
    flipped[-1] ^= 1
    for bad in (entry[:-8], entry[:-1], entry + b"\0" * 8, bytes(flipped), b"X" + entry[1:], entry[:56], b""):
        assert seccomp.parse_entry(bad, LOG) is None
    assert seccomp.parse_entry(entry, 0) is None  # written for other seccomp(2) flags


def test_make_entry_refuses_what_is_not_a_program() -> None:
    for bad in (b"", b"1234567"):
        try:
            seccomp.make_entry(bad, 0)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_key_ignores_key_order_but_not_content() -> None:
    a = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    b = {"syscalls": [{"action": "SCMP_ACT_ERRNO", "names": ["mkdir"]}], "defaultAction": "SCMP_ACT_ALLOW"}
    c = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}]}
    assert seccomp.cache_key(a) == seccomp.cache_key(b) != seccomp.cache_key(c)
    assert len(seccomp.cache_key(a)) == 64


def test_flags_follow_the_profile() -> None:
    assert seccomp._load_flags({}) == 0
    assert seccomp._load_flags({"flags": ["SECCOMP_FILTER_FLAG_LOG"]}) == 2
    assert seccomp._load_flags({"flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]}) == 6
    assert seccomp._load_flags({"flags": ["SECCOMP_FILTER_FLAG_TSYNC"]}) == 0  # single-threaded init


def test_eviction_keeps_the_most_recently_used_and_drops_stale_temp_files(tmp_path) -> None:
    for i in range(6):
        p = tmp_path / f"e{i}"
        p.write_bytes(b"x")
        os.utime(p, (1000 + i, 1000 + i))
    os.utime(tmp_path / "e0", (5000, 5000))  # used recently: stays
    (tmp_path / ".e9.tmp1").write_bytes(b"")
    os.utime(tmp_path / ".e9.tmp1", (10, 10))
    (tmp_path / ".e8.tmp2").write_bytes(b"")  # being written right now: stays
    seccomp._evict(str(tmp_path), keep=3)
    assert sorted(os.listdir(tmp_path)) == [".e8.tmp2", "e0", "e4", "e5"]


def test_cache_dir_open_to_others_is_not_used(tmp_path) -> None:
    d = tmp_path / seccomp.CACHE_DIR
    assert seccomp._cache_dir(str(tmp_path)) == str(d)
    assert oct(d.stat().st_mode & 0o777) == "0o700"
    d.chmod(0o755)
    assert seccomp._cache_dir(str(tmp_path)) == ""
