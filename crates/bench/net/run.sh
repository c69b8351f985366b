#!/usr/bin/env bash
# Network ingest acceptance (BENCHMARKS.md, "Network ingest"): a release
# `shouwang serve` with one TCP syslog listener on a fresh data dir, then
# ApacheBench for HTTP and syslog_tcp.py for syslog, five runs each.
# Needs: apache2-utils (ab), python3, a release build (cargo build --release -p shouwang).
set -euo pipefail
before_serve() {
    "$bin" user add probe --role sensor 2>/dev/null
    token=$("$bin" token create probe)
    python3 "$here/eve_body.py" 1000 >"$work/body.json"
}
. "$(dirname "$0")/serve.sh"
for _ in 1 2 3 4 5; do
    /usr/bin/time -f "ab cpu: user %U s, sys %S s, wall %e s" \
        ab -q -k -n 120 -c 4 -p "$work/body.json" -T application/x-ndjson \
        -H "Authorization: Bearer $token" "http://127.0.0.1:38080/api/v1/ingest?format=eve" 2>&1 |
        grep -E "Requests per second|Non-2xx|Failed|ab cpu"
done
for _ in 1 2 3 4 5; do python3 "$here/syslog_tcp.py" 1000000 4; done
ps -o rss=,cmd= -p "$(cat "$work/pid")"
