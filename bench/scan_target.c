/* scan_target: the process of bench/scan_bench.sh (issue 7): N live blocks
 * at exit (default 1,000,000), for the cost of perfshim's reachability scan
 * and its agreement with memcheck.  Built -O2 -g; no stdio.
 *
 *   scan_target [N]      N >= 1000, a multiple of 100
 *
 * The blocks, allocated interleaved (a seeded PRNG picks which structure
 * grows next, so lost and reachable blocks are mixed in the heap):
 *   list      3N/10     32-byte nodes of a list held by a global       reachable
 *   tree      3N/10     48-byte nodes of an unbalanced binary search
 *                       tree (random keys, 0xfeed in their top 16 bits:
 *                       under valgrind the heap lies below 4 GiB, where
 *                       plain 32-bit keys would hit some blocks)       reachable
 *   array     1         an array of 3N/10 - 2 pointers, from a global  reachable
 *   pointees  3N/10 - 2 16..112-byte blocks, one per array slot        reachable
 *   interior  1         an array of N/100 interior pointers, global    reachable
 *   possible  N/100     64-byte blocks pointed to only at +41          possible
 *   lost      N/100     80-byte blocks, no pointer                     definite
 *   lost lists N/50 heads (64 bytes) of lists of 3 32-byte nodes       definite
 *             3N/50 nodes                                              indirect
 * For N = 1,000,000: reachable 900,000 blocks, possible 10,000, definite
 * 30,000, indirect 60,000; the bytes are computed by scan_bench.py
 * (expected_kinds) from the same rules.  Sizes are multiples of 16 (the
 * chunk after a block never starts inside its requested bytes) and the
 * interior offset is odd (none of memcheck's heuristics applies).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

struct lnode {
    struct lnode *next;
    char pad[24];
};

struct tnode {
    struct tnode *left, *right;
    uint64_t key; /* 0xfeed in the top bits: not a canonical address, never a pointer */
    char pad[24];
};

struct lhead {
    struct lnode *first;
    char pad[56];
};

struct lnode *volatile g_list;
struct tnode *volatile g_tree;
void **volatile g_array;
char **volatile g_interior;
void *volatile sink;

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void *xmalloc(size_t n, int fill)
{
    void *p = malloc(n);
    if (!p)
        abort();
    memset(p, fill, n);
    return p;
}

NOINLINE static void add_list(void)
{
    struct lnode *n = xmalloc(sizeof *n, 0x5a);
    n->next = g_list;
    g_list = n;
}

NOINLINE static void add_tree(void)
{
    struct tnode *n = xmalloc(sizeof *n, 0x5b);
    n->left = n->right = NULL;
    n->key = (next_rand() & 0xffffffffu) | (0xfeedULL << 48);
    struct tnode **at = (struct tnode **)&g_tree;
    for (int depth = 0; *at && depth < 10000; depth++)
        at = n->key < (*at)->key ? &(*at)->left : &(*at)->right;
    *at = n;
}

NOINLINE static void add_pointee(long i)
{
    g_array[i] = xmalloc(16 + 16 * (size_t)(i % 7), 0x5c);
}

NOINLINE static void add_possible(long i)
{
    char *p = xmalloc(64, 0x5d);
    g_interior[i] = p + 41;
}

NOINLINE static void add_lost(void)
{
    sink = xmalloc(80, 0x5e);
    sink = NULL;
}

NOINLINE static void add_lost_list(void)
{
    struct lhead *h = xmalloc(sizeof *h, 0x5f);
    h->first = NULL;
    for (int k = 0; k < 3; k++) {
        struct lnode *n = xmalloc(sizeof *n, 0x60);
        n->next = h->first;
        h->first = n;
    }
    sink = h;
    sink = NULL;
}

NOINLINE static void scrub_stack(void)
{
    volatile char buf[65536];
    memset((char *)buf, 0, sizeof buf);
    buf[0] = 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    if (n < 1000 || n % 100 != 0)
        return 2;
    long want[6] = {3 * n / 10, 3 * n / 10, 3 * n / 10 - 2, n / 100, n / 100, n / 50};
    long done[6] = {0};
    g_array = xmalloc(sizeof(void *) * (size_t)want[2], 0);
    g_interior = xmalloc(sizeof(char *) * (size_t)want[3], 0);
    long left = 0;
    for (int k = 0; k < 6; k++)
        left += want[k];
    for (long step = 0; left > 0 && step < 100 * n; step++) {
        long r = (long)(next_rand() % (uint64_t)left);
        int k = 0;
        while (r >= want[k] - done[k]) {
            r -= want[k] - done[k];
            k++;
        }
        switch (k) {
        case 0: add_list(); break;
        case 1: add_tree(); break;
        case 2: add_pointee(done[2]); break;
        case 3: add_possible(done[3]); break;
        case 4: add_lost(); break;
        case 5: add_lost_list(); break;
        }
        done[k]++;
        left--;
    }
    scrub_stack();
    return left == 0 ? 0 : 3;
}
