/* text_escape.h — the one escaping rule for text that did not come from portreg itself
 * (process names, cgroup units, banners, registry fields): systemd's cescape, as ps and lsof
 * show such names. "\\" for a backslash, \a \b \f \n \r \t \v, \xNN for every other control
 * byte (C0, DEL), for each byte of a C1 control (U+0080-U+009F) or of a bidirectional override
 * (U+202A-U+202E, U+2066-U+2069), and for every byte that is not part of valid UTF-8
 * (overlongs, surrogates, > U+10FFFF, truncated sequences). Printable UTF-8 is kept as is, so
 * the result is valid UTF-8 with no terminal control and no tab or newline in it. */
#ifndef PORTREG_UTIL_TEXT_ESCAPE_H
#define PORTREG_UTIL_TEXT_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length (1-4) of the well-formed UTF-8 sequence at the start of s[0..len), with its code
 * point in *code_point (may be NULL); 0 when s does not start with one. */
size_t text_utf8_sequence(const char *s, size_t len, uint32_t *code_point);
/* Whether all of s[0..len) is well-formed UTF-8 (NUL bytes included, as U+0000). */
bool text_utf8_valid(const char *s, size_t len);
/* The longest prefix length <= len of s that does not end inside a UTF-8 sequence: where to cut
 * text that snprintf may have truncated in the middle of a character. */
size_t text_utf8_cut(const char *s, size_t len);

/* Whether text_escape would change s[0..len). */
bool text_escape_needed(const char *s, size_t len);
/* The length of the escaped form of s[0..len), without the terminating NUL. */
size_t text_escape_length(const char *s, size_t len);
/* Escape s[0..len) into out[0..size) and NUL-terminate it (size > 0). When it does not fit, the
 * output stops after the last whole escape or character that fits. Returns the length written. */
size_t text_escape(const char *s, size_t len, char *out, size_t size);
/* Escape a NUL-terminated string in place in buffer[0..size): the fixed-size fields filled
 * from /proc (comm, a cgroup unit). */
void text_escape_in_place(char *buffer, size_t size);
/* The escaped form of s[0..len) in a new malloc'd string; NULL when out of memory. */
char *text_escape_dup(const char *s, size_t len);
/* The longest prefix length <= max of escaped text[0..len) that cuts neither an escape ("\x1b",
 * "\n") nor a character: for showing an escaped text in a column of limited width. */
size_t text_escaped_prefix(const char *escaped, size_t len, size_t max);

#endif
