"""Network namespace files, and doing things inside a namespace.

A container's network namespace is made before the container, so that the
daemon can wire it (veth, addresses, routes, DNS sockets) and the runtime then
joins it by path (``linux.namespaces[type=network].path`` in the OCI spec).
The namespace is kept alive by a bind mount of its nsfs inode on a file
(``<exec-root>/netns/<id>``), as ``ip netns add`` and docker do.

No helper process is needed: network namespaces are per thread. A fresh
thread calls unshare(CLONE_NEWNET), bind-mounts /proc/thread-self/ns/net on
the file and switches back with setns(); a thread that enters a namespace to
make sockets there (netlink, the DNS listeners) is also a throwaway one, so no
pooled thread can ever be left in the wrong namespace. Sockets keep the
namespace they were created in for their whole life.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from typing import Callable, TypeVar

from .._sys import consts as c
from .._sys import libc

T = TypeVar("T")


def _in_thread(fn: Callable[[], T]) -> T:
    box: list = []

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box.append((False, e))

    t = threading.Thread(target=run, name="dockyard-netns")
    t.start()
    t.join()
    ok, value = box[0]
    if not ok:
        raise value
    return value


def create(path: str) -> None:
    """A new, empty network namespace pinned at ``path``."""
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)

    def make() -> None:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.unshare(c.CLONE_NEWNET)
            try:
                libc.mount("/proc/thread-self/ns/net", path, None, c.MS_BIND)
            finally:
                libc.setns(home, c.CLONE_NEWNET)
        finally:
            os.close(home)

    try:
        _in_thread(make)
    except BaseException:
        os.unlink(path)
        raise


def pin_process(pid: int, path: str) -> None:
    """Pin the namespace of a running process at ``path`` (after the file was lost)."""
    remove(path)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    try:
        libc.mount(f"/proc/{pid}/ns/net", path, None, c.MS_BIND)
    except BaseException:
        os.unlink(path)
        raise


def is_namespace(path: str) -> bool:
    """Whether ``path`` still pins a namespace (a reboot leaves a plain file)."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def remove(path: str) -> None:
    """Unpin and delete; the namespace dies with its last process."""
    try:
        libc.umount2(path, c.MNT_DETACH)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def run_in(path: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a throwaway thread inside the namespace at ``path``."""
    def enter() -> T:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.setns(fd, c.CLONE_NEWNET)
        finally:
            os.close(fd)
        return fn()  # the thread ends here: nothing to switch back

    return _in_thread(enter)


def socket_in(path: str, family: int, type_: int, proto: int = 0) -> socket.socket:
    return run_in(path, lambda: socket.socket(family, type_, proto))
