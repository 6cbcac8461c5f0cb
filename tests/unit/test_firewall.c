/* test_firewall.c — unit tests for the firewall compiled from the port plan
 * (plan/firewall_gen.c, firewall_apply.c, firewall_audit.c, util/nft_loader.c).
 * A small plan built in C (public nginx, internal postgres from a network and a host group,
 * loopback redis, an unresolved automatic port) must give the expected rule model, an nft file
 * that `nft -c -f` accepts, well-formed firewalld XML, ufw profiles and iptables-restore input.
 * As root, in a veth pair of fresh network namespaces: applying it leaves a pre-existing table
 * alone, opens exactly the public port, a broken ruleset changes nothing, and the audit of the
 * live ruleset and sockets finds an undeclared reachable listener and a port without one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plan/firewall_apply.h"
#include "plan/firewall_audit.h"
#include "plan/firewall_gen.h"
#include "plan/plan.h"
#include "plan/plan_yaml.h"
#include "registry/record.h"
#include "scan/engine.h"
#include "scan/targets.h"

#define TCP REGISTRY_PROTO_TCP
#define UDP REGISTRY_PROTO_UDP

/* ---- a plan built in C ---- */

static void *plan_alloc(struct plan *plan, size_t size)
{
    void *p = arena_alloc(&plan->arena, size);
    assert_non_null(p);
    memset(p, 0, size);
    return p;
}

static struct plan_cidr cidr_of(const char *text, uint8_t prefix)
{
    struct plan_cidr c = { .prefix = prefix };
    c.family = strchr(text, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(c.family, text, c.bytes), 1);
    return c;
}

static void host_add(struct plan *plan, const char *name, const char *group, const char *v4,
                     const char *v6)
{
    struct plan_host *h = &plan->hosts[plan->host_count++];
    h->name = name;
    h->groups = plan_alloc(plan, sizeof *h->groups);
    if (group)
        h->groups[h->group_count++] = group;
    h->addresses = plan_alloc(plan, 2 * sizeof *h->addresses);
    const char *addresses[2] = { v4, v6 };
    for (int i = 0; i < 2; i++) {
        if (!addresses[i])
            continue;
        struct plan_named_address *a = &h->addresses[h->address_count++];
        struct plan_cidr c = cidr_of(addresses[i], 0);
        a->name = "";
        a->family = c.family;
        memcpy(a->bytes, c.bytes, 16);
    }
}

static struct plan_service *service_add(struct plan *plan, const char *name, const char *host,
                                        enum plan_exposure exposure)
{
    struct plan_service *s = &plan->services[plan->service_count++];
    s->name = name;
    s->hosts = plan_alloc(plan, sizeof *s->hosts);
    s->hosts[s->host_count++] = host;
    s->ports = plan_alloc(plan, 8 * sizeof *s->ports);
    s->sources = plan_alloc(plan, 8 * sizeof *s->sources);
    s->exposure = exposure;
    s->bind.kind = exposure == PLAN_EXPOSURE_LOOPBACK ? PLAN_BIND_LOOPBACK : PLAN_BIND_ANY;
    s->pos = (struct plan_pos){ "plan.yaml", 10u + (unsigned)plan->service_count, 3 };
    return s;
}

static void port_add(struct plan_service *s, uint16_t port, uint8_t proto, bool automatic)
{
    s->ports[s->port_count++] = (struct plan_port){ .port = port, .proto = proto,
                                                    .automatic = automatic,
                                                    .pos = { "plan.yaml", 40, 7 } };
}

static void source_add(struct plan_service *s, enum plan_source_kind kind, const char *name,
                       const char *cidr, uint8_t prefix)
{
    struct plan_source *src = &s->sources[s->source_count++];
    src->kind = kind;
    src->name = name;
    src->pos = (struct plan_pos){ "plan.yaml", 50, 9 };
    if (cidr)
        src->cidr = cidr_of(cidr, prefix);
}

/* host app1: nginx public 80,443/tcp from any; postgres internal 5432/tcp from network office
 * and group monitoring; redis on loopback; worker with an unresolved automatic port; metrics
 * internal without sources; dns public 53/udp+tcp from a CIDR list with an overlap. */
static void small_plan(struct plan *plan, uint16_t nginx_port_a, uint16_t nginx_port_b)
{
    memset(plan, 0, sizeof *plan);
    plan->hosts = plan_alloc(plan, 8 * sizeof *plan->hosts);
    plan->networks = plan_alloc(plan, 4 * sizeof *plan->networks);
    plan->services = plan_alloc(plan, 16 * sizeof *plan->services);
    plan->files = plan_alloc(plan, sizeof *plan->files);
    plan->files[plan->file_count++] = "plan.yaml";
    host_add(plan, "app1", "apps", "10.231.9.2", "fd5c:9::2");
    host_add(plan, "mon1", "monitoring", "10.2.0.5", "2001:db8:2::5");
    host_add(plan, "mon2", "monitoring", "10.2.0.6", NULL);
    struct plan_network *office = &plan->networks[plan->network_count++];
    office->name = "office";
    office->cidrs = plan_alloc(plan, 2 * sizeof *office->cidrs);
    office->cidrs[office->cidr_count++] = cidr_of("10.1.0.0", 16);
    office->cidrs[office->cidr_count++] = cidr_of("fd00:1::", 48);

    struct plan_service *s = service_add(plan, "nginx", "app1", PLAN_EXPOSURE_PUBLIC);
    port_add(s, nginx_port_b, TCP, false);
    port_add(s, nginx_port_a, TCP, false);
    s->notes = "front <web> & \"proxy\"";
    s = service_add(plan, "postgres", "apps", PLAN_EXPOSURE_INTERNAL);
    port_add(s, 5432, TCP, false);
    source_add(s, PLAN_SOURCE_NETWORK, "office", NULL, 0);
    source_add(s, PLAN_SOURCE_HOST, "monitoring", NULL, 0);
    s = service_add(plan, "redis", "app1", PLAN_EXPOSURE_LOOPBACK);
    port_add(s, 6379, TCP, false);
    s = service_add(plan, "worker", "app1", PLAN_EXPOSURE_PUBLIC);
    port_add(s, 0, TCP, true);
    s = service_add(plan, "metrics", "app1", PLAN_EXPOSURE_INTERNAL);
    port_add(s, 9100, TCP, false);
    s = service_add(plan, "dns", "app1", PLAN_EXPOSURE_PUBLIC);
    port_add(s, 53, UDP, false);
    port_add(s, 53, TCP, false);
    source_add(s, PLAN_SOURCE_CIDR, NULL, "192.0.2.0", 24);
    source_add(s, PLAN_SOURCE_CIDR, NULL, "192.0.2.77", 32);     /* inside the /24 */
    source_add(s, PLAN_SOURCE_CIDR, NULL, "198.51.100.9", 20);   /* host bits set */
    s = service_add(plan, "other-host-only", "mon1", PLAN_EXPOSURE_PUBLIC);
    port_add(s, 7000, TCP, false);
}

static void plan_release(struct plan *plan)
{
    arena_free(&plan->arena);
}

static const struct firewall_service_rule *rule_named(const struct firewall_rules *rules,
                                                      const char *name)
{
    for (size_t i = 0; i < rules->service_count; i++)
        if (strcmp(rules->services[i].service, name) == 0)
            return &rules->services[i];
    return NULL;
}

static bool has_warning(const struct firewall_rules *rules, const char *service, const char *text)
{
    for (size_t i = 0; i < rules->warning_count; i++)
        if (strcmp(rules->warnings[i].service, service) == 0 &&
            strstr(rules->warnings[i].message, text))
            return true;
    return false;
}

static bool running_as_root(void)
{
    return geteuid() == 0;
}

static int run_command(const char *format, ...) __attribute__((format(printf, 1, 2)));
static int run_command(const char *format, ...)
{
    char command[2048];
    va_list ap;
    va_start(ap, format);
    vsnprintf(command, sizeof command, format, ap);
    va_end(ap);
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Write text to a fresh temporary file; the path goes into path. */
static void write_temp(char *path, size_t size, const char *suffix, const char *text)
{
    snprintf(path, size, "/tmp/prfw-%d-XXXXXX%s", (int)getpid(), suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* ---- the rule model ---- */

static void test_rules_model(void **state)
{
    (void)state;
    struct plan plan;
    small_plan(&plan, 80, 443);
    struct firewall_rules rules;
    struct pr_error err = { 0 };
    assert_int_equal(firewall_rules_build(&plan, "app1", &rules, &err), 0);
    assert_string_equal(rules.host, "app1");
    assert_string_equal(rules.plan_name, "plan.yaml");
    /* sorted by name: dns, nginx, postgres; redis (loopback), metrics (no sources), worker
     * (unresolved auto) and the other host's service open nothing */
    assert_int_equal(rules.service_count, 3);
    assert_string_equal(rules.services[0].service, "dns");
    assert_string_equal(rules.services[1].service, "nginx");
    assert_string_equal(rules.services[2].service, "postgres");

    const struct firewall_service_rule *nginx = rule_named(&rules, "nginx");
    assert_true(nginx->any_source);
    assert_int_equal(nginx->source_count, 0);
    assert_int_equal(nginx->port_count, 2);
    assert_int_equal(nginx->ports[0].port, 80);     /* declared 443 first: sorted */
    assert_int_equal(nginx->ports[1].port, 443);

    const struct firewall_service_rule *pg = rule_named(&rules, "postgres");
    assert_false(pg->any_source);
    char buf[64];
    const char *want[] = { "10.1.0.0/16", "10.2.0.5", "10.2.0.6", "2001:db8:2::5", "fd00:1::/48" };
    assert_int_equal(pg->source_count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(firewall_cidr_text(&pg->sources[i], buf, sizeof buf), want[i]);
    assert_int_equal(firewall_rule_source_count(pg, AF_INET), 3);
    assert_int_equal(firewall_rule_source_count(pg, AF_INET6), 2);

    const struct firewall_service_rule *dns = rule_named(&rules, "dns");
    assert_int_equal(dns->port_count, 2);
    assert_int_equal(dns->ports[0].proto, TCP);
    assert_int_equal(dns->ports[1].proto, UDP);
    /* the /32 inside the /24 is dropped, host bits of the /20 are cleared */
    assert_int_equal(dns->source_count, 2);
    assert_string_equal(firewall_cidr_text(&dns->sources[0], buf, sizeof buf), "192.0.2.0/24");
    assert_string_equal(firewall_cidr_text(&dns->sources[1], buf, sizeof buf), "198.51.96.0/20");

    assert_true(has_warning(&rules, "worker", "automatic"));
    assert_true(has_warning(&rules, "metrics", "without sources"));
    assert_false(has_warning(&rules, "redis", ""));      /* loopback: nothing to say */
    firewall_rules_free(&rules);

    /* another host of the group gets postgres only */
    assert_int_equal(firewall_rules_build(&plan, "mon1", &rules, &err), 0);
    assert_int_equal(rules.service_count, 1);
    assert_string_equal(rules.services[0].service, "other-host-only");
    firewall_rules_free(&rules);
    plan_release(&plan);
}

static void test_rules_errors(void **state)
{
    (void)state;
    struct plan plan;
    small_plan(&plan, 80, 443);
    struct firewall_rules rules;
    struct pr_error err = { 0 };
    assert_int_equal(firewall_rules_build(&plan, "nosuchhost", &rules, &err), -ENOENT);
    assert_non_null(strstr(err.message, "nosuchhost"));

    /* a source naming nothing is an error with its place, not a silently open port */
    struct plan_service *pg = &plan.services[1];
    source_add(pg, PLAN_SOURCE_NETWORK, "nowhere", NULL, 0);
    pr_error_clear(&err);
    assert_int_equal(firewall_rules_build(&plan, "app1", &rules, &err), -EINVAL);
    assert_non_null(strstr(err.message, "nowhere"));
    assert_int_equal(err.line, 50);
    assert_string_equal(err.path, "plan.yaml");
    plan_release(&plan);

    struct firewall_output out;
    small_plan(&plan, 80, 443);
    assert_int_equal(firewall_rules_build(&plan, "app1", &rules, &err), 0);
    assert_int_equal(firewall_render(&rules, "pf", &out, &err), -EINVAL);
    assert_non_null(strstr(err.message, "pf"));
    assert_int_equal(out.file_count, 0);
    firewall_rules_free(&rules);
    plan_release(&plan);
}

/* Render the small plan for app1 in format. */
static void render_small(const char *format, struct firewall_output *out, uint16_t a, uint16_t b)
{
    struct plan plan;
    small_plan(&plan, a, b);
    struct firewall_rules rules;
    struct pr_error err = { 0 };
    assert_int_equal(firewall_rules_build(&plan, "app1", &rules, &err), 0);
    assert_int_equal(firewall_render(&rules, format, out, &err), 0);
    firewall_rules_free(&rules);
    plan_release(&plan);
}

static void assert_contains(const char *text, const char *needle)
{
    if (!text)
        fail_msg("no text");
    if (!strstr(text, needle))
        fail_msg("missing \"%s\" in:\n%s", needle, text);
}

static void test_render_nft(void **state)
{
    (void)state;
    struct firewall_output out;
    render_small("nft", &out, 80, 443);
    assert_int_equal(out.file_count, 1);
    const struct firewall_file *f = firewall_output_file(&out, "portreg.nft");
    assert_non_null(f);
    const char *t = f->text;
    assert_int_equal(strlen(t), f->length);
    if (getenv("FIREWALL_TEST_VERBOSE"))
        printf("%s", t);
    assert_contains(t, "host \"app1\" from plan \"plan.yaml\"");
    /* replace only our own table, in one transaction */
    assert_contains(t, "\ntable inet portreg\ndelete table inet portreg\n\ntable inet portreg {\n");
    assert_null(strstr(t, "flush ruleset"));
    assert_contains(t, "set nginx_tcp {\n\t\ttype inet_service\n\t\telements = { 80, 443 }");
    assert_contains(t, "set postgres_sources_v4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
                       "\t\telements = { 10.1.0.0/16, 10.2.0.5, 10.2.0.6 }");
    assert_contains(t, "elements = { 2001:db8:2::5, fd00:1::/48 }");
    assert_contains(t, "type filter hook input priority filter; policy drop;");
    assert_contains(t, "ct state established,related accept");
    assert_contains(t, "iif \"lo\" accept");
    assert_contains(t, "icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert }");
    assert_contains(t, "\t\ttcp dport @nginx_tcp accept");
    assert_contains(t, "\t\tip saddr @postgres_sources_v4 tcp dport @postgres_tcp accept");
    assert_contains(t, "\t\tip6 saddr @postgres_sources_v6 tcp dport @postgres_tcp accept");
    assert_contains(t, "\t\tip saddr @dns_sources_v4 udp dport @dns_udp accept");
    assert_null(strstr(t, "ip6 saddr @dns"));     /* no IPv6 source: no IPv6 rule */
    assert_null(strstr(t, "6379"));               /* loopback redis opens nothing */
    assert_null(strstr(t, "9100"));               /* internal without sources */
    assert_contains(t, "# warning: worker: automatic tcp port not resolved yet");

    /* deterministic: the same plan gives the same bytes */
    struct firewall_output again;
    render_small("nft", &again, 80, 443);
    assert_string_equal(again.files[0].text, t);
    firewall_output_free(&again);

    /* nft -c -f accepts it (needs CAP_NET_ADMIN: the check runs against the kernel) */
    if (!running_as_root() || run_command("command -v nft >/dev/null 2>&1") != 0) {
        firewall_output_free(&out);
        print_message("skipped nft -c: needs root and nft\n");
        skip();
    }
    char path[128];
    write_temp(path, sizeof path, ".nft", t);
    int rc = run_command("nft -c -f %s", path);
    unlink(path);
    assert_int_equal(rc, 0);
    /* and the library's own dry run too, which changes nothing */
    struct pr_error err = { 0 };
    assert_int_equal(firewall_apply_nft(t, true, &err), 0);
    firewall_output_free(&out);
}

static void test_render_firewalld(void **state)
{
    (void)state;
    struct firewall_output out;
    render_small("firewalld", &out, 80, 443);
    assert_int_equal(out.file_count, 4);          /* dns, nginx, postgres + commands.sh */
    const struct firewall_file *nginx = firewall_output_file(&out, "portreg-nginx.xml");
    const struct firewall_file *pg = firewall_output_file(&out, "portreg-postgres.xml");
    const struct firewall_file *cmd = firewall_output_file(&out, "commands.sh");
    assert_non_null(nginx);
    assert_non_null(pg);
    assert_non_null(cmd);
    assert_contains(nginx->text, "<service>\n  <short>portreg-nginx</short>");
    assert_contains(nginx->text, "<port protocol=\"tcp\" port=\"80\"/>\n"
                                 "  <port protocol=\"tcp\" port=\"443\"/>\n</service>\n");
    /* notes with markup are escaped */
    assert_contains(nginx->text, "front &lt;web&gt; &amp; &quot;proxy&quot;");
    /* well-formed XML (xmllint from libxml2-utils when installed) */
    if (run_command("command -v xmllint >/dev/null 2>&1") == 0) {
        for (size_t i = 0; i < out.file_count; i++) {
            if (!strstr(out.files[i].name, ".xml"))
                continue;
            char path[128];
            write_temp(path, sizeof path, ".xml", out.files[i].text);
            int rc = run_command("xmllint --noout %s", path);
            unlink(path);
            assert_int_equal(rc, 0);
        }
    } else {
        print_message("xmllint missing: XML well-formedness not checked\n");
    }
    assert_contains(cmd->text, "firewall-cmd --permanent --zone=\"$ZONE\" --add-service=portreg-nginx\n");
    assert_contains(cmd->text, "--add-rich-rule='rule family=\"ipv4\" source address=\"10.1.0.0/16\" "
                               "service name=\"portreg-postgres\" accept'\n");
    assert_contains(cmd->text, "--add-rich-rule='rule family=\"ipv6\" source address=\"fd00:1::/48\" "
                               "service name=\"portreg-postgres\" accept'\n");
    assert_null(strstr(cmd->text, "--add-service=portreg-postgres"));  /* not from anywhere */
    /* the script parses as shell */
    char path[128];
    write_temp(path, sizeof path, ".sh", cmd->text);
    assert_int_equal(run_command("sh -n %s", path), 0);
    unlink(path);
    firewall_output_free(&out);
}

static void test_render_ufw(void **state)
{
    (void)state;
    struct firewall_output out;
    render_small("ufw", &out, 80, 443);
    assert_int_equal(out.file_count, 2);
    const struct firewall_file *profile = firewall_output_file(&out, "portreg");
    const struct firewall_file *cmd = firewall_output_file(&out, "commands.sh");
    assert_non_null(profile);
    assert_non_null(cmd);
    assert_contains(profile->text, "\n[portreg-nginx]\ntitle=nginx\n"
                                   "description=public service: front <web> &  proxy \n"
                                   "ports=80,443/tcp\n");
    assert_contains(profile->text, "\n[portreg-dns]\ntitle=dns\n");
    assert_contains(profile->text, "ports=53/tcp|53/udp\n");
    assert_contains(cmd->text, "ufw default deny incoming\n");
    assert_contains(cmd->text, "ufw allow from any to any app portreg-nginx\n");
    assert_contains(cmd->text, "ufw allow from 10.1.0.0/16 to any app portreg-postgres\n");
    assert_contains(cmd->text, "ufw allow from 2001:db8:2::5 to any app portreg-postgres\n");
    assert_contains(cmd->text, "ufw allow from 198.51.96.0/20 to any app portreg-dns\n");
    assert_null(strstr(cmd->text, "redis"));
    char path[128];
    write_temp(path, sizeof path, ".sh", cmd->text);
    assert_int_equal(run_command("sh -n %s", path), 0);
    unlink(path);
    firewall_output_free(&out);
}

static void test_render_iptables(void **state)
{
    (void)state;
    struct firewall_output out;
    render_small("iptables", &out, 80, 443);
    assert_int_equal(out.file_count, 2);
    const struct firewall_file *v4 = firewall_output_file(&out, "rules.v4");
    const struct firewall_file *v6 = firewall_output_file(&out, "rules.v6");
    assert_non_null(v4);
    assert_non_null(v6);
    assert_contains(v4->text, "*filter\n:PORTREG - [0:0]\n");
    assert_contains(v4->text, "-A PORTREG -p tcp -m multiport --dports 80,443 -m comment --comment "
                              "\"nginx\" -j ACCEPT\n");
    assert_contains(v4->text, "-A PORTREG -s 10.2.0.6 -p tcp -m multiport --dports 5432 ");
    assert_contains(v4->text, "-A PORTREG -s 192.0.2.0/24 -p udp -m multiport --dports 53 ");
    assert_contains(v4->text, "-A PORTREG -j DROP\nCOMMIT\n");
    assert_null(strstr(v4->text, "fd00:1::"));
    assert_null(strstr(v4->text, ":INPUT"));      /* never touches the built-in chains */
    assert_contains(v6->text, "-A PORTREG -s fd00:1::/48 -p tcp -m multiport --dports 5432 ");
    assert_contains(v6->text, "-A PORTREG -p tcp -m multiport --dports 80,443 ");
    assert_contains(v6->text, "--icmpv6-type neighbour-solicitation -m hl --hl-eq 255 -j ACCEPT\n");
    assert_null(strstr(v6->text, "192.0.2.0"));   /* dns has IPv4 sources only */
    assert_null(strstr(v6->text, "--dports 53 "));
    if (run_command("command -v iptables-restore >/dev/null 2>&1") == 0 && running_as_root()) {
        char path[128];
        write_temp(path, sizeof path, ".v4", v4->text);
        int rc = run_command("iptables-restore --test --noflush %s", path);
        unlink(path);
        assert_int_equal(rc, 0);
        write_temp(path, sizeof path, ".v6", v6->text);
        rc = run_command("ip6tables-restore --test --noflush %s", path);
        unlink(path);
        assert_int_equal(rc, 0);
    } else {
        print_message("iptables-restore missing or not root: --test not run\n");
    }
    firewall_output_free(&out);
}

/* More than 15 ports: multiport rules are split. */
static size_t firewall_rule_index(const struct firewall_rules *rules, const char *service)
{
    for (size_t i = 0; i < rules->service_count; i++)
        if (strcmp(rules->services[i].service, service) == 0)
            return i;
    fail_msg("no rule for %s", service);
    return 0;
}

/* A service bound to one address is opened on that address only (nft daddr, iptables -d,
 * firewalld's destination address, ufw's `to`), one bound to every address everywhere. */
static void test_render_bind_address(void **state)
{
    (void)state;
    static const char text[] =
        "hosts:\n"
        "  - name: h\n"
        "    addresses: {public: [203.0.113.5, \"2001:db8::5\"], internal: 10.0.0.5}\n"
        "services:\n"
        "  - {name: web, hosts: h, port: 443, bind: public, exposure: public}\n"
        "  - {name: db, hosts: h, port: 5432, bind: internal, exposure: internal,\n"
        "     sources: [10.1.0.0/16, \"fd00::/8\"]}\n"
        "  - {name: lit, hosts: h, port: 8080, bind: 10.0.0.5, exposure: public}\n"
        "  - {name: all, hosts: h, port: 80, bind: any, exposure: public}\n";
    struct plan plan;
    struct plan_diagnostics diag;
    plan_init(&plan);
    plan_diagnostics_init(&diag);
    assert_int_equal(plan_load_buffer(&plan, "b.yaml", text, strlen(text), &diag, NULL), 0);
    assert_int_equal(diag.errors, 0);
    struct firewall_rules rules;
    struct pr_error err = { 0 };
    assert_int_equal(firewall_rules_build(&plan, "h", &rules, &err), 0);
    struct firewall_output out = { 0 };

    assert_int_equal(firewall_render(&rules, "nft", &out, &err), 0);
    const char *t = firewall_output_file(&out, "portreg.nft")->text;
    assert_contains(t, "\t\tip daddr { 203.0.113.5 } tcp dport @web_tcp accept");
    assert_contains(t, "\t\tip6 daddr { 2001:db8::5 } tcp dport @web_tcp accept");
    assert_contains(t, "\t\tip daddr { 10.0.0.5 } ip saddr @db_sources_v4 tcp dport @db_tcp accept");
    assert_null(strstr(t, "ip6 saddr @db_sources_v6"));   /* db has no IPv6 address */
    assert_contains(t, "\t\tip daddr { 10.0.0.5 } tcp dport @lit_tcp accept");
    assert_contains(t, "\t\ttcp dport @all_tcp accept");
    firewall_output_free(&out);

    assert_int_equal(firewall_render(&rules, "iptables", &out, &err), 0);
    t = firewall_output_file(&out, "rules.v4")->text;
    assert_contains(t, "-A PORTREG -d 203.0.113.5 -p tcp -m multiport --dports 443 ");
    assert_contains(t, "-A PORTREG -s 10.1.0.0/16 -d 10.0.0.5 -p tcp -m multiport --dports 5432 ");
    assert_contains(t, "-A PORTREG -p tcp -m multiport --dports 80 ");
    t = firewall_output_file(&out, "rules.v6")->text;
    assert_contains(t, "-A PORTREG -d 2001:db8::5 -p tcp -m multiport --dports 443 ");
    assert_null(strstr(t, "5432"));
    assert_null(strstr(t, "8080"));
    firewall_output_free(&out);

    assert_int_equal(firewall_render(&rules, "firewalld", &out, &err), 0);
    t = firewall_output_file(&out, "commands.sh")->text;
    assert_contains(t, "--add-rich-rule='rule family=\"ipv4\" destination address=\"203.0.113.5\" "
                       "service name=\"portreg-web\" accept'");
    assert_contains(t, "--add-rich-rule='rule family=\"ipv6\" destination address=\"2001:db8::5\" "
                       "service name=\"portreg-web\" accept'");
    assert_contains(t, "--add-rich-rule='rule family=\"ipv4\" source address=\"10.1.0.0/16\" "
                       "destination address=\"10.0.0.5\" service name=\"portreg-db\" accept'");
    assert_null(strstr(t, "fd00::/8"));
    assert_null(strstr(t, "--add-service=portreg-web"));
    assert_contains(t, "--add-service=portreg-all\n");
    firewall_output_free(&out);

    assert_int_equal(firewall_render(&rules, "ufw", &out, &err), 0);
    t = firewall_output_file(&out, "commands.sh")->text;
    assert_contains(t, "ufw allow from any to 203.0.113.5 app portreg-web\n");
    assert_contains(t, "ufw allow from any to 2001:db8::5 app portreg-web\n");
    assert_contains(t, "ufw allow from 10.1.0.0/16 to 10.0.0.5 app portreg-db\n");
    assert_null(strstr(t, "from fd00::/8"));
    assert_contains(t, "ufw allow from any to any app portreg-all\n");
    firewall_output_free(&out);

    /* the model */
    assert_false(rules.services[firewall_rule_index(&rules, "web")].any_destination);
    assert_int_equal(rules.services[firewall_rule_index(&rules, "web")].destination_count, 2);
    assert_true(rules.services[firewall_rule_index(&rules, "all")].any_destination);
    firewall_rules_free(&rules);
    plan_diagnostics_free(&diag);
    plan_free(&plan);
}

static void test_render_iptables_many_ports(void **state)
{
    (void)state;
    struct plan plan;
    small_plan(&plan, 80, 443);
    struct plan_service *nginx = &plan.services[0];
    nginx->ports = plan_alloc(&plan, 20 * sizeof *nginx->ports);
    nginx->port_count = 0;
    for (uint16_t p = 0; p < 20; p++)
        port_add(nginx, (uint16_t)(8000 + p), TCP, false);
    struct firewall_rules rules;
    struct firewall_output out;
    struct pr_error err = { 0 };
    assert_int_equal(firewall_rules_build(&plan, "app1", &rules, &err), 0);
    assert_int_equal(firewall_render(&rules, "iptables", &out, &err), 0);
    const char *t = firewall_output_file(&out, "rules.v4")->text;
    assert_contains(t, "--dports 8000,8001,8002,8003,8004,8005,8006,8007,8008,8009,8010,8011,8012,"
                       "8013,8014 -m");
    assert_contains(t, "--dports 8015,8016,8017,8018,8019 -m");
    firewall_output_free(&out);
    firewall_rules_free(&rules);
    plan_release(&plan);
}

/* ---- audit on a synthetic ruleset and socket table ---- */

#define RULE(table, chain, expr) \
    "{\"rule\": {\"family\": \"inet\", \"table\": \"" table "\", \"chain\": \"" chain \
    "\", \"expr\": [" expr "]}},"
#define DPORT(proto, right) \
    "{\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"" proto \
    "\", \"field\": \"dport\"}}, \"right\": " right "}}"
#define SADDR(proto, right) \
    "{\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"" proto \
    "\", \"field\": \"saddr\"}}, \"right\": " right "}}"
#define ACCEPT "{\"accept\": null}"
#define DROP "{\"drop\": null}"

/* table inet portreg: policy drop; 80/443 (named set), 5432 from a named set of sources,
 * 9000-9010, udp 5353 accepted. table inet other (priority 10, policy accept): a ct state
 * verdict map, 8443 dropped, a jump to sub which accepts 5432 from 10.1.0.0/24 only. */
static const char synthetic_ruleset[] =
    "{\"nftables\": [{\"metainfo\": {\"json_schema_version\": 1}},"
    "{\"table\": {\"family\": \"inet\", \"name\": \"portreg\"}},"
    "{\"set\": {\"family\": \"inet\", \"name\": \"web\", \"table\": \"portreg\", \"type\": "
    "\"inet_service\", \"elem\": [80, 443]}},"
    "{\"set\": {\"family\": \"inet\", \"name\": \"pg_v4\", \"table\": \"portreg\", \"type\": "
    "\"ipv4_addr\", \"flags\": [\"interval\"], \"elem\": [{\"prefix\": {\"addr\": \"10.1.0.0\", "
    "\"len\": 16}}, \"10.2.0.5\"]}},"
    "{\"chain\": {\"family\": \"inet\", \"table\": \"portreg\", \"name\": \"input\", \"type\": "
    "\"filter\", \"hook\": \"input\", \"prio\": 0, \"policy\": \"drop\"}},"
    RULE("portreg", "input", "{\"match\": {\"op\": \"in\", \"left\": {\"ct\": {\"key\": "
         "\"state\"}}, \"right\": [\"established\", \"related\"]}}, " ACCEPT)
    RULE("portreg", "input", "{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": "
         "\"iif\"}}, \"right\": \"lo\"}}, " ACCEPT)
    RULE("portreg", "input", DPORT("tcp", "\"@web\"") ", " ACCEPT)
    RULE("portreg", "input", SADDR("ip", "\"@pg_v4\"") ", " DPORT("tcp", "5432") ", " ACCEPT)
    RULE("portreg", "input", DPORT("tcp", "{\"range\": [9000, 9010]}") ", " ACCEPT)
    RULE("portreg", "input", DPORT("udp", "{\"set\": [5353]}") ", " ACCEPT)
    "{\"table\": {\"family\": \"inet\", \"name\": \"other\"}},"
    "{\"chain\": {\"family\": \"inet\", \"table\": \"other\", \"name\": \"input\", \"type\": "
    "\"filter\", \"hook\": \"input\", \"prio\": 10, \"policy\": \"accept\"}},"
    "{\"chain\": {\"family\": \"inet\", \"table\": \"other\", \"name\": \"sub\"}},"
    RULE("other", "input", "{\"vmap\": {\"key\": {\"ct\": {\"key\": \"state\"}}, \"data\": "
         "{\"set\": [[\"established\", " ACCEPT "], [\"invalid\", " DROP "]]}}}")
    RULE("other", "input", DPORT("tcp", "8443") ", " DROP)
    RULE("other", "input", "{\"jump\": {\"target\": \"sub\"}}")
    RULE("other", "sub", SADDR("ip", "{\"prefix\": {\"addr\": \"10.1.0.0\", \"len\": 24}}") ", "
         DPORT("tcp", "5432") ", " ACCEPT)
    RULE("other", "sub", DPORT("tcp", "5432") ", " DROP)
    "{\"rule\": {\"family\": \"inet\", \"table\": \"other\", \"chain\": \"sub\", \"expr\": "
    "[{\"return\": null}]}}"
    "]}";

static void socket_add(struct socket_list *list, uint8_t proto, const char *address,
                       uint16_t port, bool v6only)
{
    struct socket_entry *s = socket_list_append(list);
    assert_non_null(s);
    s->proto = proto;
    s->family = strchr(address, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(s->family, address, s->local_addr), 1);
    s->local_port = port;
    s->v6only = v6only;
    s->state = proto == TCP ? SOCKET_STATE_LISTEN : SOCKET_STATE_CLOSE;
}

static const struct firewall_audit_listener *
listener_at(const struct firewall_audit_result *res, uint8_t proto, uint16_t port)
{
    for (size_t i = 0; i < res->listener_count; i++)
        if (res->listeners[i].proto == proto && res->listeners[i].port == port)
            return &res->listeners[i];
    return NULL;
}

static bool open_port_reported(const struct firewall_audit_result *res, uint8_t proto,
                               uint16_t first, uint16_t last)
{
    for (size_t i = 0; i < res->open_without_listener_count; i++) {
        const struct firewall_audit_open_port *p = &res->open_without_listener[i];
        if (p->proto == proto && p->first == first && p->last == last)
            return true;
    }
    return false;
}

static void test_audit_synthetic(void **state)
{
    (void)state;
    struct socket_list sockets = { 0 };
    socket_add(&sockets, TCP, "::", 80, false);          /* dual-stack: public */
    socket_add(&sockets, TCP, "0.0.0.0", 5432, false);   /* internal */
    socket_add(&sockets, TCP, "127.0.0.1", 6379, false); /* loopback */
    socket_add(&sockets, TCP, "0.0.0.0", 22, false);     /* nothing opens it */
    socket_add(&sockets, TCP, "0.0.0.0", 8443, false);   /* dropped by the other table */
    socket_add(&sockets, UDP, "0.0.0.0", 5353, false);   /* open, not in the plan */
    socket_add(&sockets, UDP, "::", 53, true);
    struct socket_entry *connected = socket_list_append(&sockets);  /* not a listener */
    connected->proto = TCP;
    connected->family = AF_INET;
    connected->state = SOCKET_STATE_ESTABLISHED;
    connected->local_port = 40000;

    struct plan plan;
    small_plan(&plan, 80, 443);
    struct firewall_audit_options opt = { .plan = &plan, .host = "app1",
                                          .ruleset_json = synthetic_ruleset, .sockets = &sockets };
    struct firewall_audit_result res;
    struct pr_error err = { 0 };
    int rc = firewall_audit_run(&opt, &res, &err);
    if (rc < 0)
        fail_msg("audit: %s", err.message);
    assert_int_equal(res.chain_count, 2);
    assert_string_equal(res.chains[0].table, "portreg");
    assert_false(res.chains[0].policy_accept);
    assert_true(res.chains[1].policy_accept);
    assert_int_equal(res.listener_count, 7);

    const struct firewall_audit_listener *l = listener_at(&res, TCP, 80);
    assert_int_equal(l->reach, FIREWALL_REACH_ANY);
    assert_true(l->declared);
    assert_string_equal(l->service, "nginx");
    assert_false(l->undeclared_exposure);

    /* accepted by portreg from {10.1.0.0/16, 10.2.0.5} and by other from 10.1.0.0/24 only */
    l = listener_at(&res, TCP, 5432);
    assert_int_equal(l->reach, FIREWALL_REACH_SOURCES);
    assert_int_equal(l->source_count, 1);
    char buf[64];
    assert_string_equal(firewall_cidr_text(&l->sources[0], buf, sizeof buf), "10.1.0.0/24");
    assert_true(l->declared);

    assert_int_equal(listener_at(&res, TCP, 6379)->reach, FIREWALL_REACH_LOOPBACK_ONLY);
    assert_int_equal(listener_at(&res, TCP, 22)->reach, FIREWALL_REACH_BLOCKED);
    assert_int_equal(listener_at(&res, TCP, 8443)->reach, FIREWALL_REACH_BLOCKED);
    assert_int_equal(listener_at(&res, UDP, 53)->reach, FIREWALL_REACH_BLOCKED);

    l = listener_at(&res, UDP, 5353);
    assert_int_equal(l->reach, FIREWALL_REACH_ANY);
    assert_false(l->declared);
    assert_true(l->undeclared_exposure);
    assert_int_equal(res.reachable_count, 3);
    assert_int_equal(res.undeclared_count, 1);

    /* opened without a listener: 443 and the range; 80, 5432 and 5353 have listeners */
    assert_true(open_port_reported(&res, TCP, 443, 443));
    assert_true(open_port_reported(&res, TCP, 9000, 9010));
    assert_false(open_port_reported(&res, TCP, 80, 80));
    assert_false(open_port_reported(&res, TCP, 5432, 5432));
    assert_false(open_port_reported(&res, UDP, 5353, 5353));
    assert_int_equal(res.open_without_listener_count, 2);
    firewall_audit_result_free(&res);

    /* no plan: nothing is declared or undeclared */
    opt.plan = NULL;
    assert_int_equal(firewall_audit_run(&opt, &res, &err), 0);
    assert_int_equal(res.undeclared_count, 0);
    assert_false(listener_at(&res, UDP, 5353)->undeclared_exposure);
    firewall_audit_result_free(&res);

    /* an empty ruleset filters nothing */
    opt.ruleset_json = "{\"nftables\": [{\"metainfo\": {}}]}";
    assert_int_equal(firewall_audit_run(&opt, &res, &err), 0);
    assert_int_equal(listener_at(&res, TCP, 22)->reach, FIREWALL_REACH_ANY);
    assert_int_equal(listener_at(&res, TCP, 6379)->reach, FIREWALL_REACH_LOOPBACK_ONLY);
    firewall_audit_result_free(&res);

    /* bad input: the place is named */
    opt.ruleset_json = "{\"nftables\": [\n{\"chain\": }]}";
    assert_int_equal(firewall_audit_run(&opt, &res, &err), -EINVAL);
    assert_int_equal(err.line, 2);
    opt.ruleset_json = "{\"rules\": []}";
    assert_int_equal(firewall_audit_run(&opt, &res, &err), -EINVAL);
    opt.ruleset_json = synthetic_ruleset;
    opt.plan = &plan;
    opt.host = "nosuchhost";
    assert_int_equal(firewall_audit_run(&opt, &res, &err), -ENOENT);

    socket_list_free(&sockets);
    plan_release(&plan);
}

/* An ip6-only rule (ip6 daddr, ip6 saddr) does not open IPv4; jump returns to the caller after
 * the jump (a conditional return in the jumped-to chain lets those sources through to the
 * caller's accept: reachable from them, not "blocked"); goto does not return. */
static void test_audit_families_and_jumps(void **state)
{
    (void)state;
#define DADDR6(right) \
    "{\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"ip6\", " \
    "\"field\": \"daddr\"}}, \"right\": " right "}}"
#define MARK(right) \
    "{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"mark\"}}, \"right\": " right "}}"
#define TO(verdict, chain) "{\"" verdict "\": {\"target\": \"" chain "\"}}"
#define RETURN "{\"return\": null}"
    static const char ruleset[] =
        "{\"nftables\": ["
        "{\"chain\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"in\", \"type\": "
        "\"filter\", \"hook\": \"input\", \"prio\": 0, \"policy\": \"drop\"}},"
        "{\"chain\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"sub\"}},"
        "{\"chain\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"maybe\"}},"
        "{\"chain\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"ret\"}},"
        RULE("t", "in", DADDR6("\"fd00::1\"") ", " DPORT("tcp", "22") ", " ACCEPT)
        RULE("t", "in", SADDR("ip6", "{\"prefix\": {\"addr\": \"fd00::\", \"len\": 8}}") ", "
             DPORT("tcp", "23") ", " ACCEPT)
        RULE("t", "in", DPORT("tcp", "2222") ", " TO("jump", "sub"))
        RULE("t", "in", DPORT("tcp", "2222") ", " ACCEPT)
        RULE("t", "in", DPORT("tcp", "3333") ", " TO("jump", "maybe"))
        RULE("t", "in", DPORT("tcp", "3333") ", " ACCEPT)
        RULE("t", "in", DPORT("tcp", "4444") ", " TO("jump", "ret"))
        RULE("t", "in", DPORT("tcp", "4444") ", " ACCEPT)
        RULE("t", "in", DPORT("tcp", "5555") ", " TO("goto", "ret"))
        RULE("t", "in", DPORT("tcp", "5555") ", " ACCEPT)
        RULE("t", "sub", SADDR("ip", "{\"prefix\": {\"addr\": \"10.0.0.0\", \"len\": 8}}") ", "
             RETURN)
        RULE("t", "sub", DROP)
        RULE("t", "maybe", MARK("1") ", " RETURN)
        RULE("t", "maybe", DROP)
        "{\"rule\": {\"family\": \"inet\", \"table\": \"t\", \"chain\": \"ret\", \"expr\": ["
        RETURN "]}}"
        "]}";
    struct socket_list sockets = { 0 };
    socket_add(&sockets, TCP, "0.0.0.0", 23, false);
    socket_add(&sockets, TCP, "0.0.0.0", 2222, false);
    socket_add(&sockets, TCP, "0.0.0.0", 3333, false);
    socket_add(&sockets, TCP, "0.0.0.0", 4444, false);
    socket_add(&sockets, TCP, "0.0.0.0", 5555, false);
    struct firewall_audit_options opt = { .ruleset_json = ruleset, .sockets = &sockets };
    struct firewall_audit_result res;
    struct pr_error err = { 0 };
    if (firewall_audit_run(&opt, &res, &err) < 0)
        fail_msg("audit: %s", err.message);
    /* the ip6 rules open 22 and 23 for IPv6 only: IPv4 23 is blocked, and 22 is listed as
     * opened for IPv6 alone; the IPv4 listener on 23 does not cover the IPv6 accept */
    assert_int_equal(listener_at(&res, TCP, 23)->reach, FIREWALL_REACH_BLOCKED);
    bool saw22 = false, saw23 = false;
    for (size_t i = 0; i < res.open_without_listener_count; i++) {
        const struct firewall_audit_open_port *p = &res.open_without_listener[i];
        if (p->first == 22 || p->first == 23) {
            assert_false(p->ipv4);
            assert_true(p->ipv6);
            saw22 |= p->first == 22;
            saw23 |= p->first == 23;
        }
    }
    assert_true(saw22 && saw23);
    /* sub returns 10.0.0.0/8 to the caller, whose next rule accepts */
    const struct firewall_audit_listener *l = listener_at(&res, TCP, 2222);
    assert_int_equal(l->reach, FIREWALL_REACH_SOURCES);
    assert_int_equal(l->source_count, 1);
    char buf[64];
    assert_string_equal(firewall_cidr_text(&l->sources[0], buf, sizeof buf), "10.0.0.0/8");
    assert_false(l->uncertain);
    /* a return under a condition the audit cannot settle: reachable, and uncertain */
    l = listener_at(&res, TCP, 3333);
    assert_int_equal(l->reach, FIREWALL_REACH_ANY);
    assert_true(l->uncertain);
    /* a chain that only returns: the caller's accept applies */
    assert_int_equal(listener_at(&res, TCP, 4444)->reach, FIREWALL_REACH_ANY);
    /* goto does not return: the end of ret ends the base chain (policy drop) */
    assert_int_equal(listener_at(&res, TCP, 5555)->reach, FIREWALL_REACH_BLOCKED);
    firewall_audit_result_free(&res);
    socket_list_free(&sockets);
#undef DADDR6
#undef MARK
#undef TO
#undef RETURN
}

/* A rule the audit cannot evaluate makes the answer uncertain; nested jumps are followed. */
static void test_audit_unevaluated(void **state)
{
    (void)state;
    static const char ruleset[] =
        "{\"nftables\": ["
        "{\"chain\": {\"family\": \"ip\", \"table\": \"t\", \"name\": \"in\", \"type\": "
        "\"filter\", \"hook\": \"input\", \"prio\": 0, \"policy\": \"drop\"}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"t\", \"name\": \"a\"}},"
        "{\"chain\": {\"family\": \"ip\", \"table\": \"t\", \"name\": \"b\"}},"
        "{\"rule\": {\"family\": \"ip\", \"table\": \"t\", \"chain\": \"in\", \"expr\": ["
        "{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"iifname\"}}, \"right\": "
        "\"eth0\"}}, " DPORT("tcp", "22") ", " ACCEPT "]}},"
        "{\"rule\": {\"family\": \"ip\", \"table\": \"t\", \"chain\": \"in\", \"expr\": ["
        "{\"jump\": {\"target\": \"a\"}}]}},"
        "{\"rule\": {\"family\": \"ip\", \"table\": \"t\", \"chain\": \"a\", \"expr\": ["
        "{\"jump\": {\"target\": \"b\"}}]}},"
        "{\"rule\": {\"family\": \"ip\", \"table\": \"t\", \"chain\": \"b\", \"expr\": ["
        DPORT("tcp", "25") ", " ACCEPT "]}}"
        "]}";
    struct socket_list sockets = { 0 };
    socket_add(&sockets, TCP, "0.0.0.0", 22, false);
    socket_add(&sockets, TCP, "::", 22, true);           /* ip family table: IPv6 unfiltered */
    socket_add(&sockets, TCP, "0.0.0.0", 25, false);
    struct firewall_audit_options opt = { .ruleset_json = ruleset, .sockets = &sockets };
    struct firewall_audit_result res;
    struct pr_error err = { 0 };
    assert_int_equal(firewall_audit_run(&opt, &res, &err), 0);
    assert_int_equal(res.listener_count, 3);
    /* iifname eth0: may match, counted as reachable and flagged */
    assert_int_equal(res.listeners[0].family, AF_INET);
    assert_int_equal(res.listeners[0].reach, FIREWALL_REACH_ANY);
    assert_true(res.listeners[0].uncertain);
    assert_int_equal(res.listeners[1].family, AF_INET6);
    assert_int_equal(res.listeners[1].reach, FIREWALL_REACH_ANY);
    assert_false(res.listeners[1].uncertain);
    /* nested jumps are followed: in -> a -> b accepts 25 */
    const struct firewall_audit_listener *smtp = listener_at(&res, TCP, 25);
    assert_int_equal(smtp->reach, FIREWALL_REACH_ANY);
    assert_false(smtp->uncertain);
    assert_int_equal(res.note_count, 0);
    firewall_audit_result_free(&res);
    socket_list_free(&sockets);
}

/* ---- root: apply and audit in a veth pair of fresh network namespaces ---- */

#define NS_A_V4 "10.231.9.1"
#define NS_B_V4 "10.231.9.2"
#define NS_A_V6 "fd5c:9::1"
#define NS_B_V6 "fd5c:9::2"
#define PORT_PUBLIC 18080              /* nginx, declared public, listened on */
#define PORT_PUBLIC_IDLE 18443         /* nginx, declared public, nobody listens */
#define PORT_UNDECLARED 18099          /* a listener the plan does not know */
#define PORT_INTERNAL 5432             /* postgres: internal, A is not among its sources */
#define PORT_LOOPBACK 16379            /* redis on 127.0.0.1 */
#define LISTENER_MAX 4

static char ns_a[64], ns_b[64];
static int saved_netns = -1;
static int listeners[LISTENER_MAX] = { -1, -1, -1, -1 };

static int enter_named_netns(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

static int leave_netns(void)
{
    return setns(saved_netns, CLONE_NEWNET);
}

/* A TCP listener on address:port in the current namespace ([::] is dual-stack). */
static int listen_on(const char *address, uint16_t port)
{
    bool v6 = strchr(address, ':') != NULL;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    if (v6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        inet_pton(AF_INET6, address, &sin6->sin6_addr);
        len = sizeof *sin6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        inet_pton(AF_INET, address, &sin->sin_addr);
        len = sizeof *sin;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* TCP connect from the current namespace: 0 connected, -ECONNREFUSED, -ETIMEDOUT. */
static int tcp_connect(const char *address, uint16_t port, int timeout_ms)
{
    bool v6 = strchr(address, ':') != NULL;
    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    if (v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        inet_pton(AF_INET6, address, &sin6->sin6_addr);
        len = sizeof *sin6;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        inet_pton(AF_INET, address, &sin->sin_addr);
        len = sizeof *sin;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (struct sockaddr *)&ss, len);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        if (poll(&pfd, 1, timeout_ms) == 1) {
            int error = 0;
            socklen_t error_len = sizeof error;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len);
            rc = error ? -error : 0;
        } else {
            rc = -ETIMEDOUT;
        }
    } else if (rc < 0) {
        rc = -errno;
    }
    close(fd);
    return rc;
}

/* Connects from A until B answers on PORT_PUBLIC (a fresh veth loses the first neighbour
 * solicitations). */
static bool wait_reachable(const char *address)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        if (tcp_connect(address, PORT_PUBLIC, 100) == 0)
            return true;
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    return false;
}

/* Namespaces left by a run that crashed (its pid is gone). */
static void remove_stale_namespaces(void)
{
    DIR *dir = opendir("/run/netns");
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        int pid = 0;
        char side = 0;
        if (sscanf(entry->d_name, "prscan-fw-%d-%c", &pid, &side) != 2 || pid <= 0)
            continue;
        if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        run_command("ip netns del %s 2>/dev/null", entry->d_name);
    }
    closedir(dir);
}

static int pair_teardown(void **state)
{
    (void)state;
    if (saved_netns >= 0) {
        leave_netns();
        close(saved_netns);
        saved_netns = -1;
    }
    for (int i = 0; i < LISTENER_MAX; i++) {
        if (listeners[i] >= 0)
            close(listeners[i]);
        listeners[i] = -1;
    }
    if (ns_a[0])
        run_command("ip netns del %s 2>/dev/null", ns_a);
    if (ns_b[0])
        run_command("ip netns del %s 2>/dev/null", ns_b);
    ns_a[0] = ns_b[0] = '\0';
    return 0;
}

static int pair_setup(void **state)
{
    if (!running_as_root() ||
        run_command("command -v ip >/dev/null 2>&1 && command -v nft >/dev/null 2>&1") != 0)
        return 0;                      /* the tests skip */
    remove_stale_namespaces();
    snprintf(ns_a, sizeof ns_a, "prscan-fw-%d-a", (int)getpid());
    snprintf(ns_b, sizeof ns_b, "prscan-fw-%d-b", (int)getpid());
    run_command("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns_a, ns_b);
    if (run_command("ip netns add %s && ip netns add %s", ns_a, ns_b) != 0 ||
        run_command("ip -n %s link add prfw-a type veth peer name prfw-b netns %s", ns_a, ns_b) != 0 ||
        run_command("ip -n %s addr add " NS_A_V4 "/24 dev prfw-a && "
                    "ip -n %s addr add " NS_A_V6 "/64 dev prfw-a nodad && "
                    "ip -n %s link set lo up && ip -n %s link set prfw-a up",
                    ns_a, ns_a, ns_a, ns_a) != 0 ||
        run_command("ip -n %s addr add " NS_B_V4 "/24 dev prfw-b && "
                    "ip -n %s addr add " NS_B_V6 "/64 dev prfw-b nodad && "
                    "ip -n %s link set lo up && ip -n %s link set prfw-b up",
                    ns_b, ns_b, ns_b, ns_b) != 0 ||
        /* someone else's table, there before us: it must survive every apply */
        run_command("printf 'table inet other {\\n chain input {\\n type filter hook input "
                    "priority 10; policy accept;\\n tcp dport 1 counter accept\\n }\\n}\\n' | "
                    "ip netns exec %s nft -f -", ns_b) != 0)
        goto fail;
    saved_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved_netns < 0 || enter_named_netns(ns_b) < 0)
        goto fail;
    listeners[0] = listen_on("::", PORT_PUBLIC);
    listeners[1] = listen_on("::", PORT_UNDECLARED);
    listeners[2] = listen_on("::", PORT_INTERNAL);
    listeners[3] = listen_on("127.0.0.1", PORT_LOOPBACK);
    for (int i = 0; i < LISTENER_MAX; i++)
        if (listeners[i] < 0)
            goto fail;
    if (enter_named_netns(ns_a) < 0 || !wait_reachable(NS_B_V4) || !wait_reachable(NS_B_V6))
        goto fail;
    if (leave_netns() < 0)
        goto fail;
    return 0;
fail:
    pair_teardown(state);
    return -1;
}

/* firewall_apply_nft() in a child that entered ns; the child's pr_error comes back. */
static int apply_in_netns(const char *ns, const char *text, bool dry_run, struct pr_error *err)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(pipefd[0]);
        struct pr_error child_err = { 0 };
        int rc = enter_named_netns(ns) < 0 ? -errno : firewall_apply_nft(text, dry_run, &child_err);
        if (write(pipefd[1], &child_err, sizeof child_err) != (ssize_t)sizeof child_err)
            _exit(127);
        _exit(-rc & 0x7f);
    }
    close(pipefd[1]);
    pr_error_clear(err);
    ssize_t got = read(pipefd[0], err, sizeof *err);
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(got, (ssize_t)sizeof *err);
    return -WEXITSTATUS(status);
}

/* stdout of a shell command, NUL-terminated, into buf. */
static void capture(char *buf, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void capture(char *buf, size_t size, const char *format, ...)
{
    char command[1024];
    va_list ap;
    va_start(ap, format);
    vsnprintf(command, sizeof command, format, ap);
    va_end(ap);
    FILE *p = popen(command, "r");
    assert_non_null(p);
    size_t n = fread(buf, 1, size - 1, p);
    buf[n] = '\0';
    pclose(p);
}

/* Audit the live ruleset and sockets of ns_b against the small plan (host app1). */
static void audit_in_b(const struct plan *plan, struct firewall_audit_result *res)
{
    assert_int_equal(enter_named_netns(ns_b), 0);
    struct firewall_audit_options opt = { .plan = plan, .host = "app1" };
    struct pr_error err = { 0 };
    int rc = firewall_audit_run(&opt, res, &err);
    assert_int_equal(leave_netns(), 0);
    if (rc < 0)
        fail_msg("audit: %s", err.message);
}

/* Scan B from A with the connect engine: per port and family, the state. */
struct pair_scan {
    uint8_t state[2][65536];
    uint32_t count[2][65536];
};

static void pair_scan_collect(void *ctx, const struct scan_result *r)
{
    struct pair_scan *c = ctx;
    int fi = r->target.family == AF_INET ? 0 : 1;
    c->state[fi][r->port] = r->state;
    c->count[fi][r->port]++;
}

static void scan_b_from_a(const uint16_t *ports, size_t port_count, struct pair_scan *c)
{
    memset(c, 0, sizeof *c);
    struct pr_error err = { 0 };
    struct target_set targets;
    target_set_init(&targets);
    assert_int_equal(target_set_add(&targets, NS_B_V4, &err), 0);
    assert_int_equal(target_set_add(&targets, NS_B_V6, &err), 0);
    assert_int_equal(target_set_finish(&targets, &err), 0);
    struct scan_job job = { .targets = &targets, .ports = ports, .port_count = port_count,
                            .seed = 7, .shard_count = 1, .timeout_ms = 300, .retries = 1 };
    assert_int_equal(scan_job_prepare(&job, &err), 0);
    struct scan_sink sink;
    scan_sink_init(&sink, pair_scan_collect, c, NULL);
    assert_int_equal(enter_named_netns(ns_a), 0);   /* the engine's threads start in A */
    int rc = scan_engine_connect.run(&job, &sink, &err);
    assert_int_equal(leave_netns(), 0);
    scan_sink_destroy(&sink);
    target_set_free(&targets);
    assert_int_equal(rc, 0);
}

static void test_apply_and_audit_in_netns(void **state)
{
    (void)state;
    if (!running_as_root() || !ns_a[0]) {
        print_message("skipped: needs root, ip and nft\n");
        skip();
    }
    struct plan plan;
    small_plan(&plan, PORT_PUBLIC, PORT_PUBLIC_IDLE);
    struct firewall_rules rules;
    struct firewall_output out;
    struct pr_error err = { 0 };
    assert_int_equal(firewall_rules_build(&plan, "app1", &rules, &err), 0);
    assert_int_equal(firewall_render(&rules, "nft", &out, &err), 0);
    const char *ruleset = firewall_output_file(&out, "portreg.nft")->text;

    /* before: only the other table (policy accept): the planted listener is reachable and the
     * plan does not declare it; the loopback one is not reachable */
    struct firewall_audit_result res;
    audit_in_b(&plan, &res);
    const struct firewall_audit_listener *l = listener_at(&res, TCP, PORT_UNDECLARED);
    assert_non_null(l);
    assert_int_equal(l->reach, FIREWALL_REACH_ANY);
    assert_true(l->undeclared_exposure);
    assert_int_equal(listener_at(&res, TCP, PORT_LOOPBACK)->reach, FIREWALL_REACH_LOOPBACK_ONLY);
    assert_false(listener_at(&res, TCP, PORT_LOOPBACK)->undeclared_exposure);
    assert_true(listener_at(&res, TCP, PORT_PUBLIC)->declared);
    /* table other accepts port 1, where nothing listens */
    assert_true(open_port_reported(&res, TCP, 1, 1));
    firewall_audit_result_free(&res);

    char other_before[4096], other_after[4096], ours[8192];
    capture(other_before, sizeof other_before, "ip netns exec %s nft list table inet other", ns_b);
    assert_non_null(strstr(other_before, "tcp dport 1"));

    /* a dry run changes nothing */
    assert_int_equal(apply_in_netns(ns_b, ruleset, true, &err), 0);
    assert_int_not_equal(run_command("ip netns exec %s nft list table inet portreg >/dev/null 2>&1",
                                     ns_b), 0);

    /* apply: twice, the second replaces the first (the add/delete idiom) */
    assert_int_equal(apply_in_netns(ns_b, ruleset, false, &err), 0);
    int rc = apply_in_netns(ns_b, ruleset, false, &err);
    if (rc != 0)
        fail_msg("second apply: %s", err.message);
    capture(ours, sizeof ours, "ip netns exec %s nft list table inet portreg", ns_b);
    assert_non_null(strstr(ours, "set nginx_tcp"));
    assert_non_null(strstr(ours, "policy drop"));
    capture(other_after, sizeof other_after, "ip netns exec %s nft list table inet other", ns_b);
    assert_string_equal(other_after, other_before);

    /* from A: exactly the declared public port is open, its idle sibling is closed (opened,
     * nobody listens), everything else is filtered — the undeclared listener and postgres,
     * whose sources do not include A, included */
    uint16_t ports[40];
    size_t port_count = 0;
    for (uint16_t p = 18070; p <= 18100; p++)
        ports[port_count++] = p;
    ports[port_count++] = PORT_PUBLIC_IDLE;
    ports[port_count++] = PORT_INTERNAL;
    ports[port_count++] = PORT_LOOPBACK;
    struct pair_scan *scan = malloc(sizeof *scan);
    assert_non_null(scan);
    scan_b_from_a(ports, port_count, scan);
    for (int fi = 0; fi < 2; fi++)
        for (size_t i = 0; i < port_count; i++) {
            uint16_t p = ports[i];
            uint8_t want = p == PORT_PUBLIC ? SCAN_STATE_OPEN
                           : p == PORT_PUBLIC_IDLE ? SCAN_STATE_CLOSED : SCAN_STATE_FILTERED;
            if (scan->count[fi][p] != 1 || scan->state[fi][p] != want)
                fail_msg("%s port %u: %u results, %s, want %s", fi ? "IPv6" : "IPv4", p,
                         scan->count[fi][p], scan_state_name(scan->state[fi][p]),
                         scan_state_name(want));
        }
    free(scan);
    assert_int_equal(enter_named_netns(ns_a), 0);
    assert_int_equal(tcp_connect(NS_B_V4, PORT_PUBLIC, 1000), 0);
    assert_int_equal(tcp_connect(NS_B_V4, PORT_UNDECLARED, 300), -ETIMEDOUT);
    assert_int_equal(tcp_connect(NS_B_V6, PORT_UNDECLARED, 300), -ETIMEDOUT);
    assert_int_equal(leave_netns(), 0);

    /* audit after: the undeclared listener is blocked, postgres only from its sources, the
     * idle public port is opened without a listener, nothing undeclared is reachable */
    audit_in_b(&plan, &res);
    assert_int_equal(listener_at(&res, TCP, PORT_UNDECLARED)->reach, FIREWALL_REACH_BLOCKED);
    assert_int_equal(listener_at(&res, TCP, PORT_PUBLIC)->reach, FIREWALL_REACH_ANY);
    l = listener_at(&res, TCP, PORT_INTERNAL);
    assert_int_equal(l->reach, FIREWALL_REACH_SOURCES);
    assert_int_equal(l->source_count, 5);          /* 10.1/16, mon1, mon2, 2001:db8:2::5, fd00:1::/48 */
    assert_false(l->uncertain);
    assert_true(open_port_reported(&res, TCP, PORT_PUBLIC_IDLE, PORT_PUBLIC_IDLE));
    assert_false(open_port_reported(&res, TCP, PORT_PUBLIC, PORT_PUBLIC));
    assert_int_equal(res.undeclared_count, 0);
    bool found_chain = false;
    for (size_t i = 0; i < res.chain_count; i++)
        found_chain |= strcmp(res.chains[i].table, "portreg") == 0 && !res.chains[i].policy_accept;
    assert_true(found_chain);
    firewall_audit_result_free(&res);

    /* a ruleset the kernel refuses (a rule naming a missing set, after the delete of our
     * table in the same batch) changes nothing: our table and the other stay as they were */
    const char *broken = "table inet portreg\ndelete table inet portreg\n"
                         "table inet portreg {\n\tchain input {\n"
                         "\t\ttype filter hook input priority filter; policy accept;\n"
                         "\t\ttcp dport @nosuchset accept\n\t}\n}\n";
    rc = apply_in_netns(ns_b, broken, false, &err);
    assert_int_equal(rc, -EINVAL);
    assert_non_null(strstr(err.message, "No such file or directory"));
    if (err.line != 6 || err.column != 13)
        fail_msg("line %u: %s", err.line, err.message);
    char ours_after[8192];
    capture(ours_after, sizeof ours_after, "ip netns exec %s nft list table inet portreg", ns_b);
    assert_string_equal(ours_after, ours);
    capture(other_after, sizeof other_after, "ip netns exec %s nft list table inet other", ns_b);
    assert_string_equal(other_after, other_before);
    /* a syntax error too, with its place */
    rc = apply_in_netns(ns_b, "table inet portreg {\n\tchain input {\n\t\tjunk here\n\t}\n}\n",
                        false, &err);
    assert_int_equal(rc, -EINVAL);
    if (err.line != 3 || err.column != 3)
        fail_msg("at %u:%u: %s", err.line, err.column, err.message);
    assert_int_equal(enter_named_netns(ns_a), 0);
    assert_int_equal(tcp_connect(NS_B_V4, PORT_UNDECLARED, 300), -ETIMEDOUT);
    assert_int_equal(tcp_connect(NS_B_V4, PORT_PUBLIC, 1000), 0);
    assert_int_equal(leave_netns(), 0);

    firewall_output_free(&out);
    firewall_rules_free(&rules);
    plan_release(&plan);
}

/* Without CAP_NET_ADMIN: apply and audit say so (-EPERM), nothing else. */
static void test_unprivileged(void **state)
{
    (void)state;
    if (!running_as_root()) {
        struct pr_error err = { 0 };
        int rc = firewall_apply_nft("table inet portreg\n", true, &err);
        assert_true(rc == -EPERM || rc == -ENOPKG);
        return;
    }
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        struct pr_error err = { 0 };
        if (firewall_apply_nft("table inet portreg\n", false, &err) != -EPERM)
            _exit(3);
        struct firewall_audit_options opt = { 0 };
        struct firewall_audit_result res;
        if (firewall_audit_run(&opt, &res, &err) != -EPERM || !strstr(err.message, "CAP_NET_ADMIN"))
            _exit(4);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_model),
        cmocka_unit_test(test_rules_errors),
        cmocka_unit_test(test_render_nft),
        cmocka_unit_test(test_render_firewalld),
        cmocka_unit_test(test_render_ufw),
        cmocka_unit_test(test_render_iptables),
        cmocka_unit_test(test_render_iptables_many_ports),
        cmocka_unit_test(test_render_bind_address),
        cmocka_unit_test(test_audit_synthetic),
        cmocka_unit_test(test_audit_unevaluated),
        cmocka_unit_test(test_audit_families_and_jumps),
        cmocka_unit_test(test_unprivileged),
        cmocka_unit_test_setup_teardown(test_apply_and_audit_in_netns, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
