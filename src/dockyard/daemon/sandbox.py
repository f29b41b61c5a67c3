"""The seam where container networking plugs into the start path.

ContainerService calls ``prepare`` once per start, before the OCI spec is
written, and ``release`` once after the container's task is gone (exit,
failed start, remove). ``prepare`` returns where the container's network
namespace comes from:

  ""              a new, empty namespace (only loopback; the runtime makes it)
  "host"          no namespace of its own: the host's network
  "/path/to/ns"   join this namespace (a bind-mounted netns or /proc/<pid>/ns/net)

The default below gives every container a private namespace with loopback
only; the network layer replaces it (Daemon.sandboxes) with bridge, host,
none and container:<id> modes, IPAM and port publishing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .container import Container


class Sandboxes(Protocol):
    async def prepare(self, c: "Container") -> str: ...
    async def release(self, c: "Container") -> None: ...


class LoopbackSandboxes:
    async def prepare(self, c: "Container") -> str:
        return ""

    async def release(self, c: "Container") -> None:
        return None
