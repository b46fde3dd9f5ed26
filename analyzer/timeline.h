/* The resource timeline chart (timeline.c), shared by `perfshim timeline
 * --format svg` and the HTML report. */
#ifndef PERFSHIM_TIMELINE_H
#define PERFSHIM_TIMELINE_H

#include <stdio.h>

#include "report.h"

/* R's resource samples as an <svg id=ID> element for an HTML page (no XML
 * declaration; its styles apply inside it only).  Writes nothing when the
 * trace has no samples.  0 or a negative PS_E* code. */
int ps_timeline_write_svg(FILE *out, const struct ps_report *r, const char *id);

#endif
