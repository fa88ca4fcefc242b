#!/usr/bin/env bash
# clicksieve ranges import against every provider feed snapshot (counts
# computed independently with python3's json and ipaddress), broken feeds,
# atomic -o; scripts/update-ranges with --from; allow-lists in lookup and
# classify.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh

FEEDS=$(cd "$(dirname "$0")/../../../shared/feeds" 2>/dev/null && pwd)
BROKEN=tests/fixtures/feeds-broken
M365=tests/fixtures/m365-endpoints.json
tmp=$(mktemp -d /tmp/cs-import.XXXXXX)
sleeper=
cleanup() {
	[ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "$FEEDS" ] || [ ! -f "$FEEDS/aws-ip-ranges.json" ]; then
	not_ok "feed snapshots in ../shared/feeds"
	exit 1
fi

# expected FORMAT FILE [SERVICE]: "IPv4 N, IPv6 M" of the distinct prefixes,
# read with python's own JSON and address parsers.
expected() {
	python3 - "$@" <<'PY'
import ipaddress, json, sys
fmt, path = sys.argv[1], sys.argv[2]
svc = sys.argv[3].lower() if len(sys.argv) > 3 else None
def pick(fields):
    return svc is None or svc in [str(f).lower() for f in fields if f is not None]
out = []
if fmt == "csv":
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line.split(",")[0].strip())
else:
    d = json.load(open(path))
    if fmt == "aws":
        out += [p["ip_prefix"] for p in d["prefixes"] if pick([p["service"], p["region"]])]
        out += [p["ipv6_prefix"] for p in d["ipv6_prefixes"] if pick([p["service"], p["region"]])]
    elif fmt in ("gcp", "goog"):
        out += [p.get("ipv4Prefix") or p["ipv6Prefix"] for p in d["prefixes"]
                if pick([p.get("service"), p.get("scope")])]
    elif fmt == "azure":
        for v in d["values"]:
            if pick([v["name"], v["properties"].get("systemService"), v["properties"].get("region")]):
                out += v["properties"]["addressPrefixes"]
    elif fmt == "oracle":
        for r in d["regions"]:
            for c in r["cidrs"]:
                if pick([r["region"]] + c["tags"]):
                    out.append(c["cidr"])
    elif fmt == "m365":
        for e in d:
            if pick([e["id"], e["serviceArea"]]):
                out += e.get("ips", [])
nets = set(ipaddress.ip_network(p) for p in out)
print("IPv4 %d, IPv6 %d" % (sum(n.version == 4 for n in nets), sum(n.version == 6 for n in nets)))
PY
}

# counts FILE: "IPv4 N, IPv6 M" as clicksieve ranges check reads the list.
counts() {
	"$BIN" ranges check "$1" | sed -n '1s/^[0-9]* ranges (\(.*\)), .*$/\1/p'
}

# import_matches NAME FORMAT FEED [IMPORT OPTIONS...] [-- SERVICE]
import_matches() {
	local name=$1 format=$2 feed=$3; shift 3
	local svc=() opts=()
	while [ $# -gt 0 ]; do
		if [ "$1" = -- ]; then svc=("$2"); opts+=(--service "$2"); shift 2; else opts+=("$1"); shift; fi
	done
	local out=$tmp/$name.txt want got
	if ! "$BIN" ranges import --format "$format" "${opts[@]}" "$feed" >"$out" 2>"$tmp/err"; then
		not_ok "import $name: exit status ($(head -c 300 "$tmp/err"))"
		return
	fi
	want=$(expected "$format" "$feed" "${svc[@]}")
	got=$(counts "$out")
	if [ -n "$got" ] && [ "$got" = "$want" ]; then
		ok "import $name: $got, as the feed after de-duplication"
	else
		not_ok "import $name: got '$got', want '$want'"
	fi
}

# ---- every feed snapshot ----
import_matches aws aws "$FEEDS/aws-ip-ranges.json"
import_matches aws-ec2 aws "$FEEDS/aws-ip-ranges.json" -- EC2
import_matches aws-region aws "$FEEDS/aws-ip-ranges.json" -- eu-central-1
import_matches gcp gcp "$FEEDS/google-cloud-ip-ranges.json"
import_matches gcp-scope gcp "$FEEDS/google-cloud-ip-ranges.json" -- europe-west3
import_matches goog goog "$FEEDS/goog.json"
import_matches azure azure "$FEEDS/microsoft-azure-ip-ranges.json"
import_matches azure-westeurope azure "$FEEDS/microsoft-azure-ip-ranges.json" -- AzureCloud.westeurope
import_matches azure-frontdoor azure "$FEEDS/microsoft-azure-ip-ranges.json" -- AzureFrontDoor
import_matches oracle oracle "$FEEDS/oracle-cloud-ip-ranges.json"
import_matches oracle-storage oracle "$FEEDS/oracle-cloud-ip-ranges.json" -- OBJECT_STORAGE
import_matches digitalocean csv "$FEEDS/digitalocean.csv" --provider digitalocean
import_matches linode csv "$FEEDS/linode.txt" --provider linode
import_matches m365 m365 "$M365"
import_matches m365-eop m365 "$M365" -- 10

check "aws: provenance header" grep -qxF \
	"# source: aws-ip-ranges.json (AWS ip-ranges.json), syncToken 1753388594, createDate 2025-07-24-20-23-14" \
	"$tmp/aws.txt"
check "azure: changeNumber in header" grep -q '^# source: .*, changeNumber 363, cloud Public$' "$tmp/azure.txt"
check "gcp: creationTime in header" grep -q '^# source: .*, creationTime 2025-07-24T19:16:28.780563$' "$tmp/gcp.txt"
check "azure: selection in header" grep -q '^# selected: AzureCloud.westeurope (matched against ' \
	"$tmp/azure-westeurope.txt"
check "header: import time" grep -qE \
	'^# imported [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z by clicksieve ranges import --format aws: 13344 entries, 9066 ranges' \
	"$tmp/aws.txt"
check "default provider names" test "$(for f in aws gcp goog azure oracle m365; do
	grep -m1 -vE '^#' "$tmp/$f.txt" | awk '{print $2}'; done | tr '\n' ' ')" = "aws gcp google azure oracle microsoft "
out=$("$BIN" ranges lookup --ranges "$tmp/m365-eop.txt" 40.93.1.1 52.238.78.88)
check "m365 --service 10: EOP prefixes" \
	test "$out" = $'40.93.1.1: 40.92.0.0/15 microsoft\n52.238.78.88: 52.238.78.88/32 microsoft'
"$BIN" ranges import --format csv --provider linode --weak "$FEEDS/linode.txt" >"$tmp/weak.txt"
check "--weak flags every range" test "$(grep -vE '^#' "$tmp/weak.txt" | grep -cv ' weak$')" -eq 0
"$BIN" ranges import --format plain --provider corp - >"$tmp/plain.txt" <<<$'# egress\n192.0.2.7\n2001:db8::/48 # lab'
check "plain from stdin, bare address is a host route" \
	test "$(grep -v '^#' "$tmp/plain.txt" | awk '{print $1}' | tr '\n' ' ')" = "192.0.2.7/32 2001:db8::/48 "

# --exclude: exact prefixes another list names for another provider are left out.
"$BIN" ranges import --format azure --exclude data/default-ranges.txt \
	"$FEEDS/microsoft-azure-ip-ranges.json" >"$tmp/azure-ex.txt"
check "--exclude: 5 EOP prefixes left out of azure" \
	grep -qx '# entries left out, listed for another provider by --exclude: 5' "$tmp/azure-ex.txt"
expect_exit 0 "--exclude: azure and the default list load together" \
	"$BIN" ranges check data/default-ranges.txt "$tmp/azure-ex.txt"
expect_exit 2 "without --exclude they conflict" \
	"$BIN" ranges check data/default-ranges.txt "$tmp/azure.txt"

# ---- broken feeds: exit 2, the entry named, nothing written ----
# broken NAME FORMAT FILE MESSAGE
broken() {
	local name=$1 format=$2 file=$3 msg=$4 rc=0
	echo "old list" >"$tmp/out.txt"
	"$BIN" ranges import --format "$format" --provider test -o "$tmp/out.txt" "$file" \
		>/dev/null 2>"$tmp/err" || rc=$?
	if [ "$rc" -ne 2 ]; then
		not_ok "broken $name: exit $rc, want 2"
	elif ! grep -qF -- "$msg" "$tmp/err"; then
		not_ok "broken $name: error '$(cat "$tmp/err")' lacks '$msg'"
	elif [ "$(cat "$tmp/out.txt")" != "old list" ] || ls "$tmp"/out.txt.* >/dev/null 2>&1; then
		not_ok "broken $name: output touched or temporary file left"
	else
		ok "broken $name: exit 2, names the entry, output unchanged"
	fi
}
broken "truncated JSON" aws "$BROKEN/aws-truncated.json" "aws-truncated.json: line 6, column 25: bad JSON"
broken "prefix length" aws "$BROKEN/aws-bad-length.json" \
	"aws-bad-length.json: prefixes[1].ip_prefix: '15.190.244.0/33' is not an IP prefix"
broken "host bits" aws "$BROKEN/aws-host-bits.json" \
	"ipv6_prefixes[1].ipv6_prefix: host bits set in '2600:1f14:fff:f810::1/56'"
broken "missing ipv6_prefixes" aws "$BROKEN/aws-no-ipv6-key.json" "'ipv6_prefixes' is missing"
broken "number for a prefix" gcp "$BROKEN/gcp-not-a-string.json" "prefixes[1].ipv4Prefix: not a string"
broken "empty feed" goog "$BROKEN/goog-empty.json" "goog-empty.json: no prefixes found"
broken "azure entry" azure "$BROKEN/azure-bad-prefix.json" \
	"values[0] (AzureCloud.westeurope).addressPrefixes[2]: 'not-a-prefix'"
broken "m365 entry" m365 "$BROKEN/m365-bad-ip.json" "[1] (id 56).ips[1]: '2603:1006:2000::/48/2'"
broken "oracle region" oracle "$BROKEN/oracle-missing-cidrs.json" \
	"regions[1] (eu-frankfurt-1): 'cidrs' is missing"
broken "geofeed line" csv "$BROKEN/geofeed-bad-line.csv" "geofeed-bad-line.csv: line 4: '24.144.68.0'"
broken "plain line" plain "$BROKEN/plain-two-prefixes.txt" "plain-two-prefixes.txt: line 3:"
broken "wrong format" aws "$FEEDS/microsoft-azure-ip-ranges.json" "'prefixes' is missing or not an array (wrong --format?"

err=$("$BIN" ranges import --format aws --mask-host-bits -o "$tmp/masked.txt" "$BROKEN/aws-host-bits.json" 2>&1)
check "--mask-host-bits: warns naming the entry" grep -qF \
	"warning: $BROKEN/aws-host-bits.json: ipv6_prefixes[1].ipv6_prefix: host bits set in '2600:1f14:fff:f810::1/56', imported as 2600:1f14:fff:f800::/56" <<<"$err"
check "--mask-host-bits: masked prefix merged" test "$(counts "$tmp/masked.txt")" = "IPv4 1, IPv6 1"
rc=0
"$BIN" ranges import --format aws --service NOSUCH "$FEEDS/aws-ip-ranges.json" >/dev/null 2>"$tmp/err" || rc=$?
check "unknown --service: exit 2, says so" \
	test "$rc" -eq 2 -a -n "$(grep 'no entry matches the selected services' "$tmp/err")"

# -o writes atomically: a complete file, mode 0644, no temporary left.
"$BIN" ranges import --format oracle -o "$tmp/oracle-o.txt" "$FEEDS/oracle-cloud-ip-ranges.json"
check "-o: same list as stdout" cmp -s <(grep -v '^# imported' "$tmp/oracle-o.txt") \
	<(grep -v '^# imported' "$tmp/oracle.txt")
check "-o: mode 0644, no temporary file" \
	test "$(stat -c %a "$tmp/oracle-o.txt")" = 644 -a -z "$(ls "$tmp" | grep 'oracle-o.txt.')"
expect_exit 1 "-o: unwritable directory exits 1" \
	"$BIN" ranges import --format oracle -o "$tmp/none/x.txt" "$FEEDS/oracle-cloud-ip-ranges.json"

# ---- arguments ----
out=$("$BIN" ranges import --help)
check "--help: exit 0, usage on stdout" grep -q '^Usage: clicksieve ranges import --format FORMAT' <<<"$out"
expect_exit 2 "no --format" "$BIN" ranges import "$FEEDS/goog.json"
expect_exit 2 "unknown format" "$BIN" ranges import --format json "$FEEDS/goog.json"
expect_exit 2 "csv without --provider" "$BIN" ranges import --format csv "$FEEDS/digitalocean.csv"
expect_exit 2 "bad provider name" "$BIN" ranges import --format aws --provider AWS "$FEEDS/aws-ip-ranges.json"
expect_exit 2 "--service on goog" "$BIN" ranges import --format goog --service x "$FEEDS/goog.json"
expect_exit 2 "two feeds" "$BIN" ranges import --format goog "$FEEDS/goog.json" "$FEEDS/goog.json"
expect_exit 2 "missing feed file" "$BIN" ranges import --format goog "$tmp/none.json"
expect_exit 2 "unknown option" "$BIN" ranges import --format goog --bogus "$FEEDS/goog.json"
expect_exit 2 "bad --exclude list" "$BIN" ranges import --format goog --exclude "$BROKEN/plain-two-prefixes.txt" \
	"$FEEDS/goog.json"

# ---- scripts/update-ranges ----
UPDATE=scripts/update-ranges
upd() { "$UPDATE" --clicksieve "$BIN" --base data/default-ranges.txt --no-reload "$@"; }
lists=$tmp/lists
out=$("$UPDATE" --help)
check "update-ranges --help: exit 0, usage on stdout" grep -q '^Usage: update-ranges' <<<"$out"
expect_exit 2 "update-ranges: unknown option exits 2" "$UPDATE" --bogus
expect_exit 2 "update-ranges: unknown feed exits 2" upd --from "$FEEDS" --out-dir "$lists" --feeds aws,nosuch
expect_exit 2 "update-ranges: --from not a directory" upd --from "$tmp/none" --out-dir "$lists"

upd --from "$FEEDS" --out-dir "$lists" 2>"$tmp/upd.log"
rc=$?
check "update-ranges: first run exits 0" test "$rc" -eq 0
check "update-ranges: one list per feed" test "$(cd "$lists" && ls | tr '\n' ' ')" = \
	"aws.txt azure.txt digitalocean.txt gcp.txt google.txt linode.txt oracle.txt "
check "update-ranges: aws list as imported" test "$(counts "$lists/aws.txt")" = "$(counts "$tmp/aws.txt")"
expect_exit 0 "update-ranges: lists load with the default list" \
	"$BIN" ranges check data/default-ranges.txt "$lists"/*.txt
out=$("$BIN" ranges lookup --ranges data/default-ranges.txt --ranges "$lists/azure.txt" \
	--ranges "$lists/gcp.txt" --ranges "$lists/google.txt" 40.92.1.1 23.236.48.1)
check "update-ranges: earlier lists keep their prefixes" \
	test "$out" = $'40.92.1.1: 40.92.0.0/15 microsoft\n23.236.48.1: 23.236.48.0/20 gcp'
check "update-ranges: missing m365 feed skipped with a note" \
	grep -q 'microsoft: .*m365-endpoints.json: no such file, skipped' "$tmp/upd.log"
upd --from "$FEEDS" --out-dir "$lists" 2>"$tmp/upd.log"
check "update-ranges: second run unchanged" test "$(grep -c ': unchanged (' "$tmp/upd.log")" -eq 7

# A truncated download and a valid feed that shrank by more than half.
feeds2=$tmp/feeds2
mkdir -p "$feeds2"
cp "$lists/aws.txt" "$tmp/aws-before.txt"
head -c 300000 "$FEEDS/aws-ip-ranges.json" >"$feeds2/aws-ip-ranges.json"
rc=0
upd --from "$feeds2" --out-dir "$lists" --feeds aws 2>"$tmp/upd.log" || rc=$?
check "update-ranges: truncated feed fails" test "$rc" -ne 0
check "update-ranges: truncated feed leaves the list" cmp -s "$lists/aws.txt" "$tmp/aws-before.txt"
python3 - "$FEEDS/aws-ip-ranges.json" "$feeds2/aws-ip-ranges.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["prefixes"] = d["prefixes"][:2000]
d["ipv6_prefixes"] = d["ipv6_prefixes"][:500]
json.dump(d, open(sys.argv[2], "w"))
PY
rc=0
upd --from "$feeds2" --out-dir "$lists" --feeds aws 2>"$tmp/upd.log" || rc=$?
check "update-ranges: shrunk feed refused (exit 1)" test "$rc" -eq 1
check "update-ranges: refusal says why" grep -q 'aws: refused: .* ranges against 9066 now' "$tmp/upd.log"
check "update-ranges: refused list unchanged" cmp -s "$lists/aws.txt" "$tmp/aws-before.txt"
check "update-ranges: no staging left behind" test -z "$(ls -A "$lists" | grep staging)"
want=$(expected aws "$feeds2/aws-ip-ranges.json")
upd --from "$feeds2" --out-dir "$lists" --feeds aws --force 2>"$tmp/upd.log"
rc=$?
check "update-ranges: --force accepts (exit 0)" test "$rc" -eq 0
check "update-ranges: --force installed the shrunk list" test "$(counts "$lists/aws.txt")" = "$want"

# Reload: SIGHUP to the pid in --pid-file (a stand-in process of this test).
bash -c 'trap "echo hup >>'"$tmp"'/hup; exit 0" HUP; while :; do sleep 0.1; done' &
sleeper=$!
echo "$sleeper" >"$tmp/pid"
sleep 0.3
cp "$FEEDS/aws-ip-ranges.json" "$feeds2/"
"$UPDATE" --clicksieve "$BIN" --base data/default-ranges.txt --from "$feeds2" --out-dir "$lists" \
	--feeds aws --pid-file "$tmp/pid" 2>"$tmp/upd.log"
rc=$?
for _ in $(seq 50); do [ -f "$tmp/hup" ] && break; sleep 0.1; done
check "update-ranges: changed list, SIGHUP sent to --pid-file" \
	test "$rc" -eq 0 -a -f "$tmp/hup" -a -n "$(grep "sent SIGHUP to pid $sleeper" "$tmp/upd.log")"
rm -f "$tmp/hup"
"$UPDATE" --clicksieve "$BIN" --base data/default-ranges.txt --from "$feeds2" --out-dir "$lists" \
	--feeds aws --pid-file "$tmp/pid" 2>/dev/null
sleep 0.3
check "update-ranges: unchanged lists, no signal" test ! -f "$tmp/hup"
kill "$sleeper" 2>/dev/null
wait "$sleeper" 2>/dev/null
sleeper=

# ---- allow-lists: an operator's egress inside a cloud range ----
cat >"$tmp/allow.txt" <<'EOF'
# A customer's corporate egress NAT, inside an AWS range: never machine by range.
3.5.140.0/22        aws
3.5.141.16/28       corp-egress   allow
EOF
out=$("$BIN" ranges lookup --ranges "$tmp/allow.txt" 3.5.141.20 3.5.141.99)
check "allow: lookup shows allow inside the cloud range, cloud beside it" \
	test "$out" = $'3.5.141.20: 3.5.141.16/28 corp-egress allow\n3.5.141.99: 3.5.140.0/22 aws'
cat >"$tmp/access.log" <<'EOF'
3.5.141.20 - - [16/Nov/2026:08:06:58 +0000] "GET /redirect?link=L1&l=R1&s=M1 HTTP/1.1" 302 0 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
3.5.141.99 - - [16/Nov/2026:09:06:58 +0000] "GET /redirect?link=L2&l=R2&s=M2 HTTP/1.1" 302 0 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
EOF
"$BIN" classify --ranges "$tmp/allow.txt" "$tmp/access.log" >"$tmp/verdicts.json" 2>"$tmp/err"
got=$(python3 -c '
import json, sys
for row in open(sys.argv[1]):
    r = json.loads(row)
    print(r["ip"], r["verdict"], ",".join(r["reasons"]) or "-")' "$tmp/verdicts.json")
check "allow: classify gives human in the allow range, machine/scanner_range beside it" \
	test "$got" = $'3.5.141.20 human -\n3.5.141.99 machine scanner_range'
