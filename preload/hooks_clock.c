/* Exported clock and sleep hooks.  Clock reads are counted and timed
 * (a program reading the clock a million times a second should see it);
 * sleeps are timed and, past PERFSHIM_OFFCPU_MIN_US, say where they slept.
 * The shim reads its own time through ps_real or rdtsc, never these. */
#include "shim.h"

PS_EXPORT int clock_gettime(clockid_t id, struct timespec *ts)
{
    PS_TIMED_CALL(clock_gettime, int, ps_real.clock_gettime(id, ts));
}

PS_EXPORT int gettimeofday(struct timeval *tv, void *tz)
{
    PS_TIMED_CALL(gettimeofday, int, ps_real.gettimeofday(tv, tz));
}

PS_EXPORT time_t time(time_t *out)
{
    ps_real_wait();
    if (!ps_net_live())
        return ps_real.time(out);
    uint64_t t0 = ps_now();
    time_t r = ps_real.time(out);
    ps_net_wait(PS_CALL_time, t0, 0); /* (time_t)-1 is a time, not an error */
    return r;
}

PS_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
    PS_TIMED_CALL(nanosleep, int, ps_real.nanosleep(req, rem));
}

/* Returns its error instead of setting errno. */
PS_EXPORT int clock_nanosleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem)
{
    ps_real_wait();
    if (!ps_net_live())
        return ps_real.clock_nanosleep(id, flags, req, rem);
    uint64_t t0 = ps_now();
    int r = ps_real.clock_nanosleep(id, flags, req, rem);
    int saved = errno;
    if (r)
        errno = r;
    ps_net_wait(PS_CALL_clock_nanosleep, t0, r ? -1 : 0);
    errno = saved;
    return r;
}

PS_EXPORT int usleep(useconds_t us)
{
    PS_TIMED_CALL(usleep, int, ps_real.usleep(us));
}

PS_EXPORT unsigned sleep(unsigned s)
{
    ps_real_wait();
    if (!ps_net_live())
        return ps_real.sleep(s);
    uint64_t t0 = ps_now();
    unsigned r = ps_real.sleep(s);
    ps_net_wait(PS_CALL_sleep, t0, 0); /* seconds left when interrupted: not an error */
    return r;
}
