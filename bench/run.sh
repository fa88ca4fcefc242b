#!/usr/bin/env bash
# Runs every benchmark part (bench/bench_*.sh) in order; each prints its table.
set -eu
: "${BUILD:=build}"
export BUILD
cd "$(dirname "$0")/.."
for part in bench/bench_*.sh; do
	[ -f "$part" ] || continue
	echo "== $part"
	bash "$part"
done
