"""Restart policies with docker's backoff (moby restartmanager): the delay
starts at 100 ms, doubles after each restart up to one minute, and goes back
to the start once a run lasted 10 seconds or more."""

from __future__ import annotations

from typing import Any

DEFAULT_TIMEOUT = 0.1
MAX_TIMEOUT = 60.0
RESET_AFTER = 10.0


class RestartManager:
    def __init__(self, policy: dict[str, Any], restart_count: int = 0) -> None:
        self.policy = dict(policy or {})
        self.restart_count = restart_count
        self.timeout = 0.0
        self.canceled = False

    @property
    def name(self) -> str:
        return self.policy.get("Name") or "no"

    def cancel(self) -> None:
        self.canceled = True

    def should_restart(self, exit_code: int, manually_stopped: bool, ran_for: float) -> tuple[bool, float]:
        """(restart?, delay in seconds). Counts the restart when it says yes."""
        if self.name == "no" or self.canceled:
            return False, 0.0
        if ran_for >= RESET_AFTER:
            self.timeout = 0.0
        if self.timeout == 0.0:
            self.timeout = DEFAULT_TIMEOUT
        elif self.timeout < MAX_TIMEOUT:
            self.timeout *= 2
        self.timeout = min(self.timeout, MAX_TIMEOUT)
        restart = False
        if self.name == "always":
            restart = True
        elif self.name == "unless-stopped":
            restart = not manually_stopped
        elif self.name == "on-failure":
            limit = int(self.policy.get("MaximumRetryCount") or 0)
            if limit == 0 or self.restart_count < limit:
                restart = exit_code != 0
        if not restart:
            return False, 0.0
        self.restart_count += 1
        return True, self.timeout
