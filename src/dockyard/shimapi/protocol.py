"""Messages on a shim's control socket.

The socket is a unix stream socket. Each request is one JSON object on one
line; each reply is one JSON line: {"ok": true, ...} or
{"ok": false, "error": {"kind": ..., "message": ...}}. Ops, modelled on the
containerd shim v3 task API:

  state   {exec_id?}                   -> {status, pid, exit_code, exited_at, oom_killed}
  start   {exec_id?}                   -> {pid}
  kill    {signal, all?, exec_id?}     -> {}
  wait    {exec_id?}                   -> replies when the process has exited: {exit_code, exited_at, oom_killed}
  exec    {exec_id, process, tty, stdin} -> {}            (registers; "start" runs it)
  resize  {exec_id?, width, height}    -> {}
  close_stdin {exec_id?}               -> {}
  pause / resume                       -> {}
  update  {resources}                  -> {}
  pids                                 -> {pids}
  stats                                -> {stats}          (cgroup statistics)
  delete  {exec_id?}                   -> {exit_code, exited_at}; the shim exits after deleting init
  connect                              -> {shim_pid, pid, version}
  attach  {exec_id?, stdin, stdout, stderr, close_stdin_on_eof}
          -> {tty} then the connection becomes a stream: shim->client frames in
          docker's multiplexed format (8-byte header: stream, 0, 0, 0, size
          big-endian; stream 1 stdout, 2 stderr; tty output is stream 1),
          client->shim raw stdin bytes; the client half-closing its side ends
          stdin. The shim closes the stream after the process exits and its
          output is drained.

The shim's command line:
  dockyard-shim start --id ID --bundle DIR --socket PATH --runtime BIN
        [--runtime-root DIR] [--log-path FILE] [--log-driver json-file|none]
        [--log-opt k=v]... [--stdin] [--tty] [--debug-log FILE]
  prints one JSON line: {"address": PATH, "shim_pid": N, "pid": INIT_PID} or
  {"error": {"kind", "message"}} with a non-zero exit status.
"""

from __future__ import annotations

import json
import struct
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of the long-lived shim's memory
    from typing import Any

STDIN, STDOUT, STDERR = 0, 1, 2
HEADER = struct.Struct(">BxxxL")


def frame(stream: int, data: bytes) -> bytes:
    return HEADER.pack(stream, len(data)) + data


def encode(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    return json.loads(line)


def ok(**fields: Any) -> dict[str, Any]:
    fields["ok"] = True
    return fields


def error(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"kind": kind, "message": message}}
