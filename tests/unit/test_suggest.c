/* test_suggest.c — unit tests for `portreg suggest`'s library: the search (doctor/suggest.c) on
 * synthetic inputs (every exclusion reason, determinism per name, wrapping, count, protocol),
 * the exclude-file parser with line:column errors, and doctor/reserved_ports.c (list format,
 * merge, the sysctl writer and the sysctl.d drop-in) on fixture trees in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor/reserved_ports.h"
#include "doctor/suggest.h"
#include "index_fixture.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static struct port_set *new_port_set(void)
{
    struct port_set *set = calloc(1, sizeof *set);
    assert_non_null(set);
    return set;
}

static void add_socket(struct socket_list *list, uint8_t proto, uint16_t port, uint8_t state,
                       uint64_t netns)
{
    struct socket_entry *s = socket_list_append(list);
    assert_non_null(s);
    s->proto = proto;
    s->family = 2;   /* AF_INET */
    s->local_port = port;
    s->state = state;
    s->netns = netns;
}

static void assert_ports(const struct suggest_result *r, const uint16_t *want, size_t count)
{
    assert_int_equal(r->count, count);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(r->ports[i], want[i]);
}

static void assert_skip(const struct suggest_skip_run *run, uint16_t first, uint16_t last,
                        enum suggest_skip_reason reason)
{
    assert_int_equal(run->first, first);
    assert_int_equal(run->last, last);
    assert_int_equal(run->reason, reason);
}

/* ---- start port ------------------------------------------------------------------------- */

static void test_start_port_deterministic(void **state)
{
    (void)state;
    uint16_t a = suggest_start_port("billing-api", 1024, 49151, NULL);
    assert_int_equal(a, suggest_start_port("billing-api", 1024, 49151, NULL));
    assert_int_equal(a, suggest_start_port("Billing-API", 1024, 49151, NULL));   /* case-folded */
    assert_true(a >= 1024 && a <= 49151);
    assert_int_equal(suggest_start_port(NULL, 1024, 49151, NULL), 1024);
    assert_int_equal(suggest_start_port("", 1024, 49151, NULL), 1024);
    assert_int_equal(suggest_start_port("x", 5000, 5000, NULL), 5000);
    /* different names spread out */
    unsigned distinct = 0;
    uint16_t seen[16];
    for (unsigned i = 0; i < 16; i++) {
        char name[16];
        snprintf(name, sizeof name, "svc%u", i);
        uint16_t port = suggest_start_port(name, 1024, 49151, NULL);
        bool dup = false;
        for (unsigned j = 0; j < distinct; j++)
            dup = dup || seen[j] == port;
        if (!dup)
            seen[distinct++] = port;
    }
    assert_true(distinct >= 14);
}

static void test_start_port_avoids_ephemeral(void **state)
{
    (void)state;
    struct local_port_range eph = { 32768, 60999 };
    for (unsigned i = 0; i < 2000; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%u", i);
        uint16_t port = suggest_start_port(name, 1024, 49151, &eph);
        assert_true(port >= 1024 && port < 32768);
    }
    /* the range entirely inside the ephemeral range: the whole range counts */
    uint16_t port = suggest_start_port("x", 40000, 40009, &eph);
    assert_true(port >= 40000 && port <= 40009);
    /* same name, same policy → same start */
    assert_int_equal(suggest_start_port("db", 1024, 49151, &eph),
                     suggest_start_port("db", 1024, 49151, &eph));
}

/* ---- search ----------------------------------------------------------------------------- */

static void test_search_without_name_starts_at_range_start(void **state)
{
    (void)state;
    struct suggest_policy p = { .range_first = 7000, .range_last = 7010, .count = 3,
                                .protos = SUGGEST_PROTO_TCP };
    struct suggest_result r;
    assert_int_equal(suggest_run(&p, &r, NULL), 0);
    assert_int_equal(r.start, 7000);
    assert_ports(&r, (const uint16_t[]){ 7000, 7001, 7002 }, 3);
    assert_int_equal(r.skipped_count, 0);
    assert_int_equal(r.examined, 3);
    suggest_result_free(&r);
}

static void test_search_every_reason(void **state)
{
    struct index_fixture *f = *state;
    struct local_ports *host = calloc(1, sizeof *host);
    assert_non_null(host);
    host->have_ephemeral = host->have_reserved = true;
    host->ephemeral = (struct local_port_range){ 6065, 6066 };
    port_set_add(&host->reserved, 6067);
    struct socket_list sockets = { 0 };
    add_socket(&sockets, REGISTRY_PROTO_TCP, 6068, SOCKET_STATE_TIME_WAIT, 4026532000u);
    add_socket(&sockets, REGISTRY_PROTO_UDP, 6070, SOCKET_STATE_CLOSE, 1);   /* udp: not tcp's */
    struct portspec exclude = { 0 };
    assert_int_equal(portspec_add(&exclude, 6069, 6069, REGISTRY_PROTO_ANY), 0);

    struct suggest_policy p = { .range_first = 6060, .range_last = 6072, .count = 3,
                                .protos = SUGGEST_PROTO_TCP, .registry = f->ix, .host = host,
                                .sockets = &sockets, .exclude = &exclude };
    struct suggest_result r;
    assert_int_equal(suggest_run(&p, &r, NULL), 0);
    assert_ports(&r, (const uint16_t[]){ 6064, 6070, 6071 }, 3);
    assert_int_equal(r.skipped_count, 5);
    assert_skip(&r.skipped[0], 6060, 6063, SUGGEST_SKIP_ASSIGNED);   /* x11 6000-6063/tcp */
    struct registry_record rec;
    assert_true(registry_index_record(f->ix, r.skipped[0].record, &rec));
    assert_string_equal(rec.service, "x11");
    assert_skip(&r.skipped[1], 6065, 6066, SUGGEST_SKIP_EPHEMERAL);
    assert_skip(&r.skipped[2], 6067, 6067, SUGGEST_SKIP_RESERVED);
    assert_skip(&r.skipped[3], 6068, 6068, SUGGEST_SKIP_IN_USE);
    assert_int_equal(r.skipped[3].socket, 0);
    assert_int_equal(r.skipped[3].proto, REGISTRY_PROTO_TCP);
    assert_skip(&r.skipped[4], 6069, 6069, SUGGEST_SKIP_EXCLUDED);
    suggest_result_free(&r);

    /* --allow-assigned: x11's ports are candidates again */
    p.allow_assigned = true;
    assert_int_equal(suggest_run(&p, &r, NULL), 0);
    assert_ports(&r, (const uint16_t[]){ 6060, 6061, 6062 }, 3);
    suggest_result_free(&r);

    /* udp: x11 is registered for tcp only in the fixture; the udp socket on 6070 blocks */
    p.allow_assigned = false;
    p.protos = SUGGEST_PROTO_UDP;
    p.count = 6;
    assert_int_equal(suggest_run(&p, &r, NULL), 0);
    assert_ports(&r, (const uint16_t[]){ 6060, 6061, 6062, 6063, 6064, 6068 }, 6);
    suggest_result_free(&r);

    /* both: a port must be free for tcp and for udp */
    p.protos = SUGGEST_PROTO_BOTH;
    p.count = 3;
    assert_int_equal(suggest_run(&p, &r, NULL), 0);
    assert_ports(&r, (const uint16_t[]){ 6064, 6071, 6072 }, 3);
    suggest_result_free(&r);

    portspec_free(&exclude);
    socket_list_free(&sockets);
    free(host);
}

static void test_search_iana_reserved_and_any_protocol(void **state)
{
    struct index_fixture *f = *state;
    struct suggest_policy p = { .range_first = 49150, .range_last = 49151, .count = 2,
                                .protos = SUGGEST_PROTO_UDP, .registry = f->ix };
    struct suggest_result r;
    assert_int_equal(suggest_run(&p, &r, NULL), 0);
    assert_ports(&r, (const uint16_t[]){ 49150 }, 1);   /* 49151 is IANA Reserved, any proto */
    assert_skip(&r.skipped[0], 49151, 49151, SUGGEST_SKIP_ASSIGNED);
    suggest_result_free(&r);
}

static void test_search_deterministic_and_wrapping(void **state)
{
    (void)state;
    /* find a name whose start is the last port of 7000-7004 */
    char name[16] = "";
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "w%u", i);
        if (suggest_start_port(name, 7000, 7004, NULL) == 7003)
            break;
    }
    assert_int_equal(suggest_start_port(name, 7000, 7004, NULL), 7003);
    struct socket_list sockets = { 0 };
    add_socket(&sockets, REGISTRY_PROTO_TCP, 7004, SOCKET_STATE_LISTEN, 1);
    struct suggest_policy p = { .range_first = 7000, .range_last = 7004, .count = 3,
                                .protos = SUGGEST_PROTO_TCP, .name = name, .sockets = &sockets };
    struct suggest_result a, b;
    assert_int_equal(suggest_run(&p, &a, NULL), 0);
    assert_int_equal(a.start, 7003);
    assert_ports(&a, (const uint16_t[]){ 7003, 7000, 7001 }, 3);   /* 7004 held, then wrap */
    assert_skip(&a.skipped[0], 7004, 7004, SUGGEST_SKIP_IN_USE);
    assert_int_equal(suggest_run(&p, &b, NULL), 0);
    assert_int_equal(a.count, b.count);
    assert_memory_equal(a.ports, b.ports, a.count * sizeof *a.ports);
    suggest_result_free(&a);
    suggest_result_free(&b);
    socket_list_free(&sockets);
}

static void test_search_count_beyond_the_range(void **state)
{
    (void)state;
    struct socket_list sockets = { 0 };
    add_socket(&sockets, REGISTRY_PROTO_TCP, 8001, SOCKET_STATE_ESTABLISHED, 1);
    add_socket(&sockets, REGISTRY_PROTO_TCP, 8002, SOCKET_STATE_LISTEN, 1);
    struct suggest_policy p = { .range_first = 8000, .range_last = 8003, .count = 10,
                                .protos = SUGGEST_PROTO_TCP, .sockets = &sockets };
    struct suggest_result r;
    assert_int_equal(suggest_run(&p, &r, NULL), 0);
    assert_ports(&r, (const uint16_t[]){ 8000, 8003 }, 2);
    assert_int_equal(r.examined, 4);
    /* two in-use ports are two runs (each names its socket) */
    assert_int_equal(r.skipped_count, 2);
    assert_int_equal(r.skipped[1].socket, 1);
    suggest_result_free(&r);

    /* the top of the port space */
    p = (struct suggest_policy){ .range_first = 65534, .range_last = 65535, .count = 2,
                                 .protos = SUGGEST_PROTO_TCP };
    assert_int_equal(suggest_run(&p, &r, NULL), 0);
    assert_ports(&r, (const uint16_t[]){ 65534, 65535 }, 2);
    suggest_result_free(&r);
    socket_list_free(&sockets);
}

static void test_search_bad_policy(void **state)
{
    (void)state;
    struct suggest_result r;
    struct pr_error err;
    const struct suggest_policy bad[] = {
        { .range_first = 0, .range_last = 10, .count = 1, .protos = SUGGEST_PROTO_TCP },
        { .range_first = 20, .range_last = 10, .count = 1, .protos = SUGGEST_PROTO_TCP },
        { .range_first = 1, .range_last = 10, .count = 0, .protos = SUGGEST_PROTO_TCP },
        { .range_first = 1, .range_last = 10, .count = 1, .protos = 0 },
        { .range_first = 1, .range_last = 10, .count = 1, .protos = 4 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pr_error_clear(&err);
        assert_int_equal(suggest_run(&bad[i], &r, &err), -EINVAL);
        assert_true(err.message[0] != '\0');
        assert_null(r.ports);
    }
}

/* ---- exclude file ----------------------------------------------------------------------- */

static void test_exclude_parse_valid(void **state)
{
    (void)state;
    static const char text[] = "\xef\xbb\xbf# ports the platform team keeps\n"
                               "8080\n"
                               "  9000-9100   T:5000,U:5353  # trailing comment\n"
                               "\n"
                               "\t7000/udp\r\n"
                               "#60000-\n";
    struct portspec spec = { 0 };
    assert_int_equal(suggest_exclude_parse(text, sizeof text - 1, &spec, NULL), 0);
    assert_true(portspec_contains(&spec, 8080, REGISTRY_PROTO_TCP));
    assert_true(portspec_contains(&spec, 9050, REGISTRY_PROTO_UDP));
    assert_true(portspec_contains(&spec, 5000, REGISTRY_PROTO_TCP));
    assert_false(portspec_contains(&spec, 5000, REGISTRY_PROTO_UDP));
    assert_true(portspec_contains(&spec, 5353, REGISTRY_PROTO_UDP));
    assert_true(portspec_contains(&spec, 7000, REGISTRY_PROTO_UDP));
    assert_false(portspec_contains(&spec, 7000, REGISTRY_PROTO_TCP));
    assert_false(portspec_contains(&spec, 60000, REGISTRY_PROTO_TCP));
    portspec_free(&spec);

    assert_int_equal(suggest_exclude_parse("", 0, &spec, NULL), 0);
    assert_int_equal(spec.count, 0);
    assert_int_equal(suggest_exclude_parse("# nothing\n\n   \n", 15, &spec, NULL), 0);
    assert_int_equal(spec.count, 0);
    portspec_free(&spec);
}

static void test_exclude_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;   /* 0: strlen */
        unsigned line, column;
        const char *message_part;
    } cases[] = {
        { "8080\n70000\n", 0, 2, 1, "out of range" },
        { "80\n  90-x\n", 0, 2, 3, "service names" },   /* RFC 6335 names may start with a digit */
        { "80\n  90-70000\n", 0, 2, 6, "out of range" },
        { "# c\n\n 22 ssh\n", 0, 3, 5, "service names" },
        { "1000 2000-1000\n", 0, 1, 6, "" },
        { "5\n6\x00\n", 5, 2, 2, "NUL" },
        { "T:\n", 0, 1, 3, "empty item" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        struct portspec spec = { 0 };
        assert_int_equal(portspec_add(&spec, 1, 1, REGISTRY_PROTO_ANY), 0);
        struct pr_error err;
        pr_error_clear(&err);
        int r = suggest_exclude_parse(cases[i].text, len, &spec, &err);
        if (r != -EINVAL || err.line != cases[i].line || err.column != cases[i].column ||
            !strstr(err.message, cases[i].message_part))
            fail_msg("case %zu: r=%d at %u:%u \"%s\"", i, r, err.line, err.column, err.message);
        assert_int_equal(spec.count, 1);   /* nothing appended */
        portspec_free(&spec);
    }
}

/* ---- reserved ports: format, merge ------------------------------------------------------- */

static void test_reserved_format(void **state)
{
    (void)state;
    struct port_set *set = new_port_set();
    char *text = reserved_ports_format(set);
    assert_string_equal(text, "");
    free(text);
    port_set_add(set, 0);
    port_set_add_range(set, 1000, 1002);
    port_set_add(set, 8080);
    port_set_add_range(set, 65534, 65535);
    text = reserved_ports_format(set);
    assert_string_equal(text, "0,1000-1002,8080,65534-65535");
    free(text);
    port_set_clear(set);
    for (uint32_t p = 1; p < 65536; p += 2)
        port_set_add(set, (uint16_t)p);
    text = reserved_ports_format(set);
    assert_int_equal(strncmp(text, "1,3,5,", 6), 0);
    struct port_set *back = new_port_set();
    assert_int_equal(reserved_ports_parse(text, back, NULL), 0);   /* round trip */
    assert_memory_equal(set, back, sizeof *set);
    free(text);
    free(back);
    free(set);
}

static void test_reserved_merge(void **state)
{
    (void)state;
    struct port_set *existing = new_port_set(), *add = new_port_set();
    struct port_set *merged = new_port_set(), *added = new_port_set();
    port_set_add_range(existing, 1000, 1002);
    port_set_add(existing, 8080);
    port_set_add(add, 1003);
    port_set_add(add, 8080);
    port_set_add(add, 999);
    assert_int_equal(reserved_ports_merge(existing, add, merged, added), 2);
    char *m = reserved_ports_format(merged), *a = reserved_ports_format(added);
    assert_string_equal(m, "999-1003,8080");   /* ranges coalesce, existing entries kept */
    assert_string_equal(a, "999,1003");
    free(m);
    free(a);
    free(existing);
    free(add);
    free(merged);
    free(added);
}

/* ---- reserved ports: the sysctl writer on a fixture proc tree ----------------------------- */

struct temp_tree {
    char root[64];
    char sysctl[128];
};

static void temp_tree_make(struct temp_tree *t, const char *reserved)
{
    snprintf(t->root, sizeof t->root, "/tmp/test_suggest.XXXXXX");
    assert_non_null(mkdtemp(t->root));
    char path[128];
    snprintf(path, sizeof path, "%s/sys", t->root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sys/net", t->root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sys/net/ipv4", t->root);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(t->sysctl, sizeof t->sysctl, "%s/sys/net/ipv4/ip_local_reserved_ports", t->root);
    if (reserved) {
        FILE *file = fopen(t->sysctl, "w");
        assert_non_null(file);
        fputs(reserved, file);
        fclose(file);
    }
}

static char *slurp(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, file);
    buf[n] = '\0';
    fclose(file);
    return buf;
}

static void temp_tree_remove(struct temp_tree *t)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->root);
    assert_int_equal(system(cmd), 0);
}

static void test_reserve_merges_with_existing(void **state)
{
    (void)state;
    struct temp_tree t;
    temp_tree_make(&t, "1000-1002,8080\n");
    struct port_set *add = new_port_set();
    port_set_add(add, 1003);
    port_set_add(add, 8080);
    port_set_add(add, 9000);
    struct reserved_ports_change change;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(reserved_ports_reserve(t.root, add, &change, &err), 0);
    assert_true(change.changed);
    assert_string_equal(change.before, "1000-1002,8080");
    assert_string_equal(change.after, "1000-1003,8080,9000");
    assert_string_equal(change.added, "1003,9000");
    assert_int_equal(change.added_count, 2);
    assert_string_equal(change.path, t.sysctl);
    char *text = slurp(t.sysctl);
    assert_string_equal(text, "1000-1003,8080,9000");
    free(text);
    reserved_ports_change_free(&change);

    /* again: nothing new, nothing written */
    assert_int_equal(reserved_ports_reserve(t.root, add, &change, &err), 0);
    assert_false(change.changed);
    assert_string_equal(change.before, change.after);
    assert_string_equal(change.added, "");
    reserved_ports_change_free(&change);
    free(add);
    temp_tree_remove(&t);
}

static void test_reserve_empty_missing_and_bad(void **state)
{
    (void)state;
    struct temp_tree t;
    temp_tree_make(&t, "\n");
    struct port_set *add = new_port_set();
    port_set_add(add, 23456);
    struct reserved_ports_change change;
    struct pr_error err;
    assert_int_equal(reserved_ports_reserve(t.root, add, &change, &err), 0);
    assert_string_equal(change.before, "");
    assert_string_equal(change.after, "23456");
    reserved_ports_change_free(&change);

    FILE *file = fopen(t.sysctl, "w");
    fputs("1000-,x\n", file);
    fclose(file);
    pr_error_clear(&err);
    assert_int_equal(reserved_ports_reserve(t.root, add, &change, &err), -EINVAL);
    assert_string_equal(err.path, t.sysctl);
    assert_int_equal(err.column, 6);
    char *text = slurp(t.sysctl);
    assert_string_equal(text, "1000-,x\n");   /* left alone */
    free(text);

    unlink(t.sysctl);
    pr_error_clear(&err);
    assert_int_equal(reserved_ports_reserve(t.root, add, &change, &err), -ENOENT);
    free(add);
    temp_tree_remove(&t);
}

/* ---- reserved ports: the sysctl.d drop-in ------------------------------------------------ */

static void test_dropin_parse(void **state)
{
    (void)state;
    static const char text[] = "# comment\n"
                               "; also a comment\n"
                               "net.ipv4.tcp_syncookies = 1\n"
                               "net.ipv4.ip_local_reserved_ports = 1000-1002\n"
                               "-net/ipv4/ip_local_reserved_ports=8080\n";
    struct port_set *ports = new_port_set();
    bool found = false;
    assert_int_equal(reserved_ports_dropin_parse(text, sizeof text - 1, ports, &found, NULL), 0);
    assert_true(found);
    char *list = reserved_ports_format(ports);
    assert_string_equal(list, "1000-1002,8080");
    free(list);

    assert_int_equal(reserved_ports_dropin_parse("", 0, ports, &found, NULL), 0);
    assert_false(found);
    assert_int_equal(port_set_count(ports), 0);

    struct pr_error err;
    pr_error_clear(&err);
    static const char no_eq[] = "# x\n  net.ipv4.foo\n";
    assert_int_equal(reserved_ports_dropin_parse(no_eq, sizeof no_eq - 1, ports, &found, &err), -EINVAL);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 3);
    pr_error_clear(&err);
    static const char bad_value[] = "net.ipv4.ip_local_reserved_ports =  1000,70000\n";
    assert_int_equal(reserved_ports_dropin_parse(bad_value, sizeof bad_value - 1, ports, &found, &err), -EINVAL);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 42);   /* the "70000" */
    assert_non_null(strstr(err.message, "out of range"));
    free(ports);
}

static void test_dropin_render(void **state)
{
    (void)state;
    char *out = reserved_ports_dropin_render(NULL, 0, "2000");
    assert_non_null(strstr(out, "# "));
    assert_non_null(strstr(out, "\nnet.ipv4.ip_local_reserved_ports = 2000\n"));
    free(out);

    static const char kept[] = "# mine\nnet.ipv4.ip_local_reserved_ports = 1\nvm.swappiness=10\n"
                               "net/ipv4/ip_local_reserved_ports = 2";
    out = reserved_ports_dropin_render(kept, sizeof kept - 1, "1-2,5");
    assert_string_equal(out, "# mine\nvm.swappiness=10\nnet.ipv4.ip_local_reserved_ports = 1-2,5\n");
    free(out);

    static const char other[] = "vm.swappiness = 10\n";
    out = reserved_ports_dropin_render(other, sizeof other - 1, "7");
    assert_string_equal(out, "vm.swappiness = 10\nnet.ipv4.ip_local_reserved_ports = 7\n");
    free(out);
}

static void test_persist(void **state)
{
    (void)state;
    struct temp_tree t;
    temp_tree_make(&t, NULL);
    char path[160];
    snprintf(path, sizeof path, "%s/%s", t.root, RESERVED_PORTS_DROPIN_NAME);
    struct port_set *add = new_port_set(), *base = new_port_set();
    port_set_add(add, 23456);
    port_set_add(base, 20000);
    struct reserved_ports_change change;
    struct pr_error err;
    pr_error_clear(&err);

    /* created, with the running kernel's list (base) */
    assert_int_equal(reserved_ports_persist(path, add, base, &change, &err), 0);
    assert_true(change.changed);
    assert_true(change.created);
    assert_string_equal(change.before, "");
    assert_string_equal(change.after, "20000,23456");
    reserved_ports_change_free(&change);

    /* merged with what the file has; a user's own lines stay */
    FILE *file = fopen(path, "a");
    fputs("vm.swappiness = 10\n", file);
    fclose(file);
    port_set_clear(add);
    port_set_add(add, 23457);
    assert_int_equal(reserved_ports_persist(path, add, NULL, &change, &err), 0);
    assert_true(change.changed);
    assert_false(change.created);
    assert_string_equal(change.before, "20000,23456");
    assert_string_equal(change.after, "20000,23456-23457");
    assert_string_equal(change.added, "23457");
    reserved_ports_change_free(&change);
    char *text = slurp(path);
    assert_non_null(strstr(text, "vm.swappiness = 10\n"));
    assert_non_null(strstr(text, "net.ipv4.ip_local_reserved_ports = 20000,23456-23457\n"));
    free(text);

    /* nothing new: unchanged */
    assert_int_equal(reserved_ports_persist(path, add, base, &change, &err), 0);
    assert_false(change.changed);
    assert_string_equal(change.added, "");
    reserved_ports_change_free(&change);

    /* a file that does not parse is left alone */
    file = fopen(path, "w");
    fputs("garbage line\n", file);
    fclose(file);
    pr_error_clear(&err);
    assert_int_equal(reserved_ports_persist(path, add, NULL, &change, &err), -EINVAL);
    assert_string_equal(err.path, path);
    assert_int_equal(err.line, 1);
    text = slurp(path);
    assert_string_equal(text, "garbage line\n");
    free(text);

    free(add);
    free(base);
    temp_tree_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_port_deterministic),
        cmocka_unit_test(test_start_port_avoids_ephemeral),
        cmocka_unit_test(test_search_without_name_starts_at_range_start),
        cmocka_unit_test(test_search_every_reason),
        cmocka_unit_test(test_search_iana_reserved_and_any_protocol),
        cmocka_unit_test(test_search_deterministic_and_wrapping),
        cmocka_unit_test(test_search_count_beyond_the_range),
        cmocka_unit_test(test_search_bad_policy),
        cmocka_unit_test(test_exclude_parse_valid),
        cmocka_unit_test(test_exclude_parse_errors),
        cmocka_unit_test(test_reserved_format),
        cmocka_unit_test(test_reserved_merge),
        cmocka_unit_test(test_reserve_merges_with_existing),
        cmocka_unit_test(test_reserve_empty_missing_and_bad),
        cmocka_unit_test(test_dropin_parse),
        cmocka_unit_test(test_dropin_render),
        cmocka_unit_test(test_persist),
    };
    return cmocka_run_group_tests(tests, index_fixture_setup, index_fixture_teardown);
}
