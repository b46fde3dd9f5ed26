/* Varint (LEB128) and zigzag coding from include/perfshim/trace_format.h:
 * round trips at the boundaries where the encoded length changes, exact
 * encoded lengths, and ps_get_uv refusing input cut short or longer than
 * the 10 bytes a uint64 needs. */
#include "harness.h"

#include "perfshim/trace_format.h"

/* Encode V, check the length, decode it back from exactly those bytes. */
static void uv_round_trip(uint64_t v, size_t want_len, int line)
{
    uint8_t buf[PS_VARINT_MAX + 4];
    memset(buf, 0xAA, sizeof buf);
    uint8_t *end = ps_put_uv(buf, v);
    size_t len = (size_t)(end - buf);
    if (len != want_len) {
        fprintf(stderr, "line %d: value %" PRIu64 "\n", line, v);
        CHECK_EQ(len, want_len);
    }
    CHECK_EQ(buf[len], 0xAA); /* wrote nothing past its end */
    const uint8_t *p = buf;
    uint64_t got = 12345;
    CHECK_EQ(ps_get_uv(&p, end, &got), 0);
    CHECK_EQ(got, v);
    CHECK(p == end);
    /* Every proper prefix is "input ends inside the varint", and leaves the
     * cursor and the output alone. */
    for (size_t cut = 0; cut < len; cut++) {
        const uint8_t *q = buf;
        uint64_t out = 777;
        if (ps_get_uv(&q, buf + cut, &out) != -1) {
            fprintf(stderr, "line %d: value %" PRIu64 " cut to %zu bytes decoded\n", line, v, cut);
            t_failures++;
        }
        CHECK(q == buf);
        CHECK_EQ(out, 777);
    }
}

TEST(uvarint_boundaries)
{
    uv_round_trip(0, 1, __LINE__);
    uv_round_trip(1, 1, __LINE__);
    uv_round_trip(127, 1, __LINE__);
    uv_round_trip(128, 2, __LINE__);
    uv_round_trip(16383, 2, __LINE__);
    uv_round_trip(16384, 3, __LINE__);
    uv_round_trip(UINT32_MAX, 5, __LINE__);
    uv_round_trip((uint64_t)1 << 56, 9, __LINE__);
    uv_round_trip(((uint64_t)1 << 63) - 1, 9, __LINE__);
    uv_round_trip((uint64_t)1 << 63, 10, __LINE__);
    uv_round_trip(UINT64_MAX, 10, __LINE__);
    /* every 7-bit boundary */
    for (unsigned k = 1; k < 64; k++) {
        uint64_t v = (uint64_t)1 << k;
        size_t len = k / 7 + 1;
        uv_round_trip(v - 1, (k - 1) / 7 + 1, __LINE__);
        uv_round_trip(v, len, __LINE__);
    }
}

TEST(uvarint_exact_bytes)
{
    uint8_t buf[PS_VARINT_MAX];
    CHECK_EQ(ps_put_uv(buf, 0) - buf, 1);
    CHECK_EQ(buf[0], 0x00);
    CHECK_EQ(ps_put_uv(buf, 127) - buf, 1);
    CHECK_EQ(buf[0], 0x7f);
    CHECK_EQ(ps_put_uv(buf, 128) - buf, 2);
    CHECK_EQ(buf[0], 0x80);
    CHECK_EQ(buf[1], 0x01);
    CHECK_EQ(ps_put_uv(buf, 300) - buf, 2);
    CHECK_EQ(buf[0], 0xac);
    CHECK_EQ(buf[1], 0x02);
    CHECK_EQ(ps_put_uv(buf, UINT64_MAX) - buf, 10);
    for (int i = 0; i < 9; i++)
        CHECK_EQ(buf[i], 0xff);
    CHECK_EQ(buf[9], 0x01);
}

/* Non-minimal encodings are accepted (0x80 0x00 is 0): the reader does not
 * need canonical input, only bounded input. */
TEST(uvarint_non_minimal)
{
    const uint8_t two[] = {0x80, 0x00};
    const uint8_t *p = two;
    uint64_t v = 99;
    CHECK_EQ(ps_get_uv(&p, two + 2, &v), 0);
    CHECK_EQ(v, 0);
    CHECK(p == two + 2);
    const uint8_t ten[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    p = ten;
    CHECK_EQ(ps_get_uv(&p, ten + 10, &v), 0);
    CHECK_EQ(v, 1);
}

TEST(uvarint_too_long)
{
    /* 11 bytes, the first ten with the continuation bit: no uint64 needs
     * that many, so it is corrupt even though the input does not end. */
    uint8_t eleven[11];
    memset(eleven, 0x80, 10);
    eleven[10] = 0x00;
    const uint8_t *p = eleven;
    uint64_t v = 5;
    CHECK_EQ(ps_get_uv(&p, eleven + 11, &v), -1);
    CHECK(p == eleven);
    CHECK_EQ(v, 5);
    /* ...and also when more bytes follow. */
    uint8_t many[32];
    memset(many, 0xff, sizeof many);
    p = many;
    CHECK_EQ(ps_get_uv(&p, many + sizeof many, &v), -1);
    CHECK(p == many);
    /* Ten bytes with the continuation bit on the last: also too long. */
    p = many;
    CHECK_EQ(ps_get_uv(&p, many + 10, &v), -1);
}

TEST(uvarint_sequence)
{
    /* Several values back to back decode one after the other. */
    const uint64_t vals[] = {0, 1, 127, 128, (uint64_t)1 << 63, UINT64_MAX, 42};
    uint8_t buf[sizeof vals / sizeof vals[0] * PS_VARINT_MAX], *w = buf;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        w = ps_put_uv(w, vals[i]);
    const uint8_t *p = buf;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint64_t v = 0;
        CHECK_EQ(ps_get_uv(&p, w, &v), 0);
        CHECK_EQ(v, vals[i]);
    }
    CHECK(p == w);
    uint64_t v = 0;
    CHECK_EQ(ps_get_uv(&p, w, &v), -1); /* nothing left */
}

TEST(zigzag)
{
    CHECK_EQ(ps_zigzag(0), 0);
    CHECK_EQ(ps_zigzag(-1), 1);
    CHECK_EQ(ps_zigzag(1), 2);
    CHECK_EQ(ps_zigzag(-2), 3);
    CHECK_EQ(ps_zigzag(INT64_MAX), UINT64_MAX - 1);
    CHECK_EQ(ps_zigzag(INT64_MIN), UINT64_MAX);
    const int64_t vals[] = {0, 1, -1, 63, -64, 64, -65, INT32_MAX, INT32_MIN,
                            INT64_MAX, INT64_MIN, INT64_MIN + 1, INT64_MAX - 1};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        CHECK_EQ(ps_unzigzag(ps_zigzag(vals[i])), vals[i]);
        uint8_t buf[PS_VARINT_MAX];
        uint8_t *end = ps_put_sv(buf, vals[i]);
        const uint8_t *p = buf;
        uint64_t u = 0;
        CHECK_EQ(ps_get_uv(&p, end, &u), 0);
        CHECK_EQ(ps_unzigzag(u), vals[i]);
    }
    /* Small magnitudes of either sign stay one byte: that is the point. */
    uint8_t buf[PS_VARINT_MAX];
    CHECK_EQ(ps_put_sv(buf, -64) - buf, 1);
    CHECK_EQ(ps_put_sv(buf, 63) - buf, 1);
    CHECK_EQ(ps_put_sv(buf, 64) - buf, 2);
    CHECK_EQ(ps_put_sv(buf, -65) - buf, 2);
    CHECK_EQ(ps_put_sv(buf, INT64_MIN) - buf, 10);
}

/* Address deltas as the shim writes them: v - prev wraps modulo 2^64 and
 * the reader's prev += unzigzag(d) must undo it for any pair. */
TEST(address_delta_wrap)
{
    const uint64_t addrs[] = {0x1000, 0x7fffffffffff, 0x10, UINT64_MAX, 0, (uint64_t)1 << 63,
                              0x555555554000, 1};
    uint64_t prev_w = 0, prev_r = 0;
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        uint8_t buf[PS_VARINT_MAX];
        uint8_t *end = ps_put_sv(buf, (int64_t)(addrs[i] - prev_w));
        prev_w = addrs[i];
        const uint8_t *p = buf;
        uint64_t u = 0;
        CHECK_EQ(ps_get_uv(&p, end, &u), 0);
        prev_r += (uint64_t)ps_unzigzag(u);
        CHECK_EQ(prev_r, addrs[i]);
    }
}

TEST(u32le)
{
    uint8_t b[4];
    ps_put_u32le(b, 0x01020304u);
    CHECK_EQ(b[0], 4);
    CHECK_EQ(b[3], 1);
    CHECK_EQ(ps_get_u32le(b), 0x01020304u);
    ps_put_u32le(b, UINT32_MAX);
    CHECK_EQ(ps_get_u32le(b), UINT32_MAX);
}

TEST(put_bytes)
{
    uint8_t buf[300];
    char s[200];
    memset(s, 'x', sizeof s);
    uint8_t *end = ps_put_bytes(buf, s, sizeof s);
    CHECK_EQ(end - buf, 2 + 200);
    const uint8_t *p = buf;
    uint64_t n = 0;
    CHECK_EQ(ps_get_uv(&p, end, &n), 0);
    CHECK_EQ(n, 200);
    CHECK(memcmp(p, s, 200) == 0);
}
