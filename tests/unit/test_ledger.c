/* test_ledger.c — the registry server's domain against real SQLite files in a temporary
 * directory, or against PostgreSQL when PORTREG_TEST_DB_URL names one (test_ledger_pg runs
 * this through tests/pg_server.sh; each test starts from an empty schema): migrations, hosts, request → approve → assignment, conflicts by the bind-overlap
 * rule, deassign → quarantine (refused until its end, with the clock moved), leases (unique,
 * never in the ephemeral range, idempotent, released ports reused), tokens (and their cache),
 * events, reopen; the store's statement cache and group sync under concurrent writers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor/suggest.h"
#include "ledger/ledger.h"
#include "ledger/ledger_body.h"
#include "ledger/ledger_internal.h"

static char dir[256], url[300];
static const uint8_t secret[32] = { 1, 2, 3 };
static struct ledger_actor admin = { .name = "admin", .role = LEDGER_ROLE_ADMIN, .request_id = "req-test" };

static struct ledger *open_ledger_url(const char *db_url, unsigned connections, int64_t clock_offset)
{
    struct ledger_options opt = { db_url, connections, clock_offset, secret, sizeof secret };
    struct ledger *l = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    int r = ledger_open(&opt, &l, &err);
    if (r < 0)
        fail_msg("ledger_open: %s", err.message);
    return l;
}

static struct ledger *open_ledger(int64_t clock_offset)
{
    return open_ledger_url(url, 2, clock_offset);
}

/* The PostgreSQL URL of the test run, or NULL (SQLite). */
static const char *postgres_url(void)
{
    const char *u = getenv("PORTREG_TEST_DB_URL");
    return u && strncmp(u, "postgres", 8) == 0 ? u : NULL;
}

/* Run sql on the test's database from outside the ledger (another process's change). */
static void run_sql(const char *sql)
{
    if (postgres_url()) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "psql -q -X -v ON_ERROR_STOP=1 '%s' -c \"%s\" >/dev/null", postgres_url(), sql);
        assert_int_equal(system(cmd), 0);
        return;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/serve.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/portreg-ledger-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "sqlite:%s/serve.db", dir);
    if (postgres_url()) {
        snprintf(url, sizeof url, "%s", postgres_url());
        run_sql("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    }
    *state = open_ledger(0);
    return 0;
}

static int teardown(void **state)
{
    ledger_close(*state);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static json_t *body(const char *text)
{
    json_t *b = json_loads(text, 0, NULL);
    assert_non_null(b);
    return b;
}

static void add_host(struct ledger *l, const char *text)
{
    struct ledger_error lerr = { 0 };
    json_t *b = body(text), *out = NULL;
    assert_int_equal(ledger_host_create(l, &admin, b, &out, &lerr), 0);
    json_decref(b);
    json_decref(out);
}

/* Submit and approve; returns the approval's result (0 or -1, lerr filled). */
static int request_and_approve(struct ledger *l, const char *text, json_t **assignment_ids, struct ledger_error *lerr)
{
    json_t *b = body(text), *req = NULL, *approved = NULL;
    int r = ledger_request_submit(l, &admin, b, &req, lerr);
    json_decref(b);
    if (r < 0)
        return r;
    r = ledger_request_action(l, &admin, store_row_int(req, "id", 0), "approve", NULL, -1, &approved, lerr);
    if (r == 0 && assignment_ids)
        *assignment_ids = json_incref(json_object_get(approved, "assignments"));
    json_decref(req);
    json_decref(approved);
    return r;
}

static void approval_creates_the_assignment(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"db1\",\"addresses\":{\"internal\":\"10.0.0.1\",\"public\":\"192.0.2.1\"}}");
    struct ledger_error lerr = { 0 };
    json_t *ids = NULL;
    assert_int_equal(request_and_approve(l, "{\"service\":\"pg\",\"host\":\"db1\",\"port\":5432,\"bind\":\"internal\"}",
                                         &ids, &lerr), 0);
    assert_int_equal(json_array_size(ids), 1);
    json_t *a = NULL;
    assert_int_equal(ledger_get(l, STORE_ASSIGNMENTS, json_integer_value(json_array_get(ids, 0)), &a, &lerr), 0);
    assert_string_equal(store_row_text(a, "state"), "active");
    assert_int_equal(store_row_int(a, "port_lo", 0), 5432);
    json_decref(a);
    json_decref(ids);
    /* another address of the same host: no overlap, allowed */
    assert_int_equal(request_and_approve(l, "{\"service\":\"pg2\",\"host\":\"db1\",\"port\":5432,\"bind\":\"public\"}",
                                         NULL, &lerr), 0);
    /* any overlaps every address: refused with the conflicting assignment */
    assert_int_equal(request_and_approve(l, "{\"service\":\"pg3\",\"host\":\"db1\",\"port\":5432}", NULL, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    assert_non_null(lerr.conflict);
    assert_string_equal(store_row_text(lerr.conflict, "service"), "pg");
    ledger_error_clear(&lerr);
    /* another protocol does not clash */
    assert_int_equal(request_and_approve(l, "{\"service\":\"pg3\",\"host\":\"db1\",\"proto\":\"udp\",\"port\":5432}",
                                         NULL, &lerr), 0);
}

static void two_approvals_of_one_port_one_wins(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"web\"}");
    struct ledger_error lerr = { 0 };
    json_t *b = body("{\"service\":\"a\",\"host\":\"web\",\"port\":8080}"), *r1 = NULL, *r2 = NULL, *out = NULL;
    assert_int_equal(ledger_request_submit(l, &admin, b, &r1, &lerr), 0);
    assert_int_equal(ledger_request_submit(l, &admin, b, &r2, &lerr), 0);
    assert_int_equal(ledger_request_action(l, &admin, store_row_int(r1, "id", 0), "approve", NULL, -1, &out, &lerr), 0);
    json_decref(out);
    assert_int_equal(ledger_request_action(l, &admin, store_row_int(r2, "id", 0), "approve", NULL, -1, &out, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    ledger_error_clear(&lerr);
    /* If-Match with an old version */
    assert_int_equal(ledger_request_action(l, &admin, store_row_int(r2, "id", 0), "reject", NULL, 7, &out, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_PRECONDITION_FAILED);
    ledger_error_clear(&lerr);
    json_decref(b);
    json_decref(r1);
    json_decref(r2);
}

static void quarantine_holds_until_its_end(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"app\"}");
    struct ledger_error lerr = { 0 };
    json_t *ids = NULL, *out = NULL, *empty = json_object();
    assert_int_equal(request_and_approve(l, "{\"service\":\"old\",\"host\":\"app\",\"port\":9000}", &ids, &lerr), 0);
    assert_int_equal(ledger_assignment_action(l, &admin, json_integer_value(json_array_get(ids, 0)), "deassign", empty, -1,
                                              &out, &lerr), 0);
    assert_string_equal(store_row_text(out, "state"), "quarantined");
    json_decref(out);
    assert_int_equal(request_and_approve(l, "{\"service\":\"new\",\"host\":\"app\",\"port\":9000}", NULL, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    assert_string_equal(lerr.code, "quarantined");
    ledger_error_clear(&lerr);
    /* 31 days later (the same database, the clock moved) the port is free again */
    ledger_close(l);
    l = *state = open_ledger(31 * 86400);
    assert_int_equal(request_and_approve(l, "{\"service\":\"new\",\"host\":\"app\",\"port\":9000}", NULL, &lerr), 0);
    json_decref(ids);
    json_decref(empty);
}

static void leases_are_unique_and_policy_abiding(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"n1\"}");
    struct ledger_error lerr = { 0 };
    json_t *b = body("{\"service\":\"worker\",\"host\":\"n1\",\"range\":\"32760-32779\"}");
    int seen[65536] = { 0 };
    for (int i = 0; i < 8; i++) {
        json_t *lease = NULL;
        bool replayed;
        assert_int_equal(ledger_lease_create(l, &admin, b, NULL, &lease, &replayed, &lerr), 0);
        int port = (int)store_row_int(lease, "port", 0);
        assert_true(port >= 32760 && port <= 32767);   /* 32768- is the ephemeral range */
        assert_int_equal(seen[port]++, 0);
        json_decref(lease);
    }
    json_t *lease = NULL;
    bool replayed;
    assert_int_equal(ledger_lease_create(l, &admin, b, NULL, &lease, &replayed, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    assert_string_equal(lerr.code, "range-exhausted");
    ledger_error_clear(&lerr);
    json_decref(b);
    /* idempotency: the same key, the same lease */
    b = body("{\"service\":\"idem\",\"host\":\"n1\"}");
    json_t *first = NULL, *second = NULL;
    assert_int_equal(ledger_lease_create(l, &admin, b, "key-1", &first, &replayed, &lerr), 0);
    assert_false(replayed);
    assert_int_equal(ledger_lease_create(l, &admin, b, "key-1", &second, &replayed, &lerr), 0);
    assert_true(replayed);
    assert_int_equal(store_row_int(first, "id", 0), store_row_int(second, "id", -1));
    /* release frees the port: the same name walks to it again */
    json_t *released = NULL, *again = NULL, *empty = json_object();
    assert_int_equal(ledger_lease_action(l, &admin, store_row_int(first, "id", 0), "release", empty, &released, &lerr), 0);
    assert_int_equal(ledger_lease_create(l, &admin, b, NULL, &again, &replayed, &lerr), 0);
    assert_int_equal(store_row_int(again, "port", 0), store_row_int(first, "port", -1));
    json_decref(first);
    json_decref(second);
    json_decref(released);
    json_decref(again);
    json_decref(empty);
    json_decref(b);
}

static void expired_leases_are_reclaimed(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"n2\"}");
    struct ledger_error lerr = { 0 };
    json_t *b = body("{\"service\":\"short\",\"host\":\"n2\",\"ttl\":10,\"port\":20001}"), *lease = NULL;
    bool replayed;
    assert_int_equal(ledger_lease_create(l, &admin, b, NULL, &lease, &replayed, &lerr), 0);
    json_decref(lease);
    assert_int_equal(ledger_lease_create(l, &admin, b, NULL, &lease, &replayed, &lerr), -1);
    ledger_error_clear(&lerr);
    ledger_close(l);
    l = *state = open_ledger(60);
    unsigned count = 0;
    assert_int_equal(ledger_reclaim_leases(l, 64, &count, &lerr), 0);
    assert_int_equal(count, 1);
    assert_int_equal(ledger_lease_create(l, &admin, b, NULL, &lease, &replayed, &lerr), 0);
    json_decref(lease);
    json_decref(b);
}

static void tokens_authenticate_by_keyed_hash(void **state)
{
    struct ledger *l = *state;
    char token[LEDGER_TOKEN_LENGTH + 1];
    json_t *row = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(ledger_token_create(l, LEDGER_ROLE_REQUESTER, "ci", 0, token, &row, &err), 0);
    assert_null(json_object_get(row, "hash"));
    assert_true(ledger_token_well_formed(token));
    assert_memory_equal(token, "portreg_", 8);
    struct ledger_actor actor = { 0 };
    struct ledger_error lerr = { 0 };
    assert_int_equal(ledger_token_authenticate(l, token, &actor, &lerr), 0);
    assert_int_equal(actor.role, LEDGER_ROLE_REQUESTER);
    assert_string_equal(actor.name, "ci");
    token[20] = token[20] == 'a' ? 'b' : 'a';   /* a typo: the checksum catches it */
    assert_false(ledger_token_well_formed(token));
    assert_int_equal(ledger_token_authenticate(l, token, &actor, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_UNAUTHORIZED);
    json_decref(row);
}

static void events_record_each_change_with_the_request_id(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"ev\"}");
    struct ledger_error lerr = { 0 };
    assert_int_equal(request_and_approve(l, "{\"service\":\"s\",\"host\":\"ev\",\"port\":7000}", NULL, &lerr), 0);
    json_t *query = json_pack("{s:s}", "request_id", "req-test"), *events = NULL;
    assert_int_equal(ledger_list(l, STORE_EVENTS, query, &events, &lerr), 0);
    json_t *items = json_object_get(events, "items");
    const char *kinds[] = { "host.created", "request.submitted", "assignment.created", "request.approved" };
    assert_int_equal(json_array_size(items), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(store_row_text(json_array_get(items, i), "kind"), kinds[i]);
    assert_non_null(json_object_get(json_array_get(items, 3), "before"));
    json_decref(query);
    json_decref(events);
}

static void bodies_name_the_bad_field(void **state)
{
    (void)state;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    const char *cases[][2] = {
        { "{\"service\":\"a\",\"host\":\"h\",\"port\":70000}", "port" },
        { "{\"service\":\"a\",\"host\":\"h\",\"port\":\"20-10\"}", "port" },
        { "{\"service\":\"a\",\"host\":\"h\",\"port\":1,\"colour\":1}", "colour" },
        { "{\"service\":\"a b\",\"host\":\"h\",\"port\":1}", "service" },
        { "{\"service\":\"a\",\"host\":\"h\"}", "port" },
        { "{\"service\":\"a\",\"host\":\"h\",\"port\":1,\"proto\":\"icmp\"}", "proto" },
        /* found by fuzz_api_body: an unknown field with an empty name was reported without a field */
        { "{\"\":0}", "(empty)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(ledger_body_parse(LEDGER_BODY_REQUEST, cases[i][0], strlen(cases[i][0]), &out, &lerr), -1);
        assert_int_equal(lerr.kind, LEDGER_BAD_REQUEST);
        assert_string_equal(lerr.field, cases[i][1]);
    }
    /* an address name of digits and dots alone would read as an address literal */
    const char *names[][2] = {
        { "{\"name\":\"h\",\"addresses\":{\"123\":\"10.0.0.1\"}}", "addresses.123" },
        { "{\"name\":\"h\",\"addresses\":{\"1.2\":\"10.0.0.1\"}}", "addresses.1.2" },
        { "{\"name\":\"h\",\"addresses\":{\"any\":\"10.0.0.1\"}}", "addresses.any" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_int_equal(ledger_body_parse(LEDGER_BODY_HOST, names[i][0], strlen(names[i][0]), &out, &lerr), -1);
        assert_string_equal(lerr.code, "bad-name");
        assert_string_equal(lerr.field, names[i][1]);
    }
    const char *named = "{\"name\":\"h\",\"addresses\":{\"v10\":\"10.0.0.1\",\"10-net\":\"10.0.0.2\"}}";
    assert_int_equal(ledger_body_parse(LEDGER_BODY_HOST, named, strlen(named), &out, &lerr), 0);
    json_decref(out);
    const char *dup = "{\"service\":\"a\",\"service\":\"b\",\"host\":\"h\",\"port\":1}";
    assert_int_equal(ledger_body_parse(LEDGER_BODY_REQUEST, dup, strlen(dup), &out, &lerr), -1);
    const char *ok = "{\"service\":\"a\",\"hosts\":[\"h\"],\"port\":\"auto\"}";
    assert_int_equal(ledger_body_parse(LEDGER_BODY_REQUEST, ok, strlen(ok), &out, &lerr), 0);
    json_decref(out);
}

static void unknown_host_is_a_bad_request(void **state)
{
    struct ledger *l = *state;
    struct ledger_error lerr = { 0 };
    json_t *b = body("{\"service\":\"a\",\"host\":\"nowhere\",\"port\":1234}"), *out = NULL;
    assert_int_equal(ledger_request_submit(l, &admin, b, &out, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_BAD_REQUEST);
    assert_string_equal(lerr.field, "host");
    json_decref(b);
}

static json_t *create_with(struct ledger *l, int (*fn)(struct ledger *, const struct ledger_actor *, const json_t *,
                                                       json_t **, struct ledger_error *),
                           const char *text, struct ledger_error *lerr)
{
    json_t *b = body(text), *out = NULL;
    int r = fn(l, &admin, b, &out, lerr);
    json_decref(b);
    return r == 0 ? out : NULL;
}

static void groups_expand_at_approval_and_guard_their_hosts(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"w1\",\"addresses\":{\"internal\":\"10.0.0.1\"}}");
    add_host(l, "{\"name\":\"w2\",\"addresses\":{\"internal\":\"10.0.0.2\"}}");
    add_host(l, "{\"name\":\"w3\",\"addresses\":{\"internal\":\"10.0.0.3\"}}");
    struct ledger_error lerr = { 0 };
    json_t *group = create_with(l, ledger_group_create, "{\"name\":\"web\",\"hosts\":[\"w1\"]}", &lerr);
    assert_non_null(group);
    assert_int_equal(store_row_int(group, "version", 0), 1);
    /* a group of an unknown host, a second group of one name */
    assert_null(create_with(l, ledger_group_create, "{\"name\":\"x\",\"hosts\":[\"nope\"]}", &lerr));
    assert_int_equal(lerr.kind, LEDGER_BAD_REQUEST);
    assert_string_equal(lerr.field, "hosts");
    ledger_error_clear(&lerr);
    assert_null(create_with(l, ledger_group_create, "{\"name\":\"web\",\"hosts\":[\"w2\"]}", &lerr));
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    ledger_error_clear(&lerr);
    /* submitted while the group is w1; w2 joins before approval: approval takes both */
    json_t *b = body("{\"service\":\"nginx\",\"group\":\"web\",\"port\":8443,\"bind\":\"internal\"}");
    json_t *req = NULL, *approved = NULL, *patched = NULL;
    assert_int_equal(ledger_request_submit(l, &admin, b, &req, &lerr), 0);
    assert_string_equal(store_row_text(req, "group"), "web");
    assert_int_equal(json_array_size(json_object_get(req, "hosts")), 1);
    json_t *patch = body("{\"hosts\":[\"w1\",\"w2\"]}");
    /* If-Match with another version: 412, nothing changed */
    assert_int_equal(ledger_group_update(l, &admin, store_row_int(group, "id", 0), patch, 5, &patched, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_PRECONDITION_FAILED);
    ledger_error_clear(&lerr);
    assert_int_equal(ledger_group_update(l, &admin, store_row_int(group, "id", 0), patch, 1, &patched, &lerr), 0);
    assert_int_equal(store_row_int(patched, "version", 0), 2);
    assert_int_equal(ledger_request_action(l, &admin, store_row_int(req, "id", 0), "approve", NULL, -1, &approved, &lerr), 0);
    assert_int_equal(json_array_size(json_object_get(approved, "assignments")), 2);
    assert_int_equal(json_array_size(json_object_get(approved, "hosts")), 2);
    /* the assignments record the group and are listed by it */
    json_t *query = json_pack("{s:s}", "group", "web"), *list = NULL;
    assert_int_equal(ledger_list(l, STORE_ASSIGNMENTS, query, &list, &lerr), 0);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 2);
    /* a group in use, and a host in a group, cannot be deleted */
    assert_int_equal(ledger_group_delete(l, &admin, store_row_int(group, "id", 0), -1, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    assert_string_equal(lerr.code, "group-in-use");
    ledger_error_clear(&lerr);
    json_t *w3 = NULL, *q3 = json_pack("{s:s}", "name", "w3");
    assert_int_equal(ledger_list(l, STORE_HOSTS, q3, &w3, &lerr), 0);
    json_t *g2 = create_with(l, ledger_group_create, "{\"name\":\"spare\",\"hosts\":[\"w3\"]}", &lerr);
    assert_non_null(g2);
    assert_int_equal(ledger_host_delete(l, &admin, store_row_int(json_array_get(json_object_get(w3, "items"), 0), "id", 0),
                                        -1, &lerr), -1);
    assert_string_equal(lerr.code, "host-in-use");
    ledger_error_clear(&lerr);
    assert_int_equal(ledger_group_delete(l, &admin, store_row_int(g2, "id", 0), -1, &lerr), 0);
    json_decref(g2);
    json_decref(q3);
    json_decref(w3);
    json_decref(query);
    json_decref(list);
    json_decref(patch);
    json_decref(patched);
    json_decref(b);
    json_decref(req);
    json_decref(approved);
    json_decref(group);
}

static void services_are_named_objects(void **state)
{
    struct ledger *l = *state;
    struct ledger_error lerr = { 0 };
    json_t *svc = create_with(l, ledger_service_create, "{\"name\":\"orders\",\"owner\":\"team-a\"}", &lerr);
    assert_non_null(svc);
    assert_true(json_is_null(json_object_get(svc, "description")));
    json_t *patch = body("{\"description\":\"the orders API\"}"), *out = NULL;
    assert_int_equal(ledger_service_update(l, &admin, store_row_int(svc, "id", 0), patch, 1, &out, &lerr), 0);
    assert_string_equal(store_row_text(out, "description"), "the orders API");
    assert_string_equal(store_row_text(out, "owner"), "team-a");
    json_decref(out);
    /* unknown fields of a PATCH are named */
    const char *bad = "{\"name\":\"renamed\"}";
    assert_int_equal(ledger_body_parse(LEDGER_BODY_SERVICE_PATCH, bad, strlen(bad), &out, &lerr), -1);
    assert_string_equal(lerr.field, "name");
    ledger_error_clear(&lerr);
    assert_int_equal(ledger_service_delete(l, &admin, store_row_int(svc, "id", 0), -1, &lerr), 0);
    json_t *gone = NULL;
    assert_int_equal(ledger_get(l, STORE_SERVICES, store_row_int(svc, "id", 0), &gone, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_NOT_FOUND);
    ledger_error_clear(&lerr);
    json_decref(patch);
    json_decref(svc);
}

/* GET /api/v1/assignments?port=P: the assignments whose port_lo..port_hi holds P (the port
 * page lists a range's assignment on every port of the range), not only port_lo = P. */
static void a_port_filter_finds_the_ranges_holding_it(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"r1\"}");
    struct ledger_error lerr = { 0 };
    json_t *range = create_with(l, ledger_assignment_create, "{\"service\":\"exporters\",\"host\":\"r1\","
                                "\"port\":\"9100-9110\"}", &lerr);
    assert_non_null(range);
    json_t *single = create_with(l, ledger_assignment_create, "{\"service\":\"api\",\"host\":\"r1\",\"port\":9111}",
                                 &lerr);
    assert_non_null(single);
    static const struct { const char *port; size_t count; const char *service; } cases[] = {
        { "9100", 1, "exporters" }, { "9105", 1, "exporters" }, { "9110", 1, "exporters" },
        { "9111", 1, "api" }, { "9099", 0, NULL }, { "9112", 0, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *q = json_pack("{s:s, s:s}", "port", cases[i].port, "host", "r1"), *list = NULL;
        assert_int_equal(ledger_list(l, STORE_ASSIGNMENTS, q, &list, &lerr), 0);
        json_t *items = json_object_get(list, "items");
        assert_int_equal(json_array_size(items), cases[i].count);
        if (cases[i].service)
            assert_string_equal(store_row_text(json_array_get(items, 0), "service"), cases[i].service);
        json_decref(list);
        json_decref(q);
    }
    /* not a port: 400 naming it */
    json_t *bad = json_pack("{s:s}", "port", "70000"), *list = NULL;
    assert_int_equal(ledger_list(l, STORE_ASSIGNMENTS, bad, &list, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_BAD_REQUEST);
    assert_string_equal(lerr.field, "port");
    ledger_error_clear(&lerr);
    json_decref(bad);
    json_decref(range);
    json_decref(single);
}

static void direct_assignment_checks_as_approval_does(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"d1\"}");
    add_host(l, "{\"name\":\"d2\"}");
    struct ledger_error lerr = { 0 };
    json_t *one = create_with(l, ledger_assignment_create, "{\"service\":\"api\",\"host\":\"d1\",\"port\":9100,"
                              "\"reason\":\"direct\"}", &lerr);
    assert_non_null(one);
    assert_int_equal(store_row_int(one, "port_lo", 0), 9100);
    assert_string_equal(store_row_text(one, "state"), "active");
    /* recorded as a request approved by the admin */
    json_t *req = NULL;
    assert_int_equal(ledger_get(l, STORE_REQUESTS, store_row_int(one, "request", 0), &req, &lerr), 0);
    assert_string_equal(store_row_text(req, "state"), "approved");
    assert_string_equal(store_row_text(req, "decided_by"), "admin");
    assert_string_equal(store_row_text(req, "reason"), "direct");
    /* several hosts: {"items": [...]}; auto takes one port free on both */
    json_t *many = create_with(l, ledger_assignment_create, "{\"service\":\"api2\",\"hosts\":[\"d1\",\"d2\"],"
                               "\"port\":\"auto\"}", &lerr);
    assert_non_null(many);
    json_t *items = json_object_get(many, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(store_row_int(json_array_get(items, 0), "port_lo", 0),
                     store_row_int(json_array_get(items, 1), "port_lo", -1));
    /* the same conflict and policy checks: 409 with the holder, 422 in the ephemeral range */
    assert_null(create_with(l, ledger_assignment_create, "{\"service\":\"x\",\"host\":\"d1\",\"port\":9100}", &lerr));
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    assert_string_equal(store_row_text(lerr.conflict, "service"), "api");
    ledger_error_clear(&lerr);
    assert_null(create_with(l, ledger_assignment_create, "{\"service\":\"x\",\"host\":\"d1\",\"port\":40000}", &lerr));
    assert_int_equal(lerr.kind, LEDGER_UNPROCESSABLE);
    ledger_error_clear(&lerr);
    /* nothing of a refused assignment stays: no request row for it */
    json_t *query = json_pack("{s:s}", "service", "x"), *list = NULL;
    assert_int_equal(ledger_list(l, STORE_REQUESTS, query, &list, &lerr), 0);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(query);
    json_decref(list);
    json_decref(req);
    json_decref(one);
    json_decref(many);
}

static unsigned portmap_value(const uint8_t *map, unsigned port)
{
    return (map[port / 4] >> (2 * (port % 4))) & 3u;
}

static void ended_quarantine_frees_the_port_without_a_restart(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"q1\"}");
    struct ledger_error lerr = { 0 };
    json_t *ids = NULL, *out = NULL, *empty = json_object();
    assert_int_equal(request_and_approve(l, "{\"service\":\"old\",\"host\":\"q1\",\"port\":20001}", &ids, &lerr), 0);
    static uint8_t map[LEDGER_PORTMAP_BYTES];
    unsigned counts[4];
    assert_int_equal(ledger_portmap(l, "q1", "tcp", map, counts, &lerr), 0);
    assert_int_equal(portmap_value(map, 20001), 1);
    assert_int_equal(portmap_value(map, 20002), 0);
    assert_int_equal(portmap_value(map, 40000), 3);     /* the ephemeral range */
    assert_int_equal(portmap_value(map, 0), 3);
    assert_int_equal(counts[1], 1);
    assert_int_equal(counts[0] + counts[1] + counts[2] + counts[3], 65536);
    assert_int_equal(ledger_assignment_action(l, &admin, json_integer_value(json_array_get(ids, 0)), "deassign", empty, -1,
                                              &out, &lerr), 0);
    json_decref(out);
    assert_int_equal(ledger_portmap(l, "q1", "tcp", map, counts, &lerr), 0);
    assert_int_equal(portmap_value(map, 20001), 3);
    /* a lease on exactly that port: refused while quarantined */
    json_t *b = body("{\"service\":\"w\",\"host\":\"q1\",\"range\":\"20001-20001\"}"), *lease = NULL;
    bool replayed;
    assert_int_equal(ledger_lease_create(l, &admin, b, NULL, &lease, &replayed, &lerr), -1);
    assert_string_equal(lerr.code, "range-exhausted");
    ledger_error_clear(&lerr);
    /* the quarantine ends (same process, the clock moved): free in the map, leased at once */
    ledger_clock_advance(l, 31 * 86400);
    assert_int_equal(ledger_portmap(l, "q1", "tcp", map, counts, &lerr), 0);
    assert_int_equal(portmap_value(map, 20001), 0);
    assert_int_equal(ledger_lease_create(l, &admin, b, NULL, &lease, &replayed, &lerr), 0);
    assert_int_equal(store_row_int(lease, "port", 0), 20001);
    assert_int_equal(ledger_portmap(l, "q1", "tcp", map, counts, &lerr), 0);
    assert_int_equal(portmap_value(map, 20001), 2);
    /* an unknown host is not found */
    assert_int_equal(ledger_portmap(l, "nope", "tcp", map, counts, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_NOT_FOUND);
    ledger_error_clear(&lerr);
    json_decref(lease);
    json_decref(b);
    json_decref(ids);
    json_decref(empty);
}

/* How many events of kind the log holds. */
static size_t events_of_kind(struct ledger *l, const char *kind)
{
    struct ledger_error lerr = { 0 };
    json_t *query = json_pack("{s:s}", "kind", kind), *events = NULL;
    assert_int_equal(ledger_list(l, STORE_EVENTS, query, &events, &lerr), 0);
    size_t n = json_array_size(json_object_get(events, "items"));
    json_decref(query);
    json_decref(events);
    return n;
}

static void a_host_address_change_keeps_its_assignments_apart(void **state)
{
    struct ledger *l = *state;
    struct ledger_error lerr = { 0 };
    json_t *host = create_with(l, ledger_host_create, "{\"name\":\"m1\",\"addresses\":{\"internal\":\"10.0.0.1\"}}", &lerr);
    assert_non_null(host);
    int64_t host_id = store_row_int(host, "id", 0);
    json_t *ids = NULL, *out = NULL, *empty = json_object();
    /* pg binds the name internal (10.0.0.1), api the address 10.0.0.2: both on 5432 */
    assert_int_equal(request_and_approve(l, "{\"service\":\"pg\",\"host\":\"m1\",\"port\":5432,\"bind\":\"internal\"}",
                                         &ids, &lerr), 0);
    assert_int_equal(request_and_approve(l, "{\"service\":\"api\",\"host\":\"m1\",\"port\":5432,\"bind\":\"10.0.0.2\"}",
                                         NULL, &lerr), 0);
    /* internal moved onto api's address: refused, naming both and the port, nothing changed */
    json_t *b = body("{\"addresses\":{\"internal\":\"10.0.0.2\"}}");
    assert_int_equal(ledger_host_update(l, &admin, host_id, b, 1, &out, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    assert_string_equal(lerr.code, "port-taken");
    assert_string_equal(lerr.field, "addresses");
    assert_non_null(strstr(lerr.message, "5432/tcp"));
    assert_non_null(strstr(lerr.message, "of pg"));
    assert_non_null(strstr(lerr.message, "of api"));
    assert_string_equal(store_row_text(lerr.conflict, "service"), "api");
    ledger_error_clear(&lerr);
    json_decref(b);
    assert_int_equal(ledger_get(l, STORE_HOSTS, host_id, &out, &lerr), 0);
    assert_int_equal(store_row_int(out, "version", 0), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "addresses"), "internal")), "10.0.0.1");
    json_decref(out);
    assert_int_equal(events_of_kind(l, "host.updated"), 0);
    /* the name gone: an unknown name is every address, which overlaps api too */
    b = body("{\"addresses\":{\"public\":\"192.0.2.1\"}}");
    assert_int_equal(ledger_host_update(l, &admin, host_id, b, -1, &out, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    ledger_error_clear(&lerr);
    json_decref(b);
    /* pg redeployed: its old assignment quarantined, a new one on the same name and port (one
     * service does not bar itself); both move together without refusing each other */
    assert_int_equal(ledger_assignment_action(l, &admin, json_integer_value(json_array_get(ids, 0)), "deassign", empty,
                                              -1, &out, &lerr), 0);
    json_decref(out);
    assert_int_equal(request_and_approve(l, "{\"service\":\"pg\",\"host\":\"m1\",\"port\":5432,\"bind\":\"internal\"}",
                                         NULL, &lerr), 0);
    b = body("{\"addresses\":{\"internal\":\"10.0.0.3\"}}");
    assert_int_equal(ledger_host_update(l, &admin, host_id, b, 1, &out, &lerr), 0);
    assert_int_equal(store_row_int(out, "version", 0), 2);
    json_decref(out);
    json_decref(b);
    assert_int_equal(events_of_kind(l, "host.updated"), 1);
    /* the old address is free on that port now, the new one is pg's */
    assert_int_equal(request_and_approve(l, "{\"service\":\"web\",\"host\":\"m1\",\"port\":5432,\"bind\":\"10.0.0.1\"}",
                                         NULL, &lerr), 0);
    assert_int_equal(request_and_approve(l, "{\"service\":\"web2\",\"host\":\"m1\",\"port\":5432,\"bind\":\"10.0.0.3\"}",
                                         NULL, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    assert_string_equal(store_row_text(lerr.conflict, "service"), "pg");
    ledger_error_clear(&lerr);
    json_decref(ids);
    json_decref(empty);
    json_decref(host);
}

static void a_requester_renews_and_releases_only_its_own_leases(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"r1\"}");
    struct ledger_actor alice = { .name = "alice", .role = LEDGER_ROLE_REQUESTER, .request_id = "a" };
    struct ledger_actor bob = { .name = "bob", .role = LEDGER_ROLE_REQUESTER, .request_id = "b" };
    struct ledger_error lerr = { 0 };
    json_t *b = body("{\"service\":\"job\",\"host\":\"r1\"}"), *lease = NULL, *out = NULL, *empty = json_object();
    bool replayed;
    assert_int_equal(ledger_lease_create(l, &alice, b, NULL, &lease, &replayed, &lerr), 0);
    assert_string_equal(store_row_text(lease, "requested_by"), "alice");
    int64_t id = store_row_int(lease, "id", 0);
    assert_int_equal(ledger_lease_action(l, &bob, id, "renew", empty, &out, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_FORBIDDEN);
    ledger_error_clear(&lerr);
    assert_int_equal(ledger_lease_action(l, &bob, id, "release", empty, &out, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_FORBIDDEN);
    ledger_error_clear(&lerr);
    assert_int_equal(ledger_lease_action(l, &alice, id, "renew", empty, &out, &lerr), 0);
    json_decref(out);
    assert_int_equal(ledger_lease_action(l, &admin, id, "release", empty, &out, &lerr), 0);
    json_decref(out);
    json_decref(lease);
    json_decref(empty);
    json_decref(b);
}

/* IANA as the tests see it: 5432/tcp is postgresql's, 20000-20099/tcp are "busy"'s. */
static size_t fake_iana(void *user, uint16_t port, uint8_t proto, const char **names, size_t max)
{
    (void)user;
    (void)proto;
    if (max && port == 5432) {
        names[0] = "postgresql";
        return 1;
    }
    if (max && port >= 20000 && port < 20100) {
        names[0] = "busy";
        return 1;
    }
    return 0;
}

static void policy_may_keep_iana_ports_free(void **state)
{
    struct ledger *l = *state;
    ledger_set_iana_lookup(l, fake_iana, NULL);
    add_host(l, "{\"name\":\"i1\"}");
    struct ledger_error lerr = { 0 };
    /* allowed by default (the policy document says so) */
    json_t *policy = NULL;
    assert_int_equal(ledger_policy_get(l, &policy, &lerr), 0);
    assert_true(json_is_true(json_object_get(policy, "iana_assigned_allowed")));
    json_decref(policy);
    assert_int_equal(request_and_approve(l, "{\"service\":\"a\",\"host\":\"i1\",\"port\":20001}", NULL, &lerr), 0);
    json_t *b = body("{\"iana_assigned_allowed\":false}"), *out = NULL;
    assert_int_equal(ledger_policy_set(l, &admin, b, &out, &lerr), 0);
    json_decref(out);
    json_decref(b);
    const char *bad = "{\"iana_assigned_allowed\":\"no\"}";
    assert_int_equal(ledger_body_parse(LEDGER_BODY_POLICY, bad, strlen(bad), &out, &lerr), -1);
    assert_string_equal(lerr.field, "iana_assigned_allowed");
    ledger_error_clear(&lerr);
    /* another service on postgresql's port: 422; postgresql itself: fine */
    assert_int_equal(request_and_approve(l, "{\"service\":\"orders\",\"host\":\"i1\",\"port\":5432}", NULL, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_UNPROCESSABLE);
    assert_string_equal(lerr.code, "iana-assigned");
    ledger_error_clear(&lerr);
    assert_int_equal(request_and_approve(l, "{\"service\":\"postgresql\",\"host\":\"i1\",\"port\":5432}", NULL, &lerr), 0);
    /* leases and auto ports walk past IANA's ports */
    b = body("{\"service\":\"w\",\"host\":\"i1\",\"range\":\"20050-20100\"}");
    json_t *lease = NULL;
    bool replayed;
    assert_int_equal(ledger_lease_create(l, &admin, b, NULL, &lease, &replayed, &lerr), 0);
    assert_int_equal(store_row_int(lease, "port", 0), 20100);
    json_decref(lease);
    json_decref(b);
    static uint8_t map[LEDGER_PORTMAP_BYTES];
    unsigned counts[4];
    assert_int_equal(ledger_portmap(l, "i1", "tcp", map, counts, &lerr), 0);
    assert_int_equal((map[20002 / 4] >> (2 * (20002 % 4))) & 3u, 3);
}

static const char import_plan[] =
    "hosts:\n"
    "  - name: p1\n"
    "    addresses: {internal: 10.1.0.1}\n"
    "    groups: [pg]\n"
    "  - name: p2\n"
    "    addresses: {internal: 10.1.0.2}\n"
    "    groups: [pg]\n"
    "services:\n"
    "  - name: db\n"
    "    hosts: [pg]\n"
    "    port: 5433/tcp\n"
    "    bind: internal\n"
    "    exposure: internal\n"
    "    owner: dba\n"
    "  - name: app\n"
    "    hosts: [p1]\n"
    "    ports: [auto, 7000/udp]\n"
    "    exposure: loopback\n";

static void import_is_one_transaction(void **state)
{
    struct ledger *l = *state;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL, *diag = NULL, *list = NULL;
    /* dry run: counted, nothing kept */
    assert_int_equal(ledger_import(l, &admin, "p.yaml", import_plan, strlen(import_plan), true, &out, &diag, &lerr), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "created"), "assignments")), 4);
    json_decref(out);
    json_decref(diag);
    json_t *none = json_object();
    assert_int_equal(ledger_list(l, STORE_HOSTS, none, &list, &lerr), 0);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
    assert_int_equal(ledger_import(l, &admin, "p.yaml", import_plan, strlen(import_plan), false, &out, &diag, &lerr), 0);
    json_t *created = json_object_get(out, "created");
    assert_int_equal(json_integer_value(json_object_get(created, "hosts")), 2);
    assert_int_equal(json_integer_value(json_object_get(created, "groups")), 1);
    assert_int_equal(json_integer_value(json_object_get(created, "services")), 2);
    assert_int_equal(json_integer_value(json_object_get(created, "assignments")), 4);
    json_decref(out);
    json_decref(diag);
    /* the group's assignments record it; the auto port is in the policy's auto range */
    json_t *q = json_pack("{s:s}", "group", "pg");
    assert_int_equal(ledger_list(l, STORE_ASSIGNMENTS, q, &list, &lerr), 0);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 2);
    json_decref(list);
    json_decref(q);
    q = json_pack("{s:s, s:s}", "service", "app", "proto", "tcp");
    assert_int_equal(ledger_list(l, STORE_ASSIGNMENTS, q, &list, &lerr), 0);
    json_int_t port = store_row_int(json_array_get(json_object_get(list, "items"), 0), "port_lo", 0);
    assert_true(port >= 10000 && port <= 32767);
    json_decref(list);
    json_decref(q);
    /* again: nothing new */
    assert_int_equal(ledger_import(l, &admin, "p.yaml", import_plan, strlen(import_plan), false, &out, &diag, &lerr), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "created"), "assignments")), 0);
    json_decref(out);
    json_decref(diag);
    /* the group's hosts in another order are the same group */
    const char *reordered = "hosts:\n  - name: p2\n    addresses: {internal: 10.1.0.2}\n    groups: [pg]\n"
                            "  - name: p1\n    addresses: {internal: 10.1.0.1}\n    groups: [pg]\n";
    assert_int_equal(ledger_import(l, &admin, "r.yaml", reordered, strlen(reordered), false, &out, &diag, &lerr), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "created"), "groups")), 0);
    json_decref(out);
    json_decref(diag);
    /* a port another service holds: 409, and the new host of that plan is not kept */
    const char *clash = "hosts:\n  - name: p3\n  - name: p1\n    addresses: {internal: 10.1.0.1}\n"
                        "services:\n  - name: other\n    hosts: [p1]\n    port: 5433\n"
                        "    exposure: public\n";
    assert_int_equal(ledger_import(l, &admin, "c.yaml", clash, strlen(clash), false, &out, &diag, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_CONFLICT);
    assert_string_equal(store_row_text(lerr.conflict, "service"), "db");
    ledger_error_clear(&lerr);
    json_decref(diag);
    q = json_pack("{s:s}", "name", "p3");
    assert_int_equal(ledger_list(l, STORE_HOSTS, q, &list, &lerr), 0);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
    json_decref(q);
    /* a plan with errors: 422 and the diagnostics with their places */
    const char *broken = "services:\n  - name: x\n    hosts: [nowhere]\n    port: 1\n    exposure: public\n";
    assert_int_equal(ledger_import(l, &admin, "b.yaml", broken, strlen(broken), false, &out, &diag, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_UNPROCESSABLE);
    ledger_error_clear(&lerr);
    json_t *d = json_array_get(diag, 0);
    assert_string_equal(store_row_text(d, "file"), "b.yaml");
    assert_int_equal(store_row_int(d, "line", 0), 3);
    assert_string_equal(store_row_text(d, "severity"), "error");
    json_decref(diag);
    json_decref(none);
}

static void the_plan_export_loads_as_a_plan(void **state)
{
    struct ledger *l = *state;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL, *diag = NULL;
    assert_int_equal(ledger_import(l, &admin, "p.yaml", import_plan, strlen(import_plan), false, &out, &diag, &lerr), 0);
    json_decref(out);
    json_decref(diag);
    char *text = NULL;
    size_t len = 0;
    const char *type = NULL;
    assert_int_equal(ledger_export(l, "plan", NULL, &text, &len, &type, &lerr), 0);
    assert_string_equal(type, "application/yaml");
    /* importing the export into the same registry changes nothing: the round trip holds */
    assert_int_equal(ledger_import(l, &admin, "export.yaml", text, len, false, &out, &diag, &lerr), 0);
    json_t *created = json_object_get(out, "created");
    assert_int_equal(json_integer_value(json_object_get(created, "assignments")), 0);
    assert_int_equal(json_integer_value(json_object_get(created, "hosts")), 0);
    json_decref(out);
    json_decref(diag);
    free(text);
    assert_int_equal(ledger_export(l, "services", NULL, &text, &len, &type, &lerr), 0);
    assert_non_null(strstr(text, "db              5433/tcp"));
    free(text);
    assert_int_equal(ledger_export(l, "nft", NULL, &text, &len, &type, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_BAD_REQUEST);
    ledger_error_clear(&lerr);
}

/* Another process removes a token: the server's memory trusts it for a second at most. */
static void a_deleted_token_stops_working_within_a_second(void **state)
{
    struct ledger *l = *state;
    char token[LEDGER_TOKEN_LENGTH + 1];
    json_t *row = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(ledger_token_create(l, LEDGER_ROLE_READER, "gone", 0, token, &row, &err), 0);
    json_decref(row);
    struct ledger_actor actor = { 0 };
    struct ledger_error lerr = { 0 };
    assert_int_equal(ledger_token_authenticate(l, token, &actor, &lerr), 0);
    run_sql("DELETE FROM tokens");
    usleep((LEDGER_TOKEN_CACHE_MS + 100) * 1000);
    assert_int_equal(ledger_token_authenticate(l, token, &actor, &lerr), -1);
    assert_int_equal(lerr.kind, LEDGER_UNAUTHORIZED);
    assert_string_equal(lerr.code, "unknown-token");
}

/* The expiry is checked on every request, also when the token comes from memory. */
static void an_expired_token_is_refused_from_memory_too(void **state)
{
    struct ledger *l = *state;
    char token[LEDGER_TOKEN_LENGTH + 1];
    json_t *row = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(ledger_token_create(l, LEDGER_ROLE_READER, "day", 1, token, &row, &err), 0);
    json_decref(row);
    struct ledger_actor actor = { 0 };
    struct ledger_error lerr = { 0 };
    assert_int_equal(ledger_token_authenticate(l, token, &actor, &lerr), 0);
    assert_int_equal(ledger_token_authenticate(l, token, &actor, &lerr), 0);   /* from memory */
    l->clock_offset = 2 * 86400;
    assert_int_equal(ledger_token_authenticate(l, token, &actor, &lerr), -1);
    assert_string_equal(lerr.code, "expired-token");
}

/* More distinct statements than a connection keeps prepared: evicted ones are prepared again. */
static void lists_beyond_the_statement_cache_stay_right(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"cached\"}");
    struct ledger_error lerr = { 0 };
    for (int round = 0; round < 2; round++) {
        for (int kind = 0; kind < STORE_KIND_COUNT; kind++)
            for (const struct store_column *c = store_tables[kind].columns; c->name; c++) {
                if (c->type == STORE_JSON || strcmp(c->name, "hash") == 0)
                    continue;
                json_t *query = json_pack("{s:s}", c->name, c->type == STORE_INT ? "7" : "x");
                json_t *out = NULL;
                assert_int_equal(ledger_list(l, (enum store_kind)kind, query, &out, &lerr), 0);
                json_decref(out);
                json_decref(query);
            }
        json_t *query = json_pack("{s:s}", "name", "cached"), *out = NULL;
        assert_int_equal(ledger_list(l, STORE_HOSTS, query, &out, &lerr), 0);
        assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
        json_decref(out);
        json_decref(query);
    }
}

struct lease_worker {
    struct ledger *ledger;
    int index;
    int ports[25];
    int failures;
    bool cycle;   /* release each lease at once */
};

static void *take_leases(void *arg)
{
    struct lease_worker *w = arg;
    char text[128];
    snprintf(text, sizeof text, "{\"service\":\"w%d\",\"host\":\"busy\",\"ttl\":3600}", w->index);
    json_t *b = json_loads(text, 0, NULL);
    for (int i = 0; i < 25; i++) {
        struct ledger_error lerr = { 0 };
        json_t *lease = NULL;
        bool replayed;
        if (ledger_lease_create(w->ledger, &admin, b, NULL, &lease, &replayed, &lerr) < 0) {
            w->failures++;
            ledger_error_clear(&lerr);
            continue;
        }
        w->ports[i] = (int)store_row_int(lease, "port", 0);
        if (w->cycle) {
            json_t *empty = json_object(), *released = NULL;
            if (ledger_lease_action(w->ledger, &admin, store_row_int(lease, "id", 0), "release", empty, &released,
                                    &lerr) < 0 ||
                strcmp(store_row_text(released, "state"), "released") != 0)
                w->failures++;
            ledger_error_clear(&lerr);
            json_decref(released);
            json_decref(empty);
        }
        json_decref(lease);
    }
    json_decref(b);
    return NULL;
}

/* Releases queue with the leases and run in their batches: 8 threads taking and releasing at
 * once all succeed, nothing stays active, and a released lease cannot be released again. */
static void concurrent_releases_share_the_lease_batches(void **state)
{
    struct ledger *l = *state;
    add_host(l, "{\"name\":\"busy\"}");
    struct lease_worker workers[8];
    pthread_t threads[8];
    for (int k = 0; k < 8; k++) {
        workers[k] = (struct lease_worker){ .ledger = l, .index = k, .cycle = true };
        pthread_create(&threads[k], NULL, take_leases, &workers[k]);
    }
    for (int k = 0; k < 8; k++)
        pthread_join(threads[k], NULL);
    for (int k = 0; k < 8; k++)
        assert_int_equal(workers[k].failures, 0);
    struct ledger_error lerr = { 0 };
    json_t *query = json_pack("{s:s, s:s}", "host", "busy", "state", "active"), *list = NULL;
    assert_int_equal(ledger_list(l, STORE_LEASES, query, &list, &lerr), 0);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(query);
    json_decref(list);
    json_t *empty = json_object(), *again = NULL;
    assert_int_equal(ledger_lease_action(l, &admin, 1, "release", empty, &again, &lerr), -1);
    assert_string_equal(lerr.code, "not-active");
    ledger_error_clear(&lerr);
    json_decref(empty);
}

/* 8 writers at once through group sync (synchronous=FULL, the default), then 300 more: every
 * lease answered is in the file after a reopen, each port once; the WAL is checkpointed as it
 * grows; ?synchronous=normal opens, other URL options are refused. */
static void concurrent_leases_are_all_kept(void **state)
{
    ledger_close(*state);
    struct ledger *l = open_ledger_url(url, 9, 0);
    *state = l;
    add_host(l, "{\"name\":\"busy\"}");
    struct lease_worker workers[8];
    pthread_t threads[8];
    for (int k = 0; k < 8; k++) {
        workers[k] = (struct lease_worker){ .ledger = l, .index = k };
        pthread_create(&threads[k], NULL, take_leases, &workers[k]);
    }
    for (int k = 0; k < 8; k++)
        pthread_join(threads[k], NULL);
    /* the WAL is checkpointed as it grows (at 1000 pages), not left to grow with every write */
    struct lease_worker more[12];
    for (int k = 0; k < 12; k++) {
        more[k] = (struct lease_worker){ .ledger = l, .index = 100 + k };
        take_leases(&more[k]);
        assert_int_equal(more[k].failures, 0);
    }
    char wal[300];
    snprintf(wal, sizeof wal, "%s/serve.db-wal", dir);
    struct stat st;
    if (!postgres_url()) {   /* SQLite's WAL file */
        assert_int_equal(stat(wal, &st), 0);
        assert_true(st.st_size < 2000 * (4096 + 24));   /* without checkpoints: ~3,700 pages */
    }
    static int seen[65536];
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < 8; k++) {
        assert_int_equal(workers[k].failures, 0);
        for (int i = 0; i < 25; i++)
            assert_int_equal(seen[workers[k].ports[i]]++, 0);
    }
    ledger_close(l);
    char normal_url[400];
    snprintf(normal_url, sizeof normal_url, postgres_url() ? "%s" : "%s?synchronous=normal", url);
    l = open_ledger_url(normal_url, 2, 0);
    *state = l;
    struct ledger_error lerr = { 0 };
    json_t *query = json_pack("{s:s, s:s}", "host", "busy", "limit", "1000"), *out = NULL;
    assert_int_equal(ledger_list(l, STORE_LEASES, query, &out, &lerr), 0);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 500);
    json_decref(out);
    json_decref(query);
    char bad_url[400];
    snprintf(bad_url, sizeof bad_url, postgres_url() ? "postgresql:%s" : "%s?journal=off", postgres_url() ? "nowhere" : url);
    struct ledger_options opt = { bad_url, 1, 0, secret, sizeof secret };
    struct ledger *bad = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(ledger_open(&opt, &bad, &err), -EINVAL);
}

static json_t *lease_on(struct ledger *l, const char *service, struct ledger_error *lerr)
{
    char text[128];
    snprintf(text, sizeof text, "{\"service\":\"%s\",\"host\":\"busy\",\"ttl\":3600}", service);
    json_t *b = body(text), *lease = NULL;
    bool replayed;
    int r = ledger_lease_create(l, &admin, b, NULL, &lease, &replayed, lerr);
    json_decref(b);
    return r == 0 ? lease : NULL;
}

/* PostgreSQL's lease batches (ledger_lease_shared.c, the database function of migration 5):
 * a lease granted there has the event the one-by-one path writes (its "after" the lease
 * with its id); an Idempotency-Key seen before is answered with the same lease; a port the
 * map believes free but the database holds (a claim this server never heard of) is refused
 * by the database and the next one is granted. */
static void shared_lease_batches_decide_in_the_database(void **state)
{
    if (!postgres_url())
        return;   /* PostgreSQL only */
    struct ledger *l = *state;
    struct ledger_error lerr = { 0 };
    add_host(l, "{\"name\":\"busy\"}");
    json_t *policy = body("{\"lease_range\":\"41000-41003\",\"ephemeral\":\"50000-60999\"}"), *out = NULL;
    assert_int_equal(ledger_policy_set(l, &admin, policy, &out, &lerr), 0);
    json_decref(policy);
    json_decref(out);
    json_t *first = lease_on(l, "svc", &lerr);   /* the host's map is made here */
    assert_non_null(first);
    json_t *second = lease_on(l, "svc", &lerr);
    assert_non_null(second);
    int64_t id = store_row_int(second, "id", 0);
    char text[160];
    snprintf(text, sizeof text, "{\"object_kind\":\"leases\",\"object_id\":\"%lld\"}", (long long)id);
    json_t *query = body(text), *events = NULL;
    assert_int_equal(ledger_list(l, STORE_EVENTS, query, &events, &lerr), 0);
    json_decref(query);
    json_t *items = json_object_get(events, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *event = json_array_get(items, 0);
    assert_string_equal(store_row_text(event, "kind"), "lease.created");
    assert_true(json_equal(json_object_get(event, "after"), second));
    json_decref(events);
    /* the same key twice: one lease */
    json_t *b = body("{\"service\":\"keyed\",\"host\":\"busy\",\"ttl\":3600}"), *k1 = NULL, *k2 = NULL;
    bool replayed = false;
    assert_int_equal(ledger_lease_create(l, &admin, b, "key-1", &k1, &replayed, &lerr), 0);
    assert_false(replayed);
    assert_int_equal(ledger_lease_create(l, &admin, b, "key-1", &k2, &replayed, &lerr), 0);
    assert_true(replayed);
    assert_int_equal(store_row_int(k1, "id", 0), store_row_int(k2, "id", 1));
    json_decref(b);
    /* the last free port taken behind the server's back (its change removed): the database refuses
     * what the map offers, the walk goes on and finds the range full */
    int used[3] = { (int)store_row_int(first, "port", 0), (int)store_row_int(second, "port", 0),
                    (int)store_row_int(k1, "port", 0) };
    int free_port = 0;
    for (int p = 41000; p <= 41003 && !free_port; p++)
        if (p != used[0] && p != used[1] && p != used[2])
            free_port = p;
    char sql[1000];
    snprintf(sql, sizeof sql, "psql -q -X '%s' -c \"INSERT INTO leases (service, host, proto, port, expires_at,"
             " state, version, created) VALUES ('rogue', 'busy', 'tcp', %d, 99999999999, 'active', 1, 0)\""
             " -c \"DELETE FROM claim_changes WHERE origin IS NULL\" >/dev/null 2>&1", url, free_port);
    assert_int_equal(system(sql), 0);
    json_t *none = lease_on(l, "late", &lerr);
    assert_null(none);
    assert_string_equal(lerr.code, "range-exhausted");
    ledger_error_clear(&lerr);
    json_decref(first);
    json_decref(second);
    json_decref(k1);
    json_decref(k2);
}

/* A port another server took where a service's leases walk (here a lease written past the
 * ledger, its change removed, so that the map never hears of it): the database refuses it,
 * and the service's leases walk from a detour 256-767 ports further on, this one and the
 * next, instead of meeting the other server at the same frontier again (ledger_lease_shared.c). */
static void a_port_another_server_took_sends_the_walk_on_a_detour(void **state)
{
    if (!postgres_url())
        return;   /* PostgreSQL only */
    struct ledger *l = *state;
    struct ledger_error lerr = { 0 };
    add_host(l, "{\"name\":\"busy\"}");
    json_t *policy = body("{\"lease_range\":\"42000-43999\",\"ephemeral\":\"50000-60999\"}"), *out = NULL;
    assert_int_equal(ledger_policy_set(l, &admin, policy, &out, &lerr), 0);
    json_decref(policy);
    json_decref(out);
    json_t *first = lease_on(l, "svc", &lerr);   /* the host's map is made here */
    assert_non_null(first);
    int lo = 42000, size = 2000, taken = lo + ((int)store_row_int(first, "port", 0) - lo + 1) % size;
    char sql[1000];
    snprintf(sql, sizeof sql, "psql -q -X '%s' -c \"INSERT INTO leases (service, host, proto, port, expires_at,"
             " state, version, created) VALUES ('rogue', 'busy', 'tcp', %d, 99999999999, 'active', 1, 0)\""
             " -c \"DELETE FROM claim_changes WHERE origin IS NULL\" >/dev/null 2>&1", url, taken);
    assert_int_equal(system(sql), 0);
    json_t *second = lease_on(l, "svc", &lerr), *third = lease_on(l, "svc", &lerr);
    assert_non_null(second);
    assert_non_null(third);
    int ahead = ((int)store_row_int(second, "port", 0) - taken + size) % size;
    assert_in_range(ahead, 256, 767);
    assert_int_equal(store_row_int(third, "port", 0), lo + ((int)store_row_int(second, "port", 0) - lo + 1) % size);
    /* another service's walk is not moved */
    json_t *other = lease_on(l, "other", &lerr);
    assert_non_null(other);
    struct local_port_range avoid = { 50000, 60999 };
    unsigned start = suggest_start_port("other", 42000, 43999, &avoid);
    if (start != store_row_int(first, "port", 0) && (int)start != taken && start != store_row_int(second, "port", 0) &&
        start != store_row_int(third, "port", 0))
        assert_int_equal(store_row_int(other, "port", 0), start);
    json_decref(first);
    json_decref(second);
    json_decref(third);
    json_decref(other);
}

/* Two servers on one PostgreSQL database (two ledgers here; SQLite has one server per file):
 * leases taken through both at once never share a port; a port one releases, the other
 * learns (claim_changes) and hands out again; a policy set through one applies in the other;
 * PostgreSQL itself refuses a claim that bypasses the ledger (the exclusion constraint). */
static void two_servers_on_one_database_share_no_port(void **state)
{
    if (!postgres_url())
        return;   /* PostgreSQL only */
    struct ledger *one = *state, *two = open_ledger_url(url, 5, 0);
    add_host(one, "{\"name\":\"busy\"}");
    struct lease_worker workers[8];
    pthread_t threads[8];
    for (int k = 0; k < 8; k++) {
        workers[k] = (struct lease_worker){ .ledger = k % 2 ? two : one, .index = k };
        pthread_create(&threads[k], NULL, take_leases, &workers[k]);
    }
    for (int k = 0; k < 8; k++)
        pthread_join(threads[k], NULL);
    static int seen[65536];
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < 8; k++) {
        assert_int_equal(workers[k].failures, 0);
        for (int i = 0; i < 25; i++)
            assert_int_equal(seen[workers[k].ports[i]]++, 0);
    }
    /* a second lease of a held port, written past the ledger: PostgreSQL refuses it */
    char sql[1000];
    snprintf(sql, sizeof sql, "psql -q -X '%s' -c \"INSERT INTO leases (service, host, proto, port, expires_at,"
             " state, version, created) VALUES ('rogue', 'busy', 'tcp', %d, 99999999999, 'active', 1, 0)\""
             " >/dev/null 2>&1", url, workers[0].ports[0]);
    assert_int_not_equal(system(sql), 0);
    /* the policy set through one applies in the other; a port freed by one is seen by the other */
    struct ledger_error lerr = { 0 };
    json_t *policy = body("{\"lease_range\":\"40000-40001\",\"ephemeral\":\"50000-60999\"}"), *out = NULL;
    assert_int_equal(ledger_policy_set(one, &admin, policy, &out, &lerr), 0);
    json_decref(policy);
    json_decref(out);
    json_t *a = lease_on(one, "a", &lerr), *b = lease_on(two, "b", &lerr);
    assert_non_null(a);
    assert_non_null(b);
    assert_in_range(store_row_int(b, "port", 0), 40000, 40001);
    assert_int_not_equal(store_row_int(a, "port", 0), store_row_int(b, "port", 0));
    json_t *c = lease_on(two, "c", &lerr);
    assert_null(c);
    assert_string_equal(lerr.code, "range-exhausted");
    ledger_error_clear(&lerr);
    json_t *empty = json_object(), *released = NULL;
    assert_int_equal(ledger_lease_action(one, &admin, store_row_int(a, "id", 0), "release", empty, &released, &lerr), 0);
    json_decref(released);
    json_decref(empty);
    c = lease_on(two, "c", &lerr);
    assert_non_null(c);
    assert_int_equal(store_row_int(c, "port", 0), store_row_int(a, "port", 0));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    ledger_close(two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(approval_creates_the_assignment, setup, teardown),
        cmocka_unit_test_setup_teardown(two_approvals_of_one_port_one_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(quarantine_holds_until_its_end, setup, teardown),
        cmocka_unit_test_setup_teardown(leases_are_unique_and_policy_abiding, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_leases_are_reclaimed, setup, teardown),
        cmocka_unit_test_setup_teardown(tokens_authenticate_by_keyed_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(events_record_each_change_with_the_request_id, setup, teardown),
        cmocka_unit_test_setup_teardown(bodies_name_the_bad_field, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_host_is_a_bad_request, setup, teardown),
        cmocka_unit_test_setup_teardown(groups_expand_at_approval_and_guard_their_hosts, setup, teardown),
        cmocka_unit_test_setup_teardown(services_are_named_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(direct_assignment_checks_as_approval_does, setup, teardown),
        cmocka_unit_test_setup_teardown(a_port_filter_finds_the_ranges_holding_it, setup, teardown),
        cmocka_unit_test_setup_teardown(ended_quarantine_frees_the_port_without_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(a_host_address_change_keeps_its_assignments_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(a_requester_renews_and_releases_only_its_own_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(policy_may_keep_iana_ports_free, setup, teardown),
        cmocka_unit_test_setup_teardown(import_is_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(the_plan_export_loads_as_a_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(a_deleted_token_stops_working_within_a_second, setup, teardown),
        cmocka_unit_test_setup_teardown(an_expired_token_is_refused_from_memory_too, setup, teardown),
        cmocka_unit_test_setup_teardown(lists_beyond_the_statement_cache_stay_right, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_leases_are_all_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(two_servers_on_one_database_share_no_port, setup, teardown),
        cmocka_unit_test_setup_teardown(shared_lease_batches_decide_in_the_database, setup, teardown),
        cmocka_unit_test_setup_teardown(a_port_another_server_took_sends_the_walk_on_a_detour, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_releases_share_the_lease_batches, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
