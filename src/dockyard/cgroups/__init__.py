"""cgroup managers behind one interface: v1 (one hierarchy per controller) and
v2 (the unified hierarchy). File I/O only; every manager takes the cgroupfs
root so tests can point it at a temporary directory.

``open_manager(cgroups_path)`` picks v2 when /sys/fs/cgroup is a cgroup2 mount
with controllers, v1 otherwise (hybrid hosts like ours keep v1)."""

from __future__ import annotations

from .common import CgroupManager, detect_mode, open_manager

__all__ = ["CgroupManager", "detect_mode", "open_manager"]
