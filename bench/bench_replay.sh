#!/usr/bin/env bash
# clicksieve replay against tshark on one generated capture: >= 50,000 clicks
# (plus untracked requests and POST bodies) in keep-alive connections, with
# split, reordered, retransmitted and overlapping segments and 0-2 VLAN tags.
# Prints throughput and requests recovered; the truth is the generator's log.
# BENCH_CLICKS sets the click count (default 50000).
set -eu
: "${BUILD:=build}"
cd "$(dirname "$0")/.."
BIN=$PWD/$BUILD/clicksieve
GEN=$PWD/$BUILD/tests/helpers/gen_pcap
clicks=${BENCH_CLICKS:-50000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$GEN" ] || make --no-print-directory BUILD="$BUILD" "$BUILD/tests/helpers/gen_pcap" >/dev/null
command -v tshark >/dev/null || { echo "bench_replay: tshark missing (scripts/deps.sh bench)" >&2; exit 1; }

"$GEN" -n "$clicks" --vlan -s 42 -l "$tmp/truth.log" "$tmp/bench.pcap"
want=$(wc -l <"$tmp/truth.log")
bytes=$(stat -c %s "$tmp/bench.pcap")

now_ns() { date +%s%N; }

# Best of three for the fast tool; tshark once (it takes minutes).
best=0
for _ in 1 2 3; do
	t0=$(now_ns)
	"$BIN" replay --stats "$tmp/bench.pcap" >"$tmp/replay.json" 2>"$tmp/replay.stats"
	t=$(( $(now_ns) - t0 ))
	if [ "$best" -eq 0 ] || [ "$t" -lt "$best" ]; then best=$t; fi
done
replay_ns=$best
replay_found=$(sed -nE 's/^requests ([0-9]+),.*/\1/p' "$tmp/replay.stats")
replay_clicks=$(wc -l <"$tmp/replay.json")
packets=$(sed -nE 's/^packets ([0-9]+),.*/\1/p' "$tmp/replay.stats")

t0=$(now_ns)
tshark_found=$(tshark -r "$tmp/bench.pcap" -Y http.request -T fields -e frame.number 2>/dev/null | wc -l)
tshark_ns=$(( $(now_ns) - t0 ))

t0=$(now_ns)
tshark_ooo_found=$(tshark -r "$tmp/bench.pcap" -o tcp.reassemble_out_of_order:TRUE \
	-Y http.request -T fields -e frame.number 2>/dev/null | wc -l)
tshark_ooo_ns=$(( $(now_ns) - t0 ))

row() {
	awk -v name="$1" -v ns="$2" -v found="$3" -v want="$want" -v bytes="$bytes" -v pk="$packets" 'BEGIN {
		s = ns / 1e9
		printf "%-44s %9.2f %9.1f %10.0f %9d %8.1f %%\n", name, s, bytes / 1e6 / s, pk / s, found, 100 * found / want
	}'
}

echo "replay vs tshark: $clicks clicks, $want requests, $packets packets ($((bytes / 1000000)) MB)"
printf '%-44s %9s %9s %10s %9s %10s\n' tool seconds MB/s packets/s requests recovered
row "clicksieve replay" "$replay_ns" "$replay_found"
row "tshark -Y http.request" "$tshark_ns" "$tshark_found"
row "tshark -Y http.request (out-of-order reasm)" "$tshark_ooo_ns" "$tshark_ooo_found"
awk -v a="$tshark_ns" -v b="$tshark_ooo_ns" -v r="$replay_ns" 'BEGIN {
	printf "throughput ratio: %.0fx over tshark, %.0fx over tshark with out-of-order reassembly (target >= 20x)\n", a / r, b / r
}'
echo "clicks printed by replay: $replay_clicks of $clicks"
