#!/usr/bin/env bash
# A project outside this tree builds against the installed Tern: `meson
# install` into a scratch DESTDIR, each installed header compiles on its own
# with only `pkg-config --cflags tern` (Tern's headers and libdpdk), and
# outside_app.cc (an echo server that knows only <tern/api.h>) compiles and
# links with `pkg-config --cflags --libs tern`, then runs against the
# installed libtern: --print-eal-args prints the EAL arguments and exits 0,
# --config /nonexistent exits 2 with a message naming the file.
#
# usage: install_test.sh SOURCE_ROOT BUILD_ROOT
#
# The .pc file is used where it was installed: it is relocatable (its prefix
# is ${pcfiledir}/../../..), so the DESTDIR needs no PKG_CONFIG_SYSROOT_DIR,
# which would prefix libdpdk's system paths as well (-I$DESTDIR/usr/include/dpdk).
set -euo pipefail

src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

dest="$tmp/dest"
# --no-rebuild: the test depends on every installed target (meson.build), and
# a nested ninja must not run inside `meson test`.
if ! meson install -C "$build" --no-rebuild --destdir "$dest" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log" >&2
  fail "meson install --destdir failed"
fi

pc=$(find "$dest" -name tern.pc -print -quit)
[ -n "$pc" ] || fail "no tern.pc installed"
so=$(find "$dest" -name 'libtern.so' -print -quit)
[ -n "$so" ] || fail "no libtern.so installed"
for h in api buffer connection_info time; do
  [ -n "$(find "$dest" -path "*/include/tern/$h.h" -print -quit)" ] || fail "tern/$h.h not installed"
done
# tern.pc is relocatable (lib/api/tern.pc.in): used where it was installed,
# under the DESTDIR, its flags must point there.
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
cflags=$(pkg-config --cflags tern) || fail "pkg-config --cflags tern"
libs=$(pkg-config --libs tern) || fail "pkg-config --libs tern"
echo "pkg-config --cflags --libs tern: $cflags $libs"
case " $cflags " in
  *" -I$src"* | *" -I$build"*) fail "the flags point into the source or build tree: $cflags" ;;
esac
incdir=$(pkg-config --variable=includedir tern)
[ "$(readlink -f "$incdir")" = "$(readlink -f "$(dirname "$(find "$dest" -path '*/include/tern/api.h' -print -quit)")/..")" ] ||
  fail "pkg-config's includedir $incdir is not the DESTDIR's include directory"

cxx=${CXX:-c++}
# shellcheck disable=SC2086 # $cflags and $libs are lists of words
for h in api buffer connection_info time; do
  # Warning-clean too: DPDK's headers warn under C++20 (-Wvolatile) unless tern/*.h hides them.
  echo "#include <tern/$h.h>" | $cxx -x c++ -fsyntax-only -Wall -Wextra -Werror $cflags - 2>"$tmp/$h.err" ||
    { cat "$tmp/$h.err" >&2; fail "<tern/$h.h> does not compile warning-free on its own with the installed headers"; }
done

# shellcheck disable=SC2086
$cxx -o "$tmp/outside-echo" "$src/tests/install/outside_app.cc" $cflags $libs 2>"$tmp/cc.err" ||
  { cat "$tmp/cc.err" >&2; fail "outside_app.cc does not build against the installed Tern"; }

libdir=$(dirname "$so")
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
resolved=$(ldd "$tmp/outside-echo" | awk '$1 ~ /^libtern\.so/ {print $3}')
[ "$resolved" = "$(readlink -f "$so")" ] || [ "$(readlink -f "$resolved")" = "$(readlink -f "$so")" ] ||
  fail "outside-echo resolves libtern to '$resolved', not the installed $so"

set +e
out=$("$tmp/outside-echo" --print-eal-args --config "$src/config/tap.toml" 2>"$tmp/run.err")
rc=$?
set -e
cat "$tmp/run.err" >&2
echo "--print-eal-args: $out"
[ "$rc" -eq 0 ] || fail "--print-eal-args exited $rc"
case "$out" in
  "outside-echo -l 0,1 --file-prefix tern "*"--vdev net_tap0,iface=tern0 --no-pci"*) ;;
  *) fail "unexpected EAL arguments: $out" ;;
esac

set +e
"$tmp/outside-echo" --config /nonexistent >"$tmp/bad.out" 2>"$tmp/bad.err"
rc=$?
set -e
echo "--config /nonexistent: exit $rc: $(cat "$tmp/bad.err")"
[ "$rc" -eq 2 ] || fail "--config /nonexistent exited $rc, expected 2"
grep -q "/nonexistent" "$tmp/bad.err" || fail "the error does not name the file: $(cat "$tmp/bad.err")"
# tern-stat is installed beside the apps and runs from there (it needs no
# DPDK library: it speaks the telemetry socket's protocol itself).
stat_bin=$(find "$dest" -path '*/bin/tern-stat' -print -quit)
[ -n "$stat_bin" ] || fail "no bin/tern-stat installed"
"$stat_bin" --version | grep -q "^tern-stat (Tern) " || fail "installed tern-stat --version: $("$stat_bin" --version 2>&1)"

echo "PASS: an outside program builds and runs against the installed Tern"
