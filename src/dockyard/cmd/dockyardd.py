"""dockyardd: dockerd's flags, the daemon and its API server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from ..daemon.config import DaemonConfig


def parse_args(argv: list[str]) -> DaemonConfig:
    p = argparse.ArgumentParser(prog="dockyardd", description="A self-sufficient runtime for containers")
    p.add_argument("--data-root", default="/var/lib/dockyard", help="Root directory of persistent state")
    p.add_argument("--exec-root", default="/run/dockyard", help="Root directory for execution state files")
    p.add_argument("-H", "--host", action="append", default=[], help="Daemon socket(s) to connect to")
    p.add_argument("-p", "--pidfile", default="", help="Path to use for daemon PID file")
    p.add_argument("-D", "--debug", action="store_true", help="Enable debug mode")
    p.add_argument("-l", "--log-level", default="info", choices=["debug", "info", "warn", "error", "fatal"])
    p.add_argument("--cgroup-parent", default="/dockyard", help="Set parent cgroup for all containers")
    p.add_argument("--runtime", default="", help="OCI runtime binary (default: dockyard-runtime)")
    p.add_argument("--shim", default="", help="Shim binary (default: dockyard-shim)")
    p.add_argument("--init-path", default="", help="Path to the docker-init binary")
    p.add_argument("-b", "--bridge", default="", help="Attach containers to a network bridge")
    p.add_argument("--bip", default="", help="Specify network bridge IP")
    p.add_argument("--default-address-pool", action="append", default=[], help="Default address pools")
    p.add_argument("--iptables", default="true", help="Enable addition of iptables rules")
    p.add_argument("--ip-forward", default="true", help="Enable net.ipv4.ip_forward")
    p.add_argument("--userland-proxy", default="true", help="Use userland proxy for loopback traffic")
    p.add_argument("--dns", action="append", default=[], help="DNS server to use")
    p.add_argument("--dns-search", action="append", default=[], help="DNS search domains to use")
    p.add_argument("--dns-opt", action="append", default=[], help="DNS options to use")
    p.add_argument("--tls", action="store_true", help="Use TLS; implied by --tlsverify")
    p.add_argument("--tlsverify", action="store_true", help="Use TLS and verify the remote")
    p.add_argument("--tlscacert", default="", help="Trust certs signed only by this CA")
    p.add_argument("--tlscert", default="", help="Path to TLS certificate file")
    p.add_argument("--tlskey", default="", help="Path to TLS key file")
    p.add_argument("--live-restore", default="true", help="Keep containers alive during daemon downtime")
    p.add_argument("--insecure-registry", action="append", default=[], help="Insecure registries")
    p.add_argument("--storage-driver", "-s", default="overlay2", help="Storage driver to use")
    a = p.parse_args(argv)

    def flag(v: str) -> bool:
        return str(v).lower() not in ("false", "0", "no")

    if a.storage_driver not in ("overlay2", "overlay"):
        p.error(f"unsupported storage driver: {a.storage_driver}")
    return DaemonConfig(
        data_root=os.path.abspath(a.data_root), exec_root=os.path.abspath(a.exec_root), hosts=a.host,
        pidfile=a.pidfile, debug=a.debug or a.log_level == "debug", log_level=a.log_level,
        cgroup_parent=a.cgroup_parent, runtime=a.runtime, shim=a.shim, init_path=a.init_path, bridge=a.bridge, bip=a.bip,
        default_address_pools=a.default_address_pool, iptables=flag(a.iptables), ip_forward=flag(a.ip_forward),
        userland_proxy=flag(a.userland_proxy), dns=a.dns, dns_search=a.dns_search, dns_options=a.dns_opt,
        tls=a.tls or a.tlsverify, tlsverify=a.tlsverify,
        tlscacert=a.tlscacert, tlscert=a.tlscert, tlskey=a.tlskey, live_restore=flag(a.live_restore),
        insecure_registries=a.insecure_registry,
    )


def _ssl_context(cfg: DaemonConfig):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.tlscert, cfg.tlskey)
    if cfg.tlsverify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cfg.tlscacert)
    return ctx


async def run(cfg: DaemonConfig) -> int:
    from ..api.server.app import build_server
    from ..daemon.daemon import Daemon

    log = logging.getLogger("dockyard")
    daemon = Daemon(cfg)
    await daemon.start()
    server = build_server(daemon)
    try:
        for host in cfg.listen_hosts():
            if host.startswith("unix://"):
                path = host[len("unix://"):]
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                await server.listen_unix(path)
            elif host.startswith("tcp://"):
                hostport = host[len("tcp://"):]
                h, _, port = hostport.rpartition(":")
                ssl_ctx = _ssl_context(cfg) if cfg.tls else None
                if ssl_ctx is None and h not in ("127.0.0.1", "localhost", "::1", "[::1]"):
                    log.warning("API listening on %s without TLS: anyone who can reach it owns this host", host)
                await server.listen_tcp(h.strip("[]") or "0.0.0.0", int(port or (2376 if ssl_ctx else 2375)),
                                        ssl_ctx)
            elif host.startswith("fd://"):
                raise SystemExit("fd:// hosts need systemd socket activation, which is not supported")
            else:
                raise SystemExit(f"dockyardd: invalid host {host!r}: use unix:// or tcp://")
            log.info("API listening on %s", host)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("dockyardd ready")
        await stop.wait()
        log.info("shutting down; containers keep running (live restore)")
    finally:
        await server.close()  # also removes the unix socket files
        await daemon.shutdown()
    return 0


def default_inherited_signals() -> None:
    """Undo what our starter left that Python does not: SIGCHLD ignored
    (children would be reaped by the kernel before we wait), glibc's
    internal signals ignored (any child of glibc's posix_spawn has 32 and
    33 so, GNU make's recipes for one; the libc refuses to touch them and
    every process we start would inherit them) and a blocked mask. Called
    before any thread exists: glibc installs its own handlers for 32 and 33
    when it needs them, which this must not undo."""
    from .._sys import libc
    for sig in (libc.SIGCHLD, *range(32, signal.SIGRTMIN)):
        if libc.signal_disposition(sig) == libc.SIG_IGN:
            libc.set_signal_disposition(sig, libc.SIG_DFL)
    libc.unblock_all_signals()


def main(argv: list[str] | None = None) -> int:
    default_inherited_signals()
    cfg = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if cfg.debug else getattr(logging, cfg.log_level.upper(), logging.INFO)
                        if cfg.log_level != "warn" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.geteuid() != 0:
        sys.stderr.write("dockyardd needs to be started with root privileges\n")
        return 1
    pidfile_fd = None
    if cfg.pidfile:
        pidfile_fd = _write_pidfile(cfg.pidfile)
    try:
        return asyncio.run(run(cfg))
    finally:
        if cfg.pidfile and pidfile_fd is not None:
            try:
                os.unlink(cfg.pidfile)
            except OSError:
                pass


def _write_pidfile(path: str) -> int:
    """Refuse to start twice on one pidfile (as dockerd does)."""
    try:
        with open(path) as f:
            old = int(f.read().strip() or 0)
        if old and os.path.exists(f"/proc/{old}"):
            raise SystemExit(f"dockyardd: pid file found, ensure dockyardd is not running or delete {path}")
    except (FileNotFoundError, ValueError):
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    from ..fsutil import atomic_write
    atomic_write(path, str(os.getpid()).encode())
    return 1


if __name__ == "__main__":
    sys.exit(main())
