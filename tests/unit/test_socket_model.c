/* test_socket_model.c — the inspector's small pure pieces: state names as ss spells them and
 * their parser, address text, exposure classes (the dual-stack rule), and the streaming JSON
 * writer's nesting, commas and escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/exposure.h"
#include "net/socket_entry.h"
#include "registry/record.h"
#include "util/json_writer.h"

static void state_names_match_ss(void **state)
{
    (void)state;
    assert_string_equal(socket_state_name(REGISTRY_PROTO_TCP, SOCKET_STATE_LISTEN), "LISTEN");
    assert_string_equal(socket_state_name(REGISTRY_PROTO_TCP, SOCKET_STATE_ESTABLISHED), "ESTAB");
    assert_string_equal(socket_state_name(REGISTRY_PROTO_TCP, SOCKET_STATE_TIME_WAIT), "TIME-WAIT");
    assert_string_equal(socket_state_name(REGISTRY_PROTO_UDP, SOCKET_STATE_CLOSE), "UNCONN");
    assert_string_equal(socket_state_name(REGISTRY_PROTO_TCP, 99), "UNKNOWN");
    assert_int_equal(socket_state_parse("listening"), 1u << SOCKET_STATE_LISTEN);
    assert_int_equal(socket_state_parse("time-wait"), 1u << SOCKET_STATE_TIME_WAIT);
    assert_int_equal(socket_state_parse("ESTAB"), 1u << SOCKET_STATE_ESTABLISHED);
    assert_int_equal(socket_state_parse("all"), SOCKET_STATE_ALL);
    assert_int_equal(socket_state_parse("connected") & (1u << SOCKET_STATE_LISTEN), 0);
    assert_int_equal(socket_state_parse("nonsense"), 0);
}

static struct socket_entry make_socket(int family, const char *address, bool v6only)
{
    struct socket_entry s;
    memset(&s, 0, sizeof s);
    s.family = (uint8_t)family;
    s.v6only = v6only;
    assert_int_equal(inet_pton(family, address, s.local_addr), 1);
    return s;
}

static void exposure_classes(void **state)
{
    (void)state;
    static const struct { int family; const char *address; bool v6only; enum socket_exposure want; } cases[] = {
        { AF_INET, "127.0.0.1", false, EXPOSURE_LOOPBACK },
        { AF_INET, "127.1.2.3", false, EXPOSURE_LOOPBACK },
        { AF_INET, "0.0.0.0", false, EXPOSURE_ALL_IPV4 },
        { AF_INET, "192.0.2.7", false, EXPOSURE_ADDRESS },
        { AF_INET6, "::1", true, EXPOSURE_LOOPBACK },
        { AF_INET6, "::ffff:127.0.0.1", false, EXPOSURE_LOOPBACK },
        { AF_INET6, "::", true, EXPOSURE_ALL_IPV6 },
        { AF_INET6, "::", false, EXPOSURE_ALL },   /* dual-stack: every IPv4 address too */
        { AF_INET6, "2001:db8::1", false, EXPOSURE_ADDRESS },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct socket_entry s = make_socket(cases[i].family, cases[i].address, cases[i].v6only);
        assert_int_equal(socket_exposure_of(&s), cases[i].want);
    }
    assert_string_equal(socket_exposure_id(EXPOSURE_ALL), "all");
    assert_string_equal(socket_exposure_label(EXPOSURE_ALL), "every IPv4 and IPv6 address (dual-stack)");
}

static void address_text(void **state)
{
    (void)state;
    char buf[64];
    struct socket_entry s = make_socket(AF_INET6, "fe80::1", false);
    assert_string_equal(socket_address_text(AF_INET6, s.local_addr, buf, sizeof buf), "fe80::1");
    s = make_socket(AF_INET, "10.1.2.3", false);
    assert_string_equal(socket_address_text(AF_INET, s.local_addr, buf, sizeof buf), "10.1.2.3");
}

static char *write_json(void (*fill)(struct json_writer *), bool pretty)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    struct json_writer w;
    json_writer_init(&w, out, pretty);
    fill(&w);
    fclose(out);
    return text;
}

static void fill_document(struct json_writer *w)
{
    json_writer_object_begin(w);
    json_writer_key(w, "s");
    json_writer_string(w, "quote\" backslash\\ newline\n tab\t bell\a");
    json_writer_key(w, "n");
    json_writer_uint(w, 18446744073709551615u);
    json_writer_key(w, "i");
    json_writer_int(w, -42);
    json_writer_key(w, "a");
    json_writer_array_begin(w);
    json_writer_bool(w, true);
    json_writer_null(w);
    json_writer_string(w, NULL);
    json_writer_array_begin(w);
    json_writer_array_end(w);
    json_writer_object_begin(w);
    json_writer_object_end(w);
    json_writer_array_end(w);
    json_writer_object_end(w);
    json_writer_end_document(w);
}

static void json_writer_nests_and_escapes(void **state)
{
    (void)state;
    char *compact = write_json(fill_document, false);
    assert_string_equal(compact,
                        "{\"s\":\"quote\\\" backslash\\\\ newline\\n tab\\t bell\\u0007\","
                        "\"n\":18446744073709551615,\"i\":-42,\"a\":[true,null,null,[],{}]}\n");
    free(compact);
    char *pretty = write_json(fill_document, true);
    assert_non_null(strstr(pretty, "{\n  \"s\": \"quote"));
    assert_non_null(strstr(pretty, "\"a\": [\n    true,\n    null,\n    null,\n    [],\n    {}\n  ]\n}\n"));
    free(pretty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(state_names_match_ss),
        cmocka_unit_test(exposure_classes),
        cmocka_unit_test(address_text),
        cmocka_unit_test(json_writer_nests_and_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
