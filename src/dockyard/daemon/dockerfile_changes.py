"""`--change` instructions of docker import/commit (a Dockerfile subset
that only touches the image config)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from .. import errdefs

ALLOWED = {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR", "STOPSIGNAL"}


def _cmd_form(rest: str) -> list[str]:
    rest = rest.strip()
    if rest.startswith("["):
        try:
            v = json.loads(rest)
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                return v
        except ValueError:
            pass
    return ["/bin/sh", "-c", rest]


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    cfg = dict(config)
    for change in changes or []:
        change = change.strip()
        if not change:
            continue
        word, _, rest = change.partition(" ")
        instr = word.upper()
        if instr not in ALLOWED:
            raise errdefs.InvalidArgument(f"{word} is not a valid change command")
        if instr == "CMD":
            cfg["Cmd"] = _cmd_form(rest)
        elif instr == "ENTRYPOINT":
            cfg["Entrypoint"] = _cmd_form(rest)
        elif instr == "ENV":
            env = [e for e in cfg.get("Env") or []]
            pairs: list[tuple[str, str]] = []
            if "=" in rest.split(" ", 1)[0]:
                for tok in shlex.split(rest):
                    k, _, v = tok.partition("=")
                    pairs.append((k, v))
            else:
                k, _, v = rest.strip().partition(" ")
                pairs.append((k, v.strip()))
            for k, v in pairs:
                env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
            cfg["Env"] = env
        elif instr == "EXPOSE":
            ports = dict(cfg.get("ExposedPorts") or {})
            for p in rest.split():
                ports[p if "/" in p else p + "/tcp"] = {}
            cfg["ExposedPorts"] = ports
        elif instr == "LABEL":
            labels = dict(cfg.get("Labels") or {})
            for tok in shlex.split(rest):
                k, _, v = tok.partition("=")
                labels[k] = v
            cfg["Labels"] = labels
        elif instr == "USER":
            cfg["User"] = rest.strip()
        elif instr == "WORKDIR":
            cfg["WorkingDir"] = rest.strip()
        elif instr == "STOPSIGNAL":
            cfg["StopSignal"] = rest.strip()
        elif instr == "VOLUME":
            vols = dict(cfg.get("Volumes") or {})
            r = rest.strip()
            items = json.loads(r) if r.startswith("[") else r.split()
            for v in items:
                vols[v] = {}
            cfg["Volumes"] = vols
        elif instr == "ONBUILD":
            cfg["OnBuild"] = list(cfg.get("OnBuild") or []) + [rest.strip()]
    return cfg
