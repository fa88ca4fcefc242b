# shellcheck shell=bash
# Two network namespaces joined by a veth pair, for live tests. Source it.
# Documentation addresses only, no default route: nothing can leave.
#
#   client ($NS_CLIENT)                        server ($NS_SERVER)
#   $VETH_CLIENT 192.0.2.1/24 2001:db8::1/64 <-> $VETH_SERVER 192.0.2.2/24 2001:db8::2/64
#
# The server routes 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32 onto
# the link, so netns_client_addr can give the client extra source
# addresses (e.g. one inside a listed range).
#
#   bpffs_private SCRIPT "$@"
#                           first thing in a test: re-runs SCRIPT (its
#                           absolute path) in a private mount namespace with
#                           its own bpffs on /sys/fs/bpf, so the default pin
#                           directory is the test's alone and vanishes with it
#   netns_setup             creates the topology (names unique per process)
#   netns_cleanup           stops what still runs inside and removes both
#                           namespaces; idempotent, meant for a trap
#   netns_client CMD...     runs CMD in the client namespace
#   netns_server CMD...     runs CMD in the server namespace
#   netns_enter NS CMD...   runs CMD in NS's network namespace only; use it
#                           for clicksieve and bpftool (`ip netns exec` also
#                           remounts /sys, which hides /sys/fs/bpf)
#   netns_spawn NS CMD... [>OUT 2>ERR]
#                           same, in the background; NETNS_PID is CMD's own
#                           PID (not a subshell's), so signals reach it
#   netns_client_addr ADDR  adds ADDR (no prefix length) to the client veth
#   netns_xdp_attached      true when the server veth has an XDP program
#   run_start NAME ARGS...  `$BIN run -i $VETH_SERVER ARGS` in the server
#                           namespace, stdout/stderr in $tmp/NAME.out/.err,
#                           until it has attached (or failed); PID in $run_pid
#   run_stop SIGNAL         signals it and waits; exit status in $run_rc
#   click_url SOURCE MESSAGE RECIPIENT LINK
#                           the default tracking URL on the server, over
#                           IPv6 when SOURCE is an IPv6 address
#   click SOURCE MESSAGE RECIPIENT LINK [CURL_ARGS...]
#                           fetches it from SOURCE with user agent $UA

NS_CLIENT=${NS_CLIENT:-cs-cli-$$}
NS_SERVER=${NS_SERVER:-cs-srv-$$}
VETH_CLIENT=veth-cli
VETH_SERVER=veth-srv
CLIENT_V4=192.0.2.1
SERVER_V4=192.0.2.2
CLIENT_V6=2001:db8::1
SERVER_V6=2001:db8::2

bpffs_private() {
	local script=$1; shift
	if [ -z "${CS_PRIVATE_BPFFS:-}" ]; then
		CS_PRIVATE_BPFFS=1 exec unshare --mount --propagation private -- bash "$script" "$@"
	fi
	mount -t bpf bpf /sys/fs/bpf
}

netns_client() { ip netns exec "$NS_CLIENT" "$@"; }
netns_server() { ip netns exec "$NS_SERVER" "$@"; }
netns_enter() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }
netns_spawn() {
	local ns=$1; shift
	nsenter --net="/run/netns/$ns" -- "$@" &
	# shellcheck disable=SC2034 # read by the caller
	NETNS_PID=$!
}

netns_setup() {
	ip netns add "$NS_CLIENT" || return 1
	ip netns add "$NS_SERVER" || return 1
	ip -n "$NS_CLIENT" link add "$VETH_CLIENT" type veth peer name "$VETH_SERVER" \
		netns "$NS_SERVER" || return 1
	ip -n "$NS_CLIENT" addr add "$CLIENT_V4/24" dev "$VETH_CLIENT"
	ip -n "$NS_CLIENT" addr add "$CLIENT_V6/64" dev "$VETH_CLIENT" nodad
	ip -n "$NS_SERVER" addr add "$SERVER_V4/24" dev "$VETH_SERVER"
	ip -n "$NS_SERVER" addr add "$SERVER_V6/64" dev "$VETH_SERVER" nodad
	local ns
	for ns in "$NS_CLIENT" "$NS_SERVER"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_CLIENT" link set "$VETH_CLIENT" up
	ip -n "$NS_SERVER" link set "$VETH_SERVER" up
	ip -n "$NS_SERVER" route add 198.51.100.0/24 dev "$VETH_SERVER"
	ip -n "$NS_SERVER" route add 203.0.113.0/24 dev "$VETH_SERVER"
	ip -n "$NS_SERVER" -6 route add 2001:db8::/32 dev "$VETH_SERVER"
	ip -n "$NS_CLIENT" -6 route add 2001:db8::/32 dev "$VETH_CLIENT"
}

netns_client_addr() {
	case $1 in
	*:*) ip -n "$NS_CLIENT" addr add "$1/128" dev "$VETH_CLIENT" nodad ;;
	*) ip -n "$NS_CLIENT" addr add "$1/32" dev "$VETH_CLIENT" ;;
	esac
}

netns_xdp_attached() {
	ip -n "$NS_SERVER" -d link show dev "$VETH_SERVER" 2>/dev/null | grep -q 'prog/xdp'
}

netns_cleanup() {
	local ns pid
	for ns in "$NS_CLIENT" "$NS_SERVER"; do
		[ -e "/run/netns/$ns" ] || continue
		# Only this test's processes live in its namespaces.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill "$pid" 2>/dev/null
		done
		ip netns del "$ns"
	done
}

# Run directly, it checks itself: the topology works and cleanup removes it.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	cd "$(dirname "$0")/../.." || exit 1
	. tests/lib.sh
	trap netns_cleanup EXIT
	# A refused connection proves the path: the peer answered with a RST.
	reaches() { netns_client timeout 2 bash -c "exec 3<>/dev/tcp/$1/9" 2>&1 | grep -q 'Connection refused'; }
	check "setup succeeds" netns_setup
	netns_client_addr 198.51.100.7
	check "client reaches server over IPv4" reaches "$SERVER_V4"
	check "client reaches server over IPv6" reaches "$SERVER_V6"
	check "the probe fails for an absent host" eval '! reaches 192.0.2.99'
	check "server routes to extra client addresses" \
		eval "ip -n $NS_SERVER route get 198.51.100.7 | grep -q 'dev $VETH_SERVER'"
	check "no default route in either namespace" \
		test -z "$(ip -n "$NS_CLIENT" route show default; ip -n "$NS_SERVER" route show default;
			 ip -n "$NS_CLIENT" -6 route show default; ip -n "$NS_SERVER" -6 route show default)"
	netns_cleanup
	check "cleanup removes both namespaces" test ! -e "/run/netns/$NS_CLIENT" -a ! -e "/run/netns/$NS_SERVER"
	check "cleanup is idempotent" netns_cleanup
fi

run_start() {
	local name=$1; shift
	netns_spawn "$NS_SERVER" "$BIN" run -i "$VETH_SERVER" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	run_pid=$NETNS_PID
	wait_for "$tmp/$name.err" 'attached to|clicksieve run:'
}

run_stop() {
	run_rc=0
	kill -"$1" "$run_pid"
	{ wait "$run_pid"; } 2>/dev/null || run_rc=$?
	run_pid=
}

click_url() {
	local host=$SERVER_V4
	case $1 in *:*) host="[$SERVER_V6]" ;; esac
	echo "http://$host/redirect?link=$4&l=$3&s=$2"
}

click() {
	local src=$1 msg=$2 rcpt=$3 link=$4; shift 4
	netns_client curl -s -o /dev/null -m 5 -A "$UA" --interface "$src" "$@" \
		"$(click_url "$src" "$msg" "$rcpt" "$link")"
}
