# Helpers for tests: network namespaces with a tap or veth peer, unique names,
# and cleanup on exit or failure. Source it:  . dpdk-env/netns.sh
# Names are "tn<tag>..." where tag is unique per run (pid + random), so
# parallel runs never collide; interface names stay within 15 characters.

TERN_NS_TAG=${TERN_NS_TAG:-$(printf '%x%x' $$ $RANDOM | tail -c 7)}
TERN_NS_CREATED=()
TERN_PIDS=()

tern_ns_cleanup() {
  local p ns
  for p in "${TERN_PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  # By tag, not only by the list: tern_ns_create usually runs in a $(...)
  # subshell, whose additions to TERN_NS_CREATED never reach this shell.
  for ns in "${TERN_NS_CREATED[@]:-}" $(ip netns list 2>/dev/null | awk -v p="tn${TERN_NS_TAG}" 'index($1, p) == 1 {print $1}'); do
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
  done
  TERN_PIDS=()
  TERN_NS_CREATED=()
  return 0
}

# tern_ns_create SUFFIX -> prints the namespace name
tern_ns_create() {
  local ns="tn${TERN_NS_TAG}$1"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  TERN_NS_CREATED+=("$ns")
  echo "$ns"
}

# tern_veth NS_A IF_A NS_B IF_B: a veth pair with one end in each namespace,
# IPv6 off so the kernel sends no router solicitations into Tern.
tern_veth() {
  local nsa=$1 ifa=$2 nsb=$3 ifb=$4
  ip link add "$ifa" netns "$nsa" type veth peer name "$ifb" netns "$nsb"
  for side in "$nsa $ifa" "$nsb $ifb"; do
    set -- $side
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    ip -n "$1" link set "$2" up
  done
}

# tern_wait_for DESCRIPTION TIMEOUT_S COMMAND...: polls COMMAND until it succeeds.
tern_wait_for() {
  local what=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "timed out waiting for: $what" >&2
      return 1
    fi
    sleep 0.1
  done
}
