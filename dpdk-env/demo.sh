#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine: set up, build, bring Tern up
# (tern-httpd) on a tap inside a network namespace, ping it from the kernel,
# fetch a page and 10 MB over HTTP with curl, then ping and fetch the page
# again over IPv6, print its counters (as tern-httpd prints them, and as
# telemetry reports them).
set -euo pipefail
cd "$(dirname "$0")/.."
./dpdk-env/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build apps/tern-httpd
. dpdk-env/netns.sh
work=$(mktemp -d /tmp/tern-demo.XXXXXX)
trap 'tern_ns_cleanup; rm -rf "$work"' EXIT
ns=$(tern_ns_create demo)
tap="td${TERN_NS_TAG}"
prefix="terndemo${TERN_NS_TAG}"
sed -e "s/^file_prefix = .*/file_prefix = \"$prefix\"/" -e "s/iface=tern0/iface=$tap/" config/tap.toml >"$work/tern.toml"
tern_ip=$(sed -n 's/^address = "\([0-9.]*\)\/.*/\1/p' "$work/tern.toml")
peer_ip=${tern_ip%.*}.1
# IPv6 beside IPv4 on the same port (docs/config.md, address6).
tern_ip6="2001:db8:7e::2"
peer_ip6="2001:db8:7e::1"
sed -i "s|^address = .*|&\naddress6 = [\"$tern_ip6/64\"]|" "$work/tern.toml"
mkdir -p "$work/www"
cat >"$work/www/index.html" <<HTML
<html><head><title>Tern</title></head>
<body><h1>Hello from tern-httpd</h1>
<p>Served by Tern's TCP stack on DPDK, over a net_tap port in namespace $ns.</p></body></html>
HTML
echo "--- starting Tern (tern-httpd, config/tap.toml) in namespace $ns"
ip netns exec "$ns" build/apps/tern-httpd --config "$work/tern.toml" --port 80 --root "$work/www" \
  --ready-file "$work/ready" >"$work/tern.log" 2>&1 &
TERN_PIDS+=($!)
tern_wait_for "tern-httpd" 30 test -f "$work/ready" || { cat "$work/tern.log"; exit 1; }
sed "/--- tern counters/,\$d" "$work/tern.log"   # the start-up summary
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1"
ip -n "$ns" addr add "$peer_ip/24" dev "$tap"
ip -n "$ns" link set "$tap" up
echo "--- the kernel ($peer_ip) pings Tern ($tern_ip)"
ip netns exec "$ns" ping -c 5 -i 0.2 "$tern_ip"
echo "--- the kernel fetches http://$tern_ip/ with curl"
ip netns exec "$ns" curl -sS --max-time 10 -i "http://$tern_ip/"
echo "--- and 10 MB of /bytes/10485760"
ip netns exec "$ns" curl -sS --max-time 20 -o /dev/null \
  -w '  %{size_download} bytes in %{time_total} s (%{speed_download} bytes/s), HTTP %{http_code}\n' \
  "http://$tern_ip/bytes/10485760"
echo "--- IPv6: the kernel ($peer_ip6) pings Tern ($tern_ip6) and fetches http://[$tern_ip6]/"
# The tap's kernel side carries Tern's MAC, so it would derive Tern's
# link-local address: no duplicate address detection there.
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$tap.accept_dad=0"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=0"
ip -n "$ns" -6 addr add "$peer_ip6/64" dev "$tap" nodad
ip netns exec "$ns" ping -6 -c 3 -i 0.2 "$tern_ip6"
ip netns exec "$ns" curl -sS --max-time 10 -g -i "http://[$tern_ip6]/"
echo "--- telemetry: /tern/stats and /tern/drops from dpdk-telemetry.py -f $prefix (non-zero entries)"
printf '/tern/stats\n/tern/drops\n' | dpdk-telemetry.py -f "$prefix" 2>/dev/null | python3 -c "
import json, sys
t = sys.stdin.read(); i = 0
while (i := t.find('{\"/tern', i)) >= 0:
    o, n = json.JSONDecoder().raw_decode(t[i:]); i += n
    for cmd, d in o.items():
        print(cmd); print('\n'.join('  %s %d' % kv for kv in (d or {}).items() if kv[1]))"
kill -INT "${TERN_PIDS[0]}"
wait "${TERN_PIDS[0]}" || true
TERN_PIDS=()
echo "--- tern-httpd's counters on exit"
sed -n '/--- tern counters/,$p' "$work/tern.log"
