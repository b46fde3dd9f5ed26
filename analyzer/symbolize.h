/* Symbolizer: turns a recorded instruction address into source frames.
 *
 * Data model: the trace records every module the process mapped (path,
 * load bias, build-id, executable ranges), so an address is symbolized
 * against the module that held it when its stack was captured, even if that
 * module was dlclose'd long before the process ended.  One Dwfl per module
 * (reported with dwfl_report_elf at the recorded bias) keeps modules that
 * were loaded at the same address at different times apart.  Results are
 * cached per (module, address): a report symbolizes each unique address once.
 *
 * Frames are innermost first.  An address inside inlined code yields one
 * frame per inline level (inlined = true) and finally the real function
 * (inlined = false); file:line of an outer frame is the call site of the
 * frame inside it.
 *
 * Errors: functions return 0 or a negative PS_E* code (errors.h).  A module
 * whose file is missing or does not match the recorded build-id is not an
 * error: its frames carry the module path and address with function "??",
 * and ps_sym_warnings() lists one line per such module.
 */
#ifndef PERFSHIM_SYMBOLIZE_H
#define PERFSHIM_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A module as recorded in the trace (MODULE_LOAD event). */
struct ps_module {
    uint32_t id;               /* unique within one trace */
    const char *path;          /* absolute path as the process saw it */
    uint64_t bias;             /* load bias (dlpi_addr) */
    const uint8_t *build_id;   /* GNU build-id bytes, may be NULL */
    size_t build_id_len;
    uint64_t lo, hi;           /* absolute [lo, hi) of its executable segments */
};

struct ps_frame {
    uint64_t address;          /* the address asked for (every frame of an inline chain shares it) */
    const char *module;        /* module path */
    const char *function;      /* demangled name, or "??" */
    const char *file;          /* source file, or NULL */
    int line;                  /* 0 when unknown */
    bool inlined;
};

struct ps_symbolizer;

int ps_sym_new(struct ps_symbolizer **out);
void ps_sym_free(struct ps_symbolizer *sym);

/* Resolve ADDRESS, which lies inside module M.  RETURN_ADDRESS is true for
 * return addresses (every frame of a captured stack): the lookup then uses
 * address - 1 so that the call instruction, not the next line, is found.
 * On success *FRAMES points to *NFRAMES (>= 1) frames owned by SYM, valid
 * until ps_sym_free. */
int ps_sym_resolve(struct ps_symbolizer *sym, const struct ps_module *m,
                   uint64_t address, bool return_address,
                   const struct ps_frame **frames, size_t *nframes);

/* Lines such as "module '/x/lib.so' changed on disk since the trace was
 * recorded (build-id differs); its frames are not symbolized", one per
 * affected module, NULL-terminated.  Owned by SYM. */
const char *const *ps_sym_warnings(struct ps_symbolizer *sym);

#endif
