/* `perfshim soak --duration D [--load CMD] [--] SERVER ARGS...`: run a
 * server under the shim for D while a load command runs again and again,
 * stop it, and report whether it grew.
 *
 *   start SERVER (own process group; its stdout goes to our stderr, so our
 *   stdout carries only the report) -> wait until it listens (a listening
 *   socket among its fds) or `--ready CMD` succeeds -> loop LOAD until D
 *   has passed -> stop the load, then the server (SIGTERM, SIGKILL after
 *   --grace; or SIGKILL at once) -> report its trace(s).
 *
 * SIGINT/SIGTERM/SIGHUP to us end the soak early through the same stop
 * sequence; the trace is kept and reported.  The progress line (on a
 * terminal) reads the shim's metrics file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "report.h"

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* a signal cuts it short: fine */
}

/* Start `sh -c CMD` in its own process group, without the shim. */
static pid_t spawn_sh(const char *cmd, bool quiet)
{
    pid_t p = fork();
    if (p != 0)
        return p;
    setpgid(0, 0);
    unsetenv("LD_PRELOAD");
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (quiet) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
    }
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
}

/* The socket inodes in /proc/PID/net/FILE that are in state STATE (hex). */
static size_t listening_inodes(pid_t pid, const char *file, const char *state, unsigned long *out,
                               size_t cap, size_t n)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/net/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return n;
    while (fgets(line, sizeof line, f) && n < cap) {
        char st[8];
        unsigned long inode;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, "%*s %*s %*s %7s %*s %*s %*s %*s %*s %lu", st, &inode) == 2 &&
            strcmp(st, state) == 0 && inode)
            out[n++] = inode;
    }
    fclose(f);
    return n;
}

/* Does PID hold a listening TCP socket or a bound UDP one? */
static bool listens(pid_t pid)
{
    static unsigned long inodes[4096];
    size_t n = 0;
    n = listening_inodes(pid, "tcp", "0A", inodes, 4096, n);
    n = listening_inodes(pid, "tcp6", "0A", inodes, 4096, n);
    n = listening_inodes(pid, "udp", "07", inodes, 4096, n);
    n = listening_inodes(pid, "udp6", "07", inodes, 4096, n);
    if (!n)
        return false;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char link[320], target[64];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        unsigned long ino;
        if (k <= 0)
            continue;
        target[k] = 0;
        if (sscanf(target, "socket:[%lu]", &ino) != 1)
            continue;
        for (size_t i = 0; i < n && !found; i++)
            found = inodes[i] == ino;
    }
    closedir(d);
    return found;
}

/* Stop a process group: SIGTERM, then SIGKILL after GRACE seconds. */
static int stop_group(pid_t pid, bool kill_now, double grace, int *status)
{
    if (kill_now) {
        kill(-pid, SIGKILL);
    } else {
        kill(-pid, SIGTERM);
        for (double end = now_s() + grace; now_s() < end;) {
            if (waitpid(pid, status, WNOHANG) == pid)
                goto reaped;
            nap(0.05);
        }
        kill(-pid, SIGKILL);
    }
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
reaped:
    kill(-pid, SIGKILL); /* anything the server left in its group */
    return 0;
}

/* The metrics file the shim writes for PID: %p, %e and %% expanded. */
static void metrics_path(const char *tmpl, pid_t pid, const char *exe, char *out, size_t size)
{
    size_t o = 0;
    for (const char *t = tmpl; *t && o + 1 < size; t++) {
        if (*t == '%' && (t[1] == 'p' || t[1] == 'e' || t[1] == '%')) {
            int n = t[1] == 'p' ? snprintf(out + o, size - o, "%d", (int)pid)
                    : t[1] == 'e' ? snprintf(out + o, size - o, "%s", exe)
                                  : snprintf(out + o, size - o, "%%");
            o += n > 0 ? (size_t)n : 0;
            t++;
        } else {
            out[o++] = *t;
        }
    }
    out[o < size ? o : size - 1] = 0;
}

static double metric(const char *text, const char *name)
{
    const char *p = text;
    size_t len = strlen(name);
    while ((p = strstr(p, name))) {
        if ((p == text || p[-1] == '\n') && p[len] == '{') {
            const char *sp = strchr(p, '}');
            return sp ? strtod(sp + 1, NULL) : 0;
        }
        p += len;
    }
    return -1;
}

static const char *mib(double v, char *buf)
{
    snprintf(buf, 32, "%.1f MiB", v / (1024.0 * 1024.0));
    return buf;
}

/* Growth so far: least squares over the points after the warm-up. */
struct progress {
    double *t, *heap;
    size_t n, cap;
};

static void show_progress(const char *mpath, double elapsed, double duration, double warmup,
                          struct progress *pg)
{
    char text[8192], a[32], b[32], c[32];
    FILE *f = fopen(mpath, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = 0;
    double rss = metric(text, "perfshim_rss_bytes"), heap = metric(text, "perfshim_heap_live_bytes");
    if (rss < 0 || heap < 0) {
        fprintf(stderr, "\rsoak %4.0f/%.0f s  (waiting for the first sample)   ", elapsed, duration);
        return;
    }
    if (elapsed >= warmup && pg->n < pg->cap) {
        pg->t[pg->n] = elapsed;
        pg->heap[pg->n++] = heap;
    }
    double g = pg->n >= 3 ? ps_lsq(pg->t, pg->heap, pg->n).slope * 60 : 0;
    fprintf(stderr, "\rsoak %4.0f/%.0f s  RSS %s  heap %s  heap growth %s%s/min   ", elapsed,
            duration, mib(rss, a), mib(heap, b), g >= 0 ? "+" : "-", mib(g >= 0 ? g : -g, c));
}

int ps_cmd_soak(int argc, char **argv)
{
    double duration = -1, warmup = -1, ready_timeout = 30, grace = 10;
    const char *load = NULL, *ready = NULL, *tmpl = NULL, *format = "text";
    bool kill_now = false;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double *dur = strcmp(a, "--duration") == 0        ? &duration
                      : strcmp(a, "--warmup") == 0        ? &warmup
                      : strcmp(a, "--ready-timeout") == 0 ? &ready_timeout
                      : strcmp(a, "--grace") == 0         ? &grace
                                                          : NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (dur) {
            if (!v || ps_parse_duration(v, dur))
                return ps_error_set(PS_EUSAGE, "soak: %s needs a duration (500ms, 90s, 30m, 1h)", a);
            i++;
        } else if (strcmp(a, "--load") == 0 || strcmp(a, "--ready") == 0 || strcmp(a, "-o") == 0 ||
                   strcmp(a, "--format") == 0 || strcmp(a, "--stop") == 0) {
            if (!v || !*v)
                return ps_error_set(PS_EUSAGE, "soak: %s needs a value", a);
            if (strcmp(a, "--load") == 0)
                load = v;
            else if (strcmp(a, "--ready") == 0)
                ready = v;
            else if (strcmp(a, "-o") == 0)
                tmpl = v;
            else if (strcmp(a, "--format") == 0)
                format = v;
            else if (strcmp(v, "kill") == 0 || strcmp(v, "term") == 0)
                kill_now = strcmp(v, "kill") == 0;
            else
                return ps_error_set(PS_EUSAGE, "soak: --stop is 'term' or 'kill', not '%s'", v);
            i++;
        } else if (a[0] == '-' && a[1]) {
            char env[64];
            if (!ps_knob_flag(a, env, sizeof env))
                return ps_error_set(PS_EUSAGE, "soak: unknown option '%s'", a);
            if (!v || !*v)
                return ps_error_set(PS_EUSAGE, "soak: %s needs a value", a);
            setenv(env, v, 1);
            i++;
        } else {
            break;
        }
    }
    if (duration <= 0)
        return ps_error_set(PS_EUSAGE, "soak: --duration is required (for example --duration 30m)");
    if (i >= argc)
        return ps_error_set(PS_EUSAGE, "soak: no server command given (perfshim soak --duration D "
                                       "[--load CMD] -- SERVER ARGS...)");
    int (*writer)(FILE *, struct ps_report **, size_t) =
        strcmp(format, "text") == 0       ? ps_write_text
        : strcmp(format, "json") == 0     ? ps_write_json
        : strcmp(format, "markdown") == 0 ? ps_write_markdown
                                          : NULL;
    if (!writer)
        return ps_error_set(PS_EUSAGE, "soak: unknown format '%s' (text, json, markdown)", format);

    /* The metrics file feeds the progress line: ours, unless the user named one. */
    char mdir[] = "/tmp/perfshim-soak.XXXXXX", mtmpl[PATH_MAX];
    bool own_metrics = !getenv("PERFSHIM_METRICS_FILE") || !*getenv("PERFSHIM_METRICS_FILE");
    if (own_metrics) {
        if (!mkdtemp(mdir))
            return ps_error_set(PS_EIO, "soak: cannot create a temporary directory: %s", strerror(errno));
        snprintf(mtmpl, sizeof mtmpl, "%s/metrics.prom", mdir);
        setenv("PERFSHIM_METRICS_FILE", mtmpl, 1);
    } else {
        snprintf(mtmpl, sizeof mtmpl, "%s", getenv("PERFSHIM_METRICS_FILE"));
    }
    struct ps_launch l;
    int rc = ps_launch_setup(&l, argv[i], tmpl);
    if (rc)
        goto out_dir;

    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    fflush(NULL);
    pid_t server = fork();
    if (server < 0) {
        unlink(l.log);
        rc = ps_error_set(PS_EIO, "soak: cannot fork: %s", strerror(errno));
        goto out_dir;
    }
    if (server == 0) {
        setpgid(0, 0); /* ^C reaches us, and we stop the server in order */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        dup2(2, 1);
        execv(l.target, argv + i);
        fprintf(stderr, "perfshim: cannot run '%s': %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    setpgid(server, server);
    unsetenv("LD_PRELOAD"); /* the load and --ready commands run untraced */
    /* %e is what the shim sees as /proc/self/exe: symlinks resolved */
    char real[PATH_MAX], mpath[PATH_MAX];
    if (!realpath(l.target, real))
        snprintf(real, sizeof real, "%s", l.target);
    const char *slash = strrchr(real, '/');
    metrics_path(mtmpl, server, slash ? slash + 1 : real, mpath, sizeof mpath);

    int status = 0;
    bool server_gone = false, ready_ok = false;
    double t0 = now_s();
    while (!stop_signal && now_s() - t0 < ready_timeout) {
        if (waitpid(server, &status, WNOHANG) == server) {
            server_gone = true;
            break;
        }
        if (ready) {
            /* One try may not outlast the timeout, nor ignore ^C. */
            pid_t r = spawn_sh(ready, true);
            int rs = 0;
            bool done = false;
            while (r > 0 && !stop_signal && now_s() - t0 < ready_timeout &&
                   !(done = waitpid(r, &rs, WNOHANG) == r))
                nap(0.02);
            if (r > 0 && !done) {
                kill(-r, SIGKILL);
                waitpid(r, &rs, 0);
            }
            ready_ok = done && WIFEXITED(rs) && WEXITSTATUS(rs) == 0;
        } else {
            ready_ok = listens(server);
        }
        if (ready_ok)
            break;
        nap(0.1);
    }
    if (!ready_ok && !stop_signal) {
        if (!server_gone)
            stop_group(server, true, 0, &status);
        char **paths = NULL;
        size_t n = ps_launch_traces(&l, server, 0, &paths);
        for (size_t k = 0; k < n; k++)
            free(paths[k]);
        free(paths);
        rc = server_gone ? ps_error_set(PS_EUSAGE, "soak: '%s' exited before it was ready", argv[i])
                         : ps_error_set(PS_EUSAGE,
                                        "soak: '%s' was not ready within %.0f s (no listening socket%s; "
                                        "see --ready and --ready-timeout)",
                                        argv[i], ready_timeout, ready ? ", --ready kept failing" : "");
        goto out_dir;
    }

    /* The soak proper. */
    bool tty = isatty(2);
    struct progress pg = {0};
    pg.cap = 100000;
    pg.t = malloc(pg.cap * sizeof *pg.t);
    pg.heap = malloc(pg.cap * sizeof *pg.heap);
    if (!pg.t || !pg.heap)
        pg.cap = 0;
    double start = now_s(), last_shown = 0;
    double warm = warmup >= 0 ? warmup : (duration * 0.2 < 60 ? duration * 0.2 : 60);
    pid_t loader = 0;
    double load_started = 0;
    unsigned load_failures = 0;
    bool warned = false;
    while (!stop_signal && !server_gone && now_s() - start < duration) {
        if (waitpid(server, &status, WNOHANG) == server) {
            server_gone = true;
            break;
        }
        if (loader > 0) {
            int ls;
            if (waitpid(loader, &ls, WNOHANG) == loader) {
                kill(-loader, SIGKILL); /* what it left running */
                bool failed = !WIFEXITED(ls) || WEXITSTATUS(ls) != 0;
                load_failures = failed && now_s() - load_started < 1 ? load_failures + 1 : 0;
                if (load_failures >= 3 && !warned) {
                    fprintf(stderr, "%sperfshim: warning: the load command keeps failing (exit %d); "
                                    "retrying every second\n",
                            tty ? "\n" : "", WIFEXITED(ls) ? WEXITSTATUS(ls) : 128 + WTERMSIG(ls));
                    warned = true;
                }
                loader = 0;
            }
        }
        if (load && loader == 0 && (load_failures < 3 || now_s() - load_started >= 1)) {
            loader = spawn_sh(load, true);
            load_started = now_s();
        }
        double el = now_s() - start;
        if (tty && el - last_shown >= 1) {
            show_progress(mpath, el, duration, warm, &pg);
            last_shown = el;
        }
        nap(0.1);
    }
    if (tty)
        fputc('\n', stderr);
    free(pg.t);
    free(pg.heap);
    if (loader > 0)
        stop_group(loader, false, 2, &(int){0});
    bool early = server_gone;
    if (!server_gone)
        stop_group(server, kill_now, grace, &status);
    if (stop_signal)
        fprintf(stderr, "perfshim: soak stopped after %.1f s (signal %d); the trace is kept\n",
                now_s() - start, (int)stop_signal);
    else if (early)
        fprintf(stderr, "perfshim: '%s' exited after %.1f s, before the soak's end\n", argv[i],
                now_s() - start);

    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    char **paths = NULL;
    size_t n = ps_launch_traces(&l, server, sig, &paths);
    if (n == 0) {
        rc = ps_error_set(PS_EIO, "soak: '%s' wrote no trace (is the output directory writable?)",
                          argv[i]);
    } else {
        fprintf(stderr, "perfshim: wrote %zu trace%s:", n, n == 1 ? "" : "s");
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, " %s", paths[k]);
        fputc('\n', stderr);
        struct ps_report_opts ro = {.warmup_s = warmup};
        struct ps_reports rs;
        rc = ps_reports_build(paths, n, &ro, &rs);
        if (!rc) {
            struct output o;
            rc = output_open(&o, NULL);
            if (!rc)
                rc = output_close(&o, writer(o.f, rs.r, rs.n));
        }
        ps_reports_free(&rs);
    }
    for (size_t k = 0; k < n; k++)
        free(paths[k]);
    free(paths);
    if (!rc && early && !stop_signal)
        rc = 1;
out_dir:
    if (own_metrics) {
        char p[PATH_MAX + 64];
        DIR *d = opendir(mdir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", mdir, e->d_name);
            unlink(p);
        }
        if (d)
            closedir(d);
        rmdir(mdir);
    }
    return rc;
}
