"""stats: a live table of resource usage, redrawn in place on a terminal;
--no-stream prints one sample. Numbers computed as docker's CLI does."""

from __future__ import annotations

import io
import os
import sys
import time

from ... import errdefs
from ..errors import CLIError
from ..format import Context, bytes_size, human_size, write_list
from .common import Parser, client, daemon_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_FORMAT = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                  "\t{{.PIDs}}")


def cpu_percent(s: dict[str, Any]) -> float:
    cpu = s.get("cpu_stats") or {}
    pre = s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    sys_delta = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    if sys_delta > 0 and cpu_delta > 0:
        return cpu_delta / sys_delta * online * 100.0
    return 0.0


def memory_usage(s: dict[str, Any]) -> tuple[float, float]:
    """(usage without page cache, limit): cgroup v1 total_inactive_file, v2 inactive_file."""
    m = s.get("memory_stats") or {}
    usage = m.get("usage") or 0
    st = m.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        v = st.get(key)
        if v is not None and v < usage:
            usage -= v
            break
    return float(usage), float(m.get("limit") or 0)


def net_io(s: dict[str, Any]) -> tuple[float, float]:
    rx = tx = 0.0
    for n in (s.get("networks") or {}).values():
        rx += n.get("rx_bytes", 0)
        tx += n.get("tx_bytes", 0)
    return rx, tx


def block_io(s: dict[str, Any]) -> tuple[float, float]:
    r = w = 0.0
    for e in ((s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []):
        op = (e.get("op") or "").lower()
        if op == "read":
            r += e.get("value", 0)
        elif op == "write":
            w += e.get("value", 0)
    return r, w


class StatsContext(Context):
    template_type = "*container.statsContext"
    FIELDS = ("BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs")
    HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
               "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
               "PIDs": "PIDS"}

    def __init__(self, container: str, s: dict[str, Any] | None, trunc: bool, error: bool = False) -> None:
        self.container = container
        self.s = s or {}
        self.trunc = trunc
        self.error = error or s is None

    @property
    def Container(self) -> str:  # noqa: N802 - docker's template names
        return self.container

    @property
    def ID(self) -> str:  # noqa: N802
        i = self.s.get("id") or self.container
        return i[:12] if self.trunc else i

    @property
    def Name(self) -> str:  # noqa: N802
        return (self.s.get("name") or "--").lstrip("/")

    @property
    def CPUPerc(self) -> str:  # noqa: N802
        return "--" if self.error else f"{cpu_percent(self.s):.2f}%"

    @property
    def MemUsage(self) -> str:  # noqa: N802
        if self.error:
            return "-- / --"
        used, limit = memory_usage(self.s)
        return f"{bytes_size(used)} / {bytes_size(limit)}"

    @property
    def MemPerc(self) -> str:  # noqa: N802
        if self.error:
            return "--"
        used, limit = memory_usage(self.s)
        return f"{used / limit * 100:.2f}%" if limit else "0.00%"

    @property
    def NetIO(self) -> str:  # noqa: N802
        if self.error:
            return "--"
        rx, tx = net_io(self.s)
        return f"{human_size(rx, 3)} / {human_size(tx, 3)}"

    @property
    def BlockIO(self) -> str:  # noqa: N802
        if self.error:
            return "--"
        r, w = block_io(self.s)
        return f"{human_size(r, 3)} / {human_size(w, 3)}"

    @property
    def PIDs(self) -> str:  # noqa: N802
        return "--" if self.error else str((self.s.get("pids_stats") or {}).get("current", 0))


def _render(fmt: str, rows: list[StatsContext]) -> str:
    buf = io.StringIO()
    write_list(fmt, rows, DEFAULT_FORMAT, out=buf, headers=StatsContext.HEADERS)
    return buf.getvalue()


def cmd_stats(argv: list[str], gopts: dict) -> int:
    p = Parser(prog="dockyard stats", usage="dockyard stats [OPTIONS] [CONTAINER...]")
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("--format", default="", help="Format output using a custom template:\n"
                   "'table':            Print output in table format with column headers (default)\n"
                   "'table TEMPLATE':   Print output in table format using the given Go template\n"
                   "'json':             Print in JSON format\n"
                   "'TEMPLATE':         Print output using the given Go template.")
    p.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the first result")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    p.add_argument("containers", nargs="*", metavar="CONTAINER")
    a = p.parse_args(argv)
    if a.format:
        from ..format import check_format
        check_format(a.format)
    api = client(gopts)
    if a.no_stream:
        return _once(api, a)
    return _live(api, a)


def _targets(api: Any, a: Any) -> list[str]:
    if a.containers:
        return list(a.containers)
    try:
        return [c["Id"] for c in api.container_list(all_=a.all)]
    except errdefs.EngineError as e:
        raise daemon_error(e) from None


def _once(api: Any, a: Any) -> int:
    from ...client import jsonfast
    rows, errors = [], []
    for c in _targets(api, a):
        try:
            resp = api.container_stats(c, stream=False)
            rows.append(StatsContext(c, jsonfast.loads(resp.read()), not a.no_trunc))
        except errdefs.EngineError as e:
            if a.containers:
                errors.append(daemon_error(e).args[0])
            else:  # gone between list and stats
                continue
    if errors:  # docker shows no table when a named container fails
        raise CLIError("\n".join(errors), 1)
    sys.stdout.write(_render(a.format, rows))
    return 0


def _live(api: Any, a: Any) -> int:
    """One reader thread per container keeps its latest sample; the table is
    redrawn twice a second (cleared in place on a terminal)."""
    import threading
    from ...client import jsonfast
    latest: dict[str, Any] = {}
    failed: dict[str, str] = {}
    readers: dict[str, threading.Thread] = {}
    lock = threading.Lock()

    def read(cid: str) -> None:
        try:
            resp = api.container_stats(cid, stream=True)
            for line in resp.iter_lines():
                with lock:
                    latest[cid] = jsonfast.loads(line)
        except errdefs.EngineError as e:
            with lock:
                failed[cid] = daemon_error(e).args[0]
        except (OSError, ValueError):
            pass
        with lock:
            readers.pop(cid, None)

    terminal = os.isatty(sys.stdout.fileno())
    explicit = list(a.containers)
    if explicit:  # docker fails at once for a container that does not exist
        for c in explicit:
            try:
                api.container_inspect(c)
            except errdefs.EngineError as e:
                raise daemon_error(e) from None
    try:
        while True:
            targets = explicit or _targets(api, a)
            with lock:
                for c in targets:
                    if c not in readers and c not in failed:
                        t = threading.Thread(target=read, args=(c,), daemon=True)
                        readers[c] = t
                        t.start()
                rows = [StatsContext(c, latest.get(c), not a.no_trunc, error=c in failed) for c in targets
                        if explicit or c in latest]
            text = _render(a.format, rows)
            sys.stdout.write(("\x1b[2J\x1b[H" if terminal else "") + text)
            sys.stdout.flush()
            if explicit and all(c in failed for c in explicit):
                raise CLIError("\n".join(failed[c] for c in explicit), 1)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
