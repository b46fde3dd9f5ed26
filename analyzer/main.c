/* perfshim: the command-line tool.  Subcommands parse their flags here and
 * call the pipeline; only main() turns an error into one line on stderr and
 * exit status 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "errors.h"
#include "flame.h"
#include "html.h"
#include "perfshim/options.h"
#include "report.h"


static void usage(FILE *out)
{
    fprintf(out,
            "usage: perfshim <command> [options]\n"
            "\n"
            "  record   [-o TEMPLATE] [--KNOB VALUE]... [--] CMD ARGS...\n"
            "           run CMD with the shim, write its trace; --KNOB is a PERFSHIM_* name\n"
            "           in lower case with '-' (--flush-ms 200, --net 0)\n"
            "  report   [--format text|json|markdown|html] [--warmup D] [-o FILE] TRACE...\n"
            "  flame    --type alloc|leak|cpu|offcpu [--format folded|svg|pprof|speedscope]\n"
            "           [--per-thread] [-o FILE] TRACE\n"
            "  timeline [--format csv|json|svg] [-o FILE] TRACE\n"
            "  check    [--rules FILE] [--max-leaked-bytes [KINDS=]N] [--max-latency WHAT.PCT=D]...\n"
            "           [--include-reachable] [--junit FILE] TRACE\n"
            "           exit 0 when every rule holds, 1 when one fails (rules: docs/usage.md)\n"
            "  diff     [--format text|json|markdown] [--threshold PCT] [--min-latency-us N]\n"
            "           [-o FILE] BASELINE CURRENT   exit 1 when CURRENT regressed\n"
            "  soak     --duration D [--warmup D] [--load CMD] [--ready CMD] [--stop term|kill]\n"
            "           [--grace D] [--ready-timeout D] [-o TEMPLATE] [--format F] [--KNOB VALUE]...\n"
            "           [--] SERVER ARGS...   run SERVER under load for D, then report its growth\n"
            "           (durations: 500ms, 90s, 30m, 1h, or seconds)\n"
            "\n"
            "or without the wrapper:  LD_PRELOAD=/abs/path/libperfshim.so CMD ARGS...\n"
            "\n"
            "environment (the shim reads these; defaults in brackets):\n");
#define PS__X(name, def, help) fprintf(out, "  PERFSHIM_%-12s %s [%s]\n", #name, help, def);
    PS_OPTIONS(PS__X)
#undef PS__X
    fprintf(out, "\ndocs: docs/usage.md, docs/trace-format.md, docs/report-schema.md\n");
}

static int cmd_report(int argc, char **argv)
{
    const char *format = "text", *outpath = NULL;
    struct ps_report_opts ropts = {.warmup_s = -1};
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 || strcmp(argv[i], "-f") == 0) {
            if (++i >= argc)
                return ps_error_set(PS_EUSAGE, "report: --format needs a value (text, json, markdown, html)");
            format = argv[i];
        } else if (strncmp(argv[i], "--format=", 9) == 0) {
            format = argv[i] + 9;
        } else if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (++i >= argc)
                return ps_error_set(PS_EUSAGE, "report: -o needs a file name");
            outpath = argv[i];
        } else if (strcmp(argv[i], "--warmup") == 0) {
            if (++i >= argc || ps_parse_duration(argv[i], &ropts.warmup_s))
                return ps_error_set(PS_EUSAGE, "report: --warmup needs a duration (30s, 2m, 1h)");
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return ps_error_set(PS_EUSAGE, "report: unknown option '%s'", argv[i]);
        } else {
            break;
        }
    }
    int (*writer)(FILE *, struct ps_report **, size_t);
    if (strcmp(format, "text") == 0)
        writer = ps_write_text;
    else if (strcmp(format, "json") == 0)
        writer = ps_write_json;
    else if (strcmp(format, "markdown") == 0 || strcmp(format, "md") == 0)
        writer = ps_write_markdown;
    else if (strcmp(format, "html") == 0)
        writer = ps_write_html;
    else
        return ps_error_set(PS_EUSAGE, "report: unknown format '%s' (text, json, markdown, html)", format);
    if (i >= argc)
        return ps_error_set(PS_EUSAGE, "report: no trace file given");
    struct ps_reports rs;
    int rc = ps_reports_build(argv + i, (size_t)(argc - i), &ropts, &rs);
    if (!rc) {
        struct output o;
        rc = output_open(&o, outpath);
        if (!rc)
            rc = output_close(&o, writer(o.f, rs.r, rs.n));
    }
    ps_reports_free(&rs);
    return rc;
}

static int cmd_flame(int argc, char **argv)
{
    const char *type = NULL, *format = "folded", *outpath = NULL, *trace = NULL;
    bool per_thread = false;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--type") == 0 || strcmp(argv[i], "-t") == 0) && i + 1 < argc)
            type = argv[++i];
        else if (strncmp(argv[i], "--type=", 7) == 0)
            type = argv[i] + 7;
        else if ((strcmp(argv[i], "--format") == 0 || strcmp(argv[i], "-f") == 0) && i + 1 < argc)
            format = argv[++i];
        else if (strncmp(argv[i], "--format=", 9) == 0)
            format = argv[i] + 9;
        else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc)
            outpath = argv[++i];
        else if (strcmp(argv[i], "--per-thread") == 0)
            per_thread = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return ps_error_set(PS_EUSAGE, "flame: unknown or incomplete option '%s'", argv[i]);
        else if (!trace)
            trace = argv[i];
        else
            return ps_error_set(PS_EUSAGE, "flame: one trace at a time ('%s' is extra)", argv[i]);
    }
    if (!type)
        return ps_error_set(PS_EUSAGE, "flame: --type is required (alloc, leak, cpu, offcpu)");
    static const char *const types[] = {[PS_FLAME_ALLOC] = "alloc", [PS_FLAME_LEAK] = "leak",
                                        [PS_FLAME_CPU] = "cpu", [PS_FLAME_OFFCPU] = "offcpu"};
    int ft = -1;
    for (int k = 0; k < 4; k++)
        if (strcmp(type, types[k]) == 0)
            ft = k;
    if (ft < 0)
        return ps_error_set(PS_EUSAGE, "flame: unknown type '%s' (alloc, leak, cpu, offcpu)", type);
    int (*writer)(FILE *, const struct ps_flame *);
    bool binary = false;
    if (strcmp(format, "folded") == 0)
        writer = ps_flame_write_folded;
    else if (strcmp(format, "svg") == 0)
        writer = ps_flame_write_svg;
    else if (strcmp(format, "pprof") == 0)
        writer = ps_flame_write_pprof, binary = true;
    else if (strcmp(format, "speedscope") == 0)
        writer = ps_flame_write_speedscope;
    else
        return ps_error_set(PS_EUSAGE, "flame: unknown format '%s' (folded, svg, pprof, speedscope)",
                            format);
    if (!trace)
        return ps_error_set(PS_EUSAGE, "flame: no trace file given");
    if (binary && !outpath && isatty(STDOUT_FILENO))
        return ps_error_set(PS_EUSAGE, "flame: --format pprof is binary; give -o FILE or redirect stdout");
    struct ps_reports rs;
    int rc = ps_reports_build((char *[]){(char *)trace}, 1, NULL, &rs);
    if (!rc && ft == PS_FLAME_CPU && !rs.r[0]->t->proc.cpu_hz)
        rc = rs.r[0]->t->version < 3
                 ? ps_error_set(PS_EUSAGE, "flame: trace '%s' has no CPU samples (trace format %u, "
                                           "from before CPU sampling)", trace, rs.r[0]->t->version)
                 : ps_error_set(PS_EUSAGE, "flame: trace '%s' has no CPU samples (recorded with "
                                           "PERFSHIM_CPU_HZ=0 or an unusable PERFSHIM_CPU_SIGNAL)", trace);
    struct ps_flame f;
    if (!rc)
        rc = ps_flame_build(rs.r[0], (enum ps_flame_type)ft, per_thread, &f);
    if (!rc) {
        struct output o;
        rc = output_open(&o, outpath);
        if (!rc)
            rc = output_close(&o, writer(o.f, &f));
        ps_flame_free(&f);
    }
    ps_reports_free(&rs);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int rc;
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    } else if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("perfshim %s (trace format %d)\n", PERFSHIM_VERSION, PS_TRACE_VERSION);
        return 0;
    } else if (strcmp(cmd, "report") == 0) {
        rc = cmd_report(argc - 1, argv + 1);
    } else if (strcmp(cmd, "flame") == 0) {
        rc = cmd_flame(argc - 1, argv + 1);
    } else if (strcmp(cmd, "record") == 0) {
        rc = ps_cmd_record(argc - 1, argv + 1);
        if (rc >= 0)
            return rc; /* the target's own status */
    } else if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        usage(stdout); /* perfshim soak --help, ... */
        return 0;
    } else if (strcmp(cmd, "timeline") == 0) {
        rc = ps_cmd_timeline(argc - 1, argv + 1);
    } else if (strcmp(cmd, "soak") == 0) {
        rc = ps_cmd_soak(argc - 1, argv + 1);
        if (rc >= 0)
            return rc;
    } else if (strcmp(cmd, "check") == 0) {
        rc = ps_cmd_check(argc - 1, argv + 1);
        if (rc >= 0)
            return rc; /* 0 all rules hold, 1 one failed */
    } else if (strcmp(cmd, "diff") == 0) {
        rc = ps_cmd_diff(argc - 1, argv + 1);
        if (rc >= 0)
            return rc; /* 0 no regression, 1 regressed */
    } else {
        rc = ps_error_set(PS_EUSAGE, "unknown command '%s' (see perfshim --help)", cmd);
    }
    if (rc < 0) {
        fprintf(stderr, "perfshim: %s\n", ps_error_detail(rc));
        return 2;
    }
    return 0;
}
