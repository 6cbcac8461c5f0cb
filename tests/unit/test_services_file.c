/* test_services_file.c — unit tests of the services(5) parser (services_file.c).
 * Hand-written fixtures come from $PORTREG_FIXTURES/services; every quirk (aliases, ranges,
 * several protocols, CRLF, line numbers, each error with its position, rollback) has a test.
 * When present, the real /usr/share/wireshark/services and /etc/services are parsed too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/services_file.h"

#include "parser_test_helpers.h"

/* Find the record of service on proto (first match), or NULL. */
static const struct registry_record *find_record(const struct registry_records *list,
                                                 const char *service, enum registry_proto proto)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].service, service) == 0 && list->items[i].proto == proto)
            return &list->items[i];
    return NULL;
}

static long parse_text(const char *text, struct registry_records *list, struct pr_error *err)
{
    return services_file_parse(text, strlen(text), list, err);
}

static void etc_style_file_gives_names_ports_aliases_and_comments(void **state)
{
    (void)state;
    size_t len;
    char *data = read_fixture("etc-services.sample", &len);
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    long appended = services_file_parse(data, len, &list, &err);
    assert_int_equal(appended, 9);
    assert_int_equal(list.count, 9);

    const struct registry_record *rec = &list.items[0];
    assert_string_equal(rec->service, "echo");
    assert_int_equal(rec->proto, REGISTRY_PROTO_TCP);
    assert_int_equal(rec->port_first, 7);
    assert_int_equal(rec->port_last, 7);
    assert_true(rec->has_port);
    assert_int_equal(rec->line, 4);
    assert_string_equal(rec->aliases, "");
    assert_string_equal(rec->description, "");
    assert_int_equal(rec->status, REGISTRY_STATUS_ASSIGNED);
    assert_int_equal(list.items[1].proto, REGISTRY_PROTO_UDP);
    assert_int_equal(list.items[1].line, 5);

    rec = find_record(&list, "discard", REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_string_equal(rec->aliases, "sink null");
    assert_string_equal(rec->description, "");
    assert_int_equal(rec->line, 6);

    rec = find_record(&list, "ssh", REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_int_equal(rec->port_first, 22);
    assert_string_equal(rec->aliases, "");
    assert_string_equal(rec->description, "SSH Remote Login Protocol");
    assert_int_equal(rec->line, 8);

    rec = find_record(&list, "smtp", REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_string_equal(rec->aliases, "mail");

    rec = find_record(&list, "domain", REGISTRY_PROTO_UDP);   /* indented line */
    assert_non_null(rec);
    assert_int_equal(rec->port_first, 53);
    assert_string_equal(rec->description, "indented line, DNS");
    assert_int_equal(rec->line, 10);

    rec = find_record(&list, "gopher", REGISTRY_PROTO_TCP);   /* spaces, no tabs */
    assert_non_null(rec);
    assert_int_equal(rec->port_first, 70);
    assert_string_equal(rec->description, "spaces only, no tabs");
    assert_int_equal(rec->line, 11);

    assert_null(find_record(&list, "rtmp", REGISTRY_PROTO_TCP));   /* 1/ddp is skipped */

    rec = find_record(&list, "kerberos", REGISTRY_PROTO_TCP);   /* aliases then comment */
    assert_non_null(rec);
    assert_string_equal(rec->aliases, "kerberos5 krb5 kerberos-sec");
    assert_string_equal(rec->description, "made-up comment");
    assert_int_equal(rec->line, 13);

    registry_records_free(&list);
    free(data);
}

static void wireshark_style_file_gives_one_record_per_protocol(void **state)
{
    (void)state;
    size_t len;
    char *data = read_fixture("wireshark-services.sample", &len);
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    long appended = services_file_parse(data, len, &list, &err);
    assert_int_equal(appended, 12);

    /* discard 9/tcp/udp/sctp/dccp: four records, in file order, sharing line and comment */
    static const enum registry_proto discard_protos[] = {
        REGISTRY_PROTO_TCP, REGISTRY_PROTO_UDP, REGISTRY_PROTO_SCTP, REGISTRY_PROTO_DCCP,
    };
    for (size_t i = 0; i < 4; i++) {
        const struct registry_record *rec = &list.items[2 + i];
        assert_string_equal(rec->service, "discard");
        assert_int_equal(rec->proto, discard_protos[i]);
        assert_int_equal(rec->port_first, 9);
        assert_int_equal(rec->port_last, 9);
        assert_int_equal(rec->line, 5);
        assert_string_equal(rec->description, "Discard");
    }

    const struct registry_record *rec = find_record(&list, "ftp", REGISTRY_PROTO_SCTP);
    assert_non_null(rec);
    assert_int_equal(rec->port_first, 21);
    assert_null(find_record(&list, "ftp", REGISTRY_PROTO_DCCP));

    /* x11 6000-6063/tcp/udp: a range on two protocols */
    for (int proto = REGISTRY_PROTO_TCP; proto <= REGISTRY_PROTO_UDP; proto++) {
        rec = find_record(&list, "x11", (enum registry_proto)proto);
        assert_non_null(rec);
        assert_int_equal(rec->port_first, 6000);
        assert_int_equal(rec->port_last, 6063);
        assert_int_equal(rec->line, 7);
        assert_string_equal(rec->description, "X Window System");
    }
    assert_null(find_record(&list, "x11", REGISTRY_PROTO_SCTP));

    rec = find_record(&list, "sctp-only", REGISTRY_PROTO_SCTP);
    assert_non_null(rec);
    assert_null(find_record(&list, "sctp-only", REGISTRY_PROTO_TCP));

    registry_records_free(&list);
    free(data);
}

static void crlf_file_without_final_newline_parses_cleanly(void **state)
{
    (void)state;
    size_t len;
    char *data = read_fixture("crlf.sample", &len);
    assert_true(len > 0 && data[len - 1] != '\n');
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(services_file_parse(data, len, &list, &err), 3);

    assert_string_equal(list.items[0].service, "ssh");
    assert_string_equal(list.items[0].description, "Secure Shell");   /* no trailing \r */
    assert_int_equal(list.items[0].line, 2);
    assert_string_equal(list.items[1].service, "smtp");
    assert_string_equal(list.items[1].aliases, "mail");                /* no trailing \r */
    assert_int_equal(list.items[1].line, 4);
    assert_string_equal(list.items[2].service, "ntp");
    assert_int_equal(list.items[2].proto, REGISTRY_PROTO_UDP);
    assert_int_equal(list.items[2].port_first, 123);
    assert_int_equal(list.items[2].line, 5);

    registry_records_free(&list);
    free(data);
}

static void small_quirks_of_the_format(void **state)
{
    (void)state;
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    const char *text =
        "a 1/tcp #no space after hash\n"        /* line 1 */
        "b 2/udp #\n"                           /* 2: empty comment */
        "c\t3/TCP\t  x   y\t\tz  \n"            /* 3: upper-case protocol, messy aliases */
        "d 0/tcp\n"                             /* 4: lowest port */
        "e 65535/udp\n"                         /* 5: highest port */
        "   \t  \n"                             /* 6: blanks only */
        "\t# indented comment\n"                /* 7 */
        "f 0-65535/tcp/ddp/udp # ddp is dropped\n"   /* 8 */
        "g#h 7/tcp\n"                           /* 9: '#' anywhere starts a comment... */
        ;
    /* ...so "g" has no port: error at the '#', line 9, column 2 */
    assert_int_equal(parse_text(text, &list, &err), -EINVAL);
    assert_int_equal(err.line, 9);
    assert_int_equal(err.column, 2);
    assert_int_equal(list.count, 0);

    size_t without_last = strlen(text) - strlen("g#h 7/tcp\n");
    assert_int_equal(services_file_parse(text, without_last, &list, &err), 7);
    assert_string_equal(list.items[0].description, "no space after hash");
    assert_string_equal(list.items[1].description, "");
    assert_int_equal(list.items[2].proto, REGISTRY_PROTO_TCP);
    assert_string_equal(list.items[2].aliases, "x y z");
    assert_int_equal(list.items[3].port_first, 0);
    assert_int_equal(list.items[4].port_last, 65535);
    assert_int_equal(list.items[4].line, 5);
    assert_string_equal(list.items[5].service, "f");
    assert_int_equal(list.items[5].port_first, 0);
    assert_int_equal(list.items[5].port_last, 65535);
    assert_int_equal(list.items[5].proto, REGISTRY_PROTO_TCP);
    assert_int_equal(list.items[6].proto, REGISTRY_PROTO_UDP);
    assert_int_equal(list.items[6].line, 8);
    registry_records_free(&list);
}

static void empty_input_byte_order_mark_and_ddp_only(void **state)
{
    (void)state;
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(services_file_parse(NULL, 0, &list, &err), 0);
    assert_int_equal(parse_text("\n\n# only comments\r\n", &list, &err), 0);
    assert_int_equal(parse_text("zip 6/ddp\n", &list, &err), 0);   /* AppleTalk only */
    assert_int_equal(list.count, 0);

    assert_int_equal(parse_text("\xEF\xBB\xBFssh 22/tcp\n", &list, &err), 1);
    assert_string_equal(list.items[0].service, "ssh");
    assert_int_equal(list.items[0].line, 1);
    registry_records_free(&list);
}

static void appends_to_a_list_and_returns_only_its_own_count(void **state)
{
    (void)state;
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(parse_text("a 1/tcp/udp\n", &list, &err), 2);
    assert_int_equal(parse_text("b 2/tcp\n", &list, &err), 1);
    assert_int_equal(list.count, 3);
    assert_string_equal(list.items[0].service, "a");
    assert_string_equal(list.items[2].service, "b");
    assert_int_equal(list.items[2].line, 1);   /* lines count from each buffer's start */
    registry_records_free(&list);
}

static void every_error_has_its_message_and_position(void **state)
{
    (void)state;
    static const struct parser_error_case cases[] = {
        { "ssh\n", 0, 1, 4, "missing port/protocol after service name" },
        { "# c\nssh    # comment\n", 0, 2, 8, "missing port/protocol after service name" },
        { "gopher 70000/tcp\n", 0, 1, 8, "port \"70000\" is out of range 0-65535" },
        { "x 1-70000/tcp\n", 0, 1, 5, "port \"70000\" is out of range 0-65535" },
        { "foo 22/xyz\n", 0, 1, 8, "unknown protocol \"xyz\"" },
        { "ssh\t\t22/tcp/udp/xyz # tabs\n", 0, 1, 17, "unknown protocol \"xyz\"" },
        { "\n\nftp-data 20-10/tcp\n", 0, 3, 10, "range 20-10 is reversed" },
        { "ssh 22/tcp\nfoo\0bar 1/tcp\n", 25, 2, 4, "NUL byte: this is not a text file" },
        { "\0", 1, 1, 1, "NUL byte: this is not a text file" },
        { "\xEF\xBB\xBF" "ab\0", 6, 1, 3, "NUL byte: this is not a text file" },   /* BOM */
        { "\xEF\xBB\xBF" "ssh 99999/tcp", 0, 1, 5, "port \"99999\" is out of range 0-65535" },
        { "ssh 22\n", 0, 1, 5, "expected port/protocol such as \"22/tcp\", found \"22\"" },
        { "ssh sshd 22/tcp\n", 0, 1, 5,
          "expected port/protocol such as \"22/tcp\", found \"sshd\"" },
        { "ssh tcp/22\n", 0, 1, 5, "port \"tcp\" is not a number or a range like 6000-6063" },
        { "ssh -5/tcp\n", 0, 1, 5, "port \"-5\" is not a number or a range like 6000-6063" },
        { "x11 6000-/tcp\n", 0, 1, 5,
          "port \"6000-\" is not a number or a range like 6000-6063" },
        { "x 1-2-3/tcp\n", 0, 1, 3, "port \"1-2-3\" is not a number or a range like 6000-6063" },
        { "ssh 22/\n", 0, 1, 8, "missing protocol after \"/\"" },
        { "ssh 22/tcp/\n", 0, 1, 12, "missing protocol after \"/\"" },
        { "ssh 22//tcp\n", 0, 1, 8, "missing protocol after \"/\"" },
        { "ssh 22/tcp/TCP\n", 0, 1, 12, "protocol \"TCP\" is listed twice" },
        { "ok 1/tcp\r\nbad 99999/udp\r\n", 0, 2, 5, "port \"99999\" is out of range 0-65535" },
        { "ok 1/tcp\nlast 2/tcp/sctp/quic", 0, 2, 17, "unknown protocol \"quic\"" },
        { "ssh 1234567890123456789012345678901234567890123456789012345678901234567890/tcp", 0,
          1, 5, "port \"1234567890123456789012345678901234567890123456789012345678901234...\" "
          "is out of range 0-65535" },
    };
    expect_parse_errors(services_file_parse, cases, sizeof cases / sizeof cases[0]);
}

static void error_rolls_back_this_call_only(void **state)
{
    (void)state;
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(parse_text("first 1/tcp # kept\n", &list, &err), 1);
    assert_int_equal(parse_text("b 2/tcp/udp\nc 3/tcp\nd 4/tcp/nope\n", &list, &err), -EINVAL);
    assert_int_equal(err.line, 3);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].service, "first");
    assert_string_equal(list.items[0].description, "kept");

    /* A NULL error pointer is allowed. */
    assert_int_equal(parse_text("e\n", &list, NULL), -EINVAL);
    assert_int_equal(list.count, 1);

    /* The list stays usable after an error. */
    assert_int_equal(parse_text("e 5/udp\n", &list, &err), 1);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.items[1].service, "e");
    registry_records_free(&list);
}

static void real_wireshark_services_file(void **state)
{
    (void)state;
    size_t len;
    char *data = read_system_file_or_skip("/usr/share/wireshark/services", &len);
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    long appended = services_file_parse(data, len, &list, &err);
    if (appended < 0)
        fail_msg("%u:%u: %s", err.line, err.column, err.message);
    assert_true(appended > 5000);

    for (int proto = REGISTRY_PROTO_TCP; proto <= REGISTRY_PROTO_UDP; proto++) {
        const struct registry_record *rec = find_record(&list, "x11", (enum registry_proto)proto);
        assert_non_null(rec);
        assert_int_equal(rec->port_first, 6000);
        assert_int_equal(rec->port_last, 6063);
        rec = find_record(&list, "ms-sql-s", (enum registry_proto)proto);
        assert_non_null(rec);
        assert_int_equal(rec->port_first, 1433);
        assert_int_equal(rec->port_last, 1433);
    }
    for (int proto = REGISTRY_PROTO_TCP; proto <= REGISTRY_PROTO_DCCP; proto++) {
        const struct registry_record *rec =
            find_record(&list, "discard", (enum registry_proto)proto);
        assert_non_null(rec);
        assert_int_equal(rec->port_first, 9);
        assert_string_equal(rec->description, "Discard");
    }
    registry_records_free(&list);
    free(data);
}

static void real_etc_services_file(void **state)
{
    (void)state;
    size_t len;
    char *data = read_system_file_or_skip("/etc/services", &len);
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    long appended = services_file_parse(data, len, &list, &err);
    if (appended < 0)
        fail_msg("%u:%u: %s", err.line, err.column, err.message);
    assert_true(appended > 100);
    const struct registry_record *rec = find_record(&list, "ssh", REGISTRY_PROTO_TCP);
    assert_non_null(rec);
    assert_int_equal(rec->port_first, 22);
    assert_int_equal(rec->port_last, 22);
    registry_records_free(&list);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(etc_style_file_gives_names_ports_aliases_and_comments),
        cmocka_unit_test(wireshark_style_file_gives_one_record_per_protocol),
        cmocka_unit_test(crlf_file_without_final_newline_parses_cleanly),
        cmocka_unit_test(small_quirks_of_the_format),
        cmocka_unit_test(empty_input_byte_order_mark_and_ddp_only),
        cmocka_unit_test(appends_to_a_list_and_returns_only_its_own_count),
        cmocka_unit_test(every_error_has_its_message_and_position),
        cmocka_unit_test(error_rolls_back_this_call_only),
        cmocka_unit_test(real_wireshark_services_file),
        cmocka_unit_test(real_etc_services_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
