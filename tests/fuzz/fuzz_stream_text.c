/*
 * fuzz_stream_text.c — libFuzzer target for the change stream record
 * splitter asOf uses (projector/stream_text.c): arbitrary bytes must never
 * crash, hang or read past the input, and a found "after" is an object
 * span inside the input. The input is also parsed as JSON; when it is an
 * object, its compact text (what stream.c writes, scim_json_dump) is split
 * too: if it has an object member "after" that is not its first member,
 * the splitter must find exactly that member's text, and the tail from the
 * first `,"after":{` must start before it and reach the end (the superset
 * the filtered asOf list looks for literals in).
 * Corpus: tests/fuzz/corpus/stream_text/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/changes_internal.h"

static void split(const char *t, size_t n)
{
        const char *a = NULL, *tail;
        size_t al = 0;

        tail = changes_stream_tail(t, n);
        if (tail && (tail < t || tail + 10 > t + n))
                abort();
        if (!changes_stream_after(t, n, &a, &al))
                return;
        if (a < t || al < 2 || a + al > t + n || a[0] != '{' ||
            a[al - 1] != '}')
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *in = malloc(size + 1);
        json_t *o;

        if (!in)
                return 0;
        memcpy(in, data, size);
        split(in, size); /* exactly size bytes: no NUL to lean on */
        in[size] = '\0';
        o = scim_json_load(in, size);
        if (json_is_object(o)) {
                scim_buf_t b = {0};
                json_t *after = json_object_get(o, "after");
                void *first = json_object_iter(o);
                int not_first =
                    first && strcmp(json_object_iter_key(first), "after");

                if (scim_json_dump(o, &b) == 0 && b.data) {
                        const char *a = NULL, *tail;
                        size_t al = 0;

                        split(b.data, b.len);
                        if (json_is_object(after) && not_first) {
                                scim_buf_t w = {0};

                                if (!changes_stream_after(b.data, b.len, &a,
                                                          &al))
                                        abort();
                                if (scim_json_dump(after, &w) == 0 &&
                                    (w.len != al || memcmp(w.data, a, al)))
                                        abort();
                                tail = changes_stream_tail(b.data, b.len);
                                if (!tail || tail > a)
                                        abort();
                                scim_buf_free(&w);
                        }
                }
                scim_buf_free(&b);
        }
        json_decref(o);
        free(in);
        return 0;
}
