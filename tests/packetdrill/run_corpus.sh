#!/usr/bin/env bash
# Runs a public packetdrill corpus (e.g. packetdrill's gtests/net/tcp) against
# Tern, for information: those scripts are written for Linux, so failures
# are expected (README.md "Running any script"). Each script is copied with
# its backquoted shell commands removed first: they set the host's sysctls
# (as root they would change this machine's TCP) and mean nothing to Tern.
#   tests/packetdrill/run_corpus.sh DIR     (every *.pkt below DIR)
# TERN_PD_FLAGS defaults to Linux's receive buffer maximum from the corpus'
# defaults.sh (15 MiB: window scale 8, which the scripts' SYN-ACKs expect).
set -uo pipefail
[ $# -eq 1 ] && [ -d "$1" ] || {
  echo "usage: $0 DIR"
  exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$1" "$work" <<'EOF'
import pathlib, re, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for p in sorted(src.rglob("*.pkt")):
    text = re.sub(r"`[^`]*`", "", p.read_text(errors="replace"))
    (dst / "__".join(p.relative_to(src).parts)).write_text(text)
EOF
export TERN_PD_FLAGS=${TERN_PD_FLAGS:---so_flags=tcp.rcv_buf=15728640}
export TERN_PD_TIMEOUT=${TERN_PD_TIMEOUT:-10}
"$here/run_scripts.sh" "$work"/*.pkt
