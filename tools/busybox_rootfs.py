#!/usr/bin/env python3
"""Write a busybox rootfs tarball to stdout (or a file): the host's static
busybox with its applet links and a minimal /etc, as the busybox image has.

Used by `make run`/`make test` to create busybox:latest with `dockyard import`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time

DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755, "root": 0o700,
        "sys": 0o755, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755, "sbin": 0o755,
        "var": 0o755, "var/spool": 0o755, "var/spool/mail": 0o755, "var/www": 0o755, "etc/network": 0o755}
FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                  "bin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\n"
                  "sync:x:4:100:sync:/bin:/bin/sync\nmail:x:8:8:mail:/var/spool/mail:/bin/false\n"
                  "www-data:x:33:33:www-data:/var/www:/bin/false\noperator:x:37:37:Operator:/var:/bin/false\n"
                  "nobody:x:65534:65534:nobody:/home:/bin/false\n",
    "etc/group": "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\ndisk:x:6:\nlp:x:7:\n"
                 "mail:x:8:\nkmem:x:9:\nwheel:x:10:root\ncdrom:x:11:\ndialout:x:18:\nfloppy:x:19:\n"
                 "video:x:28:\naudio:x:29:\ntape:x:32:\nwww-data:x:33:\noperator:x:37:\nutmp:x:43:\n"
                 "plugdev:x:46:\nstaff:x:50:\nlock:x:54:\nnetdev:x:82:\nusers:x:100:\nnobody:x:65534:\n",
    "etc/shadow": "root:*:10933:0:99999:7:::\nnobody:*:10933:0:99999:7:::\n",
    "etc/hostname": "busybox\n",
    "etc/nsswitch.conf": "hosts: files dns\nnetworks: files\n",
}


def build(busybox: str, out: io.BufferedWriter) -> None:
    mtime = int(os.stat(busybox).st_mtime)
    applets = subprocess.run([busybox, "--list-full"], check=True, stdout=subprocess.PIPE,
                             text=True).stdout.split()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for d, mode in DIRS.items():
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, mode, mtime
            tf.addfile(ti)
        ti = tf.gettarinfo(busybox, "bin/busybox")
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        ti.mode = 0o755
        with open(busybox, "rb") as f:
            tf.addfile(ti, f)
        for applet in sorted(set(applets)):
            if applet in ("bin/busybox", "busybox"):
                continue
            ti = tarfile.TarInfo(applet)
            ti.type = tarfile.LNKTYPE  # hard links, as the official image has
            ti.linkname = "bin/busybox"
            ti.mode, ti.mtime = 0o755, mtime
            tf.addfile(ti)
        for name, content in FILES.items():
            data = content.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o600 if name.endswith("shadow") else 0o644, mtime
            tf.addfile(ti, io.BytesIO(data))


def main() -> int:
    busybox = os.environ.get("BUSYBOX", "/bin/busybox")
    if not os.path.exists(busybox):
        sys.stderr.write(f"{busybox} not found: install busybox-static\n")
        return 1
    if len(sys.argv) > 1 and sys.argv[1] != "-":
        with open(sys.argv[1], "wb") as f:
            build(busybox, f)  # type: ignore[arg-type]
    else:
        build(busybox, sys.stdout.buffer)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
