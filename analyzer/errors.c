/* ps_strerror and the per-process error detail (see errors.h). */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

static char detail[1024];
static int detail_code;

const char *ps_strerror(int code)
{
    switch (code) {
    case PS_OK:
        return "success";
#define PS__X(name, msg) \
    case PS_E##name:     \
        return msg;
        PS_ERRORS(PS__X)
#undef PS__X
    }
    return "unknown error";
}

int ps_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    detail_code = code;
    return code;
}

const char *ps_error_detail(int code)
{
    if (detail_code == code && detail[0])
        return detail;
    return ps_strerror(code);
}
