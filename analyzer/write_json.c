/* `report --format json`: exactly the keys of the contract (CONTRACT.md,
 * documented in docs/report-schema.md).  One trace gives one object; several
 * give an array of objects in the order given. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "errors.h"
#include "report.h"

/* Integers are written exactly (cJSON's numbers are doubles). */
static void add_u64(cJSON *o, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, key, buf);
}

static cJSON *stack_json(const struct ps_frame *f, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        char addr[32];
        snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)f[i].address);
        cJSON_AddStringToObject(o, "address", addr);
        cJSON_AddStringToObject(o, "module", f[i].module ? f[i].module : "");
        cJSON_AddStringToObject(o, "function", f[i].function ? f[i].function : "??");
        if (f[i].file)
            cJSON_AddStringToObject(o, "file", ps_display_path(f[i].file));
        else
            cJSON_AddNullToObject(o, "file");
        add_u64(o, "line", (uint64_t)f[i].line);
        cJSON_AddBoolToObject(o, "inlined", f[i].inlined);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *report_json(const struct ps_report *r)
{
    const struct ps_trace *t = r->t;
    const struct ps_heap *h = r->h;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "perfshim_version", PERFSHIM_VERSION);
    add_u64(root, "trace_format_version", PS_TRACE_VERSION);

    cJSON *proc = cJSON_AddObjectToObject(root, "process");
    add_u64(proc, "pid", t->proc.pid);
    add_u64(proc, "ppid", t->proc.ppid);
    cJSON *cmd = cJSON_AddArrayToObject(proc, "command");
    for (size_t i = 0; i < t->proc.argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(t->proc.argv[i]));
    cJSON_AddStringToObject(proc, "executable", t->proc.exe);
    add_u64(proc, "start_unix_ns", t->proc.start_unix_ns);
    cJSON_AddNumberToObject(proc, "duration_s", r->duration_s);
    cJSON_AddStringToObject(proc, "exit", r->exit);
    cJSON_AddBoolToObject(proc, "trace_truncated", t->end.truncated);

    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    add_u64(sum, "allocations", h->allocations);
    add_u64(sum, "frees", h->frees);
    add_u64(sum, "reallocations", h->reallocations);
    add_u64(sum, "total_allocated_bytes", h->total_allocated);
    add_u64(sum, "peak_heap_bytes", h->peak_bytes);
    cJSON_AddNumberToObject(sum, "peak_heap_s", r->peak_s);
    add_u64(sum, "leaked_bytes", r->leaked_bytes);
    add_u64(sum, "leaked_blocks", r->leaked_blocks);
    add_u64(sum, "reachable_bytes", 0);
    add_u64(sum, "reachable_blocks", 0);
    add_u64(sum, "untracked_frees", h->unknown_frees);

    cJSON *leaks = cJSON_AddArrayToObject(root, "leaks");
    for (size_t i = 0; i < r->nleaks; i++) {
        const struct ps_leak *l = &r->leaks[i];
        cJSON *o = cJSON_CreateObject();
        add_u64(o, "bytes", l->bytes);
        add_u64(o, "blocks", l->blocks);
        cJSON_AddStringToObject(o, "kind", l->kind);
        cJSON_AddItemToObject(o, "stack", stack_json(l->frames, l->nframes));
        cJSON_AddItemToArray(leaks, o);
    }
    cJSON_AddObjectToObject(root, "calls");
    cJSON_AddObjectToObject(root, "peers");
    add_u64(root, "connections_peak", 0);
    cJSON_AddArrayToObject(root, "leak_suspects");
    return root;
}

int ps_write_json(FILE *out, struct ps_report **r, size_t n)
{
    cJSON *doc;
    if (n == 1) {
        doc = report_json(r[0]);
    } else {
        doc = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(doc, report_json(r[i]));
    }
    char *s = cJSON_Print(doc);
    cJSON_Delete(doc);
    if (!s)
        return PS_ENOMEM;
    fputs(s, out);
    fputc('\n', out);
    free(s);
    return ferror(out) ? PS_EIO : 0;
}
