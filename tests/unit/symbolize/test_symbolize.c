/* Symbolizer tests against a real library captured at run time.
 *
 * Each case dlopen()s builds of the test library (symtest_lib.c and
 * symtest_cxx.cpp, -O2 -g, once with DWARF 5 and once with DWARF 4), calls
 * its entry points so that symtest_capture records return addresses of known
 * calls, learns the module's load bias, build-id and executable range with
 * dl_iterate_phdr (as the shim does), unloads it, and then symbolizes the
 * addresses offline.  Expected line numbers are read from "@mark:NAME"
 * comments in the sources at run time.
 *
 * Usage: test_symbolize CASE    (one ctest per case; exit status = failures)
 */
#define _GNU_SOURCE
#include "check.h"
#include "symbolize.h"
#include "symtest_lib.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PS_SYMTEST_SRC_DIR
#error "PS_SYMTEST_SRC_DIR must name the directory of the test sources"
#endif
#ifndef PS_SYMTEST_BIN_DIR
#error "PS_SYMTEST_BIN_DIR must name the directory of the built test libraries"
#endif

static const char *const variants[] = {"dw5", "dw4"};
#define NVARIANTS (sizeof variants / sizeof variants[0])

/* What the shim would have recorded for one load of the test library. */
struct capture {
    struct ps_module mod;
    char *path;
    uint8_t build_id[64];
    uint64_t addrs[SYMTEST_NSLOTS];
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Line number of the "@mark:NAME" comment in source FILE, or -1. */
static int mark_line(const char *file, const char *name)
{
    char path[4096], tag[128], buf[4096];
    snprintf(path, sizeof path, "%s/%s", PS_SYMTEST_SRC_DIR, file);
    snprintf(tag, sizeof tag, "@mark:%s", name);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open '%s'\n", path);
        check_failures++;
        return -1;
    }
    int line = 0, found = -1;
    while (fgets(buf, sizeof buf, f)) {
        line++;
        char *p = strstr(buf, tag);
        if (p) {
            char c = p[strlen(tag)];
            if (c != '_' && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9')) {
                found = line;
                break;
            }
        }
    }
    fclose(f);
    if (found < 0) {
        fprintf(stderr, "no '%s' in '%s'\n", tag, path);
        check_failures++;
    }
    return found;
}

static const char *base_name(const char *path)
{
    if (!path)
        return NULL;
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

struct phdr_search {
    uintptr_t addr;
    struct capture *cap;
    int found;
};

static int find_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct phdr_search *s = arg;
    bool contains = false;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uint64_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (s->addr >= start && s->addr < end)
            contains = true;
        if (ph->p_flags & PF_X) {
            if (start < lo)
                lo = start;
            if (end > hi)
                hi = end;
        }
    }
    if (!contains)
        return 0;

    struct capture *c = s->cap;
    c->path = strdup(info->dlpi_name);
    c->mod.path = c->path;
    c->mod.bias = info->dlpi_addr;
    c->mod.lo = lo;
    c->mod.hi = hi;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            const char *name = p + sizeof *n;
            const char *desc = name + ((n->n_namesz + 3) & ~3u);
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                n->n_descsz <= sizeof c->build_id) {
                memcpy(c->build_id, desc, n->n_descsz);
                c->mod.build_id = c->build_id;
                c->mod.build_id_len = n->n_descsz;
            }
            p = desc + ((n->n_descsz + 3) & ~3u);
        }
    }
    s->found = 1;
    return 1;
}

/* Loads variant V, captures the addresses, records the module, unloads. */
static int capture(const char *v, uint32_t id, struct capture *c)
{
    memset(c, 0, sizeof *c);
    char path[4096];
    snprintf(path, sizeof path, "%s/libps_symtest_%s.so", PS_SYMTEST_BIN_DIR, v);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        check_failures++;
        return -1;
    }
    int (*outer)(int) = (int (*)(int))dlsym(h, "symtest_outer");
    int (*plain)(int) = (int (*)(int))dlsym(h, "symtest_plain");
    int (*cxx)(int) = (int (*)(int))dlsym(h, "symtest_cxx");
    void **addrs = dlsym(h, "symtest_addrs");
    CHECK(outer && plain && cxx && addrs);
    if (!outer || !plain || !cxx || !addrs) {
        dlclose(h);
        return -1;
    }
    outer(SYMTEST_SLOT_OUTER);
    plain(SYMTEST_SLOT_PLAIN);
    cxx(SYMTEST_SLOT_CXX);
    for (int i = 0; i < SYMTEST_NSLOTS; i++)
        c->addrs[i] = (uintptr_t)addrs[i];

    struct phdr_search s = {.addr = (uintptr_t)outer, .cap = c};
    dl_iterate_phdr(find_module, &s);
    dlclose(h); /* symbolization must not need the live mapping */
    CHECK(s.found);
    CHECK(c->mod.build_id_len > 0);
    c->mod.id = id;
    return s.found ? 0 : -1;
}

static void capture_free(struct capture *c)
{
    free(c->path);
}

/* A copy of C's module at PATH (same bias, build-id and range). */
static struct ps_module module_at(const struct capture *c, uint32_t id, const char *path)
{
    struct ps_module m = c->mod;
    m.id = id;
    m.path = path;
    return m;
}

static void check_frame(const struct ps_frame *f, uint64_t addr, const char *module,
                        const char *function, const char *file, int line, bool inlined)
{
    int before = check_failures;
    CHECK_EQ_INT(f->address, addr);
    CHECK_EQ_STR(f->module, module);
    CHECK_EQ_STR(f->function, function);
    CHECK_EQ_STR(base_name(f->file), file);
    CHECK_EQ_INT(f->line, line);
    CHECK_EQ_INT(f->inlined, inlined);
    if (f->file)
        CHECK(f->file[0] == '/'); /* joined with the comp dir */
    if (check_failures != before)
        fprintf(stderr, "  ^ in the frame expected to be %s at %s:%d in '%s'\n", function,
                file ? file : "(null)", line, module);
}

static void check_unknown(struct ps_symbolizer *sym, const struct ps_module *m, uint64_t addr,
                          bool ra)
{
    const struct ps_frame *f = NULL;
    size_t n = 0;
    CHECK_EQ_INT(ps_sym_resolve(sym, m, addr, ra, &f, &n), 0);
    CHECK_EQ_INT(n, 1);
    if (n >= 1)
        check_frame(&f[0], addr, m->path, "??", NULL, 0, false);
}

static size_t count_warnings(struct ps_symbolizer *sym)
{
    size_t n = 0;
    for (const char *const *w = ps_sym_warnings(sym); *w; w++)
        n++;
    return n;
}

/* The full inline chain of the OUTER slot, and the single frames of the
 * PLAIN and CXX slots, as symbolized from module M. */
static void check_outer(struct ps_symbolizer *sym, const struct ps_module *m, uint64_t addr)
{
    const struct ps_frame *f = NULL;
    size_t n = 0;
    CHECK_EQ_INT(ps_sym_resolve(sym, m, addr, true, &f, &n), 0);
    CHECK_EQ_INT(n, 3);
    if (n != 3)
        return;
    check_frame(&f[0], addr, m->path, "leaf_inline", "symtest_lib.c",
                mark_line("symtest_lib.c", "leaf_call"), true);
    check_frame(&f[1], addr, m->path, "mid_inline", "symtest_lib.c",
                mark_line("symtest_lib.c", "mid_call"), true);
    check_frame(&f[2], addr, m->path, "symtest_outer", "symtest_lib.c",
                mark_line("symtest_lib.c", "outer_call"), false);
}

static void check_plain(struct ps_symbolizer *sym, const struct ps_module *m, uint64_t addr)
{
    const struct ps_frame *f = NULL;
    size_t n = 0;
    CHECK_EQ_INT(ps_sym_resolve(sym, m, addr, true, &f, &n), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1)
        check_frame(&f[0], addr, m->path, "symtest_plain", "symtest_lib.c",
                    mark_line("symtest_lib.c", "plain_call"), false);
}

static void check_cxx(struct ps_symbolizer *sym, const struct ps_module *m, uint64_t addr)
{
    const struct ps_frame *f = NULL;
    size_t n = 0;
    CHECK_EQ_INT(ps_sym_resolve(sym, m, addr, true, &f, &n), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1)
        check_frame(&f[0], addr, m->path, "ns::Widget::make(int)", "symtest_cxx.cpp",
                    mark_line("symtest_cxx.cpp", "widget_call"), false);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */
/* ------------------------------------------------------------------------ */

typedef void case_fn(struct ps_symbolizer *sym, struct capture *c, const char *v);

/* Inline chain: innermost first, inlined flags, call-site lines. */
static void case_inline(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    (void)v;
    check_outer(sym, &c->mod, c->addrs[SYMTEST_SLOT_OUTER]);
    CHECK_EQ_INT(count_warnings(sym), 0);
}

static void case_plain(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    (void)v;
    check_plain(sym, &c->mod, c->addrs[SYMTEST_SLOT_PLAIN]);
}

static void case_cxx(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    (void)v;
    check_cxx(sym, &c->mod, c->addrs[SYMTEST_SLOT_CXX]);
}

/* The same question twice gets the very same frames; a return address and
 * the same value as a plain address are different questions. */
static void case_cache(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    (void)v;
    uint64_t a = c->addrs[SYMTEST_SLOT_PLAIN];
    const struct ps_frame *f1, *f2, *f3;
    size_t n1, n2, n3;
    CHECK_EQ_INT(ps_sym_resolve(sym, &c->mod, a, true, &f1, &n1), 0);
    CHECK_EQ_INT(ps_sym_resolve(sym, &c->mod, a, false, &f3, &n3), 0);
    CHECK_EQ_INT(ps_sym_resolve(sym, &c->mod, a, true, &f2, &n2), 0);
    CHECK(f1 == f2);
    CHECK_EQ_INT(n1, n2);
    CHECK(f1 != f3);
    CHECK(n3 >= 1);
    /* Many distinct addresses (grows the cache) and the originals survive. */
    for (uint64_t x = c->mod.lo; x < c->mod.hi && x < c->mod.lo + 4096; x++) {
        const struct ps_frame *f;
        size_t n;
        CHECK_EQ_INT(ps_sym_resolve(sym, &c->mod, x, false, &f, &n), 0);
        CHECK(n >= 1 && f[n - 1].inlined == false);
    }
    check_plain(sym, &c->mod, a);
    CHECK_EQ_STR(f1[0].function, "symtest_plain");
}

/* Stripped copy + .debug file next to it, found by .gnu_debuglink. */
static void case_debuglink(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/debuglink/libps_symtest_%s.so", PS_SYMTEST_BIN_DIR, v);
    struct ps_module m = module_at(c, c->mod.id + 100, path);
    check_outer(sym, &m, c->addrs[SYMTEST_SLOT_OUTER]);
    check_plain(sym, &m, c->addrs[SYMTEST_SLOT_PLAIN]);
    check_cxx(sym, &m, c->addrs[SYMTEST_SLOT_CXX]);
    CHECK_EQ_INT(count_warnings(sym), 0);
}

/* Stripped copy without debug info: ELF symbol table names only. */
static void case_symtab(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/nodebug/libps_symtest_%s.so", PS_SYMTEST_BIN_DIR, v);
    struct ps_module m = module_at(c, c->mod.id + 200, path);
    static const struct {
        int slot;
        const char *function;
    } want[] = {
        {SYMTEST_SLOT_OUTER, "symtest_outer"},
        {SYMTEST_SLOT_PLAIN, "symtest_plain"},
        {SYMTEST_SLOT_CXX, "ns::Widget::make(int)"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct ps_frame *f = NULL;
        size_t n = 0;
        uint64_t a = c->addrs[want[i].slot];
        CHECK_EQ_INT(ps_sym_resolve(sym, &m, a, true, &f, &n), 0);
        CHECK_EQ_INT(n, 1);
        if (n == 1)
            check_frame(&f[0], a, path, want[i].function, NULL, 0, false);
    }
    CHECK_EQ_INT(count_warnings(sym), 0);
}

/* The file on disk has another build-id: one warning, "??" frames.  A
 * module recorded without a build-id is not checked. */
static void case_mismatch(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    (void)v;
    uint8_t other[64];
    memcpy(other, c->build_id, c->mod.build_id_len);
    other[0] ^= 0xff;
    struct ps_module m = module_at(c, c->mod.id + 300, c->mod.path);
    m.build_id = other;
    size_t before = count_warnings(sym);
    for (int i = 0; i < SYMTEST_NSLOTS; i++)
        check_unknown(sym, &m, c->addrs[i], true);
    check_unknown(sym, &m, c->addrs[0], false);
    CHECK_EQ_INT(count_warnings(sym), before + 1);
    const char *w = ps_sym_warnings(sym)[before];
    CHECK(w && strstr(w, c->mod.path) && strstr(w, "build-id differs"));
    if (w)
        printf("warning: %s\n", w);

    /* Shorter recorded id: also a mismatch. */
    struct ps_module s = module_at(c, c->mod.id + 400, c->mod.path);
    s.build_id_len = c->mod.build_id_len - 1;
    check_unknown(sym, &s, c->addrs[0], true);
    CHECK_EQ_INT(count_warnings(sym), before + 2);

    struct ps_module none = module_at(c, c->mod.id + 500, c->mod.path);
    none.build_id = NULL;
    none.build_id_len = 0;
    check_plain(sym, &none, c->addrs[SYMTEST_SLOT_PLAIN]);
    CHECK_EQ_INT(count_warnings(sym), before + 2);
}

/* The file is gone: one warning, "??" frames. */
static void case_missing(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/no-such-dir/libgone_%s.so", PS_SYMTEST_BIN_DIR, v);
    struct ps_module m = module_at(c, c->mod.id + 600, path);
    size_t before = count_warnings(sym);
    for (int i = 0; i < SYMTEST_NSLOTS; i++)
        check_unknown(sym, &m, c->addrs[i], true);
    CHECK_EQ_INT(count_warnings(sym), before + 1);
    const char *w = ps_sym_warnings(sym)[before];
    CHECK(w && strstr(w, path) && strstr(w, "not found"));
    if (w)
        printf("warning: %s\n", w);

    /* Not an ELF file at all (this source file): one warning too. */
    char src[4096];
    snprintf(src, sizeof src, "%s/check.h", PS_SYMTEST_SRC_DIR);
    struct ps_module t = module_at(c, c->mod.id + 700, src);
    check_unknown(sym, &t, c->addrs[0], true);
    CHECK_EQ_INT(count_warnings(sym), before + 2);
}

/* Addresses outside the module or outside any CU never crash. */
static void case_garbage(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    (void)v;
    const uint64_t outside[] = {0, 1, 0x10, c->mod.lo - 1, c->mod.hi + 1, c->mod.hi + 0x100000,
                                UINT64_MAX};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        check_unknown(sym, &c->mod, outside[i], true);
        check_unknown(sym, &c->mod, outside[i], false);
    }
    /* Without a recorded range, the ELF file's own extent still applies. */
    struct ps_module norange = module_at(c, c->mod.id + 800, c->mod.path);
    norange.lo = norange.hi = 0;
    check_unknown(sym, &norange, 0x10, true);
    check_unknown(sym, &norange, UINT64_MAX, false);
    check_unknown(sym, &norange, c->mod.bias + (1ull << 40), false);
    /* Inside the range, everything resolves to something. */
    for (uint64_t x = c->mod.lo; x < c->mod.hi; x += 7) {
        const struct ps_frame *f;
        size_t n = 0;
        CHECK_EQ_INT(ps_sym_resolve(sym, &norange, x, (x & 1) != 0, &f, &n), 0);
        CHECK(n >= 1);
        for (size_t k = 0; k < n; k++) {
            CHECK(f[k].function != NULL);
            CHECK_EQ_STR(f[k].module, c->mod.path);
            CHECK_EQ_INT(f[k].inlined, k + 1 < n);
        }
    }
    CHECK_EQ_INT(count_warnings(sym), 0);
    CHECK_EQ_INT(ps_sym_resolve(NULL, &c->mod, 0, false, NULL, NULL) < 0, 1);
}

static uint64_t qsort_ra;
static bool skipped;

SYMTEST_NOIPA static int cmp_int(const void *a, const void *b)
{
    qsort_ra = (uintptr_t)__builtin_extract_return_addr(__builtin_return_address(0));
    return *(const int *)a - *(const int *)b;
}

/* A system library whose debug info lives in a separate file under
 * /usr/lib/debug/.build-id (Debian's libc6-dbg or libc6-dbgsym): the
 * comparator's return address lies in libc's qsort code.  Skipped when that
 * debug file is not installed. */
static void case_system(struct ps_symbolizer *sym, struct capture *c, const char *v)
{
    (void)c;
    if (strcmp(v, variants[0]) != 0)
        return;
    int a[] = {3, 1, 2};
    qsort(a, 3, sizeof a[0], cmp_int);
    struct capture libc;
    memset(&libc, 0, sizeof libc);
    struct phdr_search s = {.addr = (uintptr_t)qsort_ra, .cap = &libc};
    dl_iterate_phdr(find_module, &s);
    CHECK(s.found && libc.mod.build_id_len > 1);
    if (!s.found || libc.mod.build_id_len < 2) {
        capture_free(&libc);
        return;
    }
    char dbg[4096];
    int k = snprintf(dbg, sizeof dbg, "/usr/lib/debug/.build-id/%02x/", libc.build_id[0]);
    for (size_t i = 1; i < libc.mod.build_id_len && k < 4000; i++)
        k += snprintf(dbg + k, sizeof dbg - (size_t)k, "%02x", libc.build_id[i]);
    snprintf(dbg + k, sizeof dbg - (size_t)k, ".debug");
    if (access(dbg, R_OK) != 0) {
        printf("skip: no separate debug info for '%s' (%s)\n", libc.path, dbg);
        skipped = true;
        capture_free(&libc);
        return;
    }
    libc.mod.id = 900;
    const struct ps_frame *f = NULL;
    size_t n = 0;
    CHECK_EQ_INT(ps_sym_resolve(sym, &libc.mod, qsort_ra, true, &f, &n), 0);
    CHECK(n >= 1);
    for (size_t i = 0; i < n; i++) {
        printf("%s %s:%d%s\n", f[i].function, f[i].file ? f[i].file : "?", f[i].line,
               f[i].inlined ? " (inlined)" : "");
        CHECK(strcmp(f[i].function, "??") != 0);
        CHECK(f[i].file != NULL && f[i].line > 0);
        CHECK_EQ_INT(f[i].inlined, i + 1 < n);
    }
    CHECK_EQ_INT(count_warnings(sym), 0);
    capture_free(&libc);
}

static const struct {
    const char *name;
    case_fn *fn;
} cases[] = {
    {"system", case_system},
    {"inline", case_inline},     {"plain", case_plain},       {"cxx", case_cxx},
    {"cache", case_cache},       {"debuglink", case_debuglink}, {"symtab", case_symtab},
    {"mismatch", case_mismatch}, {"missing", case_missing},   {"garbage", case_garbage},
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASE\n", argv[0]);
        return 2;
    }
    case_fn *fn = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(argv[1], cases[i].name) == 0)
            fn = cases[i].fn;
    if (!fn) {
        fprintf(stderr, "unknown case '%s'\n", argv[1]);
        return 2;
    }
    for (size_t i = 0; i < NVARIANTS; i++) {
        struct capture c;
        if (capture(variants[i], (uint32_t)i + 1, &c) < 0) {
            capture_free(&c);
            continue;
        }
        struct ps_symbolizer *sym = NULL;
        CHECK_EQ_INT(ps_sym_new(&sym), 0);
        if (sym)
            fn(sym, &c, variants[i]);
        ps_sym_free(sym);
        capture_free(&c);
    }
    printf("%s: %d failure(s)\n", argv[1], check_failures);
    if (skipped && check_failures == 0)
        return CHECK_SKIP;
    return CHECK_EXIT_STATUS();
}
