/* Exported signal hooks: the target's view of the CPU sampler's signal.
 *
 * While the sampler owns its signal (SIGPROF unless PERFSHIM_CPU_SIGNAL
 * says otherwise), sigaction() and signal() on that signal change and
 * report what the target asked for, and leave the sampler's handler in
 * place; the handler passes the target's own signals on (cpu.c).  Every
 * other signal, and every call while the sampler is off, goes straight to
 * libc.  sigset(), sysv_signal() and bsd_signal() are not covered (glibc's
 * implementations call its internal sigaction): docs/cpu.md. */
#include "shim.h"

#include <string.h>

PS_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    ps_real_wait();
    if (sig != 0 && sig == ps_scan_signal())
        return ps_scan_target_action(act, old);
    if (sig == 0 || sig != ps_cpu_signal())
        return ps_real.sigaction(sig, act, old);
    return ps_cpu_target_action(act, old);
}

PS_EXPORT void (*signal(int sig, void (*handler)(int)))(int)
{
    ps_real_wait();
    if (sig == 0 || (sig != ps_cpu_signal() && sig != ps_scan_signal()))
        return ps_real.signal(sig, handler);
    /* glibc's signal(): BSD semantics, the signal blocked in its handler
     * and interrupted calls restarted. */
    struct sigaction a, old;
    memset(&a, 0, sizeof a);
    a.sa_handler = handler;
    a.sa_flags = SA_RESTART;
    sigemptyset(&a.sa_mask);
    sigaddset(&a.sa_mask, sig);
    if (sig == ps_scan_signal())
        ps_scan_target_action(&a, &old);
    else
        ps_cpu_target_action(&a, &old);
    return old.sa_handler;
}
