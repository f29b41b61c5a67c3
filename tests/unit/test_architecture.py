"""The layer rules of docs/architecture.md, enforced with import-linter."""

import os
import subprocess
import sys

from _support.paths import REPO


def test_import_contracts_hold() -> None:
    lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    res = subprocess.run([lint, "--config", os.path.join(REPO, "pyproject.toml")], cwd=REPO,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.path.join(REPO, "src")})
    assert res.returncode == 0, res.stdout + res.stderr
