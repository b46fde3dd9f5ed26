/* A tiny test harness: CHECK* print both values and file:line and count
 * failures; a test's exit status is the failure count (capped below 77,
 * which means "skipped": SKIP_RETURN_CODE 77 in CMake). */
#ifndef PS_CHECK_H
#define PS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,    \
                    #cond);                                                     \
            check_failures++;                                                   \
        }                                                                       \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                      \
    do {                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                     \
        if (a_ != b_) {                                                         \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
                    __LINE__, #a, #b, a_, b_);                                  \
            check_failures++;                                                   \
        }                                                                       \
    } while (0)

/* NULL equals only NULL. */
#define CHECK_EQ_STR(a, b)                                                      \
    do {                                                                        \
        const char *a_ = (a), *b_ = (b);                                        \
        if ((a_ == NULL) != (b_ == NULL) || (a_ && strcmp(a_, b_) != 0)) {      \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n",       \
                    __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",             \
                    b_ ? b_ : "(null)");                                        \
            check_failures++;                                                   \
        }                                                                       \
    } while (0)

#define CHECK_EXIT_STATUS() (check_failures > 76 ? 76 : check_failures)
#define CHECK_SKIP 77

#endif
