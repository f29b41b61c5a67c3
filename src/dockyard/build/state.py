"""An image under construction: its config (docker's image JSON) and the
descriptors of its layers. Every step makes a new State; its identity is
the image ID the config would have, so the final state's identity is the
built image's ID and a fully cached rebuild gives the same ID."""

from __future__ import annotations

import copy
import hashlib
import json
import platform
from dataclasses import dataclass
from typing import Any

from ..core.images import Image, config_diff_ids, top_chain_id
from ..oci import mediatypes as mt
from ..units import now_rfc3339
from ..oci.runtime_spec import DEFAULT_PATH_ENV


def config_digest(config: dict[str, Any]) -> str:
    """The digest ImageService.create_image gives this config."""
    return "sha256:" + hashlib.sha256(json.dumps(config, separators=(",", ":")).encode()).hexdigest()


def host_platform() -> tuple[str, str]:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)
    return "linux", arch


@dataclass
class State:
    config: dict[str, Any]
    layers: list[dict[str, Any]]
    identity: str

    @classmethod
    def from_image(cls, img: Image) -> "State":
        cfg = copy.deepcopy(img.config)
        for stale in ("container", "container_config"):
            cfg.pop(stale, None)
        return cls(cfg, [dict(l) for l in img.manifest.get("layers") or []], img.id)

    @classmethod
    def scratch(cls, os_: str, arch: str, variant: str = "") -> "State":
        cfg: dict[str, Any] = {"architecture": arch, "os": os_, "config": {"Env": [DEFAULT_PATH_ENV]},
                               "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
        if variant:
            cfg["variant"] = variant
        return cls(cfg, [], "scratch")

    @classmethod
    def from_record(cls, config: dict[str, Any], layers: list[dict[str, Any]]) -> "State":
        return cls(config, layers, config_digest(config))

    @property
    def run(self) -> dict[str, Any]:
        """The runtime config (Env, Cmd, WorkingDir, ...)."""
        return self.config.setdefault("config", {})

    @property
    def diff_ids(self) -> list[str]:
        return config_diff_ids(self.config)

    @property
    def chain_id(self) -> str:
        return top_chain_id(self.diff_ids)

    @property
    def short_id(self) -> str:
        return self.identity.split(":", 1)[-1][:12]

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for kv in self.run.get("Env") or []:
            k, _, v = kv.partition("=")
            out[k] = v
        return out

    def derive(self, created_by: str, run_config: dict[str, Any] | None = None,
               layer: tuple[dict[str, Any], str] | None = None, comment: str = "",
               extra: dict[str, Any] | None = None) -> "State":
        """The next state: a history entry, maybe a new runtime config, maybe
        a layer (descriptor, diff ID)."""
        cfg = copy.deepcopy(self.config)
        created = now_rfc3339()
        if run_config is not None:
            cfg["config"] = run_config
        if extra:
            cfg.update(extra)
        hist: dict[str, Any] = {"created": created, "created_by": created_by}
        if comment:
            hist["comment"] = comment
        layers = list(self.layers)
        if layer is None:
            hist["empty_layer"] = True
        else:
            desc, diff_id = layer
            layers.append(desc)
            rootfs = cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})
            rootfs["diff_ids"] = list(rootfs.get("diff_ids") or []) + [diff_id]
        cfg.setdefault("history", []).append(hist)
        cfg["created"] = created
        return State(cfg, layers, config_digest(cfg))

    def with_labels(self, labels: dict[str, str]) -> "State":
        if not labels:
            return self
        cfg = copy.deepcopy(self.config)
        run = cfg.setdefault("config", {})
        merged = dict(run.get("Labels") or {})
        merged.update(labels)
        run["Labels"] = merged
        return State(cfg, list(self.layers), config_digest(cfg))


def layer_descriptor(digest: str, size: int) -> dict[str, Any]:
    return {"mediaType": mt.OCI_LAYER, "digest": digest, "size": size}
