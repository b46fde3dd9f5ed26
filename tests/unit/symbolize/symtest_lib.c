/* Test library for the symbolizer, built -O2 -g.  Lines the test expects
 * are tagged with "@mark:NAME" comments; the harness finds their numbers by
 * reading this file at run time, so editing it never breaks the test. */
#include "symtest_lib.h"

void *symtest_addrs[SYMTEST_NSLOTS];

/* noipa: no inlining, cloning or interprocedural register tricks, so every
 * call below stays a real call with a real return address. */
SYMTEST_NOIPA int symtest_capture(int slot)
{
    symtest_addrs[slot] = __builtin_extract_return_addr(__builtin_return_address(0));
    return slot * 3;
}

static inline __attribute__((always_inline)) int leaf_inline(int x)
{
    int r = symtest_capture(x); /* @mark:leaf_call */
    return r + x;
}

static inline __attribute__((always_inline)) int mid_inline(int x)
{
    int r = leaf_inline(x) * 2; /* @mark:mid_call */
    return r + 1;
}

/* Frames expected at the captured address, innermost first:
 * leaf_inline (inlined), mid_inline (inlined), symtest_outer. */
SYMTEST_NOIPA int symtest_outer(int slot)
{
    int r = mid_inline(slot); /* @mark:outer_call */
    return r - 7;
}

SYMTEST_NOIPA int symtest_plain(int slot)
{
    int r = symtest_capture(slot); /* @mark:plain_call */
    return r + 5;
}
