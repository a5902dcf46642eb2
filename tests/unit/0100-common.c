/*
 * 0100-common.c — the shared toolbox: RFC 3339 time formatting (checked
 * against a plain snprintf over many instants, both sides of the epoch),
 * v4 UUIDs (shape, version and variant bits, no repeats), v7 UUIDs (shape,
 * the time in their first 48 bits, strictly increasing from four threads at
 * once, well past 4,096 a millisecond; a new millisecond's counter starts
 * at a random value).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/scim_common.h"

static void reference(int64_t ms, char out[64])
{
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        int frac = (int)(ms - (int64_t)secs * 1000);
        struct tm tm;

        gmtime_r(&secs, &tm);
        snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, frac);
}

static void test_time_format(void **state)
{
        static const int64_t fixed[] = {0,
                                        1,
                                        999,
                                        1000,
                                        -1,
                                        -999,
                                        -1000,
                                        1764000000123LL,
                                        253402300799999LL,
                                        951782400000LL /* 2000-02-29 */};
        char got[32], want[64];
        int64_t back;

        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
                scim_time_format(fixed[i], got);
                reference(fixed[i], want);
                assert_string_equal(got, want);
                assert_int_equal(scim_time_parse(got, &back), 0);
                assert_true(back == fixed[i]);
        }
        for (int64_t ms = -5000000000LL; ms < 4102444800000LL;
             ms += 7919LL * 3600 * 1000 + 123) {
                scim_time_format(ms, got);
                reference(ms, want);
                assert_string_equal(got, want);
        }
        scim_time_format(1764000000123LL, got);
        assert_string_equal(got, "2025-11-24T16:00:00.123Z");
}

static void test_uuid4(void **state)
{
        char seen[64][37];

        for (int i = 0; i < 64; i++) {
                char *u = seen[i];

                scim_uuid4(u);
                assert_int_equal(strlen(u), 36);
                assert_true(u[8] == '-' && u[13] == '-' && u[18] == '-' &&
                            u[23] == '-');
                assert_true(u[14] == '4');
                assert_non_null(strchr("89ab", u[19]));
                for (int k = 0; k < 36; k++)
                        assert_non_null(strchr("0123456789abcdef-", u[k]));
                for (int j = 0; j < i; j++)
                        assert_string_not_equal(seen[j], u);
        }
}

#define V7_THREADS 4
#define V7_PER 20000

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *v7_run(void *arg)
{
        char(*out)[37] = arg;

        for (int i = 0; i < V7_PER; i++)
                scim_uuid7(out[i]);
        return NULL;
}

static int cmp_id(const void *a, const void *b)
{
        return strcmp(a, b);
}

static void test_uuid7(void **state)
{
        char(*ids)[37] = calloc(V7_THREADS * V7_PER, 37);
        pthread_t th[V7_THREADS];
        int64_t t0 = now_ms(), t1, ms;
        char hexms[13];

        (void)state;
        assert_non_null(ids);
        for (int t = 0; t < V7_THREADS; t++)
                assert_int_equal(
                    pthread_create(&th[t], NULL, v7_run, ids + t * V7_PER), 0);
        for (int t = 0; t < V7_THREADS; t++)
                pthread_join(th[t], NULL);
        t1 = now_ms();
        for (int t = 0; t < V7_THREADS; t++)
                for (int i = 0; i < V7_PER; i++) {
                        const char *u = ids[t * V7_PER + i];

                        assert_int_equal(strlen(u), 36);
                        assert_true(u[8] == '-' && u[13] == '-' &&
                                    u[18] == '-' && u[23] == '-');
                        assert_true(u[14] == '7');
                        assert_non_null(strchr("89ab", u[19]));
                        for (int k = 0; k < 36; k++)
                                assert_non_null(
                                    strchr("0123456789abcdef-", u[k]));
                        /* each thread's ids increase (as text, too) */
                        if (i)
                                assert_true(strcmp(u - 37, u) < 0);
                        /* the first 48 bits are the creation time: at
                         * least t0, and at most t1 plus the ms the
                         * counter may run ahead (80,000 ids / 2,048) */
                        memcpy(hexms, u, 8);
                        memcpy(hexms + 8, u + 9, 4);
                        hexms[12] = '\0';
                        ms = (int64_t)strtoll(hexms, NULL, 16);
                        assert_true(ms >= t0);
                        assert_true(ms <= t1 + 40);
                }
        /* a new millisecond's counter starts at random: eight ids 2 ms
         * apart do not all carry the counter 0 (chance 2^-88) */
        {
                int nonzero = 0;

                for (int i = 0; i < 8; i++) {
                        char u[37];
                        struct timespec d = {0, 2000000};

                        nanosleep(&d, NULL);
                        scim_uuid7(u);
                        /* the 12-bit counter: the hex digits after '7' */
                        nonzero |= strncmp(u + 15, "000", 3) != 0;
                }
                assert_true(nonzero);
        }
        /* no repeats across threads */
        qsort(ids, V7_THREADS * V7_PER, 37, cmp_id);
        for (int i = 1; i < V7_THREADS * V7_PER; i++)
                assert_true(strcmp(ids[i - 1], ids[i]) < 0);
        free(ids);
}

/* common/hex.c against sprintf("%02x") and sscanf("%2hhx") on every byte,
 * and what the decoder refuses. */
static void test_hex(void **state)
{
        unsigned char all[256], back[256];
        char got[513], want[513];

        (void)state;
        for (int i = 0; i < 256; i++) {
                all[i] = (unsigned char)i;
                sprintf(want + 2 * i, "%02x", i);
        }
        scim_hex_encode(all, sizeof(all), got);
        assert_string_equal(got, want);
        assert_int_equal(scim_hex_decode(got, 256, back), 0);
        assert_memory_equal(back, all, 256);
        for (int i = 0; i < 256; i++) { /* upper case too */
                char up[3];
                unsigned char b;

                sprintf(up, "%02X", i);
                assert_int_equal(scim_hex_decode(up, 1, &b), 0);
                assert_int_equal(b, i);
        }
        for (int c = 0; c < 256; c++) {
                int want_v = -1;

                if (c >= '0' && c <= '9')
                        want_v = c - '0';
                else if (c >= 'a' && c <= 'f')
                        want_v = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        want_v = c - 'A' + 10;
                assert_int_equal(scim_hex_digit(c), want_v);
        }
        assert_int_equal(scim_hex_decode("0g", 1, back), -1);
        assert_int_equal(scim_hex_decode("g0", 1, back), -1);
        assert_int_equal(scim_hex_decode("ab", 2, back), -1); /* NUL stops */
        assert_int_equal(scim_hex_decode("a", 1, back), -1);
        assert_int_equal(scim_hex_decode(" 1", 1, back), -1);
        scim_hex_encode("", 0, got);
        assert_string_equal(got, "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_time_format),
            cmocka_unit_test(test_uuid4),
            cmocka_unit_test(test_uuid7),
            cmocka_unit_test(test_hex),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
