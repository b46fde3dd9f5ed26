/* libFuzzer target for the trace reader: the input is a trace file, read
 * through the whole pipeline front (reader.c, merge.c) into the heap
 * analysis (heap.c), then freed.  Any input must give 0 or a negative
 * PS_E* and leave nothing behind: no crash, no leak, no undefined
 * behaviour, no unbounded allocation.
 *
 * ps_trace_read takes a path, so the input goes into a memfd that is
 * rewritten for each run and read back as /proc/self/fd/N (no disk I/O,
 * nothing to clean up).
 *
 * Build: CC=clang cmake -DPERFSHIM_FUZZ=ON -DPERFSHIM_SANITIZE=ON ...
 * Run:   fuzz_reader -max_len=65536 corpus-dir tests/fuzz/corpus
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "errors.h"
#include "heap.h"
#include "trace.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz-trace", MFD_CLOEXEC);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) {
        perror("memfd write");
        abort();
    }
    struct ps_heap *h = ps_heap_new();
    if (!h)
        abort();
    struct ps_trace *t = NULL;
    int rc = ps_trace_read(path, ps_heap_event, h, &t);
    if (rc > 0 || (rc == 0) != (t != NULL))
        abort(); /* the convention in errors.h and trace.h */
    if (rc == 0) {
        ps_heap_finish(h);
        /* The cheap queries the report makes of every trace. */
        char buf[64];
        ps_trace_exit_string(t, buf, sizeof buf);
        volatile double s = ps_trace_seconds(t, t->end.end_tick);
        (void)s;
        for (size_t i = 0; i < t->nstacks && i < 64; i++)
            if (t->stacks[i].depth)
                (void)ps_trace_module_at(t, t->stacks[i].ips[0], t->stacks[i].tick);
        ps_trace_free(t);
    } else {
        (void)ps_error_detail(rc);
    }
    ps_heap_free(h);
    return 0;
}
