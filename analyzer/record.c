/* `perfshim record [-o TEMPLATE] [--KNOB VALUE]... [--] CMD ARGS...`: run
 * CMD under the shim.  Every PERFSHIM_* knob of include/perfshim/options.h
 * has a flag: its name in lower case with '-' for '_' (--flush-ms 200,
 * --net 0, --offcpu-min-us 500); the flag sets the variable for CMD.
 *
 * Finds libperfshim.so beside itself (../lib from bin/), refuses targets
 * the dynamic loader will not preload into (static, setuid/setgid to
 * another user) rather than produce an empty "clean" report, passes CMD's
 * exit status through (128+N when it dies of signal N, as shells do), and,
 * when CMD died of a signal, appends that to its trace: the shim cannot
 * write anything after a SIGKILL.  Every traced process appends its trace
 * path to a log file we name in PERFSHIM_RECORD_LOG, so we can list them. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "perfshim/options.h"
#include "perfshim/trace_format.h"

static int find_shim(char *out, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return ps_error_set(PS_ENOTFOUND, "cannot find libperfshim.so: /proc/self/exe unreadable");
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    const char *cands[] = {"%s/../lib/libperfshim.so", "%s/libperfshim.so",
                           "%s/../lib/perfshim/libperfshim.so"};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, cands[i], self);
        if (access(p, R_OK) == 0 && realpath(p, out))
            return 0;
    }
    (void)size;
    return ps_error_set(PS_ENOTFOUND, "cannot find libperfshim.so next to '%s'", self);
}

/* Resolve CMD the way execvp will. */
static int resolve(const char *cmd, char *out, size_t size)
{
    if (strchr(cmd, '/')) {
        snprintf(out, size, "%s", cmd);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, size, "%.*s/%s", (int)(len ? len : 1), len ? path : ".", cmd);
        if (access(out, X_OK) == 0)
            return 0;
        path += len + (colon != NULL);
    }
    return -1;
}

/* 0: fine; else an error stating why the loader will not preload into it. */
static int check_target(const char *cmd, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ps_error_set(PS_ENOTFOUND, "cannot run '%s': %s", cmd, strerror(errno));
    if (((st.st_mode & S_ISUID) && st.st_uid != getuid()) ||
        ((st.st_mode & S_ISGID) && st.st_gid != getgid()))
        return ps_error_set(PS_EUSAGE,
                            "cannot record '%s': it is setuid/setgid, and the loader ignores "
                            "LD_PRELOAD for such programs", cmd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* execute-only: let exec decide */
    Elf64_Ehdr eh;
    ssize_t n = read(fd, &eh, sizeof eh);
    int rc = 0;
    if (n == (ssize_t)sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
        eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_phentsize == sizeof(Elf64_Phdr)) {
        bool interp = false;
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_INTERP)
                interp = true;
        }
        if (!interp)
            rc = ps_error_set(PS_EUSAGE,
                              "cannot record '%s': it is statically linked, so LD_PRELOAD cannot "
                              "reach it (rebuild it dynamically linked)", cmd);
    }
    close(fd);
    return rc;
}

/* Cut a trace back to its last complete record (a killed process may have
 * left half of one), then append EXIT_SIGNAL. */
void ps_append_signal(const char *trace, int sig)
{
    FILE *f = fopen(trace, "r+b");
    if (!f)
        return;
    uint8_t hdr[PS_TRACE_HEADER_LEN];
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr || memcmp(hdr, PS_TRACE_MAGIC, 8) != 0) {
        fclose(f);
        return;
    }
    long good = PS_TRACE_HEADER_LEN;
    for (;;) {
        int kind = fgetc(f);
        if (kind == EOF)
            break;
        uint64_t len = 0;
        int c = 0;
        unsigned shift = 0;
        bool ok = false;
        while (shift < 70 && (c = fgetc(f)) != EOF) {
            len |= (uint64_t)(c & 0x7f) << shift;
            shift += 7;
            if (!(c & 0x80)) {
                ok = true;
                break;
            }
        }
        if (!ok || fseek(f, (long)len, SEEK_CUR) != 0)
            break;
        long here = ftell(f);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        if (here > size)
            break;
        fseek(f, here, SEEK_SET);
        good = here;
    }
    fflush(f);
    if (ftruncate(fileno(f), good) == 0 && fseek(f, good, SEEK_SET) == 0) {
        uint8_t rec[3] = {PS_REC_EXIT_SIGNAL, 1, (uint8_t)sig};
        fwrite(rec, 1, sizeof rec, f);
    }
    fclose(f);
}

static pid_t child;

/* The knobs a flag may set: all but OUTPUT (-o) and RECORD_LOG (ours). */
static const char *const knobs[] = {
#define PS__X(name, def, help) #name,
    PS_OPTIONS(PS__X)
#undef PS__X
};

/* "--flush-ms" -> "PERFSHIM_FLUSH_MS" in ENV; false when it names no knob. */
bool ps_knob_flag(const char *flag, char *env, size_t size)
{
    for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
        const char *n = knobs[k];
        if (!strcmp(n, "OUTPUT") || !strcmp(n, "RECORD_LOG"))
            continue;
        char want[64] = "--";
        size_t j = 0;
        for (; n[j] && j + 3 < sizeof want; j++)
            want[2 + j] = n[j] == '_' ? '-' : (char)(n[j] >= 'A' && n[j] <= 'Z' ? n[j] - 'A' + 'a' : n[j]);
        want[2 + j] = 0;
        if (strcmp(flag, want) == 0) {
            snprintf(env, size, "PERFSHIM_%s", n);
            return true;
        }
    }
    return false;
}

static void forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

int ps_launch_setup(struct ps_launch *l, const char *cmd, const char *tmpl)
{
    int rc = find_shim(l->shim, sizeof l->shim);
    if (rc)
        return rc;
    if (resolve(cmd, l->target, sizeof l->target) != 0)
        return ps_error_set(PS_ENOTFOUND, "cannot run '%s': command not found", cmd);
    if ((rc = check_target(cmd, l->target)))
        return rc;
    snprintf(l->log, sizeof l->log, "/tmp/perfshim-record.XXXXXX");
    int lfd = mkstemp(l->log);
    if (lfd < 0)
        return ps_error_set(PS_EIO, "cannot create a temporary file: %s", strerror(errno));
    close(lfd);
    const char *old = getenv("LD_PRELOAD");
    char *preload = malloc(strlen(l->shim) + (old ? strlen(old) : 0) + 2);
    if (!preload) {
        unlink(l->log);
        return PS_ENOMEM;
    }
    sprintf(preload, "%s%s%s", l->shim, old && *old ? ":" : "", old && *old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    free(preload);
    setenv("PERFSHIM_RECORD_LOG", l->log, 1);
    if (tmpl)
        setenv("PERFSHIM_OUTPUT", tmpl, 1);
    return 0;
}

size_t ps_launch_traces(struct ps_launch *l, pid_t child, int sig, char ***out)
{
    /* Which traces were written: "<pid> <path>" lines. */
    char **paths = NULL;
    size_t n = 0;
    char *last_of_child = NULL;
    FILE *lf = fopen(l->log, "r");
    if (lf) {
        char line[PATH_MAX + 32];
        while (fgets(line, sizeof line, lf)) {
            line[strcspn(line, "\n")] = 0;
            char *sp = strchr(line, ' ');
            if (!sp)
                continue;
            char **np = realloc(paths, (n + 1) * sizeof *np);
            if (!np)
                break;
            paths = np;
            paths[n] = strdup(sp + 1);
            if (!paths[n])
                break;
            if (atol(line) == (long)child)
                last_of_child = paths[n];
            n++;
        }
        fclose(lf);
    }
    unlink(l->log);
    if (sig && last_of_child)
        ps_append_signal(last_of_child, sig);
    *out = paths;
    return n;
}

int ps_cmd_record(int argc, char **argv)
{
    const char *tmpl = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (++i >= argc)
                return ps_error_set(PS_EUSAGE, "record: -o needs a file name template");
            tmpl = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            char env[64];
            if (!ps_knob_flag(argv[i], env, sizeof env))
                return ps_error_set(PS_EUSAGE, "record: unknown option '%s'", argv[i]);
            if (++i >= argc || !argv[i][0])
                return ps_error_set(PS_EUSAGE, "record: %s needs a value", argv[i - 1]);
            setenv(env, argv[i], 1); /* the shim checks the value and says so */
        } else {
            break;
        }
    }
    if (i >= argc)
        return ps_error_set(PS_EUSAGE, "record: no command given (usage: perfshim record [-o TEMPLATE] [--KNOB VALUE]... [--] CMD ARGS...)");
    struct ps_launch l;
    int rc = ps_launch_setup(&l, argv[i], tmpl);
    if (rc)
        return rc;
    fflush(NULL);
    child = fork();
    if (child < 0) {
        unlink(l.log);
        return ps_error_set(PS_EIO, "record: cannot fork: %s", strerror(errno));
    }
    if (child == 0) {
        execv(l.target, argv + i);
        fprintf(stderr, "perfshim: cannot run '%s': %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    /* The terminal sends ^C and ^\ to the whole group: the target decides. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTERM, forward);
    signal(SIGHUP, forward);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;

    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    char **paths = NULL;
    size_t n = ps_launch_traces(&l, child, sig, &paths);
    if (n == 0) {
        fprintf(stderr, "perfshim: no trace was written (did '%s' start? is the output directory "
                        "writable?)\n", argv[i]);
    } else {
        fprintf(stderr, "perfshim: wrote %zu trace%s:", n, n == 1 ? "" : "s");
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, " %s", paths[k]);
        fprintf(stderr, "\nperfshim: read %s with: perfshim report %s\n", n == 1 ? "it" : "one",
                paths[0]);
    }
    for (size_t k = 0; k < n; k++)
        free(paths[k]);
    free(paths);
    if (sig)
        return 128 + sig;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
