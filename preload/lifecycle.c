/* Start-up, fork, exec and exit: the shim's lifecycle.
 *
 *   BOOT  --constructor-->  ACTIVE  --final flush / failure-->  DEAD
 *
 * Exit status: glibc's on_exit() hands our handler the status given to
 * exit() or returned from main (main's return reaches exit inside libc,
 * where no hook can see it).  END is written as late as we can run (see
 * on_exit_cb); frees that arrive after it pass through untraced.  _exit/_Exit are hooked (hooks_proc.c); SIGKILL is not
 * seen at all: the periodic flush is what protects the data then.
 */
#include "shim.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "perfshim/options.h"

_Atomic int ps__state = PS_BOOT;
struct ps_options ps__opt;
pid_t ps__pid;
__thread int ps__busy;

static int exit_code = -1;
static _Atomic int shutdown_said;

/* ---- options ------------------------------------------------------------- */

static const char *opt_str(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static unsigned opt_uint(const char *name, const char *def, unsigned lo, unsigned hi)
{
    const char *v = opt_str(name, def);
    unsigned long n = 0;
    const char *s = v;
    for (; *s >= '0' && *s <= '9'; s++)
        n = n * 10 + (unsigned long)(*s - '0');
    if (*s || s == v || n < lo || n > hi) {
        ps_say("ignoring %s='%s': expected a whole number from %u to %u; using %s", name, v, lo,
               hi, def);
        n = 0;
        for (s = def; *s; s++)
            n = n * 10 + (unsigned long)(*s - '0');
    }
    return (unsigned)n;
}

static void parse_options(void)
{
    /* Defaults come from the one table in options.h. */
#define PS__X(name, def, help) static const char def_##name[] = def;
    PS_OPTIONS(PS__X)
#undef PS__X
    struct ps_options *o = &ps__opt;
    ps_fmt(o->output, sizeof o->output, "%s", opt_str("PERFSHIM_OUTPUT", def_OUTPUT));
    ps_fmt(o->record_log, sizeof o->record_log, "%s", opt_str("PERFSHIM_RECORD_LOG", def_RECORD_LOG));
    o->flush_ms = opt_uint("PERFSHIM_FLUSH_MS", def_FLUSH_MS, 1, 3600000);
    o->verbose = opt_uint("PERFSHIM_VERBOSE", def_VERBOSE, 0, 9) != 0;
    o->disable = opt_uint("PERFSHIM_DISABLE", def_DISABLE, 0, 1) != 0;
    o->compress = opt_uint("PERFSHIM_COMPRESS", def_COMPRESS, 0, 19);
    o->net = opt_uint("PERFSHIM_NET", def_NET, 0, 1) != 0;
    o->offcpu_min_us = opt_uint("PERFSHIM_OFFCPU_MIN_US", def_OFFCPU_MIN_US, 0, 3600000000u);
    o->sample_ms = opt_uint("PERFSHIM_SAMPLE_MS", def_SAMPLE_MS, 0, 3600000);
    if (o->sample_ms && o->sample_ms < 10) {
        ps_say("PERFSHIM_SAMPLE_MS=%u is below the 10 ms floor; sampling every 10 ms", o->sample_ms);
        o->sample_ms = 10;
    }
    o->max_trace_mb = opt_uint("PERFSHIM_MAX_TRACE_MB", def_MAX_TRACE_MB, 0, 16u << 20);
    o->cpu_hz = opt_uint("PERFSHIM_CPU_HZ", def_CPU_HZ, 0, 10000);
    ps_fmt(o->cpu_signal, sizeof o->cpu_signal, "%s", opt_str("PERFSHIM_CPU_SIGNAL", def_CPU_SIGNAL));
    o->scan = opt_uint("PERFSHIM_SCAN", def_SCAN, 0, 1) != 0;
    ps_fmt(o->scan_signal, sizeof o->scan_signal, "%s", opt_str("PERFSHIM_SCAN_SIGNAL", def_SCAN_SIGNAL));
    o->scan_interval_s = opt_uint("PERFSHIM_SCAN_INTERVAL_S", def_SCAN_INTERVAL_S, 0, 86400 * 365);
    ps_fmt(o->metrics_file, sizeof o->metrics_file, "%s", opt_str("PERFSHIM_METRICS_FILE", def_METRICS_FILE));
    o->stack_depth = opt_uint("PERFSHIM_STACK_DEPTH", def_STACK_DEPTH, 0, PS_STACK_MAX_DEPTH);
    unsigned kb = opt_uint("PERFSHIM_BUFFER_KB", def_BUFFER_KB, 16, 65536);
    unsigned bytes = 16 * 1024;
    while (bytes < kb * 1024u)
        bytes <<= 1;
    o->buffer_bytes = bytes;
    const char *clk = opt_str("PERFSHIM_CLOCK", def_CLOCK);
    if (strcmp(clk, "tsc") == 0)
        o->clock = PS_CLOCK_TSC;
    else if (strcmp(clk, "monotonic") == 0)
        o->clock = PS_CLOCK_MONOTONIC;
    else {
        if (strcmp(clk, "auto") != 0)
            ps_say("ignoring PERFSHIM_CLOCK='%s': expected auto, tsc or monotonic", clk);
        o->clock = -1;
    }
}

/* ---- stop ------------------------------------------------------------------ */

void ps_shutdown(const char *why, int err)
{
    atomic_store(&ps__state, PS_DEAD);
    if (atomic_exchange(&shutdown_said, 1))
        return;
    if (err)
        ps_say("%s '%s': %s; tracing stopped, the program runs on untraced", why,
               ps_writer_path(), ps_errname(err));
    else
        ps_say("%s ('%s'); tracing stopped, the program runs on untraced", why, ps_writer_path());
}

/* Flush everything and write END; afterwards hooks pass through. */
static void finish(int kind, int code)
{
    if (!ps_active() || (pid_t)syscall(SYS_getpid) != ps__pid)
        return;
    ps__busy++;
    if (kind == PS_EXIT_EXITED)
        ps_scan_at_exit(); /* before the final flush: its records, then END */
    ps_net_finish();
    ps_sampler_final();
    ps_thread_drain_all(true);
    ps_writer_end(kind, code);
    atomic_store(&ps__state, PS_DEAD);
    ps__busy--;
}

/* exit() runs our on_exit handler and, through _dl_fini, our destructor.
 * Their order depends on when our constructor ran relative to libc's start:
 * for a preloaded shim it runs first, so the handler comes last of all.
 * Whichever of the two runs second writes END; the first one flushes. */
static bool dtor_ran;

static void on_exit_cb(int status, void *arg)
{
    (void)arg;
    int saved = errno;
    exit_code = status & 0xff;
    if (dtor_ran) {
        finish(PS_EXIT_EXITED, exit_code);
    } else if (ps_active() && (pid_t)syscall(SYS_getpid) == ps__pid) {
        ps__busy++;
        ps_thread_drain_all(true);
        ps__busy--;
    }
    errno = saved;
}

__attribute__((destructor)) static void ps_dtor(void)
{
    int saved = errno;
    dtor_ran = true;
    if (exit_code >= 0) {
        finish(PS_EXIT_EXITED, exit_code);
    } else if (ps_active() && (pid_t)syscall(SYS_getpid) == ps__pid) {
        ps__busy++;
        ps_thread_drain_all(true);
        ps__busy--;
    }
    errno = saved;
}

void ps_lifecycle__exit(int status)
{
    int saved = errno;
    finish(PS_EXIT_EXITED, status & 0xff);
    errno = saved;
}

void ps_lifecycle_exec(const char *path)
{
    /* A vfork child shares our memory and our parent's threads still run:
     * touch nothing.  (A fork child has its own ps__pid by now.) */
    if (!ps_active() || (pid_t)syscall(SYS_getpid) != ps__pid)
        return;
    int saved = errno;
    ps__busy++;
    struct ps_thread *t = ps_self();
    if (t)
        ps_ev_exec(t, path);
    ps_thread_drain_all(true);
    ps__busy--;
    errno = saved;
}

/* ---- fork -----------------------------------------------------------------
 * prepare: write out everything recorded so far (so nothing is written
 *          twice or lost), then hold the writer lock across fork so that the
 *          child cannot inherit it held by a thread that no longer exists.
 * parent:  release it.
 * child:   a new process gets a new trace: new file (new pid), new thread
 *          serials, stack ids and module ids start over, a new flusher;
 *          the module map is written with the child's first new stack.
 *          The child's report covers what it allocates itself; blocks it
 *          inherited and frees are frees of unknown blocks, ignored.
 */
static void fork_prepare(void)
{
    if (!ps_active())
        return;
    ps__busy++;
    ps_thread_drain_all(true);
    ps_writer_lock();
    ps__busy--;
}

static void fork_parent(void)
{
    if (!ps_active())
        return;
    ps_writer_unlock();
}

static void fork_child(void)
{
    if (!ps_active())
        return;
    ps__busy++;
    ps__pid = (pid_t)syscall(SYS_getpid);
    ps_writer_child_reset();
    ps_stack_reset();
    ps_modules_reset();
    struct ps_thread *self = ps__self > PS_THREAD_GONE ? ps__self : NULL;
    if (ps_writer_open() < 0) {
        atomic_store(&ps__state, PS_DEAD);
        ps__busy--;
        return;
    }
    ps_writer_header();
    ps_thread_reset_all_but(self, ps__cpu);
    ps_net_child_reset(ps_thread_registry());
    ps_sampler_child_reset();
    ps_cpu_child_reset();
    ps_scan_child_reset();
    /* No module scan here: dl_iterate_phdr takes the loader's lock, which
     * a parent thread may have held when we forked.  The reset module table
     * makes the child's first new stack record the map (stack.c). */
    ps_flusher_start();
    ps__busy--;
}

/* ---- start ----------------------------------------------------------------- */

void ps_lifecycle_init(void)
{
    ps_real_ensure();
    static _Atomic int once;
    if (atomic_exchange(&once, 1))
        return;
    int saved = errno;
    ps__busy++;
    parse_options();
    if (ps__opt.disable) {
        atomic_store(&ps__state, PS_DEAD);
        goto out;
    }
    ps__pid = (pid_t)syscall(SYS_getpid);
    ps_clock_init(ps__opt.clock);
    ps_thread_init();
    ps_modules_init();
    ps_net_init();
    if (ps_writer_open() < 0) {
        atomic_store(&ps__state, PS_DEAD);
        goto out;
    }
    ps_cpu_init(); /* before the header, which records the rate */
    ps_scan_init();
    ps_writer_header();
    ps_stack_init();
    ps_sampler_init();
    atomic_store(&ps__state, PS_ACTIVE);
    ps_modules_sync(ps_self(), true);
    ps_cpu_thread_begin();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    on_exit(on_exit_cb, NULL);
    ps_flusher_start();
out:
    ps__busy--;
    errno = saved;
}

__attribute__((constructor(101))) static void ps_ctor(void)
{
    ps_lifecycle_init();
}
