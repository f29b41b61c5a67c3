"""The Engine API application: the router with every resource's routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .http import HTTPServer
from .router import Router

if TYPE_CHECKING:
    from ...daemon.daemon import Daemon


def build_router(d: "Daemon") -> Router:
    from ..routers import build, containers, exec, images, networks, system, volumes
    r = Router()
    for module in (system, containers, exec, images, volumes, build, networks):
        module.register(r, d)
    return r


def build_server(d: "Daemon") -> HTTPServer:
    from ... import __version__
    from ...apitypes import API_VERSION
    headers = {"Api-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux",
               "Server": f"Docker/{__version__} (linux)"}
    return HTTPServer(build_router(d), headers)
