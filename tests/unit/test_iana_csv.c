/* test_iana_csv.c — cmocka tests for the IANA service-names-port-numbers.csv parser.
 * In-memory strings cover every quirk and every error (exact line, column and message); the
 * fixtures in $PORTREG_FIXTURES/iana are small hand-written files; the real registry at
 * $PORTREG_IANA_CSV (skipped when absent) checks counts and well-known rows. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/iana_csv.h"

#define IANA_HEADER_LINE                                                                       \
    "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,"               \
    "Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,"   \
    "Assignment Notes"
#define IANA_HEADER IANA_HEADER_LINE "\n"

/* ---- helpers ------------------------------------------------------------------------- */

static int setup_empty_record_list(void **state)
{
    struct registry_records *list = calloc(1, sizeof *list);
    if (!list)
        return -1;
    *state = list;
    return 0;
}

static int teardown_record_list(void **state)
{
    struct registry_records *list = *state;
    registry_records_free(list);
    free(list);
    return 0;
}

static long parse_string(struct registry_records *list, const char *text, struct pr_error *err)
{
    return iana_csv_parse(text, strlen(text), list, err);
}

/* Parse text of len bytes and expect -EINVAL at line:column with exactly this message and the
 * list left at its previous length. */
static void expect_parse_error_bytes(struct registry_records *list, const char *text, size_t len,
                                     unsigned line, unsigned column, const char *message)
{
    struct pr_error err;
    pr_error_clear(&err);
    size_t count_before = list->count;
    long rc = iana_csv_parse(text, len, list, &err);
    if (rc != -EINVAL || strcmp(err.message, message) != 0 || err.line != line ||
        err.column != column)
        print_message("input: %.*s\ngot rc=%ld %u:%u %s\n", (int)len, text, rc, err.line,
                      err.column, err.message);
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_string_equal(err.message, message);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, column);
    assert_int_equal(list->count, count_before);
}

static void expect_parse_error(struct registry_records *list, const char *text, unsigned line,
                               unsigned column, const char *message)
{
    expect_parse_error_bytes(list, text, strlen(text), line, column, message);
}

static const struct registry_record *find_record(const struct registry_records *list,
                                                 const char *service, long port, int proto)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct registry_record *rec = &list->items[i];
        if (strcmp(rec->service, service) != 0 || rec->proto != proto)
            continue;
        if (port < 0 ? !rec->has_port : (rec->has_port && rec->port_first == port))
            return rec;
    }
    return NULL;
}

static size_t count_records_covering_port(const struct registry_records *list, unsigned port)
{
    size_t n = 0;
    for (size_t i = 0; i < list->count; i++) {
        const struct registry_record *rec = &list->items[i];
        if (rec->has_port && rec->port_first <= port && port <= rec->port_last)
            n++;
    }
    return n;
}

static char *read_whole_file(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    size_t capacity = 1 << 16, used = 0;
    char *data = malloc(capacity);
    while (data) {
        used += fread(data + used, 1, capacity - used, file);
        if (used < capacity)
            break;
        capacity *= 2;
        char *grown = realloc(data, capacity);
        if (!grown) {
            free(data);
            data = NULL;
        }
        data = grown;
    }
    fclose(file);
    *len = used;
    return data;
}

static char *read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("PORTREG_FIXTURES");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/iana/%s", dir, name);
    char *data = read_whole_file(path, len);
    if (!data)
        fail_msg("fixture %s is missing", path);
    return data;
}

/* Parse the real registry into list, or skip the test when the file is not there. */
static void parse_real_registry_or_skip(struct registry_records *list)
{
    const char *path = getenv("PORTREG_IANA_CSV");
    if (!path || !path[0]) {
        print_message("skipped: PORTREG_IANA_CSV is not set\n");
        skip();
    }
    size_t len = 0;
    char *data = read_whole_file(path, &len);
    if (!data) {
        print_message("skipped: IANA registry not found at %s\n", path);
        skip();
    }
    struct pr_error err;
    pr_error_clear(&err);
    long n = iana_csv_parse(data, len, list, &err);
    free(data);
    if (n < 0)
        print_message("%s:%u:%u: %s\n", path, err.line, err.column, err.message);
    assert_int_equal(n, 14447);
    assert_int_equal(list->count, 14447);
}

/* ---- rows that parse --------------------------------------------------------------------- */

static void test_plain_row_fills_every_column(void **state)
{
    struct registry_records *list = *state;
    struct pr_error err;
    pr_error_clear(&err);
    long n = parse_string(list,
        IANA_HEADER
        "demo,7001,tcp,Demo Service,[Alice_Example],[Bob_Example],2001-02-03,2020-05-06,"
        "[RFC9999],SC:DEMO,Yes,Some notes\n", &err);
    assert_int_equal(n, 1);
    assert_int_equal(err.code, 0);
    const struct registry_record *rec = &list->items[0];
    assert_string_equal(rec->service, "demo");
    assert_true(rec->has_port);
    assert_int_equal(rec->port_first, 7001);
    assert_int_equal(rec->port_last, 7001);
    assert_int_equal(rec->proto, REGISTRY_PROTO_TCP);
    assert_string_equal(rec->description, "Demo Service");
    assert_string_equal(rec->assignee, "[Alice_Example]");
    assert_string_equal(rec->contact, "[Bob_Example]");
    assert_string_equal(rec->registration_date, "2001-02-03");
    assert_string_equal(rec->modification_date, "2020-05-06");
    assert_string_equal(rec->reference, "[RFC9999]");
    assert_string_equal(rec->service_code, "SC:DEMO");
    assert_string_equal(rec->unauthorized_use, "Yes");
    assert_string_equal(rec->assignment_notes, "Some notes");
    assert_string_equal(rec->aliases, "");
    assert_int_equal(rec->line, 2);
    assert_int_equal(rec->status, REGISTRY_STATUS_ASSIGNED);
}

static void test_header_only_gives_zero_records(void **state)
{
    struct registry_records *list = *state;
    assert_int_equal(parse_string(list, IANA_HEADER, NULL), 0);
    assert_int_equal(parse_string(list, IANA_HEADER_LINE, NULL), 0);
    assert_int_equal(parse_string(list, IANA_HEADER_LINE "\r\n", NULL), 0);
    assert_int_equal(list->count, 0);
}

static void test_second_parse_appends_and_returns_only_new_count(void **state)
{
    struct registry_records *list = *state;
    assert_int_equal(parse_string(list, IANA_HEADER "a,1,tcp,A,,,,,,,,\na,1,udp,A,,,,,,,,\n",
                                  NULL), 2);
    assert_int_equal(parse_string(list, IANA_HEADER "\n\nb,2,sctp,B,,,,,,,,\n", NULL), 1);
    assert_int_equal(list->count, 3);
    assert_string_equal(list->items[0].service, "a");
    assert_string_equal(list->items[2].service, "b");
    assert_int_equal(list->items[2].line, 4);
    assert_int_equal(list->items[2].proto, REGISTRY_PROTO_SCTP);
}

static void test_quoted_multiline_field_keeps_newlines_and_start_line(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER
        "first,1,tcp,First,,,,,,,,\n"
        "alias,2,tcp,Alias,,,,,,,,\"line one\nline two\nline three\"\n"
        "after,3,udp,\"two\nlines\",,,,,,,,\n"
        "last,4,tcp,Last,,,,,,,,\n", NULL);
    assert_int_equal(n, 4);
    assert_int_equal(list->items[0].line, 2);
    assert_int_equal(list->items[1].line, 3);
    assert_string_equal(list->items[1].assignment_notes, "line one\nline two\nline three");
    assert_int_equal(list->items[2].line, 6);
    assert_string_equal(list->items[2].description, "two\nlines");
    assert_int_equal(list->items[3].line, 8);
    assert_string_equal(list->items[3].service, "last");
}

static void test_doubled_quotes_become_one_quote(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER
        "x,1,tcp,\"say \"\"hi\"\" twice\",,,,,,,,\"\"\"\"\n"
        "y,2,tcp,\"\"\"\"\"\",,,,,,,,\"alias to \"\"x\"\".\nsecond line\"\n", NULL);
    assert_int_equal(n, 2);
    assert_string_equal(list->items[0].description, "say \"hi\" twice");
    assert_string_equal(list->items[0].assignment_notes, "\"");
    assert_string_equal(list->items[1].description, "\"\"");
    assert_string_equal(list->items[1].assignment_notes, "alias to \"x\".\nsecond line");
}

static void test_quoted_fields_with_commas_and_empty_quotes(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER "\"quoted-name\",\"7015\",\"udp\",\"a, b, and c\",\"\",,,,,,,\"\"\n", NULL);
    assert_int_equal(n, 1);
    const struct registry_record *rec = &list->items[0];
    assert_string_equal(rec->service, "quoted-name");
    assert_int_equal(rec->port_first, 7015);
    assert_int_equal(rec->proto, REGISTRY_PROTO_UDP);
    assert_string_equal(rec->description, "a, b, and c");
    assert_string_equal(rec->assignee, "");
    assert_string_equal(rec->assignment_notes, "");
}

static void test_range_row_with_empty_protocol_is_any_and_reserved(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list, IANA_HEADER ",225-241,,Reserved,[Jon_Postel],[Jon_Postel],,,,,,\n",
                          NULL);
    assert_int_equal(n, 1);
    const struct registry_record *rec = &list->items[0];
    assert_string_equal(rec->service, "");
    assert_true(rec->has_port);
    assert_int_equal(rec->port_first, 225);
    assert_int_equal(rec->port_last, 241);
    assert_int_equal(rec->proto, REGISTRY_PROTO_ANY);
    assert_string_equal(rec->description, "Reserved");
    assert_int_equal(rec->status, REGISTRY_STATUS_RESERVED);
}

static void test_status_of_rows_without_service_name(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER
        ",0,tcp,Reserved,,,,,,,,\n"
        ",49151,,IANA Reserved,,,,,,,,\n"
        ",272-279,,Unassigned,,,,,,,,\n"
        ",280,tcp,unassigned,,,,,,,,\n"
        ",281,udp,De-registered,,,,,,,,\n"
        ",282,udp,Removed,,,,,,,,\n"
        ",283,tcp,any private terminal link,,,,,,,,\n"
        "named,284,tcp,Reserved for later,,,,,,,,\n", NULL);
    assert_int_equal(n, 8);
    assert_int_equal(list->items[0].status, REGISTRY_STATUS_RESERVED);
    assert_int_equal(list->items[1].status, REGISTRY_STATUS_RESERVED);
    assert_int_equal(list->items[1].proto, REGISTRY_PROTO_ANY);
    assert_int_equal(list->items[2].status, REGISTRY_STATUS_UNASSIGNED);
    assert_int_equal(list->items[2].port_first, 272);
    assert_int_equal(list->items[2].port_last, 279);
    assert_int_equal(list->items[3].status, REGISTRY_STATUS_UNASSIGNED);
    assert_int_equal(list->items[4].status, REGISTRY_STATUS_REMOVED);
    assert_int_equal(list->items[5].status, REGISTRY_STATUS_REMOVED);
    assert_int_equal(list->items[6].status, REGISTRY_STATUS_ASSIGNED);
    assert_int_equal(list->items[7].status, REGISTRY_STATUS_ASSIGNED);
}

static void test_empty_port_is_name_only_registration(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER "argus,,,ARGUS Protocol,,,,,,,,\nblank-port,  ,tcp,Spaces only,,,,,,,,\n",
        NULL);
    assert_int_equal(n, 2);
    assert_false(list->items[0].has_port);
    assert_int_equal(list->items[0].port_first, 0);
    assert_int_equal(list->items[0].port_last, 0);
    assert_int_equal(list->items[0].proto, REGISTRY_PROTO_ANY);
    assert_int_equal(list->items[0].status, REGISTRY_STATUS_ASSIGNED);
    assert_string_equal(list->items[0].description, "ARGUS Protocol");
    assert_false(list->items[1].has_port);
    assert_int_equal(list->items[1].proto, REGISTRY_PROTO_TCP);
}

static void test_bracketed_references_kept_verbatim(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER
        "imap-demo,9143,tcp,IMAP demo,[IESG],[IETF_Chair],,2020-01-01,"
        "[RFC3501][RFC9051],,,\n"
        "multi,9144,udp,Multi,[Jon_Postel],[Jon_Postel],,,[1][RFC4727][RFC6335],,,\n", NULL);
    assert_int_equal(n, 2);
    assert_string_equal(list->items[0].reference, "[RFC3501][RFC9051]");
    assert_string_equal(list->items[0].assignee, "[IESG]");
    assert_string_equal(list->items[0].contact, "[IETF_Chair]");
    assert_string_equal(list->items[1].reference, "[1][RFC4727][RFC6335]");
}

static void test_bom_is_skipped_and_header_case_insensitive(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        "\xEF\xBB\xBF"
        "SERVICE NAME,port number,Transport protocol,DESCRIPTION,assignee,CONTACT,"
        "registration date,MODIFICATION DATE,reference,service code,"
        "UNAUTHORIZED USE REPORTED,assignment notes\n"
        "bom,1,tcp,After a BOM,,,,,,,,\n", NULL);
    assert_int_equal(n, 1);
    assert_string_equal(list->items[0].service, "bom");
    assert_int_equal(list->items[0].line, 2);
}

static void test_crlf_line_ends_are_not_part_of_fields(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER_LINE "\r\n"
        "crlf,1,tcp,Desc,,,,,,,,Notes\r\n"
        "crlf,1,udp,Desc,,,,,,,,\"quoted notes\"\r\n"
        "inner,2,tcp,\"kept\r\nverbatim\",,,,,,,,\r\n"
        "last,3,tcp,Desc,,,,,,,,\r\n", NULL);
    assert_int_equal(n, 4);
    assert_string_equal(list->items[0].assignment_notes, "Notes");
    assert_string_equal(list->items[1].assignment_notes, "quoted notes");
    assert_string_equal(list->items[2].description, "kept\r\nverbatim");
    assert_int_equal(list->items[2].line, 4);
    assert_int_equal(list->items[3].line, 6);
    assert_string_equal(list->items[3].assignment_notes, "");
}

static void test_port_and_protocol_trimmed_other_fields_verbatim(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER " spaced ,\t7014 , Tcp ,  keeps spaces  ,,,,,,,, trailing \n"
        "q,\" 225-241 \",\" udp\",x,,,,,,,,\n", NULL);
    assert_int_equal(n, 2);
    assert_string_equal(list->items[0].service, " spaced ");
    assert_int_equal(list->items[0].port_first, 7014);
    assert_int_equal(list->items[0].proto, REGISTRY_PROTO_TCP);
    assert_string_equal(list->items[0].description, "  keeps spaces  ");
    assert_string_equal(list->items[0].assignment_notes, " trailing ");
    assert_int_equal(list->items[1].port_first, 225);
    assert_int_equal(list->items[1].port_last, 241);
    assert_int_equal(list->items[1].proto, REGISTRY_PROTO_UDP);
}

static void test_protocols_case_insensitive(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER "a,1,TCP,,,,,,,,,\na,1,Udp,,,,,,,,,\na,1,sCtP,,,,,,,,,\na,1,DCCP,,,,,,,,,\n"
        "a,1,dccp,,,,,,,,,\n", NULL);
    assert_int_equal(n, 5);
    assert_int_equal(list->items[0].proto, REGISTRY_PROTO_TCP);
    assert_int_equal(list->items[1].proto, REGISTRY_PROTO_UDP);
    assert_int_equal(list->items[2].proto, REGISTRY_PROTO_SCTP);
    assert_int_equal(list->items[3].proto, REGISTRY_PROTO_DCCP);
    assert_int_equal(list->items[4].proto, REGISTRY_PROTO_DCCP);
}

static void test_port_bounds_and_one_port_range(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        IANA_HEADER ",0,tcp,Reserved,,,,,,,,\nhigh,65535,udp,,,,,,,,,\n,5-5,,,,,,,,,,\n"
        ",0-65535,,All,,,,,,,,\nzeros,0080,tcp,,,,,,,,,\n", NULL);
    assert_int_equal(n, 5);
    assert_true(list->items[0].has_port);
    assert_int_equal(list->items[0].port_first, 0);
    assert_int_equal(list->items[0].port_last, 0);
    assert_int_equal(list->items[1].port_first, 65535);
    assert_int_equal(list->items[1].port_last, 65535);
    assert_int_equal(list->items[2].port_first, 5);
    assert_int_equal(list->items[2].port_last, 5);
    assert_int_equal(list->items[3].port_first, 0);
    assert_int_equal(list->items[3].port_last, 65535);
    assert_int_equal(list->items[4].port_first, 80);
}

static void test_last_row_without_newline(void **state)
{
    struct registry_records *list = *state;
    assert_int_equal(parse_string(list, IANA_HEADER "a,1,tcp,A,,,,,,,,end", NULL), 1);
    assert_string_equal(list->items[0].assignment_notes, "end");
    assert_int_equal(parse_string(list, IANA_HEADER "b,2,tcp,B,,,,,,,,\"quoted\nend\"", NULL), 1);
    assert_string_equal(list->items[1].assignment_notes, "quoted\nend");
    assert_int_equal(parse_string(list, IANA_HEADER "c,3,tcp,C,,,,,,,,", NULL), 1);
    assert_string_equal(list->items[2].assignment_notes, "");
    assert_string_equal(list->items[2].unauthorized_use, "");
    assert_int_equal(parse_string(list, IANA_HEADER "d,4,tcp,D,,,,,,,,notes\r", NULL), 1);
    assert_string_equal(list->items[3].assignment_notes, "notes");
}

static void test_blank_lines_between_rows_are_skipped(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list,
        "\n" IANA_HEADER "\n\na,1,tcp,A,,,,,,,,\r\n\r\nb,2,tcp,B,,,,,,,,\n\n", NULL);
    assert_int_equal(n, 2);
    assert_int_equal(list->items[0].line, 5);
    assert_int_equal(list->items[1].line, 7);
}

static void test_stray_quote_inside_unquoted_field_is_kept(void **state)
{
    struct registry_records *list = *state;
    long n = parse_string(list, IANA_HEADER "x,1,tcp,say \"hi\",,,,,,,,5\" disk\n", NULL);
    assert_int_equal(n, 1);
    assert_string_equal(list->items[0].description, "say \"hi\"");
    assert_string_equal(list->items[0].assignment_notes, "5\" disk");
}

static void test_strings_are_copied_out_of_the_input(void **state)
{
    struct registry_records *list = *state;
    char text[] = IANA_HEADER "caf\xC3\xA9-svc,8001,tcp,Caf\xC3\xA9 \xC3\xBC" "ber,,,,,,,,\n";
    assert_int_equal(iana_csv_parse(text, strlen(text), list, NULL), 1);
    memset(text, 'Z', strlen(text));
    assert_string_equal(list->items[0].service, "caf\xC3\xA9-svc");
    assert_string_equal(list->items[0].description, "Caf\xC3\xA9 \xC3\xBC" "ber");
}

static void test_input_need_not_be_nul_terminated(void **state)
{
    struct registry_records *list = *state;
    const char text[] = IANA_HEADER "a,1,tcp,A,,,,,,,,notes-and-then-garbage";
    size_t len = strlen(text) - strlen("-and-then-garbage");
    assert_int_equal(iana_csv_parse(text, len, list, NULL), 1);
    assert_string_equal(list->items[0].assignment_notes, "notes");
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_error_empty_input(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list, "", 1, 1, "empty input: no IANA header row");
    expect_parse_error(list, "\xEF\xBB\xBF", 1, 1, "empty input: no IANA header row");
    expect_parse_error(list, "\r\n\n \t\n", 1, 1, "empty input: no IANA header row");
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(iana_csv_parse(NULL, 0, list, &err), -EINVAL);
    assert_string_equal(err.message, "empty input: no IANA header row");
}

static void test_error_nul_byte(void **state)
{
    struct registry_records *list = *state;
    const char text[] = IANA_HEADER "a,1,tcp,d\0ata,,,,,,,,\n";
    expect_parse_error_bytes(list, text, sizeof text - 1, 2, 10,
                             "NUL byte: this is not a text file");
    const char binary[] = "\x7f" "ELF\x02\x01\x01\0\0\0";
    expect_parse_error_bytes(list, binary, sizeof binary - 1, 1, 8,
                             "NUL byte: this is not a text file");
}

static void test_error_header_column_name(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list,
        "Service Name,Port Number,Proto,Description,Assignee,Contact,Registration Date,"
        "Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\n",
        1, 26, "header column 3 is \"Proto\", expected \"Transport Protocol\"");
    expect_parse_error(list,
        "\xEF\xBB\xBF" "Service Name,Port Number,Proto,Description,Assignee,Contact,"
        "Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,"
        "Assignment Notes\r\n",
        1, 26, "header column 3 is \"Proto\", expected \"Transport Protocol\"");
    expect_parse_error(list, "<!DOCTYPE html>\n<html><body>Not Found</body></html>\n", 1, 1,
                       "header column 1 is \"<!DOCTYPE html>\", expected \"Service Name\"");
    expect_parse_error(list, "Service Name ,Port Number\n", 1, 1,
                       "header column 1 is \"Service Name \", expected \"Service Name\"");
    /* a data row where the header should be */
    expect_parse_error(list, ",0,tcp,Reserved,,,,,,,,\n", 1, 1,
                       "header column 1 is \"\", expected \"Service Name\"");
}

static void test_error_header_field_count(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list,
        "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,"
        "Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported\n"
        "a,1,tcp,A,,,,,,,,\n",
        1, 158, "header row has 11 fields, expected 12");
    expect_parse_error(list, IANA_HEADER_LINE ",Extra\n", 1, 175,
                       "header row has 13 fields, expected 12");
}

static void test_error_row_field_count(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list, IANA_HEADER "a,1,tcp,d,,,,,,,\n", 2, 17,
                       "row has 11 fields, expected 12");
    expect_parse_error(list, IANA_HEADER "a,1,tcp,d,,,,,,,\r\n", 2, 17,
                       "row has 11 fields, expected 12");
    expect_parse_error(list, IANA_HEADER "a,1,tcp,d,,,,,,,,,x\n", 2, 18,
                       "row has 13 fields, expected 12");
    expect_parse_error(list, IANA_HEADER "ok,1,tcp,,,,,,,,,\njunk\n", 3, 5,
                       "row has 1 field, expected 12");
    expect_parse_error(list, IANA_HEADER "   \n", 2, 4, "row has 1 field, expected 12");
}

static void test_error_field_count_of_multiline_row_names_start_line(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list, IANA_HEADER "a,1,tcp,\"two\nlines\",,,,,,\nb,2,tcp,,,,,,,,,\n", 3, 13,
                       "row has 10 fields, expected 12 (row starts on line 2)");
}

static void test_error_port_out_of_range(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list, IANA_HEADER "x,70000,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"70000\" is out of range 0-65535");
    expect_parse_error(list, IANA_HEADER "x,65536,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"65536\" is out of range 0-65535");
    expect_parse_error(list, IANA_HEADER "x,1-70000,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"1-70000\" is out of range 0-65535");
    expect_parse_error(list, IANA_HEADER "x,  70000 ,tcp,d,,,,,,,,\n", 2, 5,
                       "Port Number \"70000\" is out of range 0-65535");
    expect_parse_error(list, IANA_HEADER "x,99999999999999999999,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"99999999999999999999\" is out of range 0-65535");
    expect_parse_error(list, IANA_HEADER "x,4294967297,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"4294967297\" is out of range 0-65535");
}

static void test_error_port_not_a_number(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list, IANA_HEADER "x,12a,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"12a\" is not a port or a range like 225-241");
    expect_parse_error(list, IANA_HEADER "x,-5,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"-5\" is not a port or a range like 225-241");
    expect_parse_error(list, IANA_HEADER "x,1-,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"1-\" is not a port or a range like 225-241");
    expect_parse_error(list, IANA_HEADER "x,1--2,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"1--2\" is not a port or a range like 225-241");
    expect_parse_error(list, IANA_HEADER "x,1 - 2,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"1 - 2\" is not a port or a range like 225-241");
    expect_parse_error(list, IANA_HEADER "x,1-2-3,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"1-2-3\" is not a port or a range like 225-241");
    expect_parse_error(list, IANA_HEADER "x,+80,tcp,d,,,,,,,,\n", 2, 3,
                       "Port Number \"+80\" is not a port or a range like 225-241");
}

static void test_error_port_range_reversed(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list, IANA_HEADER ",241-225,,Reserved,,,,,,,,\n", 2, 2,
                       "Port Number range \"241-225\" starts after it ends");
}

static void test_error_unknown_protocol(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list, IANA_HEADER "x,1,xyz,d,,,,,,,,\n", 2, 5,
                       "Transport Protocol \"xyz\" is not tcp, udp, sctp or dccp");
    expect_parse_error(list, IANA_HEADER "x,1, tcp/udp ,d,,,,,,,,\n", 2, 6,
                       "Transport Protocol \"tcp/udp\" is not tcp, udp, sctp or dccp");
    expect_parse_error(list, IANA_HEADER "x,1,any,d,,,,,,,,\n", 2, 5,
                       "Transport Protocol \"any\" is not tcp, udp, sctp or dccp");
    expect_parse_error(list, IANA_HEADER "x,1,\"tc\np\",d,,,,,,,,\n", 2, 6,
                       "Transport Protocol \"tc\\np\" is not tcp, udp, sctp or dccp");
}

static void test_error_unterminated_quoted_field(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list, IANA_HEADER "ok,1,tcp,,,,,,,,,\nx,1,tcp,\"open\nmore text\n", 3, 9,
                       "unterminated quoted field in Description (opened here)");
    expect_parse_error(list, "Service Name,\"Port Number\n", 1, 14,
                       "unterminated quoted field in Port Number (opened here)");
    expect_parse_error(list, IANA_HEADER "x,1,tcp,d,,,,,,,,\"", 2, 18,
                       "unterminated quoted field in Assignment Notes (opened here)");
    expect_parse_error(list, IANA_HEADER "x,1,tcp,d,,,,,,,,a,\"b\n", 2, 20,
                       "unterminated quoted field in column 13 (opened here)");
    /* an escaped quote at the very end does not close the field */
    expect_parse_error(list, IANA_HEADER "x,1,tcp,\"ab\"\"", 2, 9,
                       "unterminated quoted field in Description (opened here)");
}

static void test_error_text_after_closing_quote(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list, IANA_HEADER "x,1,tcp,\"d\"x,,,,,,,,\n", 2, 12,
                       "unexpected 'x' after the closing quote of Description "
                       "(expected ',' or end of line)");
    expect_parse_error(list, IANA_HEADER "x,1,tcp,\"d\" ,,,,,,,,\n", 2, 12,
                       "unexpected ' ' after the closing quote of Description "
                       "(expected ',' or end of line)");
    expect_parse_error(list, IANA_HEADER "x,1,tcp,d,,,,,,,,\"n\"\rnext", 2, 21,
                       "unexpected '\\r' after the closing quote of Assignment Notes "
                       "(expected ',' or end of line)");
    expect_parse_error(list, IANA_HEADER "x,1,tcp,\"a\nb\"c,,,,,,,,\n", 3, 3,
                       "unexpected 'c' after the closing quote of Description "
                       "(expected ',' or end of line)");
    expect_parse_error(list, IANA_HEADER "\"x\"\x01,1,tcp,,,,,,,,,\n", 2, 4,
                       "unexpected byte 0x01 after the closing quote of Service Name "
                       "(expected ',' or end of line)");
}

static void test_error_column_counts_utf8_characters(void **state)
{
    struct registry_records *list = *state;
    /* "café" is 5 bytes but 4 characters, so the protocol starts in column 8 */
    expect_parse_error(list, IANA_HEADER "caf\xC3\xA9,1,xyz,d,,,,,,,,\n", 2, 8,
                       "Transport Protocol \"xyz\" is not tcp, udp, sctp or dccp");
}

static void test_error_long_value_is_shortened_in_message(void **state)
{
    struct registry_records *list = *state;
    expect_parse_error(list,
        IANA_HEADER "x,1234567890123456789012345678901234567890123456789,tcp,d,,,,,,,,\n", 2, 3,
        "Port Number \"1234567890123456789012345678901234567890...\" is out of range 0-65535");
}

static void test_error_rolls_back_records_from_this_call(void **state)
{
    struct registry_records *list = *state;
    assert_int_equal(parse_string(list, IANA_HEADER "keep,1,tcp,Kept,,,,,,,,\nkeep,1,udp,Kept,,,,,,,,\n",
                                  NULL), 2);
    expect_parse_error(list,
        IANA_HEADER "new,2,tcp,New,,,,,,,,\nnew,2,udp,New,,,,,,,,\nnew,3,tcp,\"multi\nline\",,,,,,,,\n"
        "bad,70000,tcp,Bad,,,,,,,,\n",
        6, 5, "Port Number \"70000\" is out of range 0-65535");
    assert_int_equal(list->count, 2);
    assert_string_equal(list->items[0].service, "keep");
    assert_string_equal(list->items[1].description, "Kept");
    assert_int_equal(list->items[1].proto, REGISTRY_PROTO_UDP);
    /* the list is still usable: the next parse appends after the kept records */
    assert_int_equal(parse_string(list, IANA_HEADER "next,4,sctp,Next,,,,,,,,\n", NULL), 1);
    assert_int_equal(list->count, 3);
    assert_string_equal(list->items[2].service, "next");
}

static void test_error_without_error_struct(void **state)
{
    struct registry_records *list = *state;
    assert_int_equal(parse_string(list, IANA_HEADER "a,1,tcp,d,,,,,,,\n", NULL), -EINVAL);
    assert_int_equal(parse_string(list, "", NULL), -EINVAL);
    assert_int_equal(list->count, 0);
}

static void test_error_truncated_inside_quoted_field(void **state)
{
    struct registry_records *list = *state;
    const char *full = IANA_HEADER "a,1,tcp,A,,,,,,,,\nb,2,tcp,B,,,,,,,,\"notes\nover two lines\"\n";
    const char *cut = strstr(full, "over two");
    expect_parse_error_bytes(list, full, (size_t)(cut - full), 3, 18,
                             "unterminated quoted field in Assignment Notes (opened here)");
}

static void test_error_truncated_in_middle_of_row(void **state)
{
    struct registry_records *list = *state;
    const char *full = IANA_HEADER "a,1,tcp,A,,,,,,,,\nb,2,tcp,B,,,,,,,,\n";
    const char *cut = strstr(full, "b,2,tc") + strlen("b,2,tc");
    expect_parse_error_bytes(list, full, (size_t)(cut - full), 3, 7,
                             "row has 3 fields, expected 12");
}

/* Every prefix of a valid document either parses (cut at a row boundary) or fails cleanly. */
static void test_every_prefix_parses_or_fails_cleanly(void **state)
{
    struct registry_records *list = *state;
    const char *full =
        "\xEF\xBB\xBF" IANA_HEADER_LINE "\r\n"
        "a,1,tcp,A,,,,,,,,\r\n"
        ",225-241,,Reserved,,,,,,,,\r\n"
        "b,2,udp,\"B \"\"quoted\"\"\",,,,,,,,\"two\nlines\"\r\n";
    size_t len = strlen(full);
    size_t successes = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        struct pr_error err;
        pr_error_clear(&err);
        long n = iana_csv_parse(full, cut, list, &err);
        if (n >= 0) {
            successes++;
            assert_int_equal(list->count, (size_t)n);
            registry_records_free(list);
        } else {
            assert_int_equal(n, -EINVAL);
            assert_int_equal(list->count, 0);
            assert_true(err.line >= 1 && err.column >= 1);
            assert_true(err.message[0] != '\0');
        }
    }
    assert_int_equal(iana_csv_parse(full, len, list, NULL), 3);
    assert_true(successes >= 4);
}

/* ---- fixture files ----------------------------------------------------------------------- */

static void test_fixture_quirks_crlf(void **state)
{
    struct registry_records *list = *state;
    size_t len;
    char *data = read_fixture("quirks.csv", &len);
    struct pr_error err;
    pr_error_clear(&err);
    long n = iana_csv_parse(data, len, list, &err);
    free(data);
    if (n < 0)
        print_message("quirks.csv:%u:%u: %s\n", err.line, err.column, err.message);
    assert_int_equal(n, 15);

    const struct registry_record *rec = find_record(list, "", 0, REGISTRY_PROTO_UDP);
    assert_non_null(rec);
    assert_int_equal(rec->line, 3);
    assert_int_equal(rec->status, REGISTRY_STATUS_RESERVED);
    assert_string_equal(rec->assignee, "[Example_Person]");

    rec = find_record(list, "demo-svc", 7001, REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_string_equal(rec->reference, "[RFC9999][RFC9998]");
    assert_string_equal(rec->modification_date, "2020-05-06");
    assert_string_equal(rec->assignment_notes, "");

    rec = find_record(list, "demo++", 7002, REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_int_equal(rec->line, 6);
    assert_string_equal(rec->assignment_notes,
                        "This entry is an alias to \"demo-pp\".\nIt spans\nthree lines.");

    rec = find_record(list, "demo-pp", 7002, REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_int_equal(rec->line, 9);
    assert_string_equal(rec->description, "demo, with a comma");

    rec = find_record(list, "", 7003, REGISTRY_PROTO_ANY);
    assert_non_null(rec);
    assert_int_equal(rec->port_last, 7010);
    assert_int_equal(rec->status, REGISTRY_STATUS_UNASSIGNED);

    rec = find_record(list, "", 7011, REGISTRY_PROTO_ANY);
    assert_non_null(rec);
    assert_int_equal(rec->status, REGISTRY_STATUS_RESERVED);

    rec = find_record(list, "", 7012, REGISTRY_PROTO_DCCP);
    assert_non_null(rec);
    assert_int_equal(rec->status, REGISTRY_STATUS_REMOVED);

    rec = find_record(list, "dccp-demo", 7013, REGISTRY_PROTO_DCCP);
    assert_non_null(rec);
    assert_string_equal(rec->service_code, "SC:DEMO");

    rec = find_record(list, "nameonly", -1, REGISTRY_PROTO_ANY);
    assert_non_null(rec);
    assert_false(rec->has_port);
    assert_string_equal(rec->registration_date, "2010-01-01");

    rec = find_record(list, "spaced", 7014, REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_string_equal(rec->description, "  keeps spaces  ");
    assert_string_equal(rec->unauthorized_use, "Yes");

    rec = find_record(list, "quoted-name", 7015, REGISTRY_PROTO_UDP);
    assert_non_null(rec);
    assert_string_equal(rec->description, "Quoted everything");

    rec = find_record(list, "sctp-demo", 7016, REGISTRY_PROTO_SCTP);
    assert_non_null(rec);
    assert_int_equal(rec->line, 17);
    assert_string_equal(rec->description, "Two\nline description");
    assert_string_equal(rec->assignment_notes, "Notes that\nspan three\nlines");

    rec = &list->items[list->count - 1];
    assert_string_equal(rec->service, "zz-last");
    assert_int_equal(rec->line, 21);
    assert_string_equal(rec->description, "Last row");
}

static void test_fixture_bom_lf(void **state)
{
    struct registry_records *list = *state;
    size_t len;
    char *data = read_fixture("bom-lf.csv", &len);
    long n = iana_csv_parse(data, len, list, NULL);
    free(data);
    assert_int_equal(n, 3);
    assert_string_equal(list->items[0].service, "caf\xC3\xA9-svc");
    assert_string_equal(list->items[0].description, "Caf\xC3\xA9 \xC3\xBC" "ber service");
    assert_string_equal(list->items[0].assignee, "[Zo\xC3\xAB_Example]");
    assert_int_equal(list->items[0].line, 2);
    assert_int_equal(list->items[1].port_first, 8002);
    assert_int_equal(list->items[1].port_last, 8005);
    assert_int_equal(list->items[1].status, REGISTRY_STATUS_UNASSIGNED);
    assert_int_equal(list->items[2].line, 4);
    assert_int_equal(list->items[2].proto, REGISTRY_PROTO_UDP);
    assert_string_equal(list->items[2].assignment_notes, "multi\nline");
}

static void test_fixture_truncated_in_quote(void **state)
{
    struct registry_records *list = *state;
    size_t len;
    char *data = read_fixture("truncated-in-quote.csv", &len);
    expect_parse_error_bytes(list, data, len, 4, 27,
                             "unterminated quoted field in Assignment Notes (opened here)");
    free(data);
}

static void test_fixture_truncated_in_row(void **state)
{
    struct registry_records *list = *state;
    size_t len;
    char *data = read_fixture("truncated-in-row.csv", &len);
    expect_parse_error_bytes(list, data, len, 4, 13, "row has 3 fields, expected 12");
    free(data);
}

/* ---- the real registry ------------------------------------------------------------------- */

static void test_real_registry_counts(void **state)
{
    struct registry_records *list = *state;
    parse_real_registry_or_skip(list);
    size_t per_proto[REGISTRY_PROTO_COUNT] = { 0 }, without_port = 0, ranges = 0;
    for (size_t i = 0; i < list->count; i++) {
        const struct registry_record *rec = &list->items[i];
        per_proto[rec->proto]++;
        if (!rec->has_port)
            without_port++;
        else if (rec->port_first != rec->port_last)
            ranges++;
        assert_true(rec->port_first <= rec->port_last);
    }
    assert_int_equal(per_proto[REGISTRY_PROTO_TCP], 6562);
    assert_int_equal(per_proto[REGISTRY_PROTO_UDP], 6329);
    assert_int_equal(per_proto[REGISTRY_PROTO_ANY], 1453);
    assert_int_equal(per_proto[REGISTRY_PROTO_SCTP], 92);
    assert_int_equal(per_proto[REGISTRY_PROTO_DCCP], 11);
    assert_int_equal(without_port, 1039);
    /* 756 rows are written as ranges, but six of them are "N-N" (e.g. "4748-4748") */
    assert_int_equal(ranges, 750);
    assert_int_equal(list->items[0].line, 2);
    const struct registry_record *last = &list->items[list->count - 1];
    assert_string_equal(last->service, "zigbee-gateway");
    assert_int_equal(last->proto, REGISTRY_PROTO_UDP);
    assert_int_equal(last->line, 15097);
}

static void test_real_registry_well_known_services(void **state)
{
    struct registry_records *list = *state;
    parse_real_registry_or_skip(list);
    const struct registry_record *rec = find_record(list, "ms-sql-s", 1433, REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_string_equal(rec->description, "Microsoft-SQL-Server");
    assert_int_equal(rec->status, REGISTRY_STATUS_ASSIGNED);
    assert_non_null(find_record(list, "ms-sql-s", 1433, REGISTRY_PROTO_UDP));
    rec = find_record(list, "mysql", 3306, REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_string_equal(rec->description, "MySQL");
    assert_non_null(find_record(list, "ms-wbt-server", 3389, REGISTRY_PROTO_TCP));
    rec = find_record(list, "postgresql", 5432, REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_string_equal(rec->description, "PostgreSQL Database");
    rec = find_record(list, "imap", 143, REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_string_equal(rec->reference, "[RFC3501][RFC9051]");
    rec = find_record(list, "domain-s", 853, REGISTRY_PROTO_UDP);
    assert_non_null(rec);
    assert_string_equal(rec->reference, "[RFC7858][RFC8094][RFC9250]");
}

static void test_real_registry_reserved_and_unassigned_rows(void **state)
{
    struct registry_records *list = *state;
    parse_real_registry_or_skip(list);
    for (int proto = REGISTRY_PROTO_TCP; proto <= REGISTRY_PROTO_UDP; proto++) {
        const struct registry_record *rec = find_record(list, "", 0, proto);
        assert_non_null(rec);
        assert_int_equal(rec->status, REGISTRY_STATUS_RESERVED);
        assert_int_equal(rec->port_last, 0);
        rec = find_record(list, "", 1023, proto);
        assert_non_null(rec);
        assert_int_equal(rec->status, REGISTRY_STATUS_RESERVED);
    }
    assert_int_equal(count_records_covering_port(list, 49151), 1);
    const struct registry_record *rec = find_record(list, "", 49151, REGISTRY_PROTO_ANY);
    assert_non_null(rec);
    assert_string_equal(rec->description, "IANA Reserved");
    assert_int_equal(rec->status, REGISTRY_STATUS_RESERVED);
    assert_int_equal(rec->line, 13860);

    rec = find_record(list, "", 225, REGISTRY_PROTO_ANY);
    assert_non_null(rec);
    assert_int_equal(rec->port_last, 241);
    assert_int_equal(rec->status, REGISTRY_STATUS_RESERVED);

    rec = find_record(list, "", 272, REGISTRY_PROTO_ANY);
    assert_non_null(rec);
    assert_int_equal(rec->port_last, 279);
    assert_string_equal(rec->description, "Unassigned");
    assert_int_equal(rec->status, REGISTRY_STATUS_UNASSIGNED);

    rec = find_record(list, "", 4748, REGISTRY_PROTO_ANY);   /* written "4748-4748" */
    assert_non_null(rec);
    assert_int_equal(rec->port_last, 4748);
    assert_int_equal(rec->status, REGISTRY_STATUS_UNASSIGNED);
}

static void test_real_registry_port_2049_conflict(void **state)
{
    struct registry_records *list = *state;
    parse_real_registry_or_skip(list);
    for (int proto = REGISTRY_PROTO_TCP; proto <= REGISTRY_PROTO_UDP; proto++) {
        const struct registry_record *rec = find_record(list, "shilp", 2049, proto);
        assert_non_null(rec);
        assert_non_null(strstr(rec->assignment_notes, "Conflict on 2049"));
        assert_string_equal(rec->description, "");
    }
    assert_non_null(find_record(list, "nfs", 2049, REGISTRY_PROTO_TCP));
    assert_non_null(find_record(list, "nfs", 2049, REGISTRY_PROTO_UDP));
    const struct registry_record *rec = find_record(list, "nfs", 2049, REGISTRY_PROTO_SCTP);
    assert_non_null(rec);
    assert_string_equal(rec->reference, "[RFC5665]");
    assert_int_equal(count_records_covering_port(list, 2049), 5);
}

static void test_real_registry_name_only_and_multiline_rows(void **state)
{
    struct registry_records *list = *state;
    parse_real_registry_or_skip(list);
    const struct registry_record *rec = find_record(list, "argus", -1, REGISTRY_PROTO_ANY);
    assert_non_null(rec);
    assert_false(rec->has_port);
    assert_string_equal(rec->description, "ARGUS Protocol");
    assert_int_equal(rec->line, 13861);

    rec = find_record(list, "whois++", 63, REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_int_equal(rec->line, 135);
    assert_string_equal(rec->assignment_notes,
                        "This entry is an alias to \"whoispp\".\n"
                        "This entry is now historic, not usable for use with many\n"
                        "common service discovery mechanisms.");
    rec = find_record(list, "whois++", 63, REGISTRY_PROTO_UDP);
    assert_non_null(rec);
    assert_int_equal(rec->line, 139);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_empty_record_list, teardown_record_list)
    const struct CMUnitTest tests[] = {
        T(test_plain_row_fills_every_column),
        T(test_header_only_gives_zero_records),
        T(test_second_parse_appends_and_returns_only_new_count),
        T(test_quoted_multiline_field_keeps_newlines_and_start_line),
        T(test_doubled_quotes_become_one_quote),
        T(test_quoted_fields_with_commas_and_empty_quotes),
        T(test_range_row_with_empty_protocol_is_any_and_reserved),
        T(test_status_of_rows_without_service_name),
        T(test_empty_port_is_name_only_registration),
        T(test_bracketed_references_kept_verbatim),
        T(test_bom_is_skipped_and_header_case_insensitive),
        T(test_crlf_line_ends_are_not_part_of_fields),
        T(test_port_and_protocol_trimmed_other_fields_verbatim),
        T(test_protocols_case_insensitive),
        T(test_port_bounds_and_one_port_range),
        T(test_last_row_without_newline),
        T(test_blank_lines_between_rows_are_skipped),
        T(test_stray_quote_inside_unquoted_field_is_kept),
        T(test_strings_are_copied_out_of_the_input),
        T(test_input_need_not_be_nul_terminated),
        T(test_error_empty_input),
        T(test_error_nul_byte),
        T(test_error_header_column_name),
        T(test_error_header_field_count),
        T(test_error_row_field_count),
        T(test_error_field_count_of_multiline_row_names_start_line),
        T(test_error_port_out_of_range),
        T(test_error_port_not_a_number),
        T(test_error_port_range_reversed),
        T(test_error_unknown_protocol),
        T(test_error_unterminated_quoted_field),
        T(test_error_text_after_closing_quote),
        T(test_error_column_counts_utf8_characters),
        T(test_error_long_value_is_shortened_in_message),
        T(test_error_rolls_back_records_from_this_call),
        T(test_error_without_error_struct),
        T(test_error_truncated_inside_quoted_field),
        T(test_error_truncated_in_middle_of_row),
        T(test_every_prefix_parses_or_fails_cleanly),
        T(test_fixture_quirks_crlf),
        T(test_fixture_bom_lf),
        T(test_fixture_truncated_in_quote),
        T(test_fixture_truncated_in_row),
        T(test_real_registry_counts),
        T(test_real_registry_well_known_services),
        T(test_real_registry_reserved_and_unassigned_rows),
        T(test_real_registry_port_2049_conflict),
        T(test_real_registry_name_only_and_multiline_rows),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
