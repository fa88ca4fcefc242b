# Shared helpers for shell test suites: TAP lines that tests/run.sh counts.
# Source it; set BIN to the clicksieve binary.
: "${BUILD:=build}"
BIN=${BIN:-$PWD/$BUILD/clicksieve}
_tap_n=0

ok()     { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); echo "not ok $_tap_n - $*"; }

# check NAME COMMAND...: one TAP line from a command's exit status.
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# expect_exit CODE NAME COMMAND...: the command must exit with CODE.
expect_exit() {
	local want=$1 name=$2; shift 2
	local got=0
	"$@" >/dev/null 2>&1 || got=$?
	if [ "$got" -eq "$want" ]; then ok "$name"; else not_ok "$name (exit $got, want $want)"; fi
}

# wait_for FILE REGEX [TENTHS]: up to TENTHS/10 s (default 5 s) for a line of
# FILE matching REGEX.
wait_for() {
	local _
	for _ in $(seq "${3:-50}"); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
