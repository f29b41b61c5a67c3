"""Images as the daemon serves them: lookups for run, docker's list,
inspect and history shapes, pull/push/login through the registry client,
docker's delete semantics (untag, conflicts with containers), prune,
save/load and import."""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from .. import errdefs
from ..core import distribution, imagearchive
from ..core.images import Image, ImageService, is_digest_ref
from ..oci import reference
from ..registry.client import AuthConfig
from .filters import labels_match
from .timeutil import parse_rfc3339, parse_time_filter

if TYPE_CHECKING:
    from .container import Container
    from .daemon import Daemon

Emit = Callable[[dict[str, Any]], None]


class ImageBackend:
    def __init__(self, daemon: "Daemon", service: ImageService) -> None:
        self.d = daemon
        self.service = service
        self.loop: asyncio.AbstractEventLoop | None = None
        service.extra_roots = self._container_images

    def _container_images(self) -> set[str]:
        return {c.image for c in self.d.containers_store.all()}

    def _event(self, action: str, actor: str, attrs: dict[str, str] | None = None) -> None:
        """Publish from any thread: the event bus lives on the loop."""
        try:
            asyncio.get_running_loop()
            self.d.events.publish("image", action, actor, attrs or {})
            return
        except RuntimeError:
            pass
        if self.loop is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.d.events.publish, "image", action, actor, attrs or {})
        else:
            self.d.events.publish("image", action, actor, attrs or {})

    def insecure(self, host: str) -> bool:
        for entry in self.d.config.insecure_registries:
            if entry == host:
                return True
            try:
                net = ipaddress.ip_network(entry, strict=False)
                if ipaddress.ip_address(host.rsplit(":", 1)[0].strip("[]")) in net:
                    return True
            except ValueError:
                continue
        return False

    # -- lookups ----------------------------------------------------------------------
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
        return [reference.parse(n).familiar for n in img.tags]

    @staticmethod
    def repo_digests(img: Image) -> list[str]:
        out = [reference.parse(n).familiar for n in img.digest_refs]
        return sorted(set(out))

    def _users(self, image_id: str) -> list["Container"]:
        return [c for c in self.d.containers_store.all() if c.image == image_id]

    def summary(self, img: Image, children: set[str] | None = None) -> dict[str, Any]:
        cfg = img.config
        size = self.service.unpacked_size(img) or img.size
        tags, digests = self.repo_tags(img), self.repo_digests(img)
        if not tags and not digests:
            tags, digests = ["<none>:<none>"], ["<none>@<none>"]
        return {
            "Id": img.id,
            "ParentId": img.parent,
            "RepoTags": tags,
            "RepoDigests": digests,
            "Created": int(parse_rfc3339(cfg.get("created", "") or img.created)),
            "Size": size,
            "SharedSize": -1,
            "VirtualSize": size,
            "Labels": (cfg.get("config") or {}).get("Labels") or {},
            "Containers": len(self._users(img.id)),
        }

    def unpacked_size(self, img: Image) -> int:
        return self.service.unpacked_size(img) or img.size

    def list(self, all_: bool = False, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        for key in filters:
            if key not in ("dangling", "reference", "label", "before", "since", "until"):
                raise errdefs.InvalidArgument(f"invalid filter '{key}'")
        images = self.service.list_images()
        has_children = {i.parent for i in images if i.parent}
        dangling_only = None
        if "dangling" in filters:
            v = filters["dangling"][-1].lower()
            if v not in ("true", "false", "1", "0"):
                raise errdefs.InvalidArgument(f"invalid filter 'dangling={filters['dangling'][-1]}'")
            dangling_only = v in ("true", "1")
        bounds = {k: self.service.resolve(filters[k][-1]) for k in ("before", "since") if k in filters}
        out = []
        for img in images:
            if img.dangling and not all_ and img.id in has_children:
                continue  # an intermediate image of a build
            if dangling_only is not None and dangling_only != img.dangling:
                continue
            if "reference" in filters:
                names = [reference.parse(n) for n in img.tags + img.digest_refs]
                shown = [n.familiar_name + (":" + n.tag if n.tag else "") for n in names]
                if not any(fnmatch.fnmatch(t, pat) or fnmatch.fnmatch(t.rsplit(":", 1)[0], pat)
                           for t in shown for pat in filters["reference"]):
                    continue
            created = parse_rfc3339(img.config.get("created", "") or img.created)
            if "before" in filters and created >= parse_rfc3339(bounds["before"].config.get("created", "")):
                continue
            if "since" in filters and created <= parse_rfc3339(bounds["since"].config.get("created", "")):
                continue
            if "until" in filters and created >= _until(filters["until"][-1]):
                continue
            if "label" in filters and not _labels_match((img.config.get("config") or {}).get("Labels") or {},
                                                        filters["label"]):
                continue
            out.append(self.summary(img))
        out.sort(key=lambda x: x["Created"], reverse=True)
        return out

    def inspect(self, ref: str) -> dict[str, Any]:
        img = self.resolve_for_run(ref)
        cfg = img.config
        size = self.unpacked_size(img)
        return {
            "Id": img.id,
            "RepoTags": self.repo_tags(img),
            "RepoDigests": self.repo_digests(img),
            "Parent": img.parent,
            "Comment": next((h.get("comment", "") for h in reversed(cfg.get("history") or []) if h.get("comment")), ""),
            "Created": cfg.get("created", "") or img.created,
            "Container": cfg.get("container", ""),
            "ContainerConfig": full_container_config(cfg.get("container_config")),
            "DockerVersion": cfg.get("docker_version", ""),
            "Author": cfg.get("author", ""),
            "Config": full_container_config(cfg.get("config")),
            "Architecture": cfg.get("architecture", ""),
            "Variant": cfg.get("variant") or None,
            "Os": cfg.get("os", ""),
            "OsVersion": cfg.get("os.version", ""),
            "Size": size,
            "VirtualSize": size,
            "GraphDriver": {"Name": "overlay2", "Data": self._graph_data(img)},
            "RootFS": {"Type": "layers", "Layers": img.diff_ids},
            "Metadata": {"LastTagTime": img.last_tag_time or "0001-01-01T00:00:00Z"},
            "Descriptor": {"mediaType": img.media_type, "digest": img.manifest_digest,
                           "size": self.service.content.info(img.manifest_digest).size
                           if self.service.content.has(img.manifest_digest) else 0},
        }

    def _graph_data(self, img: Image) -> dict[str, str] | None:
        from ..core.images import chain_ids
        dirs = []
        for chain in reversed(chain_ids(img.diff_ids)):
            try:
                dirs.append(self.service.snapshotter.dir(chain))
            except errdefs.NotFound:
                return None
        if not dirs:
            return None
        return {"LowerDir": ":".join(dirs[1:]), "UpperDir": dirs[0]} if len(dirs) > 1 else {"UpperDir": dirs[0]}

    def history(self, ref: str) -> list[dict[str, Any]]:
        img = self.resolve_for_run(ref)
        sizes = self.service.layer_sizes(img)
        out = []
        layer = 0
        for h in img.config.get("history") or []:
            size = 0
            if not h.get("empty_layer"):
                size = sizes[layer] if layer < len(sizes) else 0
                layer += 1
            out.append({"Id": "<missing>", "Created": int(parse_rfc3339(h.get("created", ""))),
                        "CreatedBy": h.get("created_by", ""), "Tags": None, "Size": size,
                        "Comment": h.get("comment", "")})
        if not out:
            out = [{"Id": "<missing>", "Created": int(parse_rfc3339(img.config.get("created", ""))),
                    "CreatedBy": "", "Tags": None, "Size": sum(sizes), "Comment": ""}]
        out.reverse()
        out[0]["Id"] = img.id
        out[0]["Tags"] = self.repo_tags(img) or None
        return out

    # -- tags and deletion ---------------------------------------------------------------
    def tag(self, ref: str, repo: str, tag: str) -> None:
        img = self.resolve_for_run(ref)
        if not repo:
            raise errdefs.InvalidArgument("repository name must have at least one component")
        r = reference.parse(repo, default_tag=False)
        if r.digest:
            raise errdefs.InvalidArgument("refusing to create a tag with a digest reference")
        name = str(r.with_tag(tag or r.tag or "latest"))
        self.service.tag(img, name)
        self._event("tag", img.id, {"name": reference.familiar(name)})

    def delete(self, ref: str, force: bool = False, prune: bool = True) -> list[dict[str, str]]:
        """docker rmi: untag by name (deleting the image once nothing else
        refers to it), or delete by ID; conflicts with containers are 409s."""
        svc = self.service
        with svc.lock:
            img = self.resolve_for_run(ref)
            records: list[dict[str, str]] = []
            by_id = _is_id_ref(ref, img.id)
            repo_refs = list(img.names)
            if not by_id:
                named = self._named(ref, img)
                if not force and _single_repository(repo_refs):
                    users = self._users(img.id)
                    if users:
                        raise errdefs.Conflict(
                            f"conflict: unable to remove repository reference \"{ref}\" (must force) - container "
                            f"{users[0].id[:12]} is using its referenced image {img.id[7:19]}")
                svc.untag(named)
                records.append({"Untagged": reference.parse(named).familiar})
                self._event("untag", img.id, {"name": reference.parse(named).familiar})
                remaining = [n for n in repo_refs if n != named]
                if not is_digest_ref(named):
                    # The last tag of a repository takes the repository's digest references along.
                    name_only = reference.parse(named).name
                    if not any(not is_digest_ref(n) and reference.parse(n).name == name_only for n in remaining):
                        for n in list(remaining):
                            if is_digest_ref(n) and reference.parse(n).name == name_only:
                                svc.untag(n)
                                records.append({"Untagged": reference.parse(n).familiar})
                                remaining.remove(n)
                if remaining:
                    return records
            elif repo_refs:
                if len(repo_refs) > 1 and not _single_repository(repo_refs) and not force:
                    raise errdefs.Conflict(f"conflict: unable to delete {img.id[7:19]} (must be forced) - image is "
                                           f"referenced in multiple repositories")
                self._check_conflicts(img, force, by_id=True)
                for n in repo_refs:
                    svc.untag(n)
                    records.append({"Untagged": reference.parse(n).familiar})
                    self._event("untag", img.id, {"name": reference.parse(n).familiar})
            self._check_conflicts(img, force, by_id=by_id)
            if svc.children(img.id):
                raise errdefs.Conflict(f"conflict: unable to delete {img.id[7:19]} (cannot be forced) - image has "
                                       f"dependent child images")
            parent = img.parent
            _, freed = svc.delete(img.id)
            records.append({"Deleted": img.id})
            records.extend({"Deleted": c} for c in freed.snapshots)
            self._event("delete", img.id)
            if prune and parent:
                try:
                    p = svc.get(parent)
                    if p.dangling and not svc.children(parent) and not self._users(parent):
                        records.extend(self.delete(parent, False, True))
                except errdefs.EngineError:
                    pass
            return records

    def _named(self, ref: str, img: Image) -> str:
        r = reference.parse(ref)
        name = str(r)
        if name in img.names:
            return name
        if r.digest:
            for n in img.digest_refs:
                if reference.parse(n).name == r.name:
                    return n
        raise errdefs.NotFound(f"No such image: {ref}")

    def _check_conflicts(self, img: Image, force: bool, by_id: bool) -> None:
        users = self._users(img.id)
        running = [c for c in users if c.is_running()]
        if running:
            raise errdefs.Conflict(f"conflict: unable to delete {img.id[7:19]} (cannot be forced) - image is being "
                                   f"used by running container {running[0].id[:12]}")
        if users and not force:
            raise errdefs.Conflict(f"conflict: unable to delete {img.id[7:19]} (must be forced) - image is being "
                                   f"used by stopped container {users[0].id[:12]}")

    def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        filters = filters or {}
        for key in filters:
            if key not in ("dangling", "until", "label", "label!"):
                raise errdefs.InvalidArgument(f"invalid filter '{key}'")
        dangling_only = True
        if "dangling" in filters:
            dangling_only = filters["dangling"][-1].lower() in ("true", "1")
        deleted: list[dict[str, str]] = []
        reclaimed = 0
        svc = self.service
        with svc.lock:
            before = svc.usage()
            used = self._container_images()
            for img in svc.list_images():
                if img.id in used or svc.children(img.id):
                    continue
                if dangling_only and not img.dangling:
                    continue
                created = parse_rfc3339(img.config.get("created", "") or img.created)
                if "until" in filters and created >= _until(filters["until"][-1]):
                    continue
                labels = (img.config.get("config") or {}).get("Labels") or {}
                if "label" in filters and not _labels_match(labels, filters["label"]):
                    continue
                if "label!" in filters and _labels_match(labels, filters["label!"], any_=True):
                    continue
                for n in img.names:
                    deleted.append({"Untagged": reference.parse(n).familiar})
                names, freed = svc.delete(img.id)
                deleted.append({"Deleted": img.id})
                deleted.extend({"Deleted": c} for c in freed.snapshots)
                self._event("delete", img.id)
            freed = svc.gc()
            deleted.extend({"Deleted": c} for c in freed.snapshots)
            svc.content.expire_ingests()
            after = svc.usage()
            reclaimed = max(0, before["blobs"] + before["layers"] - after["blobs"] - after["layers"])
        self._event("prune", "", {"reclaimed": str(reclaimed)})
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # -- import, pull, push, login --------------------------------------------------------
    def import_image(self, stream: BinaryIO, repo: str, tag: str, changes: list[str], message: str,
                     platform: str) -> Image:
        from ..oci import platform as platforms
        from .dockerfile_changes import apply_changes
        refs = []
        if repo:
            r = reference.parse(repo, default_tag=False)
            if r.digest:
                raise errdefs.InvalidArgument("cannot import digest reference")
            refs.append(str(r.with_tag(tag or r.tag or "latest")))
        config = apply_changes({}, changes)
        plat = platforms.parse(platform) if platform else platforms.normalize("linux", "amd64")
        img = self.service.import_rootfs(stream, refs, config, message, "-", (plat.os, plat.architecture))
        self._event("import", img.id)
        return img

    def pull(self, image: str, tag: str, platform: str, auth: AuthConfig | None, emit: Emit,
             cancel: distribution.Cancel | None = None) -> Image | None:
        """Pull image[:tag]; with neither a tag nor a digest, every tag of
        the repository (the API's meaning of an empty tag). cancel.set()
        stops it, leaving the store as it was."""
        r = reference.parse(image, default_tag=False)
        if tag or r.tag or r.digest:
            refs = [_join(image, tag)]
        else:
            refs = [str(r.with_tag(t)) for t in distribution.list_tags(str(r), auth, self.insecure)]
        img = None
        for ref in refs:
            if cancel is not None and cancel.is_set():
                raise distribution.Cancelled()
            img = distribution.pull(self.service, ref, emit, auth, platform, self.insecure, cancel)
            self._event("pull", reference.parse(ref).familiar)
        return img

    def push(self, name: str, tag: str, auth: AuthConfig | None, emit: Emit,
             cancel: distribution.Cancel | None = None) -> None:
        """cancel.set() stops the push (uploads cut, sessions deleted)."""
        r = reference.parse(name, default_tag=False)
        distribution.push(self.service, str(r), emit, auth, self.insecure, tag, cancel)
        self._event("push", (r.with_tag(tag) if tag else r).familiar)

    def login(self, body: dict[str, Any]) -> dict[str, str]:
        if not isinstance(body, dict):
            raise errdefs.InvalidArgument("invalid auth configuration")
        auth = AuthConfig.from_api(body)
        distribution.login(auth.server_address or "docker.io", auth, self.insecure)
        return {"Status": "Login Succeeded", "IdentityToken": ""}

    def distribution_inspect(self, name: str, auth: AuthConfig | None) -> dict[str, Any]:
        return distribution.inspect_distribution(name, auth, self.insecure)

    # -- save and load -----------------------------------------------------------------
    def save(self, names: list[str], out: BinaryIO) -> None:
        if not names:
            raise errdefs.InvalidArgument("no images to save")
        chosen: list[tuple[Image, list[str]]] = []
        for n in names:
            img = self.resolve_for_run(n)
            refs: list[str] = []
            try:
                r = reference.parse(n)
                if str(r) in img.names and not r.digest:
                    refs = [str(r)]
                elif r.tag and _is_plain_name(n):
                    # "busybox" saves every tag of the repository on that image.
                    refs = [t for t in img.tags if reference.parse(t).name == r.name]
            except errdefs.InvalidArgument:
                refs = []
            chosen.append((img, refs))
        plan = imagearchive.plan_save(self.service, chosen)
        imagearchive.write_archive(self.service, plan, out)
        for img, _ in chosen:
            self._event("save", img.id)

    def check_save(self, names: list[str]) -> None:
        for n in names:
            self.resolve_for_run(n)

    def load(self, stream: BinaryIO, emit: Emit, platform: str = "") -> list[Image]:
        loaded = imagearchive.load(self.service, stream, emit, platform)
        for img in loaded:
            self._event("load", img.id)
        return loaded


def _join(image: str, tag: str) -> str:
    if not tag:
        return image
    if tag.startswith("sha256:"):
        return f"{image}@{tag}"
    return f"{image}:{tag}"


def _is_id_ref(ref: str, image_id: str) -> bool:
    """docker's isImageIDPrefix: the reference is (a prefix of) the image ID."""
    short = ref[7:] if ref.startswith("sha256:") else ref
    return bool(short) and image_id[7:].startswith(short) and all(c in "0123456789abcdef" for c in short)


def _is_plain_name(ref: str) -> bool:
    last = ref.rsplit("/", 1)[-1]
    return ":" not in last and "@" not in ref


def _single_repository(refs: list[str]) -> bool:
    """docker's isSingleReference: at most one tag, all in one repository."""
    tags = [n for n in refs if not is_digest_ref(n)]
    if len(tags) > 1:
        return False
    names = {reference.parse(n).name for n in refs}
    return len(names) <= 1


def _labels_match(labels: dict[str, str], wanted: list[str], any_: bool = False) -> bool:
    """label=k[=v] filters: all must match (label!: any of them)."""
    if any_:
        return any(labels_match(labels, [w]) for w in wanted)
    return labels_match(labels, wanted)


def _until(value: str) -> float:
    """A timestamp (RFC 3339 or unix seconds) or a duration ago (10m, 2h)."""
    try:
        return parse_time_filter(value)
    except errdefs.InvalidArgument:
        raise errdefs.InvalidArgument(f"invalid filter 'until={value}'") from None


# docker's container.Config as Go marshals it: these keys are always there (zero values
# when the image config leaves them out); ExposedPorts, Healthcheck, StopSignal,
# ArgsEscaped and friends are omitempty.
_CONFIG_ZERO: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False,
    "AttachStderr": False, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
    "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None,
}


def full_container_config(cfg: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(_CONFIG_ZERO)
    out.update(cfg or {})
    return out

