/* test_remote_client.c — unit tests for the pieces of portreg remote's client that parse
 * (src/lib/remote/remote_client.c): the server URL and token from options and the environment
 * (options win, empty variables are unset, bad URLs and tokens refused naming where they came
 * from, the token never in a message), query encoding, the answers' decoding (the error
 * document split into code, message, field, conflict, diagnostics; non-JSON bodies kept raw;
 * broken JSON refused with its place), and what each status means. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "remote/remote_client.h"

static void test_defaults_and_precedence(void **state)
{
    (void)state;
    struct remote_config cfg;
    struct pr_error err;
    assert_int_equal(remote_config_init(&cfg, NULL, NULL, NULL, NULL, NULL, NULL, &err), 0);
    assert_string_equal(cfg.server, "http://127.0.0.1:7678");
    assert_string_equal(cfg.server_from, "the default");
    assert_string_equal(cfg.token, "");
    assert_string_equal(cfg.cacert, "");
    /* empty variables count as unset */
    assert_int_equal(remote_config_init(&cfg, NULL, NULL, NULL, "", "", "", &err), 0);
    assert_string_equal(cfg.server, "http://127.0.0.1:7678");
    assert_string_equal(cfg.token, "");
    /* the environment, then the options over it */
    assert_int_equal(remote_config_init(&cfg, NULL, NULL, NULL, "https://reg.example:8443/", "portreg_env",
                                        "/etc/ca.pem", &err), 0);
    assert_string_equal(cfg.server, "https://reg.example:8443");
    assert_string_equal(cfg.server_from, "PORTREG_SERVER");
    assert_string_equal(cfg.token, "portreg_env");
    assert_string_equal(cfg.cacert, "/etc/ca.pem");
    assert_int_equal(remote_config_init(&cfg, "127.0.0.1:9000", "portreg_opt", "/tmp/ca.pem",
                                        "https://reg.example", "portreg_env", "/etc/ca.pem", &err), 0);
    assert_string_equal(cfg.server, "http://127.0.0.1:9000");
    assert_string_equal(cfg.server_from, "--server");
    assert_string_equal(cfg.token, "portreg_opt");
    assert_string_equal(cfg.cacert, "/tmp/ca.pem");
}

static void test_server_urls(void **state)
{
    (void)state;
    static const struct { const char *given, *expected; } good[] = {
        { "http://127.0.0.1:7678", "http://127.0.0.1:7678" },
        { "HTTPS://reg.example", "https://reg.example" },
        { "http://[::1]:7678/", "http://[::1]:7678" },
        { "http://reg.example/portreg//", "http://reg.example/portreg" },
        { "localhost", "http://localhost" },
        { "[::1]:80", "http://[::1]:80" },
    };
    struct remote_config cfg;
    struct pr_error err;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(remote_config_init(&cfg, good[i].given, NULL, NULL, NULL, NULL, NULL, &err), 0);
        assert_string_equal(cfg.server, good[i].expected);
    }
    static const char *const bad[] = {
        "ftp://reg.example", "file:///etc/passwd", "http://", "http://:7678", "http://host:0",
        "http://host:65536", "http://host:12a", "http://user:pw@host", "http://host/?x=1", "http://host/#a",
        "http://ho st", "http://host\n", "http://::1:7678", "http://[::1]x", "", "http://h\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pr_error_clear(&err);
        assert_int_equal(remote_config_init(&cfg, bad[i], NULL, NULL, NULL, NULL, NULL, &err), -EINVAL);
        assert_string_equal(err.path, "--server");
    }
    assert_int_equal(remote_config_init(&cfg, NULL, NULL, NULL, "gopher://x", NULL, NULL, &err), -EINVAL);
    assert_string_equal(err.path, "PORTREG_SERVER");
}

static void test_tokens_refused_without_echo(void **state)
{
    (void)state;
    struct remote_config cfg;
    struct pr_error err;
    static const char *const bad[] = { "portreg_a b", "portreg_x\r\nX-Evil: 1", "portreg_\x01", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pr_error_clear(&err);
        assert_int_equal(remote_config_init(&cfg, NULL, bad[i], NULL, NULL, NULL, NULL, &err), -EINVAL);
        assert_string_equal(err.path, "--token");
        if (bad[i][0])
            assert_null(strstr(err.message, "portreg_"));
    }
    assert_int_equal(remote_config_init(&cfg, NULL, NULL, NULL, NULL, "portreg_secret value", NULL, &err), -EINVAL);
    assert_string_equal(err.path, "PORTREG_TOKEN");
    assert_null(strstr(err.message, "secret"));
}

static void test_query_append(void **state)
{
    (void)state;
    char path[128] = "/api/v1/events";
    struct pr_error err;
    assert_int_equal(remote_query_append(path, sizeof path, "kind", "request.approved", &err), 0);
    assert_string_equal(path, "/api/v1/events?kind=request.approved");
    assert_int_equal(remote_query_append(path, sizeof path, "actor", "a b&c=d/é", &err), 0);
    assert_string_equal(path, "/api/v1/events?kind=request.approved&actor=a%20b%26c%3Dd%2F%C3%A9");
    char small[24] = "/api/v1/hosts";
    assert_int_equal(remote_query_append(small, sizeof small, "name", "a-long-host-name", &err), -ENAMETOOLONG);
    assert_string_equal(small, "/api/v1/hosts");   /* unchanged */
}

static void test_decode_error_document(void **state)
{
    (void)state;
    static const char body[] =
        "{\"error\":{\"code\":\"port-taken\",\"message\":\"port 5432/tcp on db1 is held by assignment 1\","
        "\"field\":\"port\",\"conflict\":{\"id\":1,\"service\":\"orders-db\",\"port_lo\":5432}}}";
    struct remote_response resp;
    struct pr_error err;
    assert_int_equal(remote_response_decode(409, "application/json", body, strlen(body), &resp, &err), 0);
    assert_int_equal(resp.status, 409);
    assert_true(resp.has_error);
    assert_string_equal(resp.error.code, "port-taken");
    assert_string_equal(resp.error.field, "port");
    assert_string_equal(resp.error.message, "port 5432/tcp on db1 is held by assignment 1");
    assert_non_null(resp.error.conflict);
    assert_int_equal(json_integer_value(json_object_get(resp.error.conflict, "port_lo")), 5432);
    assert_null(resp.error.diagnostics);
    assert_int_equal(remote_status_outcome(resp.status), REMOTE_NO);
    remote_response_free(&resp);
}

static void test_decode_import_diagnostics(void **state)
{
    (void)state;
    static const char body[] =
        "{\"error\":{\"code\":\"plan-invalid\",\"message\":\"the plan has 1 error\",\"field\":null},"
        "\"diagnostics\":[{\"file\":\"plan.yaml\",\"line\":3,\"column\":5,\"path\":\"services[0].port\","
        "\"severity\":\"error\",\"message\":\"bad port\"}]}";
    struct remote_response resp;
    struct pr_error err;
    assert_int_equal(remote_response_decode(422, "application/json; charset=utf-8", body, strlen(body), &resp,
                                            &err), 0);
    assert_true(resp.has_error);
    assert_string_equal(resp.error.field, "");   /* null field */
    assert_non_null(resp.error.diagnostics);
    assert_int_equal(json_array_size(resp.error.diagnostics), 1);
    assert_int_equal(remote_status_outcome(422), REMOTE_BAD_INPUT);
    remote_response_free(&resp);
}

static void test_decode_success_and_text(void **state)
{
    (void)state;
    struct remote_response resp;
    struct pr_error err;
    static const char lease[] = "{\"id\":7,\"port\":22193,\"state\":\"active\"}";
    assert_int_equal(remote_response_decode(201, "application/json", lease, strlen(lease), &resp, &err), 0);
    assert_false(resp.has_error);
    assert_int_equal(json_integer_value(json_object_get(resp.json, "port")), 22193);
    remote_response_free(&resp);
    /* an export: text kept byte for byte, no JSON */
    static const char services[] = "orders-db\t5432/tcp\n{not json\n";
    assert_int_equal(remote_response_decode(200, "text/plain; charset=utf-8", services, strlen(services), &resp,
                                            &err), 0);
    assert_null(resp.json);
    assert_int_equal(resp.body_len, strlen(services));
    assert_memory_equal(resp.body, services, resp.body_len);
    remote_response_free(&resp);
    /* an error status with an HTML body (a proxy): no error document, still an answer */
    static const char html[] = "<html>Bad Gateway</html>";
    assert_int_equal(remote_response_decode(502, "text/html", html, strlen(html), &resp, &err), 0);
    assert_false(resp.has_error);
    assert_int_equal(remote_status_outcome(502), REMOTE_FAILURE);
    remote_response_free(&resp);
    /* no content type: JSON when it looks like JSON */
    assert_int_equal(remote_response_decode(200, NULL, " {\"a\":1}", 8, &resp, &err), 0);
    assert_non_null(resp.json);
    remote_response_free(&resp);
}

static void test_decode_broken_json(void **state)
{
    (void)state;
    struct remote_response resp;
    struct pr_error err;
    pr_error_clear(&err);
    static const char broken[] = "{\"items\":[1,2,\n";
    assert_int_equal(remote_response_decode(200, "application/json", broken, strlen(broken), &resp, &err),
                     -EBADMSG);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.message, "not JSON"));
    remote_response_free(&resp);
    static const char duplicate[] = "{\"id\":1,\"id\":2}";
    assert_int_equal(remote_response_decode(200, "application/json", duplicate, strlen(duplicate), &resp, &err),
                     -EBADMSG);
    remote_response_free(&resp);
}

static void test_status_outcomes(void **state)
{
    (void)state;
    assert_int_equal(remote_status_outcome(200), REMOTE_OK);
    assert_int_equal(remote_status_outcome(201), REMOTE_OK);
    assert_int_equal(remote_status_outcome(404), REMOTE_NO);
    assert_int_equal(remote_status_outcome(409), REMOTE_NO);
    assert_int_equal(remote_status_outcome(412), REMOTE_NO);
    assert_int_equal(remote_status_outcome(400), REMOTE_BAD_INPUT);
    assert_int_equal(remote_status_outcome(413), REMOTE_BAD_INPUT);
    assert_int_equal(remote_status_outcome(415), REMOTE_BAD_INPUT);
    assert_int_equal(remote_status_outcome(401), REMOTE_AUTH);
    assert_int_equal(remote_status_outcome(403), REMOTE_AUTH);
    assert_int_equal(remote_status_outcome(500), REMOTE_FAILURE);
    assert_int_equal(remote_status_outcome(503), REMOTE_FAILURE);
    assert_int_equal(remote_status_outcome(302), REMOTE_FAILURE);   /* redirects are not followed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_precedence),
        cmocka_unit_test(test_server_urls),
        cmocka_unit_test(test_tokens_refused_without_echo),
        cmocka_unit_test(test_query_append),
        cmocka_unit_test(test_decode_error_document),
        cmocka_unit_test(test_decode_import_diagnostics),
        cmocka_unit_test(test_decode_success_and_text),
        cmocka_unit_test(test_decode_broken_json),
        cmocka_unit_test(test_status_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
