/* `perfshim flame --format folded`: one line per distinct stack, outermost
 * frame first, frames joined by ';', then a space and an integer weight
 * (bytes for alloc and leak): the input of flamegraph.pl, inferno and
 * speedscope.  Inline frames are frames of their own. */
#include "flame.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

static void put_name(FILE *out, const char *s)
{
    /* ';' separates frames and a newline ends the line: keep both out. */
    for (; s && *s; s++)
        fputc(*s == ';' ? ':' : *s == '\n' ? ' ' : *s, out);
}

int ps_flame_folded(FILE *out, struct ps_report *r, enum ps_flame_type type)
{
    const struct ps_heap *h = r->h;
    for (uint64_t id = 0; id < h->nsites; id++) {
        uint64_t w = type == PS_FLAME_ALLOC ? h->sites[id].alloc_bytes : h->sites[id].live_bytes;
        if (!w)
            continue;
        struct ps_frame *f;
        size_t n;
        int rc = ps_report_stack_frames(r, (uint32_t)id, &f, &n);
        if (rc)
            return rc;
        for (size_t k = n; k-- > 0;) {
            put_name(out, f[k].function ? f[k].function : "??");
            if (k)
                fputc(';', out);
        }
        fprintf(out, " %llu\n", (unsigned long long)w);
        free(f);
    }
    return ferror(out) ? PS_EIO : 0;
}
