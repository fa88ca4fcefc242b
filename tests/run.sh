#!/usr/bin/env bash
# Runs every test suite and ends with one line: "N passed, N failed".
# Unit and BPF suites are cmocka binaries (TAP output); shell suites print TAP.
set -u
: "${BUILD:=build}"
export BUILD
cd "$(dirname "$0")/.."

passed=0 failed=0
log_dir=$BUILD/test-logs
mkdir -p "$log_dir"

run_suite() {
	local name=$1; shift
	local log=$log_dir/$(echo "$name" | tr '/' '_').log
	local start=$SECONDS rc=0
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 600 "$@" >"$log" 2>&1 || rc=$?
	local p f
	p=$(grep -cE '^ok [0-9]+' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited $rc" >>"$log"
	fi
	passed=$((passed + p)); failed=$((failed + f))
	printf '%-40s %4d passed %3d failed  %3ds\n' "$name" "$p" "$f" $((SECONDS - start))
	if [ "$f" -gt 0 ]; then
		grep -E '^not ok|^# ' "$log" | head -40 | sed 's/^/    /'
		tail -n 15 "$log" | sed 's/^/    | /'
	fi
}

for t in "$BUILD"/tests/unit/test_* "$BUILD"/tests/bpf/test_*; do
	[ -x "$t" ] && run_suite "${t#$BUILD/tests/}" "$t"
done
for t in tests/cli/*.sh tests/live/*.sh; do
	[ -f "$t" ] && run_suite "${t#tests/}" bash "$t"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
