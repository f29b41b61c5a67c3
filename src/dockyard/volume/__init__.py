"""Volumes: docker's `local` volume driver. A volume is a directory under
<data-root>/volumes/<name>/_data, or, with driver options (type, device, o),
a filesystem mounted there while containers use it."""

from .local import LocalDriver, Volume

__all__ = ["LocalDriver", "Volume"]
