/* The resource sampler and the trace size cap; both run on the flusher.
 *
 * Every PERFSHIM_SAMPLE_MS: one RESOURCE record (RSS, virtual size, the
 * live heap as the hooks count it, the target's threads and fds, CPU time,
 * the shim's own memory and the trace's size), and the metrics file
 * rewritten.  Every 20th sample also a MEMORY record: the allocator's own
 * view (glibc's mallinfo2, which walks the free lists under the arena
 * locks: too slow to take four times a second) and the resident part of
 * the shim's mappings (mincore over all of them; most of what the shim maps
 * is reserved, never touched).
 *
 * What is the target's and what is ours: the flusher thread is not counted
 * in threads, its CPU time is reported apart, the trace's descriptor is not
 * counted in fds.
 *
 * Trace size cap (PERFSHIM_MAX_TRACE_MB): allocation events are recorded in
 * full until half of it, then sampled by bytes, one sample per 256 B,
 * 2 KiB, 16 KiB, 128 KiB (see ps_sample_keep), each step after another
 * eighth of the cap, and stopped at the cap.  Each step writes a
 * SAMPLING record.  Past the cap, resource samples are written every 10 s
 * and statistics every 60th round, so the file keeps growing only by a few
 * KiB a minute.
 */
#include "shim.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

_Atomic unsigned ps__sample_shift;

#define MEMORY_EVERY 20                 /* samples per MEMORY record */
#define CAPPED_SAMPLE_NS 10000000000ull /* resource records past the cap */
#define CAPPED_STATS_EVERY 60           /* rounds per statistics write past the cap */

static _Atomic int lock;
static uint64_t period_ns, next_ns, start_ns, last_written_ns;
static unsigned nsamples, rounds;
static bool glibc_malloc;
static _Atomic bool flusher_running, final_done;
static uint64_t flusher_cpu_ns;  /* the flusher's CPU time at its last sample */
static uint64_t shim_resident;   /* at the last MEMORY sample */
static char metrics_path[4096], metrics_tmp[4200], exe_name[256];
static bool metrics_on;
static uint8_t rec[32 * PS_VARINT_MAX];

/* ---- reading the process's state --------------------------------------------- */

struct status {
    uint64_t vm, rss, rss_anon, rss_file, threads;
};

static uint64_t field_kb(const char *buf, const char *name)
{
    const char *p = strstr(buf, name);
    if (!p)
        return 0;
    p += strlen(name);
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

static void read_status(struct status *s)
{
    static char buf[8192];
    memset(s, 0, sizeof *s);
    if (ps_read_file("/proc/self/status", buf, sizeof buf) <= 0)
        return;
    s->vm = field_kb(buf, "\nVmSize:") * 1024;
    s->rss = field_kb(buf, "\nVmRSS:") * 1024;
    s->rss_anon = field_kb(buf, "\nRssAnon:") * 1024;
    s->rss_file = (field_kb(buf, "\nRssFile:") + field_kb(buf, "\nRssShmem:")) * 1024;
    s->threads = field_kb(buf, "\nThreads:");
    if (s->threads && atomic_load(&flusher_running))
        s->threads--;
}

/* Open descriptors, without ours.  Linux 6.2+ gives the count as the size
 * of /proc/self/fd (one stat, however many fds); older kernels need the
 * directory read through. */
static uint64_t count_fds(void)
{
    struct stat st;
    uint64_t n = 0;
    if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0) {
        n = (uint64_t)st.st_size;
    } else {
        static char buf[32768];
        int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return 0;
        long got;
        while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
            for (long at = 0; at < got;) {
                const char *name = buf + at + 19; /* d_ino 8, d_off 8, d_reclen 2, d_type 1 */
                unsigned short reclen;
                memcpy(&reclen, buf + at + 16, sizeof reclen);
                if (name[0] != '.')
                    n++;
                at += reclen;
            }
        }
        syscall(SYS_close, fd);
        if (n)
            n--; /* the directory's own descriptor */
    }
    if (n && ps_writer_fd() >= 0)
        n--;
    return n;
}

static uint64_t cpu_ns(clockid_t clk)
{
    struct timespec ts = {0, 0};
    syscall(SYS_clock_gettime, clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct heap_count {
    uint64_t allocs, frees, bytes;
    int64_t live;
};

static void sum_counters(struct heap_count *h)
{
    memset(h, 0, sizeof *h);
    for (struct ps_thread *t = ps_thread_registry(); t; t = t->next) {
        h->allocs += __atomic_load_n(&t->n_alloc, __ATOMIC_RELAXED);
        h->frees += __atomic_load_n(&t->n_free, __ATOMIC_RELAXED);
        h->bytes += __atomic_load_n(&t->bytes_alloc, __ATOMIC_RELAXED);
        h->live += __atomic_load_n(&t->live_usable, __ATOMIC_RELAXED);
    }
    if (h->live < 0)
        h->live = 0;
}

/* ---- the metrics file ----------------------------------------------------------- */

static size_t metric(char *buf, size_t size, const char *name, const char *type, const char *help,
                     uint64_t value)
{
    return ps_fmt(buf, size, "# HELP %s %s\n# TYPE %s %s\n%s{pid=\"%d\",exe=\"%s\"} %llu\n", name,
                  help, name, type, name, (int)ps__pid, exe_name, (unsigned long long)value);
}

/* NS as seconds with three decimals (ps_fmt has no %f). */
static void seconds(char *buf, size_t size, uint64_t ns)
{
    unsigned ms = (unsigned)(ns % 1000000000ull / 1000000ull);
    ps_fmt(buf, size, "%llu.%u%u%u", (unsigned long long)(ns / 1000000000ull), ms / 100, ms / 10 % 10,
           ms % 10);
}

static void write_metrics(const struct status *s, uint64_t fds, uint64_t cpu, const struct heap_count *h,
                          uint64_t now)
{
    static char buf[8192];
    size_t n = 0, cap = sizeof buf;
#define M(name, type, help, v) n += metric(buf + n, cap - n, name, type, help, (uint64_t)(v))
    M("perfshim_rss_bytes", "gauge", "Resident set size of the traced process.", s->rss);
    M("perfshim_vm_bytes", "gauge", "Virtual memory size of the traced process.", s->vm);
    M("perfshim_heap_live_bytes", "gauge", "Live heap bytes (usable sizes) as the shim counts them.", h->live);
    M("perfshim_heap_live_blocks", "gauge", "Live heap blocks as the shim counts them.",
      h->allocs > h->frees ? h->allocs - h->frees : 0);
    M("perfshim_threads", "gauge", "Threads of the traced process (the shim's own not counted).", s->threads);
    M("perfshim_open_fds", "gauge", "Open file descriptors of the traced process.", fds);
    M("perfshim_allocations_total", "counter", "Allocations made since the process started.", h->allocs);
    M("perfshim_frees_total", "counter", "Frees made since the process started.", h->frees);
    M("perfshim_allocated_bytes_total", "counter", "Bytes requested from the allocator since start.", h->bytes);
    M("perfshim_shim_memory_bytes", "gauge", "Resident memory of the shim itself (every 20th sample).", shim_resident);
    M("perfshim_trace_bytes", "gauge", "Size of the trace file written so far.", ps_writer_bytes());
#undef M
    char cpu_s[32], up_s[32];
    seconds(cpu_s, sizeof cpu_s, cpu);
    seconds(up_s, sizeof up_s, now - start_ns);
    n += ps_fmt(buf + n, cap - n,
                "# HELP perfshim_cpu_seconds_total CPU time of the traced process (the shim's thread not counted).\n"
                "# TYPE perfshim_cpu_seconds_total counter\n"
                "perfshim_cpu_seconds_total{pid=\"%d\",exe=\"%s\"} %s\n"
                "# HELP perfshim_uptime_seconds Seconds since the traced process started.\n"
                "# TYPE perfshim_uptime_seconds gauge\n"
                "perfshim_uptime_seconds{pid=\"%d\",exe=\"%s\"} %s\n",
                (int)ps__pid, exe_name, cpu_s, (int)ps__pid, exe_name, up_s);
    if (n >= cap)
        n = cap - 1;
    /* The textfile collector reads whole files: write beside it, rename over. */
    int fd = (int)syscall(SYS_openat, AT_FDCWD, metrics_tmp,
                          O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || ps_write_all(fd, buf, n) != 0 || syscall(SYS_rename, metrics_tmp, metrics_path) != 0) {
        int e = errno;
        if (fd >= 0)
            syscall(SYS_close, fd);
        syscall(SYS_unlink, metrics_tmp);
        ps_say("cannot write the metrics file '%s': %s; no more metrics (the trace goes on)",
               metrics_path, ps_errname(e));
        metrics_on = false;
        return;
    }
    syscall(SYS_close, fd);
}

/* ---- samples -------------------------------------------------------------------- */

static void write_memory(uint64_t tick)
{
    uint8_t *p = rec;
    p = ps_put_uv(p, tick);
    p = ps_put_uv(p, shim_resident);
    p = ps_put_uv(p, ps_mapped_bytes());
    p = ps_put_uv(p, glibc_malloc ? 1 : 0);
    uint64_t system = 0, in_use = 0, free_b = 0, mmapped = 0;
    if (glibc_malloc) {
        struct mallinfo2 mi = mallinfo2();
        system = mi.arena + mi.hblkhd;
        in_use = mi.uordblks + mi.hblkhd;
        free_b = mi.fordblks;
        mmapped = mi.hblkhd;
    }
    p = ps_put_uv(p, system);
    p = ps_put_uv(p, in_use);
    p = ps_put_uv(p, free_b);
    p = ps_put_uv(p, mmapped);
    ps_writer_record(PS_REC_MEMORY, rec, (size_t)(p - rec), NULL, 0, NULL, 0);
}

static void sample(uint64_t now, bool final)
{
    struct status s;
    read_status(&s);
    uint64_t fds = count_fds();
    if (!final && atomic_load(&flusher_running))
        flusher_cpu_ns = cpu_ns(CLOCK_THREAD_CPUTIME_ID); /* we are the flusher */
    uint64_t proc_cpu = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t cpu = proc_cpu > flusher_cpu_ns ? proc_cpu - flusher_cpu_ns : 0;
    struct heap_count h;
    sum_counters(&h);
    bool memory = final || nsamples++ % MEMORY_EVERY == 0;
    if (memory)
        shim_resident = ps_resident_bytes();
    if (metrics_on)
        write_metrics(&s, fds, cpu, &h, now);
    bool capped = ps_sample_shift() == PS_SAMPLE_OFF;
    if (capped && !final && now - last_written_ns < CAPPED_SAMPLE_NS)
        return;
    last_written_ns = now;
    uint64_t tick = ps_now();
    uint8_t *p = rec;
    p = ps_put_uv(p, tick);
    p = ps_put_uv(p, s.rss);
    p = ps_put_uv(p, s.vm);
    p = ps_put_uv(p, s.rss_anon);
    p = ps_put_uv(p, s.rss_file);
    p = ps_put_uv(p, s.threads);
    p = ps_put_uv(p, fds);
    p = ps_put_uv(p, cpu);
    p = ps_put_uv(p, flusher_cpu_ns);
    p = ps_put_uv(p, h.allocs);
    p = ps_put_uv(p, h.frees);
    p = ps_put_uv(p, h.bytes);
    p = ps_put_uv(p, (uint64_t)h.live);
    p = ps_put_uv(p, shim_resident);
    p = ps_put_uv(p, ps_writer_bytes());
    ps_writer_record(PS_REC_RESOURCE, rec, (size_t)(p - rec), NULL, 0, NULL, 0);
    if (memory)
        write_memory(tick);
}

/* ---- the cap -------------------------------------------------------------------- */

static void check_cap(void)
{
    static const unsigned shifts[] = {8, 11, 14, 17, PS_SAMPLE_OFF};
    if (!ps__opt.max_trace_mb)
        return;
    uint64_t cap = (uint64_t)ps__opt.max_trace_mb << 20;
    uint64_t written = ps_writer_bytes();
    unsigned want = 0;
    for (unsigned i = 0; i < sizeof shifts / sizeof *shifts; i++)
        if (written >= cap / 8 * (4 + i))
            want = shifts[i];
    if (want <= ps_sample_shift())
        return;
    /* The switch first, then its tick: whatever a hook recorded under the
     * old rule with a later tick is sorted out by the analyzer (see
     * ps_sample_keep's note in trace_format.h and docs/trace-format.md). */
    atomic_store(&ps__sample_shift, want);
    uint8_t *p = rec;
    p = ps_put_uv(p, ps_now());
    p = ps_put_uv(p, want);
    p = ps_put_uv(p, want < PS_SAMPLE_OFF ? 1ull << want : 0);
    p = ps_put_uv(p, cap);
    ps_writer_record(PS_REC_SAMPLING, rec, (size_t)(p - rec), NULL, 0, NULL, 0);
    if (ps__opt.verbose)
        ps_say("trace reached %llu bytes: allocation events %s", (unsigned long long)written,
               want == PS_SAMPLE_OFF ? "stopped" : "sampled from now on");
}

bool ps_sampler_stats_due(void)
{
    if (ps_sample_shift() != PS_SAMPLE_OFF || atomic_load(&final_done))
        return true;
    return rounds++ % CAPPED_STATS_EVERY == 0;
}

/* ---- entry points ------------------------------------------------------------- */

static void setup_metrics(bool child)
{
    metrics_on = false;
    if (!ps__opt.metrics_file[0])
        return;
    /* A fork child has a metrics file of its own only when %p tells them apart. */
    if (child && !strstr(ps__opt.metrics_file, "%p"))
        return;
    ps_expand_template(metrics_path, sizeof metrics_path, ps__opt.metrics_file);
    ps_fmt(metrics_tmp, sizeof metrics_tmp, "%s.tmp.%d", metrics_path, (int)ps__pid);
    metrics_on = true;
}

void ps_sampler_init(void)
{
    period_ns = (uint64_t)ps__opt.sample_ms * 1000000ull;
    start_ns = next_ns = ps_clock_mono_ns();
    ps_exe_name(exe_name, sizeof exe_name);
    for (char *c = exe_name; *c; c++) /* a label value: no quotes, no backslashes */
        if (*c == '"' || *c == '\\' || *c == '\n')
            *c = '_';
    /* mallinfo2 describes glibc's heap: only worth asking when the target's
     * malloc is glibc's. */
    Dl_info info;
    if (ps_real.malloc && dladdr((void *)ps_real.malloc, &info) && info.dli_fname)
        glibc_malloc = strstr(info.dli_fname, "libc.so") != NULL;
    setup_metrics(false);
}

void ps_sampler_tick(uint64_t now)
{
    check_cap();
    if (!period_ns || now < next_ns)
        return;
    next_ns = next_ns + period_ns > now ? next_ns + period_ns : now + period_ns;
    ps_spin_lock(&lock);
    if (!atomic_load(&final_done))
        sample(now, false);
    ps_spin_unlock(&lock);
}

void ps_sampler_final(void)
{
    if (!period_ns)
        return;
    ps_spin_lock(&lock);
    if (!atomic_exchange(&final_done, true))
        sample(ps_clock_mono_ns(), true);
    ps_spin_unlock(&lock);
    if (metrics_on)
        syscall(SYS_unlink, metrics_tmp);
}

void ps_sampler_flusher(bool running)
{
    atomic_store(&flusher_running, running);
}

void ps_sampler_child_reset(void)
{
    atomic_store(&ps__sample_shift, 0);
    atomic_store(&lock, 0);
    atomic_store(&final_done, false);
    atomic_store(&flusher_running, false);
    nsamples = rounds = 0;
    flusher_cpu_ns = 0;
    start_ns = next_ns = ps_clock_mono_ns();
    last_written_ns = 0;
    setup_metrics(true);
}
