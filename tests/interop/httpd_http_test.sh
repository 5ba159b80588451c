#!/usr/bin/env bash
# Interop: tern-httpd's caching, range and redirect headers and its access
# log, with curl on the kernel side (one mode: HTTP semantics do not depend
# on the port driver).
#   httpd_http_test.sh tap|af_packet|af_xdp BUILD_DIR
# Checks: Date on every response (a valid IMF-fixdate within a minute of
# now); Last-Modified (the file's mtime) and ETag on a file; If-None-Match
# with its ETag gets 304 with no body, another tag 200; If-Modified-Since at
# its mtime 304, an hour before 200; `curl -r 0-99` gets 206, the 100 bytes
# and Content-Range; an interrupted download resumed with `curl -C -` is
# intact and its second request was a 206; a range past the end gets 416
# with "Content-Range: bytes */SIZE"; a directory without its slash gets a
# 301 to DIR/ (query kept) that curl -L follows to index.html; MIME types
# of .css and .svg; --access-log FILE has one common-log-format line per
# response with the right status and byte count; --access-log - writes
# them to stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
interop_init httpd_http "$@"

port=80
interop_setup "$mode" g 10.87
interop_write_config 512 16383 "[tcp]
max_connections = 256"

mkdir -p "$work/root/sub" "$work/root/docs"
head -c 3000000 /dev/urandom >"$work/root/sub/blob.bin"
echo "<html><body>sub index</body></html>" >"$work/root/sub/index.html"
echo "body { color: red }" >"$work/root/docs/site.css"
echo '<svg xmlns="http://www.w3.org/2000/svg"/>' >"$work/root/docs/logo.svg"
touch -d "2024-03-01 12:00:00 UTC" "$work/root/sub/blob.bin"
size=3000000

interop_start_tern tern-httpd --port "$port" --root "$work/root" --access-log "$work/access.log"
url="http://$tern_ip:$port"
inpeer() { interop_in_peer "$@"; }
# hdr FILE NAME: the value of header NAME (case-insensitive) in curl's -D dump.
hdr() { tr -d '\r' <"$1" | awk -v n="$(echo "$2" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1) == n {print $2}' | tail -1; }
code() { rm -f "$work/body"; inpeer curl -sS --max-time 10 -o "$work/body" -D "$work/h" -w '%{http_code}' "$@"; }

# ---- Date, Last-Modified, ETag ----
c=$(code "$url/sub/blob.bin")
[ "$c" = 200 ] || fail "GET /sub/blob.bin: $c"
date_h=$(hdr "$work/h" Date)
lm=$(hdr "$work/h" Last-Modified)
etag=$(hdr "$work/h" ETag)
python3 - "$date_h" "$lm" <<'PY' || fail "Date/Last-Modified: '$date_h' / '$lm'"
import sys, time
from email.utils import parsedate_to_datetime
d = parsedate_to_datetime(sys.argv[1]).timestamp()
assert abs(d - time.time()) < 60, "Date %s is not now" % sys.argv[1]
assert sys.argv[1].endswith(" GMT") and len(sys.argv[1]) == 29, sys.argv[1]
assert sys.argv[2] == "Fri, 01 Mar 2024 12:00:00 GMT", sys.argv[2]
PY
[[ "$etag" =~ ^\"[0-9a-f]+-[0-9a-f]+\"$ ]] || fail "ETag '$etag'"
[ "$(hdr "$work/h" Accept-Ranges)" = bytes ] || fail "no Accept-Ranges: bytes"
cmp "$work/body" "$work/root/sub/blob.bin" || fail "the file differs"
echo "Date '$date_h', Last-Modified '$lm', ETag $etag ok"

# ---- 304 ----
c=$(code -H "If-None-Match: $etag" "$url/sub/blob.bin")
[ "$c" = 304 ] && [ ! -s "$work/body" ] || fail "If-None-Match $etag: $c with $(cat "$work/body" 2>/dev/null | wc -c) bytes, expected 304 and none"
[ "$(hdr "$work/h" ETag)" = "$etag" ] || fail "304 without the ETag"
c=$(code -H 'If-None-Match: "other", W/'"$etag" "$url/sub/blob.bin")
[ "$c" = 304 ] || fail "If-None-Match with a weak copy in a list: $c, expected 304"
c=$(code -H 'If-None-Match: "other"' "$url/sub/blob.bin")
[ "$c" = 200 ] || fail "If-None-Match \"other\": $c, expected 200"
c=$(code -H "If-Modified-Since: $lm" "$url/sub/blob.bin")
[ "$c" = 304 ] || fail "If-Modified-Since its mtime: $c, expected 304"
c=$(code -H "If-Modified-Since: Fri, 01 Mar 2024 11:00:00 GMT" "$url/sub/blob.bin")
[ "$c" = 200 ] || fail "If-Modified-Since an hour earlier: $c, expected 200"
c=$(code -H "If-None-Match: \"other\"" -H "If-Modified-Since: $lm" "$url/sub/blob.bin")
[ "$c" = 200 ] || fail "If-None-Match decides over If-Modified-Since: $c, expected 200"
echo "If-None-Match / If-Modified-Since: 304 and 200 as expected"

# ---- Range ----
c=$(code -r 0-99 "$url/sub/blob.bin")
[ "$c" = 206 ] || fail "Range 0-99: $c"
[ "$(hdr "$work/h" Content-Range)" = "bytes 0-99/$size" ] || fail "Content-Range '$(hdr "$work/h" Content-Range)'"
cmp "$work/body" <(head -c 100 "$work/root/sub/blob.bin") || fail "the 100 bytes differ"
c=$(code -r "$size-" "$url/sub/blob.bin")
[ "$c" = 416 ] || fail "Range past the end: $c, expected 416"
[ "$(hdr "$work/h" Content-Range)" = "bytes */$size" ] || fail "416 Content-Range '$(hdr "$work/h" Content-Range)'"
c=$(code -r 0-1,5-6 "$url/sub/blob.bin")
[ "$c" = 200 ] || fail "two ranges: $c, expected 200 (the whole)"
c=$(code -r 10-19 "$url/bytes/100")
[ "$c" = 206 ] && [ "$(stat -c %s "$work/body")" = 10 ] || fail "Range of /bytes/100: $c"
c=$(code -r 10-19 -H "If-Range: \"stale\"" "$url/sub/blob.bin")
[ "$c" = 200 ] || fail "If-Range with another ETag: $c, expected 200 (the whole)"
c=$(code -r 10-19 -H "If-Range: $etag" "$url/sub/blob.bin")
[ "$c" = 206 ] || fail "If-Range with its ETag: $c, expected 206"
# Resume: the first 1234567 bytes are here already; curl -C - asks for the rest.
head -c 1234567 "$work/root/sub/blob.bin" >"$work/partial"
c=$(inpeer curl -sS --max-time 20 -C - -o "$work/partial" -w '%{http_code}' "$url/sub/blob.bin")
[ "$c" = 206 ] || fail "curl -C -: $c, expected 206"
cmp "$work/partial" "$work/root/sub/blob.bin" || fail "the resumed download differs"
echo "Range: 206, 416, two ranges 200, If-Range; curl -C - resumed at 1234567 intact"

# ---- 301 for a directory ----
c=$(code "$url/sub")
[ "$c" = 301 ] && [ "$(hdr "$work/h" Location)" = /sub/ ] || fail "/sub: $c Location '$(hdr "$work/h" Location)'"
c=$(code "$url/sub?x=1")
[ "$c" = 301 ] && [ "$(hdr "$work/h" Location)" = "/sub/?x=1" ] || fail "/sub?x=1: $c Location '$(hdr "$work/h" Location)'"
[ "$(inpeer curl -sS -L --max-time 10 "$url/sub")" = "$(cat "$work/root/sub/index.html")" ] || fail "curl -L /sub"
echo "/sub: 301 to /sub/ (query kept), curl -L follows it"

# ---- MIME ----
c=$(code "$url/docs/site.css")
[ "$(hdr "$work/h" Content-Type)" = text/css ] || fail ".css: '$(hdr "$work/h" Content-Type)'"
c=$(code "$url/docs/logo.svg")
[ "$(hdr "$work/h" Content-Type)" = image/svg+xml ] || fail ".svg: '$(hdr "$work/h" Content-Type)'"
echo "MIME: .css text/css, .svg image/svg+xml"

# ---- the access log (flushed within 100 ms of loop time; waited for, not slept) ----
c=$(code "$url/nope")
[ "$c" = 404 ] || fail "/nope: $c"
tern_wait_for "the access log" 10 grep -q '"GET /nope HTTP/1.1" 404' "$work/access.log" ||
  fail "no access-log line for /nope: $(tail -3 "$work/access.log" 2>/dev/null)"
python3 - "$work/access.log" "$peer_ip" "$size" <<'PY' || fail "the access log"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
ip, size = sys.argv[2], int(sys.argv[3])
clf = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "([^"]*)" (\d{3}) (\d+|-)$')
parsed = []
for l in lines:
    m = clf.match(l)
    assert m, "not common log format: %r" % l
    assert m.group(1) == ip, l
    parsed.append((m.group(3), int(m.group(4)), m.group(5)))
def has(req, status, nbytes):
    return (req, status, nbytes) in parsed
checks = [
    ("200 with the file's size", has("GET /sub/blob.bin HTTP/1.1", 200, str(size))),
    ("304 with - bytes", has("GET /sub/blob.bin HTTP/1.1", 304, "-")),
    ("206 of 100 bytes", has("GET /sub/blob.bin HTTP/1.1", 206, "100")),
    ("the resume's 206", has("GET /sub/blob.bin HTTP/1.1", 206, str(size - 1234567))),
    ("416", any(r == "GET /sub/blob.bin HTTP/1.1" and s == 416 for r, s, _ in parsed)),
    ("301", any(r == "GET /sub HTTP/1.1" and s == 301 for r, s, _ in parsed)),
    ("404", any(r == "GET /nope HTTP/1.1" and s == 404 for r, s, _ in parsed)),
]
for name, ok in checks: print("access log: %-28s %s" % (name, "ok" if ok else "FAILED"))
print("access log: %d lines, e.g. %s" % (len(lines), lines[0]))
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
interop_stop_tern
n=$(wc -l <"$work/access.log")
! grep -qE "log_dropped [1-9]|log_write_errors [1-9]" "$work/tern.log" || fail "log counters: $(grep '^httpd worker' "$work/tern.log")"
total=$(grep -oE "log_lines [0-9]+" "$work/tern.log" | awk '{s += $2} END {print s}')
[ "$total" = "$n" ] || fail "the workers logged $total lines, the file has $n"

# ---- --access-log - (stdout) ----
interop_start_tern tern-httpd --port "$port" --access-log -
inpeer curl -sS --max-time 10 -o /dev/null "$url/bytes/7" || fail "curl /bytes/7"
tern_wait_for "the access log on stdout" 10 grep -q '"GET /bytes/7 HTTP/1.1" 200 7$' "$work/tern.log" ||
  fail "no access-log line on stdout: $(tail -5 "$work/tern.log")"
interop_stop_tern
echo "--access-log -: $(grep '"GET /bytes/7' "$work/tern.log")"
echo "PASS [$mode] in $SECONDS s"
