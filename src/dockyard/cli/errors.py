"""Exit statuses as docker's CLI uses them."""

from __future__ import annotations


class CLIError(Exception):
    """Printed as is, then exit with status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class StatusError(Exception):
    """Exit silently with this status (e.g. a container's exit code)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def start_error_status(message: str) -> int:
    """docker run's 125/126/127 for a container that could not start."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message:
        return 126
    return 125
