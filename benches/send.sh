#!/usr/bin/env bash
# Sending throughput, measured side by side against Postfix's smtp-source.
#
#   benches/send.sh [N...]          (default N = 20000 100000)
#   CONNS="1 4 16" DKIM=1 benches/send.sh 20000
#
# For each N and each connection count, in one run: starts smtp-sink on
# loopback, sends the Sunday sample to N generated subscribers with almanac
# (release build), then has smtp-source send N messages of the same size over
# the same number of sessions to the same sink. Prints messages/second for
# both, their ratio, and almanac's peak memory (max RSS). With DKIM=1 almanac
# also signs every message with a 2048-bit RSA key.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SIZES=("${@:-20000 100000}")
read -r -a SIZES <<< "${SIZES[*]}"
read -r -a CONNS <<< "${CONNS:-1 4 16}"
PORT="${PORT:-25251}"

for tool in smtp-sink smtp-source /usr/bin/time; do
  command -v "$tool" > /dev/null || { echo "benches/send.sh needs $tool (apt-get install postfix time)"; exit 1; }
done

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/almanac"
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

cp -r "$ROOT/newsletter.toml" "$ROOT/layouts" "$ROOT/issues" "$WORK/"
if [[ "${DKIM:-0}" == 1 ]]; then
  openssl genrsa -out "$WORK/dkim.pem" 2048 2> /dev/null
  printf '\n[dkim]\ndomain = "almanac.example"\nselector = "bench"\nkey = "dkim.pem"\n' >> "$WORK/newsletter.toml"
fi

gen_subscribers() {
  python3 - "$1" > "$WORK/subscribers.csv" <<'EOF'
import sys
n = int(sys.argv[1])
print("email,name,editions")
for i in range(n):
    print(f"reader{i}@example.com,Reader {i},both")
EOF
}

start_sink() {
  smtp-sink -u nobody 127.0.0.1:"$PORT" 1024 &
  SINK=$!
  sleep 0.3
}
stop_sink() { kill "$SINK" 2> /dev/null || true; wait "$SINK" 2> /dev/null || true; }

MSG_BYTES=$(cd "$WORK" && "$BIN" build 2026-11-29-sunday --quiet && wc -c < out/2026-11-29-sunday/message.eml)
printf '%-8s %-6s %-14s %-14s %-7s %s\n' N conns almanac_msg/s source_msg/s ratio almanac_max_rss_MB
for N in "${SIZES[@]}"; do
  gen_subscribers "$N"
  for C in "${CONNS[@]}"; do
    sed -i "s/^connections = .*/connections = $C/" "$WORK/newsletter.toml"
    rm -rf "$WORK/state"
    start_sink
    START=$(date +%s.%N)
    ( cd "$WORK" && ALMANAC_SUBSCRIBERS=subscribers.csv ALMANAC_SMTP_URL="smtp://127.0.0.1:$PORT" \
        ALMANAC_UNSUBSCRIBE_SECRET=bench /usr/bin/time -f '%M' -o "$WORK/rss" \
        "$BIN" send 2026-11-29-sunday --yes --json > "$WORK/summary.json" )
    END=$(date +%s.%N)
    stop_sink
    SENT=$(python3 -c "import json;print(json.load(open('$WORK/summary.json'))['sent'])")
    [[ "$SENT" == "$N" ]] || { echo "almanac sent $SENT of $N"; exit 1; }
    A=$(python3 -c "print(f'{$N/($END-$START):.0f}')")

    start_sink
    START=$(date +%s.%N)
    smtp-source -s "$C" -m "$N" -l "$MSG_BYTES" -f letters@almanac.example -t reader@example.com 127.0.0.1:"$PORT"
    END=$(date +%s.%N)
    stop_sink
    S=$(python3 -c "print(f'{$N/($END-$START):.0f}')")
    R=$(python3 -c "print(f'{$A/$S:.2f}')")
    RSS=$(python3 -c "print(f'{int(open(\"$WORK/rss\").read().split()[-1])/1024:.1f}')")
    printf '%-8s %-6s %-14s %-14s %-7s %s\n' "$N" "$C" "$A" "$S" "$R" "$RSS"
  done
done
echo "message size: $MSG_BYTES bytes; almanac time is the whole process (load, render, journal, send)"
