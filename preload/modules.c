/* The module map: which ELF objects are mapped where.
 *
 * Every module is recorded (path, load bias, GNU build-id, PT_LOAD segments)
 * so that an address symbolizes offline even after its library was
 * dlclose'd.  The shim does not wrap dlopen: glibc decides where to search
 * ($ORIGIN, RUNPATH, namespaces) from dlopen's caller, and a wrapper would
 * make that caller libperfshim.so.  Instead the loader's own counters
 * (dlpi_adds/dlpi_subs) are checked whenever a new stack is seen, which is
 * the only time a new module matters: code in a module can only reach an
 * allocation stack while the module is loaded.
 */
#include "shim.h"

#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_KNOWN 4096

struct known {
    uint64_t bias;
    uint64_t name_hash;
    uint32_t id;
    bool seen;
};

static struct known *known; /* mmap'd: MAX_KNOWN entries */
static unsigned nknown;
static uint32_t next_module_id;
static unsigned long long last_adds, last_subs;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t evbuf[PS_MODULE_EV_MAX];
static char exe_path[4096];

static uint64_t fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

void ps_modules_init(void)
{
    if (!known)
        known = ps_mmap(MAX_KNOWN * sizeof *known);
    ssize_t n = syscall(SYS_readlink, "/proc/self/exe", exe_path, sizeof exe_path - 1);
    exe_path[n > 0 ? n : 0] = 0;
}

void ps_modules_reset(void)
{
    pthread_mutex_init(&lock, NULL);
    nknown = 0;
    next_module_id = 0;
    last_adds = last_subs = 0;
}

static int counters_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    unsigned long long *c = data;
    c[0] = info->dlpi_adds;
    c[1] = info->dlpi_subs;
    return 1; /* the counters are global: the first object is enough */
}

bool ps_modules_changed(void)
{
    unsigned long long c[2] = {0, 0};
    /* A CPU sample must not unwind while this thread may be inside the
     * loader's lock (libunwind takes it too): it is put off (cpu.c). */
    ps__unwinding++;
    dl_iterate_phdr(counters_cb, c);
    ps__unwinding--;
    return c[0] != __atomic_load_n(&last_adds, __ATOMIC_RELAXED) ||
           c[1] != __atomic_load_n(&last_subs, __ATOMIC_RELAXED);
}

static size_t build_id_of(struct dl_phdr_info *info, const uint8_t **out)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *nh;
            const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (desc + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                *out = desc;
                return nh->n_descsz;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 0;
}

struct sync_ctx {
    struct ps_thread *t;
};

static int sync_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct sync_ctx *ctx = data;
    const char *path = info->dlpi_name;
    if (!path || !path[0])
        path = exe_path; /* the main program */
    uint64_t h = fnv(path);
    for (unsigned i = 0; i < nknown; i++) {
        if (known[i].bias == info->dlpi_addr && known[i].name_hash == h) {
            known[i].seen = true;
            return 0;
        }
    }
    if (nknown == MAX_KNOWN)
        return 0;
    uint64_t segs[PS_MODULE_MAX_SEGS][3];
    unsigned nsegs = 0;
    for (int i = 0; i < info->dlpi_phnum && nsegs < PS_MODULE_MAX_SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        segs[nsegs][0] = ph->p_vaddr;
        segs[nsegs][1] = ph->p_memsz;
        segs[nsegs][2] = ph->p_flags;
        nsegs++;
    }
    const uint8_t *bid = NULL;
    size_t bid_len = build_id_of(info, &bid);
    struct known *k = &known[nknown++];
    k->bias = info->dlpi_addr;
    k->name_hash = h;
    k->id = next_module_id++;
    k->seen = true;
    ps_ev_module_load(ctx->t, evbuf, k->id, path, k->bias, bid, bid_len,
                      (const uint64_t(*)[3])segs, nsegs);
    return 0;
}

void ps_modules_sync(struct ps_thread *t, bool force)
{
    if (!t || !known)
        return;
    pthread_mutex_lock(&lock);
    ps__unwinding++; /* as in ps_modules_changed */
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(counters_cb, c);
    if (force || c[0] != last_adds || c[1] != last_subs) {
        for (unsigned i = 0; i < nknown; i++)
            known[i].seen = false;
        struct sync_ctx ctx = {t};
        dl_iterate_phdr(sync_cb, &ctx);
        for (unsigned i = 0; i < nknown;) {
            if (!known[i].seen) {
                ps_ev_module_unload(t, known[i].id);
                known[i] = known[--nknown];
            } else {
                i++;
            }
        }
        __atomic_store_n(&last_adds, c[0], __ATOMIC_RELAXED);
        __atomic_store_n(&last_subs, c[1], __ATOMIC_RELAXED);
    }
    ps__unwinding--;
    pthread_mutex_unlock(&lock);
}

struct range_ctx {
    uintptr_t addr, lo, hi;
};

static int range_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct range_ctx *r = data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (r->addr >= lo && r->addr < hi) {
        r->lo = lo;
        r->hi = hi;
        return 1;
    }
    return 0;
}

void ps_modules_range_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
    struct range_ctx r = {addr, 0, 0};
    dl_iterate_phdr(range_cb, &r);
    *lo = r.lo;
    *hi = r.hi;
}
