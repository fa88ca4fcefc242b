#!/usr/bin/env bash
# Learned scanners offline (classify): an unlisted gateway that bursts for
# many recipients is learned once it reaches the threshold, and its later
# lone click on a one-link mail is machine (learned_range, provider
# "learned"); below the threshold, allow-listed, after the ttl or with
# --no-learn it stays human. Options, config keys and their errors.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh

tmp=$(mktemp -d /tmp/cs-learned.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The log and its answers: "LINE VERDICT REASONS PROVIDER" per click.
python3 - "$tmp/access.log" "$tmp/expected" <<'PY'
import sys, time
T0 = 1794816000                         # 2026-11-16T08:00:00Z
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0"
lines = []                              # (ts, ip, target, verdict, reasons, provider)

def click(ts, ip, msg, rcpt, link, verdict, reasons="-", provider="-"):
    lines.append((ts, ip, "/redirect?link=%s&l=%s&s=%s" % (link, rcpt, msg), verdict, reasons,
                  provider))

def scan(ip, t, recipients, learned_from, provider="-", v6=None):
    """ip fetches both links of m1 for each recipient, one recipient a minute."""
    for k, r in enumerate(recipients):
        src = v6 % (k + 1) if v6 else ip
        first = "burst" if k < learned_from else "burst,learned_range"
        second = "burst" if k + 1 < learned_from else "burst,learned_range"
        prov = lambda rs: "learned" if "learned" in rs and provider == "-" else provider
        click(t + 60 * k, src, "m1", r, "L1", "machine", first, prov(first))
        click(t + 60 * k + 1, src, "m1", r, "L2", "machine", second, prov(second))

# An unlisted gateway scans five recipients: learned at the third's first click.
scan("192.0.2.50", T0, ["r1", "r2", "r3", "r4", "r5"], learned_from=3)
# An allow-listed gateway does the same: never learned.
scan("198.51.100.20", T0 + 5, ["r1", "r2", "r3", "r4", "r5"], learned_from=99, provider="corp")
# Another gateway bursts for two recipients only, and for one of them again.
scan("192.0.2.60", T0 + 10, ["r1", "r2", "r1"], learned_from=99)
# An IPv6 gateway rotating addresses inside its /64.
scan(None, T0 + 15, ["r1", "r2", "r3"], learned_from=3, v6="2001:db8:77::%x")
# Half an hour later, one-link mails: one click each.
t = T0 + 1800
click(t, "192.0.2.50", "m2", "r9", "L1", "machine", "learned_range", "learned")
click(t + 10, "198.51.100.20", "m2", "r10", "L1", "human", "-", "corp")
click(t + 20, "192.0.2.60", "m2", "r11", "L1", "human")
click(t + 30, "2001:db8:77::beef", "m2", "r12", "L1", "machine", "learned_range", "learned")
click(t + 40, "203.0.113.5", "m2", "r13", "L1", "human")

lines.sort(key=lambda l: l[0])
with open(sys.argv[1], "w") as log, open(sys.argv[2], "w") as exp:
    for n, (ts, ip, target, verdict, reasons, provider) in enumerate(lines, 1):
        when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
        log.write('%s - - [%s] "GET %s HTTP/1.1" 302 0 "-" "%s"\n' % (ip, when, target, UA))
        exp.write("%d %s %s %s\n" % (n, verdict, reasons, provider))
PY
printf '205.139.110.0/24 mimecast\n198.51.100.0/24 corp allow\n' > "$tmp/ranges.txt"

# verdicts EXPECTED OUTPUT: every line's verdict, reasons and provider as expected.
verdicts() {
	python3 - "$1" "$2" <<'PY'
import json, sys
want = {}
for row in open(sys.argv[1]):
    line, verdict, reasons, provider = row.split()
    want[int(line)] = (verdict, sorted([] if reasons == "-" else reasons.split(",")),
                       None if provider == "-" else provider)
got = {}
for row in open(sys.argv[2]):
    r = json.loads(row)
    got[r["line"]] = (r["verdict"], sorted(r["reasons"]), r["provider"])
bad = [(l, want.get(l), got.get(l)) for l in sorted(set(want) | set(got)) if want.get(l) != got.get(l)]
for l, w, g in bad[:10]:
    print("# line %d: want %s, got %s" % (l, w, g))
sys.exit(1 if bad or not want else 0)
PY
}

# field LINE KEY FILE: one field of the verdict for a log line.
field() {
	python3 -c '
import json, sys
for row in open(sys.argv[3]):
    r = json.loads(row)
    if r["line"] == int(sys.argv[1]):
        print(json.dumps(r[sys.argv[2]]))' "$1" "$2" "$3"
}

"$BIN" classify -r "$tmp/ranges.txt" "$tmp/access.log" > "$tmp/out.json" 2> "$tmp/err"
check "classify learns by default" verdicts "$tmp/expected" "$tmp/out.json"
lone=$(grep -n '192.0.2.50 .*s=m2' "$tmp/access.log" | cut -d: -f1)
check "the gateway's lone click is machine by learned_range" \
	test "$(field "$lone" reasons "$tmp/out.json")" = '["learned_range"]'
check "... with provider learned" test "$(field "$lone" provider "$tmp/out.json")" = '"learned"'
check "before the threshold its clicks were burst only" \
	test "$(field 1 reasons "$tmp/out.json")" = '["burst"]'

# --no-learn: the lone clicks are human again, the bursts stay burst.
"$BIN" classify --no-learn -r "$tmp/ranges.txt" "$tmp/access.log" > "$tmp/off.json"
check "--no-learn: no learned_range anywhere" eval "! grep -q learned_range '$tmp/off.json'"
check "--no-learn: the lone click is human" test "$(field "$lone" verdict "$tmp/off.json")" = '"human"'

# A ttl shorter than the half hour: expired before the lone click.
"$BIN" classify --learn-ttl 20m -r "$tmp/ranges.txt" "$tmp/access.log" > "$tmp/ttl.json"
check "--learn-ttl 20m: expired by the lone click" \
	test "$(field "$lone" verdict "$tmp/ttl.json")" = '"human"'
check "--learn-ttl 20m: still learned during the scan" grep -q learned_range "$tmp/ttl.json"

# A higher threshold: five recipients are not enough for six.
"$BIN" classify --learn-threshold 6 -r "$tmp/ranges.txt" "$tmp/access.log" > "$tmp/six.json"
check "--learn-threshold 6: not learned" eval "! grep -q learned_range '$tmp/six.json'"
# ... and a window too short for the minute between recipients.
"$BIN" classify --learn-window 90s -r "$tmp/ranges.txt" "$tmp/access.log" > "$tmp/win.json"
check "--learn-window 90s: not learned" eval "! grep -q learned_range '$tmp/win.json'"

# The same through the configuration file; the command line wins over it.
printf '[learn]\nthreshold = 6\n' > "$tmp/six.conf"
"$BIN" classify -c "$tmp/six.conf" -r "$tmp/ranges.txt" "$tmp/access.log" > "$tmp/conf.json"
check "[learn] threshold = 6: not learned" eval "! grep -q learned_range '$tmp/conf.json'"
"$BIN" classify -c "$tmp/six.conf" --learn-threshold 3 -r "$tmp/ranges.txt" "$tmp/access.log" \
	> "$tmp/conf3.json"
check "--learn-threshold overrides [learn]" verdicts "$tmp/expected" "$tmp/conf3.json"
printf '[learn]\nenabled = no\n' > "$tmp/off.conf"
"$BIN" classify -c "$tmp/off.conf" -r "$tmp/ranges.txt" "$tmp/access.log" > "$tmp/conf-off.json"
check "[learn] enabled = no" eval "! grep -q learned_range '$tmp/conf-off.json'"

# Errors: exit 2 with a message naming the option or FILE:LINE.
expect_exit 2 "--learn-threshold 0 is an error" "$BIN" classify --learn-threshold 0 "$tmp/access.log"
expect_exit 2 "--learn-threshold 65 is an error" "$BIN" classify --learn-threshold 65 "$tmp/access.log"
expect_exit 2 "--learn-ttl garbage is an error" "$BIN" classify --learn-ttl soon "$tmp/access.log"
expect_exit 2 "--learn-window 0 is an error" "$BIN" classify --learn-window 0 "$tmp/access.log"
printf '[learn]\nthreshold = many\n' > "$tmp/bad.conf"
"$BIN" classify -c "$tmp/bad.conf" "$tmp/access.log" > /dev/null 2> "$tmp/bad.err"
check "bad [learn] value names FILE:LINE" grep -q "bad.conf:2: threshold" "$tmp/bad.err"
printf '[learn]\nenabled = maybe\n' > "$tmp/bad2.conf"
expect_exit 2 "bad [learn] enabled is an error" "$BIN" classify -c "$tmp/bad2.conf" "$tmp/access.log"
check "--help documents the learn options" eval "'$BIN' classify --help | grep -q -- --learn-threshold"
check "replay --help too" eval "'$BIN' replay --help | grep -q -- --no-learn"
