"""Images as the daemon serves them: lookups for run, docker's list and
inspect shapes, import and tag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

from .. import errdefs
from ..core.images import Image, ImageService
from ..oci import reference
from .timeutil import parse_rfc3339

if TYPE_CHECKING:
    from .container import Container
    from .daemon import Daemon


class ImageBackend:
    def __init__(self, daemon: "Daemon", service: ImageService) -> None:
        self.d = daemon
        self.service = service

    def resolve_for_run(self, ref: str) -> Image:
        try:
            return self.service.resolve(ref)
        except errdefs.NotFound:
            try:
                shown = reference.familiar(ref)
            except errdefs.InvalidArgument:
                shown = ref
            raise errdefs.NotFound(f"No such image: {shown}") from None

    def display_ref(self, c: "Container") -> str:
        """The IMAGE column: the name the user gave while it still points at
        the container's image, else the image ID."""
        try:
            img = self.service.resolve(c.image_name)
            if img.id == c.image:
                return c.image_name
        except errdefs.EngineError:
            pass
        return c.image[7:19] if c.image.startswith("sha256:") else c.image

    @staticmethod
    def repo_tags(img: Image) -> list[str]:
        tags = []
        for n in img.names:
            if n.startswith("dangling@"):
                continue
            try:
                r = reference.parse(n)
            except errdefs.InvalidArgument:
                continue
            if r.tag:
                tags.append(r.familiar)
        return tags

    @staticmethod
    def repo_digests(img: Image) -> list[str]:
        out = []
        for n in img.names:
            if n.startswith("dangling@"):
                continue
            try:
                r = reference.parse(n)
            except errdefs.InvalidArgument:
                continue
            out.append(f"{r.familiar_name}@{img.manifest_digest}")
        return sorted(set(out))

    def summary(self, img: Image) -> dict[str, Any]:
        cfg = img.config
        containers = sum(1 for c in self.d.containers_store.all() if c.image == img.id)
        return {
            "Id": img.id,
            "ParentId": "",
            "RepoTags": self.repo_tags(img),
            "RepoDigests": self.repo_digests(img),
            "Created": int(parse_rfc3339(cfg.get("created", ""))),
            "Size": self.unpacked_size(img),
            "SharedSize": -1,
            "VirtualSize": self.unpacked_size(img),
            "Labels": (cfg.get("config") or {}).get("Labels") or {},
            "Containers": containers,
        }

    def unpacked_size(self, img: Image) -> int:
        return img.size

    def list(self, all_: bool = False, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        out = []
        for img in self.service.list_images():
            s = self.summary(img)
            if filters:
                if "dangling" in filters:
                    want = filters["dangling"][-1].lower() in ("true", "1")
                    if want != (not s["RepoTags"]):
                        continue
                if "reference" in filters:
                    import fnmatch
                    if not any(fnmatch.fnmatch(t, pat) or fnmatch.fnmatch(t.rsplit(":", 1)[0], pat)
                               for t in s["RepoTags"] for pat in filters["reference"]):
                        continue
                if "label" in filters:
                    labels = s["Labels"]
                    ok = True
                    for w in filters["label"]:
                        k, eq, v = w.partition("=")
                        if k not in labels or (eq and labels[k] != v):
                            ok = False
                    if not ok:
                        continue
            out.append(s)
        out.sort(key=lambda x: x["Created"], reverse=True)
        return out

    def inspect(self, ref: str) -> dict[str, Any]:
        img = self.resolve_for_run(ref)
        cfg = img.config
        return {
            "Id": img.id,
            "RepoTags": self.repo_tags(img),
            "RepoDigests": self.repo_digests(img),
            "Parent": "",
            "Comment": next((h.get("comment", "") for h in reversed(cfg.get("history") or []) if h.get("comment")), ""),
            "Created": cfg.get("created", ""),
            "DockerVersion": "",
            "Author": cfg.get("author", ""),
            "Config": cfg.get("config") or {},
            "Architecture": cfg.get("architecture", ""),
            "Variant": cfg.get("variant"),
            "Os": cfg.get("os", ""),
            "Size": self.unpacked_size(img),
            "VirtualSize": self.unpacked_size(img),
            "GraphDriver": {"Name": "overlay2", "Data": None},
            "RootFS": {"Type": "layers", "Layers": img.diff_ids},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }

    def import_image(self, stream: BinaryIO, repo: str, tag: str, changes: list[str], message: str,
                     platform: str) -> Image:
        from .dockerfile_changes import apply_changes
        refs = []
        if repo:
            r = reference.parse(repo, default_tag=False)
            if r.digest:
                raise errdefs.InvalidArgument("cannot import digest reference")
            refs.append(str(r.with_tag(tag or r.tag or "latest")))
        config = apply_changes({}, changes)
        os_, _, arch = (platform or "linux/amd64").partition("/")
        img = self.service.import_rootfs(stream, refs, config, message, "-", (os_ or "linux", arch or "amd64"))
        self.d.events.publish("image", "import", img.id, {})
        return img

    def tag(self, ref: str, repo: str, tag: str) -> None:
        img = self.resolve_for_run(ref)
        r = reference.parse(repo, default_tag=False)
        if r.digest:
            raise errdefs.InvalidArgument("refusing to create a tag with a digest reference")
        name = str(r.with_tag(tag or r.tag or "latest"))
        self.service.tag(img, name)
        self.d.events.publish("image", "tag", img.id, {"name": reference.familiar(name)})
