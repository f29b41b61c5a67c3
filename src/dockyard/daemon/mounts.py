"""A container's mount points from Binds, Mounts, Tmpfs, VolumesFrom and the
image's VOLUMEs, parsed and validated the way dockerd's volume/mounts parser
does, with its messages.

A mount point is stored on the container in inspect's shape (Type, Name,
Source, Destination, Driver, Mode, RW, Propagation) plus private keys that
start with an underscore (inspect drops them):
  _nocopy   do not seed a new volume from the image
  _anon     an anonymous volume (removed with the container by rm -v / --rm)
  _created  the volume was created for this container (seed it if empty)
  _tmpfs    tmpfs mount options (Type tmpfs)
  _nonrec   bind without MS_REC
  _subpath  volume subpath
"""

from __future__ import annotations

import os
import posixpath
from typing import TYPE_CHECKING, Any, Callable

from .. import errdefs

if TYPE_CHECKING:
    from .volumes import VolumeService

PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate")
CONSISTENCY = ("consistent", "cached", "delegated")
LABEL_MODES = ("z", "Z")
DEFAULT_PROPAGATION = "rprivate"


def valid_mode(mode: str) -> bool:
    if mode == "":
        return True
    seen = {"rw": 0, "label": 0, "prop": 0, "copy": 0, "consistency": 0}
    for o in mode.split(","):
        if o in ("rw", "ro"):
            k = "rw"
        elif o in LABEL_MODES:
            k = "label"
        elif o in PROPAGATIONS:
            k = "prop"
        elif o == "nocopy":
            k = "copy"
        elif o in CONSISTENCY:
            k = "consistency"
        else:
            return False
        seen[k] += 1
        if seen[k] > 1:
            return False
    return True


def _invalid_spec(raw: str, why: str = "") -> errdefs.InvalidArgument:
    return errdefs.InvalidArgument(f"invalid volume specification: '{raw}'" + (f": {why}" if why else ""))


def _mount_err(mtype: str, why: str) -> errdefs.InvalidArgument:
    return errdefs.InvalidArgument(f'invalid mount config for type "{mtype}": {why}')


def _check_target(mtype: str, target: str) -> str:
    if not target:
        raise _mount_err(mtype, "field Target must not be empty")
    if not target.startswith("/"):
        raise _mount_err(mtype, f"invalid mount path: '{target}' mount path must be absolute")
    clean = posixpath.normpath(target)
    if clean == "/":
        raise errdefs.InvalidArgument("invalid specification: destination can't be '/'")
    return clean


def parse_bind(raw: str) -> dict[str, Any]:
    """One HostConfig.Binds entry: [source:]destination[:mode]."""
    if not isinstance(raw, str) or not raw or raw.startswith(":"):
        raise _invalid_spec(str(raw))
    arr = raw.split(":")
    mode = ""
    if len(arr) == 1:
        source, target = "", arr[0]
    elif len(arr) == 2:
        if valid_mode(arr[1]) and arr[1] != "":
            raise _invalid_spec(raw)
        source, target = arr
    elif len(arr) == 3:
        source, target, mode = arr
    else:
        raise _invalid_spec(raw)
    if not valid_mode(mode):
        raise errdefs.InvalidArgument(f"invalid mode: {mode}")
    opts = mode.split(",") if mode else []
    mtype = "bind" if source.startswith("/") else "volume"
    try:
        dest = _check_target(mtype, target)
    except errdefs.InvalidArgument as e:
        raise _invalid_spec(raw, e.message) from None
    rw = "ro" not in opts
    prop = next((o for o in opts if o in PROPAGATIONS), "")
    mp: dict[str, Any] = {"Type": mtype, "Destination": dest, "Mode": mode, "RW": rw}
    if mtype == "bind":
        mp.update(Source=posixpath.normpath(source), Propagation=prop or DEFAULT_PROPAGATION, _create_source=True)
    else:
        if not source and not rw:
            raise _invalid_spec(raw, "must not set ReadOnly mode when using anonymous volumes")
        if prop:
            raise _invalid_spec(raw, _mount_err("volume", "field BindOptions must not be specified").message)
        mp.update(Name=source, Source="", Driver="local", Propagation="", _nocopy="nocopy" in opts)
    return mp


def parse_mount(m: Any) -> dict[str, Any]:
    """One HostConfig.Mounts entry (the --mount API)."""
    if not isinstance(m, dict):
        raise errdefs.InvalidArgument("invalid mount config: must be an object")
    mtype = m.get("Type") or ""
    source = m.get("Source") or ""
    bind_opts = m.get("BindOptions")
    vol_opts = m.get("VolumeOptions")
    tmpfs_opts = m.get("TmpfsOptions")
    if mtype not in ("bind", "volume", "tmpfs"):
        if mtype in ("npipe", "cluster"):
            raise _mount_err(mtype, "mount type not supported on this platform")
        raise _mount_err(mtype, "mount type unknown")
    dest = _check_target(mtype, m.get("Target") or "")
    ro = bool(m.get("ReadOnly"))
    if mtype == "bind":
        if vol_opts:
            raise _mount_err(mtype, "field VolumeOptions must not be specified")
        if tmpfs_opts:
            raise _mount_err(mtype, "field TmpfsOptions must not be specified")
        if not source:
            raise _mount_err(mtype, "field Source must not be empty")
        if not source.startswith("/"):
            raise _mount_err(mtype, f"invalid mount path: '{source}' mount path must be absolute")
        bo = bind_opts or {}
        prop = bo.get("Propagation") or ""
        if prop and prop not in PROPAGATIONS:
            raise _mount_err(mtype, f"invalid propagation mode: {prop}")
        create = bool(bo.get("CreateMountpoint"))
        if not create and not os.path.exists(source):
            raise _mount_err(mtype, f"bind source path does not exist: {source}")
        return {"Type": "bind", "Source": posixpath.normpath(source), "Destination": dest, "Mode": "",
                "RW": not ro, "Propagation": prop or DEFAULT_PROPAGATION, "_nonrec": bool(bo.get("NonRecursive")),
                "_create_source": create}
    if mtype == "volume":
        if bind_opts:
            raise _mount_err(mtype, "field BindOptions must not be specified")
        if tmpfs_opts:
            raise _mount_err(mtype, "field TmpfsOptions must not be specified")
        if not source and ro:
            raise _mount_err(mtype, "must not set ReadOnly mode when using anonymous volumes")
        vo = vol_opts or {}
        dc = vo.get("DriverConfig") or {}
        if dc.get("Name") not in (None, "", "local"):
            raise errdefs.NotFound(f'error looking up volume plugin {dc["Name"]}: plugin "{dc["Name"]}" not found')
        sub = vo.get("Subpath") or ""
        if sub and (sub.startswith("/") or ".." in sub.split("/")):
            raise _mount_err(mtype, f"subpath must be a relative path within the volume: {sub}")
        return {"Type": "volume", "Name": source, "Source": "", "Destination": dest, "Driver": "local",
                "Mode": "z", "RW": not ro, "Propagation": "", "_nocopy": bool(vo.get("NoCopy")),
                "_labels": dict(vo.get("Labels") or {}), "_opts": dict(dc.get("Options") or {}), "_subpath": sub}
    # tmpfs
    if source:
        raise _mount_err(mtype, "field Source must not be specified")
    if bind_opts:
        raise _mount_err(mtype, "field BindOptions must not be specified")
    if vol_opts:
        raise _mount_err(mtype, "field VolumeOptions must not be specified")
    to = tmpfs_opts or {}
    opts = []
    size = to.get("SizeBytes") or 0
    if size < 0:
        raise _mount_err(mtype, "invalid tmpfs size: must not be negative")
    if size:
        opts.append(f"size={(size + 1023) // 1024}k")
    if to.get("Mode"):
        opts.append(f"mode={int(to['Mode']) & 0o7777:o}")
    for kv in to.get("Options") or []:
        if isinstance(kv, list) and kv:
            opts.append("=".join(str(x) for x in kv if x != ""))
    return {"Type": "tmpfs", "Source": "", "Destination": dest, "Mode": "", "RW": not ro, "Propagation": "",
            "_tmpfs": ",".join(opts)}


def parse_tmpfs(dest: str, options: str) -> dict[str, Any]:
    """One HostConfig.Tmpfs entry (--tmpfs /run:rw,size=64m)."""
    if not isinstance(dest, str) or not dest.startswith("/"):
        raise errdefs.InvalidArgument(f"invalid mount path: '{dest}' mount path must be absolute")
    d = posixpath.normpath(dest)
    if d == "/":
        raise errdefs.InvalidArgument("invalid specification: destination can't be '/'")
    if options is not None and not isinstance(options, str):
        raise errdefs.InvalidArgument(f"invalid tmpfs options for {dest}: must be a string")
    return {"Type": "tmpfs", "Source": "", "Destination": d, "Mode": "", "RW": "ro" not in (options or "").split(","),
            "Propagation": "", "_tmpfs": options or "", "_hostconfig_tmpfs": True}


def parse_volumes_from(spec: str) -> tuple[str, str]:
    if not isinstance(spec, str) or not spec:
        raise errdefs.InvalidArgument(f"invalid volumes-from spec: {spec!r}")
    ref, _, mode = spec.partition(":")
    if mode and mode not in ("ro", "rw") and not valid_mode(mode):
        raise errdefs.InvalidArgument(f"invalid mode: {mode}")
    return ref, mode


def collect(hc: dict[str, Any], config: dict[str, Any],
            lookup_container: Callable[[str], Any]) -> list[dict[str, Any]]:
    """All mount points of a new container, validated, volumes not yet
    created (see materialize). Later sources replace earlier ones at the
    same destination, as docker's registerMountPoints does; Binds and Mounts
    may not name the same destination."""
    by_dest: dict[str, dict[str, Any]] = {}
    for spec in hc.get("VolumesFrom") or []:
        ref, mode = parse_volumes_from(spec)
        other = lookup_container(ref)
        for mp in other.mounts:
            if mp.get("Type") == "tmpfs":
                continue
            cp = {k: v for k, v in mp.items() if k in ("Type", "Name", "Source", "Destination", "Driver", "Mode",
                                                       "RW", "Propagation", "_nonrec", "_subpath")}
            if mode == "ro" or "ro" in mode.split(","):
                cp["RW"] = False
            cp["_from"] = other.id
            by_dest[cp["Destination"]] = cp
    binds = hc.get("Binds") or []
    if not isinstance(binds, list):
        raise errdefs.InvalidArgument("invalid Binds: must be a list")
    bind_dests: set[str] = set()
    for raw in binds:
        mp = parse_bind(raw)
        if mp["Destination"] in bind_dests:
            raise errdefs.InvalidArgument(f"Duplicate mount point: {mp['Destination']}")
        bind_dests.add(mp["Destination"])
        by_dest[mp["Destination"]] = mp
    mounts = hc.get("Mounts") or []
    if not isinstance(mounts, list):
        raise errdefs.InvalidArgument("invalid Mounts: must be a list")
    mount_dests: set[str] = set()
    for m in mounts:
        mp = parse_mount(m)
        if mp["Destination"] in bind_dests or mp["Destination"] in mount_dests:
            raise errdefs.InvalidArgument(f"Duplicate mount point: {mp['Destination']}")
        mount_dests.add(mp["Destination"])
        by_dest[mp["Destination"]] = mp
    tmpfs = hc.get("Tmpfs") or {}
    if not isinstance(tmpfs, dict):
        raise errdefs.InvalidArgument("invalid Tmpfs: must be an object")
    for dest, opts in tmpfs.items():
        mp = parse_tmpfs(dest, opts)
        if mp["Destination"] in bind_dests or mp["Destination"] in mount_dests:
            raise errdefs.InvalidArgument(f"Duplicate mount point: {mp['Destination']}")
        by_dest[mp["Destination"]] = mp
    vols = config.get("Volumes") or {}
    if not isinstance(vols, dict):
        raise errdefs.InvalidArgument("invalid Volumes: must be an object")
    for dest in vols:
        if not isinstance(dest, str) or not dest.startswith("/"):
            raise errdefs.InvalidArgument(f"invalid mount config for type \"volume\": invalid mount path: '{dest}' "
                                          "mount path must be absolute")
        d = posixpath.normpath(dest)
        if d in by_dest:
            continue
        by_dest[d] = {"Type": "volume", "Name": "", "Source": "", "Destination": d, "Driver": "local", "Mode": "",
                      "RW": True, "Propagation": "", "_image": True}
    return sorted(by_dest.values(), key=lambda m: m["Destination"])


def materialize(points: list[dict[str, Any]], volumes: "VolumeService", cid: str) -> list[str]:
    """Create the named and anonymous volumes the mount points need. Returns
    the names of volumes created here, so a failed create can remove them."""
    created: list[str] = []
    try:
        for mp in points:
            if mp["Type"] != "volume":
                continue
            if mp.get("_from"):
                continue
            if not mp.get("Name"):
                v = volumes.create_anonymous()
                mp["Name"] = v.name
                mp["_anon"] = True
                mp["_created"] = True
                created.append(v.name)
            else:
                v, new = volumes.create_volume(mp["Name"], "local", mp.pop("_opts", None) or None,
                                               mp.pop("_labels", None) or None)
                if new:
                    mp["_created"] = True
                    created.append(v.name)
            mp["Source"] = v.mountpoint
            mp.pop("_opts", None)
            mp.pop("_labels", None)
    except BaseException:
        for n in created:
            try:
                volumes.driver.remove(n)
            except Exception:
                pass
        raise
    return created


def public(mp: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in mp.items() if not k.startswith("_")}
    if out.get("Type") == "bind":
        out.pop("Name", None)
        out.pop("Driver", None)
    return out
