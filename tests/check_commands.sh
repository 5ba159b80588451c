#!/usr/bin/env bash
# Every external command the project runs comes from a package that
# dpdk-env/setup.sh installs, or from Debian's essential/required set (the
# packages even a debootstrap minbase root has). Two parts, both cheap:
#  1. scan: tests/scan_commands.py lists the command words of every shell
#     script, of the shell strings and argument lists the Python scripts hand
#     to subprocess, of the meson.build find_program() calls and of the sh
#     blocks of every Markdown file (README.md, bench/, docs/; builtins,
#     functions, paths and Tern's own executables aside); each must be in
#     COMMANDS below.
#     A new command in a script fails here until it is listed.
#  2. packages: for each command in COMMANDS, its package must be in
#     `dpdk-env/setup.sh --list-packages` (or --list-bench-packages, for the
#     benchmark's own) or be Essential or Priority required. Where the command
#     is installed, `dpkg -S` must confirm the package owns it (or one of its
#     direct Depends does: python3 -> python3-minimal). The command is looked
#     up in /usr/sbin /usr/bin /sbin /bin, not $PATH, so that a local install
#     (/usr/local, pyenv) cannot hide a missing package; symlinks
#     (alternatives such as awk -> mawk) and /usr-merge aliases are followed.
#   tests/check_commands.sh [-v]     (-v: one line per command)
set -uo pipefail
cd "$(dirname "$0")/.."
verbose=0
[ "${1:-}" = "-v" ] && verbose=1

# command            package          who runs it
COMMANDS='
ab                   apache2-utils    # interop/httpd_test.sh
apt-cache            apt              # this check
apt-get              apt              # dpdk-env/setup.sh
awk                  mawk
bison                bison            # packetdrill build (packetdrill/run_scripts.sh)
basename             coreutils
bash                 bash
c++                  g++              # install/install_test.sh (${CXX:-c++})
cat                  coreutils
chmod                coreutils        # interop/startup_test.sh
chrt                 util-linux       # bench/loss/bridge_bench.sh
clang                clang            # fuzz/run_fuzzers.sh
clang++              clang            # fuzz/run_fuzzers.sh
clang-format         clang-format     # check_format.sh
cmp                  diffutils
cp                   coreutils
curl                 curl             # demo.sh, interop tests
cut                  coreutils
date                 coreutils
debconf-set-selections debconf        # dpdk-env/setup.sh
dirname              coreutils
dpdk-dumpcap         dpdk-dev         # interop/ping_test.sh, README
dpdk-proc-info       dpdk-dev         # interop/attack.py (pool in use)
dpdk-telemetry.py    dpdk-dev         # demo.sh, interop tests, README
dpkg                 dpkg             # this check
dpkg-query           dpkg             # dpdk-env/setup.sh, this check
dumpcap              wireshark-common # interop/client_test.sh
env                  coreutils
ethtool              ethtool          # interop/lib.sh (af_packet), bench/ab/ab.py
find                 findutils
flock                util-linux       # README.md (Troubleshooting)
flex                 flex             # packetdrill build (packetdrill/run_scripts.sh)
g++                  g++              # docs/api.md
git                  git              # check_format.sh, scan_commands.py
gnuplot              gnuplot-nox      # apps/perf (--plot; interop/perf_test.sh), bench/ab/ab.py, bench/loss/plot.py
grep                 grep
head                 coreutils
id                   coreutils
ip                   iproute2         # dpdk-env/netns.sh, interop tests, bench, README
iperf3               iperf3           # bench/ab/ab.py (bench)
ldd                  libc-bin         # install/install_test.sh
ln                   coreutils        # interop/readme_test.sh
make                 make             # packetdrill/run_scripts.sh
meson                meson
mkdir                coreutils
mktemp               coreutils
mount                mount            # dpdk-env/setup.sh
mv                   coreutils
nginx                nginx            # bench/ab/ab.py (bench)
nice                 coreutils        # bench/README.md
ninja                ninja-build
nproc                coreutils        # interop/startup_test.sh
nstat                iproute2         # interop/impair_test.sh
od                   coreutils        # interop/perf_test.sh
ping                 iputils-ping     # demo.sh, interop/ping_test.sh
pkg-config           pkg-config       # install/install_test.sh, bench/ab/ab.py, docs/api.md
python3              python3
readlink             coreutils
realpath             coreutils        # this check
rm                   coreutils
sed                  sed
seq                  coreutils
setpriv              util-linux       # interop/startup_test.sh
sh                   dash
socat                socat            # interop/echo6_test.sh, proxy6_test.sh, udp_test.sh, udp6_test.sh (lib.sh)
sockperf             sockperf         # bench/ab/ab.py (bench)
ss                   iproute2         # bench/ab/ab.py
sha256sum            coreutils
sleep                coreutils
sort                 coreutils        # this check
stat                 coreutils
stdbuf               coreutils
sysctl               procps           # dpdk-env/netns.sh, interop tests
tail                 coreutils
tar                  tar              # packetdrill/run_scripts.sh
taskset              util-linux       # bench/ab/ab.py, bench/loss
tcpdump              tcpdump          # interop/echo_test.sh (TERN_ECHO_PCAP)
tee                  coreutils
timeout              coreutils
touch                coreutils
tr                   coreutils
tshark               tshark           # interop/ping_test.sh, client_test.sh
unshare              util-linux       # interop/startup_test.sh
valgrind             valgrind         # bench/micro/ir_per_segment.sh (bench)
wc                   coreutils
wget                 wget             # interop/httpd_test.sh
wrk                  wrk              # interop/httpd_test.sh, bench/ab/ab.py
xxd                  xxd              # fuzz/run_fuzzers.sh
'
list=$(sed 's/#.*//' <<<"$COMMANDS" | awk 'NF == 2')
bad=0
problem() {
  echo "check_commands: $*"
  bad=1
}

# ---- 1. scan ----
if ! unlisted=$(python3 tests/scan_commands.py --known <(awk '{print $1}' <<<"$list")); then
  [ -n "$unlisted" ] || unlisted="(tests/scan_commands.py failed)"
  while IFS=$'\t' read -r cmd where; do
    problem "$where runs '$cmd', which is not in tests/check_commands.sh's COMMANDS (add it with its package, and the package to dpdk-env/setup.sh)"
  done <<<"$unlisted"
fi

# ---- 2. packages ----
mapfile -t setup_pkgs < <(dpdk-env/setup.sh --list-packages)
mapfile -t bench_pkgs < <(dpdk-env/setup.sh --list-bench-packages)
[ ${#setup_pkgs[@]} -gt 0 ] || problem "dpdk-env/setup.sh --list-packages printed nothing"
declare -A in_setup=() in_bench=() essential=() depends=() installed=()
for p in "${setup_pkgs[@]}"; do in_setup[$p]=1; done
for p in "${bench_pkgs[@]}"; do in_bench[$p]=1; done
# Every installed package at once: essential/required, and its direct Depends.
while IFS=$'\t' read -r p ess deps; do
  installed[$p]=1
  [ "$ess" = 1 ] && essential[$p]=1
  depends[$p]=$deps
done < <(dpkg-query -W -f='${Package}\t${Status}\t${Essential}\t${Priority}\t${Depends}, ${Pre-Depends}\n' |
  awk -F'\t' '$2 ~ / installed$/ {
    d = $5; gsub(/\([^)]*\)/, "", d); gsub(/:any/, "", d); gsub(/[,|]/, " ", d); gsub(/ +/, " ", d)
    printf "%s\t%d\t %s \n", $1, ($3 == "yes" || $4 == "required"), d }')

# find_system COMMAND: its path in the system directories, or nothing.
find_system() {
  local d
  for d in /usr/sbin /usr/bin /sbin /bin; do
    if [ -x "$d/$1" ] && [ ! -d "$d/$1" ]; then
      echo "$d/$1"
      return
    fi
  done
}
# candidates PATH: the path, each symlink hop and the target, each also under
# its /usr-merge alias (dpkg knows /bin/bash, not /usr/bin/bash).
candidates() {
  local p=$1 q k
  for ((k = 0; k < 8; k++)); do
    printf '%s\n' "$p"
    [ -L "$p" ] || break
    q=$(readlink "$p")
    [[ $q == /* ]] || q="$(dirname "$p")/$q"
    p=$(realpath -s -m "$q")
  done
  realpath -e "$1" 2>/dev/null
}
alias_of() {
  case "$1" in
    /usr/bin/* | /usr/sbin/* | /usr/lib/*) echo "${1#/usr}" ;;
    /bin/* | /sbin/* | /lib/*) echo "/usr$1" ;;
  esac
}

declare -A path_of=()
paths=()
while read -r cmd pkg; do
  p=$(find_system "$cmd")
  path_of[$cmd]=$p
  [ -n "$p" ] || continue
  while read -r c; do
    [ -n "$c" ] || continue
    paths+=("$c")
    a=$(alias_of "$c")
    [ -z "$a" ] || paths+=("$a")
  done < <(candidates "$p")
done <<<"$list"
# One dpkg -S for every path: "pkg[:arch][, pkg...]: /path" lines.
declare -A owners=()
while IFS= read -r line; do
  [[ $line == diversion* ]] && continue
  path=${line#*: }
  pkgs=${line%%: /*}
  owners[$path]+=" $(sed -e 's/:[a-z0-9]*//g' -e 's/,/ /g' <<<"$pkgs") "
done < <(dpkg -S "${paths[@]}" 2>/dev/null | sort -u)

ok=0
while read -r cmd pkg; do
  where=""
  if [ -n "${in_setup[$pkg]:-}" ]; then
    where="setup.sh"
  elif [ -n "${in_bench[$pkg]:-}" ]; then
    where="setup.sh --bench"
  elif [ -n "${essential[$pkg]:-}" ]; then
    where="essential"
  elif [ -z "${installed[$pkg]:-}" ] &&
    apt-cache show --no-all-versions "$pkg" 2>/dev/null | grep -qE '^(Essential: yes|Priority: required)$'; then
    where="essential"
  else
    problem "$cmd: its package $pkg is neither in dpdk-env/setup.sh's PACKAGES nor essential/required"
    continue
  fi
  p=${path_of[$cmd]}
  if [ -z "$p" ]; then
    if [ "$where" = "setup.sh --bench" ] && [ -z "${installed[$pkg]:-}" ]; then
      [ $verbose -eq 0 ] || echo "  $cmd: $pkg ($where), not installed here: not verified"
      ok=$((ok + 1))
    elif [ -n "${installed[$pkg]:-}" ]; then
      problem "$cmd: $pkg is installed but there is no $cmd in /usr/sbin /usr/bin /sbin /bin (wrong package?)"
    else
      problem "$cmd: not installed ($pkg): run dpdk-env/setup.sh first"
    fi
    continue
  fi
  owner=""
  while read -r c; do
    owner+="${owners[$c]:-}"
    a=$(alias_of "$c")
    [ -z "$a" ] || owner+="${owners[$a]:-}"
  done < <(candidates "$p")
  found=""
  for o in $owner; do
    if [ "$o" = "$pkg" ] || [[ ${depends[$pkg]:-} == *" $o "* ]]; then
      found=$o
      break
    fi
  done
  if [ -z "$found" ]; then
    problem "$cmd: $p belongs to '${owner:- no package}', not to $pkg or one of its direct Depends"
    continue
  fi
  ok=$((ok + 1))
  if [ $verbose -eq 1 ]; then
    via=""
    [ "$found" = "$pkg" ] || via=" (a Depends of $pkg)"
    echo "  $cmd: $p from $found$via; $pkg: $where"
  fi
done <<<"$list"

n=$(wc -l <<<"$list")
if [ $bad -eq 0 ]; then
  echo "commands: ok ($n commands, each from a package setup.sh installs or from Debian's essential set)"
fi
exit $bad
