"""Checks and defaults for a new container's Config and HostConfig, with
dockerd's messages (daemon/container.go verifyContainerSettings,
daemon_unix.go verifyPlatformContainerSettings and adaptContainerSettings).
Everything here runs before anything is created."""

from __future__ import annotations

import os
from typing import Any

from .. import errdefs
from . import caps as capsmod

MIN_MEMORY = 6 * 1024 * 1024
RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
LOG_DRIVERS = {
    "json-file": {"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag",
                  "mode", "max-buffer-size"},
    "local": {"max-size", "max-file", "compress", "mode", "max-buffer-size"},
    "none": {"mode", "max-buffer-size"},
}
ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
           "rss", "rtprio", "rttime", "sigpending", "stack", "as")


def _int(hc: dict[str, Any], key: str) -> int:
    v = hc.get(key)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise errdefs.InvalidArgument(f"invalid {key}: must be an integer")
    return v


def parse_cpuset(value: str) -> set[int]:
    out: set[int] = set()
    for part in value.split(","):
        part = part.strip()
        if not part:
            raise ValueError(value)
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(value)
        a, b = int(lo), int(hi) if dash else int(lo)
        if b < a:
            raise ValueError(value)
        out.update(range(a, b + 1))
    return out


def _online_cpus() -> str:
    try:
        with open("/sys/devices/system/cpu/online") as f:
            return f.read().strip()
    except OSError:
        n = os.cpu_count() or 1
        return f"0-{n - 1}" if n > 1 else "0"


def validate_resources(hc: dict[str, Any], warnings: list[str]) -> None:
    mem = _int(hc, "Memory")
    swap = _int(hc, "MemorySwap")
    resv = _int(hc, "MemoryReservation")
    if mem < 0:
        raise errdefs.InvalidArgument("invalid Memory: must not be negative")
    if 0 < mem < MIN_MEMORY:
        raise errdefs.InvalidArgument("Minimum memory limit allowed is 6MB")
    if mem > 0 and swap > 0 and swap < mem:
        raise errdefs.InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if mem == 0 and swap > 0:
        raise errdefs.InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
    if 0 < resv < MIN_MEMORY:
        raise errdefs.InvalidArgument("Minimum memory reservation allowed is 6MB")
    if mem > 0 and resv > 0 and mem < resv:
        raise errdefs.InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not (0 <= swappiness <= 100):
        raise errdefs.InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    if hc.get("OomKillDisable") and mem == 0:
        warnings.append("OOM killer is disabled for the container, but no memory limit is set, this can result "
                        "in the system running out of resources.")
    nano = _int(hc, "NanoCpus")
    period = _int(hc, "CpuPeriod")
    quota = _int(hc, "CpuQuota")
    ncpu = os.cpu_count() or 1
    if nano > 0 and period > 0:
        raise errdefs.InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and quota > 0:
        raise errdefs.InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if nano < 0 or nano > ncpu * 1_000_000_000:
        raise errdefs.InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
    if period and (period < 1000 or period > 1000000):
        raise errdefs.InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if quota > 0 and quota < 1000:
        raise errdefs.InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    shares = _int(hc, "CpuShares")
    if shares < 0:
        raise errdefs.InvalidArgument("invalid CPU shares: must not be negative")
    for key, what, avail in (("CpusetCpus", "cpus", _online_cpus()), ("CpusetMems", "mems", None)):
        v = hc.get(key) or ""
        if not v:
            continue
        try:
            want = parse_cpuset(v)
        except ValueError:
            raise errdefs.InvalidArgument(f"Invalid value {v} for cpuset {what}") from None
        if avail is not None:
            have = parse_cpuset(avail)
            if not want <= have:
                raise errdefs.InvalidArgument(f"Requested CPUs are not available - requested {v}, available: {avail}")
    weight = _int(hc, "BlkioWeight")
    if weight and not (10 <= weight <= 1000):
        raise errdefs.InvalidArgument("Range of blkio weight is from 10 to 1000")
    pids = hc.get("PidsLimit")
    if pids is not None and (isinstance(pids, bool) or not isinstance(pids, int)):
        raise errdefs.InvalidArgument("invalid PidsLimit: must be an integer")


def validate_restart_policy(hc: dict[str, Any]) -> None:
    rp = hc.get("RestartPolicy") or {}
    if not isinstance(rp, dict):
        raise errdefs.InvalidArgument("invalid restart policy: must be an object")
    name = rp.get("Name", "") or ""
    retries = rp.get("MaximumRetryCount") or 0
    if name not in RESTART_POLICIES:
        raise errdefs.InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one of 'no', "
                                      "'always', 'on-failure', or 'unless-stopped'")
    if retries < 0:
        raise errdefs.InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if name != "on-failure" and retries > 0:
        raise errdefs.InvalidArgument(f"invalid restart policy: maximum retry count can only be used with 'on-failure'")
    if hc.get("AutoRemove") and name not in ("", "no"):
        raise errdefs.InvalidArgument("can't create 'AutoRemove' container with restart policy")


_DOCKER_ONLY_LOG_DRIVERS = ("syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "etwlogs", "gcplogs",
                            "logentries")


def validate_log_config(hc: dict[str, Any]) -> None:
    lc = hc.get("LogConfig") or {}
    if not isinstance(lc, dict):
        raise errdefs.InvalidArgument("invalid LogConfig: must be an object")
    kind = lc.get("Type") or "json-file"
    if kind not in LOG_DRIVERS:
        if kind in _DOCKER_ONLY_LOG_DRIVERS:  # docker has it built in; dockyard does not
            raise errdefs.InvalidArgument(f"logger: no log driver named '{kind}' is registered")
        # Any other name is a plugin to docker, looked up and not found (ValidateLogOpts).
        raise errdefs.InvalidArgument(f'error looking up logging plugin {kind}: plugin "{kind}" not found')
    opts = lc.get("Config") or {}
    for k, v in opts.items():
        if k not in LOG_DRIVERS[kind]:
            raise errdefs.InvalidArgument(f"unknown log opt '{k}' for {kind} log driver")
    if "max-size" in opts:
        from ..shimapi.logsize import parse_size
        try:
            size = parse_size(opts["max-size"])
        except ValueError:
            raise errdefs.InvalidArgument(f"invalid max-size: {opts['max-size']}") from None
        if size < 0:
            raise errdefs.InvalidArgument(f"invalid max-size: {opts['max-size']}")
    if "max-file" in opts:
        try:
            mf = int(opts["max-file"])
        except ValueError:
            raise errdefs.InvalidArgument(f"invalid max-file: {opts['max-file']}") from None
        if mf < 1:
            raise errdefs.InvalidArgument("max-file cannot be less than 1")
        if mf > 1 and kind == "json-file" and "max-size" not in opts:
            raise errdefs.InvalidArgument("max-file cannot be set without max-size")
    if "compress" in opts and str(opts["compress"]).lower() not in ("true", "false", "1", "0"):
        raise errdefs.InvalidArgument(f"error parsing compress option: invalid syntax: {opts['compress']}")


def _check_mode(value: str, what: str, allowed: tuple[str, ...], containers: bool) -> None:
    if value in allowed:
        return
    if containers and value.startswith("container:") and value[len("container:"):]:
        return
    raise errdefs.InvalidArgument(f"invalid {what} mode: {value}")


def validate_healthcheck(cfg: dict[str, Any]) -> None:
    hc = cfg.get("Healthcheck")
    if not hc:
        return
    if not isinstance(hc, dict):
        raise errdefs.InvalidArgument("invalid Healthcheck: must be an object")
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        v = hc.get(key) or 0
        if v != 0 and v < 1_000_000:
            raise errdefs.InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    if (hc.get("Retries") or 0) < 0:
        raise errdefs.InvalidArgument("Retries in Healthcheck cannot be negative")
    test = hc.get("Test") or []
    if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
        raise errdefs.InvalidArgument(f"unknown Healthcheck type {test[0]!r}")


def validate(config: dict[str, Any], hc: dict[str, Any]) -> list[str]:
    """Raise InvalidArgument with docker's message for a bad request; return
    warnings. Fills in docker's defaults (adaptContainerSettings)."""
    warnings: list[str] = []
    validate_restart_policy(hc)
    validate_resources(hc, warnings)
    validate_log_config(hc)
    validate_healthcheck(config)
    capsmod.normalize(hc.get("CapAdd"), "CapAdd")
    capsmod.normalize(hc.get("CapDrop"), "CapDrop")
    _check_mode(hc.get("IpcMode") or "", "IPC", ("", "none", "private", "shareable", "host"), True)
    _check_mode(hc.get("PidMode") or "", "PID", ("", "host"), True)
    _check_mode(hc.get("UTSMode") or "", "UTS", ("", "host"), True)
    if (hc.get("UTSMode") or "") == "host" and config.get("Hostname"):
        raise errdefs.InvalidArgument("Conflicting options: hostname and the UTS mode")
    if (hc.get("ShmSize") or 0) < 0:
        raise errdefs.InvalidArgument("SHM size can not be less than 0")
    adj = hc.get("OomScoreAdj") or 0
    if adj < -1000 or adj > 1000:
        raise errdefs.InvalidArgument(f"Invalid value {adj}, range for oom score adj is [-1000, 1000]")
    for u in hc.get("Ulimits") or []:
        if not isinstance(u, dict) or str(u.get("Name", "")).lower() not in ULIMITS:
            raise errdefs.InvalidArgument(f"invalid ulimit type: {u.get('Name') if isinstance(u, dict) else u}")
        soft, hard = u.get("Soft", 0), u.get("Hard", 0)
        if not isinstance(soft, int) or not isinstance(hard, int):
            raise errdefs.InvalidArgument(f"invalid ulimit value for {u.get('Name')}")
        if soft > hard:
            raise errdefs.InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    for e in hc.get("ExtraHosts") or []:
        if not isinstance(e, str):
            raise errdefs.InvalidArgument(f"invalid extra host: {e!r}")
        sep = ":" if ":" in e else "="
        host, _, ip = e.partition(sep)
        if not host or not ip:
            raise errdefs.InvalidArgument(f"invalid IP address in add-host: \"{ip}\"")
    from .specgen import security_opts
    nnp, seccomp = security_opts(hc)
    if seccomp and seccomp != "unconfined":
        from .seccomp import parse_profile
        parse_profile(seccomp)
    sysctls = hc.get("Sysctls") or {}
    if not isinstance(sysctls, dict):
        raise errdefs.InvalidArgument("invalid Sysctls: must be an object")
    from .specgen import parse_sysctl_ns
    shared = {"ipc": "host" if hc.get("IpcMode") == "host" else "",
              "network": "host" if hc.get("NetworkMode") == "host" else "",
              "uts": "host" if hc.get("UTSMode") == "host" else ""}
    for k in sysctls:
        if not isinstance(k, str) or "/" in k or ".." in k:
            raise errdefs.InvalidArgument(f"invalid sysctl key: {k!r}")
        parse_sysctl_ns(k, shared)
    for d in hc.get("Devices") or []:
        if not isinstance(d, dict) or not d.get("PathOnHost"):
            raise errdefs.InvalidArgument("invalid device mapping: PathOnHost is required")
    if config.get("StopTimeout") is not None and not isinstance(config.get("StopTimeout"), int):
        raise errdefs.InvalidArgument("invalid StopTimeout: must be an integer")
    if config.get("StopSignal"):
        from .specgen import parse_signal
        parse_signal(config["StopSignal"])
    # dockerd's adaptContainerSettings: defaults stored on the container.
    mem = hc.get("Memory") or 0
    if mem > 0 and not hc.get("MemorySwap"):
        hc["MemorySwap"] = mem * 2
    if not hc.get("ShmSize"):
        hc["ShmSize"] = 67108864
    if not hc.get("IpcMode"):
        hc["IpcMode"] = "private"
    if not hc.get("CgroupnsMode"):
        hc["CgroupnsMode"] = "host"
    if hc.get("OomKillDisable") is None:
        hc["OomKillDisable"] = False
    lc = hc.get("LogConfig") or {}
    hc["LogConfig"] = {"Type": lc.get("Type") or "json-file", "Config": dict(lc.get("Config") or {})}
    rp = hc.get("RestartPolicy") or {}
    hc["RestartPolicy"] = {"Name": rp.get("Name") or "no", "MaximumRetryCount": rp.get("MaximumRetryCount") or 0}
    return warnings
