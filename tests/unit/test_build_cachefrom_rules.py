"""The --cache-from matching rules (moby's image cache with sources), on
hand-made image configs."""

from __future__ import annotations

from dockyard.build.cachefrom import CacheSources, continues
from dockyard.build.state import State, config_digest
from dockyard.core.images import Image

BASE_HIST = [{"created": "t0", "created_by": "ADD rootfs"}]


def image(history: list[dict], diff_ids: list[str], run: dict | None = None) -> Image:
    cfg = {"architecture": "amd64", "os": "linux", "config": run or {"Cmd": ["sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}
    layers = [{"mediaType": "x", "digest": "sha256:blob-" + d[-1], "size": 1} for d in diff_ids]
    return Image(config_digest(cfg), "", {"layers": layers}, cfg)


BASE = image(BASE_HIST, ["sha256:d0"])
SOURCE = image(BASE_HIST + [{"created": "t1", "created_by": "ENV A=1", "empty_layer": True},
                            {"created": "t2", "created_by": "RUN make"},
                            {"created": "t3", "created_by": "CMD [x]", "empty_layer": True}],
               ["sha256:d0", "sha256:d2"], {"Cmd": ["x"], "Env": ["A=1"]})


def test_steps_follow_the_source_and_the_last_is_the_source_itself() -> None:
    src = CacheSources([SOURCE])
    s0 = State.from_image(BASE)
    s1 = src.match(s0, "ENV A=1", {"Env": ["A=1"]}, None)
    assert s1 is not None and s1.layers == s0.layers and s1.config["history"][-1]["created"] == "t1"
    assert s1.run == {"Env": ["A=1"]}
    s2 = src.match(s1, "RUN make", None, None)
    assert s2 is not None and s2.diff_ids == ["sha256:d0", "sha256:d2"]
    assert s2.layers[-1]["digest"] == "sha256:blob-2"
    last = src.match(s2, "CMD [x]", {"Cmd": ["x"]}, None)
    assert last is not None and last.identity == SOURCE.id


def test_misses() -> None:
    src = CacheSources([SOURCE])
    s0 = State.from_image(BASE)
    assert src.match(s0, "ENV A=2", None, None) is None  # another instruction
    other_base = State.from_image(image([{"created": "t9", "created_by": "ADD rootfs"}], ["sha256:d0"]))
    assert src.match(other_base, "ENV A=1", None, None) is None  # another history before it
    assert not continues(SOURCE, State.from_image(SOURCE))  # nothing after its last entry
    assert CacheSources([]).match(s0, "ENV A=1", None, None) is None


def test_local_hits_count_only_on_the_way_to_a_source() -> None:
    src = CacheSources([SOURCE])
    s1 = src.match(State.from_image(BASE), "ENV A=1", {"Env": ["A=1"]}, None)
    assert s1 is not None and src.accepts_local(s1)
    elsewhere = State.from_image(BASE).derive("RUN other")
    assert not src.accepts_local(elsewhere)
