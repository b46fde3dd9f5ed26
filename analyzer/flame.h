/* Flame graph output (see flame.c). */
#ifndef PERFSHIM_FLAME_H
#define PERFSHIM_FLAME_H

#include <stdio.h>

#include "report.h"

enum ps_flame_type { PS_FLAME_ALLOC, PS_FLAME_LEAK, PS_FLAME_OFFCPU };

int ps_flame_folded(FILE *out, struct ps_report *r, enum ps_flame_type type);

#endif
