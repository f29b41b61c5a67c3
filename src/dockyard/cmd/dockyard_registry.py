"""dockyard-registry: serve the OCI distribution API, or collect garbage.

    dockyard-registry serve [--config FILE] [--addr HOST:PORT] [--root DIR]
                            [--htpasswd FILE] [--tls-cert FILE --tls-key FILE] [--read-only]
    dockyard-registry gc [--config FILE] [--root DIR] [--dry-run] [--delete-untagged] [--min-age SECONDS]

Flags override the configuration file (see dockyard.registry.server.config).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="dockyard-registry", description="A private OCI registry.")
    sub = ap.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the registry API")
    serve.add_argument("--config", help="YAML or TOML configuration file")
    serve.add_argument("--addr", help="HOST:PORT to listen on (default 127.0.0.1:5000)")
    serve.add_argument("--root", help="storage directory")
    serve.add_argument("--htpasswd", help="bcrypt htpasswd file: require basic auth")
    serve.add_argument("--tls-cert", help="PEM certificate (chain) to serve HTTPS with")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument("--read-only", action="store_true", default=None, help="refuse every write")
    gc = sub.add_parser("gc", help="delete blobs no manifest uses")
    gc.add_argument("--config", help="YAML or TOML configuration file")
    gc.add_argument("--root", help="storage directory")
    gc.add_argument("--dry-run", action="store_true", help="only report what would be deleted")
    gc.add_argument("--delete-untagged", action="store_true",
                    help="also delete manifests no tag reaches (directly, via an index or as a referrer)")
    gc.add_argument("--min-age", type=float, default=3600.0,
                    help="spare blobs younger than this many seconds (pushes in flight); default 3600")
    return ap


def _config(args: argparse.Namespace):  # -> Config
    from dockyard.registry.server import config as cfgmod
    cfg = cfgmod.load(args.config)
    for attr in ("addr", "root", "htpasswd", "tls_cert", "tls_key", "read_only"):
        value = getattr(args, attr, None)
        if value is not None:
            setattr(cfg, attr, value)
    if getattr(args, "htpasswd", None):
        cfg.token = None  # --htpasswd replaces the file's auth section
    cfgmod.validate(cfg)
    return cfg


def _build(cfg, logger: logging.Logger):  # -> Registry
    from dockyard.registry.server.app import Registry
    from dockyard.registry.server.auth import AclRule, BasicAuth, Htpasswd, NoAuth, TokenAuth, TokenIssuer
    from dockyard.registry.server.storage import open_storage

    storage = open_storage(cfg.storage_driver, {"root": cfg.root, "fsync": cfg.fsync})
    auth = NoAuth()
    issuer = None
    if cfg.htpasswd:
        auth = BasicAuth(Htpasswd(cfg.htpasswd), cfg.htpasswd_realm)
    elif cfg.token:
        t = cfg.token
        if t.issuer_server:
            s = t.issuer_server
            acl = [AclRule(account=str(r.get("account", "")), name=str(r.get("name", "")),
                           actions=[str(a) for a in r.get("actions", [])], type=str(r.get("type", "repository")))
                   for r in s.acl]
            issuer = TokenIssuer(s.private_key, t.issuer, t.service, Htpasswd(s.htpasswd) if s.htpasswd else None,
                                 acl, s.expiration)
        if t.public_key:
            auth = TokenAuth(t.realm, t.service, t.issuer, public_key_path=t.public_key)
        else:
            assert issuer is not None
            auth = TokenAuth(t.realm, t.service, t.issuer, public_key=issuer.public_key())
    return Registry(storage, auth, read_only=cfg.read_only, delete_enabled=cfg.delete_enabled,
                    max_manifest_bytes=cfg.max_manifest_bytes, max_blob_bytes=cfg.max_blob_bytes,
                    upload_ttl=cfg.upload_ttl, logger=logger, issuer=issuer)


async def _serve(cfg, logger: logging.Logger) -> None:
    import ssl

    from aiohttp import web

    from dockyard.registry.server.app import make_app
    from dockyard.registry.server.observe import access_logger, log_event

    registry = _build(cfg, logger)
    app = make_app(registry, metrics_endpoints=cfg.metrics)
    runner = web.AppRunner(app, access_log_class=access_logger(registry.metrics, cfg.access_log), shutdown_timeout=cfg.shutdown_timeout,
                           handle_signals=False)
    await runner.setup()
    ssl_context = None
    if cfg.tls_cert:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    host, port = cfg.host_port
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, backlog=1024, reuse_address=True)
    await site.start()
    log_event(logger, logging.INFO, "listening", addr=f"{host}:{port}", root=cfg.root,
              tls=bool(ssl_context), read_only=cfg.read_only,
              auth="htpasswd" if cfg.htpasswd else "token" if cfg.token else "none")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def purge_loop() -> None:
        while True:
            await asyncio.sleep(cfg.upload_purge_interval)
            try:
                registry.purge_expired_uploads()
            except OSError as e:
                log_event(logger, logging.WARNING, "purging uploads failed", error=str(e))

    purger = asyncio.create_task(purge_loop())
    await stop.wait()
    log_event(logger, logging.INFO, "shutting down", in_flight_uploads=registry.metrics.uploads_in_flight,
              timeout=cfg.shutdown_timeout)
    purger.cancel()
    await site.stop()  # no new connections
    drained = await registry.drain(cfg.shutdown_timeout)
    if not drained:
        log_event(logger, logging.WARNING, "shutdown timeout: cutting off requests in flight",
                  active=registry.active_requests)
    await runner.cleanup()
    log_event(logger, logging.INFO, "stopped")


def _gc(args: argparse.Namespace) -> int:
    from dockyard.registry.server.gc import GcError, collect
    from dockyard.registry.server.storage import open_storage
    cfg = _config(args)
    storage = open_storage(cfg.storage_driver, {"root": cfg.root, "fsync": cfg.fsync})
    try:
        report = collect(storage, dry_run=args.dry_run, delete_untagged=args.delete_untagged, min_age=args.min_age)
    except GcError as e:
        print(f"dockyard-registry gc: {e}", file=sys.stderr)
        return 1
    verb = "would delete" if args.dry_run else "deleted"
    for repo, digest in report.deleted_manifests:
        print(f"{verb} manifest {repo}@{digest}")
    for digest, size in report.deleted_blobs:
        print(f"{verb} blob {digest} ({size} bytes)")
    print(f"{len(report.marked)} blobs in use, {len(report.deleted_blobs)} {verb} "
          f"({report.freed_bytes} bytes), {report.spared_young} spared as younger than {args.min_age:g}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "gc":
            return _gc(args)
        cfg = _config(args)
    except (ValueError, OSError) as e:
        print(f"dockyard-registry: {e}", file=sys.stderr)
        return 2
    from dockyard.registry.server.observe import setup_logging
    logger = setup_logging(cfg.log_level)
    try:
        asyncio.run(_serve(cfg, logger))
    except OSError as e:
        print(f"dockyard-registry: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
