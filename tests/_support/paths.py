"""Where things are: the repository, its virtualenv's console scripts, the shared references."""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SHARED = os.path.join(os.path.dirname(REPO), "shared")
REFERENCE = os.path.join(SHARED, "reference")


def binary(name: str) -> str:
    return os.path.join(BIN, name)
