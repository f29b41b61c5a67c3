"""Parent/child synchronisation over a SOCK_SEQPACKET socketpair.

Messages are JSON objects with a "type"; every receive names the types it
expects, so a protocol slip is reported as such. A child that fails sends
{"type": "error", "step": ..., "message": ..., "errno": ...} before exiting.

  main                      intermediate                     init
   fork ───────────────────▶
   cgroup.add(intermediate)
   go ─────────────────────▶ setns / unshare(user)
        ◀─────────────────── userns           (only with a user namespace)
   write uid/gid maps
   mapped ─────────────────▶ unshare(rest) ; fork ──────────▶
        ◀─────────────────── pid {pid}
                             exit 0                           mounts
        ◀──────────────────────────────────────────────────── hooks      (only with hooks)
   prestart/createRuntime
   hooks-done ───────────────────────────────────────────────▶ createContainer hooks
                                                               pivot_root, caps, seccomp
        ◀──────────────────────────────────────────────────── ready | error
   write state.json, pid file; exit                            block on exec fifo; execve
"""

from __future__ import annotations

import _socket

from .jsonio import dumps, loads
from .state import RuntimeError_


class ChildError(RuntimeError_):
    """A failure the container's setup reported, with the step it failed in."""


class Channel:
    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock

    @classmethod
    def pair(cls) -> tuple["Channel", "Channel"]:
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        return cls(a), cls(b)

    def send(self, msg_type: str, **fields: object) -> None:
        fields["type"] = msg_type
        try:
            self.sock.sendall(dumps(fields).encode())
        except (BrokenPipeError, ConnectionResetError):
            # The peer is gone: report why, if it said so before exiting.
            self.sock.setblocking(False)
            try:
                while True:
                    data = self.sock.recv(65536)
                    if not data:
                        break
                    msg = loads(data)
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
            self.send("error", step=step, message=msg, errno=errno_)
        except OSError:
            pass

    def _raise(self, msg: dict) -> None:
        step, text = msg.get("step", "init"), msg.get("message", "")
        # runc's wording, which docker users (and the docker CLI's exit codes) know.
        if step == "lookup executable":
            raise ChildError(f"unable to start container process: {text}")
        raise ChildError(f"unable to start container process: error during container init: {step}: {text}")

    def recv(self, *expected: str) -> dict:
        data = self.sock.recv(65536)
        if not data:
            raise ChildError(f"container init exited before sending {'/'.join(expected)}")
        msg = loads(data)
        if msg.get("type") == "error" and "error" not in expected:
            self._raise(msg)
        if msg.get("type") not in expected:
            raise ChildError(f"unexpected message {msg.get('type')!r}, expected {'/'.join(expected)}")
        return msg

    def recv_eof_or_error(self) -> None:
        """Returns at end of file (the peer's execve closed its end);
        raises the error the peer reported instead."""
        data = self.sock.recv(65536)
        if data:
            msg = loads(data)
            if msg.get("type") == "error":
                self._raise(msg)
            raise ChildError(f"unexpected message {msg.get('type')!r} before exec")

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
