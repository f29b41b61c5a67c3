"""Environment variables without importing os.

`import os` costs about 2 ms at the CLI's start (os pulls in
_collections_abc, stat and posixpath), an eighth of what `docker ps` takes
in all, and `ps`/`version` need nothing else from it. posix.environ is the
process environment as bytes, the dict os.environ is built from. Once os is
imported, os.environ is the one to ask: writes (main sets DOCKER_CONFIG for
--config) go there and not to posix.environ.
"""

import sys
from posix import environ as _environ


def getenv(name: str, default: str | None = None) -> str | None:
    """os.environ.get(name, default)."""
    os = sys.modules.get("os")
    if os is not None:
        return os.environ.get(name, default)
    value = _environ.get(name.encode())
    if value is None:
        return default
    return value.decode(sys.getfilesystemencoding(), "surrogateescape")


def home() -> str:
    """os.path.expanduser("~"): $HOME, else the password database."""
    h = getenv("HOME")
    if h is None:
        import os
        return os.path.expanduser("~")
    return h.rstrip("/") or "/"
