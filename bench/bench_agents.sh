#!/usr/bin/env bash
# Per-click parsing: bot-agent matching over the shipped list, tracking-URL
# extraction, JSON verdict lines. `make bench` builds $BUILD/bench/bench_agents.
set -eu
: "${BUILD:=build}"
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/$BUILD/bench/bench_agents" "$root/data/bot-agents.txt"
