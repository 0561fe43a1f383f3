#!/usr/bin/env bash
# Scaling of `partyline score --model fast`: wall time and peak memory at N sentences of
# the generated corpus, with resident memory sampled every 10 s (the streaming check).
# Usage: bench/scaling.sh N [N...]      e.g. bench/scaling.sh 10000 100000 1000000
# Writes target/scaling/score-N.{time,rss,log} and appends a line per N to
# target/scaling/results.tsv: sentences, wall seconds, peak RSS kB, load before/after.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/partyline
[ -x "$bin" ] || cargo build --release
mkdir -p target/scaling
for n in "$@"; do
  corpus=target/scaling/corpus-$n.jsonl
  [ -s "$corpus" ] || "$bin" bench --write-corpus "$corpus" --sentences "$n"
  out=target/scaling/scored-$n.jsonl
  rm -f "$out" "$out.partial" "$out.checkpoint"
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -v "$bin" score --model fast --offline "$corpus" -o "$out" \
    2> target/scaling/score-$n.time &
  timer=$!
  sleep 1
  pid=$(pgrep -P "$timer" partyline || true)
  : > target/scaling/score-$n.rss
  while kill -0 "$timer" 2>/dev/null; do
    if [ -n "$pid" ] && [ -r /proc/$pid/status ]; then
      rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
      part=$(stat -c %s "$out.partial" 2>/dev/null || echo 0)
      echo "$(date +%s) $rss $part" >> target/scaling/score-$n.rss
    fi
    sleep 10
  done
  wait "$timer"
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' target/scaling/score-$n.time)
  peak=$(awk -F': ' '/Maximum resident set size/ {print $2}' target/scaling/score-$n.time)
  secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$secs" "$peak" "$before" "$after" | tee -a target/scaling/results.tsv
done
