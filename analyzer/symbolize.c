/* Symbolizer: recorded addresses -> source frames, with elfutils libdw.
 *
 * Data model.  A struct ps_symbolizer owns three tables and every string it
 * hands out:
 *
 *   - modules: one entry per recorded module id.  The entry is created on
 *     first use and holds its own Dwfl, into which exactly that one file is
 *     reported (dwfl_report_elf at the recorded load bias).  Keeping one Dwfl
 *     per module, rather than one for the whole process, lets two modules
 *     that occupied the same addresses at different times (dlclose, then
 *     dlopen of something else) coexist.  A module whose file is missing or
 *     whose GNU build-id differs from the recorded one is marked bad: its
 *     Dwfl is released, one warning line is stored, and every address in it
 *     resolves to a single "??" frame.
 *   - cache: (module id, address, return-address flag) -> frame array.  A
 *     report asks for the same few thousand addresses millions of times;
 *     each is symbolized once.  Frame arrays are allocated once and never
 *     move, so callers may keep the pointers until ps_sym_free.
 *   - strings: an intern table.  Function names, file names and module paths
 *     are stored once; frames point into it.
 *
 * Inline frames.  For an address we find the innermost DWARF scope
 * (dwarf_getscopes), then walk the chain of DIEs physically containing it
 * (dwarf_getscopes_die).  Every DW_TAG_inlined_subroutine on the way is one
 * frame; the first DW_TAG_subprogram ends the chain.  The innermost frame's
 * file:line comes from the line table; each outer frame's file:line is the
 * DW_AT_call_file/DW_AT_call_line of the inlined scope just inside it.  This
 * is what eu-addr2line -i and heaptrack do.
 *
 * Not thread-safe: one symbolizer belongs to one thread.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "symbolize.h"

#include "errors.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* From libstdc++ (the analyzer links -lstdc++); declared here so that this
 * file stays C. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define UNKNOWN_FUNCTION "??"

/* ------------------------------------------------------------------------ */
/* Hashing                                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t hash_bytes(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t hash_u64(uint64_t x)
{
    /* splitmix64 finalizer: cheap and mixes the low bits of addresses,
     * which are often aligned. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

struct sym_module {
    bool used;          /* slot occupied */
    bool bad;           /* missing or changed on disk: never symbolized */
    uint32_t id;
    const char *path;   /* interned */
    Dwfl *dwfl;         /* NULL when bad */
    Dwfl_Module *mod;
    /* CU address ranges, built on first need (see cu_of) */
    struct cu_range *cus;
    size_t ncus;
    bool cus_built;
};

struct cu_range {
    Dwarf_Addr lo, hi;  /* module-relative [lo, hi) */
    Dwarf_Off die_off;  /* the CU DIE */
};

struct cache_entry {
    struct ps_frame *frames; /* NULL: empty slot */
    size_t nframes;
    uint64_t address;
    uint32_t module_id;
    bool return_address;
};

struct frame_vec {
    struct ps_frame *v;
    size_t len, cap;
};

struct ps_symbolizer {
    char **strs;          /* intern table, open addressing */
    size_t strs_cap, strs_len;

    struct sym_module *mods;
    size_t mods_cap, mods_len;

    struct cache_entry *cache;
    size_t cache_cap, cache_len;

    char **warnings;      /* NULL-terminated when nwarnings > 0 */
    size_t nwarnings, warnings_cap;

    const char *unknown;  /* interned "??" */
    struct frame_vec scratch;
};

/* ------------------------------------------------------------------------ */
/* String interning                                                          */
/* ------------------------------------------------------------------------ */

static int strs_grow(struct ps_symbolizer *sym)
{
    size_t ncap = sym->strs_cap ? sym->strs_cap * 2 : 256;
    char **n = calloc(ncap, sizeof *n);
    if (!n)
        return PS_ENOMEM;
    for (size_t i = 0; i < sym->strs_cap; i++) {
        char *s = sym->strs[i];
        if (!s)
            continue;
        size_t j = hash_bytes(s) & (ncap - 1);
        while (n[j])
            j = (j + 1) & (ncap - 1);
        n[j] = s;
    }
    free(sym->strs);
    sym->strs = n;
    sym->strs_cap = ncap;
    return 0;
}

/* Returns the interned copy of S, or NULL when out of memory. */
static const char *intern(struct ps_symbolizer *sym, const char *s)
{
    if ((sym->strs_len + 1) * 2 > sym->strs_cap && strs_grow(sym) < 0)
        return NULL;
    size_t mask = sym->strs_cap - 1;
    size_t i = hash_bytes(s) & mask;
    for (; sym->strs[i]; i = (i + 1) & mask)
        if (strcmp(sym->strs[i], s) == 0)
            return sym->strs[i];
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    sym->strs[i] = copy;
    sym->strs_len++;
    return copy;
}

/* ------------------------------------------------------------------------ */
/* Warnings                                                                  */
/* ------------------------------------------------------------------------ */

static int add_warning(struct ps_symbolizer *sym, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_warning(struct ps_symbolizer *sym, const char *fmt, ...)
{
    if (sym->nwarnings + 2 > sym->warnings_cap) {
        size_t ncap = sym->warnings_cap ? sym->warnings_cap * 2 : 8;
        char **n = realloc(sym->warnings, ncap * sizeof *n);
        if (!n)
            return PS_ENOMEM;
        sym->warnings = n;
        sym->warnings_cap = ncap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *line = NULL;
    int r = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (r < 0)
        return PS_ENOMEM;
    sym->warnings[sym->nwarnings++] = line;
    sym->warnings[sym->nwarnings] = NULL;
    return 0;
}

const char *const *ps_sym_warnings(struct ps_symbolizer *sym)
{
    static const char *const none[] = {NULL};
    if (!sym || sym->nwarnings == 0)
        return none;
    return (const char *const *)sym->warnings;
}

/* ------------------------------------------------------------------------ */
/* Modules                                                                   */
/* ------------------------------------------------------------------------ */

/* Static: a Dwfl keeps a pointer to its callbacks for its whole life.
 * debuginfo_path NULL means elfutils' default ":.debug:/usr/lib/debug":
 * beside the file, in its .debug/ directory, and under /usr/lib/debug, by
 * .gnu_debuglink name and by build-id (/usr/lib/debug/.build-id/xx/yyy.debug). */
static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = NULL,
};

/* The vDSO has no file; the shim may still record it. */
static bool is_pseudo_module(const char *path)
{
    return strncmp(path, "linux-vdso", 10) == 0 || strncmp(path, "linux-gate", 10) == 0 ||
           strcmp(path, "[vdso]") == 0;
}

static int mods_grow(struct ps_symbolizer *sym)
{
    size_t ncap = sym->mods_cap ? sym->mods_cap * 2 : 32;
    struct sym_module *n = calloc(ncap, sizeof *n);
    if (!n)
        return PS_ENOMEM;
    for (size_t i = 0; i < sym->mods_cap; i++) {
        if (!sym->mods[i].used)
            continue;
        size_t j = hash_u64(sym->mods[i].id) & (ncap - 1);
        while (n[j].used)
            j = (j + 1) & (ncap - 1);
        n[j] = sym->mods[i];
    }
    free(sym->mods);
    sym->mods = n;
    sym->mods_cap = ncap;
    return 0;
}

/* Opens M's file in a fresh Dwfl and checks its build-id.  On any problem
 * the module is marked bad with one warning; only out-of-memory is an error. */
static int module_open(struct ps_symbolizer *sym, struct sym_module *sm, const struct ps_module *m)
{
    if (is_pseudo_module(sm->path)) {
        sm->bad = true;
        return 0;
    }

    /* Distinguish "gone" from "unreadable" up front: dwfl's own message for
     * a missing file is less direct. */
    if (access(sm->path, R_OK) != 0) {
        int e = errno;
        sm->bad = true;
        if (e == ENOENT || e == ENOTDIR)
            return add_warning(sym, "module '%s' not found on disk; its frames are not symbolized",
                               sm->path);
        return add_warning(sym, "cannot read module '%s': %s; its frames are not symbolized",
                           sm->path, strerror(e));
    }

    Dwfl *dwfl = dwfl_begin(&dwfl_callbacks);
    if (!dwfl)
        return PS_ENOMEM;
    dwfl_report_begin(dwfl);
    Dwfl_Module *mod = dwfl_report_elf(dwfl, sm->path, sm->path, -1, m->bias, false);
    const char *why = mod ? NULL : dwfl_errmsg(-1);
    dwfl_report_end(dwfl, NULL, NULL);
    if (!mod) {
        dwfl_end(dwfl);
        sm->bad = true;
        return add_warning(sym, "cannot read module '%s': %s; its frames are not symbolized",
                           sm->path, why ? why : "unknown error");
    }

    if (m->build_id && m->build_id_len > 0) {
        const unsigned char *bits = NULL;
        GElf_Addr vaddr;
        int len = dwfl_module_build_id(mod, &bits, &vaddr);
        if (len <= 0 || (size_t)len != m->build_id_len || memcmp(bits, m->build_id, (size_t)len) != 0) {
            dwfl_end(dwfl);
            sm->bad = true;
            return add_warning(sym,
                               "module '%s' changed on disk since the trace was recorded "
                               "(build-id differs); its frames are not symbolized",
                               sm->path);
        }
    }

    sm->dwfl = dwfl;
    sm->mod = mod;
    return 0;
}

/* Finds or creates the entry for M.  The pointer is valid until the next
 * call (the table may move). */
static int module_get(struct ps_symbolizer *sym, const struct ps_module *m, struct sym_module **out)
{
    if (sym->mods_cap) {
        size_t mask = sym->mods_cap - 1;
        for (size_t i = hash_u64(m->id) & mask; sym->mods[i].used; i = (i + 1) & mask) {
            if (sym->mods[i].id == m->id) {
                *out = &sym->mods[i];
                return 0;
            }
        }
    }
    if ((sym->mods_len + 1) * 2 > sym->mods_cap) {
        int r = mods_grow(sym);
        if (r < 0)
            return r;
    }
    const char *path = intern(sym, m->path ? m->path : "");
    if (!path)
        return PS_ENOMEM;
    size_t mask = sym->mods_cap - 1;
    size_t i = hash_u64(m->id) & mask;
    while (sym->mods[i].used)
        i = (i + 1) & mask;
    struct sym_module *sm = &sym->mods[i];
    *sm = (struct sym_module){.used = true, .id = m->id, .path = path};
    sym->mods_len++;
    *out = sm;
    return module_open(sym, sm, m);
}

/* ------------------------------------------------------------------------ */
/* Frame construction                                                        */
/* ------------------------------------------------------------------------ */

static int push_frame(struct frame_vec *fv, struct ps_frame f)
{
    if (fv->len == fv->cap) {
        size_t ncap = fv->cap ? fv->cap * 2 : 8;
        struct ps_frame *n = realloc(fv->v, ncap * sizeof *n);
        if (!n)
            return PS_ENOMEM;
        fv->v = n;
        fv->cap = ncap;
    }
    fv->v[fv->len++] = f;
    return 0;
}

/* Interns NAME, demangled when it is an Itanium C++ mangled name.  NULL
 * NAME gives "??".  Returns NULL only when out of memory. */
static const char *intern_function(struct ps_symbolizer *sym, const char *name)
{
    if (!name || !*name)
        return sym->unknown;
    if (name[0] == '_' && name[1] == 'Z') {
        int status = 0;
        char *d = __cxa_demangle(name, NULL, NULL, &status);
        if (d && status == 0) {
            const char *r = intern(sym, d);
            free(d);
            return r;
        }
        free(d);
    }
    return intern(sym, name);
}

/* Interns FILE, joined to COMP_DIR when FILE is relative.  NULL FILE gives
 * NULL with *OOM false.
 *
 * libdw already prefixes line-table names with their directory entry, and
 * directory 0 is the comp dir; a relative result then means the comp dir
 * itself is relative (Debian builds with -ffile-prefix-map=/build/...=.,
 * so glibc's comp dir is "./stdlib" and the name "./stdlib/msort.c").
 * Joining again would double it, hence the prefix test. */
static const char *intern_file(struct ps_symbolizer *sym, const char *file, const char *comp_dir,
                               bool *oom)
{
    *oom = false;
    if (!file || !*file)
        return NULL;
    const char *r;
    size_t dl = comp_dir ? strlen(comp_dir) : 0;
    if (file[0] != '/' && dl > 0 && !(strncmp(file, comp_dir, dl) == 0 && file[dl] == '/')) {
        char *joined = NULL;
        if (asprintf(&joined, "%s%s%s", comp_dir, comp_dir[dl - 1] == '/' ? "" : "/", file) < 0) {
            *oom = true;
            return NULL;
        }
        r = intern(sym, joined);
        free(joined);
    } else {
        r = intern(sym, file);
    }
    if (!r)
        *oom = true;
    return r;
}

/* The linkage name (demangled) when there is one, else DW_AT_name.  Both
 * are looked up through DW_AT_abstract_origin and DW_AT_specification, so an
 * inlined instance or an out-of-class C++ definition finds them. */
static const char *die_function_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
    if (!n)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
    if (!n)
        n = dwarf_diename(die);
    return n;
}

static const char *cu_comp_dir(Dwarf_Die *die)
{
    Dwarf_Die cu;
    Dwarf_Attribute a;
    if (!dwarf_diecu(die, &cu, NULL, NULL))
        return NULL;
    return dwarf_formstring(dwarf_attr(&cu, DW_AT_comp_dir, &a));
}

static bool is_function_tag(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* ELF symbol table name for PC, or NULL. */
static const char *symtab_name(Dwfl_Module *mod, Dwarf_Addr pc)
{
    GElf_Off off;
    GElf_Sym s;
    return dwfl_module_addrinfo(mod, pc, &off, &s, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* Finding the CU of an address                                             */
/* ------------------------------------------------------------------------ */

/* libdw (0.188) finds a CU by address through .debug_aranges, which clang
 * does not emit: for clang-built code dwfl_module_addrdie finds nothing.
 * Then we index the CUs' own address ranges once per module and search
 * them. */
static int range_cmp(const void *a, const void *b)
{
    const struct cu_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void cus_build(struct sym_module *sm)
{
    sm->cus_built = true;
    Dwarf_Addr bias;
    Dwarf *dw = dwfl_module_getdwarf(sm->mod, &bias);
    if (!dw)
        return;
    size_t cap = 0;
    Dwarf_CU *cu = NULL;
    Dwarf_Die cudie;
    uint8_t unit_type;
    while (dwarf_get_units(dw, cu, &cu, NULL, &unit_type, &cudie, NULL) == 0) {
        Dwarf_Addr base, lo, hi;
        ptrdiff_t off = 0;
        while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
            if (hi <= lo)
                continue;
            if (sm->ncus == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct cu_range *r = realloc(sm->cus, ncap * sizeof *r);
                if (!r)
                    return;
                sm->cus = r;
                cap = ncap;
            }
            sm->cus[sm->ncus++] = (struct cu_range){lo, hi, dwarf_dieoffset(&cudie)};
        }
    }
    qsort(sm->cus, sm->ncus, sizeof *sm->cus, range_cmp);
}

/* The CU DIE holding PC (module-absolute), into *OUT; NULL when none. */
static Dwarf_Die *cu_of(struct sym_module *sm, Dwarf_Addr pc, Dwarf_Addr *bias, Dwarf_Die *out)
{
    Dwarf_Die *d = dwfl_module_addrdie(sm->mod, pc, bias);
    if (d)
        return d;
    if (!sm->cus_built)
        cus_build(sm);
    Dwarf *dw = dwfl_module_getdwarf(sm->mod, bias);
    if (!dw || !sm->ncus)
        return NULL;
    Dwarf_Addr rel = pc - *bias;
    size_t lo = 0, hi = sm->ncus;
    while (lo < hi) { /* the last range starting at or below rel */
        size_t mid = (lo + hi) / 2;
        if (sm->cus[mid].lo <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i-- > 0 && i + 8 >= lo;) { /* ranges of nested CUs may overlap */
        if (rel >= sm->cus[i].lo && rel < sm->cus[i].hi)
            return dwarf_offdie(dw, sm->cus[i].die_off, out);
    }
    return NULL;
}

/* The line-table location of PC: innermost frame's file:line. */
static int line_of(struct ps_symbolizer *sym, Dwfl_Module *mod, Dwarf_Addr pc, Dwarf_Die *cudie,
                   const char **file, int *line)
{
    *file = NULL;
    *line = 0;
    int lineno = 0;
    const char *src = NULL;
    Dwfl_Line *l = dwfl_module_getsrc(mod, pc);
    if (l) {
        src = dwfl_lineinfo(l, NULL, &lineno, NULL, NULL, NULL);
    } else if (cudie) {
        /* no aranges (clang): the CU's own line table */
        Dwarf_Addr bias = 0;
        dwfl_module_getdwarf(mod, &bias);
        Dwarf_Line *dl = dwarf_getsrc_die(cudie, pc - bias);
        if (!dl)
            return 0;
        src = dwarf_linesrc(dl, NULL, NULL);
        dwarf_lineno(dl, &lineno);
    } else {
        return 0;
    }
    bool oom;
    *file = intern_file(sym, src, cudie ? cu_comp_dir(cudie) : NULL, &oom);
    if (oom)
        return PS_ENOMEM;
    *line = lineno > 0 ? lineno : 0;
    return 0;
}

/* DW_AT_call_file / DW_AT_call_line of the inlined scope INL: where the
 * function containing INL called it. */
static int call_site_of(struct ps_symbolizer *sym, Dwarf_Die *inl, const char **file, int *line)
{
    *file = NULL;
    *line = 0;
    Dwarf_Attribute a;
    Dwarf_Word v;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &a), &v) == 0 && v <= INT32_MAX)
        *line = (int)v;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &a), &v) != 0)
        return 0;
    Dwarf_Die cu;
    Dwarf_Files *files;
    size_t nfiles;
    if (!dwarf_diecu(inl, &cu, NULL, NULL) || dwarf_getsrcfiles(&cu, &files, &nfiles) != 0 ||
        v >= nfiles)
        return 0;
    const char *src = dwarf_filesrc(files, (size_t)v, NULL, NULL);
    bool oom;
    *file = intern_file(sym, src, cu_comp_dir(&cu), &oom);
    return oom ? PS_ENOMEM : 0;
}

/* Fills sym->scratch with the frames of PC in a good module. */
static int symbolize_pc(struct ps_symbolizer *sym, struct sym_module *sm, uint64_t address,
                        Dwarf_Addr pc)
{
    struct frame_vec *fv = &sym->scratch;
    struct ps_frame base = {.address = address, .module = sm->path, .function = sym->unknown};
    Dwfl_Module *mod = sm->mod;
    int r = 0;

    Dwarf_Addr bias = 0;
    Dwarf_Die cu_buf;
    Dwarf_Die *cudie = cu_of(sm, pc, &bias, &cu_buf);
    Dwarf_Die *scopes = NULL;
    int nscopes = cudie ? dwarf_getscopes(cudie, pc - bias, &scopes) : 0;
    if (nscopes <= 0) {
        /* No DWARF for PC: the symbol table is all we have. */
        free(scopes);
        base.function = intern_function(sym, symtab_name(mod, pc));
        if (!base.function)
            return PS_ENOMEM;
        if (cudie && (r = line_of(sym, mod, pc, cudie, &base.file, &base.line)) < 0)
            return r;
        return push_frame(fv, base);
    }

    /* scopes[0] is the innermost scope in the concrete tree; the scopes
     * that physically contain it (inline instances, lexical blocks, the
     * out-of-line function, the CU) come from dwarf_getscopes_die.  The
     * chain from dwarf_getscopes itself switches to the abstract origin's
     * scopes after an inlined instance, which loses the outer frames. */
    Dwarf_Die innermost = scopes[0];
    free(scopes);
    Dwarf_Die *chain = NULL;
    int nchain = dwarf_getscopes_die(&innermost, &chain);

    const char *file;
    int line;
    if ((r = line_of(sym, mod, pc, cudie, &file, &line)) < 0)
        goto out;
    Dwarf_Die *inner_inline = NULL; /* the inlined scope just inside the next function */
    size_t start = fv->len;
    for (int i = 0; i < nchain; i++) {
        Dwarf_Die *d = &chain[i];
        int tag = dwarf_tag(d);
        if (!is_function_tag(tag))
            continue;
        if (inner_inline && (r = call_site_of(sym, inner_inline, &file, &line)) < 0)
            goto out;
        struct ps_frame f = base;
        f.function = intern_function(sym, die_function_name(d));
        if (!f.function) {
            r = PS_ENOMEM;
            goto out;
        }
        f.file = file;
        f.line = line;
        f.inlined = tag == DW_TAG_inlined_subroutine;
        if ((r = push_frame(fv, f)) < 0)
            goto out;
        if (!f.inlined)
            break;
        inner_inline = d;
    }
    if (fv->len == start) {
        /* Code in a CU but outside any function DIE (compiler-generated
         * stubs): name from the symbol table, place from the line table. */
        base.function = intern_function(sym, symtab_name(mod, pc));
        if (!base.function) {
            r = PS_ENOMEM;
            goto out;
        }
        base.file = file;
        base.line = line;
        r = push_frame(fv, base);
    } else if (fv->v[fv->len - 1].inlined) {
        /* The chain ended in an inlined scope (broken DWARF): add the
         * symbol-table function as the container so that the last frame is
         * always a real one. */
        struct ps_frame f = base;
        f.function = intern_function(sym, symtab_name(mod, pc));
        if (!f.function) {
            r = PS_ENOMEM;
            goto out;
        }
        if (inner_inline && (r = call_site_of(sym, inner_inline, &f.file, &f.line)) < 0)
            goto out;
        r = push_frame(fv, f);
    }
out:
    free(chain);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Cache                                                                     */
/* ------------------------------------------------------------------------ */

static size_t cache_hash(uint32_t id, uint64_t address, bool ra)
{
    return (size_t)hash_u64(address ^ ((uint64_t)id << 40) ^ ((uint64_t)ra << 63));
}

static struct cache_entry *cache_find(struct ps_symbolizer *sym, uint32_t id, uint64_t address,
                                      bool ra)
{
    if (!sym->cache_cap)
        return NULL;
    size_t mask = sym->cache_cap - 1;
    for (size_t i = cache_hash(id, address, ra) & mask; sym->cache[i].frames; i = (i + 1) & mask) {
        struct cache_entry *e = &sym->cache[i];
        if (e->address == address && e->module_id == id && e->return_address == ra)
            return e;
    }
    return NULL;
}

static int cache_insert(struct ps_symbolizer *sym, struct cache_entry e)
{
    if ((sym->cache_len + 1) * 2 > sym->cache_cap) {
        size_t ncap = sym->cache_cap ? sym->cache_cap * 2 : 1024;
        struct cache_entry *n = calloc(ncap, sizeof *n);
        if (!n)
            return PS_ENOMEM;
        for (size_t i = 0; i < sym->cache_cap; i++) {
            struct cache_entry *o = &sym->cache[i];
            if (!o->frames)
                continue;
            size_t j = cache_hash(o->module_id, o->address, o->return_address) & (ncap - 1);
            while (n[j].frames)
                j = (j + 1) & (ncap - 1);
            n[j] = *o;
        }
        free(sym->cache);
        sym->cache = n;
        sym->cache_cap = ncap;
    }
    size_t mask = sym->cache_cap - 1;
    size_t i = cache_hash(e.module_id, e.address, e.return_address) & mask;
    while (sym->cache[i].frames)
        i = (i + 1) & mask;
    sym->cache[i] = e;
    sym->cache_len++;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */
/* ------------------------------------------------------------------------ */

int ps_sym_new(struct ps_symbolizer **out)
{
    if (!out)
        return PS_EUSAGE;
    *out = NULL;
    struct ps_symbolizer *sym = calloc(1, sizeof *sym);
    if (!sym)
        return PS_ENOMEM;
    sym->unknown = intern(sym, UNKNOWN_FUNCTION);
    if (!sym->unknown) {
        ps_sym_free(sym);
        return PS_ENOMEM;
    }
    *out = sym;
    return 0;
}

void ps_sym_free(struct ps_symbolizer *sym)
{
    if (!sym)
        return;
    for (size_t i = 0; i < sym->mods_cap; i++)
        if (sym->mods[i].used) {
            if (sym->mods[i].dwfl)
                dwfl_end(sym->mods[i].dwfl);
            free(sym->mods[i].cus);
        }
    free(sym->mods);
    for (size_t i = 0; i < sym->cache_cap; i++)
        free(sym->cache[i].frames);
    free(sym->cache);
    for (size_t i = 0; i < sym->strs_cap; i++)
        free(sym->strs[i]);
    free(sym->strs);
    for (size_t i = 0; i < sym->nwarnings; i++)
        free(sym->warnings[i]);
    free(sym->warnings);
    free(sym->scratch.v);
    free(sym);
}

int ps_sym_resolve(struct ps_symbolizer *sym, const struct ps_module *m, uint64_t address,
                   bool return_address, const struct ps_frame **frames, size_t *nframes)
{
    if (!sym || !m || !frames || !nframes)
        return PS_EUSAGE;
    struct cache_entry *hit = cache_find(sym, m->id, address, return_address);
    if (hit) {
        *frames = hit->frames;
        *nframes = hit->nframes;
        return 0;
    }

    struct sym_module *sm;
    int r = module_get(sym, m, &sm);
    if (r < 0)
        return r;

    /* A return address points after the call; the call itself is at -1. */
    Dwarf_Addr pc = return_address && address > 0 ? address - 1 : address;
    sym->scratch.len = 0;
    bool in_range = !sm->bad;
    if (in_range && m->hi > m->lo && (pc < m->lo || pc >= m->hi))
        in_range = false;
    if (in_range) {
        Dwarf_Addr lo, hi;
        dwfl_module_info(sm->mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
        if (pc < lo || pc >= hi)
            in_range = false;
    }
    if (in_range)
        r = symbolize_pc(sym, sm, address, pc);
    if (r < 0)
        return r;
    if (sym->scratch.len == 0) {
        struct ps_frame f = {.address = address, .module = sm->path, .function = sym->unknown};
        if ((r = push_frame(&sym->scratch, f)) < 0)
            return r;
    }

    size_t n = sym->scratch.len;
    struct ps_frame *copy = malloc(n * sizeof *copy);
    if (!copy)
        return PS_ENOMEM;
    memcpy(copy, sym->scratch.v, n * sizeof *copy);
    struct cache_entry e = {.frames = copy, .nframes = n, .address = address,
                            .module_id = m->id, .return_address = return_address};
    if ((r = cache_insert(sym, e)) < 0) {
        free(copy);
        return r;
    }
    *frames = copy;
    *nframes = n;
    return 0;
}
