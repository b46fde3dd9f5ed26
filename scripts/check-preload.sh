#!/bin/sh
# check-preload.sh: the shim's banned calls, in the spirit of curl's checksrc.
#
#   scripts/check-preload.sh [DIR]      (DIR defaults to preload/)
#
# Code under preload/ runs inside the target, inside its malloc and free,
# possibly before TLS is ready or after the process started to exit.  So it
# must not call:
#   - stdio (printf, fopen, perror, ...) nor include <stdio.h>: stdio takes
#     locks and allocates; use ps_fmt / ps_write_all (util.c);
#   - the allocator (malloc, calloc, realloc, free, strdup, ...): that is
#     the target's allocator, so a call recurses into our own hooks; use
#     ps_real.* (the real functions) or mmap'd memory;
#   - getenv outside lifecycle.c, which reads the options once at start-up
#     (the environment can change under us later).
# Calls through a member (ps_real.malloc(...), t->free(...)) are fine.  In a
# file that defines a hook with PS_EXPORT (hooks_malloc.c defines malloc),
# the definition is not a call, and a call of that name in the same file
# calls our own hook on purpose (realloc(NULL, n) is recorded as malloc(n)).
# Comments, strings and character literals are ignored.
#
# Prints file:line: message for each use and exits 1 when there is one,
# 0 when there is none, 2 on usage errors.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/preload}
if [ ! -d "$dir" ]; then
    echo "check-preload: no directory '$dir'" >&2
    exit 2
fi

stdio='printf fprintf sprintf snprintf vprintf vfprintf vsprintf vsnprintf dprintf vdprintf
asprintf vasprintf fopen fdopen freopen fclose fflush fwrite fread fputs fputc putc putchar puts
fgets fgetc getc getchar ungetc scanf fscanf sscanf vscanf vsscanf perror setvbuf setbuf
tmpfile popen pclose open_memstream fmemopen fileno fseek ftell rewind'
heap='malloc calloc realloc reallocarray free strdup strndup aligned_alloc posix_memalign
memalign valloc pvalloc getline getdelim realpath scandir opendir'
env='getenv secure_getenv'

status=0
files=$(find "$dir" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
if [ -z "$files" ]; then
    echo "check-preload: no C files under '$dir'" >&2
    exit 2
fi

for f in $files; do
    rel=${f#"$root"/}
    case $f in
    */lifecycle.c) envban= ;;
    *) envban=$env ;;
    esac
    # Strip comments, strings and character literals, keeping line numbers,
    # then look for banned names called as functions.
    awk -v file="$rel" -v stdio="$stdio" -v heap="$heap" -v env="$envban" '
    function strip(line,    out, i, c, n, d) {
        out = ""
        n = length(line)
        for (i = 1; i <= n; i++) {
            c = substr(line, i, 1)
            d = substr(line, i, 2)
            if (state == "block") {
                if (d == "*/") { state = ""; i++ }
                out = out " "
            } else if (state == "str" || state == "chr") {
                if (c == "\\") { i++; continue }
                if ((state == "str" && c == "\"") || (state == "chr" && c == "\047")) {
                    state = ""
                    out = out c
                }
            } else if (d == "/*") {
                state = "block"; i++; out = out "  "
            } else if (d == "//") {
                break
            } else if (c == "\"") {
                state = "str"; out = out c
            } else if (c == "\047") {
                state = "chr"; out = out c
            } else {
                out = out c
            }
        }
        # A string or character literal does not continue past its line
        # (except with a backslash, which we do not need to support).
        if (state == "str" || state == "chr")
            state = ""
        return out
    }
    function add(list, what,    n, a, i) {
        n = split(list, a, /[ \t\n]+/)
        for (i = 1; i <= n; i++)
            if (a[i] != "")
                kind[a[i]] = what
    }
    BEGIN {
        add(stdio, "stdio"); add(heap, "heap"); add(env, "getenv outside lifecycle.c")
        state = ""
        nl = 0
    }
    {
        code[++nl] = strip($0)
        raw[nl] = $0
    }
    END {
        # First pass: hooks this file defines.
        for (l = 1; l <= nl; l++) {
            s = code[l]
            if (s ~ /PS_EXPORT/ && match(s, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
                t = s
                sub(/\(.*/, "", t)
                sub(/.*[^A-Za-z0-9_]/, "", t)
                defined[t] = 1
            }
        }
        bad = 0
        for (l = 1; l <= nl; l++) {
            s = code[l]
            if (s ~ /^[ \t]*#[ \t]*include[ \t]*<stdio\.h>/) {
                printf "%s:%d: includes <stdio.h>: no stdio in the shim\n", file, l
                bad = 1
                continue
            }
            # member calls are fine: ps_real.malloc(, t->free(
            gsub(/(\.|->)[ \t]*[A-Za-z_][A-Za-z0-9_]*/, " ", s)
            s = " " s
            while (match(s, /[^A-Za-z0-9_][A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
                name = substr(s, RSTART + 1, RLENGTH - 1)
                sub(/[ \t]*\($/, "", name)
                s = substr(s, RSTART + RLENGTH - 1)
                if (!(name in kind))
                    continue
                if (name in defined)
                    continue
                printf "%s:%d: banned call %s() (%s): %s\n", file, l, name, kind[name], raw[l]
                bad = 1
            }
        }
        exit bad
    }' "$f" || status=1
done

if [ $status -ne 0 ]; then
    echo "check-preload: banned calls in the shim (see scripts/check-preload.sh for why)" >&2
fi
exit $status
