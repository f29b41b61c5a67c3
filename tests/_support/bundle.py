"""OCI bundles on a busybox rootfs for runtime tests (runc's setup_busybox)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from typing import Any, Callable

from dockyard.oci.runtime_spec import runc_default_spec

from .daemon import busybox_tar


def make_busybox_rootfs(path: str) -> None:
    os.makedirs(path, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(busybox_tar())) as tf:
        tf.extractall(path, numeric_owner=True, filter="fully_trusted")


def make_bundle(path: str, args: list[str], update: Callable[[dict[str, Any]], None] | None = None,
                cgroups_path: str = "") -> dict[str, Any]:
    make_busybox_rootfs(os.path.join(path, "rootfs"))
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["root"]["readonly"] = False
    if cgroups_path:
        spec["linux"]["cgroupsPath"] = cgroups_path
    if update:
        update(spec)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(spec, f, indent=1)
    return spec
