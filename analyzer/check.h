/* CI gating: `perfshim check` (check.c) and `perfshim diff` (diff.c).
 * Both return their exit status (0: holds / no regression, 1: violated /
 * regressed) or a negative PS_E* code, which main() turns into one line on
 * stderr and status 2. */
#ifndef PERFSHIM_CHECK_H
#define PERFSHIM_CHECK_H

int ps_cmd_check(int argc, char **argv);
int ps_cmd_diff(int argc, char **argv);

/* "64M", "1.5GiB", "4096": bytes (K, M, G, T are powers of 1024; an
 * optional "B" or "iB" after them).  0, or -1 when not a size. */
int ps_parse_size(const char *s, double *bytes);
/* "500us", "5ms", "1.5s", "250" (microseconds): 0, or -1. */
int ps_parse_latency(const char *s, double *us);

#endif
