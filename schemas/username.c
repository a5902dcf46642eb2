/*
 * username.c — what a userName may hold: no character a reader cannot
 * see. Two userNames that differ only by a zero-width space or joiner, a
 * BOM, a soft hyphen, a bidi mark or a control character display alike
 * but got different uniqueness keys (NFKC case folding keeps them), so
 * "alice" and "al<U+200B>ice" were two users. Such a userName is refused
 * with 400 invalidValue naming the code point and its position, as is one
 * with leading or trailing white space ("alice " and "alice").
 *
 * Refused: general categories Cc (controls) and Cf (format: U+00AD, U+200B
 * to U+200F, U+202A to U+202E, U+2060 to U+2064, U+2066 to U+206F,
 * U+FEFF, tags, ...), every Default_Ignorable_Code_Point (variation
 * selectors, U+034F, Hangul fillers), and white space (Unicode White_Space)
 * at either end. Refusal, not normalisation: the stored bytes and the
 * uniqueness keys of existing users stay as they are (no views_format
 * change), and what a client sent is never silently changed. Checked by
 * ingest (ingest/ingest.c check_username_visible) on the resource every
 * write builds: create, PUT and the result of a PATCH, unless the userName
 * is the stored one unchanged, so a user stored before this check keeps
 * its name through writes of other attributes. The value is valid UTF-8
 * here (the JSON parser refuses anything else).
 *
 * Reentrant; no locks.
 */
#include <unictype.h>
#include <unistr.h>

#include "schemas/scim_schemas.h"

/* 1 when c may not appear in a userName at all */
static int invisible(ucs4_t c)
{
        return uc_is_general_category(c, UC_CATEGORY_Cc) ||
               uc_is_general_category(c, UC_CATEGORY_Cf) ||
               uc_is_property_default_ignorable_code_point(c);
}

int scim_username_check(const char *s, scim_err_t *err)
{
        const uint8_t *p = (const uint8_t *)s, *end = p + strlen(s);
        const uint8_t *last = NULL;
        ucs4_t c = 0, lastc = 0;
        size_t pos = 0;
        int n;

        /* printable ASCII (U+0021 to U+007E, U+0020 inside) is neither
         * invisible nor white space at an end: such a name, the usual
         * one, is answered without a code point lookup (issue 13) */
        while (p < end && *p >= 0x20 && *p < 0x7f)
                p++;
        if (p == end && (p == (const uint8_t *)s ||
                         (s[0] != ' ' && end[-1] != ' ')))
                return 0;
        p = (const uint8_t *)s;
        for (; p < end; p += n, pos++) {
                n = u8_mbtouc(&c, p, (size_t)(end - p));
                if (n <= 0)
                        n = 1;
                if (invisible(c))
                        return scim_err_set(
                            err, 400, "invalidValue",
                            "userName holds U+%04X at character %zu, an "
                            "invisible or control character (two userNames "
                            "that differ only by it would look alike)",
                            (unsigned)c, pos + 1);
                if (pos == 0 && uc_is_property_white_space(c))
                        return scim_err_set(err, 400, "invalidValue",
                                            "userName starts with white "
                                            "space (U+%04X)",
                                            (unsigned)c);
                last = p;
                lastc = c;
        }
        if (last && uc_is_property_white_space(lastc))
                return scim_err_set(err, 400, "invalidValue",
                                    "userName ends with white space "
                                    "(U+%04X)",
                                    (unsigned)lastc);
        return 0;
}
