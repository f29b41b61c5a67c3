"""How a container looks in `ps` (and `system df`): its table columns and
template fields (docker's formatter.ContainerContext). Apart from ps.py so
that `ps` loads it, with the formatting modules, while the daemon answers."""

from __future__ import annotations

import time

from ..format import Context, ellipsis, human_duration, human_size, local_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def go_quote(s: str) -> str:
    """strconv.Quote for the printable strings commands are made of."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out) + '"'


def display_ports(ports: list[dict[str, Any]]) -> str:
    """docker's DisplayablePorts: published ports as IP:PUBLIC->PRIVATE/proto
    (consecutive ones folded into ranges), then unpublished ones."""
    groups: dict[str, list[tuple[int, int]]] = {}
    order: list[str] = []
    for p in sorted(ports or [], key=lambda p: (p.get("Type", "tcp"), p.get("PrivatePort", 0), p.get("IP", ""))):
        proto = p.get("Type", "tcp")
        if p.get("PublicPort"):
            ip = p.get("IP", "")
            ip_s = f"[{ip}]" if ":" in ip and ip != "::" else (ip if ip != "::" else "::")
            key = f"{ip_s}:|{proto}"
            pair = (int(p["PublicPort"]), int(p["PrivatePort"]))
        else:
            key = f"|{proto}"
            pair = (0, int(p.get("PrivatePort", 0)))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(pair)
    out = []
    for key in order:
        prefix, _, proto = key.partition("|")
        pairs = sorted(set(groups[key]), key=lambda x: x[1])
        i = 0
        while i < len(pairs):
            j = i
            while j + 1 < len(pairs) and pairs[j + 1][1] == pairs[j][1] + 1 and \
                    (not pairs[i][0] or pairs[j + 1][0] == pairs[j][0] + 1):
                j += 1
            pub0, priv0 = pairs[i]
            pub1, priv1 = pairs[j]
            priv = f"{priv0}" if i == j else f"{priv0}-{priv1}"
            if prefix:
                pub = f"{pub0}" if i == j else f"{pub0}-{pub1}"
                out.append(f"{prefix}{pub}->{priv}/{proto}")
            else:
                out.append(f"{priv}/{proto}")
            i = j + 1
    return ", ".join(out)


class ContainerContext(Context):
    template_type = "*formatter.ContainerContext"
    FIELDS = ("Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks",
              "Platform", "Ports", "RunningFor", "Size", "State", "Status")
    METHODS = ("Label",)
    HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
               "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
               "Names": "NAMES", "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS",
               "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM"}

    def __init__(self, c: dict[str, Any], trunc: bool = True) -> None:
        self.c = c
        self.trunc = trunc

    @property
    def ID(self) -> str:  # noqa: N802 - docker's template field names
        i = self.c.get("Id", "")
        return i[:12] if self.trunc else i

    @property
    def Image(self) -> str:  # noqa: N802
        img = self.c.get("Image", "") or "<no image>"
        if self.trunc and img.startswith("sha256:"):
            return img[7:19]
        return img

    @property
    def Command(self) -> str:  # noqa: N802
        cmd = self.c.get("Command", "")
        return go_quote(ellipsis(cmd, 20) if self.trunc else cmd)

    @property
    def CreatedAt(self) -> str:  # noqa: N802
        return local_time(self.c.get("Created", 0))

    @property
    def RunningFor(self) -> str:  # noqa: N802
        return human_duration(time.time() - self.c.get("Created", 0)) + " ago"

    @property
    def Platform(self) -> Any:  # noqa: N802 - the image's platform when the daemon reports one
        return self.c.get("ImageManifestDescriptor", {}).get("platform") if self.c.get("ImageManifestDescriptor") \
            else None

    @property
    def Ports(self) -> str:  # noqa: N802
        return display_ports(self.c.get("Ports") or [])

    @property
    def State(self) -> str:  # noqa: N802
        return self.c.get("State", "")

    @property
    def Status(self) -> str:  # noqa: N802
        return self.c.get("Status", "")

    @property
    def Size(self) -> str:  # noqa: N802
        rw, root = self.c.get("SizeRw"), self.c.get("SizeRootFs")
        if rw is None and root is None:
            return "0B"
        s = human_size(rw or 0, 3)
        if root:
            s += f" (virtual {human_size(root, 3)})"
        return s

    @property
    def Names(self) -> str:  # noqa: N802
        names = []
        for n in self.c.get("Names") or []:
            n = n.lstrip("/")
            if self.trunc and "/" in n:  # a link's name: /other/alias
                continue
            names.append(n)
        return ",".join(names)

    @property
    def Labels(self) -> str:  # noqa: N802
        labels = self.c.get("Labels") or {}
        return ",".join(f"{k}={labels[k]}" for k in sorted(labels))

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.c.get("Labels") or {}).get(name, "")

    @property
    def Mounts(self) -> str:  # noqa: N802
        out = []
        for m in self.c.get("Mounts") or []:
            name = m.get("Name") or m.get("Source", "")
            if self.trunc and len(name) > 15 and m.get("Name"):
                name = ellipsis(name, 15)
            out.append(name)
        return ",".join(out)

    @property
    def Networks(self) -> str:  # noqa: N802
        nets = ((self.c.get("NetworkSettings") or {}).get("Networks") or {})
        return ",".join(sorted(nets))

    @property
    def LocalVolumes(self) -> str:  # noqa: N802
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))
