/* The tick source for event times.
 *
 * rdtsc costs ~12 ns here against ~29 ns for clock_gettime through the vDSO,
 * and a traced malloc+free pair reads the clock twice, so the TSC is used
 * whenever the kernel itself uses it as its clocksource (then it is
 * invariant and synchronised across CPUs).  Ticks are converted to time
 * offline from the (tick, ns) pairs in PROCESS, ROUND and END records; the
 * start-up calibration below gives the analyzer a rate even for a process
 * killed before its first ROUND. */
#include "shim.h"

#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int ps__clock_kind = PS_CLOCK_MONOTONIC;
static uint64_t clock_hz = 1000000000ull;
uint64_t ps__tick_mult = 1ull << 32; /* ticks are ns until calibrated */

/* The real clock_gettime (the vDSO's), never our hook: the hook itself
 * reads this clock when the TSC is not in use. */
static int real_gettime(clockid_t id, struct timespec *ts)
{
    if (PS_LIKELY(ps_real.clock_gettime != NULL))
        return ps_real.clock_gettime(id, ts);
    return (int)syscall(SYS_clock_gettime, id, ts);
}

uint64_t ps_clock_mono_ns(void)
{
    struct timespec ts;
    real_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ps_clock_unix_ns(void)
{
    struct timespec ts;
    real_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ps_clock_hz(void)
{
    return clock_hz;
}

static bool kernel_uses_tsc(void)
{
    char buf[64];
    if (ps_read_file("/sys/devices/system/clocksource/clocksource0/current_clocksource", buf,
                     sizeof buf) <= 0)
        return false;
    return strncmp(buf, "tsc", 3) == 0 && (buf[3] == '\n' || buf[3] == 0);
}

void ps_clock_init(int requested)
{
#if defined(__x86_64__)
    bool tsc = requested == PS_CLOCK_TSC || (requested < 0 && kernel_uses_tsc());
    if (!tsc)
        return;
    ps__clock_kind = PS_CLOCK_TSC;
    /* Calibrate over ~200 us: long enough for 0.1% against clock jitter,
     * short enough not to be noticed at start-up. */
    uint64_t n0 = ps_clock_mono_ns(), t0 = ps_now(), n1, t1;
    do {
        n1 = ps_clock_mono_ns();
        t1 = ps_now();
    } while (n1 - n0 < 200000);
    clock_hz = (uint64_t)((double)(t1 - t0) * 1e9 / (double)(n1 - n0));
    ps__tick_mult = (uint64_t)(1e9 * 4294967296.0 / (double)clock_hz);
#else
    (void)requested;
#endif
}
