"""Value parsers for docker's flag types: sizes, durations, ports, mounts,
devices, ulimits, restart policies, environment files. Each raises ValueError
with docker's wording; the flag parser turns it into "invalid argument ..."."""

from __future__ import annotations

import os

from ... import units

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def ram_bytes(value: str) -> int:
    """docker's units.RAMInBytes: 512m, 1g, 1.5GiB, 1024 (binary multiples)."""
    return units.ram_in_bytes(value)


def mem_swap_bytes(value: str) -> int:
    """--memory-swap: a size, or -1 for unlimited."""
    return -1 if value.strip() == "-1" else ram_bytes(value)


def decimal_bytes(value: str) -> int:
    """docker's units.FromHumanSize (decimal multiples: 1k = 1000)."""
    return units.from_human_size(value)


def nano_cpus(value: str) -> int:
    try:
        f = float(value)
    except ValueError:
        raise ValueError(f"failed to parse {value} as a rational number") from None
    n = int(round(f * 1e9))
    if f * 1e9 != n and abs(f * 1e9 - n) > 1e-3:
        raise ValueError("value is too precise")
    return n


def duration_ns(value: str) -> int:
    """Go's time.ParseDuration, in nanoseconds ("1m30s", "500ms", "0")."""
    return units.parse_go_duration(value)


def duration_seconds(value: str) -> float:
    """A Go duration or a plain number of seconds."""
    try:
        return float(value)
    except ValueError:
        return duration_ns(value) / 1e9


def restart_policy(value: str) -> dict[str, Any]:
    name, sep, count = value.partition(":")
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise ValueError(f"invalid restart policy format: unknown policy '{name}'; "
                         "use one of 'no', 'always', 'on-failure' or 'unless-stopped'")
    if sep:
        if name != "on-failure":
            raise ValueError("invalid restart policy format: maximum retry count can only be used "
                             "with 'on-failure'")
        try:
            n = int(count)
        except ValueError:
            raise ValueError("invalid restart policy format: maximum retry count must be an integer") from None
        return {"Name": name, "MaximumRetryCount": n}
    return {"Name": name or "no", "MaximumRetryCount": 0}


def ulimit(value: str) -> dict[str, Any]:
    """--ulimit name=soft[:hard] (go-units ParseUlimit)."""
    return units.parse_ulimit(value)


def device(value: str) -> dict[str, str]:
    """/dev/host[:/dev/container][:rwm]"""
    parts = value.split(":")
    perms = "rwm"
    if len(parts) > 1 and parts[-1] and all(c in "rwm" for c in parts[-1]) and not parts[-1].startswith("/"):
        perms = parts.pop()
    if len(parts) > 2 or not parts[0]:
        raise ValueError(f"invalid device specification: {value}")
    src = parts[0]
    dst = parts[1] if len(parts) > 1 and parts[1] else src
    if not dst.startswith("/"):
        raise ValueError(f"invalid device path: {dst}")
    return {"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms}


def throttle_bps(value: str) -> dict[str, Any]:
    path, sep, rate = value.partition(":")
    if not sep or not path.startswith("/dev/"):
        raise ValueError(f"bad format: {value}")
    try:
        n = ram_bytes(rate)
    except ValueError:
        raise ValueError(f"invalid rate for device: {value}. The correct format is <device-path>:<number>[<unit>]. "
                         "Number must be a positive integer. Unit is optional and can be kb, mb, or gb") from None
    return {"Path": path, "Rate": n}


def throttle_iops(value: str) -> dict[str, Any]:
    path, sep, rate = value.partition(":")
    if not sep or not path.startswith("/dev/"):
        raise ValueError(f"bad format: {value}")
    try:
        n = int(rate)
        if n < 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"invalid rate for device: {value}. The correct format is <device-path>:<number>. "
                         "Number must be a positive integer") from None
    return {"Path": path, "Rate": n}


def weight_device(value: str) -> dict[str, Any]:
    path, sep, weight = value.partition(":")
    if not sep or not path.startswith("/dev/"):
        raise ValueError(f"bad format: {value}")
    try:
        w = int(weight)
        if not 10 <= w <= 1000 and w != 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"invalid weight for device: {value}") from None
    return {"Path": path, "Weight": w}


def _port_range(s: str) -> tuple[int, int]:
    start, sep, end = s.partition("-")
    try:
        a = int(start)
        b = int(end) if sep else a
    except ValueError:
        raise ValueError(f"invalid containerPort: {s}") from None
    if not (0 <= a <= 65535 and 0 <= b <= 65535) or b < a:
        raise ValueError(f"invalid port range: {s}")
    return a, b


def publish(value: str) -> list[tuple[str, dict[str, str]]]:
    """-p [ip:][hostPort:]containerPort[/proto], ranges, [v6]:..., or the long
    form target=80,published=8080,protocol=udp. -> [("80/tcp", binding)]."""
    if "=" in value:
        fields = dict(f.partition("=")[::2] for f in value.split(","))
        target = fields.get("target", "")
        if not target:
            raise ValueError("missing mandatory field 'target'")
        proto = fields.get("protocol", "tcp")
        return [(f"{target}/{proto}", {"HostIp": fields.get("host_ip", ""), "HostPort": fields.get("published", "")})]
    rest, _, proto = value.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise ValueError(f"invalid proto: {proto}")
    ip = ""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError(f"invalid IP address: {value}")
        ip, rest = rest[1:end], rest[end + 1:].lstrip(":")
        parts = rest.split(":")
        if len(parts) == 1:
            host, cont = "", parts[0]
        else:
            host, cont = parts[0], parts[1]
    else:
        parts = rest.split(":")
        if len(parts) == 1:
            host, cont = "", parts[0]
        elif len(parts) == 2:
            host, cont = parts
        elif len(parts) == 3:
            ip, host, cont = parts
        else:
            raise ValueError(f"invalid IP address: {value}")
    if not cont:
        raise ValueError(f"no port specified: {value}<empty>")
    c0, c1 = _port_range(cont)
    h0 = h1 = 0
    if host:
        h0, h1 = _port_range(host)
        if (h1 - h0) != (c1 - c0) and c0 != c1:
            raise ValueError(f"invalid ranges specified for container and host Ports: {cont} and {host}")
    out = []
    for i, cp in enumerate(range(c0, c1 + 1)):
        if not host:
            hp = ""
        elif c0 == c1 and h0 != h1:
            hp = f"{h0}-{h1}"  # one container port, any free host port of the range
        else:
            hp = f"{h0 + i}"
        out.append((f"{cp}/{proto}", {"HostIp": ip, "HostPort": hp}))
    return out


def expose(value: str) -> list[str]:
    if ":" in value:
        raise ValueError(f"invalid port format for --expose: {value}")
    port, _, proto = value.partition("/")
    a, b = _port_range(port)
    return [f"{p}/{proto or 'tcp'}" for p in range(a, b + 1)]


def _bool_field(v: str, key: str) -> bool:
    if v in ("", "1", "true", "True"):
        return True
    if v in ("0", "false", "False"):
        return False
    raise ValueError(f"invalid value for {key}: {v}")


def mount(value: str) -> dict[str, Any]:
    """--mount type=bind|volume|tmpfs,source=,target=,readonly,... -> API Mount."""
    m: dict[str, Any] = {"Type": "volume"}
    bind: dict[str, Any] = {}
    vol: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    for field in _csv(value):
        key, eq, val = field.partition("=")
        key = key.strip().lower()
        if key == "type":
            m["Type"] = val
        elif key in ("source", "src"):
            m["Source"] = val
        elif key in ("target", "dst", "destination"):
            m["Target"] = val
        elif key in ("readonly", "ro"):
            m["ReadOnly"] = _bool_field(val, key)
        elif key == "consistency":
            m["Consistency"] = val
        elif key == "bind-propagation":
            bind["Propagation"] = val
        elif key == "bind-nonrecursive":
            bind["NonRecursive"] = _bool_field(val, key)
        elif key == "bind-recursive":
            if val == "disabled":
                bind["NonRecursive"] = True
            elif val == "readonly":
                bind["ReadOnlyForceRecursive"] = True
            elif val == "writable":
                bind["ReadOnlyNonRecursive"] = True
        elif key == "bind-create-host-path":
            bind["CreateMountpoint"] = _bool_field(val, key)
        elif key in ("volume-nocopy", "volume-no-copy"):
            vol["NoCopy"] = _bool_field(val, key)
        elif key == "volume-label":
            k, _, v = val.partition("=")
            vol.setdefault("Labels", {})[k] = v
        elif key == "volume-driver":
            vol.setdefault("DriverConfig", {})["Name"] = val
        elif key == "volume-subpath":
            vol["Subpath"] = val
        elif key == "volume-opt":
            k, _, v = val.partition("=")
            vol.setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
        elif key == "tmpfs-size":
            tmpfs["SizeBytes"] = ram_bytes(val)
        elif key == "tmpfs-mode":
            try:
                tmpfs["Mode"] = int(val, 8)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        elif not eq:
            raise ValueError(f"invalid field '{field}' must be a key=value pair")
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    if m["Type"] not in ("bind", "volume", "tmpfs", "npipe", "cluster", "image"):
        raise ValueError(f"invalid mount type: {m['Type']}")
    if not m.get("Target"):
        raise ValueError("target is required")
    if m["Type"] == "bind" and not m.get("Source"):
        raise ValueError("source is required when specifying bind mounts")
    if bind:
        if m["Type"] != "bind":
            raise ValueError(f"cannot mix 'bind-*' options with mount type '{m['Type']}'")
        m["BindOptions"] = bind
    if vol:
        if m["Type"] != "volume":
            raise ValueError(f"cannot mix 'volume-*' options with mount type '{m['Type']}'")
        m["VolumeOptions"] = vol
    if tmpfs:
        if m["Type"] != "tmpfs":
            raise ValueError(f"cannot mix 'tmpfs-*' options with mount type '{m['Type']}'")
        m["TmpfsOptions"] = tmpfs
    return m


def _csv(value: str) -> list[str]:
    """Comma-separated fields; double quotes protect commas (as encoding/csv)."""
    out, cur, quoted = [], "", False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [f for f in out if f != ""]


def network_opt(value: str) -> dict[str, Any]:
    """--network NAME or the advanced form name=...,alias=...,ip=...,driver-opt=..."""
    if "=" not in value:
        return {"Target": value}
    n: dict[str, Any] = {}
    for field in _csv(value):
        key, _, val = field.partition("=")
        key = key.strip().lower()
        if key == "name":
            n["Target"] = val
        elif key == "alias":
            n.setdefault("Aliases", []).append(val)
        elif key == "ip":
            n["IPv4Address"] = val
        elif key == "ip6":
            n["IPv6Address"] = val
        elif key == "mac-address":
            n["MacAddress"] = val
        elif key == "link-local-ip":
            n.setdefault("LinkLocalIPs", []).append(val)
        elif key == "driver-opt":
            k, _, v = val.partition("=")
            n.setdefault("DriverOpts", {})[k] = v
        elif key == "gw-priority":
            n["GwPriority"] = int(val)
        else:
            raise ValueError(f"invalid field key {key}")
    if not n.get("Target"):
        raise ValueError("network name/id is not specified")
    return n


def read_kv_file(path: str, env: bool) -> list[str]:
    """docker's env/label files: KEY=VALUE lines, comments with #; in env
    files a bare KEY takes its value from our environment (dropped if unset)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ValueError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    out = []
    for n, raw in enumerate(lines, 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, val = line.partition("=")
        if env and " " in key.strip() or (env and not key.strip()):
            raise ValueError(f"variable '{key.strip()}' contains whitespaces" if key.strip() else
                             f"no variable name on line '{raw}'")
        if eq:
            out.append(f"{key}={val}")
        elif env:
            if key.strip() in os.environ:
                out.append(f"{key.strip()}={os.environ[key.strip()]}")
        else:
            out.append(key)
    return out


def env_value(v: str) -> str:
    """-e KEY=VALUE as is; -e KEY takes KEY's value from our environment."""
    key, eq, _ = v.partition("=")
    if not eq and key in os.environ:
        return f"{key}={os.environ[key]}"
    return v
