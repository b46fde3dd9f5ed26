/* t_spawn: children made without fork handlers.  posix_spawn and vfork
 * share the parent's memory until they exec, so the shim must do nothing
 * in them; each exec'd child (this program again, with "child") is a new
 * image that writes a trace of its own.
 *
 * Truth: parent leaks 111 bytes (@leak:parent); each of the 2 children
 * leaks 222 bytes (@leak:child) and exits 5.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        void *volatile p = malloc(222); /* @leak:child */
        (void)p;
        return 5;
    }
    void *volatile p = malloc(111); /* @leak:parent */
    (void)p;
    char *args[] = {argv[0], "child", NULL};
    pid_t pid;
    if (posix_spawn(&pid, argv[0], NULL, NULL, args, environ) != 0)
        return 10;
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 5)
        return 11;
    pid = vfork();
    if (pid == 0) {
        execve(argv[0], args, environ);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 5)
        return 12;
    /* write(), not stdio: stdout's buffer would be one more live block */
    return write(1, "spawned 2\n", 10) == 10 ? 0 : 1;
}
