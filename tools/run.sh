#!/usr/bin/env bash
# `make run`: start dockyardd if it is not running, create busybox:latest if
# absent, run the hello container. Rerunnable.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/.venv/bin
SOCK=/run/dockyard/dockyard.sock
export DOCKYARD_HOST=unix://$SOCK

if ! "$BIN/dockyard" version >/dev/null 2>&1; then
    mkdir -p /var/log
    echo "starting dockyardd (log: /var/log/dockyardd.log)"
    nohup "$BIN/dockyardd" --pidfile /run/dockyard/dockyardd.pid >>/var/log/dockyardd.log 2>&1 &
    for _ in $(seq 1 100); do
        "$BIN/dockyard" version >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$BIN/dockyard" version >/dev/null
fi

if ! "$BIN/dockyard" image inspect busybox:latest >/dev/null 2>&1; then
    echo "creating busybox:latest from $(command -v busybox)"
    .venv/bin/python tools/busybox_rootfs.py - | "$BIN/dockyard" import -c 'CMD ["sh"]' -m "busybox from the host's busybox-static" - busybox:latest
fi

echo "+ dockyard run --rm busybox echo hello from dockyard"
"$BIN/dockyard" run --rm busybox echo hello from dockyard
