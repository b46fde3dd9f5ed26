/* `report --format html`: one self-contained HTML page, for a person with
 * a browser and no network (a CI artifact): the summary, the leaks with
 * their stacks folded into <details>, leak suspects, latency tables, the
 * resource timeline (timeline.c's chart, inline) and every flame graph the
 * trace supports (flame_svg.c's interactive graph, inline).  Nothing is
 * fetched: no URL but the SVG namespace appears in the page.  Several
 * traces give one section each.
 *
 * For tests and people alike: window.psErrors collects script errors, each
 * flame graph's root element carries its psFlame API and data-ready="1",
 * and <body data-ready="1"> is set once every script has run. */
#include "html.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "flame.h"
#include "markup.h"
#include "timeline.h"

#define MAX_LEAKS 200      /* rows; the JSON report has them all */
#define MAX_SUSPECTS 20
#define TOP_CPU 20

static const char page_style[] =
    "body { font-family: sans-serif; margin: 1.5em; color: #111; background: #fff; }\n"
    "h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ccc; margin-top: 1.5em; }\n"
    "h3 { margin-top: 1.4em; }\n"
    "table { border-collapse: collapse; margin: 0.5em 0; }\n"
    "th, td { border: 1px solid #ddd; padding: 3px 8px; vertical-align: top; }\n"
    "th { background: #f3f3f3; text-align: left; }\n"
    "td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }\n"
    ".verdict { font-weight: bold; font-size: 1.1em; }\n"
    ".bad { color: #b00020; } .good { color: #1b5e20; }\n"
    ".note { color: #555; }\n"
    "details summary { cursor: pointer; }\n"
    "ol.stack { margin: 0.3em 0 0.3em 1.2em; padding-left: 1.2em; font-family: monospace; font-size: 0.9em; }\n"
    "ol.stack .loc { color: #555; } ol.stack .inl { color: #8a6d00; }\n"
    "figure { margin: 1em 0; } figcaption { font-weight: bold; margin-bottom: 0.3em; }\n"
    "svg.ps-flame, svg.ps-timeline { max-width: 100%; height: auto; border: 1px solid #ddd; }\n"
    "nav a { margin-right: 1em; }\n";

/* First in the page: every later script error is recorded. */
static const char page_errors[] =
    "window.psErrors = [];\n"
    "window.onerror = function (msg, src, line, col) {\n"
    "  window.psErrors.push(String(msg) + ' (' + (src || '') + ':' + line + ':' + col + ')');\n"
    "};\n";

static const char *commas(uint64_t v, char *buf)
{
    return ps_commas(v, buf);
}

static const char *us(double v, char *buf)
{
    snprintf(buf, 32, v < 10 ? "%.2f" : v < 1000 ? "%.1f" : "%.0f", v);
    return buf;
}

static const char *base_name(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "";
}

static void put_cmd(FILE *out, const struct ps_trace *t)
{
    for (size_t i = 0; i < t->proc.argc; i++) {
        if (i)
            fputc(' ', out);
        ps_put_markup(out, t->proc.argv[i]);
    }
}

/* "function  file:line" of one frame, escaped. */
static void put_frame(FILE *out, const struct ps_frame *f)
{
    fputs("<code>", out);
    ps_put_markup(out, f->function ? f->function : "??");
    fputs("</code> <span class=\"loc\">", out);
    if (f->file) {
        ps_put_markup(out, ps_display_path(f->file));
        if (f->line)
            fprintf(out, ":%d", f->line);
    } else {
        fputs("in ", out);
        ps_put_markup(out, f->module && *f->module ? base_name(f->module) : "?");
    }
    fputs("</span>", out);
    if (f->inlined)
        fputs(" <span class=\"inl\">(inlined)</span>", out);
}

/* A stack folded into <details>: its first frame as the summary. */
static void put_stack(FILE *out, const struct ps_frame *f, size_t n)
{
    fputs("<details class=\"stack\"><summary>", out);
    if (n)
        put_frame(out, &f[0]);
    else
        fputs("(no frames)", out);
    fprintf(out, " <span class=\"note\">(%zu frame%s)</span></summary><ol class=\"stack\">", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        fputs("<li>", out);
        put_frame(out, &f[i]);
        fputs("</li>", out);
    }
    fputs("</ol></details>", out);
}

static void row_kv(FILE *out, const char *key, const char *value)
{
    fprintf(out, "<tr><th>%s</th><td class=\"n\">%s</td></tr>\n", key, value);
}

static void html_summary(FILE *out, const struct ps_report *r)
{
    const struct ps_heap *h = r->h;
    char a[32], b[48];
    static const char *const kinds[] = {"definite", "indirect", "possible", "reachable", "unknown"};
    uint64_t kb[5] = {0}, kn[5] = {0};
    for (size_t i = 0; i < r->nleaks; i++)
        for (int k = 0; k < 5; k++)
            if (r->leaks[i].kind && strcmp(r->leaks[i].kind, kinds[k]) == 0) {
                kb[k] += r->leaks[i].bytes;
                kn[k] += r->leaks[i].blocks;
            }
    fputs("<table class=\"summary\">\n", out);
    row_kv(out, "allocations", commas(h->allocations, a));
    row_kv(out, "frees", commas(h->frees, a));
    row_kv(out, "reallocations", commas(h->reallocations, a));
    row_kv(out, "total allocated bytes", commas(h->total_allocated, a));
    snprintf(b, sizeof b, "%s (at %.3f s)", commas(h->peak_bytes, a), r->peak_s);
    row_kv(out, "peak heap bytes", b);
    row_kv(out, "leaked bytes", commas(r->leaked_bytes, a));
    row_kv(out, "leaked blocks", commas(r->leaked_blocks, a));
    for (int k = 0; k < 5; k++) {
        if (!kn[k])
            continue;
        char key[64];
        snprintf(key, sizeof key, "%s: bytes in blocks", kinds[k]);
        snprintf(b, sizeof b, "%s in ", commas(kb[k], a));
        commas(kn[k], a);
        strncat(b, a, sizeof b - strlen(b) - 1);
        row_kv(out, key, b);
    }
    if (h->unknown_frees)
        row_kv(out, "untracked frees", commas(h->unknown_frees, a));
    fputs("</table>\n", out);
}

static void html_leaks(FILE *out, const struct ps_report *r, const char *idp)
{
    char a[32], b[32];
    fprintf(out, "<h3 id=\"%sleaks\">%s</h3>\n", idp, r->live_at_end ? "Blocks live at end" : "Leaks");
    if (!r->nleaks) {
        fputs("<p class=\"good\">No leaks: every block allocated under perfshim was freed.</p>\n", out);
        return;
    }
    fprintf(out, "<p class=\"note\">%zu site%s, grouped by allocation stack, largest first; click a site for its "
                 "stack (innermost frame first).</p>\n",
            r->nleaks, r->nleaks == 1 ? "" : "s");
    fputs("<table class=\"leaks\"><thead><tr><th>#</th><th>bytes</th><th>blocks</th><th>kind</th>"
          "<th>allocated at</th></tr></thead><tbody>\n", out);
    for (size_t i = 0; i < r->nleaks && i < MAX_LEAKS; i++) {
        const struct ps_leak *l = &r->leaks[i];
        fprintf(out, "<tr><td class=\"n\">%zu</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>", i + 1,
                commas(l->bytes, a), commas(l->blocks, b));
        ps_put_markup(out, l->kind ? l->kind : "unknown");
        fputs("</td><td>", out);
        put_stack(out, l->frames, l->nframes);
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
    if (r->nleaks > MAX_LEAKS)
        fprintf(out, "<p class=\"note\">%zu more sites not shown (see <code>report --format json</code>).</p>\n",
                r->nleaks - MAX_LEAKS);
}

static void html_suspects(FILE *out, const struct ps_report *r)
{
    if (!r->nsuspects)
        return;
    char a[32], b[32];
    fputs("<h3>Leak suspects</h3>\n<p class=\"note\">Sites whose live bytes kept growing after the warm-up, "
          "fastest first.</p>\n<table><thead><tr><th>growth bytes/min</th><th>live bytes at end</th>"
          "<th>blocks</th><th>status</th><th>allocated at</th></tr></thead><tbody>\n", out);
    for (size_t i = 0; i < r->nsuspects && i < MAX_SUSPECTS; i++) {
        const struct ps_suspect_rep *s = &r->suspects[i];
        fprintf(out, "<tr><td class=\"n\">%+.0f</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>%s</td><td>",
                s->s.growth_bytes_per_min, commas(s->s.live_bytes_end, a), commas(s->s.live_blocks_end, b),
                s->s.status);
        put_stack(out, s->frames, s->nframes);
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
}

static void lat_cells(FILE *out, const struct ps_latency *l)
{
    char a[32];
    const double v[] = {l->p50_us, l->p90_us, l->p95_us, l->p99_us, l->p999_us, l->max_us};
    for (int k = 0; k < 6; k++)
        fprintf(out, "<td class=\"n\">%s</td>", us(v[k], a));
}

#define LAT_HEAD "<th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th>"

static void html_net(FILE *out, const struct ps_net_summary *n, const char *idp)
{
    char a[32], b[32], c[32], d[32];
    if (!n->has_requests && !n->ncalls && !n->npeers)
        return;
    fprintf(out, "<h3 id=\"%slatency\">Requests and calls</h3>\n", idp);
    if (n->has_requests) {
        const struct ps_request_summary *r = &n->requests;
        fprintf(out, "<p>Requests: %s, %.1f per second over %.3f s busy, %.1f us CPU per request.</p>\n",
                commas(r->lat.count, a), r->throughput_rps, r->busy_s, r->cpu_us_per_request);
        fputs("<table class=\"latency\"><thead><tr><th>latency (us)</th>" LAT_HEAD "</tr></thead><tbody>"
              "<tr><th>requests</th>", out);
        lat_cells(out, &r->lat);
        fputs("</tr></tbody></table>\n", out);
    }
    if (n->ncalls) {
        fputs("<table class=\"calls\"><thead><tr><th>call</th><th>count</th><th>errors</th><th>eagain</th>"
              "<th>bytes</th><th>total ms</th>" LAT_HEAD "</tr></thead><tbody>\n", out);
        for (size_t i = 0; i < n->ncalls; i++) {
            const struct ps_call_summary *k = &n->calls[i];
            fprintf(out, "<tr><th>%s</th><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                         "<td class=\"n\">%s</td><td class=\"n\">%.1f</td>",
                    k->name, commas(k->count, a), commas(k->errors, b), commas(k->eagain, c), commas(k->bytes, d),
                    k->lat.total_us / 1000);
            lat_cells(out, &k->lat);
            fputs("</tr>\n", out);
        }
        fputs("</tbody></table>\n", out);
    }
    if (n->npeers) {
        fprintf(out, "<table class=\"peers\"><thead><tr><th>peer (connections peak %" PRIu64 ")</th><th>dir</th>"
                     "<th>connections</th><th>requests</th><th>errors</th><th>bytes in</th><th>bytes out</th>"
                     "<th>p50 us</th><th>p99 us</th><th>max us</th></tr></thead><tbody>\n",
                n->connections_peak);
        for (size_t i = 0; i < n->npeers; i++) {
            const struct ps_peer_summary *p = &n->peers[i];
            fputs("<tr><th>", out);
            ps_put_markup(out, p->name);
            fprintf(out, "</th><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>",
                    p->dir == PS_PEER_INBOUND ? "in" : "out", commas(p->connections, a), commas(p->requests, b),
                    commas(p->errors, c));
            fprintf(out, "<td class=\"n\">%s</td>", commas(p->bytes_in, a));
            fprintf(out, "<td class=\"n\">%s</td>", commas(p->bytes_out, a));
            fprintf(out, "<td class=\"n\">%s</td>", us(p->lat.p50_us, a));
            fprintf(out, "<td class=\"n\">%s</td>", us(p->lat.p99_us, a));
            fprintf(out, "<td class=\"n\">%s</td></tr>\n", us(p->lat.max_us, a));
        }
        fputs("</tbody></table>\n", out);
    }
}

static int html_resources(FILE *out, const struct ps_report *r, const char *idp)
{
    const struct ps_resources *x = &r->res;
    if (!x->present)
        return 0;
    char a[32], b[32], c[32], id[64];
    fprintf(out, "<h3 id=\"%sresources\">Resources</h3>\n", idp);
    fprintf(out, "<p>Verdict: <span class=\"verdict %s\">%s</span>; heap %+.0f bytes/min, RSS %+.0f bytes/min "
                 "over %.1f s after a %.1f s warm-up (%" PRIu64 " samples).</p>\n",
            strcmp(x->verdict, "growing") == 0 ? "bad" : "good", x->verdict, x->heap_growth_bytes_per_min,
            x->rss_growth_bytes_per_min, x->window_s, x->warmup_s, x->samples);
    fprintf(out, "<p>RSS %s bytes at start, %s peak, %s at end; peaks: %" PRIu64 " threads, %" PRIu64
                 " open descriptors; CPU %.2f s.</p>\n",
            commas(x->rss_start, a), commas(x->rss_peak, b), commas(x->rss_end, c), x->threads_peak, x->fds_peak,
            x->cpu_s);
    snprintf(id, sizeof id, "%stimeline", idp);
    fputs("<figure class=\"timeline\"><figcaption>Resources over time</figcaption>\n", out);
    int rc = ps_timeline_write_svg(out, r, id);
    fputs("</figure>\n", out);
    return rc;
}

static void html_cpu(FILE *out, const struct ps_report *r)
{
    uint64_t all = r->cpu.weight;
    if (!r->t->proc.cpu_hz || !all)
        return;
    char a[32];
    fprintf(out, "<h3>CPU profile</h3>\n<p>%s samples at %" PRIu64 " Hz (%.2f s of CPU) in %zu threads.</p>\n",
            commas(all, a), r->t->proc.cpu_hz, (double)all / (double)r->t->proc.cpu_hz, r->ncpu_threads);
    fputs("<table class=\"cpu\"><thead><tr><th>self</th><th>total</th><th>function</th><th>where</th></tr></thead>"
          "<tbody>\n", out);
    for (size_t i = 0; i < r->ncpu_funcs && i < TOP_CPU; i++) {
        const struct ps_cpu_func *f = &r->cpu_funcs[i];
        if (!f->self)
            break;
        fprintf(out, "<tr><td class=\"n\">%.1f%%</td><td class=\"n\">%.1f%%</td><td><code>",
                100.0 * (double)f->self / (double)all, 100.0 * (double)f->total / (double)all);
        ps_put_markup(out, f->function);
        fputs("</code></td><td>", out);
        ps_put_markup(out, f->file ? ps_display_path(f->file) : base_name(f->module));
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
}

/* Every flame graph with some weight; a line says which had none. */
static int html_flames(FILE *out, struct ps_report *r, const char *idp)
{
    static const char *const names[] = {"alloc", "leak", "cpu", "offcpu"};
    static const char *const why[] = {"no allocations", "no leaks", "no CPU samples", "no blocked calls"};
    fprintf(out, "<h3 id=\"%sflames\">Flame graphs</h3>\n<p class=\"note\">Click a frame to zoom, "
                 "\"Search\" to highlight frames by name.</p>\n", idp);
    char missing[160] = "";
    int rc = 0;
    for (int type = PS_FLAME_ALLOC; !rc && type <= PS_FLAME_OFFCPU; type++) {
        if (type == PS_FLAME_CPU && !r->t->proc.cpu_hz) {
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%scpu (not sampled)",
                     *missing ? ", " : "");
            continue;
        }
        struct ps_flame f;
        rc = ps_flame_build(r, (enum ps_flame_type)type, false, &f);
        if (rc)
            break;
        if (!f.total) {
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s (%s)", *missing ? ", " : "",
                     names[type], why[type]);
        } else {
            char id[64];
            snprintf(id, sizeof id, "%s%s-", idp, names[type]);
            fprintf(out, "<figure class=\"flame\" data-type=\"%s\"><figcaption>", names[type]);
            ps_put_markup(out, f.title);
            fputs("</figcaption>\n", out);
            rc = ps_flame_write_svg_embedded(out, &f, id);
            fputs("</figure>\n", out);
        }
        ps_flame_free(&f);
    }
    if (!rc && *missing)
        fprintf(out, "<p class=\"note\">No graph for: %s.</p>\n", missing);
    return rc;
}

static int html_one(FILE *out, struct ps_report *r, size_t k)
{
    const struct ps_trace *t = r->t;
    char idp[32], a[32], b[32];
    snprintf(idp, sizeof idp, "t%zu-", k);
    fprintf(out, "<section class=\"trace\" id=\"t%zu\">\n<h2>", k);
    put_cmd(out, t);
    fputs("</h2>\n<p>", out);
    fprintf(out, "pid %" PRIu64 ", %s after %.3f s; trace <code>", t->proc.pid, r->exit, r->duration_s);
    ps_put_markup(out, t->path);
    fputs("</code></p>\n", out);
    if (r->live_at_end)
        fputs("<p class=\"note\">The process did not exit (killed, or still running): the blocks below were live "
              "when the trace ends, not proven leaked.</p>\n", out);
    fprintf(out, "<nav><a href=\"#%sleaks\">leaks</a><a href=\"#%slatency\">latency</a>"
                 "<a href=\"#%sresources\">resources</a><a href=\"#%sflames\">flame graphs</a></nav>\n",
            idp, idp, idp, idp);
    if (r->leaked_blocks)
        fprintf(out, "<p class=\"verdict bad\">%s %s bytes in %s blocks from %zu sites</p>\n",
                r->live_at_end ? "LIVE AT END" : "LEAKED", commas(r->leaked_bytes, a), commas(r->leaked_blocks, b),
                r->nleaks);
    else
        fputs("<p class=\"verdict good\">No leaks</p>\n", out);
    fprintf(out, "<h3 id=\"%ssummary\">Summary</h3>\n", idp);
    html_summary(out, r);
    html_leaks(out, r, idp);
    html_suspects(out, r);
    html_net(out, &r->net, idp);
    int rc = html_resources(out, r, idp);
    if (!rc) {
        html_cpu(out, r);
        rc = html_flames(out, r, idp);
    }
    fputs("</section>\n", out);
    return rc;
}

int ps_write_html(FILE *out, struct ps_report **r, size_t n)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>perfshim report", out);
    if (n == 1) {
        fputs(": ", out);
        put_cmd(out, r[0]->t);
    }
    fprintf(out, "</title>\n<style>\n%s</style>\n<script>\n%s</script>\n</head>\n<body>\n", page_style, page_errors);
    fprintf(out, "<h1>perfshim report</h1>\n<p class=\"note\">perfshim %s; %zu trace%s.</p>\n", PERFSHIM_VERSION, n,
            n == 1 ? "" : "s");
    int rc = 0;
    for (size_t k = 0; !rc && k < n; k++)
        rc = html_one(out, r[k], k);
    fputs("<script>document.body.setAttribute('data-ready', '1');</script>\n</body>\n</html>\n", out);
    if (!rc && ferror(out))
        rc = PS_EIO;
    return rc;
}
