#!/usr/bin/env bash
# clicksieve replay: arguments, link types, reassembly on generated captures,
# and the identity with `classify` on the equivalent access log.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
GEN=$PWD/$BUILD/tests/helpers/gen_pcap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

FORMAT=$("$GEN" --print-format)

# Verdict lines without file/line, sorted: replay and classify must agree.
verdicts() { sed -E 's/,"(file|line)":("[^"]*"|[0-9]+)//g' "$1" | sort; }

# same_verdicts NAME N GEN-ARGS...: generate, replay, classify, compare.
# $OPTS holds options for both replay and classify.
OPTS=()
same_verdicts() {
	local name=$1 n=$2; shift 2
	"$GEN" -n "$n" -l "$tmp/$name.log" "$@" "$tmp/$name.pcap" || { not_ok "$name: generate"; return; }
	"$BIN" replay "${OPTS[@]}" "$tmp/$name.pcap" >"$tmp/$name.replay" 2>"$tmp/$name.err"
	"$BIN" classify "${OPTS[@]}" -f "$FORMAT" "$tmp/$name.log" >"$tmp/$name.classify" 2>>"$tmp/$name.err"
	local got
	got=$(wc -l <"$tmp/$name.replay")
	if [ "$got" -eq "$n" ] && cmp -s <(verdicts "$tmp/$name.replay") <(verdicts "$tmp/$name.classify"); then
		ok "$name: $n clicks, same verdicts as classify on the access log"
	else
		not_ok "$name: $got of $n clicks, or verdicts differ from classify"
		diff <(verdicts "$tmp/$name.replay") <(verdicts "$tmp/$name.classify") | head -5 | sed 's/^/# /'
	fi
}

# --- arguments
out=$("$BIN" replay --help); rc=$?
[ "$rc" -eq 0 ] && [[ "$out" == Usage:* ]]
check "--help exits 0 with usage on stdout" [ $? -eq 0 ]
expect_exit 2 "no input file" "$BIN" replay
expect_exit 2 "unknown option" "$BIN" replay --bogus x.pcap
expect_exit 2 "bad port list" "$BIN" replay -p 80,0 x.pcap
expect_exit 2 "bad port range" "$BIN" replay -p 90-80 x.pcap
expect_exit 2 "bad duration" "$BIN" replay --burst-window soon x.pcap
printf 'GET / HTTP/1.1\r\n\r\n' >"$tmp/not.pcap"
err=$("$BIN" replay "$tmp/not.pcap" 2>&1 >/dev/null); rc=$?
[ "$rc" -eq 2 ] && [[ "$err" == *"$tmp/not.pcap"* ]]
check "a file that is not a capture: exit 2, error names it" [ $? -eq 0 ]
expect_exit 2 "a missing file" "$BIN" replay "$tmp/missing.pcap"

# --- identity with classify, every link type, with split, reordered,
# retransmitted and overlapping segments, keep-alive, bodies, IPv6
same_verdicts ethernet-vlan 400 --vlan -s 1
same_verdicts ethernet 300 -s 2
same_verdicts sll 200 -t sll -s 3
same_verdicts sll2 200 -t sll2 -s 4
same_verdicts raw-ip 200 -t raw -s 5
OPTS=(--trust-proxy 192.0.2.1 --trust-proxy 2001:db8::1)
same_verdicts proxy-protocol 200 --proxy-protocol --vlan -s 6
same_verdicts xff-trusted 200 --xff -s 8
OPTS=()

check "PROXY protocol: clients are the header's sources, not the balancer" \
	bash -c "! grep -qE '\"ip\":\"(192.0.2.1|2001:db8::1)\"' '$tmp/proxy-protocol.replay'"
check "--trust-proxy: clients come from X-Forwarded-For" \
	bash -c "! grep -qE '\"ip\":\"(192.0.2.1|2001:db8::1)\"' '$tmp/xff-trusted.replay'"
n=$("$BIN" replay "$tmp/xff-trusted.pcap" | grep -cE '"ip":"(192.0.2.1|2001:db8::1)"')
check "X-Forwarded-For without --trust-proxy: the balancer is the client" [ "$n" -eq 200 ]
n=$("$BIN" replay "$tmp/proxy-protocol.pcap" | grep -cE '"ip":"(192.0.2.1|2001:db8::1)"')
check "PROXY header without --trust-proxy: the balancer is the client" [ "$n" -eq 200 ]

check "the captures hold IPv6 clicks" grep -q '"ip":"2001:db8:' "$tmp/ethernet-vlan.replay"
check "the captures hold VLAN-tagged frames" \
	bash -c "tshark -r '$tmp/ethernet-vlan.pcap' -Y vlan -c 1 2>/dev/null | grep -q . || ! command -v tshark >/dev/null"

"$BIN" replay --stats "$tmp/ethernet-vlan.pcap" >/dev/null 2>"$tmp/stats"
check "--stats: reordered and retransmitted data seen, nothing lost" \
	grep -qE 'out of order [1-9][0-9]*, retransmitted bytes [1-9]' "$tmp/stats"
check "--stats: no desync, no request lost, bodies skipped" \
	grep -qE 'lost to holes 0, over header budget 0, malformed 0, incomplete 0, desyncs 0' "$tmp/stats"
check "--stats: untracked requests counted" grep -qE 'not tracking URLs [1-9]' "$tmp/stats"

# --- ports
expect_exit 0 "-p on another port" "$BIN" replay -p 8080 "$tmp/ethernet.pcap"
n=$("$BIN" replay -p 8080 "$tmp/ethernet.pcap" | wc -l)
check "-p 8080: port-80 clicks are not read" [ "$n" -eq 0 ]
"$GEN" -n 50 -p 8080 --simple "$tmp/p8080.pcap"
n=$("$BIN" replay -p 80,8000-8090 "$tmp/p8080.pcap" | wc -l)
check "-p 80,8000-8090 reads port 8080" [ "$n" -eq 50 ]

n=$("$BIN" replay - <"$tmp/sll.pcap" | wc -l)
check "'-' reads a capture from stdin" [ "$n" -eq 200 ]

# --- several files are one capture
n=$("$BIN" replay "$tmp/sll.pcap" "$tmp/raw-ip.pcap" | wc -l)
check "two files: clicks of both" [ "$n" -eq 400 ]

# --- frames cut by the snapshot length: holes, counted, never garbage
"$GEN" -n 200 -s 7 --snaplen 160 "$tmp/cut.pcap"
"$BIN" replay --stats "$tmp/cut.pcap" >"$tmp/cut.replay" 2>"$tmp/cut.stats"; rc=$?
check "snaplen-cut capture replays (exit 0)" [ "$rc" -eq 0 ]
check "snaplen-cut capture: holes and lost requests counted" \
	grep -qE 'holes [1-9].*' "$tmp/cut.stats"
check "snaplen-cut capture: cut frames counted" grep -qE 'cut by snaplen [1-9]' "$tmp/cut.stats"
"$GEN" -n 200 -s 7 "$tmp/whole.pcap"
"$BIN" replay "$tmp/whole.pcap" >"$tmp/whole.replay"
check "snaplen-cut capture: no click that the whole capture lacks" \
	bash -c "! grep -vxFf <(cut -d, -f1-6 '$tmp/whole.replay') <(cut -d, -f1-6 '$tmp/cut.replay') | grep -q ."
