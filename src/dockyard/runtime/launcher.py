"""The fast `dockyard-runtime` launcher now comes from dockyard.launcher,
which writes the runtime's, the CLI's, the shim's and the proxy's; this
module keeps `python -m dockyard.runtime.launcher [BIN_DIR]` working (it
installs them all)."""

import os
import sys

from .. import launcher


def script_text() -> str:
    return launcher.script_text("dockyard-runtime")


def install(bin_dir: str) -> str:
    return launcher.install(bin_dir, ["dockyard-runtime"])[0]


if __name__ == "__main__":
    for p in launcher.install(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(sys.executable)):
        print(p)
