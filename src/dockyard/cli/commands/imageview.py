"""How an image looks in `images` (and `system df -v`): its rows, table
columns and template fields (docker's formatter.imageContext). Apart from
imagelist.py so that `images` loads it, with the formatting modules, while
the daemon answers."""

from __future__ import annotations

from ..format import Context, ago, human_size, local_time, trunc_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ImageContext(Context):
    """One row of `images` (and of `system df -v`), docker's imageContext."""

    template_type = "*formatter.imageContext"
    FIELDS = ("Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag",
              "UniqueSize", "VirtualSize")
    HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
               "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
               "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}

    def __init__(self, img: dict[str, Any], repo: str, tag: str, digest: str, trunc: bool = True) -> None:
        self.i = img
        self.Repository = repo
        self.Tag = tag
        self.Digest = digest
        self.trunc = trunc

    def _n(self, key: str) -> int:
        v = self.i.get(key)
        return -1 if v is None else int(v)

    @property
    def ID(self) -> str:  # noqa: N802 - docker's template field names
        return trunc_id(self.i.get("Id", "")) if self.trunc else self.i.get("Id", "")

    @property
    def CreatedSince(self) -> str:  # noqa: N802
        return ago(self.i.get("Created", 0))

    @property
    def CreatedAt(self) -> str:  # noqa: N802
        return local_time(self.i.get("Created", 0))

    @property
    def Size(self) -> str:  # noqa: N802
        return human_size(self._n("Size"), 3)

    @property
    def VirtualSize(self) -> str:  # noqa: N802
        return human_size(self._n("Size"))

    @property
    def Containers(self) -> str:  # noqa: N802
        n = self._n("Containers")
        return "N/A" if n == -1 else str(n)

    @property
    def SharedSize(self) -> str:  # noqa: N802
        n = self._n("SharedSize")
        return "N/A" if n == -1 else human_size(n)

    @property
    def UniqueSize(self) -> str:  # noqa: N802
        size, shared = self._n("Size"), self._n("SharedSize")
        return "N/A" if size == -1 or shared == -1 else human_size(size - shared)


def _name_and_tag(ref: str) -> tuple[str, str] | None:
    """A RepoTags entry as (familiar name, tag); None for "<none>:<none>"."""
    name, _, tag = ref.rpartition(":")
    if not name or not tag or "/" in tag or name.startswith("<"):
        return None
    return name, tag


def is_dangling(img: dict[str, Any]) -> bool:
    tags, digests = img.get("RepoTags") or [], img.get("RepoDigests") or []
    return (not tags and not digests) or (tags == ["<none>:<none>"] and digests == ["<none>@<none>"])


def image_rows(img: dict[str, Any], trunc: bool, show_digests: bool, need_digest: bool) -> list[ImageContext]:
    """docker's imageFormat: a row per repository and tag (per digest too
    when digests are shown), then rows for repositories known only by digest."""
    if is_dangling(img):
        return [ImageContext(img, "<none>", "<none>", "<none>", trunc)]
    tags: dict[str, list[str]] = {}
    for ref in img.get("RepoTags") or []:
        parsed = _name_and_tag(ref)
        if parsed:
            tags.setdefault(parsed[0], []).append(parsed[1])
    digests: dict[str, list[str]] = {}
    for ref in img.get("RepoDigests") or []:
        name, at, digest = ref.partition("@")
        if at and name and ":" in digest and not name.startswith("<"):
            digests.setdefault(name, []).append(digest)
    rows = []
    for repo, repo_tags in tags.items():
        repo_digests = digests.pop(repo, [])  # a tagged repository's digests get no rows of their own
        if not need_digest:
            repo_digests = []
        for tag in repo_tags:
            rows += [ImageContext(img, repo, tag, d, trunc) for d in repo_digests] or \
                [ImageContext(img, repo, tag, "<none>", trunc)]
    for repo, repo_digests in digests.items():
        if show_digests:
            rows += [ImageContext(img, repo, "<none>", d, trunc) for d in repo_digests]
        else:
            rows.append(ImageContext(img, repo, "<none>", "", trunc))
    return rows
