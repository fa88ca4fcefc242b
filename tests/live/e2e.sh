#!/usr/bin/env bash
# End to end: curl clients in one namespace, a real nginx and `clicksieve run`
# in the other, joined by veth. Every verdict and reason of a scripted mix of
# people and scanners, live range changes (bpftool and SIGHUP), the output
# reopened after mv, the metrics as a real Prometheus scrapes them, SIGTERM
# writing pending verdicts, and `clicksieve classify` on nginx's log of the
# same run agreeing with the live verdicts. Native mode in full, generic mode
# with a shorter mix.
#
# Windows are shrunk so that minutes become seconds: burst 1s, multi-ip 15s,
# reorder 1s (a verdict is final 2s after its click). The multi-ip window is
# wide enough for the slow curls of a loaded CI machine.
set -u
self=$(readlink -f "$0")
cd "$(dirname "$self")/../.." || exit 1
. tests/lib.sh
. tests/live/netns.sh
. tests/nginx.sh
bpffs_private "$self" "$@"

MAPS_DOC=README.md
UA='Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
HONEYPOT=hp-link
PROXY=192.0.2.30
METRICS=127.0.0.1:9464
PROM=127.0.0.1:9090
JUDGE=(--burst-window 1s --multi-ip-window 15s --reorder-window 1s
	--honeypot "$HONEYPOT" --trust-proxy "$PROXY/32")

tmp=$(mktemp -d)
run_pid=
prom_pid=
cleanup() {
	[ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null
	[ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null
	nginx_stop "$tmp/nginx"
	netns_cleanup
	if [ -n "${CS_KEEP_TMP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT


# wait_lines FILE N: up to 8 s for FILE to hold N lines.
wait_lines() {
	local _
	for _ in $(seq 80); do
		[ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# start_run NAME ARGS...: run_start with this test's ranges and windows.
start_run() {
	local name=$1; shift
	run_start "$name" -r "$tmp/ranges.txt" "${JUDGE[@]}" "$@"
}

# verdict FILE MESSAGE LINK IP [NTH]: "verdict reasons provider" of a record.
verdict() {
	python3 - "$@" <<'PY'
import json, sys
path, msg, link, ip = sys.argv[1:5]
nth = int(sys.argv[5]) if len(sys.argv) > 5 else 1
hits = [r for r in map(json.loads, open(path))
        if r["message"] == msg and r["link"] == link and r["ip"] == ip]
if len(hits) < nth:
    print("none")
else:
    r = hits[nth - 1]
    print(r["verdict"], ",".join(r["reasons"]) or "-", r["provider"] or "-")
PY
}

# expect_verdict FILE MESSAGE LINK IP WANT [NTH]
expect_verdict() {
	local got
	got=$(verdict "$1" "$2" "$3" "$4" "${6:-1}")
	if [ "$got" = "$5" ]; then
		ok "$2 $3 from $4: $5"
	else
		not_ok "$2 $3 from $4: got '$got', want '$5'"
	fi
}

# count FILE [MESSAGE]: verdict records (of one message).
count() {
	python3 - "$@" <<'PY'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
print(sum(1 for r in rs if len(sys.argv) < 3 or r["message"] == sys.argv[2]))
PY
}

# A request written in four pieces, each its own segment.
segmented() {
	netns_client python3 - "$@" <<'PY'
import socket, sys, time
src, dst, path, ua = sys.argv[1:5]
family = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.bind((src, 0))
s.connect((dst, 80))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
req = (f"GET {path} HTTP/1.1\r\nHost: {dst}\r\nUser-Agent: {ua}\r\n"
       "Accept: text/html\r\nConnection: close\r\n\r\n").encode()
for piece in (req[:7], req[7:40], req[40:100], req[100:]):
    s.sendall(piece)
    time.sleep(0.15)
print(s.recv(200).split(b"\r\n")[0].decode())
PY
}

# metric NAME_WITH_LABELS: its value in one scrape of /metrics.
metric() {
	netns_enter "$NS_SERVER" curl -s "http://$METRICS/metrics" |
		awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print "absent" }'
}

# prom_clicks: clicksieve_clicks_total by verdict as Prometheus stored it.
prom_clicks() {
	netns_enter "$NS_SERVER" curl -s "http://$PROM/api/v1/query?query=clicksieve_clicks_total" |
		python3 -c '
import json, sys
res = json.load(sys.stdin)["data"]["result"]
v = {r["metric"]["verdict"]: int(float(r["value"][1])) for r in res}
print(" ".join(f"{k}={v.get(k, 0)}" for k in ("human", "machine", "suspect")))' 2>/dev/null
}

# file_clicks FILE: the same from the JSON output.
file_clicks() {
	python3 - "$1" <<'PY'
import json, sys
v = {}
for line in open(sys.argv[1]):
    k = json.loads(line)["verdict"]
    v[k] = v.get(k, 0) + 1
print(" ".join(f"{k}={v.get(k, 0)}" for k in ("human", "machine", "suspect")))
PY
}

# --- arguments ---
check "run --help names --metrics and the judging options" \
	eval '"$BIN" run --help | grep -q -- "--metrics ADDR:PORT" && "$BIN" run --help | grep -q -- "--trust-proxy CIDR"'
expect_exit 2 "bad --metrics address exits 2" "$BIN" run -i lo --metrics 127.0.0.1:notaport
expect_exit 2 "bad --burst-window exits 2" "$BIN" run -i lo --burst-window soon
expect_exit 2 "bad --trust-proxy exits 2" "$BIN" run -i lo --trust-proxy 192.0.2.1/99
err=$("$BIN" run -i lo --metrics 192.0.2.1:9 2>&1 >/dev/null); rc=$?
check "metrics address not on this host: exit 1 saying so" \
	test "$rc" -eq 1 -a -n "$(grep 'cannot listen for metrics on 192.0.2.1:9' <<<"$err")"
check "refused runs pinned nothing" test ! -e /sys/fs/bpf/clicksieve

# --- topology: nginx on the server, many client addresses ---
netns_setup || { not_ok "netns setup"; exit 1; }
for a in 192.0.2.1{1..9} 192.0.2.2{0..3} "$PROXY" 192.0.2.31 192.0.2.70 192.0.2.130 \
	198.51.100.7 198.51.100.200 203.0.113.9 2001:db8:1::a 2001:db8:1::b 2001:db8:2::c \
	2001:db8:5::7 2001:db8:1::d; do
	netns_client_addr "$a"
done
check "nginx starts in the server namespace" nginx_start "$NS_SERVER" "$tmp/nginx" "$SERVER_V4" "$SERVER_V6"
cat >"$tmp/ranges.txt" <<'LIST'
# e2e test list: documentation ranges standing in for providers
198.51.100.0/25     testscan
198.51.100.128/25   testtransit   weak
2001:db8:5::/48     testscan
LIST
cp "$tmp/ranges.txt" "$tmp/ranges-phase1.txt"

# --- native: the full mix ---
out=$tmp/verdicts.json
printf '[track]\npath = /redirect\n' >"$tmp/run.conf"
start_run native --xdp-mode native -o "$out" --metrics "$METRICS" -c "$tmp/run.conf"
check "native: attached in native mode with metrics" \
	grep -q "attached to $VETH_SERVER in native mode; metrics at http://$METRICS/metrics" "$tmp/native.err"

cat >"$tmp/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: clicksieve
    static_configs: [ { targets: ['$METRICS'] } ]
YML
netns_spawn "$NS_SERVER" prometheus --config.file="$tmp/prometheus.yml" \
	--storage.tsdb.path="$tmp/prom" --web.listen-address="$PROM" >"$tmp/prom.log" 2>&1
prom_pid=$NETNS_PID

# t = 0: first clicks of every scenario.
click 192.0.2.11 m-person r1 L1
keepalive=$(netns_client curl -s -A "$UA" --interface 198.51.100.7 -w '%{num_connects}\n' \
	-o /dev/null -o /dev/null -o /dev/null \
	"$(click_url 198.51.100.7 m-scan r2 L1)" "$(click_url 198.51.100.7 m-scan r2 L2)" \
	"$(click_url 198.51.100.7 m-scan r2 L3)" | paste -sd' ')
click 192.0.2.15 m-refetch r3 L1
click 2001:db8:1::a m-v6 r4 L1
click 192.0.2.22 m-double r5 L1
sleep 0.3
click 192.0.2.22 m-double r5 L1
seg=$(segmented 192.0.2.18 "$SERVER_V4" "/redirect?link=L1&l=r6&s=m-segment" "$UA")
click 198.51.100.200 m-weak r7 L1
click 192.0.2.19 m-bot r8 L1 -A 'python-requests/2.31.0'
click 192.0.2.20 m-head r9 L1 -I
click 192.0.2.21 m-honeypot r10 "$HONEYPOT"
click "$PROXY" m-proxy r11 L1 -H 'X-Forwarded-For: 192.0.2.99, 198.51.100.9'
click "$PROXY" m-proxy r12 L1 -H 'X-Forwarded-For: 198.51.100.200, 192.0.2.98'
click 192.0.2.31 m-proxy r13 L1 -H 'X-Forwarded-For: 198.51.100.9'
netns_client curl -s -o /dev/null -A "$UA" --interface 192.0.2.12 "http://$SERVER_V4/favicon.ico"
sleep 3.5
# t = 3.5: second clicks.
click 192.0.2.11 m-person r1 L2
click 192.0.2.14 m-scan r2 L2
click 192.0.2.16 m-refetch r3 L1
click 2001:db8:1::b m-v6 r4 L2
sleep 2
# t = 5.5: a third /64 inside the window.
click 2001:db8:2::c m-v6 r4 L1

check "keep-alive: three requests on one connection" test "$keepalive" = "1 0 0"
check "segmented request answered by nginx" test "$seg" = "HTTP/1.1 302 Moved Temporarily"
check "all 21 phase-one verdicts written within the windows" wait_lines "$out" 21
expect_verdict "$out" m-person L1 192.0.2.11 "human - -"
expect_verdict "$out" m-person L2 192.0.2.11 "human - -"
for l in L1 L2 L3; do
	expect_verdict "$out" m-scan $l 198.51.100.7 "machine burst,scanner_range testscan"
done
expect_verdict "$out" m-scan L2 192.0.2.14 "human - -"
expect_verdict "$out" m-refetch L1 192.0.2.15 "human - -"
expect_verdict "$out" m-refetch L1 192.0.2.16 "machine multi_ip -"
expect_verdict "$out" m-v6 L1 2001:db8:1::a "human - -"
expect_verdict "$out" m-v6 L2 2001:db8:1::b "human - -"
expect_verdict "$out" m-v6 L1 2001:db8:2::c "machine multi_ip -"
expect_verdict "$out" m-double L1 192.0.2.22 "human - -" 1
expect_verdict "$out" m-double L1 192.0.2.22 "human - -" 2
expect_verdict "$out" m-segment L1 192.0.2.18 "human - -"
expect_verdict "$out" m-weak L1 198.51.100.200 "suspect weak_range testtransit"
expect_verdict "$out" m-bot L1 192.0.2.19 "machine bot_agent -"
expect_verdict "$out" m-head L1 192.0.2.20 "machine head_request -"
expect_verdict "$out" m-honeypot "$HONEYPOT" 192.0.2.21 "machine honeypot -"
expect_verdict "$out" m-proxy L1 198.51.100.9 "machine scanner_range testscan"
expect_verdict "$out" m-proxy L1 192.0.2.98 "human - -"
expect_verdict "$out" m-proxy L1 192.0.2.31 "human - -"
check "no verdict for the untracked request" test "$(count "$out")" -eq 21
check "records carry ts with microseconds, UTC, and no file/line" python3 -c '
import json, re, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(not all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", r["ts"])
                 and "file" not in r and r["method"] in ("GET", "HEAD") for r in rs))' "$out"
check "HEAD click keeps its method" grep -q '"method":"HEAD","message":"m-head"' "$out"

# --- metrics, directly and as Prometheus stored them ---
netns_enter "$NS_SERVER" curl -s "http://$METRICS/metrics" >"$tmp/metrics.txt"
check "promtool check metrics accepts the exposition" promtool check metrics <"$tmp/metrics.txt"
check "metrics: one SYN per provider's connection, from the kernel" \
	test "$(metric 'clicksieve_provider_syns_total{provider="testscan"}')" = 1 -a \
	     "$(metric 'clicksieve_provider_syns_total{provider="testtransit"}')" = 1
check "metrics: 22 requests, 1 of them not to a tracking URL" \
	test "$(metric clicksieve_requests_total)" = 22 -a "$(metric clicksieve_untracked_requests_total)" = 1
check "metrics: verdict delay histogram counts every verdict" \
	test "$(metric clicksieve_verdict_delay_seconds_count)" = 21
check "metrics: scanner_range given 4 times" \
	test "$(metric 'clicksieve_click_reasons_total{reason="scanner_range"}')" = 4
check "metrics: 2 IPv4 and 1 IPv6 ranges loaded" \
	test "$(metric 'clicksieve_ranges{family="ipv4"}')" = 2 -a "$(metric 'clicksieve_ranges{family="ipv6"}')" = 1
check "metrics: build info" grep -qE '^clicksieve_build_info\{version="[^"]+"\} 1$' "$tmp/metrics.txt"
check "metrics: no events dropped" test "$(metric clicksieve_events_dropped_total)" = 0
want=$(file_clicks "$out")
got=
for _ in $(seq 60); do
	got=$(prom_clicks)
	[ "$got" = "$want" ] && break
	sleep 0.25
done
check "Prometheus scraped clicksieve_clicks_total: $want (got '$got')" test "$got" = "$want"

# --- classify on nginx's log of the same clicks agrees ---
# nginx logs $msec when the response is sent, a few ms after the request's
# first packet: every gap in this mix is far from a window edge, so the
# verdicts must match. Compared as sorted records without ts.
"$BIN" classify --format "$NGINX_TIMED_FORMAT" -r "$tmp/ranges-phase1.txt" "${JUDGE[@]}" \
	"$tmp/nginx/timed.log" >"$tmp/classified.json" 2>"$tmp/classify.err"
check "classify reads nginx's log" test -s "$tmp/classified.json"
compare() {
	python3 - "$1" "$2" <<'PY'
import json, sys
def keyed(path):
    rs = [json.loads(l) for l in open(path)]
    return sorted((r["message"], r["recipient"], r["link"], r["ip"], r["method"],
                   r["verdict"], ",".join(r["reasons"]), str(r["provider"])) for r in rs)
live, logged = keyed(sys.argv[1]), keyed(sys.argv[2])
for a, b in zip(live, logged):
    if a != b:
        print("live", a, "log", b, file=sys.stderr)
sys.exit(live != logged)
PY
}
check "classify of nginx's log gives the live verdicts (21 records)" compare "$out" "$tmp/classified.json"

# --- live range changes ---
click 203.0.113.9 m-op1 r20 L1
check "before bpftool: 203.0.113.9 is a person" wait_for "$out" '"message":"m-op1".*"verdict":"human"'
doc_cmd=$(awk '/runs the next block verbatim/ { want = 1; next }
	want && /^```/ { if (inblock) exit; inblock = 1; next }
	inblock { print }' "$MAPS_DOC")
check "docs bpftool example runs" bash -e -c "$doc_cmd"
click 203.0.113.9 m-op2 r21 L1
check "after bpftool: the next click is scanner_range, provider example" \
	wait_for "$out" '"ip":"203.0.113.9".*"message":"m-op2".*"verdict":"machine","reasons":\["scanner_range"\],"provider":"example"'

mv "$out" "$out.1"
printf '192.0.2.64/26       testhup\n' >>"$tmp/ranges.txt"
kill -HUP "$run_pid"
check "SIGHUP: ranges reloaded, operator's range kept" \
	wait_for "$tmp/native.err" 'ranges: 3 IPv4, 1 IPv6 \(1 added, 0 changed, 0 removed; 1 operator ranges kept\)'
click 192.0.2.70 m-hup r22 L1
check "SIGHUP: output reopened, next click uses the new list" \
	wait_for "$out" '"ip":"192.0.2.70".*"message":"m-hup".*"verdict":"machine","reasons":\["scanner_range"\],"provider":"testhup"'
check "SIGHUP: the moved file kept the earlier verdicts only" \
	test "$(count "$out.1")" -eq 23 -a "$(count "$out")" -eq 1
cp "$tmp/ranges.txt" "$tmp/ranges.good"
printf '192.0.2.0/24 ok\n300.1.1.1/8 x\n' >"$tmp/ranges.txt"
kill -HUP "$run_pid"
check "SIGHUP with a bad list: names file and line" \
	wait_for "$tmp/native.err" "clicksieve run: $tmp/ranges.txt:2: "
check "SIGHUP with a bad list: configuration unchanged" \
	wait_for "$tmp/native.err" 'reload failed; configuration and ranges unchanged'
check "SIGHUP with a bad list: still attached" netns_xdp_attached
cp "$tmp/ranges.good" "$tmp/ranges.txt"

# The configuration is re-read too: a new tracking URL applies at once,
# window changes are refused until a restart (and said so).
printf '[track]\ntemplate = /c/{message}/{recipient}/{link}\n[classify]\ndouble_click_window = 500ms\n' \
	>"$tmp/run.conf"
kill -HUP "$run_pid"
check "SIGHUP: changed windows wait for a restart, saying so" \
	wait_for "$tmp/native.err" 'classifier settings .* changed: they apply after a restart'
netns_client curl -s -o /dev/null -A "$UA" --interface 192.0.2.23 "http://$SERVER_V4/c/m-tmpl/r24/L1"
click 192.0.2.23 m-old-url r25 L1
check "SIGHUP: the new tracking URL template applies" \
	wait_for "$out" '"ip":"192.0.2.23".*"message":"m-tmpl","recipient":"r24","link":"L1".*"verdict":"human"'
check "SIGHUP: the old tracking URL is no longer a click" eval '! grep -q m-old-url "$out"'

# A click right before SIGTERM: its verdict is written before exit.
netns_client curl -s -o /dev/null -A "$UA" --interface 192.0.2.130 "http://$SERVER_V4/c/m-term/r23/L1"
run_stop TERM
check "SIGTERM: exit 0" test "$run_rc" -eq 0
expect_verdict "$out" m-term L1 192.0.2.130 "human - -"
check "SIGTERM: summary on stderr" grep -q 'clicks (.* human, .* machine, .* suspect).*detaching' "$tmp/native.err"
check "SIGTERM: detached" eval '! netns_xdp_attached'
kill "$prom_pid" 2>/dev/null; wait "$prom_pid" 2>/dev/null; prom_pid=

# --- generic: a shorter mix, stdout output ---
start_run generic --xdp-mode generic --metrics 9465
gout=$tmp/generic.out
check "generic: attached in generic mode" grep -q "attached to $VETH_SERVER in generic mode" "$tmp/generic.err"
check "--metrics PORT serves on 127.0.0.1" \
	eval 'netns_enter "$NS_SERVER" curl -sf http://127.0.0.1:9465/metrics | grep -q "^clicksieve_build_info"'
check "--metrics PORT is not reachable from the network" \
	eval '! netns_client curl -s -m 2 -o /dev/null http://$SERVER_V4:9465/metrics'
netns_client curl -s -A "$UA" --interface 2001:db8:5::7 -o /dev/null -o /dev/null \
	"$(click_url 2001:db8:5::7 g-scan r1 L1)" "$(click_url 2001:db8:5::7 g-scan r1 L2)"
click 2001:db8:1::d g-person r2 L1
seg=$(segmented 2001:db8:1::d "$SERVER_V6" "/redirect?link=L2&l=r3&s=g-segment" "$UA")
click 192.0.2.11 g-refetch r4 L1
sleep 1.5
click 192.0.2.12 g-refetch r4 L1
check "generic: 6 verdicts" wait_lines "$gout" 6
expect_verdict "$gout" g-scan L1 2001:db8:5::7 "machine burst,scanner_range testscan"
expect_verdict "$gout" g-scan L2 2001:db8:5::7 "machine burst,scanner_range testscan"
expect_verdict "$gout" g-person L1 2001:db8:1::d "human - -"
expect_verdict "$gout" g-segment L2 2001:db8:1::d "human - -"
expect_verdict "$gout" g-refetch L1 192.0.2.11 "human - -"
expect_verdict "$gout" g-refetch L1 192.0.2.12 "machine multi_ip -"
run_stop INT
check "generic: SIGINT exit 0 and detached" test "$run_rc" -eq 0 -a -z "$(netns_xdp_attached && echo attached)"
