"""The shim's event loop: one thread, one selector. Sources are the control
socket, client connections, the container's output fds and a self-pipe woken
by SIGCHLD."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import time
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of the long-lived shim's memory
    from typing import Any, Callable

from ..fsutil import atomic_write_json
from ..shimapi import protocol as proto
from .logs import make_logger, rfc3339nano
from .runtime_client import RuntimeClient, RuntimeFailed

DRAIN_TIMEOUT = 2.0  # how long output may trail the exit of a process
F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20


def _nonblock(fd: int) -> None:
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)


class Conn:
    """A client connection: JSON lines until it turns into an attach stream."""

    def __init__(self, server: "Server", sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.rbuf = b""
        self.wbuf = bytearray()
        self.attached: "Process | None" = None
        self.attach_stdin = False
        self.close_stdin_on_eof = False
        self.closing = False
        self.closed = False
        self.read_closed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if len(self.wbuf) > 64 * 1024 * 1024:
            self.close()  # a client that stopped reading: drop it, not the shim
            return
        self.wbuf += data
        self.server.want_write(self)

    def reply(self, msg: dict[str, Any]) -> None:
        self.send(proto.encode(msg))

    def close_after_flush(self) -> None:
        self.closing = True
        if not self.wbuf:
            self.close()
        else:
            self.server.update_events(self)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.server.forget(self)
        try:
            self.sock.close()
        except OSError:
            pass


class Process:
    """The container's init or one exec: its stdio, subscribers and exit."""

    def __init__(self, server: "Server", exec_id: str, tty: bool, stdin: bool) -> None:
        self.server = server
        self.exec_id = exec_id
        self.tty = tty
        self.want_stdin = stdin
        self.pid = 0
        self.status = "created"
        self.exit_code = 0
        self.exited_at = ""
        self.oom_killed = False
        self.exited = False
        self.done = False
        self.stdin_fd: int | None = None
        self.stdin_buf = bytearray()
        self.stdin_close_pending = False
        self.out_fds: dict[int, int] = {}  # fd -> stream number
        self.subscribers: list[Conn] = []
        self.waiters: list[Conn] = []
        self.drain_deadline = 0.0
        self.process_spec: dict[str, Any] = {}
        self.container_fds: list[int] = []

    # -- stdio --------------------------------------------------------------
    def make_pipes(self) -> tuple[int, int, int]:
        """Pipes for a non-tty process; returns the container's ends."""
        if self.want_stdin:
            r, w = os.pipe2(os.O_CLOEXEC)
            self.stdin_fd = w
            _nonblock(w)
            stdin = r
        else:
            stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        for fd, stream in ((out_r, proto.STDOUT), (err_r, proto.STDERR)):
            _nonblock(fd)
            try:  # a bigger pipe: fewer wakeups for a chatty container
                fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass
            self.out_fds[fd] = stream
        self.container_fds = [stdin, out_w, err_w]
        return stdin, out_w, err_w

    def close_container_fds(self) -> None:
        for fd in self.container_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.container_fds = []

    def set_master(self, master: int) -> None:
        _nonblock(master)
        self.out_fds[master] = proto.STDOUT
        self.stdin_fd = master
        self.master = master

    def register(self) -> None:
        for fd in self.out_fds:
            self.server.sel.register(fd, selectors.EVENT_READ, ("out", self, fd))

    def on_output(self, fd: int) -> None:
        try:
            data = os.read(fd, PIPE_SIZE)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the pty's last slave closed
                raise
            data = b""
        if not data:
            self._close_out(fd)
            return
        stream = self.out_fds[fd]
        if self.exec_id == "":
            self.server.logger.write("stdout" if stream == proto.STDOUT else "stderr", data)
        payload = proto.frame(stream, data)
        for c in list(self.subscribers):
            c.send(payload)

    def _close_out(self, fd: int) -> None:
        try:
            self.server.sel.unregister(fd)
        except (KeyError, ValueError):
            pass
        del self.out_fds[fd]
        if fd != self.stdin_fd:
            os.close(fd)
        if not self.out_fds:
            self.maybe_finish()

    def waiting_to_start(self) -> bool:
        """Stdin written before an exec starts is kept until it does."""
        return self.want_stdin and self.status == "created" and self.stdin_fd is None

    def write_stdin(self, data: bytes) -> None:
        if self.done or (self.stdin_fd is None and not self.waiting_to_start()):
            return
        self.stdin_buf += data
        self.flush_stdin()

    def flush_stdin(self) -> None:
        fd = self.stdin_fd
        if fd is None:
            return
        while self.stdin_buf:
            try:
                n = os.write(fd, self.stdin_buf)
            except BlockingIOError:
                self.server.want_stdin_write(self)
                return
            except OSError:
                self.stdin_buf.clear()
                break
            del self.stdin_buf[:n]
        self.server.no_stdin_write(self)
        if self.stdin_close_pending:
            self.close_stdin()

    def close_stdin(self) -> None:
        if self.stdin_buf or self.waiting_to_start():
            self.stdin_close_pending = True
            return
        self.stdin_close_pending = False
        if self.tty:
            # EOF on a terminal is ^D in the line discipline.
            if self.stdin_fd is not None and not self.done:
                try:
                    os.write(self.stdin_fd, b"\x04")
                except OSError:
                    pass
            return
        if self.stdin_fd is not None:
            self.server.no_stdin_write(self)
            os.close(self.stdin_fd)
            self.stdin_fd = None

    # -- exit ---------------------------------------------------------------
    def on_exit(self, status: int) -> None:
        self.exited = True
        self.status = "stopped"
        self.exit_code = os.waitstatus_to_exitcode(status)
        if self.exit_code < 0:
            self.exit_code = 128 - self.exit_code
        self.exited_at = rfc3339nano()
        if self.exec_id == "":
            self.oom_killed = self.server.oom_killed()
        self.drain_deadline = time.monotonic() + DRAIN_TIMEOUT
        self.maybe_finish()

    def maybe_finish(self, force: bool = False) -> None:
        if self.done or not self.exited:
            return
        if self.out_fds and not force:
            return
        for fd in list(self.out_fds):
            try:
                self.server.sel.unregister(fd)
            except (KeyError, ValueError):
                pass
            if fd != self.stdin_fd:
                os.close(fd)
        self.out_fds.clear()
        if self.stdin_fd is not None:
            self.server.no_stdin_write(self)
            try:
                os.close(self.stdin_fd)
            except OSError:
                pass
            self.stdin_fd = None
        self.done = True
        self.server.on_process_done(self)
        for c in self.subscribers:
            c.close_after_flush()
        self.subscribers.clear()
        result = self.result()
        for w in self.waiters:
            w.reply(proto.ok(**result))
        self.waiters.clear()

    def result(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "exited_at": self.exited_at, "oom_killed": self.oom_killed}


class Server:
    def __init__(self, opts: dict[str, Any]) -> None:
        self.opts = opts
        self.id: str = opts["id"]
        self.bundle: str = opts["bundle"]
        self.sel = selectors.DefaultSelector()
        self.runtime = RuntimeClient(opts["runtime"], opts.get("runtime_root"),
                                     os.path.join(self.bundle, "runtime.log"))
        self.logger = self._make_logger()
        self.init = Process(self, "", bool(opts.get("tty")), bool(opts.get("stdin")))
        self.execs: dict[str, Process] = {}
        self.pid_to_proc: dict[int, Process] = {}
        self.conns: set[Conn] = set()
        self.stdin_waiting: set[Process] = set()
        self.listener: socket.socket | None = None
        self.running = True
        self.exit_file = os.path.join(self.bundle, "exit.json")
        self._spec_cache: dict[str, Any] | None = None

    def _make_logger(self) -> Any:
        return make_logger(self.opts.get("log_driver") or "json-file", self.opts.get("log_path") or "",
                           self.opts.get("log_opts") or {})

    # -- setup ----------------------------------------------------------------
    def _console_path(self, name: str) -> str:
        """Beside the control socket: bundle paths can exceed sun_path's 108 bytes."""
        sock = self.opts.get("socket") or os.path.join(self.bundle, "shim.sock")
        return f"{sock[:-5] if sock.endswith('.sock') else sock}.{name}.con"

    def create_container(self) -> int:
        pid_file = os.path.join(self.bundle, "init.pid")
        console_path = None
        console_listener = None
        if self.init.tty:
            console_path = self._console_path("init")
            console_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if os.path.exists(console_path):
                os.unlink(console_path)
            console_listener.bind(console_path)
            console_listener.listen(1)
            stdio = (os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY),
                     os.open(os.devnull, os.O_WRONLY))
            self.init.container_fds = list(stdio)
        else:
            stdio = self.init.make_pipes()
        try:
            self.runtime.create(self.id, self.bundle, pid_file, stdio, console_path)
        finally:
            self.init.close_container_fds()
        if console_listener is not None:
            console_listener.settimeout(10)
            conn, _ = console_listener.accept()
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
            conn.close()
            console_listener.close()
            os.unlink(console_path)  # type: ignore[arg-type]
            if not fds:
                raise RuntimeFailed("runtime did not send a terminal")
            self.init.set_master(fds[0])
        with open(pid_file) as f:
            self.init.pid = int(f.read().strip())
        self.pid_to_proc[self.init.pid] = self.init
        self.init.register()
        return self.init.pid

    def listen(self, path: str) -> None:
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        os.chmod(path, 0o600)
        s.listen(64)
        s.setblocking(False)
        self.listener = s
        self.sel.register(s, selectors.EVENT_READ, ("accept", None, None))

    def install_sigchld(self) -> None:
        r, w = socket.socketpair()
        r.setblocking(False)
        w.setblocking(False)
        self._sig_r, self._sig_w = r, w
        signal.set_wakeup_fd(w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)  # the shim outlives its daemon's signals
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.sel.register(r, selectors.EVENT_READ, ("signal", None, None))

    # -- loop -----------------------------------------------------------------
    def serve(self) -> None:
        self.reap()  # an exit that raced the handler installation
        while self.running:
            timeout = self._next_timeout()
            for key, mask in self.sel.select(timeout):
                kind, obj, fd = key.data
                try:
                    if kind == "accept":
                        self._accept()
                    elif kind == "signal":
                        try:
                            self._sig_r.recv(4096)
                        except BlockingIOError:
                            pass
                        self.reap()
                    elif kind == "out":
                        obj.on_output(fd)
                    elif kind == "stdin":
                        obj.flush_stdin()
                    elif kind == "conn":
                        if mask & selectors.EVENT_WRITE:
                            self._flush(obj)
                        if mask & selectors.EVENT_READ and not obj.closed:
                            self._read(obj)
                except Exception as e:  # one bad client must not take the shim down
                    self.debug(f"error handling {kind}: {e!r}")
                    if kind == "conn":
                        obj.close()
            now = time.monotonic()
            for p in self._procs():
                if p.exited and not p.done and p.drain_deadline and now >= p.drain_deadline:
                    p.maybe_finish(force=True)

    def _next_timeout(self) -> float | None:
        deadlines = [p.drain_deadline for p in self._procs() if p.exited and not p.done and p.drain_deadline]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _procs(self) -> list[Process]:
        return [self.init, *self.execs.values()]

    def debug(self, msg: str) -> None:
        if self.opts.get("debug_log"):
            try:
                with open(self.opts["debug_log"], "a") as f:
                    f.write(f"{rfc3339nano()} shim {self.id[:12]}: {msg}\n")
            except OSError:
                pass

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            p = self.pid_to_proc.pop(pid, None)
            if p is not None:
                if p is self.init:
                    self._record_exit(status)
                p.on_exit(status)

    def _record_exit(self, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        # Atomic and fsynced: the exit code and OOM kill outlive the daemon and the shim.
        atomic_write_json(self.exit_file, {"exit_code": code, "exited_at": rfc3339nano(),
                                           "oom_killed": self.oom_killed()})

    def oom_killed(self) -> bool:
        try:
            from ..cgroups import open_manager
            path = ((self._spec().get("linux") or {}).get("cgroupsPath")) or ""
            if not path:
                return False
            from ..cgroups.common import normalize_path
            return open_manager(normalize_path(path, path)).oom_kill_count() > 0
        except Exception:
            return False

    def _spec(self) -> dict[str, Any]:
        if self._spec_cache is None:
            try:
                with open(os.path.join(self.bundle, "config.json")) as f:
                    self._spec_cache = json.load(f)
            except (OSError, ValueError):
                self._spec_cache = {}
        return self._spec_cache

    def on_process_done(self, p: Process) -> None:
        if p is self.init:
            self.logger.flush()

    # -- connections ----------------------------------------------------------
    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                s, _ = self.listener.accept()
            except BlockingIOError:
                return
            s.setblocking(False)
            c = Conn(self, s)
            self.conns.add(c)
            self.sel.register(s, selectors.EVENT_READ, ("conn", c, None))

    def want_write(self, c: Conn) -> None:
        self.update_events(c)

    def update_events(self, c: Conn) -> None:
        """Register the connection for what it needs: reading until its peer
        half-closes, writing while output is pending."""
        if c.closed:
            return
        events = (0 if c.read_closed else selectors.EVENT_READ) | (selectors.EVENT_WRITE if c.wbuf else 0)
        try:
            if events:
                try:
                    self.sel.modify(c.sock, events, ("conn", c, None))
                except KeyError:
                    self.sel.register(c.sock, events, ("conn", c, None))
            else:
                self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass

    def want_stdin_write(self, p: Process) -> None:
        if p not in self.stdin_waiting and p.stdin_fd is not None:
            self.stdin_waiting.add(p)
            if p.stdin_fd not in p.out_fds:  # a pty master is already registered for reading
                self.sel.register(p.stdin_fd, selectors.EVENT_WRITE, ("stdin", p, p.stdin_fd))

    def no_stdin_write(self, p: Process) -> None:
        if p in self.stdin_waiting:
            self.stdin_waiting.discard(p)
            if p.stdin_fd is not None and p.stdin_fd not in p.out_fds:
                try:
                    self.sel.unregister(p.stdin_fd)
                except (KeyError, ValueError):
                    pass

    def forget(self, c: Conn) -> None:
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        self.conns.discard(c)
        for p in self._procs():
            if c in p.subscribers:
                p.subscribers.remove(c)
            if c in p.waiters:
                p.waiters.remove(c)

    def _flush(self, c: Conn) -> None:
        while c.wbuf:
            try:
                n = c.sock.send(c.wbuf)
            except BlockingIOError:
                return
            except OSError:
                c.close()
                return
            del c.wbuf[:n]
        if c.closing:
            c.close()
            return
        self.update_events(c)

    def _read(self, c: Conn) -> None:
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if c.attached is not None:
            if not data:
                # The client half-closed: its stdin ended; output may still flow to it.
                p = c.attached
                if c.attach_stdin and c.close_stdin_on_eof:
                    p.close_stdin()
                c.attach_stdin = False
                c.read_closed = True
                if p.done:
                    c.close_after_flush()
                self.update_events(c)
                return
            if c.attach_stdin:
                c.attached.write_stdin(data)
            return
        if not data:
            c.close()
            return
        c.rbuf += data
        while b"\n" in c.rbuf and c.attached is None and not c.closed:
            line, c.rbuf = c.rbuf.split(b"\n", 1)
            if line.strip():
                self._dispatch(c, line)
        if c.attached is not None and c.rbuf and c.attach_stdin:
            c.attached.write_stdin(bytes(c.rbuf))
            c.rbuf = b""

    def _dispatch(self, c: Conn, line: bytes) -> None:
        try:
            req = proto.decode(line)
            op = req.get("op", "")
            handler: Callable[[Conn, dict[str, Any]], dict[str, Any] | None] | None = getattr(self, "op_" + op, None)
            if handler is None:
                c.reply(proto.error("NotImplemented", f"unknown op {op!r}"))
                return
            res = handler(c, req)
            if res is not None:
                c.reply(res)
        except RuntimeFailed as e:
            c.reply(proto.error("Internal", str(e)))
        except KeyError as e:
            c.reply(proto.error("NotFound", f"no such process {e}"))
        except Exception as e:
            c.reply(proto.error("Internal", f"{type(e).__name__}: {e}"))

    def _proc(self, req: dict[str, Any]) -> Process:
        eid = req.get("exec_id") or ""
        if not eid:
            return self.init
        if eid not in self.execs:
            raise KeyError(eid)
        return self.execs[eid]

    # -- ops ------------------------------------------------------------------
    def op_connect(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        return proto.ok(shim_pid=os.getpid(), pid=self.init.pid, version=1)

    def op_state(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        p = self._proc(req)
        return proto.ok(status=p.status, pid=p.pid, **p.result())

    def op_start(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        p = self._proc(req)
        if p.status != "created":
            return proto.error("Conflict", f"process is {p.status}, not created")
        if p is self.init:
            self.runtime.start(self.id)
        else:
            self._start_exec(p)
        p.status = "running" if not p.exited else p.status
        return proto.ok(pid=p.pid)

    def op_kill(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        p = self._proc(req)
        sig = int(req.get("signal", signal.SIGTERM))
        if p is self.init:
            if p.exited and not req.get("all"):
                return proto.error("NotFound", "process already finished")
            self.runtime.kill(self.id, sig, bool(req.get("all")))
        else:
            if p.exited or not p.pid:
                return proto.error("NotFound", "process already finished")
            os.kill(p.pid, sig)
        return proto.ok()

    def op_wait(self, c: Conn, req: dict[str, Any]) -> dict[str, Any] | None:
        p = self._proc(req)
        if p.done:
            return proto.ok(**p.result())
        p.waiters.append(c)
        return None

    def op_attach(self, c: Conn, req: dict[str, Any]) -> dict[str, Any] | None:
        p = self._proc(req)
        c.reply(proto.ok(tty=p.tty))
        if p.done:
            c.close_after_flush()
            return None
        c.attached = p
        c.attach_stdin = bool(req.get("stdin")) and (p.stdin_fd is not None or p.waiting_to_start())
        c.close_stdin_on_eof = bool(req.get("close_stdin_on_eof"))
        if req.get("stdout", True) or req.get("stderr", True):
            p.subscribers.append(c)
        return None

    def op_close_stdin(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        self._proc(req).close_stdin()
        return proto.ok()

    def op_resize(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        import struct
        import termios
        p = self._proc(req)
        if not p.tty or getattr(p, "master", None) is None:
            return proto.error("Conflict", "process has no terminal")
        fcntl.ioctl(p.master, termios.TIOCSWINSZ,
                    struct.pack("HHHH", int(req.get("height", 0)), int(req.get("width", 0)), 0, 0))
        return proto.ok()

    def op_pause(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        self.runtime.pause(self.id)
        self.init.status = "paused"
        return proto.ok()

    def op_resume(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        self.runtime.resume(self.id)
        if not self.init.exited:
            self.init.status = "running"
        return proto.ok()

    def op_pids(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        return proto.ok(pids=self.runtime.ps(self.id))

    def op_update(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        self.runtime.update(self.id, req.get("resources") or {})
        return proto.ok()

    def op_stats(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        from .stats import collect
        path = ((self._spec().get("linux") or {}).get("cgroupsPath")) or ""
        pid = self.init.pid if not self.init.exited else 0
        return proto.ok(stats=collect(path, pid) if path else {})

    def op_exec(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        eid = req.get("exec_id") or ""
        if not eid or eid in self.execs:
            return proto.error("AlreadyExists" if eid else "InvalidArgument", f"exec id {eid!r} in use or empty")
        if self.init.exited:
            return proto.error("Conflict", "container is not running")
        p = Process(self, eid, bool(req.get("tty")), bool(req.get("stdin")))
        p.process_spec = req.get("process") or {}
        self.execs[eid] = p
        return proto.ok()

    def _start_exec(self, p: Process) -> None:
        exec_dir = os.path.join(self.bundle, "execs")
        os.makedirs(exec_dir, exist_ok=True)
        spec_path = os.path.join(exec_dir, f"{p.exec_id}.json")
        pid_file = os.path.join(exec_dir, f"{p.exec_id}.pid")
        spec = dict(p.process_spec)
        spec["terminal"] = p.tty
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        console_path = None
        listener = None
        if p.tty:
            console_path = self._console_path(p.exec_id[:12])
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(console_path)
            listener.listen(1)
            stdio = (os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY),
                     os.open(os.devnull, os.O_WRONLY))
            p.container_fds = list(stdio)
        else:
            stdio = p.make_pipes()
        try:
            try:
                self.runtime.exec(self.id, spec_path, pid_file, stdio, console_path)
            finally:
                p.close_container_fds()
            if listener is not None:
                listener.settimeout(10)
                conn, _ = listener.accept()
                _msg, fds, _f, _a = socket.recv_fds(conn, 4096, 1)
                conn.close()
                p.set_master(fds[0])
            with open(pid_file) as f:
                p.pid = int(f.read().strip())
        except BaseException:
            for fd in list(p.out_fds):
                os.close(fd)
            p.out_fds.clear()
            if p.stdin_fd is not None and p.stdin_fd not in p.out_fds:
                try:
                    os.close(p.stdin_fd)
                except OSError:
                    pass
                p.stdin_fd = None
            raise
        finally:
            if listener is not None:
                listener.close()
                try:
                    os.unlink(console_path)  # type: ignore[arg-type]
                except OSError:
                    pass
            for path in (spec_path, pid_file):
                try:
                    os.unlink(path)
                except OSError:
                    pass
        self.pid_to_proc[p.pid] = p
        p.status = "running"
        p.register()
        p.flush_stdin()  # what the client sent before the start
        self.reap()  # it may already have exited

    def op_delete(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        eid = req.get("exec_id") or ""
        if eid:
            p = self.execs.get(eid)
            if p is None:
                return proto.error("NotFound", f"no such exec {eid}")
            if not p.done and p.status != "created":
                return proto.error("Conflict", "exec is still running")
            del self.execs[eid]
            return proto.ok(**p.result())
        if not self.init.exited and self.init.status != "created":
            if not req.get("force"):
                return proto.error("Conflict", "container is still running")
        self.runtime.delete(self.id, force=True)
        if not self.init.exited:
            # A created-but-never-started init: delete killed it; reap it now.
            self._wait_init_gone()
        self.running = False
        for conn in list(self.conns):
            if conn is not c:
                conn.close_after_flush()
        return proto.ok(**self.init.result())

    def _wait_init_gone(self) -> None:
        deadline = time.monotonic() + 5
        while not self.init.exited and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.005)
        self.init.maybe_finish(force=True)

    def op_shutdown(self, c: Conn, req: dict[str, Any]) -> dict[str, Any]:
        if not self.init.exited and self.init.pid:
            return proto.error("Conflict", "container is still running")
        self.running = False
        return proto.ok()

    def finish(self) -> None:
        """Flush replies to clients still connected, then close everything."""
        deadline = time.monotonic() + 1
        while any(c.wbuf for c in self.conns) and time.monotonic() < deadline:
            for c in list(self.conns):
                if c.wbuf:
                    try:
                        c.sock.setblocking(True)
                        c.sock.settimeout(max(0.01, deadline - time.monotonic()))
                        c.sock.sendall(c.wbuf)
                        c.wbuf.clear()
                    except OSError:
                        c.close()
        for c in list(self.conns):
            c.close()
        self.logger.close()
        if self.listener is not None:
            try:
                os.unlink(self.listener.getsockname())
            except OSError:
                pass
            self.listener.close()
