#!/usr/bin/env bash
# Fails when a tracked C++ file differs from what clang-format (root .clang-format) makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: clang-format -i $f)"
    bad=1
  fi
done < <(git ls-files '*.h' '*.cc' 2>/dev/null || find lib apps tests bench -name '*.h' -o -name '*.cc')
[ $bad -eq 0 ] && echo "format: ok"
exit $bad
