"""A fast `dockyard-runtime` executable, installed over pip's console script.

The runtime starts for every container operation, so its start-up counts.
pip's console script runs the interpreter with site (pyvenv.cfg, every .pth
file in site-packages) and its template imports re: about 8 ms before our
first line, a third of what runc needs for a whole `run`. This launcher runs
Python isolated and without site (``-IS``) and puts the two directories the
runtime imports from on sys.path itself: the one holding the dockyard
package (the source tree with `pip install -e`) and site-packages (for
pyseccomp). Isolated mode also ignores PYTHONDONTWRITEBYTECODE, so bytecode
is cached even where the environment disables it; install() precompiles it.

If the recorded paths stop working (the tree moved), the launcher falls back
to the regular start-up (site), so it stays correct, only slower.

    python -m dockyard.runtime.launcher [BIN_DIR]   # tools/setup.sh runs this
"""

from __future__ import annotations

import os
import sys

TEMPLATE = '''#!{python} -IS
# dockyard-runtime: written by `python -m dockyard.runtime.launcher` (tools/setup.sh);
# see src/dockyard/runtime/launcher.py. A plain pip install writes the slower
# standard console script instead, which works the same.
import sys
sys.path[0:0] = {paths!r}
try:
    from dockyard.runtime.cli import entry
except ImportError:
    import site
    site.main()
    from dockyard.runtime.cli import entry
entry()
'''

# What the runtime's start imports, precompiled so that a read-only install
# (or PYTHONDONTWRITEBYTECODE in a build) does not compile at every start.
PACKAGES = ("dockyard", "dockyard.runtime", "dockyard.cgroups", "dockyard._sys")


def script_text() -> str:
    import sysconfig
    import dockyard
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))
    purelib = sysconfig.get_paths()["purelib"]
    paths = [package_parent] + ([purelib] if purelib != package_parent else [])
    return TEMPLATE.format(python=sys.executable, paths=paths)


def precompile() -> None:
    import compileall
    import importlib
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        compileall.compile_dir(os.path.dirname(pkg.__file__), maxlevels=0, quiet=1)
    import pyseccomp
    compileall.compile_file(pyseccomp.__file__, quiet=1)


def install(bin_dir: str) -> str:
    path = os.path.join(bin_dir, "dockyard-runtime")
    text = script_text()
    try:
        with open(path) as f:
            if f.read() == text:
                precompile()
                return path
    except OSError:
        pass
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    precompile()
    return path


if __name__ == "__main__":
    print(install(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(sys.executable)))
