"""mount(8)-style option strings to mount(2) flags, as runc parses them."""

from __future__ import annotations

from .._sys import consts as c

# option -> (clear?, flag)
FLAGS: dict[str, tuple[bool, int]] = {
    "async": (True, c.MS_SYNCHRONOUS), "atime": (True, c.MS_NOATIME), "bind": (False, c.MS_BIND),
    "defaults": (False, 0), "dev": (True, c.MS_NODEV), "diratime": (True, c.MS_NODIRATIME),
    "dirsync": (False, c.MS_DIRSYNC), "exec": (True, c.MS_NOEXEC), "mand": (False, c.MS_MANDLOCK),
    "noatime": (False, c.MS_NOATIME), "nodev": (False, c.MS_NODEV), "nodiratime": (False, c.MS_NODIRATIME),
    "noexec": (False, c.MS_NOEXEC), "nomand": (True, c.MS_MANDLOCK), "norelatime": (True, c.MS_RELATIME),
    "nostrictatime": (True, c.MS_STRICTATIME), "nosuid": (False, c.MS_NOSUID), "nosymfollow": (False, c.MS_NOSYMFOLLOW),
    "rbind": (False, c.MS_BIND | c.MS_REC), "relatime": (False, c.MS_RELATIME), "remount": (False, c.MS_REMOUNT),
    "ro": (False, c.MS_RDONLY), "rw": (True, c.MS_RDONLY), "strictatime": (False, c.MS_STRICTATIME),
    "suid": (True, c.MS_NOSUID), "sync": (False, c.MS_SYNCHRONOUS), "symfollow": (True, c.MS_NOSYMFOLLOW),
    "lazytime": (False, c.MS_LAZYTIME), "nolazytime": (True, c.MS_LAZYTIME),
}
PROPAGATION: dict[str, int] = {
    "private": c.MS_PRIVATE, "rprivate": c.MS_PRIVATE | c.MS_REC,
    "shared": c.MS_SHARED, "rshared": c.MS_SHARED | c.MS_REC,
    "slave": c.MS_SLAVE, "rslave": c.MS_SLAVE | c.MS_REC,
    "unbindable": c.MS_UNBINDABLE, "runbindable": c.MS_UNBINDABLE | c.MS_REC,
}
# Options runc accepts that are not mount(2) flags or data.
EXTENSIONS = frozenset({"tmpcopyup", "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec",
                        "rexec", "rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "rnoatime",
                        "ratime", "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow",
                        "idmap", "ridmap"})


def parse(options: list[str] | None) -> tuple[int, list[int], str, set[str]]:
    """Return (flags, propagation flags, data, extensions)."""
    flags = 0
    prop: list[int] = []
    data: list[str] = []
    ext: set[str] = set()
    for opt in options or []:
        if opt in FLAGS:
            clear, f = FLAGS[opt]
            flags = flags & ~f if clear else flags | f
        elif opt in PROPAGATION:
            prop.append(PROPAGATION[opt])
        elif opt in EXTENSIONS:
            ext.add(opt)
        else:
            data.append(opt)
    return flags, prop, ",".join(data), ext


def statvfs_flags(path: str) -> int:
    """The mount flags a remount must keep (a bind remount in a user namespace
    fails with EPERM if it would clear a locked flag)."""
    import posix
    st = posix.statvfs(path)
    out = 0
    for vfs, ms in ((posix.ST_RDONLY, c.MS_RDONLY), (posix.ST_NOSUID, c.MS_NOSUID), (posix.ST_NODEV, c.MS_NODEV),
                    (posix.ST_NOEXEC, c.MS_NOEXEC), (posix.ST_NOATIME, c.MS_NOATIME),
                    (posix.ST_NODIRATIME, c.MS_NODIRATIME), (posix.ST_RELATIME, c.MS_RELATIME)):
        if st.f_flag & vfs:
            out |= ms
    return out
