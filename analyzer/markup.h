/* Text into XML and HTML (JUnit files, the HTML report): escaped, and
 * made well-formed whatever bytes a trace or a user gave (function names,
 * paths, command lines). */
#ifndef PERFSHIM_MARKUP_H
#define PERFSHIM_MARKUP_H

#include <stdio.h>

/* S escaped for text and attribute values (&, <, >, ", '); control
 * characters become spaces and bytes that are not valid UTF-8 '?'. */
void ps_put_markup(FILE *out, const char *s);
/* Length of the well-formed UTF-8 sequence of 2 to 4 bytes at S that XML
 * allows (no surrogates, no U+FFFE/U+FFFF), or 0. */
int ps_utf8_seq(const unsigned char *s);
/* 1234567 -> "1,234,567" in BUF (at least 27 bytes); returns BUF. */
const char *ps_commas(unsigned long long v, char *buf);

#endif
