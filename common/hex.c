/*
 * hex.c — lower-case hexadecimal, both ways.
 *
 * One encoder and one decoder for every place that shows bytes as hex
 * (token ids, key ids, digests, cursors, the seal keys of erase.c) or reads
 * them back. Table-driven: no sscanf/snprintf per digit (sscanf("%1x") per
 * digit once cost ~36k instructions per sealed write: issue 13).
 *
 * Threads: any; no state.
 */
#include "common/scim_common.h"

int scim_hex_digit(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

void scim_hex_encode(const void *data, size_t n, char *out)
{
        static const char hx[] = "0123456789abcdef";
        const unsigned char *b = data;

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hx[b[i] >> 4];
                out[2 * i + 1] = hx[b[i] & 15];
        }
        out[2 * n] = '\0';
}

int scim_hex_decode(const char *s, size_t n, unsigned char *out)
{
        for (size_t i = 0; i < n; i++) {
                int hi = scim_hex_digit((unsigned char)s[2 * i]);
                int lo =
                    hi < 0 ? -1 : scim_hex_digit((unsigned char)s[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -1;
                out[i] = (unsigned char)(hi << 4 | lo);
        }
        return 0;
}
