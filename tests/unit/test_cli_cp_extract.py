"""`dockyard cp` from a container extracts the daemon's tar with the checks
of tarfile's "tar" filter, on every interpreter the CLI's launcher may run:
Python 3.11.4+ has the filter, Debian 12's 3.11.2 gets cp.py's own."""

import io
import os
import subprocess
import sys
import tarfile

import pytest

INTERPRETERS = [sys.executable] + [p for p in ("/usr/bin/python3.11",) if os.access(p, os.X_OK)]
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__import__("dockyard").__file__)))

PROBE = """
import sys, tarfile
sys.path.insert(0, sys.argv[1])
from dockyard.cli.commands.cp import _extract, _Refused
with tarfile.open(sys.argv[2]) as tf:
    for m in tf.getmembers():
        name = m.name
        try:
            _extract(tf, m, sys.argv[3])
            print("ok", name)
        except _Refused as e:
            print("refused", name, "|", e)
print("tar_filter" if hasattr(tarfile, "tar_filter") else "own checks")
"""


def _archive(path: str) -> None:
    with tarfile.open(path, "w") as tf:
        def add(name: str, mode: int = 0o644, kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
            ti = tarfile.TarInfo(name)
            ti.mode, ti.type, ti.linkname = mode, kind, link
            data = b"" if kind != tarfile.REGTYPE else b"x"
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        add("plain")
        add("setuid", 0o6777)
        add("/abs")
        add("../escape")
        add("sub/../../escape2")
        add("link", kind=tarfile.SYMTYPE, link="/")
        add("link/through")


@pytest.mark.parametrize("python", INTERPRETERS)
def test_extract_refuses_what_escapes_and_strips_high_mode_bits(python: str, tmp_path) -> None:
    archive = str(tmp_path / "a.tar")
    _archive(archive)
    dest = tmp_path / "dest"
    dest.mkdir()
    out = subprocess.run([python, "-IS", "-c", PROBE, SRC, archive, str(dest)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    verdicts = {line.split()[1]: line.split()[0] for line in lines[:-1]}
    assert verdicts == {"plain": "ok", "setuid": "ok", "/abs": "ok", "../escape": "refused",
                        "sub/../../escape2": "refused", "link": "ok", "link/through": "refused"}, lines
    assert (dest / "abs").is_file()  # the leading slash stripped, as tar does
    assert os.stat(dest / "setuid").st_mode & 0o7777 == 0o755
    assert not (tmp_path / "escape").exists() and not (tmp_path / "escape2").exists()
    assert any("outside the destination" in line for line in lines if line.startswith("refused"))
