/* iana_csv.c — parser for IANA's service-names-port-numbers.csv (API in iana_csv.h).
 * One forward pass: each RFC 4180 row is sliced in place (memchr for quotes, a word-at-a-time
 * scan for plain fields), checked (12 columns, port, protocol), and its text copied into the
 * record list's arena with one allocation per row. Lines count '\n'; error columns count UTF-8
 * characters from the line start (BOM excluded). On error the list is cut back to its length. */
#include "registry/iana_csv.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/text_scan.h"

#define IANA_CSV_COLUMN_COUNT 12
#define IANA_CSV_MAX_PORT 65535u
#define IANA_CSV_QUOTED_VALUE_MAX 40   /* bytes of a bad value shown in an error message */

enum iana_csv_column {
    IANA_CSV_COLUMN_SERVICE_NAME = 0,
    IANA_CSV_COLUMN_PORT_NUMBER,
    IANA_CSV_COLUMN_TRANSPORT_PROTOCOL,
    IANA_CSV_COLUMN_DESCRIPTION,
    IANA_CSV_COLUMN_ASSIGNEE,
    IANA_CSV_COLUMN_CONTACT,
    IANA_CSV_COLUMN_REGISTRATION_DATE,
    IANA_CSV_COLUMN_MODIFICATION_DATE,
    IANA_CSV_COLUMN_REFERENCE,
    IANA_CSV_COLUMN_SERVICE_CODE,
    IANA_CSV_COLUMN_UNAUTHORIZED_USE_REPORTED,
    IANA_CSV_COLUMN_ASSIGNMENT_NOTES,
};

static const char *const iana_csv_column_names[IANA_CSV_COLUMN_COUNT] = {
    "Service Name", "Port Number", "Transport Protocol", "Description", "Assignee", "Contact",
    "Registration Date", "Modification Date", "Reference", "Service Code",
    "Unauthorized Use Reported", "Assignment Notes",
};

/* One field of a row, pointing into the input buffer. */
struct iana_csv_field {
    const char *start;         /* first byte of the field (its opening quote when quoted) */
    const char *text;          /* the value; inside the quotes for a quoted field */
    size_t len;
    bool has_doubled_quotes;   /* quoted value still holds "" pairs to collapse when copied */
};

/* One row as sliced by iana_csv_scan_row(); only the first 12 fields are kept. */
struct iana_csv_row {
    struct iana_csv_field fields[IANA_CSV_COLUMN_COUNT];
    size_t field_count;             /* every field of the row, also those past the 12th */
    const char *extra_field_comma;  /* the comma that opened field 13, when field_count > 12 */
    const char *end;                /* just past the last field's value, before the line end */
    size_t first_line;              /* 1-based line where the row starts */
};

struct iana_csv_scanner {
    const char *text_begin;   /* input after the BOM: line 1, column 1 */
    const char *pos;
    const char *end;
    size_t line;              /* 1-based line of pos */
};

/* Line and column (1-based, columns in UTF-8 characters) of a byte of the input. Used on
 * errors only, so it simply counts from the start. */
static void iana_csv_locate_byte(const char *text_begin, const char *at, unsigned *line,
                                 unsigned *column)
{
    size_t lines = 1, columns = 1;
    const char *line_start = text_begin, *newline;
    while ((newline = memchr(line_start, '\n', (size_t)(at - line_start))) != NULL) {
        lines++;
        line_start = newline + 1;
    }
    for (const char *p = line_start; p < at; p++)
        if (((unsigned char)*p & 0xC0u) != 0x80u)
            columns++;
    *line = lines > UINT_MAX ? UINT_MAX : (unsigned)lines;
    *column = columns > UINT_MAX ? UINT_MAX : (unsigned)columns;
}

/* Fill err with -EINVAL, the position of `at` and the message (a plain format string). */
static int iana_csv_fail_at(const struct iana_csv_scanner *scanner, const char *at,
                            struct pr_error *err, const char *message)
{
    unsigned line, column;
    iana_csv_locate_byte(scanner->text_begin, at, &line, &column);
    return pr_error_set_at(err, -EINVAL, line, column, "%s", message);
}

/* "Port Number" for the 12 IANA columns, "column 13" past them. */
static const char *iana_csv_column_label(size_t index, char *buf, size_t size)
{
    if (index < IANA_CSV_COLUMN_COUNT)
        return iana_csv_column_names[index];
    snprintf(buf, size, "column %zu", index + 1);
    return buf;
}

/* Copy a field value for an error message: at most IANA_CSV_QUOTED_VALUE_MAX bytes (cut on a
 * UTF-8 boundary, "..." appended), with quotes, backslashes and control bytes escaped. */
static const char *iana_csv_escape_value_for_message(const char *text, size_t len, char *buf,
                                                     size_t size)
{
    size_t shown = len, used = 0;
    if (shown > IANA_CSV_QUOTED_VALUE_MAX) {
        shown = IANA_CSV_QUOTED_VALUE_MAX;
        while (shown > 0 && ((unsigned char)text[shown] & 0xC0u) == 0x80u)
            shown--;
    }
    for (size_t i = 0; i < shown && used + 5 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        const char *escape = NULL;
        switch (c) {
        case '"': escape = "\\\""; break;
        case '\\': escape = "\\\\"; break;
        case '\n': escape = "\\n"; break;
        case '\r': escape = "\\r"; break;
        case '\t': escape = "\\t"; break;
        default: break;
        }
        if (escape) {
            memcpy(buf + used, escape, 2);
            used += 2;
        } else if (c < 0x20u || c == 0x7fu) {
            snprintf(buf + used, size - used, "\\x%02x", c);
            used += 4;
        } else {
            buf[used++] = (char)c;
        }
    }
    if (shown < len && used + 4 <= size) {
        memcpy(buf + used, "...", 3);
        used += 3;
    }
    buf[used] = '\0';
    return buf;
}

/* Count '\n' bytes in [from, to). */
static size_t iana_csv_count_newlines(const char *from, const char *to)
{
    size_t count = 0;
    const char *newline;
    while (from < to && (newline = memchr(from, '\n', (size_t)(to - from))) != NULL) {
        count++;
        from = newline + 1;
    }
    return count;
}

/* First ',' or '\n' in [p, end), or end. Plain fields are most of the file, so this looks at
 * eight bytes per step (the classic "has zero byte" bit trick on x ^ 0x2c2c.. and x ^ 0x0a0a..;
 * its lowest flagged byte is exact) on little-endian machines, one byte at a time elsewhere. */
static const char *iana_csv_find_comma_or_newline(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    const uint64_t commas = ones * (uint64_t)',', newlines = ones * (uint64_t)'\n';
    while (end - p >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof word);
        uint64_t comma_bytes = word ^ commas, newline_bytes = word ^ newlines;
        uint64_t found = ((comma_bytes - ones) & ~comma_bytes & highs) |
                         ((newline_bytes - ones) & ~newline_bytes & highs);
        if (found)
            return p + (__builtin_ctzll(found) >> 3);
        p += sizeof word;
    }
#endif
    while (p < end && *p != ',' && *p != '\n')
        p++;
    return p;
}

static void iana_csv_skip_blank_lines(struct iana_csv_scanner *scanner)
{
    const char *p = scanner->pos, *end = scanner->end;
    for (;;) {
        if (p < end && *p == '\n') {
            p++;
        } else if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            p += 2;
        } else {
            break;
        }
        scanner->line++;
    }
    scanner->pos = p;
}

/* Slice the next row (RFC 4180) starting at scanner->pos and move past its line end.
 * Returns 0 with a row, 1 at the end of input, or -EINVAL (broken quoting) with err set. */
static int iana_csv_scan_row(struct iana_csv_scanner *scanner, struct iana_csv_row *row,
                             struct pr_error *err)
{
    iana_csv_skip_blank_lines(scanner);
    const char *p = scanner->pos, *end = scanner->end;
    if (p == end)
        return 1;

    row->field_count = 0;
    row->extra_field_comma = NULL;
    row->first_line = scanner->line;
    for (;;) {
        struct iana_csv_field field = { .start = p, .has_doubled_quotes = false };
        bool row_ends;
        if (p < end && *p == '"') {
            const char *value = ++p;
            for (;;) {
                const char *quote = memchr(p, '"', (size_t)(end - p));
                if (!quote) {
                    char label[32], message[96];
                    snprintf(message, sizeof message, "unterminated quoted field in %s (opened here)",
                             iana_csv_column_label(row->field_count, label, sizeof label));
                    return iana_csv_fail_at(scanner, field.start, err, message);
                }
                scanner->line += iana_csv_count_newlines(p, quote);
                if (end - quote >= 2 && quote[1] == '"') {
                    field.has_doubled_quotes = true;
                    p = quote + 2;
                    continue;
                }
                field.text = value;
                field.len = (size_t)(quote - value);
                p = quote + 1;
                break;
            }
            row->end = p;
            if (p == end) {
                row_ends = true;
            } else if (*p == ',') {
                row_ends = false;
                p++;
            } else if (*p == '\n') {
                row_ends = true;
                p++;
                scanner->line++;
            } else if (*p == '\r' && end - p >= 2 && p[1] == '\n') {
                row_ends = true;
                p += 2;
                scanner->line++;
            } else {
                char label[32], found[16], message[160];
                unsigned char c = (unsigned char)*p;
                if (c == '\r')
                    snprintf(found, sizeof found, "'\\r'");
                else if (c >= 0x20u && c < 0x7fu)
                    snprintf(found, sizeof found, "'%c'", c);
                else
                    snprintf(found, sizeof found, "byte 0x%02x", c);
                snprintf(message, sizeof message,
                         "unexpected %s after the closing quote of %s (expected ',' or end of line)",
                         found, iana_csv_column_label(row->field_count, label, sizeof label));
                return iana_csv_fail_at(scanner, p, err, message);
            }
        } else {
            const char *value = p;
            p = iana_csv_find_comma_or_newline(p, end);
            field.text = value;
            field.len = (size_t)(p - value);
            if (p < end && *p == ',') {
                row_ends = false;
                row->end = p;
                p++;
            } else {
                row_ends = true;
                if (field.len > 0 && value[field.len - 1] == '\r')
                    field.len--;
                row->end = value + field.len;
                if (p < end) {
                    p++;
                    scanner->line++;
                }
            }
        }
        if (row->field_count < IANA_CSV_COLUMN_COUNT)
            row->fields[row->field_count] = field;
        else if (row->field_count == IANA_CSV_COLUMN_COUNT)
            row->extra_field_comma = field.start - 1;
        row->field_count++;
        if (row_ends)
            break;
    }
    scanner->pos = p;
    return 0;
}

/* A row with the wrong number of fields: point at the comma opening the first extra field,
 * or at the end of a short row. */
static int iana_csv_fail_field_count(const struct iana_csv_scanner *scanner,
                                     const struct iana_csv_row *row, bool is_header,
                                     struct pr_error *err)
{
    const char *at = row->field_count > IANA_CSV_COLUMN_COUNT ? row->extra_field_comma : row->end;
    unsigned line, column;
    iana_csv_locate_byte(scanner->text_begin, at, &line, &column);
    char started[48] = "";
    if (line != row->first_line)
        snprintf(started, sizeof started, " (row starts on line %zu)", row->first_line);
    return pr_error_set_at(err, -EINVAL, line, column, "%s has %zu field%s, expected %d%s",
                           is_header ? "header row" : "row", row->field_count,
                           row->field_count == 1 ? "" : "s", IANA_CSV_COLUMN_COUNT, started);
}

static int iana_csv_check_header_row(const struct iana_csv_scanner *scanner,
                                     const struct iana_csv_row *row, struct pr_error *err)
{
    size_t checked = row->field_count < IANA_CSV_COLUMN_COUNT ? row->field_count
                                                               : IANA_CSV_COLUMN_COUNT;
    for (size_t i = 0; i < checked; i++) {
        const struct iana_csv_field *field = &row->fields[i];
        const char *expected = iana_csv_column_names[i];
        if (field->len == strlen(expected) && strncasecmp(field->text, expected, field->len) == 0)
            continue;
        char shown[IANA_CSV_QUOTED_VALUE_MAX * 4 + 8], message[320];
        snprintf(message, sizeof message, "header column %zu is \"%s\", expected \"%s\"", i + 1,
                 iana_csv_escape_value_for_message(field->text, field->len, shown, sizeof shown),
                 expected);
        return iana_csv_fail_at(scanner, field->start, err, message);
    }
    if (row->field_count != IANA_CSV_COLUMN_COUNT)
        return iana_csv_fail_field_count(scanner, row, true, err);
    return 0;
}

static bool iana_csv_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void iana_csv_trim_surrounding_space(const char **text, size_t *len)
{
    const char *begin = *text, *end = *text + *len;
    while (begin < end && iana_csv_is_space(*begin))
        begin++;
    while (end > begin && iana_csv_is_space(end[-1]))
        end--;
    *text = begin;
    *len = (size_t)(end - begin);
}

/* Read decimal digits at *p, saturating above 65535 so long inputs cannot overflow.
 * Returns false when there is no digit. */
static bool iana_csv_read_port_digits(const char **p, const char *end, uint32_t *value)
{
    const char *start = *p;
    uint32_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (v <= IANA_CSV_MAX_PORT)
            v = v * 10u + (uint32_t)(**p - '0');
        (*p)++;
    }
    *value = v;
    return *p > start;
}

enum iana_csv_port_problem {
    IANA_CSV_PORT_OK = 0,
    IANA_CSV_PORT_NOT_A_NUMBER,
    IANA_CSV_PORT_OUT_OF_RANGE,
    IANA_CSV_PORT_RANGE_REVERSED,
};

/* "1433" or "225-241" (already trimmed, not empty). */
static enum iana_csv_port_problem iana_csv_parse_port_number(const char *text, size_t len,
                                                             uint16_t *first, uint16_t *last)
{
    const char *p = text, *end = text + len;
    uint32_t low, high;
    if (!iana_csv_read_port_digits(&p, end, &low))
        return IANA_CSV_PORT_NOT_A_NUMBER;
    high = low;
    if (p < end) {
        if (*p != '-')
            return IANA_CSV_PORT_NOT_A_NUMBER;
        p++;
        if (!iana_csv_read_port_digits(&p, end, &high) || p != end)
            return IANA_CSV_PORT_NOT_A_NUMBER;
    }
    if (low > IANA_CSV_MAX_PORT || high > IANA_CSV_MAX_PORT)
        return IANA_CSV_PORT_OUT_OF_RANGE;
    if (low > high)
        return IANA_CSV_PORT_RANGE_REVERSED;
    *first = (uint16_t)low;
    *last = (uint16_t)high;
    return IANA_CSV_PORT_OK;
}

/* Write a field's value at `to` with a closing NUL, collapsing "" to " in quoted values.
 * Returns the byte after the NUL. */
static char *iana_csv_copy_field_value(char *to, const struct iana_csv_field *field)
{
    const char *from = field->text, *end = field->text + field->len;
    if (!field->has_doubled_quotes) {
        memcpy(to, from, field->len);
        to += field->len;
    } else {
        while (from < end) {
            const char *quote = memchr(from, '"', (size_t)(end - from));
            size_t chunk = quote ? (size_t)(quote - from) + 1 : (size_t)(end - from);
            memcpy(to, from, chunk);
            to += chunk;
            from += chunk;
            if (quote)
                from++;   /* the second quote of a "" pair */
        }
    }
    *to = '\0';
    return to + 1;
}

/* Copy the ten text columns of a row into one arena allocation (one bump per row instead of
 * one per field). Empty values keep the static "" the record starts with. False on ENOMEM. */
static bool iana_csv_copy_row_strings(struct arena *arena, const struct iana_csv_row *row,
                                      struct registry_record *record)
{
    const char **targets[IANA_CSV_COLUMN_COUNT] = {
        [IANA_CSV_COLUMN_SERVICE_NAME] = &record->service,
        [IANA_CSV_COLUMN_DESCRIPTION] = &record->description,
        [IANA_CSV_COLUMN_ASSIGNEE] = &record->assignee,
        [IANA_CSV_COLUMN_CONTACT] = &record->contact,
        [IANA_CSV_COLUMN_REGISTRATION_DATE] = &record->registration_date,
        [IANA_CSV_COLUMN_MODIFICATION_DATE] = &record->modification_date,
        [IANA_CSV_COLUMN_REFERENCE] = &record->reference,
        [IANA_CSV_COLUMN_SERVICE_CODE] = &record->service_code,
        [IANA_CSV_COLUMN_UNAUTHORIZED_USE_REPORTED] = &record->unauthorized_use,
        [IANA_CSV_COLUMN_ASSIGNMENT_NOTES] = &record->assignment_notes,
    };
    size_t total = 0;
    for (size_t i = 0; i < IANA_CSV_COLUMN_COUNT; i++)
        if (targets[i] && row->fields[i].len > 0)
            total += row->fields[i].len + 1;
    if (total == 0)
        return true;
    char *to = arena_alloc(arena, total);
    if (!to)
        return false;
    for (size_t i = 0; i < IANA_CSV_COLUMN_COUNT; i++) {
        if (targets[i] && row->fields[i].len > 0) {
            *targets[i] = to;
            to = iana_csv_copy_field_value(to, &row->fields[i]);
        }
    }
    return true;
}

/* Protocol column value (trimmed, not empty): tcp and udp are nearly every row, so compare
 * those directly before the case-insensitive lookup. -1 when unknown. */
static int iana_csv_parse_protocol(const char *text, size_t len)
{
    if (len == 3 && memcmp(text, "tcp", 3) == 0)
        return REGISTRY_PROTO_TCP;
    if (len == 3 && memcmp(text, "udp", 3) == 0)
        return REGISTRY_PROTO_UDP;
    return registry_proto_parse(text, len);
}

/* Check a data row and append it to out as one record. */
static int iana_csv_append_record_from_row(const struct iana_csv_scanner *scanner,
                                           const struct iana_csv_row *row,
                                           struct registry_records *out, struct pr_error *err)
{
    if (row->field_count != IANA_CSV_COLUMN_COUNT)
        return iana_csv_fail_field_count(scanner, row, false, err);

    char shown[IANA_CSV_QUOTED_VALUE_MAX * 4 + 8], message[320];
    const struct iana_csv_field *fields = row->fields;

    const char *port_text = fields[IANA_CSV_COLUMN_PORT_NUMBER].text;
    size_t port_len = fields[IANA_CSV_COLUMN_PORT_NUMBER].len;
    iana_csv_trim_surrounding_space(&port_text, &port_len);
    uint16_t port_first = 0, port_last = 0;
    if (port_len > 0) {
        enum iana_csv_port_problem problem =
            iana_csv_parse_port_number(port_text, port_len, &port_first, &port_last);
        if (problem != IANA_CSV_PORT_OK) {
            iana_csv_escape_value_for_message(port_text, port_len, shown, sizeof shown);
            if (problem == IANA_CSV_PORT_NOT_A_NUMBER)
                snprintf(message, sizeof message,
                         "Port Number \"%s\" is not a port or a range like 225-241", shown);
            else if (problem == IANA_CSV_PORT_OUT_OF_RANGE)
                snprintf(message, sizeof message, "Port Number \"%s\" is out of range 0-65535",
                         shown);
            else
                snprintf(message, sizeof message,
                         "Port Number range \"%s\" starts after it ends", shown);
            return iana_csv_fail_at(scanner, port_text, err, message);
        }
    }

    const char *proto_text = fields[IANA_CSV_COLUMN_TRANSPORT_PROTOCOL].text;
    size_t proto_len = fields[IANA_CSV_COLUMN_TRANSPORT_PROTOCOL].len;
    iana_csv_trim_surrounding_space(&proto_text, &proto_len);
    int proto = REGISTRY_PROTO_ANY;
    if (proto_len > 0) {
        proto = iana_csv_parse_protocol(proto_text, proto_len);
        if (proto < 0) {
            snprintf(message, sizeof message,
                     "Transport Protocol \"%s\" is not tcp, udp, sctp or dccp",
                     iana_csv_escape_value_for_message(proto_text, proto_len, shown,
                                                       sizeof shown));
            return iana_csv_fail_at(scanner, proto_text, err, message);
        }
    }

    struct registry_record *record = registry_records_append(out);
    if (!record)
        return pr_error_set(err, -ENOMEM, "out of memory while reading the IANA registry");
    record->line = row->first_line > UINT32_MAX ? UINT32_MAX : (uint32_t)row->first_line;
    record->has_port = port_len > 0;
    record->port_first = port_first;
    record->port_last = port_last;
    record->proto = (uint8_t)proto;

    if (!iana_csv_copy_row_strings(&out->arena, row, record))
        return pr_error_set(err, -ENOMEM, "out of memory while reading the IANA registry");
    record->status = (uint8_t)registry_status_classify(record->service, record->description);
    return 0;
}

long iana_csv_parse(const char *buf, size_t len, struct registry_records *out,
                    struct pr_error *err)
{
    const size_t count_before = out->count;
    if (!buf) {
        buf = "";
        len = 0;
    }
    struct iana_csv_scanner scanner = { .text_begin = buf, .pos = buf, .end = buf + len,
                                        .line = 1 };
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        scanner.text_begin = scanner.pos = buf + 3;

    const char *nul = memchr(buf, '\0', len);
    if (nul)
        return iana_csv_fail_at(&scanner, nul, err, TEXT_NUL_BYTE_MESSAGE);

    const char *first_text = scanner.pos;
    while (first_text < scanner.end && iana_csv_is_space(*first_text))
        first_text++;
    if (first_text == scanner.end)
        return pr_error_set_at(err, -EINVAL, 1, 1, "empty input: no IANA header row");

    struct iana_csv_row row;
    int rc = iana_csv_scan_row(&scanner, &row, err);
    if (rc == 0)
        rc = iana_csv_check_header_row(&scanner, &row, err);
    while (rc == 0) {
        rc = iana_csv_scan_row(&scanner, &row, err);
        if (rc == 0)
            rc = iana_csv_append_record_from_row(&scanner, &row, out, err);
    }
    if (rc < 0) {
        out->count = count_before;
        return rc;
    }
    return (long)(out->count - count_before);
}
