"""Dockyard: a Docker-compatible container engine.

Packages, top to bottom (imports point down only; see docs/architecture.md):
cli -> client -> (HTTP) -> api -> daemon -> build/network/volume -> core -> registry
core -> (command line + socket) -> shim -> (command line) -> runtime -> cgroups -> _sys
"""

__version__ = "0.1.0"
