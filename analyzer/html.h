/* `report --format html` (html.c): one self-contained page per call. */
#ifndef PERFSHIM_HTML_H
#define PERFSHIM_HTML_H

#include <stdio.h>

#include "report.h"

int ps_write_html(FILE *out, struct ps_report **r, size_t n);

#endif
