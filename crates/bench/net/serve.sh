# Sourced by run.sh and soak.sh: a fresh data dir in $work (removed on exit)
# and a release `shouwang serve` on 127.0.0.1:38080 with one TCP syslog
# listener on 127.0.0.1:38514; its pid is in $work/pid. `before_serve`, if
# defined, runs against the data dir before the server starts.
here=$(cd "$(dirname "$0")" && pwd)
bin=${SHOUWANG_BIN:-${CARGO_TARGET_DIR:-target}/release/shouwang}
work=$(mktemp -d)
trap 'kill $(cat "$work/pid" 2>/dev/null) 2>/dev/null; rm -rf "$work"' EXIT
export SHOUWANG_DATA_DIR=$work/data
printf '[[ingest.syslog]]\nname = "bench-tcp"\nlisten = "127.0.0.1:38514"\ntransport = "tcp"\n' >"$work/shouwang.toml"
if declare -F before_serve >/dev/null; then before_serve; fi
"$bin" --config "$work/shouwang.toml" serve --listen 127.0.0.1:38080 >"$work/serve.log" 2>&1 &
echo $! >"$work/pid"
sleep 2
