/* `perfshim check [--rules FILE] [RULE FLAGS...] [--include-reachable]
 *                 [--junit FILE] TRACE`: pass/fail gates on one trace, for CI.
 *
 * A rule is NAME [QUALIFIER] LIMIT, from a rules file (one a line, '#'
 * comments) or from a flag (--NAME [QUALIFIER=]LIMIT, '-' for '_'); the
 * rules and their units are in the table below and in docs/usage.md.  Each
 * rule gives one line on stdout (PASS/FAIL, measured, limit) and, with
 * --junit, one <testcase>.  A rule whose data the trace does not hold (a
 * latency rule without requests, a growth rule without enough samples)
 * FAILs with "no data": a gate that cannot be evaluated must not pass
 * silently, and a misspelt call name or PERFSHIM_NET=0 shows at once.
 * Status: 0 all hold, 1 any fails, 2 bad usage, bad rules or bad trace
 * (before anything is printed). */
#include "check.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errors.h"
#include "markup.h"
#include "report.h"

enum rtype { R_LEAK_BYTES, R_LEAK_BLOCKS, R_PEAK_HEAP, R_RSS_GROWTH, R_HEAP_GROWTH, R_LATENCY,
             R_THROUGHPUT, R_ALLOCS_PER_REQ };
enum vtype { V_SIZE, V_COUNT, V_LATENCY, V_NUMBER };
enum qtype { Q_NONE, Q_KINDS, Q_LATENCY };

static const struct rule_def {
    const char *name;
    enum rtype type;
    enum vtype value;
    enum qtype qual;
    bool is_min;            /* measured >= limit; else measured <= limit */
    const char *unit;
} defs[] = {
    {"max_leaked_bytes", R_LEAK_BYTES, V_SIZE, Q_KINDS, false, "bytes"},
    {"max_leaked_blocks", R_LEAK_BLOCKS, V_COUNT, Q_KINDS, false, "blocks"},
    {"max_peak_heap", R_PEAK_HEAP, V_SIZE, Q_NONE, false, "bytes"},
    {"max_rss_growth_per_min", R_RSS_GROWTH, V_SIZE, Q_NONE, false, "bytes/min"},
    {"max_heap_growth_per_min", R_HEAP_GROWTH, V_SIZE, Q_NONE, false, "bytes/min"},
    {"max_latency", R_LATENCY, V_LATENCY, Q_LATENCY, false, "us"},
    {"min_throughput", R_THROUGHPUT, V_NUMBER, Q_NONE, true, "requests/s"},
    {"max_allocs_per_request", R_ALLOCS_PER_REQ, V_NUMBER, Q_NONE, false, "allocations/request"},
};
#define NDEFS (sizeof defs / sizeof defs[0])

/* Leak kinds, one bit each; the report's kind strings (report.h). */
static const char *const kinds[] = {"definite", "indirect", "possible", "reachable", "unknown"};
#define NKINDS 5
#define KIND_REACHABLE (1u << 3)
#define KINDS_ALL ((1u << NKINDS) - 1)
/* The default: definite + indirect, as memcheck users gate on, and unknown
 * (blocks no scan has classified: a killed server without a scan must not
 * pass a leak rule for want of one).  Possible leaks are opt-in. */
#define KINDS_DEFAULT (1u << 0 | 1u << 1 | 1u << 4)

static const struct {
    const char *name;
    size_t off;
} pcts[] = {
    {"p50", offsetof(struct ps_latency, p50_us)},   {"p90", offsetof(struct ps_latency, p90_us)},
    {"p95", offsetof(struct ps_latency, p95_us)},   {"p99", offsetof(struct ps_latency, p99_us)},
    {"p999", offsetof(struct ps_latency, p999_us)}, {"max", offsetof(struct ps_latency, max_us)},
};
#define NPCTS (sizeof pcts / sizeof pcts[0])

struct rule {
    const struct rule_def *def;
    unsigned kinds;         /* 0: the default (KINDS_DEFAULT) */
    char what[32];          /* max_latency: "requests" or a call's name */
    size_t pct;
    double limit;
    char label[96];         /* "max_latency requests.p99": the rule as written */
};

struct rules {
    struct rule *v;
    size_t n, cap;
    bool include_reachable;
};

/* User text for an error line: printable, at most 60 characters. */
static const char *shown(const char *s, char buf[64])
{
    size_t i = 0;
    for (; s[i] && i < 60; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
    if (s[i])
        memcpy(buf + 57, "...", 3);
    buf[i] = 0;
    return buf;
}

/* ---- values ----------------------------------------------------------------------- */

static int parse_number(const char *s, double *v, char **end)
{
    errno = 0;
    *v = strtod(s, end);
    if (*end == s || errno || !isfinite(*v) || *v < 0 || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    return 0;
}

int ps_parse_size(const char *s, double *bytes)
{
    char *end;
    if (parse_number(s, bytes, &end))
        return -1;
    static const char units[] = "KMGT";
    double mult = 1;
    char c = (char)(*end >= 'a' && *end <= 'z' ? *end - 'a' + 'A' : *end);
    const char *u = c ? strchr(units, c) : NULL;
    if (u) {
        for (const char *k = units; k <= u; k++)
            mult *= 1024;
        end++;
        if (end[0] == 'i' && end[1] == 'B')
            end += 2;
        else if (*end == 'B')
            end++;
    } else if (*end == 'B') {
        end++;
    }
    if (*end)
        return -1;
    *bytes *= mult;
    return 0;
}

int ps_parse_latency(const char *s, double *us)
{
    char *end;
    if (parse_number(s, us, &end))
        return -1;
    if (strcmp(end, "ms") == 0)
        *us *= 1000;
    else if (strcmp(end, "s") == 0)
        *us *= 1e6;
    else if (strcmp(end, "us") != 0 && *end)
        return -1;
    return 0;
}

/* ---- rules ------------------------------------------------------------------------ */

static int parse_kinds(const char *q, unsigned *mask, const char *where)
{
    char buf[64];
    *mask = 0;
    if (strcmp(q, "all") == 0) {
        *mask = KINDS_ALL;
        return 0;
    }
    const char *p = q;
    while (*p) {
        size_t n = strcspn(p, "+,");
        unsigned k = 0;
        while (k < NKINDS && !(strlen(kinds[k]) == n && strncmp(p, kinds[k], n) == 0))
            k++;
        if (k == NKINDS)
            return ps_error_set(PS_EUSAGE, "check: %s: bad leak kinds '%s' (definite, indirect, possible, "
                                           "reachable, unknown joined by '+', or all)", where, shown(q, buf));
        *mask |= 1u << k;
        p += n;
        if (*p)
            p++;
    }
    if (!*mask)
        return ps_error_set(PS_EUSAGE, "check: %s: no leak kind given", where);
    return 0;
}

static int parse_latency_what(const char *q, struct rule *r, const char *where)
{
    char buf[64];
    const char *dot = strrchr(q, '.');
    size_t n = dot ? (size_t)(dot - q) : 0;
    if (!dot || !n || n >= sizeof r->what)
        return ps_error_set(PS_EUSAGE, "check: %s: expected WHAT.PERCENTILE (requests.p99, recv.p50), "
                                       "not '%s'", where, shown(q, buf));
    memcpy(r->what, q, n);
    r->what[n] = 0;
    bool known = strcmp(r->what, "requests") == 0;
    for (unsigned k = 1; !known && k < PS_CALL_MAX_; k++)
        known = strcmp(r->what, ps_call_name(k)) == 0;
    if (!known)
        return ps_error_set(PS_EUSAGE, "check: %s: '%s' is neither 'requests' nor an intercepted call "
                                       "(recv, send, read, poll, ...; see docs/usage.md)", where,
                            shown(r->what, buf));
    for (r->pct = 0; r->pct < NPCTS; r->pct++)
        if (strcmp(dot + 1, pcts[r->pct].name) == 0)
            return 0;
    return ps_error_set(PS_EUSAGE, "check: %s: unknown percentile '%s' (p50, p90, p95, p99, p999, max)",
                        where, shown(dot + 1, buf));
}

/* One rule: NAME (underscores), QUAL (NULL when none) and VALUE, read at WHERE. */
static int add_rule(struct rules *rs, const char *name, const char *qual, const char *value,
                    const char *where)
{
    char buf[64], buf2[64];
    const struct rule_def *d = NULL;
    for (size_t i = 0; i < NDEFS && !d; i++)
        if (strcmp(name, defs[i].name) == 0)
            d = &defs[i];
    if (!d)
        return ps_error_set(PS_EUSAGE, "check: %s: unknown rule '%s' (see docs/usage.md, \"perfshim check\")",
                            where, shown(name, buf));
    struct rule r = {.def = d};
    if (qual && d->qual == Q_NONE)
        return ps_error_set(PS_EUSAGE, "check: %s: %s takes only a limit ('%s' is extra)", where, d->name,
                            shown(qual, buf));
    if (!qual && d->qual == Q_LATENCY)
        return ps_error_set(PS_EUSAGE, "check: %s: %s needs WHAT.PERCENTILE and a limit "
                                       "(max_latency requests.p99 5ms)", where, d->name);
    int rc = 0;
    if (qual && d->qual == Q_KINDS)
        rc = parse_kinds(qual, &r.kinds, where);
    else if (qual)
        rc = parse_latency_what(qual, &r, where);
    if (rc)
        return rc;
    bool bad;
    switch (d->value) {
    case V_SIZE: bad = ps_parse_size(value, &r.limit) != 0; break;
    case V_LATENCY: bad = ps_parse_latency(value, &r.limit) != 0; break;
    case V_COUNT: {
        char *end;
        bad = parse_number(value, &r.limit, &end) || *end || r.limit != floor(r.limit);
        break;
    }
    default: {
        char *end;
        bad = parse_number(value, &r.limit, &end) || *end;
    }
    }
    if (bad)
        return ps_error_set(PS_EUSAGE, "check: %s: bad limit '%s' for %s (%s)", where, shown(value, buf),
                            d->name,
                            d->value == V_SIZE      ? "bytes: 4096, 512K, 64MiB, 1G"
                            : d->value == V_LATENCY ? "microseconds: 250, 500us, 5ms, 1s"
                            : d->value == V_COUNT   ? "a whole number"
                                                    : "a number");
    snprintf(r.label, sizeof r.label, "%s%s%s", d->name, qual ? " " : "", qual ? shown(qual, buf2) : "");
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 8;
        struct rule *v = realloc(rs->v, cap * sizeof *v);
        if (!v)
            return PS_ENOMEM;
        rs->v = v;
        rs->cap = cap;
    }
    rs->v[rs->n++] = r;
    return 0;
}

#define RULES_FILE_MAX (1 << 20)

/* The rules file: lines of NAME [QUALIFIER] LIMIT; '#' starts a comment. */
static int read_rules(struct rules *rs, const char *path)
{
    char buf[64];
    FILE *f = fopen(path, "rb");
    if (!f)
        return ps_error_set(PS_EUSAGE, "check: cannot read rules file '%s': %s", shown(path, buf),
                            strerror(errno));
    char *text = malloc(RULES_FILE_MAX + 1);
    if (!text) {
        fclose(f);
        return PS_ENOMEM;
    }
    size_t len = fread(text, 1, RULES_FILE_MAX + 1, f);
    int err = ferror(f);
    fclose(f);
    int rc = 0;
    if (err)
        rc = ps_error_set(PS_EUSAGE, "check: cannot read rules file '%s'", shown(path, buf));
    else if (len > RULES_FILE_MAX)
        rc = ps_error_set(PS_EUSAGE, "check: rules file '%s' is larger than 1 MiB", shown(path, buf));
    else if (memchr(text, 0, len))
        rc = ps_error_set(PS_EUSAGE, "check: rules file '%s' is not text (it holds NUL bytes)",
                          shown(path, buf));
    text[len < RULES_FILE_MAX ? len : RULES_FILE_MAX] = 0;
    size_t before = rs->n;
    unsigned lineno = 0;
    for (char *line = text, *next; !rc && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *tok[4];
        int n = 0;
        for (char *save = NULL, *t = strtok_r(line, " \t\r\v\f", &save); t;
             t = strtok_r(NULL, " \t\r\v\f", &save))
            if (n < 4)
                tok[n++] = t;
            else
                n = 5;
        if (!n)
            continue;
        char where[96];
        snprintf(where, sizeof where, "%s:%u", shown(path, buf), lineno);
        if (n < 2 || n > 3)
            rc = ps_error_set(PS_EUSAGE, "check: %s: expected NAME [QUALIFIER] LIMIT, got %d word%s", where,
                              n > 4 ? 5 : n, n == 1 ? "" : "s");
        else
            rc = add_rule(rs, tok[0], n == 3 ? tok[1] : NULL, tok[n - 1], where);
    }
    if (!rc && rs->n == before)
        rc = ps_error_set(PS_EUSAGE, "check: rules file '%s' has no rules", shown(path, buf));
    free(text);
    return rc;
}

/* --NAME[=VALUE] [VALUE] when NAME (with '-' for '_') is a rule: 1 and the
 * rule added (or an error), 0 when ARG is no rule flag. */
static int rule_flag(struct rules *rs, int argc, char **argv, int *i)
{
    const char *arg = argv[*i] + 2;
    char name[48];
    size_t n = strcspn(arg, "=");
    if (n >= sizeof name)
        return 0;
    for (size_t k = 0; k < n; k++)
        name[k] = arg[k] == '-' ? '_' : arg[k];
    name[n] = 0;
    const struct rule_def *d = NULL;
    for (size_t k = 0; k < NDEFS && !d; k++)
        if (strcmp(name, defs[k].name) == 0)
            d = &defs[k];
    if (!d)
        return 0;
    char flag[64];
    snprintf(flag, sizeof flag, "--%.*s", (int)n, arg);
    const char *value;
    if (arg[n] == '=')
        value = arg + n + 1;
    else if (*i + 1 < argc)
        value = argv[++*i];
    else
        return ps_error_set(PS_EUSAGE, "check: %s needs a value", flag);
    /* QUALIFIER=LIMIT: the limit after the last '=' */
    const char *eq = strrchr(value, '=');
    char qual[128];
    if (eq && d->qual != Q_NONE) {
        snprintf(qual, sizeof qual, "%.*s", (int)(eq - value), value);
        int rc = add_rule(rs, name, qual, eq + 1, flag);
        return rc ? rc : 1;
    }
    if (d->qual == Q_LATENCY)
        return ps_error_set(PS_EUSAGE, "check: %s needs WHAT.PERCENTILE=LIMIT (requests.p99=5ms)", flag);
    int rc = add_rule(rs, name, NULL, value, flag);
    return rc ? rc : 1;
}

/* ---- measuring -------------------------------------------------------------------- */

struct result {
    bool has_data, pass;
    double value;
    char why[160];          /* no data: why */
};

static unsigned kind_bit(const char *kind)
{
    for (unsigned k = 0; k < NKINDS; k++)
        if (kind && strcmp(kind, kinds[k]) == 0)
            return 1u << k;
    return 1u << 4; /* a kind this version does not know counts as unknown */
}

static const struct ps_latency *latency_of(const struct ps_report *r, const char *what)
{
    const struct ps_net_summary *n = &r->net;
    if (strcmp(what, "requests") == 0)
        return n->has_requests && n->requests.lat.count ? &n->requests.lat : NULL;
    for (size_t i = 0; i < n->ncalls; i++)
        if (strcmp(n->calls[i].name, what) == 0 && n->calls[i].lat.count)
            return &n->calls[i].lat;
    return NULL;
}

static void no_data(struct result *res, const char *fmt, const char *arg)
{
    res->has_data = false;
    snprintf(res->why, sizeof res->why, fmt, arg);
}

static void measure(const struct ps_report *r, const struct rule *rule, bool include_reachable,
                    struct result *res)
{
    memset(res, 0, sizeof *res);
    res->has_data = true;
    const struct ps_net_summary *n = &r->net;
    switch (rule->def->type) {
    case R_LEAK_BYTES:
    case R_LEAK_BLOCKS: {
        unsigned mask = rule->kinds ? rule->kinds : include_reachable ? KINDS_ALL : KINDS_DEFAULT;
        for (size_t i = 0; i < r->nleaks; i++)
            if (kind_bit(r->leaks[i].kind) & mask)
                res->value += (double)(rule->def->type == R_LEAK_BYTES ? r->leaks[i].bytes : r->leaks[i].blocks);
        break;
    }
    case R_PEAK_HEAP:
        res->value = (double)r->h->peak_bytes;
        break;
    case R_RSS_GROWTH:
    case R_HEAP_GROWTH:
        if (!r->res.present)
            no_data(res, "the trace has no resource samples (recorded with PERFSHIM_SAMPLE_MS=0?)%s", "");
        else if (r->res.verdict && strcmp(r->res.verdict, "too short") == 0)
            no_data(res, "the run is too short to fit growth (fewer than 5 resource samples after the "
                         "warm-up)%s", "");
        else
            res->value = rule->def->type == R_RSS_GROWTH ? r->res.rss_growth_bytes_per_min
                                                         : r->res.heap_growth_bytes_per_min;
        break;
    case R_LATENCY: {
        const struct ps_latency *l = latency_of(r, rule->what);
        if (!l && strcmp(rule->what, "requests") == 0)
            no_data(res, "the trace has no requests%s", "");
        else if (!l)
            no_data(res, "the trace has no %s calls", rule->what);
        else
            res->value = *(const double *)((const char *)l + pcts[rule->pct].off);
        break;
    }
    case R_THROUGHPUT:
    case R_ALLOCS_PER_REQ:
        if (!n->has_requests || !n->requests.lat.count)
            no_data(res, "the trace has no requests%s", "");
        else if (rule->def->type == R_THROUGHPUT)
            res->value = n->requests.throughput_rps;
        else
            res->value = (double)r->h->allocations / (double)n->requests.lat.count;
        break;
    }
    if (res->has_data)
        res->pass = rule->def->is_min ? res->value >= rule->limit : res->value <= rule->limit;
}

static const char *fmt_value(const struct rule_def *d, double v, char *buf, size_t size)
{
    switch (d->type) {
    case R_LEAK_BYTES:
    case R_LEAK_BLOCKS:
    case R_PEAK_HEAP: snprintf(buf, size, "%.0f %s", v, d->unit); break;
    case R_ALLOCS_PER_REQ: snprintf(buf, size, "%.2f %s", v, d->unit); break;
    default: snprintf(buf, size, "%.1f %s", v, d->unit);
    }
    return buf;
}

/* ---- output ----------------------------------------------------------------------- */

static void result_text(const struct rule *rule, const struct result *res, char *buf, size_t size)
{
    char m[64], l[64];
    fmt_value(rule->def, rule->limit, l, sizeof l);
    if (!res->has_data)
        snprintf(buf, size, "no data: %s; limit %s%s", res->why, rule->def->is_min ? ">= " : "", l);
    else
        snprintf(buf, size, "measured %s, limit %s%s", fmt_value(rule->def, res->value, m, sizeof m),
                 rule->def->is_min ? ">= " : "", l);
}

static int write_junit(FILE *out, const char *trace, const struct rules *rs, const struct result *res,
                       size_t failed)
{
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<testsuites name=\"perfshim check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n"
                 "  <testsuite name=\"perfshim check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                 "skipped=\"0\" time=\"0\">\n    <properties><property name=\"trace\" value=\"",
            rs->n, failed, rs->n, failed);
    ps_put_markup(out, trace);
    fputs("\"/></properties>\n", out);
    for (size_t i = 0; i < rs->n; i++) {
        char text[320];
        result_text(&rs->v[i], &res[i], text, sizeof text);
        fputs("    <testcase classname=\"perfshim.check\" name=\"", out);
        ps_put_markup(out, rs->v[i].label);
        fputs("\" time=\"0\">", out);
        if (!res[i].pass) {
            fprintf(out, "\n      <failure type=\"%s\" message=\"", res[i].has_data ? "violated" : "no-data");
            ps_put_markup(out, text);
            fputs("\">", out);
            ps_put_markup(out, rs->v[i].label);
            fputs(": ", out);
            ps_put_markup(out, text);
            fputs("</failure>\n    ", out);
        } else {
            fputs("<system-out>", out);
            ps_put_markup(out, text);
            fputs("</system-out>", out);
        }
        fputs("</testcase>\n", out);
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
    return ferror(out) ? PS_EIO : 0;
}

int ps_cmd_check(int argc, char **argv)
{
    struct rules rs = {0};
    const char *trace = NULL, *junit = NULL;
    int rc = 0;
    for (int i = 1; !rc && i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--rules") == 0 || strncmp(a, "--rules=", 8) == 0) {
            const char *file = a[7] == '=' ? a + 8 : i + 1 < argc ? argv[++i] : NULL;
            rc = file ? read_rules(&rs, file) : ps_error_set(PS_EUSAGE, "check: --rules needs a file name");
        } else if (strcmp(a, "--junit") == 0 || strncmp(a, "--junit=", 8) == 0) {
            junit = a[7] == '=' ? a + 8 : i + 1 < argc ? argv[++i] : NULL;
            if (!junit || !*junit)
                rc = ps_error_set(PS_EUSAGE, "check: --junit needs a file name");
        } else if (strcmp(a, "--include-reachable") == 0) {
            rs.include_reachable = true;
        } else if (strcmp(a, "--") == 0) {
            if (i + 1 < argc && !trace)
                trace = argv[++i];
            if (i + 1 < argc)
                rc = ps_error_set(PS_EUSAGE, "check: one trace at a time ('%s' is extra)", argv[i + 1]);
            break;
        } else if (a[0] == '-' && a[1] == '-' && a[2]) {
            int k = rule_flag(&rs, argc, argv, &i);
            if (k < 0)
                rc = k;
            else if (k == 0)
                rc = ps_error_set(PS_EUSAGE, "check: unknown option '%s' (see perfshim --help)", a);
        } else if (a[0] == '-' && a[1]) {
            rc = ps_error_set(PS_EUSAGE, "check: unknown option '%s' (see perfshim --help)", a);
        } else if (!trace) {
            trace = a;
        } else {
            rc = ps_error_set(PS_EUSAGE, "check: one trace at a time ('%s' is extra)", a);
        }
    }
    if (!rc && !rs.n)
        rc = ps_error_set(PS_EUSAGE, "check: no rules given (--rules FILE, or flags such as "
                                     "--max-leaked-bytes 0; see docs/usage.md)");
    if (!rc && !trace)
        rc = ps_error_set(PS_EUSAGE, "check: no trace file given");
    if (rc) {
        free(rs.v);
        return rc;
    }
    struct ps_reports reps;
    struct result *res = calloc(rs.n, sizeof *res);
    rc = res ? ps_reports_build((char *[]){(char *)trace}, 1, NULL, &reps) : PS_ENOMEM;
    size_t failed = 0;
    if (!rc) {
        for (size_t i = 0; i < rs.n; i++) {
            measure(reps.r[0], &rs.v[i], rs.include_reachable, &res[i]);
            failed += !res[i].pass;
        }
        if (junit) {
            struct output o;
            rc = output_open(&o, junit);
            if (!rc)
                rc = output_close(&o, write_junit(o.f, trace, &rs, res, failed));
        }
    }
    if (!rc) {
        int width = 0;
        for (size_t i = 0; i < rs.n; i++)
            if ((int)strlen(rs.v[i].label) > width)
                width = (int)strlen(rs.v[i].label);
        for (size_t i = 0; i < rs.n; i++) {
            char text[320];
            result_text(&rs.v[i], &res[i], text, sizeof text);
            printf("%s  %-*s  %s\n", res[i].pass ? "PASS" : "FAIL", width, rs.v[i].label, text);
        }
        if (failed)
            printf("check: FAILED: %zu of %zu rules failed\n", failed, rs.n);
        else
            printf("check: PASSED: all %zu rules hold\n", rs.n);
        if (fflush(stdout) != 0)
            rc = ps_error_set(PS_EIO, "cannot write to standard output: %s", strerror(errno));
    }
    if (res)
        ps_reports_free(&reps);
    free(res);
    free(rs.v);
    return rc ? rc : failed ? 1 : 0;
}
