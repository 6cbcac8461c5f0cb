/* test_drift.c — the fleet's pure parts: drift of one host from fixed registry rows, agent
 * report and scan (ledger_drift_host → the plan-diff columns and the registry's own), and
 * the agent report's validation (every bad field named). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "ledger/ledger_fleet.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v)
        fail_msg("bad JSON in test: %s: %s", text, e.text);
    return v;
}

static json_int_t count(const json_t *h, const char *kind)
{
    return json_integer_value(json_object_get(json_object_get(h, "counts"), kind));
}

static const json_t *item(const json_t *h, const char *kind, json_int_t port)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(h, "items"), i, it)
        if (strcmp(json_string_value(json_object_get(it, "kind")), kind) == 0 &&
            json_integer_value(json_object_get(it, "port")) == port)
            return it;
    return NULL;
}

static void drift_columns(void **state)
{
    (void)state;
    json_t *host = J("{\"name\":\"web1\",\"addresses\":{\"internal\":\"10.0.0.5\"}}");
    json_t *assignments = J("["
        "{\"id\":1,\"service\":\"api\",\"host\":\"web1\",\"proto\":\"tcp\",\"port_lo\":8080,\"port_hi\":8080,\"bind\":\"any\",\"state\":\"active\"},"
        "{\"id\":2,\"service\":\"db\",\"host\":\"web1\",\"proto\":\"tcp\",\"port_lo\":5432,\"port_hi\":5432,\"bind\":\"loopback\",\"state\":\"active\"},"
        "{\"id\":3,\"service\":\"gone\",\"host\":\"web1\",\"proto\":\"tcp\",\"port_lo\":7000,\"port_hi\":7000,\"bind\":\"any\",\"state\":\"active\"},"
        "{\"id\":4,\"service\":\"old\",\"host\":\"web1\",\"proto\":\"udp\",\"port_lo\":5353,\"port_hi\":5353,\"bind\":\"any\",\"state\":\"quarantined\"},"
        "{\"id\":5,\"service\":\"metrics\",\"host\":\"web1\",\"proto\":\"tcp\",\"port_lo\":9100,\"port_hi\":9100,\"bind\":\"internal\",\"state\":\"active\"}]");
    json_t *leases = J("[{\"id\":9,\"service\":\"ci\",\"host\":\"web1\",\"proto\":\"tcp\",\"port\":20001,\"state\":\"active\","
                       "\"created\":1000,\"updated\":1000,\"expires_at\":99999}]");
    json_t *obs = J("{\"host\":\"web1\",\"seq\":4,\"interval_s\":30,\"last_seen\":1990,\"created\":900,\"listeners\":["
        "{\"proto\":\"tcp\",\"local_address\":\"0.0.0.0\",\"local_port\":8080,\"netns\":\"host\",\"process\":\"api\",\"pid\":10},"
        "{\"proto\":\"tcp\",\"local_address\":\"0.0.0.0\",\"local_port\":5432,\"netns\":\"host\",\"process\":\"postgres\",\"pid\":11},"
        "{\"proto\":\"tcp\",\"local_address\":\"0.0.0.0\",\"local_port\":22,\"netns\":\"host\",\"process\":\"sshd\",\"pid\":1,\"unit\":\"ssh.service\"},"
        "{\"proto\":\"udp\",\"local_address\":\"0.0.0.0\",\"local_port\":5353,\"netns\":\"host\",\"process\":\"avahi\",\"pid\":12},"
        "{\"proto\":\"tcp\",\"local_address\":\"10.0.0.5\",\"local_port\":9100,\"netns\":\"host\",\"process\":\"api\",\"pid\":13}]}");
    json_t *scan = J("{\"host\":\"web1\",\"time\":1900,\"scanner\":\"ops\",\"open\":[{\"proto\":\"tcp\",\"port\":8080,\"address\":\"10.0.0.5\"},"
        "{\"proto\":\"tcp\",\"port\":6379,\"address\":\"10.0.0.5\"}],\"filtered\":[{\"proto\":\"tcp\",\"port\":9100,\"address\":\"10.0.0.5\"}]}");
    json_t *services = J("[\"api\",\"db\",\"gone\",\"old\",\"metrics\",\"ci\"]");
    json_t *h = ledger_drift_host(host, assignments, leases, obs, scan, services, 2000);
    assert_non_null(h);
    assert_int_equal(count(h, "present"), 1);        /* 8080 api on 0.0.0.0, bind any */
    assert_non_null(item(h, "present", 8080));
    assert_int_equal(count(h, "wrong-address"), 1);  /* 5432 loopback, bound to 0.0.0.0 */
    assert_non_null(item(h, "wrong-address", 5432));
    assert_int_equal(count(h, "absent"), 1);         /* 7000 */
    assert_non_null(item(h, "absent", 7000));
    const json_t *ssh = item(h, "undeclared", 22);   /* with process and unit */
    assert_non_null(ssh);
    assert_string_equal(json_string_value(json_object_get(ssh, "process")), "sshd");
    assert_string_equal(json_string_value(json_object_get(ssh, "unit")), "ssh.service");
    assert_string_equal(json_string_value(json_object_get(ssh, "source")), "agent");
    /* 5353 quarantined and listened on; 9100 assigned to metrics, "api" listens */
    assert_int_equal(count(h, "unauthorized"), 2);
    assert_non_null(item(h, "unauthorized", 5353));
    assert_non_null(item(h, "unauthorized", 9100));
    assert_int_equal(count(h, "lease-unused"), 1);   /* 20001, leased at 1000, nobody listens */
    const json_t *open = item(h, "undeclared", 6379);
    assert_non_null(open);
    assert_string_equal(json_string_value(json_object_get(open, "source")), "scan");
    assert_int_equal(count(h, "filtered"), 1);
    assert_int_equal(json_integer_value(json_object_get(h, "drift")), 1 + 1 + 2 + 2 + 1 + 1);
    assert_false(json_is_true(json_object_get(json_object_get(h, "agent"), "stale")));
    json_decref(h);
    /* stale after three intervals without a report */
    h = ledger_drift_host(host, assignments, leases, obs, NULL, services, 1990 + 3 * 30 + 1);
    assert_true(json_is_true(json_object_get(json_object_get(h, "agent"), "stale")));
    json_decref(h);
    /* no agent, no scan: nothing to compare, no drift */
    h = ledger_drift_host(host, assignments, leases, NULL, NULL, services, 2000);
    assert_int_equal(json_integer_value(json_object_get(h, "drift")), 0);
    assert_true(json_is_null(json_object_get(h, "agent")));
    json_decref(h);
    json_decref(host);
    json_decref(assignments);
    json_decref(leases);
    json_decref(obs);
    json_decref(scan);
    json_decref(services);
}

static void expect_bad(const char *body, const char *field)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_observation_parse(body, strlen(body), &out, &lerr);
    if (r == 0)
        fail_msg("accepted: %s", body);
    assert_int_equal(lerr.kind, LEDGER_BAD_REQUEST);
    if (strcmp(lerr.field, field) != 0)
        fail_msg("%s: field \"%s\", expected \"%s\" (%s)", body, lerr.field, field, lerr.message);
    ledger_error_clear(&lerr);
}

static void observation_validation(void **state)
{
    (void)state;
    const char *full = "{\"host\":\"web1\",\"seq\":7,\"full\":true,\"agent\":{\"version\":\"0.1\",\"interval_s\":30},"
                       "\"ephemeral\":{\"lo\":32768,\"hi\":60999},\"reserved\":\"8080,9000-9010\",\"listeners\":["
                       "{\"proto\":\"tcp\",\"local_address\":\"0.0.0.0\",\"local_port\":22,\"netns\":\"host\",\"process\":\"sshd\","
                       "\"pid\":123,\"user\":\"root\",\"unit\":\"ssh.service\",\"container\":null,\"exposure\":\"all-ipv4\"}],"
                       "\"findings\":[{\"severity\":\"warning\",\"code\":\"x\",\"message\":\"m\",\"port\":22,\"proto\":\"tcp\"}]}";
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    assert_int_equal(ledger_observation_parse(full, strlen(full), &out, &lerr), 0);
    json_decref(out);
    const char *delta = "{\"host\":\"web1\",\"seq\":8,\"full\":false,\"base\":7,\"added\":[],\"removed\":["
                        "{\"proto\":\"tcp\",\"local_address\":\"::\",\"local_port\":22,\"netns\":\"host\"}]}";
    assert_int_equal(ledger_observation_parse(delta, strlen(delta), &out, &lerr), 0);
    json_decref(out);
    const char *beat = "{\"host\":\"web1\",\"seq\":9,\"full\":false,\"base\":8}";
    assert_int_equal(ledger_observation_parse(beat, strlen(beat), &out, &lerr), 0);
    json_decref(out);
    expect_bad("{\"host\":\"-x\",\"seq\":1,\"full\":true,\"listeners\":[]}", "host");
    expect_bad("{\"host\":\"a\",\"seq\":-1,\"full\":true,\"listeners\":[]}", "seq");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":\"yes\",\"listeners\":[]}", "full");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true}", "listeners");
    expect_bad("{\"host\":\"a\",\"seq\":2,\"full\":false}", "base");
    expect_bad("{\"host\":\"a\",\"seq\":2,\"full\":false,\"base\":2}", "seq");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[],\"extra\":1}", "extra");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[],\"agent\":{\"interval_s\":0}}", "agent.interval_s");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[],\"ephemeral\":{\"lo\":9,\"hi\":3}}", "ephemeral");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[],\"reserved\":\"80;rm\"}", "reserved");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[{\"proto\":\"tcp\",\"local_address\":\"0.0.0.0\","
               "\"local_port\":70000,\"netns\":\"host\"}]}", "listeners[0].local_port");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[{\"proto\":\"tcp\",\"local_address\":\"nope\","
               "\"local_port\":1,\"netns\":\"host\"}]}", "listeners[0].local_address");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[{\"proto\":\"icmp\",\"local_address\":\"::\","
               "\"local_port\":1,\"netns\":\"host\"}]}", "listeners[0].proto");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[{\"proto\":\"tcp\",\"local_address\":\"::\","
               "\"local_port\":1,\"netns\":\"host\",\"pid\":\"x\"}]}", "listeners[0].pid");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[{\"proto\":\"tcp\",\"local_address\":\"::\","
               "\"local_port\":1,\"netns\":\"host\"},{\"proto\":\"tcp\",\"local_address\":\"::\",\"local_port\":1,"
               "\"netns\":\"host\"}]}", "listeners[1]");
    expect_bad("{\"host\":\"a\",\"seq\":3,\"full\":false,\"base\":2,\"removed\":[{\"proto\":\"tcp\",\"local_address\":\"::\","
               "\"local_port\":1,\"netns\":\"host\",\"pid\":4}]}", "removed[0].pid");
    expect_bad("{\"host\":\"a\",\"seq\":1,\"full\":true,\"listeners\":[],\"findings\":[{\"port\":\"x\"}]}", "findings[0].port");
    expect_bad("[1]", "");
}

static void gunzip_cap(void **state)
{
    (void)state;
    /* 1 MiB of spaces compresses to about 1 KiB: the cap applies to the inflated size */
    size_t n = 1u << 20;
    char *plain = malloc(n);
    memset(plain, ' ', n);
    unsigned char gz[8192];
    z_stream zs = { 0 };
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)plain;
    zs.avail_in = (uInt)n;
    zs.next_out = gz;
    zs.avail_out = sizeof gz;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t gz_len = sizeof gz - zs.avail_out;
    deflateEnd(&zs);
    struct ledger_error lerr = { 0 };
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(ledger_gunzip((const char *)gz, gz_len, n, &out, &len, &lerr), 0);
    assert_int_equal(len, n);
    free(out);
    assert_int_equal(ledger_gunzip((const char *)gz, gz_len, n - 1, &out, &len, &lerr), -1);
    assert_string_equal(lerr.code, "too-large");
    ledger_error_clear(&lerr);
    assert_int_equal(ledger_gunzip((const char *)gz, gz_len / 2, n, &out, &len, &lerr), -1);
    assert_string_equal(lerr.code, "bad-gzip");
    ledger_error_clear(&lerr);
    free(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(drift_columns),
        cmocka_unit_test(observation_validation),
        cmocka_unit_test(gunzip_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
