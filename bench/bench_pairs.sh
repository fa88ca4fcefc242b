#!/usr/bin/env bash
# Classifier memory per active pair (1,000,000 pairs) and clicks/s through
# feed + advance, without and with the shipped range and agent lists.
set -eu
: "${BUILD:=build}"
cd "$(dirname "$0")/.."
bin=$BUILD/bench/bench_pairs
[ -x "$bin" ] || make --no-print-directory BUILD="$BUILD" "$BUILD/bench/bench_pairs" >/dev/null
lists=()
[ -f data/default-ranges.txt ] && lists+=(--ranges data/default-ranges.txt)
[ -f data/bot-agents.txt ] && lists+=(--agents data/bot-agents.txt)
"$bin" --pairs 1000000 --clicks 4000000 "${lists[@]}"
