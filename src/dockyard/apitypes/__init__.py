"""What the Engine API's server and clients share: the API version range,
the stream framing of attach/logs/exec, and the detach-keys format. Imported
by api, client, cli, daemon and build; imports only struct."""

import struct

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"
DEFAULT_API_VERSION = API_VERSION

# A multiplexed stream's frame header: stream (0 stdin, 1 stdout, 2 stderr), 3 bytes, length.
STREAM_HEADER = struct.Struct(">BxxxL")
DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q

# moby/term's ASCII names: "ctrl-@" is 0, "ctrl-a" 1, ... "ctrl-_" 31.
_CTRL = {f"ctrl-{c}": i for i, c in enumerate("@abcdefghijklmnopqrstuvwxyz[\\]^_")}


def parse_detach_keys(spec: str) -> bytes:
    """moby/term's ToBytes: comma-separated single characters or "ctrl-<x>"
    (any case); ValueError("Unknown character: '...'") otherwise."""
    out = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            out += key.encode()
            continue
        code = _CTRL.get(key.lower())
        if code is None:
            raise ValueError(f"Unknown character: '{key}'")
        out.append(code)
    return bytes(out)
