/* firewall_gen.c — the port plan compiled into firewall rules for one host, and the four
 * output formats (see firewall_gen.h). The model is built first (sources resolved to sorted,
 * non-overlapping CIDRs because nftables interval sets reject overlaps); each format walks it
 * and writes text through open_memstream, so output is deterministic and escaping lives in
 * one place per format. */
#include "plan/firewall_gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "registry/record.h"

/* ---- small helpers ---- */

static const char *proto_text(uint8_t proto)
{
    return proto == REGISTRY_PROTO_UDP ? "udp" : "tcp";
}

const char *firewall_cidr_text(const struct plan_cidr *cidr, char *buf, size_t size)
{
    char address[INET6_ADDRSTRLEN];
    if (!inet_ntop(cidr->family, cidr->bytes, address, sizeof address))
        snprintf(address, sizeof address, "?");
    unsigned full = cidr->family == AF_INET ? 32u : 128u;
    if (cidr->prefix >= full)
        snprintf(buf, size, "%s", address);
    else
        snprintf(buf, size, "%s/%u", address, cidr->prefix);
    return buf;
}

/* Clear the bits past the prefix: nftables and firewalld refuse host bits in a network. */
void firewall_cidr_normalize(struct plan_cidr *cidr)
{
    unsigned bytes = cidr->family == AF_INET ? 4u : 16u;
    unsigned full = bytes * 8u;
    if (cidr->prefix > full)
        cidr->prefix = (uint8_t)full;
    for (unsigned i = 0; i < 16; i++) {
        unsigned first_bit = i * 8u;
        if (i >= bytes || first_bit >= cidr->prefix + 8u)
            cidr->bytes[i] = 0;
        else if (first_bit + 8u > cidr->prefix)
            cidr->bytes[i] &= (uint8_t)(0xffu << (8u - (cidr->prefix - first_bit)));
    }
}

static int cidr_compare(const void *a, const void *b)
{
    const struct plan_cidr *x = a, *y = b;
    if (x->family != y->family)
        return x->family == AF_INET ? -1 : 1;
    int c = memcmp(x->bytes, y->bytes, 16);
    if (c)
        return c;
    return (int)x->prefix - (int)y->prefix;
}

/* Does outer contain inner (same family, shorter or equal prefix, same leading bits)? */
bool firewall_cidr_contains(const struct plan_cidr *outer, const struct plan_cidr *inner)
{
    if (outer->family != inner->family || outer->prefix > inner->prefix)
        return false;
    struct plan_cidr masked = *inner;
    masked.prefix = outer->prefix;
    firewall_cidr_normalize(&masked);
    return memcmp(masked.bytes, outer->bytes, 16) == 0;
}

static int port_compare(const void *a, const void *b)
{
    const struct firewall_port *x = a, *y = b;
    if (x->proto != y->proto)
        return (int)x->proto - (int)y->proto;
    return (int)x->port - (int)y->port;
}

static int rule_compare(const void *a, const void *b)
{
    const struct firewall_service_rule *x = a, *y = b;
    return strcmp(x->service, y->service);
}

size_t firewall_rule_source_count(const struct firewall_service_rule *rule, uint8_t family)
{
    size_t n = 0;
    for (size_t i = 0; i < rule->source_count; i++)
        n += rule->sources[i].family == family;
    return n;
}

size_t firewall_rule_destination_count(const struct firewall_service_rule *rule, uint8_t family)
{
    size_t n = 0;
    for (size_t i = 0; i < rule->destination_count; i++)
        n += rule->destinations[i].family == family;
    return n;
}

bool firewall_rule_opens_family(const struct firewall_service_rule *rule, uint8_t family)
{
    return (rule->any_source || firewall_rule_source_count(rule, family)) &&
           (rule->any_destination || firewall_rule_destination_count(rule, family));
}

/* ---- building the model ---- */

struct cidr_vec {
    struct plan_cidr *items;
    size_t count, capacity;
};

static int cidr_vec_push(struct cidr_vec *v, const struct plan_cidr *cidr)
{
    if (v->count == v->capacity) {
        size_t capacity = v->capacity ? v->capacity * 2 : 16;
        struct plan_cidr *items = realloc(v->items, capacity * sizeof *items);
        if (!items)
            return -ENOMEM;
        v->items = items;
        v->capacity = capacity;
    }
    v->items[v->count] = *cidr;
    firewall_cidr_normalize(&v->items[v->count]);
    v->count++;
    return 0;
}

static bool host_has_name(const struct plan_host *host, const char *name)
{
    if (strcmp(host->name, name) == 0)
        return true;
    for (size_t i = 0; i < host->group_count; i++)
        if (strcmp(host->groups[i], name) == 0)
            return true;
    return false;
}

static bool service_runs_on(const struct plan_service *service, const struct plan_host *host)
{
    for (size_t i = 0; i < service->host_count; i++)
        if (host_has_name(host, service->hosts[i]))
            return true;
    return false;
}

static const struct plan_network *network_find(const struct plan *plan, const char *name)
{
    for (size_t i = 0; i < plan->network_count; i++)
        if (strcmp(plan->networks[i].name, name) == 0)
            return &plan->networks[i];
    return NULL;
}

static int add_warning(struct firewall_rules *rules, const char *service, struct plan_pos pos,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int add_warning(struct firewall_rules *rules, const char *service, struct plan_pos pos,
                       const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    struct firewall_warning *items =
        realloc(rules->warnings, (rules->warning_count + 1) * sizeof *items);
    if (!items)
        return -ENOMEM;
    rules->warnings = items;
    struct firewall_warning *w = &items[rules->warning_count];
    w->service = arena_strdup(&rules->arena, service ? service : "");
    w->message = arena_strdup(&rules->arena, message);
    w->pos = pos;
    if (!w->service || !w->message)
        return -ENOMEM;
    rules->warning_count++;
    return 0;
}

/* Resolve one source into CIDRs. A network name falls back to a host or group and the other
 * way round, so the parser's guess of the kind does not matter. */
static int resolve_source(const struct plan *plan, struct firewall_rules *rules,
                          const struct plan_service *service, const struct plan_source *source,
                          struct cidr_vec *cidrs, struct pr_error *err)
{
    if (source->kind == PLAN_SOURCE_CIDR)
        return cidr_vec_push(cidrs, &source->cidr);
    const char *name = source->name ? source->name : "";
    const struct plan_network *network = network_find(plan, name);
    if (network && (source->kind == PLAN_SOURCE_NETWORK || source->kind == PLAN_SOURCE_HOST)) {
        for (size_t i = 0; i < network->cidr_count; i++)
            if (cidr_vec_push(cidrs, &network->cidrs[i]) < 0)
                return -ENOMEM;
        if (network->cidr_count == 0)
            return add_warning(rules, service->name, source->pos,
                               "source network '%s' has no addresses", name);
        return 0;
    }
    bool found = false;
    size_t addresses = 0;
    for (size_t h = 0; h < plan->host_count; h++) {
        const struct plan_host *host = &plan->hosts[h];
        if (!host_has_name(host, name))
            continue;
        found = true;
        for (size_t a = 0; a < host->address_count; a++) {
            struct plan_cidr cidr = { .family = host->addresses[a].family };
            memcpy(cidr.bytes, host->addresses[a].bytes, 16);
            cidr.prefix = cidr.family == AF_INET ? 32 : 128;
            if (cidr_vec_push(cidrs, &cidr) < 0)
                return -ENOMEM;
            addresses++;
        }
    }
    if (!found) {
        pr_error_set_at(err, -EINVAL, source->pos.line, source->pos.column,
                        "service '%s': source '%s' names no network, host or group",
                        service->name, name);
        if (source->pos.file)
            pr_error_set_path(err, source->pos.file);
        return -EINVAL;
    }
    if (addresses == 0)
        return add_warning(rules, service->name, source->pos,
                           "source '%s' has no addresses: it opens nothing", name);
    return 0;
}

/* Sort, drop duplicates and CIDRs inside another (interval sets refuse overlaps). */
static void cidrs_canonicalize(struct cidr_vec *cidrs)
{
    if (cidrs->count > 1)
        qsort(cidrs->items, cidrs->count, sizeof *cidrs->items, cidr_compare);
    size_t kept = 0;
    for (size_t i = 0; i < cidrs->count; i++) {
        if (kept && firewall_cidr_contains(&cidrs->items[kept - 1], &cidrs->items[i]))
            continue;
        cidrs->items[kept++] = cidrs->items[i];
    }
    cidrs->count = kept;
}

static char *make_ident(struct firewall_rules *rules, const char *name)
{
    char base[96];
    size_t n = 0;
    if (!(name[0] >= 'a' && name[0] <= 'z') && !(name[0] >= 'A' && name[0] <= 'Z'))
        base[n++] = 's', base[n++] = '_';
    for (const char *p = name; *p && n < 64; p++) {
        char c = *p;
        bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        base[n++] = word ? c : '_';
    }
    base[n] = '\0';
    char candidate[112];
    snprintf(candidate, sizeof candidate, "%s", base);
    for (unsigned suffix = 2;; suffix++) {
        bool taken = false;
        for (size_t i = 0; i < rules->service_count && !taken; i++)
            taken = strcmp(rules->services[i].ident, candidate) == 0;
        if (!taken)
            break;
        snprintf(candidate, sizeof candidate, "%s_%u", base, suffix);
    }
    return arena_strdup(&rules->arena, candidate);
}

static int build_service(const struct plan *plan, const struct plan_host *host,
                         const struct plan_service *service, struct firewall_rules *rules,
                         struct pr_error *err)
{
    if (service->exposure == PLAN_EXPOSURE_LOOPBACK)
        return 0;                      /* loopback traffic is accepted anyway */
    if (service->bind.kind == PLAN_BIND_LOOPBACK)
        return add_warning(rules, service->name, service->pos,
                           "binds loopback only: nothing to open");
    if (service->exposure == PLAN_EXPOSURE_INTERNAL && service->source_count == 0)
        return add_warning(rules, service->name, service->pos,
                           "internal service without sources: nothing opened");

    struct firewall_port *ports = arena_alloc(&rules->arena,
                                              (service->port_count + 1) * sizeof *ports);
    if (!ports)
        return -ENOMEM;
    size_t port_count = 0;
    for (size_t i = 0; i < service->port_count; i++) {
        const struct plan_port *p = &service->ports[i];
        if (p->automatic && p->port == 0) {
            int r = add_warning(rules, service->name, p->pos,
                                "automatic %s port not resolved yet: not opened",
                                proto_text(p->proto));
            if (r < 0)
                return r;
            continue;
        }
        if (p->port == 0 || (p->proto != REGISTRY_PROTO_TCP && p->proto != REGISTRY_PROTO_UDP)) {
            int r = add_warning(rules, service->name, p->pos,
                                "port %u with protocol %u cannot be opened", p->port, p->proto);
            if (r < 0)
                return r;
            continue;
        }
        ports[port_count++] = (struct firewall_port){ .port = p->port, .proto = p->proto };
    }
    if (port_count > 1)
        qsort(ports, port_count, sizeof *ports, port_compare);
    size_t unique = 0;
    for (size_t i = 0; i < port_count; i++)
        if (!unique || port_compare(&ports[unique - 1], &ports[i]) != 0)
            ports[unique++] = ports[i];
    port_count = unique;
    if (port_count == 0)
        return service->port_count ? 0
                                   : add_warning(rules, service->name, service->pos,
                                                 "no ports: nothing opened");

    bool any = service->source_count == 0;   /* public without sources: from anywhere */
    struct cidr_vec cidrs = { 0 };
    int r = 0;
    for (size_t i = 0; i < service->source_count && r == 0; i++) {
        if (service->sources[i].kind == PLAN_SOURCE_ANY)
            any = true;
        else
            r = resolve_source(plan, rules, service, &service->sources[i], &cidrs, err);
    }
    if (r < 0) {
        free(cidrs.items);
        return r == -ENOMEM ? pr_error_set(err, -ENOMEM, "out of memory") : r;
    }
    if (any)
        cidrs.count = 0;
    cidrs_canonicalize(&cidrs);
    if (!any && cidrs.count == 0) {
        free(cidrs.items);
        return add_warning(rules, service->name, service->pos,
                           "no source resolved to an address: nothing opened");
    }

    /* where it listens: every address, one literal address, or the host's addresses of a
     * name; only those are opened */
    struct cidr_vec dests = { 0 };
    bool any_dest = service->bind.kind == PLAN_BIND_ANY;
    if (service->bind.kind == PLAN_BIND_ADDRESS) {
        struct plan_cidr d = { .family = service->bind.family,
                               .prefix = service->bind.family == AF_INET ? 32 : 128 };
        memcpy(d.bytes, service->bind.bytes, 16);
        r = cidr_vec_push(&dests, &d);
    } else if (service->bind.kind == PLAN_BIND_NAMED) {
        for (size_t a = 0; a < host->address_count && r == 0; a++) {
            const struct plan_named_address *na = &host->addresses[a];
            if (!na->name || strcmp(na->name, service->bind.name) != 0)
                continue;
            struct plan_cidr d = { .family = na->family, .prefix = na->family == AF_INET ? 32 : 128 };
            memcpy(d.bytes, na->bytes, 16);
            r = cidr_vec_push(&dests, &d);
        }
    }
    if (r < 0) {
        free(cidrs.items);
        free(dests.items);
        return -ENOMEM;
    }
    cidrs_canonicalize(&dests);
    if (!any_dest && dests.count == 0) {
        free(cidrs.items);
        free(dests.items);
        return add_warning(rules, service->name, service->pos,
                           "binds '%s', an address this host does not have: nothing opened",
                           service->bind.name ? service->bind.name : "?");
    }

    struct firewall_service_rule *items =
        realloc(rules->services, (rules->service_count + 1) * sizeof *items);
    if (!items) {
        free(cidrs.items);
        free(dests.items);
        return -ENOMEM;
    }
    rules->services = items;
    struct firewall_service_rule *rule = &items[rules->service_count];
    memset(rule, 0, sizeof *rule);
    rule->service = arena_strdup(&rules->arena, service->name);
    rule->ident = make_ident(rules, service->name);
    char description[600] = "";
    if (service->notes)
        snprintf(description, sizeof description, "%s", service->notes);
    else if (service->owner)
        snprintf(description, sizeof description, "owner: %s", service->owner);
    rule->description = arena_strdup(&rules->arena, description);
    rule->exposure = service->exposure;
    rule->ports = ports;
    rule->port_count = port_count;
    rule->any_source = any;
    rule->pos = service->pos;
    rule->any_destination = any_dest;
    rule->sources = arena_alloc(&rules->arena, (cidrs.count + 1) * sizeof *rule->sources);
    rule->destinations = arena_alloc(&rules->arena, (dests.count + 1) * sizeof *rule->destinations);
    if (!rule->service || !rule->ident || !rule->description || !rule->sources ||
        !rule->destinations) {
        free(cidrs.items);
        free(dests.items);
        return -ENOMEM;
    }
    if (cidrs.count)
        memcpy(rule->sources, cidrs.items, cidrs.count * sizeof *rule->sources);
    rule->source_count = cidrs.count;
    if (dests.count)
        memcpy(rule->destinations, dests.items, dests.count * sizeof *rule->destinations);
    rule->destination_count = dests.count;
    free(cidrs.items);
    free(dests.items);
    rules->service_count++;
    return 0;
}

int firewall_rules_build(const struct plan *plan, const char *host, struct firewall_rules *out,
                         struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    const struct plan_host *plan_host = NULL;
    for (size_t i = 0; i < plan->host_count && !plan_host; i++)
        if (strcmp(plan->hosts[i].name, host) == 0)
            plan_host = &plan->hosts[i];
    if (!plan_host)
        return pr_error_set(err, -ENOENT, "host '%s' is not in the plan", host);
    out->host = arena_strdup(&out->arena, host);
    out->plan_name = arena_strdup(&out->arena, plan->file_count ? plan->files[0] : "");
    if (!out->host || !out->plan_name)
        goto nomem;
    for (size_t i = 0; i < plan->service_count; i++) {
        const struct plan_service *service = &plan->services[i];
        if (!service_runs_on(service, plan_host))
            continue;
        int r = build_service(plan, plan_host, service, out, err);
        if (r == -ENOMEM)
            goto nomem;
        if (r < 0) {
            firewall_rules_free(out);
            return r;
        }
    }
    if (out->service_count > 1)
        qsort(out->services, out->service_count, sizeof *out->services, rule_compare);
    return 0;
nomem:
    firewall_rules_free(out);
    return pr_error_set(err, -ENOMEM, "out of memory");
}

void firewall_rules_free(struct firewall_rules *rules)
{
    free(rules->services);
    free(rules->warnings);
    arena_free(&rules->arena);
    memset(rules, 0, sizeof *rules);
}

/* ---- output files ---- */

void firewall_output_free(struct firewall_output *out)
{
    for (size_t i = 0; i < out->file_count; i++) {
        free(out->files[i].name);
        free(out->files[i].text);
    }
    free(out->files);
    memset(out, 0, sizeof *out);
}

const struct firewall_file *firewall_output_file(const struct firewall_output *out,
                                                 const char *name)
{
    for (size_t i = 0; i < out->file_count; i++)
        if (strcmp(out->files[i].name, name) == 0)
            return &out->files[i];
    return NULL;
}

/* A text file being written: open_memstream grows it. */
struct text_file {
    FILE *stream;
    char *text;
    size_t length;
};

static int text_open(struct text_file *t, struct pr_error *err)
{
    t->text = NULL;
    t->length = 0;
    t->stream = open_memstream(&t->text, &t->length);
    return t->stream ? 0 : pr_error_set(err, -errno, "open_memstream: %s", strerror(errno));
}

/* Close t and append it to out as name. */
static int text_finish(struct text_file *t, const char *name, struct firewall_output *out,
                       struct pr_error *err)
{
    bool failed = ferror(t->stream) != 0;
    if (fclose(t->stream) != 0)
        failed = true;
    t->stream = NULL;
    char *copy = strdup(name);
    struct firewall_file *files = failed || !copy
                                      ? NULL
                                      : realloc(out->files, (out->file_count + 1) * sizeof *files);
    if (!files) {
        free(copy);
        free(t->text);
        t->text = NULL;
        return pr_error_set(err, -ENOMEM, "out of memory writing %s", name);
    }
    out->files = files;
    files[out->file_count++] = (struct firewall_file){ copy, t->text, t->length };
    t->text = NULL;
    return 0;
}

/* Printable text for comments and quoted strings: no quotes, backslashes or control bytes. */
static void write_plain(FILE *f, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        fputc(*p < 0x20 || *p == '"' || *p == '\\' || *p == '\'' || *p == 0x7f ? ' ' : *p, f);
}

static void write_header(FILE *f, const struct firewall_rules *rules, const char *format)
{
    fputs("# portreg firewall (", f);
    fputs(format, f);
    fputs(") for host \"", f);
    write_plain(f, rules->host);
    fputs("\"", f);
    if (rules->plan_name[0]) {
        fputs(" from plan \"", f);
        write_plain(f, rules->plan_name);
        fputs("\"", f);
    }
    fputs("\n# Default deny inbound: only the exposures the plan declares are opened.\n", f);
    for (size_t i = 0; i < rules->warning_count; i++) {
        fputs("# warning: ", f);
        if (rules->warnings[i].service[0]) {
            write_plain(f, rules->warnings[i].service);
            fputs(": ", f);
        }
        write_plain(f, rules->warnings[i].message);
        fputc('\n', f);
    }
}

static const char *exposure_text(enum plan_exposure exposure)
{
    return exposure == PLAN_EXPOSURE_PUBLIC ? "public" : "internal";
}

/* ---- nftables: one table of our own, replaced atomically ---- */

static void nft_write_port_set(FILE *f, const struct firewall_service_rule *rule, uint8_t proto)
{
    bool first = true;
    for (size_t i = 0; i < rule->port_count; i++) {
        if (rule->ports[i].proto != proto)
            continue;
        if (first)
            fprintf(f, "\tset %s_%s {\n\t\ttype inet_service\n\t\telements = { ", rule->ident,
                    proto_text(proto));
        fprintf(f, "%s%u", first ? "" : ", ", rule->ports[i].port);
        first = false;
    }
    if (!first)
        fputs(" }\n\t}\n\n", f);
}

static void nft_write_source_set(FILE *f, const struct firewall_service_rule *rule, uint8_t family)
{
    bool first = true;
    char buf[64];
    for (size_t i = 0; i < rule->source_count; i++) {
        if (rule->sources[i].family != family)
            continue;
        if (first)
            fprintf(f, "\tset %s_sources_%s {\n\t\ttype %s\n\t\tflags interval\n\t\telements = { ",
                    rule->ident, family == AF_INET ? "v4" : "v6",
                    family == AF_INET ? "ipv4_addr" : "ipv6_addr");
        fprintf(f, "%s%s", first ? "" : ", ", firewall_cidr_text(&rule->sources[i], buf, sizeof buf));
        first = false;
    }
    if (!first)
        fputs(" }\n\t}\n\n", f);
}

static bool rule_has_proto(const struct firewall_service_rule *rule, uint8_t proto)
{
    for (size_t i = 0; i < rule->port_count; i++)
        if (rule->ports[i].proto == proto)
            return true;
    return false;
}

/* "ip daddr { 10.0.0.1 } " for the rule's destinations of family (nothing when any). */
static void nft_write_daddr(FILE *f, const struct firewall_service_rule *rule, uint8_t family)
{
    if (rule->any_destination)
        return;
    char buf[64];
    bool first = true;
    for (size_t i = 0; i < rule->destination_count; i++) {
        if (rule->destinations[i].family != family)
            continue;
        fprintf(f, "%s%s", first ? (family == AF_INET ? "ip daddr { " : "ip6 daddr { ") : ", ",
                firewall_cidr_text(&rule->destinations[i], buf, sizeof buf));
        first = false;
    }
    if (!first)
        fputs(" } ", f);
}

static void nft_write_accepts(FILE *f, const struct firewall_service_rule *rule)
{
    fprintf(f, "\t\t# %s (%s)\n", rule->service, exposure_text(rule->exposure));
    static const uint8_t protos[] = { REGISTRY_PROTO_TCP, REGISTRY_PROTO_UDP };
    static const uint8_t families[] = { AF_INET, AF_INET6 };
    for (size_t p = 0; p < 2; p++) {
        const char *proto = proto_text(protos[p]);
        if (!rule_has_proto(rule, protos[p]))
            continue;
        if (rule->any_source && rule->any_destination) {
            fprintf(f, "\t\t%s dport @%s_%s accept comment \"%s\"\n", proto, rule->ident, proto,
                    rule->ident);
            continue;
        }
        for (size_t i = 0; i < 2; i++) {
            uint8_t family = families[i];
            if (!firewall_rule_opens_family(rule, family))
                continue;
            fputs("\t\t", f);
            nft_write_daddr(f, rule, family);
            if (!rule->any_source)
                fprintf(f, "%s saddr @%s_sources_%s ", family == AF_INET ? "ip" : "ip6",
                        rule->ident, family == AF_INET ? "v4" : "v6");
            fprintf(f, "%s dport @%s_%s accept comment \"%s\"\n", proto, rule->ident, proto,
                    rule->ident);
        }
    }
}

static int render_nft(const struct firewall_rules *rules, struct firewall_output *out,
                      struct pr_error *err)
{
    struct text_file t;
    int r = text_open(&t, err);
    if (r < 0)
        return r;
    FILE *f = t.stream;
    fputs("#!/usr/sbin/nft -f\n", f);
    write_header(f, rules, "nftables");
    fputs("# Applying this file replaces the table inet portreg and touches no other table:\n"
          "# the add/delete/define sequence below is one transaction.\n\n"
          "table inet portreg\n"
          "delete table inet portreg\n\n"
          "table inet portreg {\n", f);
    for (size_t i = 0; i < rules->service_count; i++) {
        const struct firewall_service_rule *rule = &rules->services[i];
        nft_write_port_set(f, rule, REGISTRY_PROTO_TCP);
        nft_write_port_set(f, rule, REGISTRY_PROTO_UDP);
        nft_write_source_set(f, rule, AF_INET);
        nft_write_source_set(f, rule, AF_INET6);
    }
    fputs("\tchain input {\n"
          "\t\ttype filter hook input priority filter; policy drop;\n"
          "\t\tct state established,related accept\n"
          "\t\tct state invalid drop\n"
          "\t\tiif \"lo\" accept\n"
          "\t\t# ICMP essentials: errors (path MTU discovery, traceroute), rate-limited ping,\n"
          "\t\t# IPv6 neighbour discovery (on-link only: hop limit 255) and multicast listeners\n"
          "\t\ticmp type { destination-unreachable, time-exceeded, parameter-problem } accept\n"
          "\t\ticmp type echo-request limit rate 10/second burst 20 packets accept\n"
          "\t\ticmpv6 type { destination-unreachable, packet-too-big, time-exceeded, "
          "parameter-problem } accept\n"
          "\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } "
          "ip6 hoplimit 255 accept\n"
          "\t\tip6 saddr fe80::/10 icmpv6 type { mld-listener-query, mld-listener-report, "
          "mld-listener-done, mld2-listener-report } accept\n"
          "\t\ticmpv6 type echo-request limit rate 10/second burst 20 packets accept\n", f);
    for (size_t i = 0; i < rules->service_count; i++)
        nft_write_accepts(f, &rules->services[i]);
    fputs("\t}\n}\n", f);
    return text_finish(&t, "portreg.nft", out, err);
}

/* ---- firewalld: a service per plan service, zone commands ---- */

static void xml_write_escaped(FILE *f, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        switch (*p) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            /* control bytes are not allowed in XML 1.0; keep tab and newline */
            fputc(*p < 0x20 && *p != '\t' && *p != '\n' ? ' ' : *p, f);
        }
    }
}

static int render_firewalld(const struct firewall_rules *rules, struct firewall_output *out,
                            struct pr_error *err)
{
    struct text_file t;
    int r;
    for (size_t i = 0; i < rules->service_count; i++) {
        const struct firewall_service_rule *rule = &rules->services[i];
        if ((r = text_open(&t, err)) < 0)
            return r;
        FILE *f = t.stream;
        fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- generated by portreg for host \"", f);
        xml_write_escaped(f, rules->host);
        fputs("\" -->\n<service>\n  <short>portreg-", f);
        xml_write_escaped(f, rule->ident);
        fputs("</short>\n  <description>", f);
        xml_write_escaped(f, rule->service);
        fprintf(f, " (%s)", exposure_text(rule->exposure));
        if (rule->description[0]) {
            fputs(": ", f);
            xml_write_escaped(f, rule->description);
        }
        fputs("</description>\n", f);
        for (size_t p = 0; p < rule->port_count; p++)
            fprintf(f, "  <port protocol=\"%s\" port=\"%u\"/>\n", proto_text(rule->ports[p].proto),
                    rule->ports[p].port);
        fputs("</service>\n", f);
        char name[160];
        snprintf(name, sizeof name, "portreg-%s.xml", rule->ident);
        if ((r = text_finish(&t, name, out, err)) < 0)
            return r;
    }

    if ((r = text_open(&t, err)) < 0)
        return r;
    FILE *f = t.stream;
    fputs("#!/bin/sh\n", f);
    write_header(f, rules, "firewalld");
    fputs("# Install the portreg-*.xml service files first:\n"
          "#   install -m 644 portreg-*.xml /etc/firewalld/services/\n"
          "# The zone keeps its default target (reject what is not allowed). Only portreg-*\n"
          "# services and their rich rules are replaced; other services of the zone stay.\n"
          "set -e\n"
          "ZONE=\"${PORTREG_ZONE:-public}\"\n"
          "# reload first so firewalld knows the new service files\n"
          "firewall-cmd --reload\n"
          "for s in $(firewall-cmd --permanent --zone=\"$ZONE\" --list-services); do\n"
          "  case \"$s\" in portreg-*) firewall-cmd --permanent --zone=\"$ZONE\" "
          "--remove-service=\"$s\" ;; esac\n"
          "done\n"
          "firewall-cmd --permanent --zone=\"$ZONE\" --list-rich-rules | "
          "grep 'service name=\"portreg-' |\n"
          "  while IFS= read -r rule; do firewall-cmd --permanent --zone=\"$ZONE\" "
          "--remove-rich-rule=\"$rule\"; done\n", f);
    char buf[64];
    for (size_t i = 0; i < rules->service_count; i++) {
        const struct firewall_service_rule *rule = &rules->services[i];
        fprintf(f, "# %s (%s)\n", rule->service, exposure_text(rule->exposure));
        if (rule->any_source && rule->any_destination) {
            fprintf(f, "firewall-cmd --permanent --zone=\"$ZONE\" --add-service=portreg-%s\n",
                    rule->ident);
            continue;
        }
        /* a rich rule per (source, destination) pair of one family; any is left out */
        size_t sources = rule->any_source ? 1 : rule->source_count;
        size_t dests = rule->any_destination ? 1 : rule->destination_count;
        for (size_t s = 0; s < sources; s++) {
            for (size_t d = 0; d < dests; d++) {
                const struct plan_cidr *src = rule->any_source ? NULL : &rule->sources[s];
                const struct plan_cidr *dst = rule->any_destination ? NULL : &rule->destinations[d];
                if (src && dst && src->family != dst->family)
                    continue;
                uint8_t family = src ? src->family : dst->family;
                fprintf(f, "firewall-cmd --permanent --zone=\"$ZONE\" --add-rich-rule='rule "
                        "family=\"%s\"", family == AF_INET ? "ipv4" : "ipv6");
                if (src)
                    fprintf(f, " source address=\"%s\"", firewall_cidr_text(src, buf, sizeof buf));
                if (dst)
                    fprintf(f, " destination address=\"%s\"",
                            firewall_cidr_text(dst, buf, sizeof buf));
                fprintf(f, " service name=\"portreg-%s\" accept'\n", rule->ident);
            }
        }
    }
    fputs("firewall-cmd --reload\n", f);
    return text_finish(&t, "commands.sh", out, err);
}

/* ---- ufw: application profiles and allow commands ---- */

static void ufw_write_ports(FILE *f, const struct firewall_service_rule *rule)
{
    static const uint8_t protos[] = { REGISTRY_PROTO_TCP, REGISTRY_PROTO_UDP };
    bool first_group = true;
    for (size_t p = 0; p < 2; p++) {
        bool first = true;
        for (size_t i = 0; i < rule->port_count; i++) {
            if (rule->ports[i].proto != protos[p])
                continue;
            fprintf(f, "%s%u", first ? (first_group ? "" : "|") : ",", rule->ports[i].port);
            first = false;
        }
        if (!first) {
            fprintf(f, "/%s", proto_text(protos[p]));
            first_group = false;
        }
    }
}

static int render_ufw(const struct firewall_rules *rules, struct firewall_output *out,
                      struct pr_error *err)
{
    struct text_file t;
    int r = text_open(&t, err);
    if (r < 0)
        return r;
    FILE *f = t.stream;
    write_header(f, rules, "ufw application profiles");
    fputs("# install -m 644 portreg /etc/ufw/applications.d/portreg\n", f);
    for (size_t i = 0; i < rules->service_count; i++) {
        const struct firewall_service_rule *rule = &rules->services[i];
        fprintf(f, "\n[portreg-%s]\ntitle=", rule->ident);
        write_plain(f, rule->service);
        fprintf(f, "\ndescription=%s service", exposure_text(rule->exposure));
        if (rule->description[0]) {
            fputs(": ", f);
            write_plain(f, rule->description);
        }
        fputs("\nports=", f);
        ufw_write_ports(f, rule);
        fputc('\n', f);
    }
    if ((r = text_finish(&t, "portreg", out, err)) < 0)
        return r;

    if ((r = text_open(&t, err)) < 0)
        return r;
    f = t.stream;
    fputs("#!/bin/sh\n", f);
    write_header(f, rules, "ufw");
    fputs("# ufw allows loopback and the ICMP essentials in its before.rules.\n"
          "set -e\n"
          "install -m 644 portreg /etc/ufw/applications.d/portreg\n"
          "ufw default deny incoming\n", f);
    char buf[64];
    for (size_t i = 0; i < rules->service_count; i++) {
        const struct firewall_service_rule *rule = &rules->services[i];
        fprintf(f, "# %s (%s)\nufw app update portreg-%s\n", rule->service,
                exposure_text(rule->exposure), rule->ident);
        size_t sources = rule->any_source ? 1 : rule->source_count;
        size_t dests = rule->any_destination ? 1 : rule->destination_count;
        for (size_t s = 0; s < sources; s++) {
            for (size_t d = 0; d < dests; d++) {
                const struct plan_cidr *src = rule->any_source ? NULL : &rule->sources[s];
                const struct plan_cidr *dst = rule->any_destination ? NULL : &rule->destinations[d];
                if (src && dst && src->family != dst->family)
                    continue;
                char to[64];
                fprintf(f, "ufw allow from %s", src ? firewall_cidr_text(src, buf, sizeof buf) : "any");
                fprintf(f, " to %s app portreg-%s\n",
                        dst ? firewall_cidr_text(dst, to, sizeof to) : "any", rule->ident);
            }
        }
    }
    fputs("ufw --force enable\n", f);
    return text_finish(&t, "commands.sh", out, err);
}

/* ---- iptables-restore: a PORTREG chain per family ---- */

/* multiport takes at most 15 ports per rule. */
#define MULTIPORT_MAX 15

static void iptables_write_accepts(FILE *f, const struct firewall_service_rule *rule,
                                   uint8_t family)
{
    static const uint8_t protos[] = { REGISTRY_PROTO_TCP, REGISTRY_PROTO_UDP };
    char buf[64];
    if (!firewall_rule_opens_family(rule, family))
        return;
    for (size_t p = 0; p < 2; p++) {
        for (size_t start = 0; start < rule->port_count;) {
            char ports[MULTIPORT_MAX * 6 + 1] = "";
            size_t n = 0, i = start, used = 0;
            for (; i < rule->port_count && n < MULTIPORT_MAX; i++) {
                if (rule->ports[i].proto != protos[p])
                    continue;
                used += (size_t)snprintf(ports + used, sizeof ports - used, "%s%u", n ? "," : "",
                                         rule->ports[i].port);
                n++;
            }
            start = i;
            if (n == 0)
                continue;
            for (size_t s = 0; s < rule->source_count || (rule->any_source && s == 0); s++) {
                if (!rule->any_source && rule->sources[s].family != family)
                    continue;
                for (size_t d = 0; d < rule->destination_count ||
                                   (rule->any_destination && d == 0); d++) {
                    if (!rule->any_destination && rule->destinations[d].family != family)
                        continue;
                    fputs("-A PORTREG", f);
                    if (!rule->any_source)
                        fprintf(f, " -s %s", firewall_cidr_text(&rule->sources[s], buf, sizeof buf));
                    if (!rule->any_destination)
                        fprintf(f, " -d %s",
                                firewall_cidr_text(&rule->destinations[d], buf, sizeof buf));
                    fprintf(f, " -p %s -m multiport --dports %s -m comment --comment \"%s\" "
                            "-j ACCEPT\n", proto_text(protos[p]), ports, rule->ident);
                }
            }
        }
    }
}

static int render_iptables_family(const struct firewall_rules *rules, uint8_t family,
                                  struct firewall_output *out, struct pr_error *err)
{
    struct text_file t;
    int r = text_open(&t, err);
    if (r < 0)
        return r;
    FILE *f = t.stream;
    bool v4 = family == AF_INET;
    write_header(f, rules, v4 ? "iptables-restore" : "ip6tables-restore");
    fprintf(f,
            "# Load without flushing other chains, then hook the chain once:\n"
            "#   %s --noflush %s\n"
            "#   %s -C INPUT -j PORTREG 2>/dev/null || %s -I INPUT 1 -j PORTREG\n"
            "*filter\n"
            ":PORTREG - [0:0]\n"
            "-A PORTREG -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
            "-A PORTREG -m conntrack --ctstate INVALID -j DROP\n"
            "-A PORTREG -i lo -j ACCEPT\n",
            v4 ? "iptables-restore" : "ip6tables-restore", v4 ? "rules.v4" : "rules.v6",
            v4 ? "iptables" : "ip6tables", v4 ? "iptables" : "ip6tables");
    if (v4) {
        fputs("-A PORTREG -p icmp --icmp-type destination-unreachable -j ACCEPT\n"
              "-A PORTREG -p icmp --icmp-type time-exceeded -j ACCEPT\n"
              "-A PORTREG -p icmp --icmp-type parameter-problem -j ACCEPT\n"
              "-A PORTREG -p icmp --icmp-type echo-request -m limit --limit 10/second "
              "--limit-burst 20 -j ACCEPT\n", f);
    } else {
        fputs("-A PORTREG -p ipv6-icmp --icmpv6-type destination-unreachable -j ACCEPT\n"
              "-A PORTREG -p ipv6-icmp --icmpv6-type packet-too-big -j ACCEPT\n"
              "-A PORTREG -p ipv6-icmp --icmpv6-type time-exceeded -j ACCEPT\n"
              "-A PORTREG -p ipv6-icmp --icmpv6-type parameter-problem -j ACCEPT\n"
              "-A PORTREG -p ipv6-icmp --icmpv6-type router-advertisement -m hl --hl-eq 255 -j ACCEPT\n"
              "-A PORTREG -p ipv6-icmp --icmpv6-type neighbour-solicitation -m hl --hl-eq 255 -j ACCEPT\n"
              "-A PORTREG -p ipv6-icmp --icmpv6-type neighbour-advertisement -m hl --hl-eq 255 -j ACCEPT\n"
              "-A PORTREG -s fe80::/10 -p ipv6-icmp --icmpv6-type 130 -j ACCEPT\n"
              "-A PORTREG -s fe80::/10 -p ipv6-icmp --icmpv6-type 131 -j ACCEPT\n"
              "-A PORTREG -s fe80::/10 -p ipv6-icmp --icmpv6-type 132 -j ACCEPT\n"
              "-A PORTREG -s fe80::/10 -p ipv6-icmp --icmpv6-type 143 -j ACCEPT\n"
              "-A PORTREG -p ipv6-icmp --icmpv6-type echo-request -m limit --limit 10/second "
              "--limit-burst 20 -j ACCEPT\n", f);
    }
    for (size_t i = 0; i < rules->service_count; i++)
        iptables_write_accepts(f, &rules->services[i], family);
    fputs("-A PORTREG -j DROP\nCOMMIT\n", f);
    return text_finish(&t, v4 ? "rules.v4" : "rules.v6", out, err);
}

static int render_iptables(const struct firewall_rules *rules, struct firewall_output *out,
                           struct pr_error *err)
{
    int r = render_iptables_family(rules, AF_INET, out, err);
    return r < 0 ? r : render_iptables_family(rules, AF_INET6, out, err);
}

/* ---- the format table ---- */

const struct firewall_format firewall_format_nft = {
    .name = "nft",
    .summary = "nftables: one table inet portreg, replaced atomically (portreg.nft)",
    .render = render_nft,
};
const struct firewall_format firewall_format_firewalld = {
    .name = "firewalld",
    .summary = "firewalld: a service XML per service and the zone commands (commands.sh)",
    .render = render_firewalld,
};
const struct firewall_format firewall_format_ufw = {
    .name = "ufw",
    .summary = "ufw: application profiles (portreg) and the allow commands (commands.sh)",
    .render = render_ufw,
};
const struct firewall_format firewall_format_iptables = {
    .name = "iptables",
    .summary = "iptables-restore: a PORTREG chain (rules.v4, rules.v6)",
    .render = render_iptables,
};

const struct firewall_format *const firewall_formats[] = {
    &firewall_format_nft, &firewall_format_firewalld, &firewall_format_ufw,
    &firewall_format_iptables, NULL,
};

const struct firewall_format *firewall_format_find(const char *name)
{
    for (size_t i = 0; firewall_formats[i]; i++)
        if (strcmp(firewall_formats[i]->name, name) == 0)
            return firewall_formats[i];
    return NULL;
}

int firewall_render(const struct firewall_rules *rules, const char *format,
                    struct firewall_output *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    const struct firewall_format *f = firewall_format_find(format);
    if (!f) {
        pr_error_set(err, -EINVAL, "unknown firewall format '%s' (nft, firewalld, ufw, iptables)",
                     format);
        pr_error_set_path(err, "--format");
        return -EINVAL;
    }
    int r = f->render(rules, out, err);
    if (r < 0)
        firewall_output_free(out);
    return r;
}
