/* test_nmap_services.c — unit tests of the nmap-services parser (nmap_services.c).
 * A hand-written fixture from $PORTREG_FIXTURES/services plus inline texts cover fields,
 * frequencies (exact, locale-independent), comments, CRLF, every error with its position and
 * rollback. When installed, the real /usr/share/nmap/nmap-services is parsed too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "registry/nmap_services.h"

#include "parser_test_helpers.h"

static const struct registry_record *find_record(const struct registry_records *list,
                                                 const char *service, enum registry_proto proto,
                                                 uint16_t port)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].service, service) == 0 && list->items[i].proto == proto &&
            list->items[i].port_first == port)
            return &list->items[i];
    return NULL;
}

static long parse_text(const char *text, struct registry_records *list, struct pr_error *err)
{
    return nmap_services_parse(text, strlen(text), list, err);
}

static void fixture_gives_ports_frequencies_and_comments(void **state)
{
    (void)state;
    size_t len;
    char *data = read_fixture("nmap-services.sample", &len);

    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(nmap_services_parse(data, len, &list, &err), 8);

    const struct registry_record *rec = &list.items[0];
    assert_string_equal(rec->service, "tcpmux");
    assert_int_equal(rec->port_first, 1);
    assert_int_equal(rec->port_last, 1);
    assert_true(rec->has_port);
    assert_int_equal(rec->proto, REGISTRY_PROTO_TCP);
    assert_true(rec->frequency == 0.002);
    assert_string_equal(rec->description, "port multiplexer");
    assert_string_equal(rec->aliases, "");
    assert_int_equal(rec->line, 4);
    assert_int_equal(rec->status, REGISTRY_STATUS_ASSIGNED);

    rec = find_record(&list, "unknown", REGISTRY_PROTO_TCP, 4);   /* name kept, no comment */
    assert_non_null(rec);
    assert_true(rec->frequency == 0.0004);
    assert_string_equal(rec->description, "");
    assert_int_equal(rec->line, 5);

    rec = find_record(&list, "http", REGISTRY_PROTO_TCP, 80);
    assert_non_null(rec);
    assert_true(rec->frequency == 0.45);
    rec = find_record(&list, "http", REGISTRY_PROTO_UDP, 80);
    assert_non_null(rec);
    assert_true(rec->frequency == 0.03);
    assert_int_equal(rec->line, 7);

    rec = find_record(&list, "ntp", REGISTRY_PROTO_UDP, 123);
    assert_non_null(rec);
    assert_true(rec->frequency == 0.300001);

    rec = find_record(&list, "spaced", REGISTRY_PROTO_TCP, 8080);   /* spaces, not tabs */
    assert_non_null(rec);
    assert_true(rec->frequency == 0.1);
    assert_string_equal(rec->description, "separated by spaces");

    rec = find_record(&list, "zero", REGISTRY_PROTO_SCTP, 9);
    assert_non_null(rec);
    assert_true(rec->frequency == 0.0);

    rec = find_record(&list, "twohash", REGISTRY_PROTO_TCP, 1008);   /* '#' inside comment */
    assert_non_null(rec);
    assert_string_equal(rec->description, "first part\t\t# second part");
    assert_int_equal(rec->line, 11);

    registry_records_free(&list);
    free(data);
}

static void crlf_missing_newline_blank_lines_and_bom(void **state)
{
    (void)state;
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(nmap_services_parse(NULL, 0, &list, &err), 0);
    const char *text = "\xEF\xBB\xBF# header\r\n"
                       "\r\n"
                       "   \t\r\n"
                       "ssh\t22/tcp\t0.182286\t# Secure Shell\r\n"
                       "  indented 7/UDP 1\r\n"
                       "last\t9/tcp\t0.5";
    assert_int_equal(parse_text(text, &list, &err), 3);
    assert_string_equal(list.items[0].service, "ssh");
    assert_string_equal(list.items[0].description, "Secure Shell");
    assert_int_equal(list.items[0].line, 4);
    assert_string_equal(list.items[1].service, "indented");
    assert_int_equal(list.items[1].proto, REGISTRY_PROTO_UDP);
    assert_true(list.items[1].frequency == 1.0);
    assert_int_equal(list.items[1].line, 5);
    assert_string_equal(list.items[2].service, "last");
    assert_true(list.items[2].frequency == 0.5);
    assert_int_equal(list.items[2].line, 6);
    registry_records_free(&list);
}

/* Parse "x 1/tcp FREQUENCY" and return the frequency, or -1 with the error in err. */
static double try_frequency_of(const char *frequency_text, struct pr_error *err)
{
    char text[512];
    snprintf(text, sizeof text, "x 1/tcp %s\n", frequency_text);
    struct registry_records list = { 0 };
    double value = parse_text(text, &list, err) == 1 ? list.items[0].frequency : -1.0;
    registry_records_free(&list);
    return value;
}

/* Same, failing the test on an error. */
static double frequency_of(const char *frequency_text)
{
    struct pr_error err = { 0 };
    double value = try_frequency_of(frequency_text, &err);
    if (value < 0)
        fail_msg("\"%s\": %s", frequency_text, err.message);
    return value;
}

static void frequencies_equal_what_strtod_gives(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "0", "1", "0.", "1.", ".5", "0.000000", "1.000000", "0.001995", "0.484143",
        "0.999999", "0.000001", "0.123456789012345",           /* 15 significant digits */
        "0.1234567890123456789",                                /* long: strtod_l fallback */
        "0.00000000000000000000001",                            /* 23 decimals: fallback */
        "000000000000000000000.5", "1.0000000000000000000000000",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        double expected = strtod(texts[i], NULL);   /* the test runs in the C locale */
        double got = frequency_of(texts[i]);
        if (got != expected)
            fail_msg("\"%s\": got %.17g, strtod gives %.17g", texts[i], got, expected);
    }
    /* every 7th six-decimal value nmap can write, in one buffer */
    const unsigned step = 7, values = 1000000 / 7 + 1;
    char *buffer = malloc(values * 32);
    assert_non_null(buffer);
    size_t used = 0;
    for (unsigned i = 0; i < values; i++)
        used += (size_t)sprintf(buffer + used, "x 1/tcp %u.%06u\n", i * step / 1000000,
                                i * step % 1000000);
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(nmap_services_parse(buffer, used, &list, &err), values);
    for (unsigned i = 0; i < values; i++) {
        char text[16];
        snprintf(text, sizeof text, "%u.%06u", i * step / 1000000, i * step % 1000000);
        if (list.items[i].frequency != strtod(text, NULL))
            fail_msg("\"%s\" parsed as %.17g", text, list.items[i].frequency);
    }
    registry_records_free(&list);
    free(buffer);
}

static int remove_tree_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

/* Switch LC_NUMERIC to a locale whose decimal point is ','. Tries installed ones first, then
 * compiles de_DE.UTF-8 with localedef into *locale_dir (set to "" when none was made).
 * Returns false when no such locale can be had. */
static bool use_decimal_comma_locale(char *locale_dir, size_t size)
{
    static const char *const installed[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8" };
    locale_dir[0] = '\0';
    for (size_t i = 0; i < sizeof installed / sizeof installed[0]; i++)
        if (setlocale(LC_NUMERIC, installed[i]) && strcmp(localeconv()->decimal_point, ",") == 0)
            return true;
    const char *tmpdir = getenv("TMPDIR");
    snprintf(locale_dir, size, "%s/portreg-locale-XXXXXX", tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(locale_dir)) {
        locale_dir[0] = '\0';
        return false;
    }
    char command[2048];
    snprintf(command, sizeof command,
             "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", locale_dir);
    if (system(command) == 0 && setenv("LOCPATH", locale_dir, 1) == 0 &&
        setlocale(LC_NUMERIC, "de_DE.UTF-8") && strcmp(localeconv()->decimal_point, ",") == 0)
        return true;
    return false;
}

static void frequencies_do_not_depend_on_the_locale(void **state)
{
    (void)state;
    char locale_dir[1024];
    bool switched = use_decimal_comma_locale(locale_dir, sizeof locale_dir);
    double short_value = 0, long_value = 0;
    struct pr_error err = { 0 };
    if (switched) {   /* nothing may fail (longjmp) before the locale directory is removed */
        short_value = try_frequency_of("0.484143", &err);
        long_value = try_frequency_of("0.1234567890123456789", &err);   /* strtod_l fallback */
    }
    setlocale(LC_NUMERIC, "C");
    unsetenv("LOCPATH");
    if (locale_dir[0])
        nftw(locale_dir, remove_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (!switched) {
        print_message("skipped: no locale with a decimal comma (de_DE: not installed, "
                      "localedef failed)\n");
        skip();
    }
    if (short_value != strtod("0.484143", NULL) ||
        long_value != strtod("0.1234567890123456789", NULL))
        fail_msg("under a decimal-comma locale: %.17g and %.17g (%s)", short_value, long_value,
                 err.message);
}

static void every_error_has_its_message_and_position(void **state)
{
    (void)state;
    static const struct parser_error_case cases[] = {
        { "http\n", 0, 1, 5, "missing port/protocol after service name" },
        { "http   # comment\n", 0, 1, 8, "missing port/protocol after service name" },
        { "http\t80/tcp\n", 0, 1, 12, "missing open-frequency after port/protocol" },
        { "http\t80/tcp\t# web\n", 0, 1, 13, "missing open-frequency after port/protocol" },
        { "http\t80/tcp\tabc\n", 0, 1, 13,
          "open-frequency \"abc\" is not a number between 0 and 1" },
        { "http\t80/tcp\t1.5\n", 0, 1, 13,
          "open-frequency \"1.5\" is not a number between 0 and 1" },
        { "http\t80/tcp\t1.0000001\n", 0, 1, 13,
          "open-frequency \"1.0000001\" is not a number between 0 and 1" },
        { "http\t80/tcp\t-0.1\n", 0, 1, 13,
          "open-frequency \"-0.1\" is not a number between 0 and 1" },
        { "http\t80/tcp\t1e-3\n", 0, 1, 13,
          "open-frequency \"1e-3\" is not a number between 0 and 1" },
        { "http\t80/tcp\t0.5.1\n", 0, 1, 13,
          "open-frequency \"0.5.1\" is not a number between 0 and 1" },
        { "http\t80/tcp\t.\n", 0, 1, 13, "open-frequency \".\" is not a number between 0 and 1" },
        { "http\t80/tcp\tnan\n", 0, 1, 13,
          "open-frequency \"nan\" is not a number between 0 and 1" },
        { "http\t80/tcp\t0,5\n", 0, 1, 13,
          "open-frequency \"0,5\" is not a number between 0 and 1" },
        { "http\t80/tcp\t1.0000000000000002\n", 0, 1, 13,   /* fallback path, > 1 */
          "open-frequency \"1.0000000000000002\" is not a number between 0 and 1" },
        { "http\t80/tcp\t0.5\textra\n", 0, 1, 17,
          "unexpected \"extra\" after open-frequency (comments start with '#')" },
        { "http\t70000/tcp\t0.5\n", 0, 1, 6, "port \"70000\" is out of range 0-65535" },
        { "http\tweb/tcp\t0.5\n", 0, 1, 6, "port \"web\" is not a number" },
        { "http\t80-81/tcp\t0.5\n", 0, 1, 6, "port \"80-81\" is not a number" },
        { "http\t80\t0.5\n", 0, 1, 6, "expected port/protocol such as \"80/tcp\", found \"80\"" },
        { "http\t80/\t0.5\n", 0, 1, 9, "missing protocol after \"/\"" },
        { "http\t80/xyz\t0.5\n", 0, 1, 9, "unknown protocol \"xyz\"" },
        { "http\t80/tcp/udp\t0.5\n", 0, 1, 9, "unknown protocol \"tcp/udp\"" },
        { "a\t1/tcp\t0.1\r\n# c\r\nb\t2/udp\t2\r\n", 0, 3, 9,
          "open-frequency \"2\" is not a number between 0 and 1" },
        { "a\t1/tcp\t0.1\nb\t2/u\0p\t0.1\n", 24, 2, 6, "NUL byte: this is not a text file" },
    };
    expect_parse_errors(nmap_services_parse, cases, sizeof cases / sizeof cases[0]);
}

static void error_rolls_back_this_call_only(void **state)
{
    (void)state;
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(parse_text("first\t1/tcp\t0.1\t# kept\n", &list, &err), 1);
    assert_int_equal(parse_text("b\t2/tcp\t0.2\nc\t3/udp\t0.3\nd\t4/tcp\tlots\n", &list, &err),
                     -EINVAL);
    assert_int_equal(err.line, 3);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.items[0].service, "first");
    assert_string_equal(list.items[0].description, "kept");
    assert_int_equal(parse_text("e\n", &list, NULL), -EINVAL);   /* NULL err allowed */
    assert_int_equal(parse_text("e\t5/udp\t0.5\n", &list, &err), 1);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.items[1].service, "e");
    registry_records_free(&list);
}

static void real_nmap_services_file(void **state)
{
    (void)state;
    const char *path = "/usr/share/nmap/nmap-services";
    size_t len;
    char *data = read_system_file_or_skip(path, &len);
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    long appended = nmap_services_parse(data, len, &list, &err);
    if (appended < 0)
        fail_msg("%s:%u:%u: %s", path, err.line, err.column, err.message);
    assert_true(appended > 20000);

    const struct registry_record *http = find_record(&list, "http", REGISTRY_PROTO_TCP, 80);
    assert_non_null(http);
    assert_true(http->frequency > 0.4);
    assert_true(http->frequency <= 1.0);
    size_t unknown = 0;
    for (size_t i = 0; i < list.count; i++) {
        assert_true(list.items[i].frequency >= 0.0 && list.items[i].frequency <= 1.0);
        unknown += strcmp(list.items[i].service, "unknown") == 0;
    }
    assert_true(unknown > 0);   /* nmap's "unknown" entries are kept as written */
    registry_records_free(&list);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_gives_ports_frequencies_and_comments),
        cmocka_unit_test(crlf_missing_newline_blank_lines_and_bom),
        cmocka_unit_test(frequencies_equal_what_strtod_gives),
        cmocka_unit_test(frequencies_do_not_depend_on_the_locale),
        cmocka_unit_test(every_error_has_its_message_and_position),
        cmocka_unit_test(error_rolls_back_this_call_only),
        cmocka_unit_test(real_nmap_services_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
