"""Containers as the daemon keeps them: one record per container, saved
atomically to <data_root>/containers/<id>/config.v2.json, and the store that
indexes them by ID, name and ID prefix.

The status is one value (created, running, paused, restarting, removing,
exited, dead) plus orthogonal facts (exit code, OOM kill, times); docker's
Running/Paused/Restarting booleans are derived for the API only."""

from __future__ import annotations

import asyncio
import enum
import os
import re
import secrets
import shutil
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import errdefs
from ..fsutil import atomic_write_json, read_json

ZERO_TIME = "0001-01-01T00:00:00Z"
_NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


class Status(str, enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"


@dataclass
class State:
    status: str = Status.CREATED.value
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    health: dict[str, Any] | None = None
    restart_count: int = 0
    has_been_started: bool = False
    has_been_manually_stopped: bool = False


@dataclass
class Container:
    id: str
    name: str  # with the leading slash, as docker stores it
    created: str
    image: str  # image ID (config digest)
    image_name: str  # what the user asked for, e.g. busybox
    path: str
    args: list[str]
    config: dict[str, Any]
    host_config: dict[str, Any]
    state: State = field(default_factory=State)
    network_settings: dict[str, Any] = field(default_factory=dict)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    log_path: str = ""
    snapshot_key: str = ""
    platform: str = "linux"
    driver: str = "overlay2"
    exec_ids: list[str] = field(default_factory=list)

    # Not persisted: runtime bookkeeping.
    def __post_init__(self) -> None:
        self.lock = asyncio.Lock()
        self.changed = asyncio.Event()
        self.task: Any = None
        self.monitor: asyncio.Task | None = None
        self.pending_attaches: list[Any] = []
        self.start_failed = False
        self.restart_manager: Any = None  # restart.RestartManager, made at start
        self.restart_task: asyncio.Task | None = None  # a pending policy restart
        self.restart_started = False  # that restart holds the lock and is starting the task
        self.exit_on_next = False  # stop/kill asked for this exit: no policy restart
        self.health_task: asyncio.Task | None = None
        self.volumes_mounted: list[str] = []  # volume names mounted for the running task
        self.shm_mounted = ""  # host tmpfs for IpcMode shareable
        self.sandbox_ready = False

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def status(self) -> Status:
        return Status(self.state.status)

    def is_running(self) -> bool:
        return self.status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)

    def notify(self) -> None:
        """Wake everything waiting on a state change."""
        self.changed.set()
        self.changed = asyncio.Event()

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Container":
        d = dict(d)
        st = State(**{k: v for k, v in (d.pop("state", {}) or {}).items() if k in State.__dataclass_fields__})
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(state=st, **fields)


def new_id() -> str:
    return secrets.token_hex(32)


class ContainerStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "containers")
        os.makedirs(self.root, mode=0o710, exist_ok=True)
        self._by_id: dict[str, Container] = {}
        self._names: dict[str, str] = {}  # "/name" -> id
        self._lock = threading.Lock()

    def dir(self, cid: str) -> str:
        return os.path.join(self.root, cid)

    def load_all(self) -> list[Container]:
        out = []
        for cid in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, cid, "config.v2.json")
            try:
                c = Container.from_dict(read_json(path))
            except (FileNotFoundError, ValueError, TypeError):
                # A crash between mkdir and the first save: nothing to keep.
                shutil.rmtree(os.path.join(self.root, cid), ignore_errors=True)
                continue
            self._by_id[c.id] = c
            self._names[c.name] = c.id
            out.append(c)
        return out

    def save(self, c: Container) -> None:
        os.makedirs(self.dir(c.id), mode=0o710, exist_ok=True)
        atomic_write_json(os.path.join(self.dir(c.id), "config.v2.json"), c.to_dict(), mode=0o600)

    def reserve_name(self, name: str, cid: str) -> str:
        if not name:
            name = generate_name(self._names)
        if not _NAME_RE.match(name):
            raise errdefs.InvalidArgument(
                f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        full = name if name.startswith("/") else "/" + name
        with self._lock:
            if full in self._names and self._names[full] != cid:
                other = self._names[full]
                raise errdefs.Conflict(
                    f'Conflict. The container name "{full}" is already in use by container "{other}". '
                    "You have to remove (or rename) that container to be able to reuse that name.")
            self._names[full] = cid
        return full

    def release_name(self, name: str) -> None:
        with self._lock:
            self._names.pop(name, None)

    def add(self, c: Container) -> None:
        with self._lock:
            self._by_id[c.id] = c
            self._names[c.name] = c.id

    def remove(self, c: Container) -> None:
        with self._lock:
            self._by_id.pop(c.id, None)
            if self._names.get(c.name) == c.id:
                del self._names[c.name]
        shutil.rmtree(self.dir(c.id), ignore_errors=True)

    def get_or_none(self, cid: str) -> Container | None:
        with self._lock:
            return self._by_id.get(cid)

    def rename(self, c: Container, new_name: str) -> None:
        """Move c to new_name (docker's name rules and conflict message)."""
        full = self.reserve_name(new_name, c.id)
        with self._lock:
            if c.name != full and self._names.get(c.name) == c.id:
                del self._names[c.name]
            c.name = full

    def all(self) -> list[Container]:
        with self._lock:
            return list(self._by_id.values())

    def get(self, ref: str) -> Container:
        """By full ID, name, or unique ID prefix (docker's lookup order)."""
        with self._lock:
            if ref in self._by_id:
                return self._by_id[ref]
            name = ref if ref.startswith("/") else "/" + ref
            if name in self._names:
                return self._by_id[self._names[name]]
            if ref:
                matches = [c for cid, c in self._by_id.items() if cid.startswith(ref)]
                if len(matches) == 1:
                    return matches[0]
                if len(matches) > 1:
                    raise errdefs.InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise errdefs.NotFound(f"No such container: {ref}")


_LEFT = ["admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "blissful",
         "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent",
         "condescending", "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted",
         "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic", "exciting",
         "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny", "gallant", "gifted",
         "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible",
         "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving",
         "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice", "nifty",
         "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless",
         "quirky", "quizzical", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly",
         "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting",
         "unruffled", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial",
         "youthful", "zealous", "zen"]
_RIGHT = ["albattani", "allen", "archimedes", "ardinghelli", "babbage", "banach", "bardeen", "bartik",
          "bell", "bhabha", "blackwell", "bohr", "booth", "borg", "bose", "brahmagupta", "brown", "carson",
          "chandrasekhar", "curie", "darwin", "davinci", "dijkstra", "einstein", "elion", "engelbart",
          "euclid", "euler", "faraday", "fermat", "fermi", "feynman", "franklin", "galileo", "gauss",
          "goldberg", "goodall", "hamilton", "hawking", "heisenberg", "hertz", "hodgkin", "hopper", "hypatia",
          "jackson", "jang", "jennings", "johnson", "kalam", "kapitsa", "keller", "kepler", "knuth", "lamport",
          "leakey", "lovelace", "lumiere", "mayer", "mccarthy", "mcclintock", "meitner", "mendel", "merkle",
          "mirzakhani", "morse", "newton", "nobel", "noether", "pascal", "pasteur", "payne", "perlman",
          "pike", "poincare", "ptolemy", "raman", "ramanujan", "ritchie", "rosalind", "sammet", "shannon",
          "shockley", "sinoussi", "stonebraker", "swanson", "tesla", "thompson", "torvalds", "turing",
          "varahamihira", "visvesvaraya", "wescoff", "wiles", "williams", "wilson", "wing", "wozniak",
          "wright", "yalow", "yonath"]


def generate_name(taken: dict[str, str]) -> str:
    for i in range(100):
        name = f"{secrets.choice(_LEFT)}_{secrets.choice(_RIGHT)}"
        if i > 10:
            name += str(secrets.randbelow(10))
        if "/" + name not in taken:
            return name
    return "c_" + secrets.token_hex(6)
