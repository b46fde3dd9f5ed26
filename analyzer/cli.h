/* What the subcommands share: output files, durations, and the entry
 * points of the subcommands that live in their own files. */
#ifndef PERFSHIM_CLI_H
#define PERFSHIM_CLI_H

#include <stdio.h>

#include "report.h"

/* Output goes to a temporary file renamed over the path only on success,
 * so a failed run never destroys what the file held ("-" or NULL: stdout). */
struct output {
    FILE *f;
    const char *path;
    char *tmp;
};

int output_open(struct output *o, const char *path);
/* Close (and rename into place); RC is the writer's result, returned or
 * replaced by the first error here. */
int output_close(struct output *o, int rc);

/* The traces a command reads, analysed, with the symbolizer their frames
 * point into. */
struct ps_reports {
    struct ps_report **r;
    size_t n;
    /* One per trace: module ids are only unique within a trace, and the
     * symbolizer caches modules by id. */
    struct ps_symbolizer **sym;
};

/* Read and analyse N traces (OPTS may be NULL), then print the symbolizer's
 * warnings; ps_reports_free undoes it (also after a failure). */
int ps_reports_build(char *const *paths, size_t n, const struct ps_report_opts *opts,
                     struct ps_reports *out);
void ps_reports_free(struct ps_reports *rs);

/* "500ms", "90s", "30m", "1h", "2.5" (seconds): 0, or -1 when not a duration. */
int ps_parse_duration(const char *s, double *seconds);

/* Running a command under the shim (record.c), for record and soak. */
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct ps_launch {
    char shim[PATH_MAX], target[PATH_MAX];
    char log[64];                /* PERFSHIM_RECORD_LOG: each process's trace path */
};

/* Find the shim and CMD, refuse what the loader will not preload into, and
 * set LD_PRELOAD, PERFSHIM_RECORD_LOG and (TMPL) PERFSHIM_OUTPUT in our
 * environment for the child to inherit. */
int ps_launch_setup(struct ps_launch *l, const char *cmd, const char *tmpl);
/* After the child ended (of signal SIG, or 0): the traces its processes
 * wrote (the child's gets EXIT_SIGNAL appended); the log is removed. */
size_t ps_launch_traces(struct ps_launch *l, pid_t child, int sig, char ***paths);
void ps_append_signal(const char *trace, int sig);
/* "--flush-ms" -> "PERFSHIM_FLUSH_MS"; false when the flag names no knob. */
bool ps_knob_flag(const char *flag, char *env, size_t size);

int ps_cmd_record(int argc, char **argv);
int ps_cmd_timeline(int argc, char **argv);
int ps_cmd_soak(int argc, char **argv);

#endif
