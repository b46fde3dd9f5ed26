/* t_plugin: the plugin t_dlopen loads (libt_plugin.so), built -O0.
 * plugin_leak leaks one block of 555 bytes (@leak:plugin). */
#include <stdlib.h>
#include <string.h>

void *volatile plugin_sink;

__attribute__((noinline)) void plugin_leak(void)
{
    char *p = malloc(555); /* @leak:plugin */
    memset(p, 7, 555);
    plugin_sink = p;
    plugin_sink = NULL;
}

void plugin_churn(void)
{
    for (int i = 0; i < 100; i++)
        free(malloc((size_t)(16 + i)));
}
