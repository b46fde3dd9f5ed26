/* The test library's interface.  The harness dlopen()s each build of the
 * library (DWARF 5 and DWARF 4) by path and looks these up with dlsym. */
#ifndef PS_SYMTEST_LIB_H
#define PS_SYMTEST_LIB_H

/* Keep a function a real, separate call: gcc's noipa also stops cloning and
 * interprocedural register tricks; clang has no such attribute and does
 * none of that to a noinline function. */
#if defined(__clang__)
#define SYMTEST_NOIPA __attribute__((noinline))
#else
#define SYMTEST_NOIPA __attribute__((noipa))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Slots of symtest_addrs: each entry point stores the return address that
 * symtest_capture saw, i.e. an address just after one known call. */
enum { SYMTEST_SLOT_OUTER, SYMTEST_SLOT_PLAIN, SYMTEST_SLOT_CXX, SYMTEST_NSLOTS };

extern void *symtest_addrs[SYMTEST_NSLOTS];

int symtest_capture(int slot);
int symtest_outer(int slot);
int symtest_plain(int slot);
int symtest_cxx(int slot);

#ifdef __cplusplus
}
#endif

#endif
