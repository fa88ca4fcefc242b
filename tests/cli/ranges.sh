#!/usr/bin/env bash
# clicksieve ranges: check, lookup, bpftool export, and load/dump against
# LPM maps that this test creates and pins under its own directory.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh

tmp=$(mktemp -d)
pin=/sys/fs/bpf/clicksieve-test-ranges-$$
reader_pid=
cleanup() {
	[ -n "$reader_pid" ] && kill "$reader_pid" 2>/dev/null
	rm -rf "$tmp"
	rm -rf "$pin"
}
trap cleanup EXIT
quiet() { "$@" >/dev/null 2>&1; }

cat >"$tmp/good.txt" <<'EOF'
# source: test
192.0.2.0/24        alpha
192.0.2.128/25      beta    weak   # nested, longer wins
2001:db8::/32       alpha
2001:db8:1::/48     gamma   allow
EOF
printf '198.51.100.0/24 delta\n192.0.2.1/24 alpha\n' >"$tmp/bad.txt"

# check
out=$("$BIN" ranges check "$tmp/good.txt")
expect_exit 0 "check: good list exits 0" "$BIN" ranges check "$tmp/good.txt"
check "check: counts per family" grep -q '^4 ranges (IPv4 2, IPv6 2), 3 providers$' <<<"$out"
check "check: counts per provider" grep -qE '^alpha +1 +1$' <<<"$out"
check "check: flags per provider" grep -qE '^beta +1 +0  weak$' <<<"$out"
expect_exit 2 "check: bad list exits 2" "$BIN" ranges check "$tmp/bad.txt"
err=$("$BIN" ranges check "$tmp/good.txt" "$tmp/bad.txt" 2>&1 >/dev/null)
check "check: error names file and line" \
	grep -qF "$tmp/bad.txt:2: host bits set in '192.0.2.1/24'" <<<"$err"
printf '192.0.2.0/24 other\n' >"$tmp/conflict.txt"
err=$("$BIN" ranges check "$tmp/good.txt" "$tmp/conflict.txt" 2>&1 >/dev/null)
check "check: conflict across files named" grep -qF "$tmp/conflict.txt:1: 192.0.2.0/24 conflicts" <<<"$err"
expect_exit 2 "check: missing file exits 2" "$BIN" ranges check "$tmp/none.txt"
expect_exit 2 "check: no file exits 2" "$BIN" ranges check
expect_exit 0 "check: shipped default list is valid" "$BIN" ranges check data/default-ranges.txt

# lookup
out=$("$BIN" ranges lookup --ranges "$tmp/good.txt" 192.0.2.200)
check "lookup: longest prefix, provider, flags" test "$out" = "192.0.2.200: 192.0.2.128/25 beta weak"
out=$("$BIN" ranges lookup 2001:db8:1::9 --ranges "$tmp/good.txt")
check "lookup: IPv6, options after arguments" test "$out" = "2001:db8:1::9: 2001:db8:1::/48 gamma allow"
out=$("$BIN" ranges lookup -r "$tmp/good.txt" 192.0.2.200)
check "lookup: -r is --ranges, as in classify" test "$out" = "192.0.2.200: 192.0.2.128/25 beta weak"
expect_exit 2 "check: -r is not an option of check" "$BIN" ranges check -r "$tmp/good.txt"
out=$("$BIN" ranges lookup --ranges "$tmp/good.txt" 203.0.113.5)
rc=$?
check "lookup: miss prints no match" test "$out" = "203.0.113.5: no match"
check "lookup: miss exits 1" test "$rc" -eq 1
out=$("$BIN" ranges lookup --ranges "$tmp/good.txt" ::ffff:192.0.2.200)
check "lookup: IPv4-mapped IPv6 matches IPv4 ranges, as in classify" \
	test "$out" = "::ffff:192.0.2.200: 192.0.2.128/25 beta weak"
out=$("$BIN" ranges lookup 40.92.1.2 38.0.0.1)
check "lookup: shipped list by default" \
	test "$out" = $'40.92.1.2: 40.92.0.0/15 microsoft\n38.0.0.1: 38.0.0.0/8 cogent weak'
expect_exit 2 "lookup: bad address exits 2" "$BIN" ranges lookup --ranges "$tmp/good.txt" 192.0.2.300
expect_exit 2 "lookup: bad list exits 2" "$BIN" ranges lookup --ranges "$tmp/bad.txt" 192.0.2.1
expect_exit 2 "lookup: no address exits 2" "$BIN" ranges lookup

# help and bad arguments
for sub in "" check lookup load dump bpftool; do
	out=$("$BIN" ranges $sub --help)
	rc=$?
	check "help: ranges $sub --help exits 0 with usage on stdout" \
		test "$rc" -eq 0 -a -n "$(grep '^Usage: clicksieve ranges' <<<"$out")"
done
expect_exit 2 "args: unknown option exits 2" "$BIN" ranges check --bogus "$tmp/good.txt"
expect_exit 2 "args: unknown subcommand exits 2" "$BIN" ranges frobnicate
expect_exit 2 "args: no subcommand exits 2" "$BIN" ranges
expect_exit 2 "args: option without value exits 2" "$BIN" ranges lookup 192.0.2.1 --ranges
err=$("$BIN" ranges dump --frob 2>&1)
check "args: unknown option is named" grep -qF "unknown option '--frob'" <<<"$err"

# bpftool export: parse a line back into prefix and value
"$BIN" ranges bpftool --pin-dir "$pin" "$tmp/good.txt" >"$tmp/load.batch"
line=$(grep "ranges_v4 key hex 19 00 00 00" "$tmp/load.batch")
check "bpftool: one update per prefix and provider" test "$(grep -c '^map update pinned ' "$tmp/load.batch")" -eq 7
check "bpftool: IPv4 key is prefixlen (host order) then address" \
	test "$line" = "map update pinned $pin/ranges_v4 key hex 19 00 00 00 c0 00 02 80 value hex 02 00 01 00"
line=$(grep "ranges_v6 " "$tmp/load.batch" | head -1)
read -r -a f <<<"$line"
check "bpftool: IPv6 key is 20 bytes, value 4" test "${#f[@]}" -eq 32 -a "${f[26]}" = value
check "bpftool: IPv6 prefixlen and address bytes" \
	test "${f[6]}${f[7]}${f[8]}${f[9]} ${f[10]}${f[11]}${f[12]}${f[13]}" = "20000000 20010db8"
line=$(grep "providers key hex 03 00 00 00" "$tmp/load.batch")
name=$(printf "$(echo "$line" | sed 's/.*value hex //; s/\([0-9a-f][0-9a-f]\) */\\x\1/g')" | tr -d '\0')
check "bpftool: provider name entry decodes" test "$name" = "gamma"

if [ "$(id -u)" -ne 0 ] || ! mountpoint -q /sys/fs/bpf; then
	ok "# SKIP load/dump need root and bpffs"
	exit 0
fi

expect_exit 1 "load: no pinned maps exits 1" "$BIN" ranges load --pin-dir "$pin" "$tmp/good.txt"
err=$("$BIN" ranges load --pin-dir "$pin" "$tmp/good.txt" 2>&1)
check "load: no pinned maps says so" grep -qF "not pinned" <<<"$err"

mkdir -p "$pin"
bpftool map create "$pin/ranges_v4" type lpm_trie key 8 value 4 entries 1024 name ranges_v4 flags 1 &&
bpftool map create "$pin/ranges_v6" type lpm_trie key 20 value 4 entries 1024 name ranges_v6 flags 1 &&
bpftool map create "$pin/providers" type array key 4 value 32 entries 256 name providers
check "setup: test maps pinned" test -e "$pin/providers"

# bpftool batch file written by `ranges bpftool` loads what `dump` reads back
bpftool batch file "$tmp/load.batch" >/dev/null
"$BIN" ranges dump --pin-dir "$pin" >"$tmp/dump.txt"
"$BIN" ranges check "$tmp/good.txt" >/dev/null
check "bpftool batch: dump equals the list" diff <(sed 's/#.*//; /^ *$/d' "$tmp/good.txt" |
	awk '{print $1, $2, $3}' | sed 's/ *$//' | sort) <(awk '{print $1, $2, $3}' "$tmp/dump.txt" | sed 's/ *$//' | sort)

# a different provider numbering already in the kernel: names keep their ids
out=$("$BIN" ranges load --pin-dir "$pin" "$tmp/good.txt")
check "load: same list changes nothing" \
	test "$out" = "$pin: added 0, changed 0, removed 0, unchanged 4; 0 new provider names"
cat >"$tmp/next.txt" <<'EOF'
192.0.2.0/24        alpha
192.0.2.128/25      beta             # flags change
198.51.100.0/24     epsilon          # new
2001:db8:1::/48     gamma   allow
EOF
out=$("$BIN" ranges load --pin-dir "$pin" "$tmp/next.txt")
check "load: prints the difference" \
	test "$out" = "$pin: added 1, changed 1, removed 1, unchanged 2; 1 new provider names"
"$BIN" ranges dump --pin-dir "$pin" >"$tmp/dump.txt"
check "dump: sorted list format" test "$(awk '{print $1, $2, $3}' "$tmp/dump.txt" | sed 's/ *$//')" = \
	"$(printf '192.0.2.0/24 alpha\n192.0.2.128/25 beta\n198.51.100.0/24 epsilon\n2001:db8:1::/48 gamma allow')"
check "dump output loads back" quiet "$BIN" ranges check "$tmp/dump.txt"
out=$(bpftool map lookup pinned "$pin/ranges_v4" key hex 18 00 00 00 c6 33 64 00)
check "load: new provider took the next free id" grep -q 'value: 04 00 00 00$' <<<"$out"
out=$(bpftool map lookup pinned "$pin/ranges_v4" key hex 18 00 00 00 c0 00 02 00)
check "load: existing provider kept its id" grep -q 'value: 01 00 00 00$' <<<"$out"
out=$(bpftool map lookup pinned "$pin/ranges_v4" key hex 19 00 00 00 c0 00 02 80)
check "load: changed flags written" grep -q 'value: 02 00 00 00$' <<<"$out"
expect_exit 2 "load: bad list exits 2 and changes nothing" "$BIN" ranges load --pin-dir "$pin" "$tmp/bad.txt"
check "load: bad list left the maps alone" test "$("$BIN" ranges dump --pin-dir "$pin" | wc -l)" -eq 4

# By difference: a reader polling a prefix that both lists hold never misses it.
printf '192.0.2.0/24 alpha\n' >"$tmp/keep.txt"
for i in $(seq 0 255); do printf '10.%d.0.0/16 filler\n' "$i"; done >>"$tmp/keep.txt"
printf '192.0.2.0/24 alpha\n' >"$tmp/keep2.txt"
for i in $(seq 0 255); do printf '10.%d.1.0/24 other\n' "$i"; done >>"$tmp/keep2.txt"
: >"$tmp/misses"
(
	while :; do
		bpftool map lookup pinned "$pin/ranges_v4" key hex 18 00 00 00 c0 00 02 05 >/dev/null 2>&1 ||
			echo miss >>"$tmp/misses"
	done
) &
reader_pid=$!
for round in 1 2 3 4 5; do
	"$BIN" ranges load --pin-dir "$pin" "$tmp/keep.txt" >/dev/null
	"$BIN" ranges load --pin-dir "$pin" "$tmp/keep2.txt" >/dev/null
done
kill "$reader_pid"
wait "$reader_pid" 2>/dev/null
reader_pid=
check "load: kept prefix never missing during reloads" test ! -s "$tmp/misses"
check "load: reloads ended on the last list" test "$("$BIN" ranges dump --pin-dir "$pin" | wc -l)" -eq 257
