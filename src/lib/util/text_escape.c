/* text_escape.c — UTF-8 validation and systemd-style cescape (see text_escape.h). The decoder
 * is the table of RFC 3629 section 4 written out; it is here rather than libunistring's u8_check
 * because every command (a lookup starts in a few ms) would load one more library for it, and
 * the escaper needs the code point anyway to tell C1 controls and bidi overrides apart. */
#include "util/text_escape.h"

#include <stdlib.h>
#include <string.h>

size_t text_utf8_sequence(const char *s, size_t len, uint32_t *code_point)
{
    if (len == 0)
        return 0;
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;
    size_t need;
    unsigned char low = 0x80, high = 0xBF;   /* allowed range of the second byte */
    if (u[0] < 0x80) {
        if (code_point)
            *code_point = u[0];
        return 1;
    } else if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        need = 2;
        cp = u[0] & 0x1Fu;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        need = 3;
        cp = u[0] & 0x0Fu;
        if (u[0] == 0xE0)
            low = 0xA0;            /* overlong */
        else if (u[0] == 0xED)
            high = 0x9F;           /* UTF-16 surrogates U+D800-U+DFFF */
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        need = 4;
        cp = u[0] & 0x07u;
        if (u[0] == 0xF0)
            low = 0x90;            /* overlong */
        else if (u[0] == 0xF4)
            high = 0x8F;           /* beyond U+10FFFF */
    } else {
        return 0;                  /* continuation byte, C0/C1 overlong lead, F5-FF */
    }
    if (len < need)
        return 0;
    if (u[1] < low || u[1] > high)
        return 0;
    cp = (cp << 6) | (u[1] & 0x3Fu);
    for (size_t i = 2; i < need; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (u[i] & 0x3Fu);
    }
    if (code_point)
        *code_point = cp;
    return need;
}

bool text_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = text_utf8_sequence(s + i, len - i, NULL);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t text_utf8_cut(const char *s, size_t len)
{
    /* walk back over at most 3 continuation bytes to the lead of the last sequence */
    size_t start = len;
    while (start > 0 && len - start < 3 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
        start--;
    if (start == 0 || (unsigned char)s[start - 1] < 0x80)
        return len;
    size_t lead = start - 1;
    unsigned char c = (unsigned char)s[lead];
    size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return len - lead < want ? lead : len;
}

/* Code points shown as bytes although they are valid: terminal controls and text reordering. */
static bool code_point_is_hidden(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* The escape of one control byte, or NULL when it is written as \xNN. */
static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '\\': return "\\\\";
    case '\a': return "\\a";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\v': return "\\v";
    default: return NULL;
    }
}

/* One unit of output: either `kept` bytes copied as they are, or one input byte escaped into
 * esc (escaped_len bytes). Returns the number of input bytes the unit covers. */
struct escape_unit {
    size_t kept;
    char esc[4];
    size_t escaped_len;
};

static size_t next_unit(const char *s, size_t len, struct escape_unit *unit)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)s[0];
    unit->kept = 0;
    unit->escaped_len = 0;
    if (c >= 0x20 && c < 0x7F && c != '\\') {
        size_t n = 1;   /* a run of plain ASCII in one unit */
        while (n < len && (unsigned char)s[n] >= 0x20 && (unsigned char)s[n] < 0x7F && s[n] != '\\')
            n++;
        unit->kept = n;
        return n;
    }
    if (c >= 0x80) {
        uint32_t cp;
        size_t n = text_utf8_sequence(s, len, &cp);
        if (n > 0 && !code_point_is_hidden(cp)) {
            unit->kept = n;
            return n;
        }
    }
    const char *e = short_escape(c);
    if (e) {
        unit->escaped_len = strlen(e);
        memcpy(unit->esc, e, unit->escaped_len);
    } else {
        unit->esc[0] = '\\';
        unit->esc[1] = 'x';
        unit->esc[2] = hex[c >> 4];
        unit->esc[3] = hex[c & 15];
        unit->escaped_len = 4;
    }
    return 1;
}

bool text_escape_needed(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        struct escape_unit unit;
        i += next_unit(s + i, len - i, &unit);
        if (unit.escaped_len)
            return true;
    }
    return false;
}

size_t text_escape_length(const char *s, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        struct escape_unit unit;
        i += next_unit(s + i, len - i, &unit);
        out += unit.kept + unit.escaped_len;
    }
    return out;
}

size_t text_escape(const char *s, size_t len, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        struct escape_unit unit;
        size_t step = next_unit(s + i, len - i, &unit);
        if (unit.kept) {
            size_t take = unit.kept;
            if (o + take >= size) {
                /* a run of ASCII may be cut anywhere, a character only whole */
                if (take > 1 && (unsigned char)s[i] < 0x80)
                    take = size - 1 - o;
                else
                    break;
            }
            memcpy(out + o, s + i, take);
            o += take;
            if (take < unit.kept)
                break;
        } else {
            if (o + unit.escaped_len >= size)
                break;
            memcpy(out + o, unit.esc, unit.escaped_len);
            o += unit.escaped_len;
        }
        i += step;
    }
    out[o] = '\0';
    return o;
}

void text_escape_in_place(char *buffer, size_t size)
{
    size_t len = strnlen(buffer, size);
    if (!text_escape_needed(buffer, len))
        return;
    char *copy = malloc(len);
    if (!copy) {
        /* no memory for a copy: never leave the raw bytes, keep the ASCII-printable prefix */
        size_t i = 0;
        while (i < len && (unsigned char)buffer[i] >= 0x20 && (unsigned char)buffer[i] < 0x7F &&
               buffer[i] != '\\')
            i++;
        buffer[i] = '\0';
        return;
    }
    memcpy(copy, buffer, len);
    text_escape(copy, len, buffer, size);
    free(copy);
}

char *text_escape_dup(const char *s, size_t len)
{
    size_t need = text_escape_length(s, len);
    char *out = malloc(need + 1);
    if (out)
        text_escape(s, len, out, need + 1);
    return out;
}

size_t text_escaped_prefix(const char *escaped, size_t len, size_t max)
{
    size_t i = 0;
    while (i < len) {
        size_t step;
        if (escaped[i] == '\\')
            step = i + 1 < len && escaped[i + 1] == 'x' ? 4 : 2;
        else if ((unsigned char)escaped[i] >= 0x80)
            step = text_utf8_sequence(escaped + i, len - i, NULL);
        else
            step = 1;
        if (step == 0)
            step = 1;
        if (i + step > max || i + step > len)
            break;
        i += step;
    }
    return i;
}
