"""The cgroup managers' file writes, on a directory tree standing in for
/sys/fs/cgroup (no root needed), and seccomp rule building."""

from __future__ import annotations

import os

import pytest

from dockyard.cgroups.v1 import V1Manager
from dockyard.cgroups.v2 import V2Manager, shares_to_weight


def _v1_tree(tmp_path) -> str:
    root = tmp_path / "cg"
    for ctrl in ("cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"):
        (root / ctrl).mkdir(parents=True)
    (root / "cpuset" / "cpuset.cpus").write_text("0-3\n")
    (root / "cpuset" / "cpuset.mems").write_text("0\n")
    return str(root)


def _read(path) -> str:
    with open(path) as f:
        return f.read()


def test_v1_resources(tmp_path) -> None:
    root = _v1_tree(tmp_path)
    for rel in ("cpuset/parent", "cpuset/parent/c1"):  # as the kernel makes them: empty
        os.makedirs(os.path.join(root, rel))
        for f in ("cpuset.cpus", "cpuset.mems"):
            open(os.path.join(root, rel, f), "w").close()
    m = V1Manager("/parent/c1", root)
    m.create()
    mem = os.path.join(root, "memory/parent/c1")
    for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
        open(os.path.join(mem, name), "w").close()
    blk = os.path.join(root, "blkio/parent/c1")
    # the files the kernel would have (write_file opens them, never creates)
    for rel in ("memory/parent/c1/memory.soft_limit_in_bytes", "memory/parent/c1/memory.swappiness",
                "cpu,cpuacct/parent/c1/cpu.shares", "cpu,cpuacct/parent/c1/cpu.cfs_quota_us",
                "cpu,cpuacct/parent/c1/cpu.cfs_period_us", "pids/parent/c1/pids.max",
                "blkio/parent/c1/blkio.bfq.weight", "blkio/parent/c1/blkio.throttle.read_bps_device",
                "devices/parent/c1/devices.allow", "devices/parent/c1/devices.deny"):
        open(os.path.join(root, rel), "w").close()
    m.set_resources({
        "memory": {"limit": 1 << 20, "reservation": 1 << 19, "swap": 2 << 20, "swappiness": 10},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "1", "mems": "0"},
        "pids": {"limit": 0},
        "blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1024}]},
        "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3,
                                                         "access": "rw"}],
    })
    assert _read(f"{mem}/memory.limit_in_bytes") == str(1 << 20)
    assert _read(f"{mem}/memory.memsw.limit_in_bytes") == str(2 << 20)
    assert _read(f"{mem}/memory.soft_limit_in_bytes") == str(1 << 19)
    assert _read(f"{mem}/memory.swappiness") == "10"
    cpu = os.path.join(root, "cpu,cpuacct/parent/c1")
    assert _read(f"{cpu}/cpu.shares") == "512" and _read(f"{cpu}/cpu.cfs_quota_us") == "50000"
    assert _read(os.path.join(root, "cpuset/parent/c1/cpuset.cpus")) == "1"
    assert _read(os.path.join(root, "pids/parent/c1/pids.max")) == "max"  # 0: unlimited
    assert _read(f"{blk}/blkio.bfq.weight") == "300"
    assert _read(f"{blk}/blkio.throttle.read_bps_device") == "8:0 1024"
    # devices rules: each written in turn; the last one stays in our stand-in file
    assert _read(os.path.join(root, "devices/parent/c1/devices.allow")) == "c 1:3 rw"
    assert _read(os.path.join(root, "devices/parent/c1/devices.deny")) == "a"
    # the cpuset of a new cgroup is copied down, or no task could join it
    assert _read(os.path.join(root, "cpuset/parent/cpuset.cpus")) == "0-3"


def test_v1_swap_order_when_lowering(tmp_path) -> None:
    """memsw must stay >= limit at every step: lower the limit first."""
    root = _v1_tree(tmp_path)
    m = V1Manager("/c2", root)
    m.create()
    mem = os.path.join(root, "memory/c2")
    writes = []

    import dockyard.cgroups.v1 as v1
    real = v1.write_file

    def record(path, value):
        writes.append(os.path.basename(path))
        real(path, value)
    v1.write_file = record
    try:
        with open(os.path.join(mem, "memory.limit_in_bytes"), "w") as f:
            f.write(str(8 << 20))
        open(os.path.join(mem, "memory.memsw.limit_in_bytes"), "w").close()
        m.set_resources({"memory": {"limit": 1 << 20, "swap": 2 << 20}})
        assert writes == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        writes.clear()
        m.set_resources({"memory": {"limit": 16 << 20, "swap": 32 << 20}})
        assert writes == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    finally:
        v1.write_file = real


def test_v1_blkio_weight_without_a_weight_file_is_an_error(tmp_path) -> None:
    root = _v1_tree(tmp_path)
    m = V1Manager("/c3", root)
    m.create()
    with pytest.raises(OSError):
        m.set_resources({"blockIO": {"weight": 100}})


def test_v2_resources(tmp_path) -> None:
    root = tmp_path / "cg2"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu io memory pids cpuset\n")
    (root / "cgroup.subtree_control").write_text("")
    m = V2Manager("/p/c", str(root))
    m.create()
    assert _read(root / "cgroup.subtree_control") == "+cpu +io +memory +pids +cpuset"
    d = root / "p" / "c"
    for name in ("memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "pids.max", "io.weight",
                 "cpuset.cpus", "memory.high"):
        (d / name).write_text("")
    m.set_resources({"memory": {"limit": 1 << 20, "reservation": 1 << 19, "swap": 3 << 20},
                     "cpu": {"shares": 1024, "quota": 20000, "period": 100000, "cpus": "0"},
                     "pids": {"limit": 7}, "blockIO": {"weight": 500}, "unified": {"memory.high": "900000"}})
    assert _read(d / "memory.max") == str(1 << 20)
    assert _read(d / "memory.swap.max") == str(2 << 20)  # OCI swap is memory+swap; v2's is swap alone
    assert _read(d / "cpu.weight") == str(shares_to_weight(1024)) == "39"
    assert _read(d / "cpu.max") == "20000 100000"
    assert _read(d / "pids.max") == "7"
    assert _read(d / "memory.high") == "900000"
    with pytest.raises(ValueError):
        m.set_resources({"unified": {"../escape": "1"}})
    with pytest.raises(OSError):  # a controller that is not there
        m.set_resources({"unified": {"hugetlb.2MB.max": "1"}})


def test_seccomp_rules_split_like_runc() -> None:
    pyseccomp = pytest.importorskip("pyseccomp")
    from dockyard.runtime import seccomp
    same = [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]
    different = [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_NE"}]
    assert [len(r) for r in seccomp._conditions(pyseccomp, same)] == [1, 1]
    assert [len(r) for r in seccomp._conditions(pyseccomp, different)] == [2]
    # builds (without loading) a filter with docker-style entries, unknown names skipped
    filt = seccomp.build_filter({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                                 "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                                 "syscalls": [{"names": ["kill", "not_a_syscall"], "action": "SCMP_ACT_ALLOW",
                                               "args": same},
                                              {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]})
    assert filt.get_attr(pyseccomp.Attr.CTL_NNP) == 0
