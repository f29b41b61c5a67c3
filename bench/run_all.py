#!/usr/bin/env python3
"""Run every bench_*.py in this directory."""

import glob
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
status = 0
for path in sorted(glob.glob(os.path.join(here, "bench_*.py"))):
    print(f"\n### {os.path.basename(path)}")
    status |= subprocess.run([sys.executable, path] + sys.argv[1:]).returncode
sys.exit(status)
