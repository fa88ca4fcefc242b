#!/usr/bin/env bash
# `make demo`: clicksieve live on a veth pair between two network namespaces.
# A real nginx plays the tracking server; curl plays people and scanners from
# documentation addresses that this demo's own range list labels. Verdicts
# print as they come, then a summary and a few metrics. Everything it creates
# (namespaces, nginx, bpffs pins, temp files) is removed on exit.
set -u
self=$(readlink -f "$0")
cd "$(dirname "$self")/.." || exit 1
: "${BUILD:=build}"
BIN=$PWD/$BUILD/clicksieve
. tests/live/netns.sh
. tests/nginx.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces and XDP)" >&2
	exit 1
fi
[ -x "$BIN" ] || { echo "demo: $BIN missing: run 'make demo'" >&2; exit 1; }
# Its own bpffs: the demo never touches a real deployment's pinned maps.
bpffs_private "$self" "$@"

UA='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36'
METRICS=127.0.0.1:9464
tmp=$(mktemp -d)
run_pid=
view_pid=
cleanup() {
	[ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null
	[ -n "$view_pid" ] && kill "$view_pid" 2>/dev/null
	nginx_stop "$tmp/nginx"
	netns_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

# Verdict lines as they are written: one compact line each; SIGTERM ends it.
cat >"$tmp/view.py" <<'PY'
import json, signal, sys, time
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
tty = sys.stdout.isatty()
colour = {"human": "\033[32m", "machine": "\033[31m", "suspect": "\033[33m"} if tty else {}
plain = "\033[0m" if tty else ""
with open(sys.argv[1]) as f:
    while True:
        line = f.readline()
        if not line:
            if stop:
                break
            time.sleep(0.05)
            continue
        r = json.loads(line)
        reasons = ",".join(r["reasons"]) or "-"
        provider = r["provider"] or "-"
        print(f'  {r["ts"][11:23]}  {colour.get(r["verdict"], "")}{r["verdict"]:<7}{plain} '
              f'{r["ip"]:<15} {r["method"]:<4} s={r["message"]:<9} l={r["recipient"]:<6} '
              f'link={r["link"]:<4} {reasons} ({provider})', flush=True)
PY

cat >"$tmp/summary.py" <<'PY'
import json, sys
rows, reasons = {}, {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    row = rows.setdefault(r["message"], {"human": 0, "machine": 0, "suspect": 0})
    row[r["verdict"]] += 1
    for why in r["reasons"]:
        reasons[why] = reasons.get(why, 0) + 1
print(f'  {"message":<10} {"human":>6} {"machine":>8} {"suspect":>8}')
total = {"human": 0, "machine": 0, "suspect": 0}
for msg, row in rows.items():
    print(f'  {msg:<10} {row["human"]:>6} {row["machine"]:>8} {row["suspect"]:>8}')
    for k in total:
        total[k] += row[k]
print(f'  {"total":<10} {total["human"]:>6} {total["machine"]:>8} {total["suspect"]:>8}')
print("  reasons: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
PY

say "Setting up: client and server namespaces joined by veth, nginx on the server"
netns_setup || { echo "demo: cannot create namespaces" >&2; exit 1; }
for a in 192.0.2.1{1..9} 198.51.100.7 198.51.100.8 198.51.100.200 203.0.113.50 \
	2001:db8:1::a 2001:db8:1::b; do
	netns_client_addr "$a"
done
nginx_start "$NS_SERVER" "$tmp/nginx" "$SERVER_V4" "$SERVER_V6" ||
	{ echo "demo: nginx did not start" >&2; exit 1; }
cat >"$tmp/ranges.txt" <<'LIST'
# demo list: documentation ranges standing in for real providers
198.51.100.0/25     mailscan              # a pre-delivery scanner (Mimecast-like)
198.51.100.128/25   transit      weak     # a transit network: weak evidence
203.0.113.0/24      democloud             # a cloud provider
LIST
sed 's/^/  /' "$tmp/ranges.txt"

say "Attaching clicksieve (windows shrunk: burst 1s, multi-ip 8s, reorder 1s)"
touch "$tmp/verdicts.json"
netns_spawn "$NS_SERVER" "$BIN" run -i "$VETH_SERVER" -r "$tmp/ranges.txt" \
	--burst-window 1s --multi-ip-window 8s --reorder-window 1s --metrics "$METRICS" \
	-o "$tmp/verdicts.json" 2>"$tmp/run.err"
run_pid=$NETNS_PID
for _ in $(seq 50); do
	grep -qE 'attached to|clicksieve run:' "$tmp/run.err" && break
	sleep 0.1
done
sed 's/^/  /' "$tmp/run.err"
grep -q 'attached to' "$tmp/run.err" || { echo "demo: clicksieve did not attach" >&2; exit 1; }
python3 "$tmp/view.py" "$tmp/verdicts.json" &
view_pid=$!

say "Clicks (verdicts appear ~2 s after each click, once no burst can change them)"
echo "  - Alice (192.0.2.11) clicks a link in her newsletter"
click 192.0.2.11 news-7 alice L1
echo "  - a mail scanner (198.51.100.7, mailscan) fetches all 4 links of Bob's mail at once"
netns_client curl -s -A "$UA" --interface 198.51.100.7 -o /dev/null -o /dev/null -o /dev/null \
	-o /dev/null "$(click_url 198.51.100.7 news-7 bob L1)" "$(click_url 198.51.100.7 news-7 bob L2)" \
	"$(click_url 198.51.100.7 news-7 bob L3)" "$(click_url 198.51.100.7 news-7 bob L4)"
echo "  - Carol (192.0.2.13) clicks an offer"
click 192.0.2.13 offer-3 carol L2
echo "  - Dave (2001:db8:1::a) clicks from his phone"
click 2001:db8:1::a offer-3 dave L1
echo "  - a python script fetches a link; a link checker sends HEAD"
click 192.0.2.15 news-7 erin L1 -A 'python-requests/2.31.0'
click 192.0.2.16 news-7 frank L3 -I
sleep 3
echo "  - Bob (192.0.2.12) reads his mail and clicks one link"
click 192.0.2.12 news-7 bob L2
echo "  - Carol's security service re-fetches her link from another address"
click 192.0.2.14 offer-3 carol L2
echo "  - Dave's phone rotated its privacy address inside the same /64, he clicks again"
click 2001:db8:1::b offer-3 dave L3
echo "  - a cloud VM (203.0.113.50, democloud) and a transit address (198.51.100.200) click"
click 203.0.113.50 offer-3 gina L1
click 198.51.100.200 offer-3 hank L1
sleep 3
netns_enter "$NS_SERVER" curl -s "http://$METRICS/metrics" | grep -E \
	'^clicksieve_(clicks_total|provider_syns_total|requests_total|untracked|verdict_delay_seconds_(sum|count))' \
	>"$tmp/metrics.txt"

say "Stopping (SIGTERM writes every pending verdict, then detaches)"
kill -TERM "$run_pid"
wait "$run_pid" 2>/dev/null
run_pid=
kill -TERM "$view_pid"
wait "$view_pid" 2>/dev/null
view_pid=
tail -n 1 "$tmp/run.err" | sed 's/^/  /'

say "Summary"
python3 "$tmp/summary.py" "$tmp/verdicts.json"
say "A few metrics (scraped just before stopping)"
sed 's/^/  /' "$tmp/metrics.txt" 2>/dev/null
echo
echo "Removing namespaces, nginx and temp files ($tmp)."
