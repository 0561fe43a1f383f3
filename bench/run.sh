#!/usr/bin/env bash
# The published benchmark, from a fresh clone: builds partyline, makes a throwaway venv
# with the Python peers (target/bench-venv, from PyPI, ~2.5 GB: torch's Linux wheel
# brings its CUDA libraries), and runs `partyline bench` twice:
#   fast:     MiniLM int8, 10,000 generated sentences, 5 runs, peers (a) and (b)
#   accurate: MPNet f32,      500 generated sentences, 5 runs, peers (a) and (b)
# Reports: target/bench/fast/bench.md and target/bench/accurate/bench.md (+ bench.json).
# Usage: bench/run.sh [fast|accurate|all] [extra partyline bench flags...]
# About 15 minutes on 2 quiet cores (45 under the load of BENCHMARKS.md). Scaling: bench/scaling.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
shift || true
venv=target/bench-venv
if ! "$venv/bin/python" -c "import torch, transformers, onnxruntime" 2>/dev/null; then
  python3 -m venv "$venv"
  # A torch wheel already downloaded (e.g. for the training build) saves the big download.
  "$venv/bin/pip" install -q --find-links "${PARTYLINE_CACHE:-$HOME/.cache/partyline}/wheels" \
    -r bench/requirements.txt
fi
cargo build --release
bin=target/release/partyline
"$bin" setup --model all
echo "load before: $(uptime)"
if [ "$which" = fast ] || [ "$which" = all ]; then
  "$bin" bench --model fast --sentences 10000 --runs 5 --out-dir target/bench/fast \
    --peers "$venv/bin/python" "$@"
fi
if [ "$which" = accurate ] || [ "$which" = all ]; then
  "$bin" bench --model accurate --sentences 500 --runs 5 --out-dir target/bench/accurate \
    --peers "$venv/bin/python" "$@"
fi
echo "load after: $(uptime)"
