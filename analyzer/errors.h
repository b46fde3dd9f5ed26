/* Analyzer error convention: functions return 0 (or a count) on success and
 * a negative PS_E* code on failure; they may first store a detail line with
 * ps_error_set().  Only main() turns an error into one line on stderr
 * ("perfshim: <detail>") and exit status 2. */
#ifndef PERFSHIM_ERRORS_H
#define PERFSHIM_ERRORS_H

#define PS_ERRORS(X)                                        \
    X(USAGE, "bad usage")                                    \
    X(IO, "input/output error")                              \
    X(NOMEM, "out of memory")                                \
    X(NOTTRACE, "not a perfshim trace")                      \
    X(VERSION, "unsupported trace format version")           \
    X(CORRUPT, "corrupt trace")                              \
    X(EMPTY, "empty trace")                                  \
    X(NOTFOUND, "not found")                                 \
    X(DWARF, "debug information error")

/* PS__E_USAGE = 1, ... then PS_EUSAGE = -1, ... */
enum {
    PS__E_BASE_ = 0,
#define PS__X(name, msg) PS__E_##name,
    PS_ERRORS(PS__X)
#undef PS__X
};
enum ps_error {
    PS_OK = 0,
#define PS__X(name, msg) PS_E##name = -PS__E_##name,
    PS_ERRORS(PS__X)
#undef PS__X
};

const char *ps_strerror(int code);
/* Store a printf-style detail for the error about to be returned; returns CODE. */
int ps_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The stored detail, or ps_strerror(code) when none was set. */
const char *ps_error_detail(int code);

#endif
