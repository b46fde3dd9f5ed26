/* Shared pieces of the command line (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

int output_open(struct output *o, const char *path)
{
    o->path = path;
    o->tmp = NULL;
    if (!path || strcmp(path, "-") == 0) {
        o->f = stdout;
        return 0;
    }
    /* A device, a FIFO or a terminal (-o /dev/stderr, a named pipe) is
     * written as it is: a rename would put a plain file in its place. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            return ps_error_set(PS_EUSAGE, "cannot write '%s': it is a directory", path);
        o->f = fopen(path, "w");
        if (!o->f)
            return ps_error_set(PS_EIO, "cannot write '%s': %s", path, strerror(errno));
        return 0;
    }
    size_t n = strlen(path) + 32;
    o->tmp = malloc(n);
    if (!o->tmp)
        return PS_ENOMEM;
    snprintf(o->tmp, n, "%s.tmp.%d", path, (int)getpid());
    o->f = fopen(o->tmp, "wx");
    if (!o->f) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        return ps_error_set(PS_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    return 0;
}

int output_close(struct output *o, int rc)
{
    if (o->f == stdout) {
        if (fflush(stdout) != 0 && !rc)
            rc = ps_error_set(PS_EIO, "cannot write to standard output: %s", strerror(errno));
        return rc;
    }
    if (fclose(o->f) != 0 && !rc)
        rc = ps_error_set(PS_EIO, "cannot write '%s': %s", o->path, strerror(errno));
    if (!o->tmp)
        return rc;
    if (!rc && rename(o->tmp, o->path) != 0)
        rc = ps_error_set(PS_EIO, "cannot write '%s': %s", o->path, strerror(errno));
    if (rc)
        unlink(o->tmp);
    free(o->tmp);
    return rc;
}

int ps_reports_build(char *const *paths, size_t n, const struct ps_report_opts *opts,
                     struct ps_reports *out)
{
    out->n = n;
    out->r = calloc(n ? n : 1, sizeof *out->r);
    out->sym = calloc(n ? n : 1, sizeof *out->sym);
    int rc = out->r && out->sym ? 0 : PS_ENOMEM;
    for (size_t k = 0; !rc && k < n; k++) {
        rc = ps_sym_new(&out->sym[k]);
        if (!rc)
            rc = ps_report_build(paths[k], out->sym[k], opts, &out->r[k]);
    }
    for (size_t k = 0; !rc && k < n; k++) {
        const char *const *w = ps_sym_warnings(out->sym[k]);
        for (; w && *w; w++)
            fprintf(stderr, "perfshim: warning: %s\n", *w);
    }
    return rc;
}

void ps_reports_free(struct ps_reports *rs)
{
    for (size_t k = 0; rs->r && k < rs->n; k++)
        ps_report_free(rs->r[k]);
    for (size_t k = 0; rs->sym && k < rs->n; k++)
        ps_sym_free(rs->sym[k]);
    free(rs->r);
    free(rs->sym);
    rs->r = NULL;
    rs->sym = NULL;
}

int ps_parse_duration(const char *s, double *seconds)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0 || *s == '-' || *s == '+')
        return -1;
    double mult = 1;
    if (strcmp(end, "ms") == 0)
        mult = 0.001;
    else if (strcmp(end, "s") == 0 || *end == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60;
    else if (strcmp(end, "h") == 0)
        mult = 3600;
    else
        return -1;
    *seconds = v * mult;
    return 0;
}
