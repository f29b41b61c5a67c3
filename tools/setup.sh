#!/usr/bin/env bash
# Idempotent setup for `make run` and `make test` on Debian 12 as root:
# the apt packages the engine and its tests need, then .venv with the package.
set -euo pipefail
cd "$(dirname "$0")/.."

# docker.io: Debian's Docker engine, a reference peer that tests and benchmarks
# start privately (tests/_support/dockerd.py); never run as a service.
# python3.11: Debian's build, which the per-command launchers start where it
# can run our code (src/dockyard/launcher.py); .venv may use another 3.11.
APT_PACKAGES=(busybox-static runc iptables iproute2 tmux skopeo docker-registry containerd libseccomp2 wrk gcc libc6-dev git
              docker.io python3.11)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Serialised: several checkouts may set up at once. Packaged services must
    # not start (tests run their own registry, containerd and dockerd): where
    # no policy-rc.d says so already, one denies starts for the install.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
    fi
    flock /tmp/dockyard-apt.lock sh -c "apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null" \
        || { [ -z "$policy" ] || rm -f "$policy"; exit 1; }
    [ -z "$policy" ] || rm -f "$policy"
    for svc in docker.socket docker docker-registry containerd; do
        if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
            systemctl stop "$svc" || true
            systemctl disable "$svc" >/dev/null 2>&1 || true
        fi
    done
fi

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
    for cand in python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1; then PYTHON=$(command -v "$cand"); break; fi
    done
fi
# pyenv shims re-exec through bash; use the real interpreter so .venv starts fast.
if command -v pyenv >/dev/null 2>&1 && [[ "$PYTHON" == *shims* ]]; then
    PYTHON=$(pyenv which python3 2>/dev/null || echo "$PYTHON")
fi

stamp=.venv/.stamp-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
    fi
    .venv/bin/pip install -q --disable-pip-version-check -e ".[test]" 2>&1 | grep -v -e "^WARNING: Location" || true
    .venv/bin/python -c "import dockyard, aiohttp, h11, pyroute2, pyseccomp, docker, pytest" 
    rm -f .venv/.stamp-*
    touch "$stamp"
fi

# dockyard-init (pid 1 for `run --init`): a small static C program beside the venv's scripts.
if [ ! -x .venv/bin/dockyard-init ] || [ src/init/dockyard-init.c -nt .venv/bin/dockyard-init ]; then
    gcc -Os -static -s -Wall -o .venv/bin/dockyard-init.tmp src/init/dockyard-init.c
    mv .venv/bin/dockyard-init.tmp .venv/bin/dockyard-init
fi
# The CLI, dockyard-runtime, -shim and -proxy start per command or container:
# replace pip's scripts with launchers that skip site (see src/dockyard/launcher.py).
# Idempotent; pip rewrites the scripts when it reinstalls, so this runs every time.
.venv/bin/python -m dockyard.launcher >/dev/null
