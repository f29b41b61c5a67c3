"""Layer application: hostile entries are refused. Runs without root (no
device nodes, no chown) except where marked."""

import io
import os
import tarfile

import pytest

from dockyard.core.archive import LayerError, apply_layer


def make_tar(entries) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            kind = e.get("type", "file")
            data = e.get("data", b"")
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e["target"]
                tf.addfile(ti)
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e["target"]
                tf.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = e.get("mode", 0o644)
                tf.addfile(ti, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_regular_files_dirs_links(tmp_path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    apply_layer(str(root), make_tar([
        {"name": "etc", "type": "dir"},
        {"name": "etc/conf", "data": b"x=1\n", "mode": 0o600},
        {"name": "etc/link", "type": "symlink", "target": "/etc/conf"},
        {"name": "etc/hard", "type": "hardlink", "target": "etc/conf"},
    ]), same_owner=False)
    assert (root / "etc/conf").read_bytes() == b"x=1\n"
    assert oct((root / "etc/conf").stat().st_mode & 0o777) == "0o600"
    assert os.readlink(root / "etc/link") == "/etc/conf"
    assert (root / "etc/hard").stat().st_ino == (root / "etc/conf").stat().st_ino


@pytest.mark.parametrize("entries", [
    [{"name": "../escape", "data": b"x"}],
    [{"name": "a/../../escape", "data": b"x"}],
    [{"name": "link", "type": "symlink", "target": "/"}, {"name": "link/etc/escape", "data": b"x"}],
    [{"name": "up", "type": "symlink", "target": "../../.."}, {"name": "up/escape", "data": b"x"}],
    [{"name": "hl", "type": "hardlink", "target": "../../etc/passwd"}],
])
def test_hostile_layers_rejected(tmp_path, entries) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside_before = set(os.listdir(tmp_path))
    with pytest.raises(LayerError):
        apply_layer(str(root), make_tar(entries), same_owner=False)
    assert set(os.listdir(tmp_path)) == outside_before
    assert not (tmp_path / "escape").exists()


def test_symlink_target_is_never_followed_when_writing(tmp_path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"safe")
    apply_layer(str(root), make_tar([
        {"name": "f", "type": "symlink", "target": str(victim)},
        {"name": "f", "data": b"overwritten"},
    ]), same_owner=False)
    assert victim.read_bytes() == b"safe"
    assert (root / "f").read_bytes() == b"overwritten"


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts are 0:0 character devices (CAP_MKNOD)")
def test_whiteouts_become_overlay_whiteouts(tmp_path) -> None:
    import stat
    root = tmp_path / "root"
    root.mkdir()
    apply_layer(str(root), make_tar([
        {"name": "dir", "type": "dir"},
        {"name": "dir/.wh..wh..opq", "data": b""},
        {"name": ".wh.gone", "data": b""},
    ]))
    st = os.lstat(root / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(root / "dir", "trusted.overlay.opaque") == b"y"


def test_files_replace_entries_and_create_parents(tmp_path) -> None:
    """Regular files take the one-call path (openat2 beneath the root) when
    they can, and the general one otherwise: missing parents are created,
    an earlier entry of the same name (file, symlink, directory) replaced."""
    root = tmp_path / "root"
    root.mkdir()
    apply_layer(str(root), make_tar([
        {"name": "a/b/c/new", "data": b"deep", "mode": 0o640},
        {"name": "a/b/c/new", "data": b"again"},
        {"name": "tree/x", "data": b"x"},
        {"name": "tree", "data": b"now a file"},
        {"name": "s", "type": "symlink", "target": "/etc/passwd"},
        {"name": "s", "data": b"not through the link"},
    ]), same_owner=False)
    assert (root / "a/b/c/new").read_bytes() == b"again"
    assert (root / "tree").read_bytes() == b"now a file"
    assert not os.path.islink(root / "s") and (root / "s").read_bytes() == b"not through the link"
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert names == ["a", "a/b", "a/b/c", "a/b/c/new", "s", "tree"]


def test_fast_header_decoder_agrees_with_tarfile() -> None:
    """Every header (plain, GNU long names, base-256 numbers, ustar prefixes,
    damaged ones) decodes to the same fields, or fails the same way."""
    import random

    from dockyard.core.archive import _FastTarInfo
    fields = ("name", "mode", "uid", "gid", "size", "mtime", "chksum", "type", "linkname", "uname", "gname",
              "devmajor", "devminor")

    def decode(cls, buf):
        try:
            ti = cls.frombuf(buf, "utf-8", "surrogateescape")
        except Exception as e:  # noqa: BLE001 - the kind of failure is what is compared
            return type(e)
        return tuple(getattr(ti, f) for f in fields)

    headers = []
    for fmt in (tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
            for k in range(20):
                ti = tarfile.TarInfo(("p" * 120 + "/" if k % 2 else "") + f"dir{k}/é{k}")
                ti.size, ti.mtime = 1, (-5 if k % 3 == 0 and fmt != tarfile.USTAR_FORMAT else 1700000000)
                ti.uid = 10 ** 9 if k % 4 == 0 and fmt == tarfile.GNU_FORMAT else 1000
                ti.type = [tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.SYMTYPE, tarfile.DIRTYPE][k % 4]
                ti.linkname = "target" if ti.type == tarfile.SYMTYPE else ""
                tf.addfile(ti, io.BytesIO(b"z") if ti.isreg() else None)
        raw = buf.getvalue()
        headers += [raw[i:i + 512] for i in range(0, len(raw), 512)]
    rnd = random.Random(4)
    for _ in range(400):
        b = bytearray(rnd.choice(headers))
        for _ in range(rnd.randint(1, 3)):
            b[rnd.randrange(512)] = rnd.randrange(256)
        headers.append(bytes(b))
    headers += [b"", b"\0" * 512, b"x" * 100]
    for h in headers:
        assert decode(_FastTarInfo, h) == decode(tarfile.TarInfo, h)
