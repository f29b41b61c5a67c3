"""COPY/ADD's created_by names sources by docker's file hashes; the values
here are what dockerd 20.10's classic builder wrote for the same files."""

from __future__ import annotations

from dockyard.build import copy as cp
from dockyard.build.context import DIR, FILE


def test_a_file_hash_is_dockers() -> None:
    # `COPY f.txt .` with f.txt = "one\n", mode 0644, owned by 0:0 (as docker's CLI sends it)
    src = cp.from_bytes("f.txt", b"one\n", 0o644, 1_600_000_000)
    assert src.docker_hash() == "file:46e6f95d28f51bd1edd0c48088a122aa657e16813267892b1590cfa3c152bfdd"


def test_times_do_not_count_and_modes_do() -> None:
    a = cp.from_bytes("f.txt", b"one\n", 0o644, 1)
    b = cp.from_bytes("f.txt", b"one\n", 0o644, 2)
    c = cp.from_bytes("f.txt", b"one\n", 0o755, 1)
    assert a.docker_hash() == b.docker_hash() != c.docker_hash()


def test_a_directory_hashes_what_it_holds_and_itself() -> None:
    def tree(path: str) -> cp.Source:
        return cp.Source("d", True, [cp.Item("", DIR, 0o755, 0, 0, 0),
                                     cp.Item("x", FILE, 0o644, 0, 0, 0, 1, data=b"x")], path=path)
    assert tree("d").docker_hash().startswith("dir:")
    assert tree("d").docker_hash() != tree("").docker_hash()  # the context root itself is left out


def test_a_file_hash_from_a_stage_is_dockers() -> None:
    # `COPY --from=gen /out/d/f /f`: a file in a stage's tree hashes as Go's FileInfoHeader
    # sees it (mode with its type bits, owner names looked up: uid 0 is root everywhere)
    src = cp.Source("f", False, [cp.Item("", FILE, 0o4755, 0, 0, 0, 2, data=b"x\n")], path="out/d/f", on_disk=True)
    assert src.docker_hash() == "file:0b074b2ee117051b27bd028e33b7f33783039e02c43bb530f74905063ffade92"


def test_a_hard_link_in_the_context_hashes_as_a_link() -> None:
    # `COPY h.txt /h` where the tar has h.txt as a hard link to a.txt ("hello\n")
    item = cp.Item("", FILE, 0o644, 0, 0, 0, 6, data=b"hello\n", hardlink_to="a.txt")
    src = cp.Source("h.txt", False, [item], path="h.txt")
    assert src.docker_hash() == "file:61b2f4002722d9729020de30cd8762fccfe8180b59cb6f22925664663645672e"
