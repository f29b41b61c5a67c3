"""Mounts as data (containerd's lingua franca) and the one place in the core
that performs them. Snapshotters return Mount lists; whoever needs a rootfs
calls mount_all / unmount_all."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field

from .._sys import consts as c
from .._sys import libc


@dataclass(frozen=True, slots=True)
class Mount:
    type: str
    source: str
    options: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {"type": self.type, "source": self.source, "options": list(self.options)}

    @classmethod
    def from_json(cls, d: dict) -> "Mount":
        return cls(d["type"], d["source"], tuple(d.get("options") or ()))


def _flags_and_data(options: tuple[str, ...]) -> tuple[int, str]:
    flags = 0
    data = []
    for o in options:
        if o == "ro":
            flags |= c.MS_RDONLY
        elif o == "rw":
            pass
        elif o == "bind":
            flags |= c.MS_BIND
        elif o == "rbind":
            flags |= c.MS_BIND | c.MS_REC
        elif o == "nosuid":
            flags |= c.MS_NOSUID
        elif o == "nodev":
            flags |= c.MS_NODEV
        elif o == "noexec":
            flags |= c.MS_NOEXEC
        else:
            data.append(o)
    return flags, ",".join(data)


def volatile(mounts: list[Mount]) -> list[Mount]:
    """The mounts with overlayfs' `volatile` for a writable layer that is
    thrown away with its container (--rm): no sync of the upper filesystem,
    at umount either (a syncfs of the whole host filesystem, tens of ms on a
    busy host). Overlay leaves work/incompat/volatile behind and refuses to
    mount over it again: a marker left by an earlier mount of the same layer
    goes (its content is throwaway by definition)."""
    out = []
    for m in mounts:
        if m.type == "overlay" and any(o.startswith("upperdir=") for o in m.options):
            for o in m.options:
                if o.startswith("workdir="):
                    try:
                        os.rmdir(os.path.join(o[len("workdir="):], "work", "incompat", "volatile"))
                    except OSError:
                        pass
            m = Mount(m.type, m.source, (*m.options, "volatile"))
        out.append(m)
    return out


def mount_all(mounts: list[Mount], target: str) -> None:
    os.makedirs(target, exist_ok=True)
    done: list[str] = []
    try:
        for m in mounts:
            flags, data = _flags_and_data(m.options)
            if m.type == "bind" or flags & c.MS_BIND:
                libc.mount(m.source, target, None, flags & (c.MS_BIND | c.MS_REC) | c.MS_BIND)
                done.append(target)
                if flags & c.MS_RDONLY:
                    libc.mount(None, target, None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY)
            else:
                if len(data) >= 4096:
                    raise OSError(errno.E2BIG, f"mount options for {target} exceed a page ({len(data)} bytes)")
                libc.mount(m.source, target, m.type, flags, data or None)
                done.append(target)
    except BaseException:
        for t in reversed(done):
            try:
                libc.umount2(t, c.MNT_DETACH)
            except OSError:
                pass
        raise


def unmount_all(target: str) -> None:
    """Unmount every mount stacked on target (ignore what is not mounted)."""
    for _ in range(32):
        try:
            libc.umount2(target, c.UMOUNT_NOFOLLOW)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return
            if e.errno == errno.EBUSY:
                libc.umount2(target, c.MNT_DETACH | c.UMOUNT_NOFOLLOW)
                continue
            raise


def is_mounted(target: str) -> bool:
    target = os.path.realpath(target)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                if line.split()[4] == target:
                    return True
    except OSError:
        pass
    return False
