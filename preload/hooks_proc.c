/* Exported process-control hooks: every exec variant flushes the trace
 * first (the new image writes a trace of its own), and _exit/_Exit write the
 * END record that exit() would have.  fork needs no hook: pthread_atfork
 * handlers (lifecycle.c) do that work.  vfork and posix_spawn are not
 * hooked: their child shares our memory until it execs, and must not
 * touch the shim's state. */
#include "shim.h"

#include <alloca.h>
#include <stdarg.h>
#include <unistd.h>

PS_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    ps_real_ensure();
    ps_lifecycle_exec(path);
    return ps_real.execve(path, argv, envp);
}

PS_EXPORT int execv(const char *path, char *const argv[])
{
    ps_real_ensure();
    ps_lifecycle_exec(path);
    return ps_real.execv(path, argv);
}

PS_EXPORT int execvp(const char *file, char *const argv[])
{
    ps_real_ensure();
    ps_lifecycle_exec(file);
    return ps_real.execvp(file, argv);
}

PS_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    ps_real_ensure();
    ps_lifecycle_exec(file);
    if (!ps_real.execvpe) {
        errno = ENOSYS;
        return -1;
    }
    return ps_real.execvpe(file, argv, envp);
}

PS_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    ps_real_ensure();
    ps_lifecycle_exec("(fexecve)");
    if (!ps_real.fexecve) {
        errno = ENOSYS;
        return -1;
    }
    return ps_real.fexecve(fd, argv, envp);
}

/* The execl family: collect the variadic list into an argv on our stack. */
#define COLLECT_ARGS(arg0, ap, argv, want_envp, envp_out)                     \
    do {                                                           \
        size_t n_ = 1;                                             \
        va_list c_;                                                \
        va_copy(c_, ap);                                           \
        while (va_arg(c_, char *))                                 \
            n_++;                                                  \
        va_end(c_);                                                \
        argv = alloca((n_ + 1) * sizeof(char *));                  \
        argv[0] = (char *)(arg0);                                  \
        for (size_t i_ = 1; i_ <= n_; i_++)                        \
            argv[i_] = i_ < n_ ? va_arg(ap, char *) : NULL;        \
        if (want_envp)                                             \
            *(envp_out) = va_arg(ap, char **);                     \
    } while (0)

PS_EXPORT int execl(const char *path, const char *arg0, ...)
{
    char **argv;
    va_list ap;
    va_start(ap, arg0);
    COLLECT_ARGS(arg0, ap, argv, 0, (char ***)NULL);
    va_end(ap);
    return execv(path, argv);
}

PS_EXPORT int execlp(const char *file, const char *arg0, ...)
{
    char **argv;
    va_list ap;
    va_start(ap, arg0);
    COLLECT_ARGS(arg0, ap, argv, 0, (char ***)NULL);
    va_end(ap);
    return execvp(file, argv);
}

PS_EXPORT int execle(const char *path, const char *arg0, ...)
{
    char **argv, **envp = NULL;
    va_list ap;
    va_start(ap, arg0);
    COLLECT_ARGS(arg0, ap, argv, 1, &envp);
    va_end(ap);
    return execve(path, argv, envp);
}

PS_EXPORT void _exit(int status)
{
    ps_real_ensure();
    ps_lifecycle__exit(status);
    ps_real._exit(status);
}

PS_EXPORT void _Exit(int status)
{
    ps_real_ensure();
    ps_lifecycle__exit(status);
    if (ps_real._Exit)
        ps_real._Exit(status);
    ps_real._exit(status);
}
