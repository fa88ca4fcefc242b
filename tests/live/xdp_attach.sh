#!/usr/bin/env bash
# `clicksieve run` on a veth pair between two namespaces: attach in native and
# generic mode, events of real HTTP connections with their providers, the
# README's bpftool example, pinned ranges kept across a restart, a second
# instance refused, and nothing left on the interface after SIGTERM/SIGKILL.
set -u
self=$(readlink -f "$0")
cd "$(dirname "$self")/../.." || exit 1
. tests/lib.sh
. tests/live/netns.sh
bpffs_private "$self" "$@"

MAPS_DOC=README.md
PIN=/sys/fs/bpf/clicksieve
LISTED_V4=198.51.100.7
LISTED_V6=2001:db8:5::7
OPERATOR_V4=203.0.113.9
TARGET='/redirect?link=L1&l=R1&s=S1'

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


# start_run NAME ARGS...: run_start, printing the decoded events.
start_run() {
	local name=$1; shift
	run_start "$name" --events "$@"
}

# fetch SOURCE URL_HOST: one HTTP request from SOURCE to the server.
fetch() {
	netns_client curl -s -o /dev/null -m 5 --interface "$1" "http://$2$TARGET"
}

# provider_syns ID: SYNs counted for a provider, summed over CPUs.
provider_syns() {
	local key
	key=$(printf '%02x 00 00 00' "$1")
	# shellcheck disable=SC2086
	bpftool -j map lookup pinned "$PIN/$VETH_SERVER/provider_stats" key hex $key |
		python3 -c 'import json,sys; print(sum(v["value"]["syns"] for v in json.load(sys.stdin)["formatted"]["values"]))'
}

# --- arguments (no attach needed) ---
help=$("$BIN" run --help)
check "run --help exits 0 with usage on stdout" grep -q '^Usage: clicksieve run -i IFACE' <<<"$help"
expect_exit 2 "run without -i exits 2" "$BIN" run
expect_exit 2 "unknown option exits 2" "$BIN" run -i lo --bogus
expect_exit 2 "stray argument exits 2" "$BIN" run -i lo extra
expect_exit 2 "port 0 exits 2" "$BIN" run -i lo -p 0
expect_exit 2 "reversed port range exits 2" "$BIN" run -i lo -p 90-80
expect_exit 2 "port list with garbage exits 2" "$BIN" run -i lo -p 80,x
expect_exit 2 "bad --xdp-mode exits 2" "$BIN" run -i lo --xdp-mode turbo
err=$("$BIN" run -i cs-no-such0 2>&1 >/dev/null); rc=$?
check "unknown interface exits 2 naming it" \
	test "$rc" -eq 2 -a -n "$(grep "interface 'cs-no-such0' not found" <<<"$err")"
err=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$BIN" run -i lo 2>&1 >/dev/null); rc=$?
check "without privileges exits 1 saying so" \
	test "$rc" -eq 1 -a -n "$(grep 'permission denied' <<<"$err")"
printf '# two lines\n192.0.2.0/24 ok\n192.0.2.300/24 broken\n' >"$tmp/bad.txt"
err=$("$BIN" run -i lo -r "$tmp/bad.txt" 2>&1 >/dev/null); rc=$?
check "bad range file exits 2 naming file and line" \
	test "$rc" -eq 2 -a -n "$(grep -F "$tmp/bad.txt:3" <<<"$err")"
printf '[run]\ninterface = cs-no-such1\n' >"$tmp/run.conf"
err=$("$BIN" run -c "$tmp/run.conf" 2>&1 >/dev/null); rc=$?
check "interface taken from --config [run]" \
	test "$rc" -eq 2 -a -n "$(grep "interface 'cs-no-such1' not found" <<<"$err")"
check "nothing pinned by the refused runs" test ! -e "$PIN"

# --- topology ---
netns_setup || { not_ok "netns setup"; exit 1; }
netns_client_addr "$LISTED_V4"
netns_client_addr "$LISTED_V6"
netns_client_addr "$OPERATOR_V4"
mkdir -p "$tmp/www"
netns_spawn "$NS_SERVER" python3 -m http.server 80 --bind :: --directory "$tmp/www" >/dev/null 2>&1
server_pid=$NETNS_PID
printf '# test list\n198.51.100.0/24  testscan\n2001:db8:5::/48  testscan\n' >"$tmp/ranges.txt"
for _ in $(seq 50); do
	netns_server bash -c 'exec 3<>/dev/tcp/127.0.0.1/80' 2>/dev/null && break
	sleep 0.1
done

# --- native ---
start_run native --xdp-mode native --ranges "$tmp/ranges.txt"
check "native: attached, says native on stderr" grep -q "attached to $VETH_SERVER in native mode" "$tmp/native.err"
check "native: ip link shows xdp" grep -q 'mtu [0-9]* xdp qdisc' <(ip -n "$NS_SERVER" link show dev "$VETH_SERVER")
check "range maps pinned" test -e "$PIN/ranges_v4" -a -e "$PIN/ranges_v6" -a -e "$PIN/providers"
check "instance stats pinned under the interface" test -e "$PIN/$VETH_SERVER/provider_stats" -a -e "$PIN/$VETH_SERVER/counters"

err=$(netns_enter "$NS_SERVER" "$BIN" run -i "$VETH_SERVER" --ranges "$tmp/ranges.txt" 2>&1 >/dev/null); rc=$?
check "second instance on the interface refused (exit 1)" \
	test "$rc" -eq 1 -a -n "$(grep "already attached to $VETH_SERVER" <<<"$err")"
check "first instance still attached after the refusal" kill -0 "$run_pid"

fetch "$LISTED_V4" "$SERVER_V4"
out=$tmp/native.out
syn="SYN $LISTED_V4:[0-9]+ -> $SERVER_V4:80 \[S\] seq=[0-9]+ len=0/0 testscan"
check "native: SYN from listed source with provider" wait_for "$out" "$syn"
check "native: payload with the request line" \
	wait_for "$out" "PAYLOAD $LISTED_V4:[0-9]+ -> $SERVER_V4:80 \[P?\.\] .* testscan \"GET /redirect\?link=L1&l=R1&s=S1 HTTP/1.1\"$"
check "native: FIN from the client" wait_for "$out" "FIN $LISTED_V4:[0-9]+ -> $SERVER_V4:80 \[FP?\.\] .* testscan"
check "event time is wall clock (today, UTC)" grep -qE "^$(date -u +%Y-%m-%dT%H):[0-9]{2}:[0-9]{2}\.[0-9]{6}Z SYN" "$out"

fetch "$LISTED_V6" "[$SERVER_V6]"
check "native: IPv6 SYN from listed source" \
	wait_for "$out" "SYN \[$LISTED_V6\]:[0-9]+ -> \[$SERVER_V6\]:80 \[S\] .* testscan"
fetch "$CLIENT_V4" "$SERVER_V4"
check "native: unlisted source has provider -" wait_for "$out" "SYN $CLIENT_V4:[0-9]+ -> .* len=0/0 - \"\"$"

# The documented bpftool example, extracted so doc and test cannot drift.
doc_cmd=$(awk '/runs the next block verbatim/ { want = 1; next }
	want && /^```/ { if (inblock) exit; inblock = 1; next }
	inblock { print }' "$MAPS_DOC")
check "README bpftool example found" grep -q 'bpftool map update pinned' <<<"$doc_cmd"
check "README bpftool example runs" bash -e -c "$doc_cmd"
before=$(provider_syns 250)
fetch "$OPERATOR_V4" "$SERVER_V4"
check "operator range: event carries the new provider" \
	wait_for "$out" "SYN $OPERATOR_V4:[0-9]+ -> .* example \"\"$"
check "operator range: provider_stats counts the SYN" test "$(provider_syns 250)" -gt "$before"

# The documented counters example: packets and events sent, summed over CPUs.
counters_cmd=$(awk '/runs the next block with eth0 replaced/ { want = 1; next }
	want && /^```/ { if (inblock) exit; inblock = 1; next }
	inblock { print }' "$MAPS_DOC")
read -r packets events_sent < <(bash -e -c "${counters_cmd//eth0/$VETH_SERVER}")
check "counters example: packets and events counted" \
	test "${packets:-0}" -ge "${events_sent:-0}" -a "${events_sent:-0}" -ge 6

run_stop TERM
check "SIGTERM: exit 0" test "$run_rc" -eq 0
check "SIGTERM: says it detaches" grep -q 'detaching' "$tmp/native.err"
check "SIGTERM: no XDP program left on the interface" eval '! netns_xdp_attached'
check "SIGTERM: bpftool net shows nothing on the interface" \
	eval "! netns_enter $NS_SERVER bpftool net show dev $VETH_SERVER | grep -q $VETH_SERVER"
check "SIGTERM: instance pins removed, range pins kept" \
	test ! -e "$PIN/$VETH_SERVER" -a -e "$PIN/ranges_v4"

# --- generic, restarted on the pinned maps ---
start_run generic --xdp-mode generic --ranges "$tmp/ranges.txt"
out=$tmp/generic.out
check "generic: attached, says generic on stderr" grep -q "attached to $VETH_SERVER in generic mode" "$tmp/generic.err"
check "generic: ip link shows xdpgeneric" grep -q 'mtu [0-9]* xdpgeneric qdisc' <(ip -n "$NS_SERVER" link show dev "$VETH_SERVER")
fetch "$OPERATOR_V4" "$SERVER_V4"
check "restart: the sync left the operator's range in place" grep -q '1 operator ranges kept' "$tmp/generic.err"
check "restart keeps the operator's range" wait_for "$out" "SYN $OPERATOR_V4:[0-9]+ -> .* example \"\"$"
fetch "$LISTED_V4" "$SERVER_V4"
check "generic: payload from listed source" \
	wait_for "$out" "PAYLOAD $LISTED_V4:[0-9]+ -> $SERVER_V4:80 .* testscan \"GET /redirect\?link=L1&l=R1&s=S1 HTTP/1.1\"$"
check "generic: FIN from listed source" wait_for "$out" "FIN $LISTED_V4:[0-9]+ -> .* testscan"
printf '192.0.2.0/24  docnet\n' >>"$tmp/ranges.txt"
kill -HUP "$run_pid"
check "SIGHUP: reloads and keeps the operator's range" \
	wait_for "$tmp/generic.err" 'ranges: 2 IPv4, 1 IPv6 \(1 added, 0 changed, 0 removed; 1 operator ranges kept\)'
fetch "$CLIENT_V4" "$SERVER_V4"
check "SIGHUP: a range added to the list applies" wait_for "$out" "SYN $CLIENT_V4:[0-9]+ -> .* docnet \"\"$"
run_stop KILL
check "SIGKILL: killed" test "$run_rc" -eq 137
check "SIGKILL: the unpinned link went with the process" eval '! netns_xdp_attached'

# --- auto ---
start_run auto -p 8080,80 --ranges "$tmp/ranges.txt" -o "$tmp/auto.events"
check "auto: native on veth" grep -q "attached to $VETH_SERVER in native mode" "$tmp/auto.err"
fetch "$LISTED_V4" "$SERVER_V4"
check "-o: events go to the file" wait_for "$tmp/auto.events" "PAYLOAD $LISTED_V4:[0-9]+ -> .* testscan \"GET "
check "-o: nothing on stdout" test ! -s "$tmp/auto.out"
run_stop INT
check "SIGINT: exit 0 and detached" test "$run_rc" -eq 0 -a -z "$(netns_xdp_attached && echo attached)"
