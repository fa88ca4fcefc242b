#!/usr/bin/env bash
# `make demo` (scripts/demo.sh) runs on this machine, shows every verdict and
# the summary, and removes what it created.
set -u
cd "$(dirname "$(readlink -f "$0")")/../.." || exit 1
. tests/lib.sh

export NS_CLIENT=cs-demo-cli-$$ NS_SERVER=cs-demo-srv-$$
log=$(mktemp)
# Normally the demo removes these itself; a failed run must not leave them.
cleanup() {
	local ns
	rm -f "$log"
	for ns in "$NS_CLIENT" "$NS_SERVER"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns"
	done
}
trap cleanup EXIT

start=$SECONDS
BUILD=$BUILD timeout 120 scripts/demo.sh >"$log" 2>&1
rc=$?
check "demo exits 0" test "$rc" -eq 0
check "demo takes under a minute" test $((SECONDS - start)) -lt 60
check "demo attaches in native mode" grep -q 'attached to veth-srv in native mode' "$log"
check "demo prints 14 verdict lines" test "$(grep -cE '^  [0-9:.]{12}  (human|machine|suspect) ' "$log")" -eq 14
check "demo shows the pre-scan burst" \
	test "$(grep -c 'machine 198.51.100.7 .* burst,scanner_range (mailscan)' "$log")" -eq 4
check "demo shows the re-fetch as multi_ip" grep -q 'machine 192.0.2.14 .* multi_ip (-)' "$log"
check "demo summary totals" grep -qE '^  total +5 +8 +1$' "$log"
check "demo shows metrics" grep -q '^  clicksieve_clicks_total{verdict="machine"} 8$' "$log"
check "demo removed its namespaces" test ! -e "/run/netns/$NS_CLIENT" -a ! -e "/run/netns/$NS_SERVER"
dir=$(sed -n 's/^Removing namespaces, nginx and temp files (\(.*\))\.$/\1/p' "$log")
check "demo removed its temp files" test -n "$dir" -a ! -e "$dir"
check "demo left no process behind (nginx, clicksieve)" eval "! pgrep -f '$dir/' >/dev/null"
