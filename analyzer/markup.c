/* Escaping for XML and HTML, and the small text helpers the writers share (see markup.h). */
#include "markup.h"

#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at S (2 to 4), or 0. */
int ps_utf8_seq(const unsigned char *s)
{
    int n;
    uint32_t cp;
    if ((s[0] & 0xe0) == 0xc0)
        n = 2, cp = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        n = 3, cp = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
        return 0;
    return n;
}

void ps_put_markup(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                fputc(' ', out);
            } else if (*p >= 0x80) {
                int n = ps_utf8_seq(p);
                if (!n) {
                    fputc('?', out);
                    break;
                }
                fwrite(p, 1, (size_t)n, out);
                p += n;
                continue;
            } else {
                fputc(*p, out);
            }
        }
        p++;
    }
}

const char *ps_commas(unsigned long long v, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}
