#!/usr/bin/env bash
# Userspace range matcher and kernel map sync: the cloud provider feeds as a
# range list (about 62k prefixes), then padded to 100k. The sync rows need
# root. `make bench` builds $BUILD/bench/bench_ranges.
set -eu
: "${BUILD:=build}"
root=$(cd "$(dirname "$0")/.." && pwd)
feeds=$root/../shared/feeds
list=$root/$BUILD/bench/cloud-ranges.txt

mkdir -p "$(dirname "$list")"
python3 "$root/bench/feeds_to_list.py" "$feeds" >"$list"
echo "-- cloud feeds (AWS, Azure, GCP, Oracle)"
"$root/$BUILD/bench/bench_ranges" "$list"
echo "-- padded to 100000 prefixes"
"$root/$BUILD/bench/bench_ranges" "$list" 100000
