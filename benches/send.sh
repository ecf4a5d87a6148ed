#!/usr/bin/env bash
# Sending throughput, measured side by side against Postfix's smtp-source.
#
#   benches/send.sh [N]                   N subscribers (default 20000)
#   CONNS="1 4 16" ROUNDS=3 DKIM=both MILLION=0 benches/send.sh 20000
#
# Builds the release binary, generates N subscribers and imports them with
# `almanac subscribers import`, starts Postfix's smtp-sink on loopback, and
# for each connection count (1, 4, 16) runs, in interleaved rounds (the
# order of the two senders alternates from round to round):
#
#   almanac send 2026-11-29-sunday          whole process: load, render,
#                                           list, journal, send
#   smtp-source -d -s C -m N -F message.eml the yardstick, with session
#                                           reuse (-d), sending almanac's own
#                                           built message (signed, with DKIM)
#
# into the same sink, and prints the median messages/second of each, their
# ratio and almanac's peak RSS. DKIM=0 measures unsigned messages only,
# DKIM=1 only messages signed with a fresh RSA-2048 key, DKIM=both (the
# default) both. Each almanac run starts from the same freshly imported
# database, so every run sends to all N.
#
# MILLION=1 adds the million-subscriber checks (MILLION=only runs just
# those; BIG=1000000 sets the size): the import time of a 1 M-row CSV; a
# whole 1 M send (4 connections, the sample's default) with its peak RSS
# and the time from starting the process to the sink's first accepted
# message; the exactly-once check: kill -9 at three points of a 1 M send
# into benches/count_sink.py (which records every delivered recipient),
# re-run each time, then count: nobody missing, duplicates at most one per
# connection per kill; and what syncing a 1 M-row `paths.subscribers` CSV
# does to the time to first message and to memory.
#
# Every target of issue 15 that the run measures is checked at the end;
# each one missed prints "TARGET MISSED: ..." and the script exits 1. It
# exits 0 only when every target it measured was met. Not part of CI
# (.ci/run): it takes minutes (MILLION=1: about 50 minutes) and the
# figures need a quiet machine. Compare ratios within one run, never
# absolute rates across runs.
set -euo pipefail
export PATH="$PATH:/usr/sbin"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-20000}"
read -r -a CONNS <<< "${CONNS:-1 4 16}"
ROUNDS="${ROUNDS:-3}"
DKIM="${DKIM:-both}"
MILLION="${MILLION:-0}"
BIG="${BIG:-1000000}"
BIG_CONNS="${BIG_CONNS:-4}"
PORT="${PORT:-25251}"
ISSUE=2026-11-29-sunday
export ALMANAC_UNSUBSCRIBE_SECRET=bench-secret

case "$DKIM" in 0) MODES=(plain) ;; 1) MODES=(dkim) ;; both) MODES=(plain dkim) ;; *) echo "DKIM is 0, 1 or both" >&2; exit 2 ;; esac
[[ "$MILLION" == only ]] && MODES=()

for tool in smtp-sink smtp-source /usr/bin/time openssl python3 cargo; do
  command -v "$tool" > /dev/null || { echo "benches/send.sh needs $tool (apt-get install postfix time openssl python3)" >&2; exit 1; }
done

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/almanac"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/almanac-bench.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  [[ "${KEEP:-0}" == 1 ]] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

MISSED=()
missed() { echo "TARGET MISSED: $*"; MISSED+=("$*"); }
now() { date +%s.%N; }
py() { python3 -c "$@"; }

# A copy of the sample project; the list lives in the database only (no
# `paths.subscribers` CSV to sync), optionally with a DKIM key.
project() {
  local dir="$1" dkim="$2"
  mkdir -p "$dir"
  cp -r "$ROOT/newsletter.toml" "$ROOT/layouts" "$ROOT/issues" "$dir/"
  sed -i '/^subscribers = /d' "$dir/newsletter.toml"
  if [[ "$dkim" == 1 ]]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/dkim.pem" 2> /dev/null
    printf '\n[dkim]\ndomain = "almanac.example"\nselector = "bench"\nkey = "dkim.pem"\n' >> "$dir/newsletter.toml"
  fi
}

subscribers_csv() {
  python3 - "$1" "$2" << 'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("email,name,editions\n")
    f.writelines(f"reader{i}@example.com,Reader {i},both\n" for i in range(n))
EOF
}

# Imports CSV into a new state folder STATE; sets IMPORT_SECONDS, IMPORT_RSS_MB.
import_list() {
  local proj="$1" csv="$2" state="$3"
  rm -rf "$state"
  local t0 t1
  t0=$(now)
  (cd "$proj" && ALMANAC_STATE_DIR="$state" /usr/bin/time -f '%M' -o "$WORK/import.rss" \
    "$BIN" subscribers import "$csv" > "$WORK/import.out" 2>&1) || { cat "$WORK/import.out"; exit 1; }
  t1=$(now)
  IMPORT_SECONDS=$(py "print(f'{$t1 - $t0:.1f}')")
  IMPORT_RSS_MB=$(rss_mb "$WORK/import.rss")
}

rss_mb() { py "import sys; print(f'{int([l for l in open(\"$1\") if l.strip().isdigit()][-1]) / 1024:.0f}')"; }

# The message smtp-source sends: almanac's own, as built for one reader
# (signed when the project has a key), taken from the outbox.
sample_message() {
  local proj="$1" out="$2" state="$WORK/sample-state"
  rm -rf "$state" "$proj/out/outbox"
  (cd "$proj" && ALMANAC_STATE_DIR="$state" "$BIN" subscribers add reader@example.com --name "Reader 1" > /dev/null &&
    ALMANAC_STATE_DIR="$state" "$BIN" send "$ISSUE" --outbox --yes > /dev/null)
  cp "$proj"/out/outbox/*.eml "$out"
  rm -rf "$state" "$proj/out/outbox"
}

# Waits until something listens on 127.0.0.1:PORT (a busy machine can take
# seconds to start Python).
wait_port() {
  py "
import socket, sys, time
for _ in range(300):
    try:
        socket.create_connection(('127.0.0.1', $1), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit('nothing listens on port $1')"
}

start_sink() {
  smtp-sink -u nobody 127.0.0.1:"$PORT" 1024 &
  SINK=$!
  PIDS+=("$SINK")
  wait_port "$PORT"
}

# almanac MODE C ROUND: one whole send of the issue to all N, from a fresh
# copy of the imported database.
run_almanac() {
  local mode="$1" c="$2" round="$3" proj="$WORK/$1" state="$WORK/state-run"
  sed -i "s/^connections = .*/connections = $c/" "$proj/newsletter.toml"
  rm -rf "$state"
  cp -r "$WORK/state-$N" "$state"
  local t0 t1
  t0=$(now)
  (cd "$proj" && ALMANAC_STATE_DIR="$state" ALMANAC_SMTP_URL="smtp://127.0.0.1:$PORT" \
    /usr/bin/time -f '%U %S\n%M' -o "$WORK/rss" "$BIN" send "$ISSUE" --yes --json > "$WORK/summary.json")
  t1=$(now)
  local sent
  sent=$(py "import json; print(json.load(open('$WORK/summary.json'))['sent'])")
  [[ "$sent" == "$N" ]] || { echo "almanac sent $sent of $N" >&2; exit 1; }
  local cpu
  cpu=$(py "u, s = open('$WORK/rss').read().split()[-3:-1]; print(round((float(u) + float(s)) / $N * 1e6))")
  echo "$mode $c $round almanac $(py "print($t1 - $t0)") $(rss_mb "$WORK/rss") $cpu" >> "$WORK/results"
}

run_source() {
  local mode="$1" c="$2" round="$3"
  local t0 t1
  t0=$(now)
  smtp-source -d -s "$c" -m "$N" -F "$WORK/message-$mode.eml" \
    -f letters@almanac.example -t reader@example.com 127.0.0.1:"$PORT"
  t1=$(now)
  echo "$mode $c $round source $(py "print($t1 - $t0)") - -" >> "$WORK/results"
}

if ((${#MODES[@]})); then
  echo "almanac vs smtp-source -d, N = $N, $ROUNDS interleaved rounds, medians ($(nproc) cores; load now: $(cut -d' ' -f1-3 /proc/loadavg))"
  subscribers_csv "$N" "$WORK/subscribers.csv"
  for mode in "${MODES[@]}"; do
    project "$WORK/$mode" "$([[ $mode == dkim ]] && echo 1 || echo 0)"
    sample_message "$WORK/$mode" "$WORK/message-$mode.eml"
  done
  import_list "$WORK/${MODES[0]}" "$WORK/subscribers.csv" "$WORK/state-$N"
  : > "$WORK/results"
  start_sink
  for round in $(seq 1 "$ROUNDS"); do
    for mode in "${MODES[@]}"; do
      for c in "${CONNS[@]}"; do
        if ((round % 2)); then
          run_almanac "$mode" "$c" "$round"
          run_source "$mode" "$c" "$round"
        else
          run_source "$mode" "$c" "$round"
          run_almanac "$mode" "$c" "$round"
        fi
      done
    done
  done
  SIZES=$(for mode in "${MODES[@]}"; do printf '%s=%s ' "$mode" "$(wc -c < "$WORK/message-$mode.eml")"; done)
  python3 - "$WORK/results" "$N" "$SIZES" > "$WORK/table" 2> "$WORK/ratios" << 'EOF'
import statistics, sys
from collections import defaultdict
path, n, sizes = sys.argv[1], int(sys.argv[2]), dict(s.split("=") for s in sys.argv[3].split())
runs = defaultdict(list)
rss = defaultdict(list)
cpu = defaultdict(list)
by_round = {}
for line in open(path):
    mode, c, rnd, who, secs, mb, us = line.split()
    runs[mode, int(c), who].append(n / float(secs))
    by_round[mode, int(c), rnd, who] = n / float(secs)
    if who == "almanac":
        rss[mode, int(c)].append(float(mb))
        cpu[mode, int(c)].append(float(us))
print(f"{'mode':<14} {'conns':>5} {'almanac msg/s':>13} {'smtp-source -d':>14} {'ratio':>6} {'per round':>17} {'peak RSS':>9} {'CPU/msg':>8}")
for mode in ("plain", "dkim"):
    for c in sorted({k[1] for k in runs if k[0] == mode}):
        a = statistics.median(runs[mode, c, "almanac"])
        s = statistics.median(runs[mode, c, "source"])
        # The two senders of a round run back to back, so a change in the
        # machine's load between rounds touches both: the median of the
        # rounds' ratios is what the targets are judged on.
        rounds = sorted({k[2] for k in by_round if k[:2] == (mode, c)})
        pairs = [by_round[mode, c, r, "almanac"] / by_round[mode, c, r, "source"] for r in rounds]
        paired = statistics.median(pairs)
        label = "no DKIM" if mode == "plain" else "DKIM RSA-2048"
        shown = " ".join(f"{p:.2f}" for p in pairs)
        print(f"{label:<14} {c:>5} {a:>13.0f} {s:>14.0f} {a / s:>6.2f} {paired:>5.2f} ({shown:>9}) {max(rss[mode, c]):>6.0f} MB {statistics.median(cpu[mode, c]):>5.0f} µs")
        print(f"RATIO {mode} {c} {paired:.3f}", file=sys.stderr)
print("msg/s: medians of the rounds; ratio: of those medians; per round: the median of the rounds' ratios (each round's")
print("two runs are back to back), then each round's; peak RSS: the largest; CPU/msg: almanac's user+sys per message")
print("message sizes: " + ", ".join(f"{m} {int(b):,} bytes" for m, b in sizes.items()))
EOF
  cat "$WORK/table"
  while read -r _ mode c ratio; do
    [[ "$c" == 4 || "$c" == 16 ]] || continue
    want=$([[ $mode == plain ]] && echo 1.0 || echo 0.5)
    py "import sys; sys.exit(0 if $ratio >= $want else 1)" ||
      missed "$([[ $mode == plain ]] && echo "without DKIM" || echo "with RSA-2048 DKIM") at $c connections: almanac/smtp-source = $ratio (target >= $want)"
  done < "$WORK/ratios"
  kill "$SINK" 2> /dev/null || true
  wait "$SINK" 2> /dev/null || true
fi

if [[ "$MILLION" == 1 || "$MILLION" == only ]]; then
  echo
  echo "a million subscribers (BIG = $BIG, $BIG_CONNS connections, no DKIM)"
  BIGP="$WORK/big"
  project "$BIGP" 0
  sed -i "s/^connections = .*/connections = $BIG_CONNS/" "$BIGP/newsletter.toml"
  subscribers_csv "$BIG" "$WORK/big.csv"
  import_list "$BIGP" "$WORK/big.csv" "$WORK/state-big"
  echo "import of a $BIG-row CSV: $IMPORT_SECONDS s, peak RSS $IMPORT_RSS_MB MB"
  py "import sys; sys.exit(0 if $IMPORT_SECONDS < 30 else 1)" || missed "importing $BIG rows took $IMPORT_SECONDS s (target: well under a minute, < 30 s)"

  # A whole send into smtp-sink; its running counter (-c) is read as it
  # comes, and the first message's arrival is stamped.
  stamp_sink() {
    local port="$1" first="$2"
    rm -f "$first"
    smtp-sink -c -u nobody 127.0.0.1:"$port" 1024 > >(python3 -c '
import re, sys, time
stamped = False
while True:
    chunk = sys.stdin.buffer.raw.read(65536)
    if not chunk:
        break
    if not stamped and re.search(rb"mesg=[1-9]", chunk):
        t = time.time()
        with open(sys.argv[1], "w") as f:
            f.write(f"{t:.6f}\n")
        stamped = True
' "$first") &
    STAMP=$!
    PIDS+=("$STAMP")
    wait_port "$port"
  }
  stamp_sink $((PORT + 1)) "$WORK/first.big"
  rm -rf "$WORK/state-run"
  cp -r "$WORK/state-big" "$WORK/state-run"
  t0=$(now)
  (cd "$BIGP" && ALMANAC_STATE_DIR="$WORK/state-run" ALMANAC_SMTP_URL="smtp://127.0.0.1:$((PORT + 1))" \
    /usr/bin/time -f '%M' -o "$WORK/rss.big" "$BIN" send "$ISSUE" --yes --json > "$WORK/big.json")
  t1=$(now)
  sent=$(py "import json; print(json.load(open('$WORK/big.json'))['sent'])")
  [[ "$sent" == "$BIG" ]] || { echo "almanac sent $sent of $BIG" >&2; exit 1; }
  BIG_RSS=$(rss_mb "$WORK/rss.big")
  FIRST=$(py "print(f'{float(open(\"$WORK/first.big\").read()) - $t0:.2f}')")
  echo "whole send to $BIG: $(py "print(f'{$t1 - $t0:.0f} s, {$BIG / ($t1 - $t0):.0f} msg/s')"), peak RSS $BIG_RSS MB, first message accepted by the sink $FIRST s after start"
  py "import sys; sys.exit(0 if $BIG_RSS < 64 else 1)" || missed "peak RSS of the $BIG send is $BIG_RSS MB (target < 64 MB)"
  py "import sys; sys.exit(0 if $FIRST <= 5 else 1)" || missed "first message $FIRST s after start (target <= 5 s)"
  kill "$STAMP" 2> /dev/null || true

  # Exactly once: kill -9 at three points, re-run after each, then once more to the end.
  KPORT=$((PORT + 2))
  : > "$WORK/delivered"
  python3 "$ROOT/benches/count_sink.py" "$KPORT" "$WORK/delivered" "$WORK/first.kill" &
  KSINK=$!
  PIDS+=("$KSINK")
  wait_port "$KPORT"
  rm -rf "$WORK/state-run"
  cp -r "$WORK/state-big" "$WORK/state-run"
  BOUNDS=()
  KILL_RSS=0
  for at in 10 40 70 100; do
    target=$((BIG * at / 100))
    t0=$(now)
    (cd "$BIGP" && ALMANAC_STATE_DIR="$WORK/state-run" ALMANAC_SMTP_URL="smtp://127.0.0.1:$KPORT" \
      exec /usr/bin/time -f '%M' -o "$WORK/rss.kill" "$BIN" send "$ISSUE" --yes --json > "$WORK/kill.json" 2> "$WORK/kill.err") &
    TP=$!
    [[ $at == 10 ]] && K0=$t0
    if ((at < 100)); then
      while kill -0 "$TP" 2> /dev/null && (($(wc -l < "$WORK/delivered") < target)); do sleep 0.2; done
      AP=$(pgrep -P "$TP" || true)
      [[ -n "$AP" ]] && kill -9 "$AP"
      wait "$TP" 2> /dev/null || true
      sleep 1
      BOUNDS+=("$(wc -l < "$WORK/delivered")")
      echo "  kill -9 at $(wc -l < "$WORK/delivered") delivered"
    else
      wait "$TP" || { echo "the last re-run failed:"; cat "$WORK/kill.err"; }
      sleep 1
    fi
    r=$(rss_mb "$WORK/rss.kill")
    KILL_RSS=$((r > KILL_RSS ? r : KILL_RSS))
  done
  KFIRST=$(py "print(f'{float(open(\"$WORK/first.kill\").read()) - $K0:.2f}')")
  kill "$KSINK" 2> /dev/null || true
  VERDICT=$(python3 - "$WORK/delivered" "$BIG" "$BIG_CONNS" "${BOUNDS[@]}" << 'EOF'
import sys
from collections import Counter
path, n, conns, bounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(b) for b in sys.argv[4:]]
lines = open(path, "rb").read().split()
first_segment = {}
count = Counter()
for i, r in enumerate(lines):
    count[r] += 1
    first_segment.setdefault(r, sum(1 for b in bounds if i >= b))
expected = {f"reader{i}@example.com".encode() for i in range(n)}
missing = len(expected - count.keys())
strangers = len(count.keys() - expected)
dups = [0] * (len(bounds) + 1)
for r, k in count.items():
    if k > 1:
        dups[first_segment[r]] += k - 1
per_kill = dups[: len(bounds)]
ok = missing == 0 and strangers == 0 and all(d <= conns for d in per_kill) and dups[-1] == 0
print(f"{len(lines)} deliveries to {len(count)} recipients; missing {missing}; duplicates per kill {per_kill} (at most {conns} each); {'OK' if ok else 'FAILED'}")
EOF
  )
  echo "exactly once over kill -9 x3 + re-runs: $VERDICT; first message $KFIRST s after start; peak RSS of the runs $KILL_RSS MB"
  [[ "$VERDICT" == *OK ]] || missed "exactly-once: $VERDICT"
  ((KILL_RSS < 64)) || missed "peak RSS of a re-run is $KILL_RSS MB (target < 64 MB)"

  # The configured CSV synced before every send: a 1 M-row paths.subscribers.
  stamp_sink $((PORT + 3)) "$WORK/first.sync"
  rm -rf "$WORK/state-run"
  cp -r "$WORK/state-big" "$WORK/state-run"
  t0=$(now)
  (cd "$BIGP" && ALMANAC_SUBSCRIBERS="$WORK/big.csv" ALMANAC_STATE_DIR="$WORK/state-run" \
    ALMANAC_SMTP_URL="smtp://127.0.0.1:$((PORT + 3))" \
    exec /usr/bin/time -f '%M' -o "$WORK/rss.sync" "$BIN" send "$ISSUE" --yes --json > /dev/null 2>&1) &
  TP=$!
  while kill -0 "$TP" 2> /dev/null && [[ ! -s "$WORK/first.sync" ]] && py "import sys; sys.exit(0 if $(now) - $t0 < 600 else 1)"; do sleep 0.1; done
  sleep 2 # let memory settle into the send
  AP=$(pgrep -P "$TP" || true)
  [[ -n "$AP" ]] && kill -9 "$AP"
  wait "$TP" 2> /dev/null || true
  SFIRST=$( [[ -s "$WORK/first.sync" ]] && py "print(f'{float(open(\"$WORK/first.sync\").read()) - $t0:.2f}')" || echo never)
  echo "with paths.subscribers = the same $BIG-row CSV (synced before the send): first message $SFIRST s after start, peak RSS $(rss_mb "$WORK/rss.sync") MB (reported; the targets are for the list in the database)"
  kill "$STAMP" 2> /dev/null || true
fi

echo
if ((${#MISSED[@]})); then
  echo "${#MISSED[@]} target(s) missed:"
  printf '  TARGET MISSED: %s\n' "${MISSED[@]}"
  exit 1
fi
echo "every target measured in this run was met"
