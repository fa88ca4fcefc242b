#!/usr/bin/env bash
# XDP per-packet cost (BPF_PROG_TEST_RUN, needs root) with the cloud provider
# feeds loaded into the range tries. `make bench` builds $BUILD/bench/bench_xdp;
# arguments go to it (e.g. --only ACK).
set -eu
: "${BUILD:=build}"
root=$(cd "$(dirname "$0")/.." && pwd)
feeds=$root/../shared/feeds
list=$root/$BUILD/bench/cloud-ranges.txt

python3 "$root/bench/feeds_to_list.py" "$feeds" >"$list"
"$root/$BUILD/bench/bench_xdp" "$@" "$list"
