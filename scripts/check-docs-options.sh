#!/bin/sh
# check-docs-options.sh: every option in the PS_OPTIONS table
# (include/perfshim/options.h) is documented in docs/usage.md as
# PERFSHIM_<NAME>.  STYLE.md item 9: one table feeds the shim, --help and
# this check, so an option cannot be added without its documentation.
#
#   scripts/check-docs-options.sh [OPTIONS_H [USAGE_MD]]
#
# Exits 0 when all are documented, 1 listing the missing ones (or when
# docs/usage.md does not exist), 2 when the table cannot be read.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
header=${1:-$root/include/perfshim/options.h}
doc=${2:-$root/docs/usage.md}

if [ ! -r "$header" ]; then
    echo "check-docs-options: cannot read '$header'" >&2
    exit 2
fi
# The table's entries: X(NAME, default, help), one or more per line, inside
# the PS_OPTIONS macro (from its #define to the first line without a
# trailing backslash).
names=$(awk '
    /^[ \t]*#[ \t]*define[ \t]+PS_OPTIONS\(/ { on = 1 }
    on {
        s = $0
        while (match(s, /X\([ \t]*[A-Z][A-Z0-9_]*[ \t]*,/)) {
            n = substr(s, RSTART + 2, RLENGTH - 3)
            gsub(/[ \t]/, "", n)
            print n
            s = substr(s, RSTART + RLENGTH)
        }
        if ($0 !~ /\\[ \t]*$/) exit
    }' "$header")
if [ -z "$names" ]; then
    echo "check-docs-options: no X(NAME, ...) entries in the PS_OPTIONS table of '$header'" >&2
    exit 2
fi
if [ ! -f "$doc" ]; then
    echo "check-docs-options: '$doc' does not exist: it must document every PERFSHIM_* option:" >&2
    for n in $names; do echo "  PERFSHIM_$n" >&2; done
    exit 1
fi

missing=0
for n in $names; do
    # a whole word: PERFSHIM_OUTPUT must not be satisfied by PERFSHIM_OUTPUT_DIR
    if ! grep -q "PERFSHIM_$n\([^A-Za-z0-9_]\|\$\)" "$doc"; then
        echo "$doc: PERFSHIM_$n is not documented (it is in the PS_OPTIONS table of $header)" >&2
        missing=$((missing + 1))
    fi
done
if [ $missing -ne 0 ]; then
    echo "check-docs-options: $missing option(s) missing from $doc" >&2
    exit 1
fi
echo "check-docs-options: all $(echo "$names" | wc -l) options are in $doc"
