#!/usr/bin/env bash
# Learned scanners live: an unlisted gateway bursts for several recipients
# through `clicksieve run`; it is written to the pinned learned maps,
# `ranges learned` lists it, its lone click on a one-link mail is machine
# (learned_range), the metrics count it, a restart restores it, and
# `ranges learned --forget` makes the running instance let go of it.
# Windows shrunk: burst 1s, reorder 1s (a verdict is final 2s after its click).
set -u
self=$(readlink -f "$0")
cd "$(dirname "$self")/../.." || exit 1
. tests/lib.sh
. tests/live/netns.sh
bpffs_private "$self" "$@"

PIN=/sys/fs/bpf/clicksieve
GATEWAY=203.0.113.50
GATEWAY_V6=2001:db8:77::50
PERSON=192.0.2.1
METRICS=127.0.0.1:9466
UA='Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

tmp=$(mktemp -d)
run_pid=
server_pid=
cleanup() {
	[ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	netns_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT


# start_run NAME ARGS...: run_start with this test's ranges, windows and metrics.
start_run() {
	local name=$1; shift
	run_start "$name" --ranges "$tmp/ranges.txt" --burst-window 1s --reorder-window 1s \
		--metrics "$METRICS" "$@"
}

# verdict FILE MESSAGE RECIPIENT LINK: "verdict reasons provider" of its record.
verdict() {
	python3 - "$@" <<'PY'
import json, sys
path, msg, rcpt, link = sys.argv[1:5]
for r in map(json.loads, open(path)):
    if (r["message"], r["recipient"], r["link"]) == (msg, rcpt, link):
        print(r["verdict"], ",".join(sorted(r["reasons"])) or "-", r["provider"] or "-")
        break
else:
    print("none")
PY
}

# expect_verdict FILE MESSAGE RECIPIENT LINK WANT: waits up to 5 s for the record.
expect_verdict() {
	local got _
	for _ in $(seq 50); do
		got=$(verdict "$1" "$2" "$3" "$4")
		[ "$got" != none ] && break
		sleep 0.1
	done
	if [ "$got" = "$5" ]; then ok "$2 $3 $4: $5"; else not_ok "$2 $3 $4: got '$got', want '$5'"; fi
}

metric() {
	netns_enter "$NS_SERVER" curl -s "http://$METRICS/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

netns_setup || { not_ok "netns setup"; exit 1; }
netns_client_addr "$GATEWAY"
netns_client_addr "$GATEWAY_V6"
mkdir -p "$tmp/www"
netns_spawn "$NS_SERVER" python3 -m http.server 80 --bind :: --directory "$tmp/www" >/dev/null 2>&1
server_pid=$NETNS_PID
for _ in $(seq 50); do
	netns_server bash -c 'exec 3<>/dev/tcp/127.0.0.1/80' 2>/dev/null && break
	sleep 0.1
done
printf '# test list: nothing the test clients use\n198.51.100.0/24 testscan\n' >"$tmp/ranges.txt"

start_run first
check "started" grep -q "attached to $VETH_SERVER" "$tmp/first.err"
check "nothing to restore on the first start" grep -q "learned scanners: 0 restored" "$tmp/first.err"
check "learned maps pinned" test -e "$PIN/learned_v4" -a -e "$PIN/learned_v6"

# The gateway fetches both links of a mail for four recipients, and so does
# an IPv6 one; a person clicks once.
for r in r1 r2 r3 r4; do
	click "$GATEWAY" m1 "$r" L1
	click "$GATEWAY" m1 "$r" L2
	click "$GATEWAY_V6" m1 "v6$r" L1
	click "$GATEWAY_V6" m1 "v6$r" L2
done
click "$PERSON" m1 p1 L1
expect_verdict "$tmp/first.out" m1 r1 L1 "machine burst -"
expect_verdict "$tmp/first.out" m1 r4 L2 "machine burst,learned_range learned"
"$BIN" ranges learned >"$tmp/list.txt"
check "ranges learned lists the gateway" grep -qE "^$GATEWAY/32 +[34] " "$tmp/list.txt"
check "ranges learned lists the IPv6 gateway's /64" grep -qE '^2001:db8:77::/64 +[34] ' "$tmp/list.txt"
check "ranges learned shows RFC 3339 times" \
	grep -qE "^$GATEWAY/32 +[0-9]+  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z" "$tmp/list.txt"
check "the person is not listed" eval "! grep -q '^$PERSON/' '$tmp/list.txt'"
check "bpftool sees the pinned entry" \
	eval "bpftool map dump pinned $PIN/learned_v4 | grep -qi 'cb 00 71 32'"

# Its lone click on a one-link mail: machine at once.
click "$GATEWAY" m2 r9 L1
click "$PERSON" m2 p9 L1
expect_verdict "$tmp/first.out" m2 r9 L1 "machine learned_range learned"
expect_verdict "$tmp/first.out" m2 p9 L1 "human - -"
check "metrics: two additions" test "$(metric clicksieve_learned_additions_total)" = 2
check "metrics: two active" test "$(metric clicksieve_learned_active)" = 2
check "metrics: learned_range counted" \
	eval "netns_enter $NS_SERVER curl -s http://$METRICS/metrics | grep -q 'clicksieve_click_reasons_total{reason=\"learned_range\"} [1-9]'"
run_stop TERM

# A restart restores them: the next lone click is machine too.
start_run second
check "restart restores both" grep -q "learned scanners: 2 restored" "$tmp/second.err"
click "$GATEWAY" m3 r10 L1
expect_verdict "$tmp/second.out" m3 r10 L1 "machine learned_range learned"
click "$GATEWAY_V6" m3 r11 L1
expect_verdict "$tmp/second.out" m3 r11 L1 "machine learned_range learned"

# Forgotten by the operator: the running instance lets go within seconds.
check "ranges learned --forget" eval "'$BIN' ranges learned --forget $GATEWAY | grep -q 'forgot $GATEWAY/32'"
expect_exit 1 "--forget of an address not learned fails" "$BIN" ranges learned --forget 192.0.2.200
check "no longer listed" eval "! '$BIN' ranges learned | grep -q '^$GATEWAY/'"
sleep 6
click "$GATEWAY" m4 r12 L1
expect_verdict "$tmp/second.out" m4 r12 L1 "human - -"
check "metrics: one active after the forget" test "$(metric clicksieve_learned_active)" = 1
run_stop TERM

# --no-learn: nothing restored, nothing applied; the maps stay as they were.
start_run third --no-learn
click "$GATEWAY_V6" m5 r13 L1
expect_verdict "$tmp/third.out" m5 r13 L1 "human - -"
check "--no-learn says nothing about learned scanners" eval "! grep -q 'learned scanners' '$tmp/third.err'"
run_stop TERM
check "the IPv6 entry is still pinned" eval "'$BIN' ranges learned | grep -q '^2001:db8:77::/64'"
expect_exit 2 "ranges learned: unknown option" "$BIN" ranges learned --bogus
check "ranges learned --help" eval "'$BIN' ranges learned --help | grep -q forget"
