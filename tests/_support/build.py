"""Helpers for build tests: contexts as tarballs, builds through the API,
and reading what an image's layers hold straight from the content store."""

from __future__ import annotations

import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from typing import Any

from . import leaks


def context_tar(files: dict[str, bytes | str | None], mtime: int = 1_600_000_000) -> bytes:
    """name -> content (str is encoded; None makes a directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.mtime = mtime
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
                continue
            raw = data.encode() if isinstance(data, str) else data
            ti.size, ti.mode = len(raw), 0o755 if name.endswith(".sh") else 0o644
            tf.addfile(ti, io.BytesIO(raw))
    return buf.getvalue()


@dataclass
class Result:
    status: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""  # errorDetail or the HTTP error message
    code: int | None = None
    image_id: str = ""

    @property
    def text(self) -> str:
        return "".join(m.get("stream", "") for m in self.messages)

    @property
    def cached_steps(self) -> int:
        return self.text.count(" ---> Using cache\n")

    @property
    def runs(self) -> int:
        return self.text.count(" ---> Running in ")


def build(daemon, files: dict[str, bytes | str | None] | bytes, **query: Any) -> Result:
    body = files if isinstance(files, bytes) else context_tar(files)
    q = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in query.items() if v is not None}
    api = daemon.client()
    try:
        resp = api.request("POST", "/build", q, body=body, headers={"Content-Type": "application/x-tar"})
    except Exception as e:  # an HTTP error before the stream started
        return Result(getattr(e, "status", 0), error=getattr(e, "message", str(e)))
    res = Result(resp.status)
    for line in resp.iter_lines():
        msg = json.loads(line)
        res.messages.append(msg)
        if "errorDetail" in msg:
            res.error = msg["errorDetail"].get("message", "")
            res.code = msg["errorDetail"].get("code")
        if isinstance(msg.get("aux"), dict) and msg["aux"].get("ID"):
            res.image_id = msg["aux"]["ID"]
    return res


def image_config(daemon, ref: str) -> dict[str, Any]:
    image_id = daemon.client().image_inspect(ref)["Id"]
    with open(blob_path(daemon, image_id), "rb") as f:
        return json.load(f)


def blob_path(daemon, digest: str) -> str:
    return os.path.join(daemon.data_root, "content", "blobs", "sha256", digest.split(":", 1)[1])


def image_files(daemon, ref: str) -> dict[str, bytes | str | None]:
    """The image's filesystem from its layers (whiteouts applied): path ->
    file content, symlink target ('-> x') or None for directories. Reads the
    uncompressed layers a build stores; base layers are read too."""
    image_id = daemon.client().image_inspect(ref)["Id"]
    with open(os.path.join(daemon.data_root, "image", "images.json")) as f:
        target = json.load(f)["images"][image_id]["target"]
    with open(blob_path(daemon, target["digest"]), "rb") as f:
        manifest = json.load(f)
    fs: dict[str, bytes | str | None] = {}
    for layer in manifest["layers"]:
        with tarfile.open(blob_path(daemon, layer["digest"])) as tf:
            for m in tf:
                name = m.name.rstrip("/")
                base = os.path.basename(name)
                parent = os.path.dirname(name)
                if base == ".wh..wh..opq":
                    for k in [k for k in fs if k.startswith(parent + "/")]:
                        del fs[k]
                    continue
                if base.startswith(".wh."):
                    gone = os.path.join(parent, base[4:])
                    for k in [k for k in fs if k == gone or k.startswith(gone + "/")]:
                        del fs[k]
                    continue
                if m.isdir():
                    fs[name] = None
                elif m.issym():
                    fs[name] = "-> " + m.linkname
                elif m.islnk():
                    fs[name] = fs.get(m.linkname.rstrip("/"))
                else:
                    f = tf.extractfile(m)
                    fs[name] = f.read() if f else b""
    return fs


def leftovers(daemon) -> list[str]:
    return leaks.build_leftovers(daemon.data_root, daemon.exec_root)


def layer_members(daemon, ref: str, index: int = -1) -> dict[str, "tarfile.TarInfo"]:
    """The tar entries (with owners and modes) of one of the image's layers."""
    image_id = daemon.client().image_inspect(ref)["Id"]
    with open(os.path.join(daemon.data_root, "image", "images.json")) as f:
        target = json.load(f)["images"][image_id]["target"]
    with open(blob_path(daemon, target["digest"]), "rb") as f:
        layer = json.load(f)["layers"][index]
    with tarfile.open(blob_path(daemon, layer["digest"])) as tf:
        return {m.name.rstrip("/"): m for m in tf.getmembers()}
