/* t_dlopen: a leak from a plugin that is dlclose'd before exit, built -O0.
 *
 * The plugin path is compiled in (T_PLUGIN_PATH) and can be overridden by
 * argv[1].  main dlopens it, calls plugin_leak (t_plugin.c @leak:plugin,
 * 1 block of 555 bytes) and plugin_churn (all freed), then dlcloses it.
 * Truth: the report still symbolizes plugin_leak with t_plugin.c:<marker>,
 *   its caller frame is call_plugin (t_dlopen.c @call:plugin).  dlopen's own
 *   bookkeeping is freed by dlclose.
 * valgrind --leak-check=full: "definitely lost: 555 bytes in 1 blocks"
 *   (shown as "???" in the unloaded object, which is the point of the test).
 */
#include <dlfcn.h>
#include <unistd.h>

#ifndef T_PLUGIN_PATH
#define T_PLUGIN_PATH "./libt_plugin.so"
#endif

__attribute__((noinline)) static int call_plugin(void (*fn)(void))
{
    fn(); /* @call:plugin */
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : T_PLUGIN_PATH;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        static const char msg[] = "t_dlopen: dlopen failed\n";
        if (write(2, msg, sizeof msg - 1) < 0)
            return 3;
        return 2;
    }
    void (*leak)(void);
    void (*churn)(void);
    *(void **)&leak = dlsym(h, "plugin_leak");
    *(void **)&churn = dlsym(h, "plugin_churn");
    if (!leak || !churn)
        return 4;
    call_plugin(leak);
    churn();
    if (dlclose(h) != 0)
        return 5;
    return 0;
}
