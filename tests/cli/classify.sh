#!/usr/bin/env bash
# clicksieve classify end to end: generated logs with known answers (every
# DESIGN §1 scenario), gzip, stdin, several files, --follow across rotation,
# --strict, --summary, --config, --trust-proxy, and argument errors.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh

GEN=$PWD/$BUILD/tests/helpers/gen_log
tmp=$(mktemp -d /tmp/cs-classify.XXXXXX)
follower=
cleanup() {
	[ -n "$follower" ] && kill "$follower" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
[ -n "${KEEP_TMP:-}" ] && trap - EXIT

# verdicts EXPECTED OUTPUT: every "FILE:LINE VERDICT REASONS PROVIDER" line of
# EXPECTED matches a JSON record exactly, and nothing else came out.
verdicts() {
	python3 - "$1" "$2" <<'PY'
import collections, json, sys
# Multisets: after a rotation the new file's lines are numbered from 1 again.
want = collections.Counter()
for row in open(sys.argv[1]):
    where, verdict, reasons, provider = row.split()
    want[(where, verdict, ",".join(sorted([] if reasons == "-" else reasons.split(","))),
          None if provider == "-" else provider)] += 1
got = collections.Counter()
for row in open(sys.argv[2]):
    r = json.loads(row)
    got[("%s:%d" % (r["file"], r["line"]), r["verdict"], ",".join(sorted(r["reasons"])),
         r["provider"])] += 1
missing, extra = want - got, got - want
for k in sorted(missing)[:10]:
    print("# missing or wrong: want", k)
for k in sorted(extra)[:10]:
    print("# unexpected: got", k)
sys.exit(1 if missing or extra or not want else 0)
PY
}

# qualify FILE < gen_log answers: prefixes each line number with FILE:.
qualify() { awk -v f="$1" '{ $1 = f ":" $1; print }'; }

repo=$PWD
cd "$tmp"
"$GEN" -n 6 -b a.log a.exp ranges.txt || { not_ok "gen_log ran"; exit 0; }
qualify a.log < a.exp > a.want

# --- the end-to-end answer check, combined format
"$BIN" classify -r ranges.txt --honeypot hp-trap a.log > a.out 2> a.err
rc=$?
check "combined: exit 0 with bad lines present" test "$rc" -eq 0
check "combined: every verdict and reason matches the generated answers" verdicts a.want a.out
check "combined: bad lines reported with file:line:column" grep -q '^a.log:[0-9]*:[0-9]*: truncated line' a.err
check "combined: bad-line count at the end" grep -q '^clicksieve classify: 3 bad lines skipped' a.err
check "not-tracked requests are not printed" bash -c '! grep -q favicon a.out'

# --- JSON lines (nginx escape=json, $msec)
"$GEN" -n 4 -f json j.log j.exp /dev/null
qualify j.log < j.exp > j.want
"$BIN" classify -f json -r ranges.txt --honeypot hp-trap j.log > j.out 2> j.err
check "json: every verdict matches" verdicts j.want j.out

# --- a custom nginx log_format over the same log
"$BIN" classify -r ranges.txt --honeypot hp-trap \
	-f '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "${http_user_agent}"' \
	a.log > c.out 2>/dev/null
check "log_format string equal to combined gives the same verdicts" verdicts a.want c.out

# --- gzip and stdin
gzip -c a.log > a.log.gz
"$BIN" classify -r ranges.txt --honeypot hp-trap a.log.gz > gz.out 2>/dev/null
qualify a.log.gz < a.exp > gz.want
check "gzip input: same verdicts" verdicts gz.want gz.out
"$BIN" classify -r ranges.txt --honeypot hp-trap - < a.log > in.out 2>/dev/null
qualify - < a.exp > in.want
check "stdin '-': same verdicts" verdicts in.want in.out
gzip -c a.log | "$BIN" classify -r ranges.txt --honeypot hp-trap - > in.out 2>/dev/null
check "gzip on stdin: same verdicts" verdicts in.want in.out

# --- several files: one classifier across them, lines numbered per file
head -n 40 a.log > p1.log
tail -n +41 a.log > p2.log
awk '$1 <= 40 { $1 = "p1.log:" $1; print; next } { $1 = "p2.log:" ($1 - 40); print }' a.exp > p.want
"$BIN" classify -r ranges.txt --honeypot hp-trap p1.log p2.log > p.out 2>/dev/null
check "several files: same verdicts, per-file line numbers" verdicts p.want p.out

# --- --config carries what the command line did
mkdir -p conf
cp ranges.txt conf/lists.txt
cat > conf/clicksieve.conf <<'INI'
[ranges]
file = lists.txt
[classify]
honeypot = hp-trap
burst_window = 2s
INI
"$BIN" classify --config conf/clicksieve.conf a.log > conf.out 2>/dev/null
check "--config: ranges (relative path) and honeypot from the file" verdicts a.want conf.out

"$BIN" classify --config "$repo/data/clicksieve.conf.example" -r ranges.txt --honeypot hp-trap \
	a.log > ex.out 2>/dev/null
check "the shipped example config loads and keeps the defaults" verdicts a.want ex.out

# --- --summary
"$BIN" classify -r ranges.txt --honeypot hp-trap --summary a.log > /dev/null 2> s.err
clicks=$(wc -l < a.exp)
machines=$(grep -c ' machine ' a.exp)
check "--summary: header row" grep -q '^message  *clicks  *human  *machine  *suspect  *scanner_range' s.err
check "--summary: one row per message" test "$(grep -c '^m[0-9] ' s.err)" -eq 6
check "--summary: TOTAL clicks and machine counts" \
	awk -v c="$clicks" -v m="$machines" '$1 == "TOTAL" { found = ($2 == c && $4 == m) } END { exit !found }' s.err
check "--summary: line, click and bad-line counts" grep -q "^lines $(wc -l < a.log), clicks $clicks, not tracking URLs 12, bad lines 3" s.err

# --- --strict
"$BIN" classify -r ranges.txt --strict a.log > /dev/null 2> strict.err
rc=$?
check "--strict: bad line exits 2" test "$rc" -eq 2
check "--strict: names file:line" grep -q "^a.log:$(grep -n '09:00$' a.log | head -1 | cut -d: -f1):[0-9]*: truncated line" strict.err
"$BIN" classify -f json -r ranges.txt --strict j.log > /dev/null 2>&1
check "--strict: clean log exits 0" test $? -eq 0

# --- trusted proxies: X-Forwarded-For only from trusted peers
fmt='$remote_addr [$time_iso8601] "$request" "$http_user_agent" "$http_x_forwarded_for"'
cat > xff.log <<'LOG'
192.0.2.10 [2026-11-16T08:00:00+00:00] "GET /redirect?s=m&l=r&link=a HTTP/1.1" "Mozilla/5.0" "6.6.6.6, 203.0.113.50, 192.0.2.11"
198.51.100.9 [2026-11-16T09:00:00+00:00] "GET /redirect?s=m2&l=r&link=a HTTP/1.1" "Mozilla/5.0" "203.0.113.51"
LOG
"$BIN" classify -r ranges.txt -f "$fmt" --trust-proxy 192.0.2.0/24 xff.log > xff.out 2>/dev/null
check "--trust-proxy: client is the rightmost untrusted XFF address" grep -q '"ip":"203.0.113.50".*"line":1}' xff.out
check "--trust-proxy: untrusted peer's XFF ignored" grep -q '"ip":"198.51.100.9".*"line":2}' xff.out
"$BIN" classify -r ranges.txt -f "$fmt" xff.log > xff2.out 2>/dev/null
check "no --trust-proxy: the logged peer" grep -q '"ip":"192.0.2.10".*"line":1}' xff2.out

# --- --follow: growing file, rotation by rename + recreate, lines written to
# the old file after the rename; verdicts must come out while following.
# Chunks end where the log has a gap of 40 s or more, so that idle advance
# (event time moving on with the wall clock in the pauses) cannot change
# a verdict.
"$GEN" -n 2 f.src f.exp /dev/null
head -n 40 f.src > f.log
"$BIN" classify --follow -r ranges.txt --honeypot hp-trap --reorder-window 0 --idle-advance 100ms \
	f.log > f.out 2> f.err &
follower=$!
sleep 0.5
sed -n '41,44p' f.src >> f.log
sleep 0.5
mv f.log f.log.1
sed -n '45,48p' f.src >> f.log.1
sleep 0.3
tail -n +49 f.src > f.log
awk '$1 <= 48 { $1 = "f.log:" $1; print; next } { $1 = "f.log:" ($1 - 48); print }' f.exp > f.want
want=$(wc -l < f.want)
for _ in $(seq 100); do
	[ "$(wc -l < f.out)" -ge "$want" ] && break
	sleep 0.2
done
check "--follow: every verdict printed while following (idle advance)" test "$(wc -l < f.out)" -eq "$want"
kill -TERM "$follower"
wait "$follower"
rc=$?
follower=
check "--follow: SIGTERM ends it with exit 0" test "$rc" -eq 0
check "--follow: verdicts across rotation match, lines renumbered in the new file" verdicts f.want f.out
# --- --follow across copytruncate: the file shrinks, reading starts over
head -n 40 f.src > t.log
"$BIN" classify --follow -r ranges.txt --honeypot hp-trap --reorder-window 0 --idle-advance 100ms \
	t.log > t.out 2> t.err &
follower=$!
sleep 0.5
: > t.log
sleep 0.5
sed -n '41,44p' f.src >> t.log
awk '$1 <= 40 { $1 = "t.log:" $1; print; next } $1 <= 44 { $1 = "t.log:" ($1 - 40); print }' f.exp > t.want
want=$(wc -l < t.want)
for _ in $(seq 100); do
	[ "$(wc -l < t.out)" -ge "$want" ] && break
	sleep 0.2
done
kill -TERM "$follower"
wait "$follower"
follower=
check "--follow: after truncation the new lines are read from the start" verdicts t.want t.out
expect_exit 2 "--follow on stdin is refused" "$BIN" classify --follow -r ranges.txt -
expect_exit 2 "--follow on a gzip file is refused" "$BIN" classify --follow -r ranges.txt a.log.gz

# --- arguments and inputs
"$BIN" classify --help > help.out 2>&1
check "--help exits 0 on stdout" bash -c "grep -q '^Usage: clicksieve classify' help.out"
expect_exit 2 "unknown option exits 2" "$BIN" classify --bogus a.log
expect_exit 2 "no input exits 2" "$BIN" classify -r ranges.txt
expect_exit 2 "bad duration exits 2" "$BIN" classify -r ranges.txt --burst-window 2parsecs a.log
expect_exit 2 "bad --format exits 2" "$BIN" classify -r ranges.txt -f apache a.log
expect_exit 2 "bad --trust-proxy exits 2" "$BIN" classify -r ranges.txt --trust-proxy 192.0.2.1/24 a.log
expect_exit 1 "missing input file exits 1" "$BIN" classify -r ranges.txt nonexistent.log
printf '205.139.110.0/24 mimecast\n10.0.0.0/99 broken\n' > bad-ranges.txt
"$BIN" classify -r bad-ranges.txt a.log > bad.out 2> bad.err
rc=$?
check "bad range file exits 2" test "$rc" -eq 2
check "bad range file: error names file:line" grep -q 'bad-ranges.txt:2' bad.err
check "bad range file: nothing printed" test ! -s bad.out
printf '[classify]\nburst_window = 2s\nreorder_window = later\n' > bad.conf
"$BIN" classify --config bad.conf a.log > /dev/null 2> badconf.err
rc=$?
check "bad config exits 2" test "$rc" -eq 2
check "bad config: error names file:line" grep -q 'bad.conf:3: reorder_window: bad duration' badconf.err

# Input out of time order beyond the reorder window is judged alone: say so.
click_line() {
	echo "$1 - - [16/Nov/2026:$2 +0000] \"GET /redirect?link=$3&l=R1&s=$4 HTTP/1.1\" 302 0 \"-\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0\""
}
{ click_line 192.0.2.10 08:00:00 L1 S; click_line 192.0.2.99 09:00:00 L1 Q; } > newer.log
{ click_line 192.0.2.11 08:00:01 L2 S; } > older.log
"$BIN" classify -r ranges.txt newer.log older.log > late.out 2> late.err
check "late clicks: warning on stderr" grep -q 'warning: 1 click arrived later than the reorder window' late.err
"$BIN" classify -r ranges.txt older.log newer.log > ordered.out 2> ordered.err
check "files oldest first: the burst is found" test "$(grep -c '"reasons":\["burst"\]' ordered.out)" -eq 2
check "files oldest first: no warning" test ! -s ordered.err

# A line dated far in the future must not switch the timing rules off.
{ click_line 192.0.2.10 08:00:00 L1 S
  echo '192.0.2.10 - - [16/Nov/2099:08:00:00 +0000] "GET /redirect?link=L9&l=R9&s=Z HTTP/1.1" 302 0 "-" "Mozilla/5.0"'
  click_line 192.0.2.11 08:00:01 L2 S; } > future.log
"$BIN" classify -r ranges.txt future.log > future.out 2> future.err
check "future line: reported as a bad line" grep -q 'future.log:2: time more than a day in the future' future.err
check "future line: the burst after it is still found" test "$(grep -c '"reasons":\["burst"\]' future.out)" -eq 2

# A cut-off or corrupt gzip file is an I/O error: lost data must not pass as a bad line.
gz_size=$(stat -c %s a.log.gz)
head -c $((gz_size / 2)) a.log.gz > cut.log.gz
"$BIN" classify -r ranges.txt cut.log.gz > /dev/null 2> cut.err
rc=$?
check "truncated gzip exits 1" test "$rc" -eq 1
check "truncated gzip: error names the file" grep -q '^clicksieve classify: cut.log.gz: unexpected end of gzip stream$' cut.err
cp a.log.gz crc.log.gz
# Flip the first byte of the CRC-32 in the trailer.
printf "\\$(printf %03o $(( $(od -An -tu1 -j $((gz_size - 8)) -N1 a.log.gz) ^ 255 )))" |
	dd of=crc.log.gz bs=1 seek=$((gz_size - 8)) conv=notrunc status=none
"$BIN" classify -r ranges.txt crc.log.gz > /dev/null 2> crc.err
rc=$?
check "corrupt gzip exits 1" test "$rc" -eq 1
check "corrupt gzip: names the file once, no descriptor" \
	grep -q '^clicksieve classify: crc.log.gz: incorrect data check$' crc.err
