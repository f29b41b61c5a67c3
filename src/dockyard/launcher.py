"""Fast launchers for the executables that start per call, installed over
pip's scripts by tools/setup.sh:

* ``dockyard``          the CLI: every command
* ``dockyard-runtime``  every container operation
* ``dockyard-shim``     every container (the daemon already starts it without
                        site, see core.tasks.fast_argv; this is for people)
* ``dockyard-proxy``    every container with published ports

pip's scripts run the interpreter with site (pyvenv.cfg, every .pth file in
site-packages, setuptools' distutils hack) and its console-script template
imports re: 4-8 ms before our first line, a third of what `docker ps` takes
in all. A launcher runs Python isolated and without site (``-IS``) and
appends to sys.path what site would have found, recorded here at install:
the directory holding the dockyard package (the source tree with
``pip install -e``) and site-packages (the dependencies), after the standard
library as site puts them. Isolated mode also ignores
PYTHONDONTWRITEBYTECODE, so bytecode is cached even where the environment
disables it; install() precompiles it for read-only trees.

The interpreter a launcher starts is the system's own build of this Python
version where there is one (Debian's /usr/bin/python3.11), else the venv's.
Same language version and bytecode (one __pycache__ serves both), but a
distribution build links libpython into the executable and builds the
extension modules every command loads (_json, _socket, ...) into it, where
a pyenv build loads each from a shared object: measured here, 11% off a
container's create+start+delete and 2 ms off `dockyard ps`. The standard
library is then the system's (3.11.2 on Debian 12, where the venv may have a
later 3.11): the code these launchers run keeps to what both have.
DOCKYARD_LAUNCHER_PYTHON names another interpreter ("venv": the venv's).

If the recorded paths stop working (the tree moved), a launcher falls back to
the regular start-up (site, on the venv's interpreter): still correct, only
slower. A plain ``pip install`` keeps pip's scripts (and bin/dockyard), which
work the same.

    python -m dockyard.launcher [BIN_DIR]   # tools/setup.sh runs this

A leaf module (standard library only): every layer's executable uses it.
"""

import os
import sys

# executable -> (module, function, other top-level modules it imports that
# install() precompiles besides the dockyard package)
LAUNCHERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "dockyard": ("dockyard.cli.main", "run", ()),
    "dockyard-runtime": ("dockyard.runtime.cli", "entry", ("pyseccomp",)),
    "dockyard-shim": ("dockyard.shim.main", "main", ()),
    "dockyard-proxy": ("dockyard.network.proxy", "main", ()),
}

# The first two lines are what is_fast_launcher() recognises.
TEMPLATE = '''#!{python} -IS
# {name}: fast launcher written by `python -m dockyard.launcher` (tools/setup.sh);
# see src/dockyard/launcher.py. pip's script for it works the same, only slower.
import sys
sys.path += {paths!r}
try:
    from {module} import {function}
except ImportError:
    if not sys.flags.no_site:
        raise
    # The recorded paths moved: start as pip's script does, with site, on the venv's interpreter.
    import posix
    posix.execv({venv!r}, [{venv!r}, __file__] + sys.argv[1:])
sys.exit({function}())
'''
MARKER = "# {name}: fast launcher written by `python -m dockyard.launcher`"


def recorded_paths() -> list[str]:
    """Where the dockyard package and its dependencies are, as site finds them now."""
    import sysconfig
    import dockyard
    paths = [os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))]
    for key in ("purelib", "platlib"):
        p = sysconfig.get_paths()[key]
        if p not in paths:
            paths.append(p)
    return paths


def venv_python() -> str:
    """This environment's interpreter, named the same whichever of its names
    (python, python3.11) started us: pip's scripts and `python -m` differ."""
    path = os.path.join(sys.prefix, "bin", "python")
    return path if os.access(path, os.X_OK) else sys.executable


def script_text(name: str, python: str | None = None, paths: list[str] | None = None) -> str:
    module, function, _ = LAUNCHERS[name]
    return TEMPLATE.format(name=name, python=python or sys.executable, venv=venv_python(),
                           paths=recorded_paths() if paths is None else paths, module=module, function=function)


# What the launchers' programs need of an interpreter besides the language:
# the same bytecode (cache tag, magic number) and these extension modules.
_PROBE = ("import sys, importlib.util, _ctypes, _json, _socket, _sha256, ssl, select, fcntl, termios, zlib, gzip, "
          "hashlib, struct; "
          "print(sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER.hex(), sys.version_info[:2])")


def _probe(python: str) -> str:
    import subprocess
    try:
        out = subprocess.run([python, "-IS", "-c", _PROBE], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def launcher_python() -> str:
    """The interpreter the launchers start (see the module's docstring)."""
    choice = os.environ.get("DOCKYARD_LAUNCHER_PYTHON", "")
    if choice == "venv":
        return venv_python()
    candidate = choice or f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    if os.path.realpath(candidate) == os.path.realpath(sys.executable) or not os.access(candidate, os.X_OK):
        return venv_python()
    if _probe(candidate) != _probe(sys.executable):
        return venv_python()
    return candidate


def is_fast_launcher(path: str) -> bool:
    """Whether the executable at `path` is one of these launchers."""
    try:
        with open(path, "rb") as f:
            head = f.read(512).decode(errors="replace").split("\n")
    except OSError:
        return False
    name = os.path.basename(path)
    return len(head) > 1 and head[0].endswith(" -IS") and head[1].startswith(MARKER.format(name=name))


def precompile() -> None:
    """Bytecode for the whole dockyard package and the launchers' other imports."""
    import compileall
    import importlib
    import dockyard
    compileall.compile_dir(os.path.dirname(os.path.abspath(dockyard.__file__)), quiet=1)
    for name in sorted({m for _, _, extra in LAUNCHERS.values() for m in extra}):
        mod = importlib.import_module(name)
        path = mod.__file__ or ""
        if os.path.basename(path) == "__init__.py":
            compileall.compile_dir(os.path.dirname(path), quiet=1)
        elif path.endswith(".py"):
            compileall.compile_file(path, quiet=1)


def install(bin_dir: str, names: list[str] | None = None) -> list[str]:
    """Write the launchers into bin_dir (atomically; unchanged ones are left
    alone) and precompile. Returns their paths."""
    out = []
    python = launcher_python()
    for name in names or list(LAUNCHERS):
        path = os.path.join(bin_dir, name)
        text = script_text(name, python=python)
        try:
            with open(path) as f:
                current = f.read()
        except (OSError, UnicodeDecodeError):
            current = None
        if current != text:
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o755)
            os.replace(tmp, path)
        out.append(path)
    precompile()
    return out


if __name__ == "__main__":
    for p in install(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(sys.executable)):
        print(p)
