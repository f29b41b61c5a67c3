import os

import pytest

from dockyard.core.content import ContentStore
from dockyard.errdefs import InvalidArgument, NotFound
from dockyard.oci.digest import sha256_digest


def test_write_read_verify(tmp_path) -> None:
    cs = ContentStore(str(tmp_path))
    info = cs.write_blob(b"hello")
    assert info.digest == sha256_digest(b"hello") and info.size == 5
    assert cs.read_blob(info.digest) == b"hello"
    assert cs.has(info.digest)


def test_commit_rejects_wrong_digest_and_leaves_nothing(tmp_path) -> None:
    cs = ContentStore(str(tmp_path))
    w = cs.writer("ref1")
    w.write(b"data")
    with pytest.raises(InvalidArgument):
        w.commit("sha256:" + "0" * 64)
    assert list(cs.walk()) == []
    assert os.listdir(os.path.join(str(tmp_path), "ingest")) == []


def test_resume_ingest(tmp_path) -> None:
    cs = ContentStore(str(tmp_path))
    w = cs.writer("resumable")
    w.write(b"abc")
    w._f.close()
    w2 = cs.writer("resumable")
    assert w2.offset == 3
    w2.write(b"def")
    info = w2.commit(sha256_digest(b"abcdef"), 6)
    assert cs.read_blob(info.digest) == b"abcdef"


def test_corrupt_blob_detected_on_read(tmp_path) -> None:
    cs = ContentStore(str(tmp_path))
    info = cs.write_blob(b"original")
    with open(cs.blob_path(info.digest), "wb") as f:
        f.write(b"tampered")
    with pytest.raises(InvalidArgument):
        cs.read_blob(info.digest)


def test_missing(tmp_path) -> None:
    cs = ContentStore(str(tmp_path))
    with pytest.raises(NotFound):
        cs.read_blob("sha256:" + "1" * 64)
