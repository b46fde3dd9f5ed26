/* dl_iterate_phdr, watched for the CPU sampler.
 *
 * glibc's dl_iterate_phdr takes the loader's (recursive) lock, and so does
 * libunwind, from the sampler's handler, whenever its caches miss.  A
 * sample that lands while this thread is taking or holding that lock would
 * wait forever on a lock its own thread half holds.  The target reaches
 * dl_iterate_phdr too (libgcc's unwinder before glibc 2.35, libunwind,
 * Rust's backtrace); while it is inside, samples are put off and recorded
 * when the call returns, under a dl_iterate_phdr leaf.  The shim's own
 * module scans go through here as well (modules.c). */
#include "shim.h"

#include <link.h>

__thread int ps__in_loader;

PS_EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
    ps_real_wait();
    ps__in_loader++;
    int rc = ps_real.dl_iterate_phdr(cb, data);
    ps__in_loader--;
    if (PS_UNLIKELY(ps__cpu_pending) && !ps__in_loader && !ps__busy && !ps__unwinding)
        ps_cpu_pending_record();
    return rc;
}
