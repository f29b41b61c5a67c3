"""run and create: every docker container option, turned into the Engine
API's create body (Config + HostConfig + NetworkingConfig), then docker's
run flow (pull when missing, attach, wait, start, stream, exit status)."""

from __future__ import annotations

import os
import sys

from ... import errdefs
from ..errors import CLIError, StatusError
from . import opts as o
from .common import REMAINDER, Namespace, Parser, client, daemon_error, flag_set, split_name_tag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def add_container_flags(p: Parser) -> None:
    """The options run and create share (docker's AddFlags), alphabetical."""
    a = p.add_argument
    a("--add-host", action="append", default=[], help="Add a custom host-to-IP mapping (host:ip)")
    a("--annotation", action="append", default=[], kind="map",
      help="Add an annotation to the container (passed through to the OCI runtime)")
    a("-a", "--attach", action="append", default=[], help="Attach to STDIN, STDOUT or STDERR")
    a("--blkio-weight", type=int, default=0, kind="uint16",
      help="Block IO (relative weight), between 10 and 1000, or 0 to disable")
    a("--blkio-weight-device", action="append", default=[], type=o.weight_device,
      help="Block IO weight (relative device weight)")
    a("--cap-add", action="append", default=[], help="Add Linux capabilities")
    a("--cap-drop", action="append", default=[], help="Drop Linux capabilities")
    a("--cgroup-parent", default="", help="Optional parent cgroup for the container")
    a("--cgroupns", default="", help="Cgroup namespace to use (host|private)")
    a("--cidfile", default="", help="Write the container ID to the file")
    a("--cpu-count", type=int, default=0, help="CPU count (Windows only)")
    a("--cpu-percent", type=int, default=0, help="CPU percent (Windows only)")
    a("--cpu-period", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) period")
    a("--cpu-quota", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) quota")
    a("--cpu-rt-period", type=int, default=0, help="Limit CPU real-time period in microseconds")
    a("--cpu-rt-runtime", type=int, default=0, help="Limit CPU real-time runtime in microseconds")
    a("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)")
    a("--cpus", type=o.nano_cpus, default=0, kind="decimal", help="Number of CPUs")
    a("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    a("--cpuset-mems", default="", help="MEMs in which to allow execution (0-3, 0,1)")
    a("--device", action="append", default=[], type=o.device, help="Add a host device to the container")
    a("--device-cgroup-rule", action="append", default=[], help="Add a rule to the cgroup allowed devices list")
    a("--device-read-bps", action="append", default=[], type=o.throttle_bps,
      help="Limit read rate (bytes per second) from a device")
    a("--device-read-iops", action="append", default=[], type=o.throttle_iops,
      help="Limit read rate (IO per second) from a device")
    a("--device-write-bps", action="append", default=[], type=o.throttle_bps,
      help="Limit write rate (bytes per second) to a device")
    a("--device-write-iops", action="append", default=[], type=o.throttle_iops,
      help="Limit write rate (IO per second) to a device")
    a("--disable-content-trust", action="store_true", default=True, help="Skip image verification (no effect)")
    a("--dns", action="append", default=[], help="Set custom DNS servers")
    a("--dns-option", action="append", default=[], help="Set DNS options")
    a("--dns-opt", action="append", dest="dns_option", hidden=True)
    a("--dns-search", action="append", default=[], help="Set custom DNS search domains")
    a("--domainname", default="", help="Container NIS domain name")
    a("--entrypoint", default="", help="Overwrite the default ENTRYPOINT of the image")
    a("-e", "--env", action="append", default=[], help="Set environment variables")
    a("--env-file", action="append", default=[], help="Read in a file of environment variables")
    a("--expose", action="append", default=[], help="Expose a port or a range of ports")
    a("--gpus", default="", kind="gpu-request", help="GPU devices to add to the container ('all' to pass all GPUs)")
    a("--group-add", action="append", default=[], help="Add additional groups to join")
    a("--health-cmd", default="", help="Command to run to check health")
    a("--health-interval", type=o.duration_ns, default=0, kind="duration",
      help="Time between running the check (ms|s|m|h) (default 0s)")
    a("--health-retries", type=int, default=0, help="Consecutive failures needed to report unhealthy")
    a("--health-start-interval", type=o.duration_ns, default=0, kind="duration",
      help="Time between running the check during the start period (ms|s|m|h) (default 0s)")
    a("--health-start-period", type=o.duration_ns, default=0, kind="duration",
      help="Start period for the container to initialize before starting health-retries countdown "
           "(ms|s|m|h) (default 0s)")
    a("--health-timeout", type=o.duration_ns, default=0, kind="duration",
      help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
    a("--help", action="help", help="Print usage")
    a("-h", "--hostname", default="", help="Container host name")
    a("--init", action="store_true", help="Run an init inside the container that forwards signals and reaps processes")
    a("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    a("--io-maxbandwidth", type=o.ram_bytes, default=0, kind="bytes",
      help="Maximum IO bandwidth limit for the system drive (Windows only)")
    a("--io-maxiops", type=int, default=0, kind="uint", help="Maximum IOps limit for the system drive (Windows only)")
    a("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    a("--ip6", default="", help="IPv6 address (e.g., 2001:db8::33)")
    a("--ipc", default="", help="IPC mode to use")
    a("--isolation", default="", help="Container isolation technology")
    a("--kernel-memory", type=o.ram_bytes, default=0, kind="bytes", help="Kernel memory limit")
    a("-l", "--label", action="append", default=[], help="Set meta data on a container")
    a("--label-file", action="append", default=[], help="Read in a line delimited file of labels")
    a("--link", action="append", default=[], help="Add link to another container")
    a("--link-local-ip", action="append", default=[], help="Container IPv4/IPv6 link-local addresses")
    a("--log-driver", default="", help="Logging driver for the container")
    a("--log-opt", action="append", default=[], help="Log driver options")
    a("--mac-address", default="", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)")
    a("-m", "--memory", type=o.ram_bytes, default=0, kind="bytes", help="Memory limit")
    a("--memory-reservation", type=o.ram_bytes, default=0, kind="bytes", help="Memory soft limit")
    a("--memory-swap", type=o.mem_swap_bytes, default=0, kind="bytes",
      help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    a("--memory-swappiness", type=int, default=-1, help="Tune container memory swappiness (0 to 100)")
    a("--mount", action="append", default=[], type=o.mount, kind="mount",
      help="Attach a filesystem mount to the container")
    a("--name", default="", help="Assign a name to the container")
    a("--network", "--net", action="append", default=[], type=o.network_opt, kind="network",
      help="Connect a container to a network")
    a("--network-alias", "--net-alias", action="append", default=[],
      help="Add network-scoped alias for the container")
    a("--no-healthcheck", action="store_true", help="Disable any container-specified HEALTHCHECK")
    a("--oom-kill-disable", action="store_true", help="Disable OOM Killer")
    a("--oom-score-adj", type=int, default=0, help="Tune host's OOM preferences (-1000 to 1000)")
    a("--pid", default="", help="PID namespace to use")
    a("--pids-limit", type=int, default=0, help="Tune container pids limit (set -1 for unlimited)")
    a("--platform", default="", help="Set platform if server is multi-platform capable")
    a("--privileged", action="store_true", help="Give extended privileges to this container")
    a("-p", "--publish", action="append", default=[], help="Publish a container's port(s) to the host")
    a("-P", "--publish-all", action="store_true", help="Publish all exposed ports to random ports")
    a("--read-only", action="store_true", help="Mount the container's root filesystem as read only")
    a("--restart", default="no", type=o.restart_policy, kind="string",
      help="Restart policy to apply when a container exits")
    a("--rm", action="store_true",
      help="Automatically remove the container and its associated anonymous volumes when it exits")
    a("--runtime", default="", help="Runtime to use for this container")
    a("--security-opt", action="append", default=[], help="Security Options")
    a("--shm-size", type=o.ram_bytes, default=0, kind="bytes", help="Size of /dev/shm")
    a("--stop-signal", default="", help="Signal to stop the container")
    a("--stop-timeout", type=int, default=0, help="Timeout (in seconds) to stop a container")
    a("--storage-opt", action="append", default=[], help="Storage driver options for the container")
    a("--sysctl", action="append", default=[], kind="map", help="Sysctl options")
    a("--tmpfs", action="append", default=[], help="Mount a tmpfs directory")
    a("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    a("--ulimit", action="append", default=[], type=o.ulimit, kind="ulimit", help="Ulimit options")
    a("--use-api-socket", action="store_true", help="Bind mount the daemon's API socket (as /var/run/docker.sock)")
    a("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])")
    a("--userns", default="", help="User namespace to use")
    a("--uts", default="", help="UTS namespace to use")
    a("-v", "--volume", action="append", default=[], help="Bind mount a volume")
    a("--volume-driver", default="", help="Optional volume driver for the container")
    a("--volumes-from", action="append", default=[], help="Mount volumes from the specified container(s)")
    a("-w", "--workdir", default="", help="Working directory inside the container")
    a("image")
    a("command", nargs=REMAINDER)


def _is_bind(spec: str) -> bool:
    """-v SRC:DST[:OPTS] has a source; -v DST alone is an anonymous volume."""
    return ":" in spec


def _security_opts(values: list[str]) -> tuple[list[str], list[str] | None, list[str] | None]:
    """docker sends the seccomp profile's content, not its path; systempaths=
    unconfined clears the masked and read-only paths."""
    out: list[str] = []
    masked = readonly = None
    for v in values:
        if v == "systempaths=unconfined":
            masked, readonly = [], []
            continue
        key, sep, val = v.partition("=") if "=" in v else v.partition(":")
        if not sep and v != "no-new-privileges":
            raise ValueError(f"Invalid --security-opt: {v!r}")
        if key == "seccomp" and val not in ("unconfined", "builtin"):
            try:
                with open(val, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise ValueError(f"opening seccomp profile ({val}) failed: {e.strerror or e}") from None
            import json
            try:
                val = json.dumps(json.loads(data), separators=(",", ":"))
            except ValueError as e:
                raise ValueError(f"compacting json for seccomp profile ({val}) failed: {e}") from None
            out.append(f"seccomp={val}")
        else:
            out.append(v)
    return out, masked, readonly


def _gpus(value: str) -> list[dict[str, Any]]:
    req: dict[str, Any] = {"Driver": "", "Count": 0, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": {}}
    for field in value.split(","):
        k, eq, v = field.partition("=")
        if not eq:
            if k == "all":
                req["Count"] = -1
            else:
                try:
                    req["Count"] = int(k)
                except ValueError:
                    raise ValueError(f"unexpected key '{k}' in '{value}'") from None
        elif k == "count":
            req["Count"] = -1 if v == "all" else int(v)
        elif k == "device":
            req["DeviceIDs"] = v.split(",")
        elif k == "driver":
            req["Driver"] = v
        elif k == "capabilities":
            req["Capabilities"] = [v.split(",")]
        else:
            raise ValueError(f"unexpected key '{k}' in '{value}'")
    return [req]


def build_create_body(a: Namespace, detach: bool = False) -> dict[str, Any]:
    """Config, HostConfig and NetworkingConfig from the flags (docker's parse())."""
    attach = {s.lower() for s in a.attach}
    for s in attach:
        if s not in ("stdin", "stdout", "stderr"):
            raise ValueError("valid streams are STDIN, STDOUT and STDERR")
    attach_stdin = "stdin" in attach or a.interactive
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach
    if detach:
        if attach:
            raise ValueError("conflicting options: cannot specify both --attach and --detach")
        attach_stdin = attach_stdout = attach_stderr = False
    if a.memory_swappiness != -1 and not 0 <= a.memory_swappiness <= 100:
        raise ValueError(f"invalid value: {a.memory_swappiness}. Valid memory swappiness range is 0-100")
    if a.mac_address and len(a.mac_address.split(":")) != 6:
        raise ValueError(f"{a.mac_address} is not a valid mac address")

    binds, volumes = [], {}
    for v in a.volume:
        if _is_bind(v):
            binds.append(v)
        else:
            volumes[v] = {}
    tmpfs = {}
    for t in a.tmpfs:
        dst, _, opt = t.partition(":")
        tmpfs[dst] = opt

    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in a.publish:
        for port, binding in o.publish(spec):
            exposed[port] = {}
            bindings.setdefault(port, []).append(binding)
    for e in a.expose:
        for port in o.expose(e):
            exposed.setdefault(port, {})

    env = []
    for f in a.env_file:
        env += o.read_kv_file(f, env=True)
    env += [o.env_value(e) for e in a.env]
    labels: dict[str, str] = {}
    for f in a.label_file:
        for line in o.read_kv_file(f, env=False):
            k, _, v = line.partition("=")
            labels[k] = v
    for lab in a.label:
        k, _, v = lab.partition("=")
        labels[k] = v

    if a.pid not in ("", "host") and not a.pid.startswith("container:"):
        raise ValueError("--pid: invalid PID mode")
    if a.uts not in ("", "host"):
        raise ValueError("--uts: invalid UTS mode")
    if a.userns not in ("", "host"):
        raise ValueError("--userns: invalid USER mode")
    if a.cgroupns not in ("", "host", "private"):
        raise ValueError("--cgroupns: invalid CGROUP mode")

    log_opts = {}
    for lo in a.log_opt:
        k, eq, v = lo.partition("=")
        if not eq:
            raise ValueError("invalid key value pair format in logging opts")
        log_opts[k] = v
    if log_opts and a.log_driver == "none":
        raise ValueError("invalid logging opts for driver none")
    security, masked, readonly = _security_opts(a.security_opt)
    storage = {}
    for so in a.storage_opt:
        k, eq, v = so.partition("=")
        if not eq:
            raise ValueError("invalid storage option")
        storage[k] = v
    sysctls = {}
    for sc in a.sysctl:
        k, eq, v = sc.partition("=")
        if not eq:
            raise ValueError(f"invalid argument \"{sc}\" for \"--sysctl\" flag: sysctl '{sc}' is not allowed")
        sysctls[k] = v
    annotations = {}
    for an in a.annotation:
        k, _, v = an.partition("=")
        annotations[k] = v

    health = None
    have_health = bool(a.health_cmd or a.health_interval or a.health_timeout or a.health_start_period or
                       a.health_retries or a.health_start_interval)
    if a.no_healthcheck:
        if have_health:
            raise ValueError("--no-healthcheck conflicts with --health-* options")
        health = {"Test": ["NONE"]}
    elif have_health:
        for name in ("interval", "timeout", "retries", "start_period", "start_interval"):
            if getattr(a, f"health_{name}") < 0:
                raise ValueError(f"--health-{name.replace('_', '-')} cannot be negative")
        health = {"Test": ["CMD-SHELL", a.health_cmd] if a.health_cmd else None, "Interval": a.health_interval,
                  "Timeout": a.health_timeout, "StartPeriod": a.health_start_period,
                  "StartInterval": a.health_start_interval, "Retries": a.health_retries}

    config: dict[str, Any] = {
        "Hostname": a.hostname, "Domainname": a.domainname, "User": a.user,
        "AttachStdin": attach_stdin, "AttachStdout": attach_stdout, "AttachStderr": attach_stderr,
        "Tty": a.tty, "OpenStdin": a.interactive,
        "StdinOnce": bool(a.interactive and attach_stdin),
        "Env": env, "Cmd": list(a.command) if a.command else None, "Image": a.image,
        "Volumes": volumes or None, "WorkingDir": a.workdir, "Labels": labels,
    }
    if exposed:
        config["ExposedPorts"] = exposed
    if a.entrypoint:
        config["Entrypoint"] = [a.entrypoint]
    elif flag_set(a, "entrypoint"):
        config["Entrypoint"] = [""]  # --entrypoint= resets the image's
    if a.mac_address:
        config["MacAddress"] = a.mac_address
    if health is not None:
        config["Healthcheck"] = health
    if flag_set(a, "stop_signal"):
        config["StopSignal"] = a.stop_signal
    if flag_set(a, "stop_timeout"):
        config["StopTimeout"] = a.stop_timeout

    networks = list(a.network)
    network_mode = networks[0]["Target"] if networks else "default"
    restart = a.restart if isinstance(a.restart, dict) else o.restart_policy(a.restart)
    if a.rm and restart["Name"] not in ("", "no"):
        raise ValueError("conflicting options: cannot specify both --restart and --rm")
    host: dict[str, Any] = {
        "Binds": binds or None, "ContainerIDFile": a.cidfile, "LogConfig": {"Type": a.log_driver, "Config": log_opts},
        "NetworkMode": network_mode, "PortBindings": bindings or None, "RestartPolicy": restart,
        "AutoRemove": a.rm, "VolumeDriver": a.volume_driver, "VolumesFrom": a.volumes_from or None,
        "CapAdd": a.cap_add or None, "CapDrop": a.cap_drop or None, "CgroupnsMode": a.cgroupns,
        "Dns": a.dns, "DnsOptions": a.dns_option or [], "DnsSearch": a.dns_search,
        "ExtraHosts": a.add_host or None, "GroupAdd": a.group_add or None, "IpcMode": a.ipc,
        "Cgroup": "", "Links": a.link or None, "OomScoreAdj": a.oom_score_adj, "PidMode": a.pid,
        "Privileged": a.privileged, "PublishAllPorts": a.publish_all, "ReadonlyRootfs": a.read_only,
        "SecurityOpt": security or None, "UTSMode": a.uts, "UsernsMode": a.userns, "ShmSize": a.shm_size,
        "Isolation": a.isolation, "Runtime": a.runtime,
        # resources
        "CpuShares": a.cpu_shares, "Memory": a.memory, "NanoCpus": a.cpus, "CgroupParent": a.cgroup_parent,
        "BlkioWeight": a.blkio_weight, "BlkioWeightDevice": a.blkio_weight_device,
        "BlkioDeviceReadBps": a.device_read_bps, "BlkioDeviceWriteBps": a.device_write_bps,
        "BlkioDeviceReadIOps": a.device_read_iops, "BlkioDeviceWriteIOps": a.device_write_iops,
        "CpuPeriod": a.cpu_period, "CpuQuota": a.cpu_quota, "CpuRealtimePeriod": a.cpu_rt_period,
        "CpuRealtimeRuntime": a.cpu_rt_runtime, "CpusetCpus": a.cpuset_cpus, "CpusetMems": a.cpuset_mems,
        "Devices": a.device, "DeviceCgroupRules": a.device_cgroup_rule or None,
        "KernelMemory": a.kernel_memory, "MemoryReservation": a.memory_reservation, "MemorySwap": a.memory_swap,
        "OomKillDisable": a.oom_kill_disable, "Ulimits": a.ulimit or None,
        "CpuCount": a.cpu_count, "CpuPercent": a.cpu_percent, "IOMaximumIOps": a.io_maxiops,
        "IOMaximumBandwidth": a.io_maxbandwidth,
    }
    if a.memory_swappiness != -1:
        host["MemorySwappiness"] = a.memory_swappiness
    if flag_set(a, "pids_limit"):
        host["PidsLimit"] = a.pids_limit
    if tmpfs:
        host["Tmpfs"] = tmpfs
    if a.mount:
        host["Mounts"] = a.mount
    if storage:
        host["StorageOpt"] = storage
    if sysctls:
        host["Sysctls"] = sysctls
    if annotations:
        host["Annotations"] = annotations
    if masked is not None:
        host["MaskedPaths"], host["ReadonlyPaths"] = masked, readonly
    if flag_set(a, "init"):
        host["Init"] = a.init
    if a.tty:  # the terminal's size from the start, before any resize (API 1.42+)
        from ..streams import terminal_size
        h, w = terminal_size()
        if h and w:
            host["ConsoleSize"] = [h, w]
    if a.gpus:
        host["DeviceRequests"] = _gpus(a.gpus)

    endpoints: dict[str, Any] = {}
    for i, n in enumerate(networks):
        ep: dict[str, Any] = {}
        aliases = list(n.get("Aliases", []))
        ipv4, ipv6 = n.get("IPv4Address", ""), n.get("IPv6Address", "")
        lls = list(n.get("LinkLocalIPs", []))
        links: list[str] = []
        mac = n.get("MacAddress", "")
        if i == 0:  # the plain flags apply to the first network, as docker's
            aliases += a.network_alias
            ipv4, ipv6 = ipv4 or a.ip, ipv6 or a.ip6
            lls += a.link_local_ip
            links = list(a.link) if network_mode not in ("default", "bridge") else []
            mac = mac or a.mac_address
        if ipv4 or ipv6 or lls:
            ep["IPAMConfig"] = {"IPv4Address": ipv4, "IPv6Address": ipv6, "LinkLocalIPs": lls or None}
        if aliases:
            ep["Aliases"] = aliases
        if links:
            ep["Links"] = links
        if mac:
            ep["MacAddress"] = mac
        if n.get("DriverOpts"):
            ep["DriverOpts"] = n["DriverOpts"]
        if "GwPriority" in n:
            ep["GwPriority"] = n["GwPriority"]
        if n["Target"] in endpoints:
            raise ValueError(f'network "{n["Target"]}" is specified multiple times')
        endpoints[n["Target"]] = ep
    if not networks and (a.ip or a.ip6 or a.network_alias or a.link_local_ip):
        ep = {}
        if a.ip or a.ip6 or a.link_local_ip:
            ep["IPAMConfig"] = {"IPv4Address": a.ip, "IPv6Address": a.ip6, "LinkLocalIPs": a.link_local_ip or None}
        if a.network_alias:
            ep["Aliases"] = a.network_alias
        endpoints["default"] = ep
    if len(networks) == 1 and not endpoints[networks[0]["Target"]]:
        endpoints = {}
    body = dict(config)
    body["HostConfig"] = host
    body["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return body


def report_error(command: str, message: str) -> None:
    """As docker 28 reports run/create failures:
    "dockyard: <message>", a blank line, "Run 'dockyard run --help' for more information"."""
    sys.stderr.write(f"dockyard: {message}\n\nRun 'dockyard {command} --help' for more information\n")


def start_error_status(message: str) -> int:
    """docker's runStartContainerErr: 127 not found, 126 cannot invoke, else 125."""
    m = message
    if "executable file not found" in m or "no such file or directory" in m or \
            "system cannot find the file specified" in m:
        return 127
    if "permission denied" in m or "is a directory" in m:
        return 126
    return 125


def familiar(ref: str) -> str:
    """busybox -> busybox:latest, as "Unable to find image '...' locally" shows it."""
    return ref if "@" in ref or split_name_tag(ref)[1] else ref + ":latest"


def pull_image(api: Any, ref: str, gopts: dict, platform: str = "", quiet: bool = False) -> None:
    """Pull for run/create: progress on stderr (stdout may be the container's)."""
    from ..progress import display_stream
    name, tag = (ref, "") if "@" in ref else split_name_tag(ref)
    if "@" not in ref:
        tag = tag or "latest"  # an empty tag would pull every tag
    display_stream(api.image_pull(name, tag, platform), sys.stderr, quiet=quiet)


def create_container(api: Any, body: dict[str, Any], a: Namespace, gopts: dict, command: str) -> str:
    """docker's createContainer: --pull policy, pull on "No such image",
    --cidfile, warnings. Errors are reported the docker way (exit 125/126/127)."""
    from ..progress import StreamError
    name = a.name
    if a.cidfile and os.path.exists(a.cidfile):
        report_error(command, f"container ID file found, make sure the other container isn't running or "
                              f"delete {a.cidfile}")
        raise StatusError(125)
    policy = a.pull
    if policy not in ("always", "missing", "never"):
        report_error(command, f'invalid pull option: \'{policy}\': must be one of "always", "missing" or "never"')
        raise StatusError(125)
    try:
        if policy == "always":
            pull_image(api, body["Image"], gopts, a.platform, a.quiet)
        try:
            res = api.container_create(body, name, a.platform)
        except errdefs.NotFound as e:
            if policy == "never" or "No such image" not in e.message:
                raise
            sys.stderr.write(f"Unable to find image '{familiar(body['Image'])}' locally\n")
            pull_image(api, body["Image"], gopts, a.platform, a.quiet)
            res = api.container_create(body, name, a.platform)
    except errdefs.EngineError as e:
        from ...client import DaemonUnreachable
        if isinstance(e, DaemonUnreachable):  # one line saying how to start it, nothing else
            raise CLIError(e.message, 125 if command == "run" else 1) from None
        msg = daemon_error(e).args[0]
        if command == "create":  # docker's create prints the daemon's error as is, exit 1
            raise CLIError(msg, 1) from None
        report_error(command, msg)
        raise StatusError(start_error_status(msg)) from None
    except StreamError as e:
        if command == "create":
            raise CLIError(e.message, 1) from None
        report_error(command, e.message)
        raise StatusError(125) from None
    for w in res.get("Warnings") or []:
        sys.stderr.write(f"WARNING: {w}\n")
    cid = res["Id"]
    if a.cidfile:
        from ...fsutil import atomic_write
        atomic_write(a.cidfile, cid.encode(), durable=False)
    return cid


def _parse(argv: list[str], command: str) -> tuple[Namespace, dict[str, Any]]:
    run = command == "run"
    p = Parser(prog=f"dockyard {command}", usage=f"dockyard {command} [OPTIONS] IMAGE [COMMAND] [ARG...]",
               add_help=False)
    add_container_flags(p)
    if run:
        p.add_argument("-d", "--detach", action="store_true", help="Run container in background and print container ID")
        p.add_argument("--detach-keys", default="", help="Override the key sequence for detaching a container")
        p.add_argument("--sig-proxy", action="store_true", default=True, help="Proxy received signals to the process")
    p.add_argument("--pull", default="missing",
                   help=f'Pull image before {"running" if run else "creating"} ("always", "missing", "never")')
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the pull output")
    a = p.parse_args(argv)
    try:
        body = build_create_body(a, detach=run and a.detach)
    except ValueError as e:
        report_error(command, str(e))
        raise StatusError(125) from None
    return a, body


def api_socket_mount(api: Any, body: dict[str, Any], command: str) -> None:
    """--use-api-socket: the daemon's own unix socket at /var/run/docker.sock
    (registry credentials are not copied in)."""
    host = api.host
    if not (host.startswith("unix://") or host.startswith("/")):
        report_error(command, "flag --use-api-socket can't be used with a Docker host that is not a Unix socket")
        raise StatusError(125)
    path = host[7:] if host.startswith("unix://") else host
    body["HostConfig"].setdefault("Mounts", None)
    body["HostConfig"]["Mounts"] = (body["HostConfig"]["Mounts"] or []) + [
        {"Type": "bind", "Source": path, "Target": "/var/run/docker.sock"}]


def cmd_create(argv: list[str], gopts: dict) -> int:
    a, body = _parse(argv, "create")
    api = client(gopts)
    if a.use_api_socket:
        api_socket_mount(api, body, "create")
    sys.stdout.write(create_container(api, body, a, gopts, "create") + "\n")
    return 0


def cmd_run(argv: list[str], gopts: dict) -> int:
    a, body = _parse(argv, "run")
    api = client(gopts)
    if a.use_api_socket:
        api_socket_mount(api, body, "run")
    if not a.detach:
        from ..streams import check_tty
        check_tty(body["AttachStdin"], a.tty)
    cid = create_container(api, body, a, gopts, "run")
    if a.detach:
        try:
            api.container_start(cid)
        except errdefs.EngineError as e:
            msg = daemon_error(e).args[0]
            report_error("run", msg)
            if a.rm:
                _wait_removed(api, cid)
            raise StatusError(start_error_status(msg)) from None
        sys.stdout.write(cid + "\n")
        return 0
    return run_attached(api, cid, gopts, body, a.rm, a.detach_keys, a.sig_proxy)


def _wait_removed(api: Any, cid: str) -> None:
    try:
        api.wait_result(api.container_wait_open(cid, "removed"))
    except (errdefs.EngineError, ValueError, OSError):
        pass


def detach_keys_for(gopts: dict, flag: str) -> tuple[str, bytes]:
    """The detach keys (flag, else config.json's detachKeys, else ctrl-p,ctrl-q) as
    sent to the daemon and as bytes to watch for."""
    from ..config import load
    from ...apitypes import DEFAULT_DETACH_KEYS, parse_detach_keys
    spec = flag or load(gopts).get("detachKeys", "")
    if not spec:
        return "", DEFAULT_DETACH_KEYS
    try:
        return spec, parse_detach_keys(spec)
    except ValueError as e:
        sys.stderr.write(f"WARNING: invalid detach escape keys, using default: {e}\n")
        return "", DEFAULT_DETACH_KEYS


def run_attached(api: Any, cid: str, gopts: dict, body: dict[str, Any], auto_remove: bool, detach_keys: str,
                 sig_proxy: bool) -> int:
    """docker's runContainer after create: attach, wait, start, stream, status."""
    from ..streams import SignalProxy, session
    tty = bool(body.get("Tty"))
    attach_stdin = bool(body.get("AttachStdin"))
    keys_spec, keys = detach_keys_for(gopts, detach_keys)
    proxy = SignalProxy(lambda sig: api.container_kill(cid, sig)) if sig_proxy else None
    if proxy:
        proxy.__enter__()
    try:
        try:
            sock, leftover = api.container_attach(cid, stdin=attach_stdin, stdout=bool(body.get("AttachStdout")),
                                                  stderr=bool(body.get("AttachStderr")), detach_keys=keys_spec)
            wait = api.container_wait_open(cid, "removed" if auto_remove else "next-exit")
        except errdefs.EngineError as e:
            raise daemon_error(e, 125) from None
        try:
            api.container_start(cid)
        except errdefs.EngineError as e:
            sock.close()
            msg = daemon_error(e).args[0]
            report_error("run", msg)
            if auto_remove:
                try:
                    api.wait_result(wait)
                except Exception:  # the container is gone either way
                    pass
            raise StatusError(start_error_status(msg)) from None
        outcome = session(sock, leftover, tty, attach_stdin, keys, lambda h, w: api.container_resize(cid, h, w),
                          tty and os.isatty(sys.stdout.fileno()))
        if outcome == "detached":
            wait.close()
            return 0
        try:
            res = api.wait_result(wait)
        except Exception as e:
            sys.stderr.write(f"error waiting for container: {e}\n")
            return 125
        if res.get("Error") and res["Error"].get("Message"):
            sys.stderr.write(f"Error waiting for container: {res['Error']['Message']}\n")
            return 125
        return int(res.get("StatusCode", 0))
    finally:
        if proxy:
            proxy.__exit__()
