#!/usr/bin/env bash
# Every application's command line behaves alike (issue 14): --help exits 0
# with the usage on stdout, --version prints "NAME VERSION", --opt=value is
# accepted like --opt value, and a mistyped flag exits 2 with "did you mean".
# Nothing here starts DPDK.
#   cli_test.sh BUILD_DIR VERSION
set -euo pipefail
build=$1 version=$2
fail() { echo "FAIL: $*"; exit 1; }
# APP MISTYPED INTENDED: the Tern applications (tern/api.h's parser) and tern-stat.
while read -r app typo meant; do
  bin="$build/$app" name=$(basename "$app")
  out=$("$bin" --help) || fail "$name --help exited $?"
  grep -qi "^usage: .*$name" <<<"$out" || fail "$name --help: no usage line"
  grep -q -- "--version" <<<"$out" || fail "$name --help does not list --version"
  out=$("$bin" --version) || fail "$name --version exited $?"
  [[ "$out" == "$name "*"$version"* ]] || fail "$name --version printed '$out'"
  rc=0
  err=$("$bin" "$typo" x 2>&1 >/dev/null) || rc=$?
  [ "$rc" = 2 ] || fail "$name $typo exited $rc, expected 2"
  grep -q "did you mean $meant?" <<<"$err" || fail "$name $typo: no 'did you mean $meant?': $err"
  if [ "$name" = tern-stat ]; then
    echo "$name: --help 0, --version '$out', did you mean"
    continue
  fi
  # --config=FILE is --config FILE: both name the file in the error.
  for form in "--config=/nonexistent.toml" "--config /nonexistent.toml"; do
    rc=0
    # shellcheck disable=SC2086 # the form is two words or one
    err=$("$bin" $form --print-eal-args 2>&1 >/dev/null) || rc=$?
    [ "$rc" = 2 ] && grep -q "/nonexistent.toml" <<<"$err" || fail "$name $form: exit $rc: $err"
  done
  echo "$name: --help 0, --version '$out', --opt=value, did you mean"
done <<'APPS'
apps/tern-node --confgi --config
apps/tern-echo --confgi --config
apps/tern-httpd --prot --port
apps/proxy/tern-proxy --listne --listen
apps/perf/tern-perf --confgi --config
apps/stat/tern-stat --josn --json
APPS
# tern-perf --udp's usage errors: exit 2, before anything starts.
perf="$build/apps/perf/tern-perf"
while IFS='|' read -r args want; do
  rc=0
  # shellcheck disable=SC2086 # the arguments are words
  err=$("$perf" $args 2>&1 >/dev/null) || rc=$?
  [ "$rc" = 2 ] && grep -qF -- "$want" <<<"$err" || fail "tern-perf $args: exit $rc (expected 2, '$want'): $err"
done <<'UDP'
--kernel --udp --client 10.0.0.1 --mode rr|--udp sends one flow
--kernel --udp --client 10.0.0.1 --connections 2|--udp sends one flow
--kernel --client 10.0.0.1 --bitrate 1M|--bitrate and --length need --udp
--kernel --udp --server --length 1000|--bitrate and --length are client options
--kernel --udp --client 10.0.0.1 --bitrate fast|--bitrate = "fast"
--kernel --udp --client 10.0.0.1 -l 20|-l
--kernel --client 10.0.0.1 --reuseport|--reuseport is for --kernel --server
--server --reuseport|--reuseport is for --kernel --server
UDP
echo "tern-perf --udp, --reuseport: usage errors exit 2"
echo "PASS: the command lines of every application"
