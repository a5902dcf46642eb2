/*
 * fuzz_b64.c — libFuzzer target for the strict base64 decoder
 * (common/b64.c) that opens sealed events: on arbitrary text it must never
 * crash or write past n / 4 * 3 bytes, and whatever it accepts Nettle's
 * decoder accepts with the same bytes; Nettle's encoding of the input
 * bytes must be accepted and give them back.
 * Corpus: tests/fuzz/corpus/b64/.
 */
#include <nettle/base64.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/scim_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        unsigned char *out = malloc(size / 4 * 3 + 1);
        unsigned char *ref = malloc(BASE64_DECODE_LENGTH(size) + 1);
        char *enc =
            malloc(BASE64_ENCODE_LENGTH(size) + BASE64_ENCODE_FINAL_LENGTH + 1);
        unsigned char *back = malloc(size + 3);
        struct base64_decode_ctx d;
        struct base64_encode_ctx e;
        size_t rl = BASE64_DECODE_LENGTH(size), el;
        long n;

        if (!out || !ref || !enc || !back)
                abort();
        n = scim_b64_decode_strict((const char *)data, size, out);
        if (n >= 0) {
                base64_decode_init(&d);
                if (!base64_decode_update(&d, &rl, ref, size,
                                          (const char *)data) ||
                    !base64_decode_final(&d) || rl != (size_t)n ||
                    memcmp(ref, out, rl))
                        abort();
        }
        base64_encode_init(&e);
        el = base64_encode_update(&e, enc, size, data);
        el += base64_encode_final(&e, enc + el);
        n = scim_b64_decode_strict(enc, el, back);
        if (n != (long)size || memcmp(back, data, size))
                abort();
        free(out);
        free(ref);
        free(enc);
        free(back);
        return 0;
}
