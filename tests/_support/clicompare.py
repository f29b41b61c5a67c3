"""Run the docker CLI and dockyard with the same arguments against the same
daemon and compare what they print and how they exit ("docker" read as
"dockyard")."""

from __future__ import annotations

import difflib
import subprocess
import time

from .paths import binary

DOCKER_CLI = "/usr/local/bin/docker"
Outcome = tuple[int, str, str]


def both(engine, *args: str, input: bytes | None = None) -> tuple[Outcome, Outcome]:
    env = engine.env()
    d = subprocess.run([DOCKER_CLI, *args], capture_output=True, env=env, input=input, timeout=120)
    y = subprocess.run([binary("dockyard"), *args], capture_output=True, env=env, input=input, timeout=120)

    def norm(r: subprocess.CompletedProcess[bytes], name: str) -> Outcome:
        return r.returncode, r.stdout.decode().replace(name, "CLI"), r.stderr.decode().replace(name, "CLI")
    return norm(d, "docker"), norm(y, "dockyard")


def same(engine, *args: str, input: bytes | None = None) -> None:
    # listings hold "N seconds ago": try again if a second ticked between the two runs
    for attempt in range(3):
        d, y = both(engine, *args, input=input)
        if d == y:
            return
        # A pair of runs takes about a second: shift the next pair against the clock's seconds.
        time.sleep(0.4 * (attempt + 1))
    diff = "\n".join(difflib.unified_diff((d[1] + d[2]).splitlines(), (y[1] + y[2]).splitlines(), "docker",
                                           "dockyard", lineterm=""))
    assert y == d, f"exit {d[0]} vs {y[0]}\n{diff}"
