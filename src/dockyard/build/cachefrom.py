"""--cache-from: images as cache sources, the classic builder's way.

The images named need not have been built here (one loaded from another
machine will do): a step is a hit when a source's history continues the
state built so far — the state's history entries and layer diff IDs are the
start of the source's — and the source's next history entry was made by
the same instruction (its created_by, which for COPY/ADD includes the
content checksum of what it copies). The hit takes that entry and, unless
it was an empty layer, the source's layer at that position; on a source's
last entry the hit is the source image itself, so a rebuild gives the same
image.

As in moby, once a step was taken from a source, the rest of the stage
follows that source only; and while --cache-from is given, the local cache
is used only for states that are the start of one of its images — none at
all when no name found an image (dockerd 20.10 rebuilds every step then)."""

from __future__ import annotations

import copy
from typing import Any

from ..core.images import Image
from .state import State


def _history(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list(config.get("history") or [])


def continues(source: Image, state: State) -> bool:
    """Does the source's history start with the state's (moby's isValidParent)?"""
    src_hist = _history(source.config)
    if not src_hist:
        return False
    hist, diff_ids = _history(state.config), state.diff_ids
    if not hist and not diff_ids:
        return True
    src_diff_ids = source.diff_ids
    if len(hist) >= len(src_hist) or len(diff_ids) > len(src_diff_ids):
        return False
    return src_hist[:len(hist)] == hist and src_diff_ids[:len(diff_ids)] == diff_ids


def _layer_index(source: Image, position: int) -> int | None:
    """The index among the source's layers of the one made by history entry
    `position`, or None when that entry made no layer."""
    hist = _history(source.config)
    if hist[position].get("empty_layer"):
        return None
    index = sum(1 for h in hist[:position] if not h.get("empty_layer"))
    return index if index < len(source.diff_ids) and index < len(source.layers) else None


class CacheSources:
    def __init__(self, images: list[Image]) -> None:
        self.images = images
        self.targets = list(images)

    def new_stage(self) -> None:
        self.targets = list(self.images)

    def accepts_local(self, hit: State) -> bool:
        """A hit of the local cache counts only on the way to a source."""
        return any(hit.identity == img.id or continues(img, hit) for img in self.images)

    def match(self, parent: State, created_by: str, run_config: dict[str, Any] | None,
              extra: dict[str, Any] | None) -> State | None:
        position = len(_history(parent.config))
        for source in self.targets:
            if not continues(source, parent):
                continue
            entry = _history(source.config)[position]
            if entry.get("created_by", "") != created_by:
                continue
            if position == len(_history(source.config)) - 1:
                return State.from_image(source)
            index = _layer_index(source, position)
            if index is None and not entry.get("empty_layer"):
                continue  # a history that names more layers than the image has
            cfg = copy.deepcopy(parent.config)
            if run_config is not None:
                cfg["config"] = copy.deepcopy(run_config)
            if extra:
                cfg.update(copy.deepcopy(extra))
            layers = list(parent.layers)
            if index is not None:
                layers.append(dict(source.layers[index]))
                rootfs = cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})
                rootfs["diff_ids"] = list(rootfs.get("diff_ids") or []) + [source.diff_ids[index]]
            cfg.setdefault("history", []).append(dict(entry))
            if entry.get("created"):
                cfg["created"] = entry["created"]
            self.targets = [source]  # don't jump between sources within a stage
            return State.from_record(cfg, layers)
        return None
