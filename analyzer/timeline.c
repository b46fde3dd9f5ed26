/* `perfshim timeline [--format csv|json|svg] [-o FILE] TRACE`: the
 * resource samples over time.  The heap columns are the analyzer's own
 * replay of the allocation events at each sample's tick (requested bytes,
 * the same count as the report's peak heap); heap_usable_bytes is the
 * shim's running count of usable sizes. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errors.h"
#include "report.h"
#include "timeline.h"

#define COLUMNS                                                                              \
    "time_s,rss_bytes,vm_bytes,heap_live_bytes,heap_live_blocks,heap_usable_bytes,threads,fds," \
    "cpu_percent,allocations_total,frees_total"

struct row {
    double time_s, cpu_percent;
    const struct ps_sample *s;
};

static struct row *rows_of(const struct ps_report *r)
{
    const struct ps_trace *t = r->t;
    struct row *rows = calloc(t->nsamples, sizeof *rows);
    if (!rows)
        return NULL;
    double prev_t = 0;
    uint64_t prev_cpu = 0;
    for (size_t i = 0; i < t->nsamples; i++) {
        const struct ps_sample *s = &t->samples[i];
        double sec = ps_trace_seconds(t, s->tick);
        double dt = sec - prev_t;
        rows[i].s = s;
        rows[i].time_s = sec;
        rows[i].cpu_percent = dt > 0 && s->cpu_ns >= prev_cpu ? (double)(s->cpu_ns - prev_cpu) / 1e9 / dt * 100 : 0;
        prev_t = sec;
        prev_cpu = s->cpu_ns;
    }
    return rows;
}

static int write_csv(FILE *out, const struct ps_report *r, const struct row *rows)
{
    fprintf(out, COLUMNS "\n");
    for (size_t i = 0; i < r->t->nsamples; i++) {
        const struct ps_sample *s = rows[i].s;
        fprintf(out, "%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                     ",%" PRIu64 ",%.1f,%" PRIu64 ",%" PRIu64 "\n",
                rows[i].time_s, s->rss, s->vm, s->heap_bytes, s->heap_blocks, s->heap_usable,
                s->threads, s->fds, rows[i].cpu_percent, s->allocs, s->frees);
    }
    return 0;
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The sampler's period: the median spacing (the last sample, at exit,
 * comes early). */
static double sample_period_ms(const struct row *rows, size_t n)
{
    if (n < 2)
        return 0;
    double *d = malloc((n - 1) * sizeof *d);
    if (!d)
        return 0;
    for (size_t i = 1; i < n; i++)
        d[i - 1] = rows[i].time_s - rows[i - 1].time_s;
    qsort(d, n - 1, sizeof *d, cmp_double);
    double med = d[(n - 1) / 2] * 1000;
    free(d);
    return med;
}

static int write_json(FILE *out, const struct ps_report *r, const struct row *rows)
{
    const struct ps_trace *t = r->t;
    fprintf(out, "{\"pid\": %" PRIu64 ", \"command\": [", t->proc.pid);
    for (size_t i = 0; i < t->proc.argc; i++) {
        if (i)
            fputs(", ", out);
        json_string(out, t->proc.argv[i]);
    }
    double period = sample_period_ms(rows, t->nsamples);
    fprintf(out, "], \"sample_ms\": %.0f, \"samples\": [", period);
    for (size_t i = 0; i < t->nsamples; i++) {
        const struct ps_sample *s = rows[i].s;
        fprintf(out, "%s\n  {\"time_s\": %.3f, \"rss_bytes\": %" PRIu64 ", \"vm_bytes\": %" PRIu64
                     ", \"heap_live_bytes\": %" PRIu64 ", \"heap_live_blocks\": %" PRIu64
                     ", \"heap_usable_bytes\": %" PRIu64 ", \"threads\": %" PRIu64
                     ", \"fds\": %" PRIu64 ", \"cpu_percent\": %.1f, \"allocations_total\": %" PRIu64
                     ", \"frees_total\": %" PRIu64 "}",
                i ? "," : "", rows[i].time_s, s->rss, s->vm, s->heap_bytes, s->heap_blocks,
                s->heap_usable, s->threads, s->fds, rows[i].cpu_percent, s->allocs, s->frees);
    }
    fprintf(out, "\n]}\n");
    return 0;
}

/* ---- svg ---------------------------------------------------------------------------- */

#define W 960
#define PANEL_H 170
#define LEFT 90
#define RIGHT 30
#define TOP 60
#define GAP 50

/* A "nice" tick step (1, 2, 5 x 10^k) giving about N ticks over RANGE. */
static double nice_step(double range, int n)
{
    if (range <= 0)
        return 1;
    double raw = range / n, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void xml_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", out);
        else if (*s == '>')
            fputs("&gt;", out);
        else if (*s == '&')
            fputs("&amp;", out);
        else if (*s == '"')
            fputs("&quot;", out);
        else if ((unsigned char)*s >= 0x20)
            fputc(*s, out);
    }
}

struct series {
    const char *name, *colour;
    double *v;
};

/* One panel: series against time, y from 0 to a nice maximum. */
static void panel(FILE *out, int top, const char *ylabel, double scale, bool integer, const double *x,
                  size_t n, double xmax, const struct series *ss, size_t ns)
{
    double ymax = 0;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < n; i++)
            if (ss[k].v[i] / scale > ymax)
                ymax = ss[k].v[i] / scale;
    double ystep = nice_step(ymax > 0 ? ymax : 1, 4);
    if (integer && ystep < 1)
        ystep = 1; /* threads and fds come whole */
    double ytop = ceil((ymax > 0 ? ymax : 1) / ystep) * ystep;
    double xstep = nice_step(xmax > 0 ? xmax : 1, 8);
    double pw = W - LEFT - RIGHT;
#define PX(xv) (LEFT + (xv) / (xmax > 0 ? xmax : 1) * pw)
#define PY(yv) (top + PANEL_H - (yv) / ytop * PANEL_H)
    fprintf(out, "<g class=\"panel\">\n<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%d\" "
                 "fill=\"#fafafa\" stroke=\"#999\"/>\n",
            LEFT, top, pw, PANEL_H);
    for (double yv = 0; yv <= ytop + ystep / 2; yv += ystep) {
        fprintf(out, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", LEFT,
                LEFT + pw, PY(yv), PY(yv));
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%g</text>\n",
                LEFT - 6, PY(yv) + 4, yv);
    }
    for (double xv = 0; xv <= xmax + xstep / 2; xv += xstep)
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                     "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">%g</text>\n",
                PX(xv), PX(xv), top, top + PANEL_H, PX(xv), top + PANEL_H + 14, xv);
    fprintf(out, "<text class=\"axis\" transform=\"translate(%d,%d) rotate(-90)\" "
                 "text-anchor=\"middle\">%s</text>\n",
            20, top + PANEL_H / 2, ylabel);
    fprintf(out, "<text class=\"axis\" x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">time (s)</text>\n",
            LEFT + pw / 2, top + PANEL_H + 30);
    for (size_t k = 0; k < ns; k++) {
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                ss[k].colour);
        for (size_t i = 0; i < n; i++)
            fprintf(out, "%.1f,%.1f ", PX(x[i]), PY(ss[k].v[i] / scale));
        fprintf(out, "\"><title>%s</title></polyline>\n", ss[k].name);
        fprintf(out, "<rect x=\"%.0f\" y=\"%d\" width=\"12\" height=\"3\" fill=\"%s\"/>"
                     "<text x=\"%.0f\" y=\"%d\" class=\"legend\">%s</text>\n",
                LEFT + 10 + (double)k * 170, top + 10, ss[k].colour, LEFT + 26 + (double)k * 170,
                top + 15, ss[k].name);
    }
    fprintf(out, "</g>\n");
#undef PX
#undef PY
}

/* The chart; ID NULL for a document of its own, else an <svg id=ID> for
 * an HTML page: no XML declaration, styles scoped to it. */
static int svg(FILE *out, const struct ps_report *r, const struct row *rows, const char *id)
{
    const struct ps_trace *t = r->t;
    size_t n = t->nsamples;
    double *x = malloc(n * sizeof *x), *v[6];
    int ok = x != NULL;
    for (int k = 0; k < 6; k++)
        ok &= (v[k] = malloc(n * sizeof *v[k])) != NULL;
    if (!ok) {
        free(x);
        for (int k = 0; k < 6; k++)
            free(v[k]);
        return PS_ENOMEM;
    }
    double bmax = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ps_sample *s = rows[i].s;
        x[i] = rows[i].time_s;
        v[0][i] = (double)s->rss;
        v[1][i] = (double)s->heap_bytes;
        v[2][i] = (double)s->threads;
        v[3][i] = (double)s->fds;
        v[4][i] = rows[i].cpu_percent;
        v[5][i] = (double)s->heap_usable;
        if (v[0][i] > bmax)
            bmax = v[0][i];
    }
    double scale = bmax >= 1 << 30 ? 1 << 30 : bmax >= 1 << 20 ? 1 << 20 : 1024;
    const char *unit = scale == 1 << 30 ? "memory (GiB)" : scale == 1 << 20 ? "memory (MiB)" : "memory (KiB)";
    double xmax = n ? x[n - 1] : 1;
    int height = TOP + 4 * (PANEL_H + GAP) + 10;
    char scope[80] = "";
    if (id) {
        snprintf(scope, sizeof scope, "#%s ", id);
        fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\" class=\"ps-timeline\" ", id);
    } else {
        fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" ");
    }
    fprintf(out, "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
                 "<style>%s.tick{font-size:11px;fill:#444}%s.axis{font-size:12px;fill:#222}"
                 "%s.legend{font-size:12px;fill:#222}%s.title{font-size:16px;fill:#111}</style>\n"
                 "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                 "<text class=\"title\" x=\"%d\" y=\"28\">perfshim timeline: ",
            W, height, W, height, scope, scope, scope, scope, LEFT);
    for (size_t i = 0; i < t->proc.argc && i < 8; i++) {
        if (i)
            fputc(' ', out);
        xml_text(out, t->proc.argv[i]);
    }
    fprintf(out, " (pid %" PRIu64 ", %zu samples over %.1f s)</text>\n", t->proc.pid, n, xmax);
    struct series mem[] = {{"RSS", "#d62728", v[0]}, {"live heap (requested)", "#1f77b4", v[1]},
                           {"heap (usable, shim)", "#9ecae1", v[5]}};
    struct series thr[] = {{"threads", "#2ca02c", v[2]}};
    struct series fds[] = {{"open fds", "#9467bd", v[3]}};
    struct series cpu[] = {{"CPU", "#ff7f0e", v[4]}};
    panel(out, TOP, unit, scale, false, x, n, xmax, mem, 3);
    panel(out, TOP + (PANEL_H + GAP), "threads", 1, true, x, n, xmax, thr, 1);
    panel(out, TOP + 2 * (PANEL_H + GAP), "open fds", 1, true, x, n, xmax, fds, 1);
    panel(out, TOP + 3 * (PANEL_H + GAP), "CPU (% of one core)", 1, false, x, n, xmax, cpu, 1);
    fprintf(out, "</svg>\n");
    free(x);
    for (int k = 0; k < 6; k++)
        free(v[k]);
    return 0;
}

static int write_svg(FILE *out, const struct ps_report *r, const struct row *rows)
{
    return svg(out, r, rows, NULL);
}

int ps_timeline_write_svg(FILE *out, const struct ps_report *r, const char *id)
{
    if (!r->t->nsamples)
        return 0;
    struct row *rows = rows_of(r);
    if (!rows)
        return PS_ENOMEM;
    int rc = svg(out, r, rows, id);
    free(rows);
    return rc;
}

int ps_cmd_timeline(int argc, char **argv)
{
    const char *format = "csv", *outpath = NULL, *trace = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--format") == 0 || strcmp(argv[i], "-f") == 0) && i + 1 < argc)
            format = argv[++i];
        else if (strncmp(argv[i], "--format=", 9) == 0)
            format = argv[i] + 9;
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            outpath = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1])
            return ps_error_set(PS_EUSAGE, "timeline: unknown or incomplete option '%s'", argv[i]);
        else if (!trace)
            trace = argv[i];
        else
            return ps_error_set(PS_EUSAGE, "timeline: one trace at a time ('%s' is extra)", argv[i]);
    }
    int (*writer)(FILE *, const struct ps_report *, const struct row *);
    if (strcmp(format, "csv") == 0)
        writer = write_csv;
    else if (strcmp(format, "json") == 0)
        writer = write_json;
    else if (strcmp(format, "svg") == 0)
        writer = write_svg;
    else
        return ps_error_set(PS_EUSAGE, "timeline: unknown format '%s' (csv, json, svg)", format);
    if (!trace)
        return ps_error_set(PS_EUSAGE, "timeline: no trace file given");
    struct ps_reports rs;
    int rc = ps_reports_build((char *[]){(char *)trace}, 1, NULL, &rs);
    const struct ps_report *r = rc ? NULL : rs.r[0];
    if (!rc && !r->t->nsamples)
        rc = ps_error_set(PS_EUSAGE, "timeline: trace '%s' has no resource samples (it was recorded "
                                     "with PERFSHIM_SAMPLE_MS=0, or ended before the first sample)",
                          trace);
    struct row *rows = NULL;
    if (!rc && !(rows = rows_of(r)))
        rc = PS_ENOMEM;
    if (!rc) {
        struct output o;
        rc = output_open(&o, outpath);
        if (!rc)
            rc = output_close(&o, writer(o.f, r, rows));
    }
    free(rows);
    ps_reports_free(&rs);
    return rc;
}
