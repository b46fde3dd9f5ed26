/* Latency histogram buckets, shared by the shim (which counts into them)
 * and the analyzer (which reads percentiles out of them).
 *
 * Log-linear, in the manner of HdrHistogram: values below 128 ns have a
 * bucket each; above, every power of two is split into 64 equal buckets,
 * so a bucket is at most 1/64 of its lower bound wide and its midpoint is
 * within 1/128 (0.78%) of any value in it.  Values are nanoseconds and
 * saturate at 2^44 ns (4.9 hours).
 *
 * The shim stores buckets in pages of 64 (one page per power of two), made
 * only when a value lands there: a call whose latencies span three powers
 * of two costs three 512-byte pages, not the whole 20 KiB range.
 */
#ifndef PERFSHIM_HISTOGRAM_H
#define PERFSHIM_HISTOGRAM_H

#include <stdint.h>

#define PS_HIST_SUB_BITS 6
#define PS_HIST_SUB (1u << PS_HIST_SUB_BITS) /* buckets per page */
#define PS_HIST_MAX_LOG2 44                    /* values saturate below 2^44 ns */
#define PS_HIST_MAX_VALUE ((1ull << PS_HIST_MAX_LOG2) - 1)
/* Page 0 and 1 hold 0..127 one value each; page k >= 2 holds [2^(k+5), 2^(k+6)). */
#define PS_HIST_PAGES (PS_HIST_MAX_LOG2 - PS_HIST_SUB_BITS + 1)
#define PS_HIST_BUCKETS (PS_HIST_PAGES * PS_HIST_SUB)

static inline uint32_t ps_hist_index(uint64_t v)
{
    if (v > PS_HIST_MAX_VALUE)
        v = PS_HIST_MAX_VALUE;
    if (v < 2 * PS_HIST_SUB)
        return (uint32_t)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* floor(log2 v) >= 7 */
    unsigned shift = e - PS_HIST_SUB_BITS;
    return (uint32_t)((shift + 1) * PS_HIST_SUB + (uint32_t)(v >> shift) - PS_HIST_SUB);
}

/* The smallest value that falls in bucket I. */
static inline uint64_t ps_hist_lower(uint32_t i)
{
    if (i < 2 * PS_HIST_SUB)
        return i;
    unsigned shift = i / PS_HIST_SUB - 1;
    return (uint64_t)(i % PS_HIST_SUB + PS_HIST_SUB) << shift;
}

/* The value that stands for bucket I: its midpoint (exact below 128). */
static inline double ps_hist_value(uint32_t i)
{
    if (i < 2 * PS_HIST_SUB)
        return (double)i;
    unsigned shift = i / PS_HIST_SUB - 1;
    return (double)ps_hist_lower(i) + (double)(1ull << shift) / 2.0;
}

#endif
