"""Parent/child synchronisation over two pipes (one each way).

Messages are JSON objects with a "type", one per line, each written with a
single write (small messages are atomic on a pipe, so two children may share
one); every receive names the types it expects, so a protocol slip is
reported as such. A child that fails sends {"type": "error", "step": ...,
"message": ..., "errno": ...} before exiting. Both ends are close-on-exec:
a successful execve closes the child's end, which the parent sees as EOF.

``create`` without a user namespace (create.py):

  main                                              init
   unshare(CLONE_NEWPID) ; fork ──────────────────▶ imports, setns(paths), unshare(mnt, net,
   setns(back to our pid ns)                        uts, ipc), mounts until the first cgroup
   cgroup: mkdir, linux.resources,                  mount
   add init's pid (may wait for RCU)
   go {state} ────────────────────────────────────▶ unshare(cgroup), cgroup and later mounts,
                                                    devices
        ◀──────────────────────────────────────────  hooks                (only with hooks)
   prestart, createRuntime hooks
   hooks-done {state} ────────────────────────────▶ createContainer hooks; pivot_root, hostname,
                                                    sysctl, readonly/masked paths, terminal,
                                                    rlimits, user, caps, seccomp
        ◀──────────────────────────────────────────  ready | error
   state.json, pid file; exit (run: open the        block on the exec fifo; startContainer
   fifo, wait, delete)                              hooks; execve

With a user namespace an intermediate process goes first, on a channel of
its own: it unshares (or joins) the user namespace and reports "userns"; main
writes the id maps and answers "mapped"; the intermediate unshares the pid
namespace, forks init and reports "pid" {pid}, then exits. exec_.py has the
same shape for `exec` (intermediate: setns, fork; process: ready, EOF).
"""

from __future__ import annotations

import posix

from .jsonio import dumps, loads
from .state import RuntimeError_

# Longer error texts are cut so that every message stays one atomic write.
MAX_MESSAGE = 3500


class ChildError(RuntimeError_):
    """A failure the container's setup reported, with the step it failed in."""


class Channel:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.buf = b""

    @classmethod
    def pair(cls) -> tuple["Channel", "Channel"]:
        r1, w1 = posix.pipe()  # parent -> child (close-on-exec, as posix.pipe makes them)
        r2, w2 = posix.pipe()  # child -> parent
        return cls(r2, w1), cls(r1, w2)

    def send(self, msg_type: str, **fields: object) -> None:
        fields["type"] = msg_type
        data = dumps(fields).encode() + b"\n"
        try:
            while data:
                n = posix.write(self.wfd, data)
                data = data[n:]
        except BrokenPipeError:
            # The peer is gone: report why, if it said so before exiting.
            posix.set_blocking(self.rfd, False)
            try:
                while True:
                    msg = self._next()
                    if msg is None:
                        break
                    if msg.get("type") == "error":
                        self._raise(msg)
            except BlockingIOError:
                pass
            raise ChildError(f"container init exited before receiving {msg_type}") from None

    def send_error(self, step: str, err: BaseException) -> None:
        errno_ = getattr(err, "errno", None)
        if isinstance(err, OSError) and err.strerror:
            msg = err.strerror if not err.filename else f"{err.strerror}: {err.filename}"
            if err.strerror.startswith(("exec:", "mount ", "umount ", "pivot_root", "setns", "unshare")):
                msg = err.strerror
        else:
            msg = str(err) or type(err).__name__
        try:
            self.send("error", step=step[:200], message=msg[:MAX_MESSAGE], errno=errno_)
        except (OSError, ChildError):
            pass

    def _raise(self, msg: dict) -> None:
        step, text = msg.get("step", "init"), msg.get("message", "")
        if isinstance(msg.get("errno"), int):
            import errno
            text = f"{text} ({errno.errorcode.get(msg['errno'], 'errno %d' % msg['errno'])})"
        # runc's wording, which docker users (and the docker CLI's exit codes) know.
        if step == "lookup executable":
            raise ChildError(f"unable to start container process: {text}")
        raise ChildError(f"unable to start container process: error during container init: {step}: {text}")

    def _next(self) -> dict | None:
        """The next message, None at end of file."""
        while b"\n" not in self.buf:
            data = posix.read(self.rfd, 65536)
            if not data:
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return loads(line)

    def recv(self, *expected: str) -> dict:
        msg = self._next()
        if msg is None:
            raise ChildError(f"container init exited before sending {'/'.join(expected)}")
        if msg.get("type") == "error" and "error" not in expected:
            self._raise(msg)
        if msg.get("type") not in expected:
            raise ChildError(f"unexpected message {msg.get('type')!r}, expected {'/'.join(expected)}")
        return msg

    def recv_eof_or_error(self) -> None:
        """Returns at end of file (the peer's execve closed its end);
        raises the error the peer reported instead."""
        msg = self._next()
        if msg is not None:
            if msg.get("type") == "error":
                self._raise(msg)
            raise ChildError(f"unexpected message {msg.get('type')!r} before exec")

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            if fd >= 0:
                posix.close(fd)
        self.rfd = self.wfd = -1
