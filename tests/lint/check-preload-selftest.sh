#!/bin/sh
# Self-test of scripts/check-preload.sh on tests/lint/fixtures/preload:
# it must fail, and report exactly the lines marked BAD (in comments, which
# the checker ignores).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fixtures=$here/fixtures/preload
out=$("$root/scripts/check-preload.sh" "$fixtures" 2>/dev/null)
rc=$?
if [ $rc -ne 1 ]; then
    echo "check-preload.sh exited $rc on the fixtures, want 1" >&2
    printf '%s\n' "$out" >&2
    exit 1
fi
want=$(cd "$fixtures" && grep -n 'BAD' *.c | grep -v 'marked BAD' | cut -d: -f1,2 | LC_ALL=C sort)
got=$(printf '%s\n' "$out" | sed -n 's|^.*/\([^/]*\.c\):\([0-9]*\): .*|\1:\2|p' | LC_ALL=C sort -u)
if [ "$want" != "$got" ]; then
    echo "check-preload.sh reported other lines than the fixtures mark BAD" >&2
    echo "--- want" >&2; printf '%s\n' "$want" >&2
    echo "--- got" >&2; printf '%s\n' "$got" >&2
    echo "--- output" >&2; printf '%s\n' "$out" >&2
    exit 1
fi
echo "check-preload.sh: $(printf '%s\n' "$want" | wc -l) fixture violations found, none else"
