/* The unit-test harness: a few lines, on purpose.
 *
 * TEST(name) defines a case and registers it (a constructor adds it to a
 * table).  tests/unit/CMakeLists.txt reads the TEST(...) lines of each file
 * and registers one ctest per case, running "test_x name".  With no
 * argument every case runs.
 *
 * CHECK(cond) and CHECK_EQ(a, b) print file:line and, for CHECK_EQ, both
 * values, count the failure and go on; ASSERT_EQ(a, b) also ends the case
 * (later checks would only repeat the failure).  The exit status is the
 * number of failures, capped at 76 because 77 means "skipped"
 * (SKIP_RETURN_CODE 77): a case calls SKIP("why") for that.
 */
#ifndef PS_TEST_HARNESS_H
#define PS_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);     \
            t_failures++;                                                                \
        }                                                                                \
    } while (0)

/* Integers of any width and sign, compared and printed as 128-bit: both
 * values are shown in decimal and hex. */
#define T__EQ(a, b, onfail)                                                              \
    do {                                                                                 \
        __int128 a_ = (__int128)(a), b_ = (__int128)(b);                                 \
        if (a_ != b_) {                                                                  \
            fprintf(stderr, "%s:%d: %s == %s failed: ", __FILE__, __LINE__, #a, #b);     \
            t_print128(a_);                                                              \
            fputs(" != ", stderr);                                                       \
            t_print128(b_);                                                              \
            fputc('\n', stderr);                                                         \
            t_failures++;                                                                \
            onfail;                                                                      \
        }                                                                                \
    } while (0)
#define CHECK_EQ(a, b) T__EQ(a, b, (void)0)
#define ASSERT_EQ(a, b) T__EQ(a, b, return)
#define ASSERT(cond)                                                                     \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: ASSERT(%s) failed\n", __FILE__, __LINE__, #cond);    \
            t_failures++;                                                                \
            return;                                                                      \
        }                                                                                \
    } while (0)

/* NULL equals only NULL. */
#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        const char *a_ = (a), *b_ = (b);                                                 \
        if ((a_ == NULL) != (b_ == NULL) || (a_ && strcmp(a_, b_) != 0)) {               \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__,     \
                    __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
            t_failures++;                                                                \
        }                                                                                \
    } while (0)

#define SKIP(why)                                                                        \
    do {                                                                                 \
        fprintf(stderr, "skipped: %s\n", why);                                           \
        exit(77);                                                                        \
    } while (0)

static inline void t_print128(__int128 v)
{
    if (v < 0 && v >= INT64_MIN)
        fprintf(stderr, "%" PRId64, (int64_t)v);
    else if (v >= 0 && (unsigned __int128)v <= UINT64_MAX)
        fprintf(stderr, "%" PRIu64 " (0x%" PRIx64 ")", (uint64_t)v, (uint64_t)v);
    else
        fprintf(stderr, "(out of 64-bit range)");
}

struct t_case {
    const char *name;
    void (*fn)(void);
};
static struct t_case t_cases[64];
static int t_ncases;

#define TEST(name)                                                                       \
    static void test_##name(void);                                                       \
    __attribute__((constructor)) static void t_register_##name(void)                     \
    {                                                                                    \
        if (t_ncases < (int)(sizeof t_cases / sizeof t_cases[0]))                        \
            t_cases[t_ncases++] = (struct t_case){#name, test_##name};                   \
    }                                                                                    \
    static void test_##name(void)

int main(int argc, char **argv)
{
    int ran = 0;
    for (int i = 0; i < t_ncases; i++) {
        if (argc > 1 && strcmp(argv[1], t_cases[i].name) != 0)
            continue;
        int before = t_failures;
        t_cases[i].fn();
        fprintf(stderr, "%s: %s\n", t_cases[i].name, t_failures == before ? "ok" : "FAILED");
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "%s: no case named '%s'\n", argv[0], argc > 1 ? argv[1] : "");
        return 1;
    }
    return t_failures > 76 ? 76 : t_failures;
}

#endif
