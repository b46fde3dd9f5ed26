/* CPU profiling without privileges: per-thread CPU-time timers and a
 * signal handler that records where the thread was.
 *
 * Timers: every thread the target runs gets a POSIX timer on its own
 * CPU-time clock (CLOCK_THREAD_CPUTIME_ID, delivered to that thread with
 * SIGEV_THREAD_ID), armed at 1/PERFSHIM_CPU_HZ of CPU time: a thread is
 * sampled only while it runs, in proportion to the CPU it uses, however
 * many threads there are.  The main thread is armed at start-up, threads
 * created later by pthread_create (hooks_thread.c) as their first act; a
 * thread's timer is deleted when it exits (a timer holds a queued-signal
 * slot until deleted).  The kernel checks CPU timers at its scheduler tick,
 * (4 ms at CONFIG_HZ=250), and a fixed period would lock onto one phase
 * of work that alternates in step with the tick (a loop of 7 ms in one
 * function and 3 ms in another was sampled 98/2 at 99 Hz).  So the timer
 * is one-shot and re-armed by the handler at an absolute point of the
 * thread's CPU time drawn uniformly from [0.5, 1.5) periods after the
 * previous point: the rate is kept on average and no phase is favoured
 * (samples still land only on ticks: docs/cpu.md).  A signal that comes
 * after several points (a rate above the tick rate) is a sample of that
 * many periods' weight.
 *
 * The handler (async-signal-safe: no lock, no allocation, errno kept)
 * unwinds with libunwind from the interrupted context and appends a
 * CPU_SAMPLE, plus the stack's definition when it is new, to the thread's
 * CPU stream: a ring of its own, because the signal may interrupt the
 * thread in the middle of appending to its event ring.  The ring is never
 * written out from the handler; when it is full the sample is dropped and
 * counted.  The handler never looks at the module map (that takes the
 * loader's lock): the flusher does, every time it wakes up.
 *
 * The target's own use of the signal: our handler stays installed; what the
 * target installs with sigaction() or signal() is remembered and answered
 * back to it (hooks_signal.c), and every signal that did not come from our
 * timers (setitimer(ITIMER_PROF), the target's own timers, kill) is handed
 * to the target's handler with its mask and flags, or given the default
 * action.  Our timers are told apart by their sigev_value.
 */
#include "shim.h"

#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>

static int cpu_sig;              /* 0: off */
static uint64_t period_ns;
static char cpu_tag;             /* &cpu_tag marks our timers' signals */
static _Atomic uint64_t n_taken, n_dropped;
static _Atomic int create_said;

__thread struct ps_thread *ps__cpu;
static __thread int timer_id = -1;
static __thread uint64_t next_ns;   /* the thread CPU time the timer is armed for */
static __thread uint64_t rng;       /* xorshift state */
__thread uint64_t ps__cpu_pending;  /* weight of samples taken inside libunwind */
static __thread uint64_t pending_tick;
static __thread uintptr_t pending_leaf; /* the put-off samples' innermost frame */

/* The target's disposition of cpu_sig: two copies and a generation, so
 * the handler always reads a whole one while sigaction() writes the
 * other (two changes during one read are the only torn case). */
static struct sigaction target_act[2];
static _Atomic unsigned target_gen;
static _Atomic int target_lock;

/* ---- the signal's name ----------------------------------------------------- */

static const struct {
    const char *name;
    int sig;
} names[] = {{"PROF", SIGPROF}, {"VTALRM", SIGVTALRM}, {"ALRM", SIGALRM}, {"USR1", SIGUSR1},
             {"USR2", SIGUSR2}, {"URG", SIGURG},       {"WINCH", SIGWINCH}, {"IO", SIGIO},
             {"PWR", SIGPWR},   {"SYS", SIGSYS}};

static int parse_num(const char *s, int *out)
{
    int n = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++)
        if ((n = n * 10 + (*s - '0')) > 1000)
            return -1;
    if (*s)
        return -1;
    *out = n;
    return 0;
}

/* SIGPROF, PROF, 27, SIGRTMIN+4, RTMAX-2; 0 when unusable. */
int ps_parse_signal(const char *s)
{
    int n = 0;
    if (parse_num(s, &n) == 0)
        goto check;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            n = names[i].sig;
            goto check;
        }
    if (strncmp(s, "RTMIN", 5) == 0 || strncmp(s, "RTMAX", 5) == 0) {
        int base = s[4] == 'N' ? SIGRTMIN : SIGRTMAX, k = 0;
        if (s[5] && (s[5] != (s[4] == 'N' ? '+' : '-') || parse_num(s + 6, &k)))
            return 0;
        n = s[4] == 'N' ? base + k : base - k;
        goto check;
    }
    return 0;
check:
    /* Signals that mean a fault or that cannot be caught are not ours to take. */
    if (n < 1 || n > SIGRTMAX || n == SIGKILL || n == SIGSTOP || n == SIGSEGV || n == SIGBUS ||
        n == SIGILL || n == SIGFPE || n == SIGABRT || n == SIGTRAP || n == SIGCHLD ||
        n == SIGCONT || n == SIGPIPE || n == SIGINT || n == SIGTERM || n == SIGQUIT || n == SIGHUP)
        return 0;
    if (n >= 32 && n < SIGRTMIN)
        return 0; /* glibc's own (cancellation, setxid) */
    return n;
}

/* ---- chaining to the target's handler ------------------------------------------ */

static void target_read(struct sigaction *a)
{
    unsigned g = atomic_load_explicit(&target_gen, memory_order_acquire);
    *a = target_act[g & 1];
}

int ps_cpu_target_action(const struct sigaction *act, struct sigaction *old)
{
    ps_spin_lock(&target_lock);
    unsigned g = atomic_load_explicit(&target_gen, memory_order_relaxed);
    if (old)
        *old = target_act[g & 1];
    if (act) {
        target_act[(g + 1) & 1] = *act;
        atomic_store_explicit(&target_gen, g + 1, memory_order_release);
    }
    ps_spin_unlock(&target_lock);
    return 0;
}

/* Signals whose default action is to do nothing. */
static bool default_ignores(int sig)
{
    return sig == SIGURG || sig == SIGWINCH || sig == SIGCHLD || sig == SIGCONT;
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction a;
    target_read(&a);
    if (a.sa_handler == SIG_IGN)
        return;
    if (a.sa_handler == SIG_DFL) {
        if (default_ignores(sig))
            return;
        /* What the target would have got: the default action.  The signal
         * is blocked in here; it is delivered, with SIG_DFL, on return. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        ps_real.sigaction(sig, &dfl, NULL);
        syscall(SYS_tgkill, (pid_t)syscall(SYS_getpid), (pid_t)syscall(SYS_gettid), sig);
        return;
    }
    if (a.sa_flags & SA_RESETHAND) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        ps_cpu_target_action(&dfl, NULL);
    }
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &a.sa_mask, &old);
    if (a.sa_flags & SA_SIGINFO)
        a.sa_sigaction(sig, si, uc);
    else
        a.sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- the sample -------------------------------------------------------------------- */

/* Room for one new stack's definition and the sample itself. */
#define SAMPLE_ROOM (1 + 2 * PS_VARINT_MAX + PS_STACK_MAX_DEPTH * PS_VARINT_MAX + PS_EV_SMALL_MAX)

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts = {0, 0};
    syscall(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The next sampling point: uniform in [0.5, 1.5) periods later. */
static uint64_t jitter(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return period_ns / 2 + (uint64_t)(((unsigned __int128)rng * period_ns) >> 64);
}

static void arm(void)
{
    struct itimerspec its = {{0, 0}, {(time_t)(next_ns / 1000000000u), (long)(next_ns % 1000000000u)}};
    syscall(SYS_timer_settime, timer_id, TIMER_ABSTIME, &its, NULL);
}

/* How many sampling points the thread has passed; the timer re-armed for
 * the next one. */
static uint64_t advance(void)
{
    uint64_t now = thread_cpu_ns(), n = 0;
    if (now - next_ns > 1000 * period_ns && now > next_ns) { /* far behind: no loop */
        n = (now - next_ns) / period_ns;
        next_ns = now;
    }
    while (next_ns <= now) {
        next_ns += jitter();
        n++;
    }
    arm();
    return n ? n : 1;
}

static void sample(ucontext_t *uc, uint64_t weight)
{
    struct ps_thread *c = ps__cpu;
    if (!c || !ps_active())
        return;
    uint64_t tick = ps_now();
    /* Inside libunwind, which is not re-entrant: the allocation hook that
     * called it records this sample with the stack it is taking.  Inside the
     * loader's lock (hooks_loader.c), where libunwind would wait forever:
     * recorded when dl_iterate_phdr returns, or as the shim's own work. */
    if (ps__in_loader || (ps__unwinding && ps__busy)) {
        if (!ps__cpu_pending) {
            pending_tick = tick;
            pending_leaf = ps__busy ? PS_FRAME_UNWINDING + 1
                                    : (uintptr_t)ps_real.dl_iterate_phdr + 1;
        }
        ps__cpu_pending += weight;
        return;
    }
    uint64_t used = atomic_load_explicit(&c->head, memory_order_relaxed) -
                    atomic_load_explicit(&c->tail, memory_order_acquire);
    if (c->cap - used < SAMPLE_ROOM) {
        atomic_fetch_add_explicit(&n_dropped, weight, memory_order_relaxed);
        return;
    }
#if defined(__x86_64__)
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.pc;
#else
#error "CPU sampling: unknown architecture (the interrupted instruction's register)"
#endif
    uintptr_t ips[PS_STACK_MAX_DEPTH];
    unsigned n = ps_stack_unwind_signal(pc, ips, PS_STACK_MAX_DEPTH);
    uint32_t id = ps_stack_intern(c, ips, n, true);
    ps_ev_cpu_sample(c, tick, c->tid, id, weight);
    atomic_fetch_add_explicit(&n_taken, weight, memory_order_relaxed);
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    if (si && si->si_code == SI_TIMER && si->si_value.sival_ptr == &cpu_tag) {
        if (ps__cpu && ps_active() && timer_id >= 0)
            sample(uc, advance());
    } else if (si && si->si_code == SI_QUEUE && si->si_value.sival_ptr == &ps__scan_tag &&
               si->si_pid == ps__pid) {
        ps_scan_on_stop(uc); /* a reachability scan stops this thread */
    } else {
        chain(sig, si, uc);
    }
    errno = saved;
}

void ps_cpu_pending_flush(struct ps_thread *t, const uintptr_t *ips, unsigned n)
{
    uint64_t w = ps__cpu_pending;
    ps__cpu_pending = 0;
    if (!t || !ps_active())
        return;
    uintptr_t st[PS_STACK_MAX_DEPTH];
    st[0] = pending_leaf; /* a leaf: looked up as address - 1 */
    if (n > PS_STACK_MAX_DEPTH - 1)
        n = PS_STACK_MAX_DEPTH - 1;
    memcpy(st + 1, ips, n * sizeof *ips);
    ps_ev_cpu_sample(t, pending_tick, t->tid, ps_stack_intern(t, st, n + 1, false), w);
    atomic_fetch_add_explicit(&n_taken, w, memory_order_relaxed);
}

/* Samples put off while the target was in dl_iterate_phdr: its caller's
 * stack, taken now that the loader's lock is free. */
void ps_cpu_pending_record(void)
{
    struct ps_thread *t = ps_self();
    if (!t)
        return;
    ps__busy++;
    ps_stack_capture(t); /* flushes the pending samples under that stack */
    ps__busy--;
}

/* ---- timers --------------------------------------------------------------------------- */

void ps_cpu_thread_begin(void)
{
    if (!cpu_sig || !period_ns || timer_id >= 0 || !ps_active())
        return;
    int saved = errno;
    ps__busy++;
    if (!ps__cpu)
        ps__cpu = ps_thread_attach_cpu();
    if (ps__cpu) {
        /* libunwind sets up its per-thread cache on a thread's first walk;
         * done here, not in the first sample's handler. */
        ps_stack_warm();
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = cpu_sig;
        sev.sigev_value.sival_ptr = &cpu_tag;
        sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
        int id = -1;
        if (syscall(SYS_timer_create, CLOCK_THREAD_CPUTIME_ID, &sev, &id) == 0) {
            rng = ps_now() ^ (uint64_t)sev._sigev_un._tid << 32 ^ 0x9e3779b97f4a7c15ull;
            next_ns = thread_cpu_ns();
            next_ns += jitter();
            timer_id = id;
            arm();
        } else if (!atomic_exchange(&create_said, 1)) {
            ps_say("cannot create a CPU-time timer (%s); threads from here on are not CPU-sampled",
                   ps_errname(errno));
        }
    }
    ps__busy--;
    errno = saved;
}

void ps_cpu_thread_end(void)
{
    struct ps_thread *c = ps__cpu;
    if (!c)
        return;
    int saved = errno;
    ps__cpu = NULL; /* a signal still pending finds no stream */
    if (timer_id >= 0)
        syscall(SYS_timer_delete, timer_id);
    timer_id = -1;
    ps_thread_release(c);
    errno = saved;
}

void ps_cpu_child_reset(void)
{
    /* Timers are not inherited; the forking thread's CPU stream is (the
     * thread reset gave it a new serial). */
    timer_id = -1;
    atomic_store(&n_taken, 0);
    atomic_store(&n_dropped, 0);
    ps_cpu_thread_begin();
}

/* The handler on SIG, the target's previous disposition kept for chain(). */
static bool install(int sig)
{
    struct sigaction ours, prev;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = on_signal;
    ours.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&ours.sa_mask);
    if (ps_real.sigaction(sig, &ours, &prev) != 0) {
        ps_say("cannot install the shim's handler for signal %d (%s); CPU sampling and "
               "reachability scans are off", sig, ps_errname(errno));
        return false;
    }
    target_act[0] = target_act[1] = prev;
    cpu_sig = sig;
    return true;
}

void ps_cpu_init(void)
{
    if (!ps__opt.cpu_hz)
        return;
    int sig = ps_parse_signal(ps__opt.cpu_signal);
    if (!sig) {
        ps_say("ignoring PERFSHIM_CPU_SIGNAL='%s': expected a signal the target does not need for "
               "faults or job control (SIGPROF, SIGVTALRM, SIGUSR2, SIGRTMIN+N, or its number); "
               "CPU sampling is off",
               ps__opt.cpu_signal);
        return;
    }
    if (install(sig))
        period_ns = 1000000000ull / ps__opt.cpu_hz;
}

int ps_cpu_configured_signal(void)
{
    return ps_parse_signal(ps__opt.cpu_signal);
}

/* The reachability scan stops threads with the same signal and handler
 * (scan.c); with CPU sampling off the handler is installed on first use. */
int ps_cpu_claim_signal(void)
{
    if (!cpu_sig) {
        int sig = ps_parse_signal(ps__opt.cpu_signal);
        if (!sig || !install(sig))
            return 0;
    }
    return cpu_sig;
}

unsigned ps_cpu_hz(void)
{
    return cpu_sig && period_ns ? ps__opt.cpu_hz : 0;
}

int ps_cpu_signal(void)
{
    return cpu_sig;
}

void ps_cpu_counts(uint64_t *taken, uint64_t *dropped)
{
    *taken = atomic_load_explicit(&n_taken, memory_order_relaxed);
    *dropped = atomic_load_explicit(&n_dropped, memory_order_relaxed);
}

/* Samples may run through a library loaded since the map was last written;
 * record it while it is loaded (the flusher has a ring of its own for it). */
void ps_cpu_flusher_tick(void)
{
    if (cpu_sig && period_ns && ps_modules_changed())
        ps_modules_sync(ps_self(), false);
}
