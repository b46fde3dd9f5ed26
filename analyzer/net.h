/* Call, request and peer statistics: the analysis of the shim's
 * CALL_STATS, PEER_STATS and PROC_STATS records and of OFFCPU events.
 *
 * Data model: the records are cumulative snapshots, so the model keeps the
 * last one of each buffer slot and each peer (memory: slots x call kinds x
 * non-empty buckets, independent of the trace's length).  Summaries merge
 * the slots' histograms and read percentiles out of them (the buckets'
 * midpoints: within 0.78% of the value measured; see histogram.h).
 */
#ifndef PERFSHIM_NET_H
#define PERFSHIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct ps_cstat_in {
    uint64_t count, errors, eagain, eintr, partial, bytes, total_ns, max_ns;
    uint32_t nb;        /* non-empty buckets */
    uint32_t *idx;
    uint64_t *cnt;
};

struct ps_net_slot_in {
    bool present;
    struct ps_cstat_in calls[PS_CALL_MAX_];
    struct ps_cstat_in req;
    uint64_t req_first, req_last; /* ticks */
};

struct ps_net_peer_in {
    bool present;
    char *name;
    int dir;                      /* enum ps_peer_dir */
    uint64_t connections, requests, errors, bytes_in, bytes_out;
    struct ps_cstat_in req, connect;
};

struct ps_net {
    struct ps_net_slot_in *slots; /* by slot number */
    size_t nslots;
    struct ps_net_peer_in *peers; /* by peer number */
    size_t npeers;
    bool has_proc;
    uint64_t cpu_ns, conns_peak;
    uint64_t cpu_samples, cpu_dropped; /* v3: CPU samples taken and lost by the shim */
};

struct ps_net *ps_net_new(void);
void ps_net_free(struct ps_net *n);
/* One CALL_STATS / PEER_STATS / PROC_STATS payload.  0, PS_ENOMEM, or 1
 * when the payload is malformed (the reader reports where). */
int ps_net_record(struct ps_net *n, int kind, const uint8_t *p, const uint8_t *end);

/* ---- summaries, for the report ---------------------------------------------- */

struct ps_latency {
    uint64_t count;
    double total_us, p50_us, p90_us, p95_us, p99_us, p999_us, max_us;
};

struct ps_call_summary {
    const char *name;             /* the libc function */
    uint64_t count, errors, eagain, eintr, partial, bytes;
    struct ps_latency lat;
};

struct ps_request_summary {
    struct ps_latency lat;
    double busy_s, throughput_rps, cpu_us_per_request;
};

struct ps_peer_summary {
    const char *name;
    int dir;
    uint64_t connections, requests, errors, bytes_in, bytes_out;
    struct ps_latency lat, connect;
};

struct ps_net_summary {
    struct ps_call_summary *calls; /* busiest (total time) first */
    size_t ncalls;
    bool has_requests;
    struct ps_request_summary requests;
    struct ps_peer_summary *peers; /* most requests first */
    size_t npeers;
    uint64_t connections_peak;
    double clock_calls_per_s;      /* clock reads per second of run time */
    double clock_total_us;
};

/* DURATION_S: the run's length, for rates. */
int ps_net_summarize(const struct ps_trace *t, double duration_s, struct ps_net_summary *out);
void ps_net_summary_free(struct ps_net_summary *s);
const char *ps_call_name(unsigned kind);

#endif
