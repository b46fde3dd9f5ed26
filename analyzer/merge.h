/* Per-thread decoding and the merge by time (see merge.c). */
#ifndef PERFSHIM_MERGE_H
#define PERFSHIM_MERGE_H

#include "trace.h"

struct ps_merge;

struct ps_merge *ps_merge_new(struct ps_trace *t, ps_event_fn fn, void *ctx);
void ps_merge_free(struct ps_merge *m);
/* Queue one CHUNK's event bytes (copied) for thread SERIAL. */
int ps_merge_chunk(struct ps_merge *m, uint32_t serial, const uint8_t *data, size_t len,
                   uint64_t offset);
/* Deliver, in tick order, every queued event with tick <= FRONTIER. */
int ps_merge_release(struct ps_merge *m, uint64_t frontier);

#endif
