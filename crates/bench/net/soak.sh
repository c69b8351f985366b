#!/usr/bin/env bash
# Memory over a long run (BENCHMARKS.md, "Memory over ten minutes"): a release
# `shouwang serve` with one TCP syslog listener on a fresh data dir, fed
# RATE lines/s for SECONDS by soak.py, which samples RSS every 10 s.
# Usage: soak.sh [RATE [SECONDS]]   (defaults: 40000 lines/s, 600 s)
set -euo pipefail
. "$(dirname "$0")/serve.sh"
python3 "$here/soak.py" "$(cat "$work/pid")" "${1:-40000}" "${2:-600}"
du -sh "$work/data/events" "$work/data/spool"
