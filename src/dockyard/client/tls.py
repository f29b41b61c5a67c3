"""TLS for tcp:// hosts, configured like docker's CLI: --tls, --tlsverify,
--tlscacert/--tlscert/--tlskey, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl


def cert_path() -> str:
    return os.environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")


def context(verify: bool, cacert: str | None = None, cert: str | None = None,
            key: str | None = None) -> "ssl.SSLContext":
    """An SSLContext for the client. With verify, the server's certificate
    must chain to `cacert` (when given, else the system store) and match the
    host name; without it, any server certificate is accepted (docker's --tls).
    The client presents cert/key when both files exist."""
    import ssl
    base = cert_path()
    cacert = cacert or os.path.join(base, "ca.pem")
    cert = cert or os.path.join(base, "cert.pem")
    key = key or os.path.join(base, "key.pem")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if verify:
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        if os.path.exists(cacert):
            ctx.load_verify_locations(cacert)
        else:
            ctx.load_default_certs()
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if os.path.exists(cert) and os.path.exists(key):
        ctx.load_cert_chain(cert, key)
    return ctx
