/* placeholder: being written */
#include "flame.h"

#include "errors.h"

int ps_flame_write_speedscope(FILE *out, const struct ps_flame *f)
{
    (void)out;
    (void)f;
    return ps_error_set(PS_EUSAGE, "flame: --format speedscope is not written yet");
}
