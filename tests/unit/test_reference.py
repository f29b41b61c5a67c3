import pytest

from dockyard.errdefs import InvalidArgument
from dockyard.oci import reference


@pytest.mark.parametrize("ref, full, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("user/app", "docker.io/user/app:latest", "user/app:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
    ("localhost/app:v1", "localhost/app:v1", "localhost/app:v1"),
    ("quay.io/org/img:tag", "quay.io/org/img:tag", "quay.io/org/img:tag"),
    ("index.docker.io/library/alpine", "docker.io/library/alpine:latest", "alpine:latest"),
    ("127.0.0.1:5000/a/b/c:1", "127.0.0.1:5000/a/b/c:1", "127.0.0.1:5000/a/b/c:1"),
])
def test_normalize(ref: str, full: str, familiar: str) -> None:
    r = reference.parse(ref)
    assert str(r) == full
    assert r.familiar == familiar


def test_digest_reference_keeps_no_default_tag() -> None:
    d = "sha256:" + "a" * 64
    r = reference.parse(f"busybox@{d}")
    assert r.digest == d and r.tag == ""
    assert str(r) == f"docker.io/library/busybox@{d}"


@pytest.mark.parametrize("bad", ["", "Upper", "a:b:c", "busybox@sha256:xyz!", "-leading", "a" * 64])
def test_invalid(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        reference.parse(bad)
