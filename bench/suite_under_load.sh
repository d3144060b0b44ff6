#!/usr/bin/env bash
# The whole test suite from a clean clone of HEAD, RUNS times in a row, while a CPU-bound job
# keeps one core busy the whole time (as another CI job sharing the machine would).
# Prints each run's pytest summary line and its wall time, and keeps each run's whole output
# as suite-run-N.log in SUITE_LOG_DIR (default /tmp); the clone is removed afterwards.
#   bench/suite_under_load.sh [RUNS] [extra pytest arguments…]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
shift || true
work="$(mktemp -d)"
trap 'kill "$hog" 2>/dev/null || true; rm -rf "$work"' EXIT

git clone --quiet . "$work/footage"
# One core busy: a plain Python loop, at the same priority as the tests.
python3 -c 'while True: pass' &
hog=$!
echo "commit $(git rev-parse --short HEAD); $(nproc) cores; one kept busy by pid $hog"
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  set +e
  (cd "$work/footage" && CI=true scripts/test -q -p no:cacheprovider "$@" </dev/null) \
    >"$work/run-$i.log" 2>&1
  status=$?
  set -e
  took=$(( $(date +%s) - start ))
  # pytest's last line: "N passed, … in S s" (with -q there are no "=" around it).
  summary="$(grep -E '(passed|failed|error).* in [0-9.]+s' "$work/run-$i.log" | tail -1 || true)"
  cp "$work/run-$i.log" "${SUITE_LOG_DIR:-/tmp}/suite-run-$i.log"
  echo "run $i: exit $status, ${took} s wall: ${summary}"
  if [[ $status -ne 0 ]]; then
    grep -E '^(FAILED|ERROR) ' "$work/run-$i.log" || true
  fi
done
