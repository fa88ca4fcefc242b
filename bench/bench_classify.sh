#!/usr/bin/env bash
# classify throughput and peak RSS on a generated combined log of >= 1M
# lines, side by side with goaccess parsing the same log. Rows:
#   classify            every stage; 93% of the lines are tracked clicks
#   classify, no clicks same log, tracking path that matches nothing: parse + track only
#   goaccess            --log-format=COMBINED, JSON report
# Each command runs RUNS times (default 3); the fastest run is reported.
# Usage: BUILD=build bench/bench_classify.sh [INSTANCES]   (29 lines each)
set -eu
: "${BUILD:=build}"
cd "$(dirname "$0")/.."
instances=${1:-35000}
runs=${RUNS:-3}
bin=$PWD/$BUILD/clicksieve
gen=$PWD/$BUILD/tests/helpers/gen_log
make --no-print-directory BUILD="$BUILD" "$BUILD/clicksieve" "$BUILD/tests/helpers/gen_log" >/dev/null

tmp=$(mktemp -d /tmp/cs-bench-classify.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$gen" -n "$instances" "$tmp/access.log" "$tmp/expected" "$tmp/ranges.txt"
lines=$(wc -l < "$tmp/access.log")
printf '[track]\npath = /no-such-tracking-path\n' > "$tmp/untracked.conf"

# measure NAME COMMAND...: fastest of $runs runs; prints one table row.
measure() {
	local name=$1; shift
	local best_wall= best_rss= best_cpu= i
	for ((i = 0; i < runs; i++)); do
		/usr/bin/time -f '%e %M %U %S' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/stderr" || {
			echo "bench: $name failed:" >&2
			cat "$tmp/stderr" >&2
			return 1
		}
		read -r wall rss user sys < "$tmp/time"
		if [ -z "$best_wall" ] || awk -v a="$wall" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
			best_wall=$wall best_rss=$rss best_cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
		fi
	done
	awk -v n="$name" -v l="$lines" -v w="$best_wall" -v c="$best_cpu" -v r="$best_rss" 'BEGIN {
		if (w < 0.01) w = 0.01
		if (c < 0.01) c = 0.01
		printf "%-22s %10d %8.2f %12.0f %12.0f %10.1f\n", n, l, w, l / w, l / c, r / 1024
	}'
}

echo "log: $lines lines, $(du -m "$tmp/access.log" | cut -f1) MB, $(grep -c . "$tmp/expected") clicks; best of $runs runs"
printf '%-22s %10s %8s %12s %12s %10s\n' tool lines wall_s lines/s lines/cpu_s peak_MB
measure "classify" "$bin" classify -r "$tmp/ranges.txt" --honeypot hp-trap "$tmp/access.log"
measure "classify, no clicks" "$bin" classify -r "$tmp/ranges.txt" --config "$tmp/untracked.conf" "$tmp/access.log"
if command -v goaccess >/dev/null; then
	runs=1 measure "goaccess" goaccess --log-format=COMBINED --no-progress \
		-o "$tmp/report.json" "$tmp/access.log"
else
	echo "goaccess: not installed (scripts/deps.sh bench)"
fi
