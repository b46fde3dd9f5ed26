/* t_static: linked -static (only when libc.a is available).  It cannot be
 * preloaded: `perfshim record` must refuse it with exit 2 and one line. */
#include <stdlib.h>

int main(void)
{
    free(malloc(10));
    return 0;
}
