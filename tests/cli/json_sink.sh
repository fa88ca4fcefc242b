#!/usr/bin/env bash
# JSON verdict lines from `clicksieve classify`: each is valid JSON (checked
# by python3's strict parser), keys in DESIGN order, escaping survives hostile
# user agents, bot agents are flagged, untracked requests are not printed.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

log=$tmp/access.log
{
	printf '%s\n' '203.0.113.5 - - [16/Nov/2026:08:06:58 +0000] "GET /redirect?link=kYhjd36684679Gopkfdgjhf_htwVylYcl&l=D0I3r8wfwlIrtfku43I0IEk3felfqy&s=RBMKHJZJHECCFGRAFOF HTTP/1.1" 302 0 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"'
	printf '%s\n' '203.0.113.6 - - [16/Nov/2026:09:00:00 +0000] "GET /favicon.ico HTTP/1.1" 404 0 "-" "Mozilla/5.0"'
	printf '%s\n' '198.51.100.7 - - [16/Nov/2026:10:00:00 +0000] "GET /redirect?link=L2&l=R2&s=M2 HTTP/1.1" 302 0 "-" "python-requests/2.31.0"'
	# quotes, backslash, control byte, invalid UTF-8 and valid UTF-8 in the agent
	printf '198.51.100.8 - - [16/Nov/2026:11:00:00 +0000] "GET /redirect?link=L%%223&l=R3&s=M3 HTTP/1.1" 302 0 "-" "Mozilla/5.0 \\"q\\" \\\\ \\x01 \xff \xc3\xa9"\n'
} >"$log"

out=$tmp/out.jsonl
"$BIN" classify "$log" >"$out" 2>"$tmp/err"
check "classify exits 0" test $? -eq 0
check "one line per tracked click (3 of 4 requests)" test "$(wc -l <"$out")" -eq 3

validate() {
	python3 - "$out" <<'PY'
import json, sys
keys = ["ts", "ip", "method", "message", "recipient", "link", "user_agent",
        "verdict", "reasons", "provider", "file", "line"]
vocab = ["scanner_range", "weak_range", "burst", "multi_ip", "bot_agent",
         "head_request", "honeypot", "learned_range"]
raw = open(sys.argv[1], "rb").read()
raw.decode("utf-8", errors="strict")
for n, line in enumerate(raw.decode().splitlines(), 1):
    rec = json.loads(line)
    assert list(rec) == keys, (n, list(rec))
    assert rec["verdict"] in ("human", "machine", "suspect"), rec
    idx = [vocab.index(r) for r in rec["reasons"]]
    assert idx == sorted(idx), rec["reasons"]
    assert rec["line"] >= 1 and rec["file"].endswith("access.log")
PY
}
check "every line is strict JSON and valid UTF-8, keys in order" validate

field() {   # field LINE_NO KEY: prints the decoded value as JSON
	python3 -c 'import json,sys; print(json.dumps(json.loads(open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - 1])[sys.argv[3]], ensure_ascii=False))' "$out" "$1" "$2"
}
check "design example ids decoded" test "$(field 1 message)$(field 1 recipient)$(field 1 link)" = \
	'"RBMKHJZJHECCFGRAFOF""D0I3r8wfwlIrtfku43I0IEk3felfqy""kYhjd36684679Gopkfdgjhf_htwVylYcl"'
check "design example timestamp with microseconds" test "$(field 1 ts)" = '"2026-11-16T08:06:58.000000Z"'
check "browser agent is human" test "$(field 1 verdict)" = '"human"'
check "python-requests is a bot agent" grep -q '"line":3}$' <(grep '"reasons":\["bot_agent"\]' "$out")
check "percent-decoded quote in link id escaped" test "$(field 3 link)" = '"L\"3"'
check "hostile agent escaped, invalid byte replaced" \
	test "$(field 3 user_agent)" = '"Mozilla/5.0 \"q\" \\ \u0001 � é"'
