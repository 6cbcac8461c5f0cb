/* scan_output.c — the scan's table, JSON, NDJSON and the --local comparison (scan_output.h),
 * and what every format shares: the walk over hosts (--open), names as typed, nmap's names of
 * services and reasons. Closed ports are counted, not listed ("not shown: 65532 closed", as
 * nmap); --ndjson lists every probe. Piped, the table is plain tab-separated rows, one per
 * port shown, as `portreg ls` piped. */
#include "scan_output.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/inspect.h"
#include "registry/record.h"
#include "util/json_writer.h"
#include "util/text_escape.h"

/* Show at most this many filtered (or open|filtered) ports of a host before summarising. */
#define LIST_LIMIT 25

const char *scan_cli_service(const struct scan_cli_view *v, uint16_t port, uint8_t proto)
{
    if (!v->view || !v->view->registry)
        return NULL;
    struct socket_entry probe = { .proto = proto, .local_port = port };
    return socket_view_service(v->view, &probe);
}

const char *scan_cli_reason(uint8_t reason, uint8_t icmp_type, uint8_t icmp_code, int error,
                            char *buf, size_t size)
{
    if (reason == SCAN_REASON_ICMP)
        snprintf(buf, size, "icmp %u/%u", icmp_type, icmp_code);
    else if (reason == SCAN_REASON_LOCAL_ERROR && error)
        snprintf(buf, size, "error %s", strerrorname_np(error) ? strerrorname_np(error) : "?");
    else
        snprintf(buf, size, "%s", scan_reason_name(reason));
    return buf;
}

static const char *rtt_text(uint32_t rtt_us, char *buf, size_t size)
{
    if (!rtt_us)
        snprintf(buf, size, "-");
    else if (rtt_us < 10000)
        snprintf(buf, size, "%.2f ms", rtt_us / 1000.0);
    else
        snprintf(buf, size, "%.0f ms", rtt_us / 1000.0);
    return buf;
}

/* An escaped banner cut to width bytes at a whole escape or character. */
static const char *banner_text(const char *escaped, size_t len, char *buf, size_t width)
{
    size_t n = text_escaped_prefix(escaped, len, width);
    memcpy(buf, escaped, n);
    buf[n] = '\0';
    return buf;
}

static const char *address_of(const struct scan_cli_view *v, uint64_t target, char *buf, size_t size)
{
    struct scan_address a;
    target_set_get(v->collect->targets, target, &a);
    return scan_address_format(&a, buf, size);
}

const char *scan_host_address(const struct scan_cli_view *v, uint64_t target, char *buf, size_t size)
{
    return address_of(v, target, buf, size);
}

const char *scan_host_name(const struct scan_cli_view *v, uint64_t target)
{
    struct scan_address a;
    target_set_get(v->collect->targets, target, &a);
    return target_set_name(v->collect->targets, &a);
}

bool scan_port_shown(const struct scan_cli_view *v, const struct scan_kept *k)
{
    return !v->only_open || k->state == SCAN_STATE_OPEN || k->state == SCAN_STATE_OPEN_FILTERED;
}

bool scan_next_host(const struct scan_cli_view *v, struct scan_host_cursor *cursor, bool every_target,
                    uint64_t *target_out, size_t *from, size_t *to)
{
    const struct scan_collect *c = v->collect;
    uint64_t limit = c->hosts ? c->targets->total : 0;
    while (cursor->next_target < limit || cursor->next_kept < c->kept_count) {
        size_t i = cursor->next_kept;
        uint64_t target = i < c->kept_count ? c->kept[i].target : UINT64_MAX;
        bool listed = true;
        if (cursor->next_target < limit && cursor->next_target < target) {
            target = cursor->next_target;
            if (!every_target) {   /* a host without results is another shard's */
                listed = false;
                for (int st = 0; st < SCAN_STATE_COUNT; st++)
                    listed |= c->hosts[target].state[st] != 0;
            }
        }
        size_t end = i;
        while (end < c->kept_count && c->kept[end].target == target)
            end++;
        cursor->next_kept = end;
        cursor->next_target = target + 1;
        if (listed && v->only_open) {
            listed = false;
            for (size_t k = i; k < end && !listed; k++)
                listed = scan_port_shown(v, &c->kept[k]);
        }
        if (listed) {
            *target_out = target;
            *from = i;
            *to = end;
            return true;
        }
    }
    return false;
}

const char *scan_cli_nmap_service(const struct scan_cli_view *v, uint16_t port, uint8_t proto)
{
    if (!v->view || !v->view->registry)
        return NULL;
    const char *name = "";
    registry_index_frequency(v->view->registry, port, proto, &name, NULL);
    return name && name[0] ? name : "unknown";
}

const char *scan_cli_nmap_reason(uint8_t reason, uint8_t icmp_type, uint8_t icmp_code, char *buf, size_t size)
{
    switch (reason) {
    case SCAN_REASON_SYN_ACK:
    case SCAN_REASON_CONNECTED: return "syn-ack";
    case SCAN_REASON_RST: return "reset";
    case SCAN_REASON_CONN_REFUSED: return "conn-refused";
    case SCAN_REASON_TIMEOUT: return "no-response";
    case SCAN_REASON_UDP_RESPONSE: return "udp-response";
    case SCAN_REASON_ICMP:
        if ((icmp_type == 3 && icmp_code == 3) || (icmp_type == 1 && icmp_code == 4))
            return "port-unreach";
        if ((icmp_type == 3 && (icmp_code == 9 || icmp_code == 10 || icmp_code == 13)) ||
            (icmp_type == 1 && icmp_code == 1))
            return "admin-prohibited";
        if ((icmp_type == 3 && icmp_code == 1) || (icmp_type == 1 && icmp_code == 3))
            return "host-unreach";
        if (icmp_type == 3 && icmp_code == 0)
            return "net-unreach";
        if (icmp_type == 3 && icmp_code == 2)
            return "proto-unreach";
        snprintf(buf, size, "icmp-%u-%u", icmp_type, icmp_code);
        return buf;
    default: return scan_reason_name(reason);
    }
}

const char *scan_cli_closed_reason(const struct scan_engine *engine)
{
    return engine->proto == REGISTRY_PROTO_UDP ? "port-unreach"
           : strcmp(engine->name, "connect") == 0 ? "conn-refused" : "reset";
}

void scan_cli_time_text(time_t when, char *buf, size_t size)
{
    struct tm tm;
    localtime_r(&when, &tm);
    strftime(buf, size, "%a %b %e %H:%M:%S %Y", &tm);
}

void scan_output_nmap_report(const struct scan_cli_view *v, const struct scan_run_info *info, FILE *out,
                             void (*write_host)(const struct scan_cli_view *, uint64_t, size_t, size_t, FILE *))
{
    char when[64];
    scan_cli_time_text(info->started, when, sizeof when);
    fprintf(out, "# portreg %s scan initiated %s as: %s\n", PORTREG_VERSION, when,
            info->args ? info->args : "portreg scan");
    struct scan_host_cursor cursor = { 0 };
    uint64_t target;
    size_t from, to;
    while (scan_next_host(v, &cursor, false, &target, &from, &to))
        write_host(v, target, from, to, out);
    struct scan_cli_view every = *v;
    every.only_open = false;
    uint64_t up = 0;
    cursor = (struct scan_host_cursor){ 0 };
    while (scan_next_host(&every, &cursor, false, &target, &from, &to))
        up++;
    uint64_t total = v->collect->targets->total;
    scan_cli_time_text(info->started + (time_t)info->elapsed, when, sizeof when);
    fprintf(out, "# portreg done at %s -- %" PRIu64 " IP address%s (%" PRIu64 " host%s up) scanned in %.2f seconds\n",
            when, total, total == 1 ? "" : "es", up, up == 1 ? "" : "s", info->elapsed);
}

/* "1-3,7,9-10" from the ascending port list (nmap's scaninfo services attribute). */
char *scan_ports_text(const uint16_t *ports, size_t count)
{
    size_t size = count * 12 + 1, used = 0;
    char *text = malloc(size);
    if (!text)
        return NULL;
    text[0] = '\0';
    for (size_t i = 0; i < count;) {
        size_t j = i;
        while (j + 1 < count && ports[j + 1] == ports[j] + 1)
            j++;
        if (j > i)
            used += (size_t)snprintf(text + used, size - used, "%s%u-%u", used ? "," : "", ports[i], ports[j]);
        else
            used += (size_t)snprintf(text + used, size - used, "%s%u", used ? "," : "", ports[i]);
        i = j + 1;
    }
    return text;
}

/* ---- table ---- */

static void print_counts(const uint32_t *state)
{
    bool first = true;
    static const int order[] = { SCAN_STATE_OPEN, SCAN_STATE_OPEN_FILTERED, SCAN_STATE_FILTERED,
                                 SCAN_STATE_CLOSED, SCAN_STATE_ERROR };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (state[order[i]]) {
            printf("%s%u %s", first ? "" : ", ", state[order[i]], scan_state_name(order[i]));
            first = false;
        }
}

/* "localhost (127.0.0.1)" as nmap's report, or the address alone. */
static const char *host_label(const struct scan_cli_view *v, uint64_t target, char *buf, size_t size)
{
    char addr[64];
    const char *name = scan_host_name(v, target);
    address_of(v, target, addr, sizeof addr);
    if (name)
        snprintf(buf, size, "%s (%s)", name, addr);
    else
        snprintf(buf, size, "%s", addr);
    return buf;
}

/* One host: its counts, then its ports other than closed; a host with every port closed is
 * its line of counts alone ("::1  100 closed"). */
static void print_host(const struct cli_context *ctx, const struct scan_cli_view *v, uint64_t target,
                       size_t from, size_t to)
{
    const struct scan_collect *c = v->collect;
    char label[320], reason[48], rtt[32], banner[64];
    printf("\n%s%s%s", cli_bold(ctx), host_label(v, target, label, sizeof label), cli_reset(ctx));
    if (c->hosts) {
        printf("  ");
        print_counts(c->hosts[target].state);
    }
    printf("\n");
    uint32_t filtered = 0, open_filtered = 0, shown = 0;
    bool has_banner = false;
    for (size_t i = from; i < to; i++) {
        if (!scan_port_shown(v, &c->kept[i]))
            continue;
        shown++;
        filtered += c->kept[i].state == SCAN_STATE_FILTERED;
        open_filtered += c->kept[i].state == SCAN_STATE_OPEN_FILTERED;
        has_banner |= c->kept[i].banner_len > 0;
    }
    if (shown == 0)
        return;
    printf("  %-11s %-14s %-16s %-18s %-9s%s\n", "PORT", "STATE", "SERVICE", "REASON", "RTT",
           has_banner ? " BANNER" : "");
    for (size_t i = from; i < to; i++) {
        const struct scan_kept *k = &c->kept[i];
        if (!scan_port_shown(v, k) || (k->state == SCAN_STATE_FILTERED && filtered > LIST_LIMIT) ||
            (k->state == SCAN_STATE_OPEN_FILTERED && open_filtered > LIST_LIMIT))
            continue;
        char port[16];
        snprintf(port, sizeof port, "%u/%s", k->port, registry_proto_name(k->proto));
        const char *service = scan_cli_service(v, k->port, k->proto);
        printf("  %-11s %s%-14s%s %-16s %-18s %-9s", port, k->state == SCAN_STATE_OPEN ? cli_green(ctx) : "",
               scan_state_name(k->state), k->state == SCAN_STATE_OPEN ? cli_reset(ctx) : "",
               service ? service : "-", scan_cli_reason(k->reason, k->icmp_type, k->icmp_code, k->error,
                                                        reason, sizeof reason),
               rtt_text(k->rtt_us, rtt, sizeof rtt));
        if (k->banner_len)
            printf(" %s", banner_text(c->banners + k->banner_offset, k->banner_len, banner, sizeof banner - 1));
        printf("\n");
    }
    if (filtered > LIST_LIMIT)
        printf("  not shown: %u filtered\n", filtered);
    if (open_filtered > LIST_LIMIT)
        printf("  not shown: %u open|filtered\n", open_filtered);
    if (c->hosts && c->hosts[target].state[SCAN_STATE_CLOSED]) {
        uint32_t closed = c->hosts[target].state[SCAN_STATE_CLOSED], udp = c->hosts[target].closed_udp;
        if (v->pass_count > 1)
            printf("  not shown: %u closed tcp, %u closed udp\n", closed - udp, udp);
        else
            printf("  not shown: %u closed\n", closed);
    }
}

/* Piped: one row per port shown, no header, no counts, as `portreg ls` piped:
 * ADDRESS NAME PORT PROTO STATE SERVICE REASON RTT_MS [BANNER], "-" for an empty cell; the
 * whole banner (escaped: no tab or newline in it). */
static void print_plain_rows(const struct scan_cli_view *v)
{
    const struct scan_collect *c = v->collect;
    struct scan_host_cursor cursor = { 0 };
    uint64_t target;
    size_t from, to;
    while (scan_next_host(v, &cursor, false, &target, &from, &to)) {
        char addr[64], reason[48];
        address_of(v, target, addr, sizeof addr);
        const char *name = scan_host_name(v, target);
        for (size_t i = from; i < to; i++) {
            const struct scan_kept *k = &c->kept[i];
            if (!scan_port_shown(v, k))
                continue;
            const char *service = scan_cli_service(v, k->port, k->proto);
            printf("%s\t%s\t%u\t%s\t%s\t%s\t%s\t", addr, name ? name : "-", k->port,
                   registry_proto_name(k->proto), scan_state_name(k->state), service ? service : "-",
                   scan_cli_reason(k->reason, k->icmp_type, k->icmp_code, k->error, reason, sizeof reason));
            if (k->rtt_us)
                printf("%.3f", k->rtt_us / 1000.0);
            else
                fputs("-", stdout);
            if (v->banners) {
                putchar('\t');
                if (k->banner_len)
                    fwrite(c->banners + k->banner_offset, 1, k->banner_len, stdout);
                else
                    putchar('-');
            }
            putchar('\n');
        }
    }
}

static const char *const local_diff_kinds[] = { "open-without-listener", "listener-not-reached",
                                                 "bound-elsewhere" };

/* Piped, after the port rows: KIND ADDRESS PORT PROTO STATE EXPLANATION per difference (the
 * first column is never an address). */
static void print_plain_diffs(const struct scan_cli_view *v, const struct local_diffs *diffs)
{
    for (size_t i = 0; i < diffs->count; i++) {
        const struct local_diff *d = &diffs->items[i];
        char addr[64];
        printf("%s\t%s\t%u\t%s\t%s\t%s\n", local_diff_kinds[d->kind], address_of(v, d->target, addr, sizeof addr),
               d->port, registry_proto_name(d->proto), scan_state_name(d->state), d->explanation);
    }
}

static void print_diffs(const struct scan_cli_view *v, const struct local_diffs *diffs)
{
    printf("\ncompared with this host's sockets (%" PRIu64 " address:port pair%s): ", diffs->compared,
           diffs->compared == 1 ? "" : "s");
    if (diffs->count == 0) {
        printf("no differences\n");
        return;
    }
    printf("%zu difference%s\n", diffs->count, diffs->count == 1 ? "" : "s");
    for (size_t i = 0; i < diffs->count; i++) {
        const struct local_diff *d = &diffs->items[i];
        char addr[64];
        printf("  %s %u/%s %s: %s\n", address_of(v, d->target, addr, sizeof addr), d->port,
               registry_proto_name(d->proto), scan_state_name(d->state), d->explanation);
    }
}

void scan_output_table(const struct cli_context *ctx, const struct scan_cli_view *v,
                       const struct scan_run_info *info, const struct local_diffs *diffs)
{
    const struct scan_collect *c = v->collect;
    if (!ctx->stdout_is_tty) {   /* the contract: plain columns when piped */
        print_plain_rows(v);
        if (diffs)
            print_plain_diffs(v, diffs);
        return;
    }
    uint64_t hosts = c->targets->total;
    /* "3 tcp ports, connect engine"; -sS -sU: "3 tcp + 2 udp ports, syn and udp engines" */
    char ports[96] = "", engines[64] = "";
    size_t last_count = 0;
    for (size_t i = 0; i < v->pass_count; i++) {
        const struct scan_pass *pass = &v->passes[i];
        size_t used = strlen(ports), used_engines = strlen(engines);
        snprintf(ports + used, sizeof ports - used, "%s%zu %s", i ? " + " : "", pass->port_count,
                 registry_proto_name(pass->engine->proto));
        snprintf(engines + used_engines, sizeof engines - used_engines, "%s%s", i ? " and " : "",
                 pass->engine->name);
        last_count = pass->port_count;
    }
    printf("%sportreg scan%s: %" PRIu64 " host%s x %s port%s, %s engine%s, %.2f s (%.0f probes/s)",
           cli_bold(ctx), cli_reset(ctx), hosts, hosts == 1 ? "" : "s", ports,
           last_count == 1 && v->pass_count == 1 ? "" : "s", engines, v->pass_count > 1 ? "s" : "",
           info->elapsed, info->elapsed > 0 ? (double)info->probes / info->elapsed : 0.0);
    if (info->shard_count > 1)
        printf(", shard %u/%u", info->shard_index + 1, info->shard_count);
    printf("\n");
    /* every host with a result, in target order (as the JSON): those with ports to list and
     * those with every port closed; without per-host counts (huge scans) only the former */
    uint64_t shown_hosts = 0;
    struct scan_host_cursor cursor = { 0 };
    uint64_t target;
    size_t from, to;
    while (scan_next_host(v, &cursor, false, &target, &from, &to)) {
        print_host(ctx, v, target, from, to);
        shown_hosts++;
    }
    printf("\n");
    print_counts((const uint32_t[SCAN_STATE_COUNT]){
        (uint32_t)c->totals[0], (uint32_t)c->totals[1], (uint32_t)c->totals[2],
        (uint32_t)c->totals[3], (uint32_t)c->totals[4] });
    if (hosts > shown_hosts && !c->hosts && !v->only_open)
        printf("%s%" PRIu64 " host%s with every port closed", c->results ? "; " : "",
               hosts - shown_hosts, hosts - shown_hosts == 1 ? "" : "s");
    if (v->only_open)
        printf("; --open: %" PRIu64 " host%s with a port open or open|filtered shown", shown_hosts,
               shown_hosts == 1 ? "" : "s");
    printf("\n");
    if (info->queue_full_corrected)
        printf("%" PRIu64 " port%s open with a full accept queue: the kernel dropped the probe, the "
               "socket table shows the listener\n", info->queue_full_corrected,
               info->queue_full_corrected == 1 ? " is" : "s are");
    if (diffs)
        print_diffs(v, diffs);
}

/* ---- JSON ---- */

static json_t *result_json(const struct scan_cli_view *v, uint16_t port, uint8_t proto, uint8_t state,
                           uint8_t reason, uint8_t icmp_type, uint8_t icmp_code, uint8_t ttl,
                           uint32_t rtt_us, int error, const char *banner, size_t banner_len)
{
    json_t *o = json_object();
    char text[48];
    json_object_set_new(o, "port", json_integer(port));
    json_object_set_new(o, "proto", json_string(registry_proto_name(proto)));
    json_object_set_new(o, "state", json_string(scan_state_name(state)));
    json_object_set_new(o, "reason", json_string(scan_reason_name(reason)));
    const char *service = scan_cli_service(v, port, proto);
    json_object_set_new(o, "service", json_text(service));
    json_object_set_new(o, "rtt_ms", rtt_us ? json_real(rtt_us / 1000.0) : json_null());
    json_object_set_new(o, "ttl", ttl ? json_integer(ttl) : json_null());
    if (reason == SCAN_REASON_ICMP) {
        json_t *icmp = json_object();
        json_object_set_new(icmp, "type", json_integer(icmp_type));
        json_object_set_new(icmp, "code", json_integer(icmp_code));
        json_object_set_new(o, "icmp", icmp);
    } else {
        json_object_set_new(o, "icmp", json_null());
    }
    json_object_set_new(o, "error", error ? json_string(scan_cli_reason(SCAN_REASON_LOCAL_ERROR, 0, 0, error,
                                                                         text, sizeof text) + 6)
                                          : json_null());
    /* banner is escaped text (collect.c, scan_output_ndjson_line): json_textn never drops it */
    json_object_set_new(o, "banner", banner_len ? json_textn(banner, banner_len) : json_null());
    return o;
}

static json_t *counts_json(const uint32_t *state)
{
    json_t *o = json_object();
    for (int s = 0; s < SCAN_STATE_COUNT; s++)
        json_object_set_new(o, scan_state_name(s), json_integer(state[s]));
    return o;
}

static json_t *diffs_json(const struct scan_cli_view *v, const struct local_diffs *diffs)
{
    json_t *a = json_array();
    for (size_t i = 0; i < diffs->count; i++) {
        const struct local_diff *d = &diffs->items[i];
        char addr[64];
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(local_diff_kinds[d->kind]));
        json_object_set_new(o, "address", json_string(address_of(v, d->target, addr, sizeof addr)));
        json_object_set_new(o, "port", json_integer(d->port));
        json_object_set_new(o, "proto", json_string(registry_proto_name(d->proto)));
        json_object_set_new(o, "state", json_string(scan_state_name(d->state)));
        /* texts with process names in them, possibly cut by snprintf: json_text keeps the key */
        json_object_set_new(o, "listener", d->listener[0] ? json_text(d->listener) : json_null());
        json_object_set_new(o, "explanation", json_text(d->explanation));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *timing_json(const struct scan_timing_info *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "template", t->template_name ? json_string(t->template_name) : json_null());
    json_object_set_new(o, "level", t->template_level >= 0 ? json_integer(t->template_level) : json_null());
    json_object_set_new(o, "rate", json_real(t->rate_pps));
    json_object_set_new(o, "max_inflight", t->max_inflight ? json_integer(t->max_inflight) : json_null());
    json_object_set_new(o, "threads", t->threads ? json_integer(t->threads) : json_null());
    json_object_set_new(o, "timeout_ms", json_integer(t->timeout_ms));
    json_object_set_new(o, "initial_timeout_ms", json_integer(t->initial_timeout_ms));
    json_object_set_new(o, "min_timeout_ms", json_integer(t->min_timeout_ms));
    json_object_set_new(o, "retries", json_integer(t->retries));
    return o;
}

/* Streamed: one host object at a time is built and written, so a /16 does not hold 65,536
 * host objects in memory (the document is the same as one json_dumpf of the whole). */
void scan_output_json(const struct cli_context *ctx, const struct scan_cli_view *v,
                      const struct scan_run_info *info, const struct local_diffs *diffs)
{
    const struct scan_collect *c = v->collect;
    size_t flags = (ctx->stdout_is_tty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_REAL_PRECISION(6);
    json_t *scan = json_object();
    /* one pass: "engine", "proto", "ports", "port_list" of it; -sS -sU: "engine" and "proto"
     * join the passes ("syn,udp", "tcp,udp"), "ports" counts both, and "passes" has each */
    char engines[64] = "", protos[32] = "";
    size_t port_total = 0;
    json_t *passes = json_array();
    for (size_t i = 0; i < v->pass_count; i++) {
        const struct scan_pass *pass = &v->passes[i];
        size_t used = strlen(engines), used_protos = strlen(protos);
        snprintf(engines + used, sizeof engines - used, "%s%s", i ? "," : "", pass->engine->name);
        snprintf(protos + used_protos, sizeof protos - used_protos, "%s%s", i ? "," : "",
                 registry_proto_name(pass->engine->proto));
        port_total += pass->port_count;
        json_t *o = json_object();
        json_object_set_new(o, "engine", json_string(pass->engine->name));
        json_object_set_new(o, "proto", json_string(registry_proto_name(pass->engine->proto)));
        json_object_set_new(o, "ports", json_integer((json_int_t)pass->port_count));
        json_object_set_new(o, "probes", json_integer((json_int_t)pass->probes));
        char *list = scan_ports_text(pass->ports, pass->port_count);
        json_object_set_new(o, "port_list", list ? json_string(list) : json_null());
        free(list);
        json_array_append_new(passes, o);
    }
    json_object_set_new(scan, "engine", json_string(engines));
    if (v->pass_count == 1)   /* plan diff --scan reads it: a scan of both has none */
        json_object_set_new(scan, "proto", json_string(protos));
    json_object_set_new(scan, "targets", json_integer((json_int_t)c->targets->total));
    json_object_set_new(scan, "ports", json_integer((json_int_t)port_total));
    json_object_set_new(scan, "probes", json_integer((json_int_t)info->probes));
    json_object_set_new(scan, "elapsed_s", json_real(info->elapsed));
    char shard[32];
    snprintf(shard, sizeof shard, "%u/%u", info->shard_index + 1, info->shard_count);
    json_object_set_new(scan, "shard", json_string(shard));
    json_object_set_new(scan, "seed", json_integer((json_int_t)info->seed));
    /* With per-host counts every scanned host is listed (those with every port closed too)
     * and scan.port_list says which ports were probed, so a reader such as `plan diff` can
     * tell "closed" from "not scanned". */
    if (c->hosts && v->pass_count == 1) {
        char *list = scan_ports_text(v->passes[0].ports, v->passes[0].port_count);
        json_object_set_new(scan, "port_list", list ? json_string(list) : json_null());
        free(list);
    }
    json_object_set_new(scan, "passes", passes);
    json_object_set_new(scan, "open_only", json_boolean(v->only_open));
    json_object_set_new(scan, "timing", timing_json(&info->timing));
    fputs("{\"scan\":", stdout);
    json_dumpf(scan, stdout, flags);
    json_decref(scan);
    fputs(",\"hosts\":[", stdout);
    struct scan_host_cursor cursor = { 0 };
    uint64_t target;
    size_t from, to;
    bool first = true;
    while (scan_next_host(v, &cursor, true, &target, &from, &to)) {
        char addr[64];
        json_t *h = json_object();
        json_object_set_new(h, "address", json_string(address_of(v, target, addr, sizeof addr)));
        const char *name = scan_host_name(v, target);
        json_object_set_new(h, "name", name ? json_text(name) : json_null());
        json_object_set_new(h, "counts", c->hosts ? counts_json(c->hosts[target].state) : json_null());
        json_t *ports = json_array();
        for (size_t k = from; k < to; k++) {
            const struct scan_kept *e = &c->kept[k];
            if (!scan_port_shown(v, e))
                continue;
            json_array_append_new(ports, result_json(v, e->port, e->proto, e->state, e->reason, e->icmp_type,
                                                     e->icmp_code, e->reply_ttl, e->rtt_us, e->error,
                                                     c->banners + e->banner_offset, e->banner_len));
        }
        json_object_set_new(h, "ports", ports);
        if (!first)
            fputc(',', stdout);
        first = false;
        json_dumpf(h, stdout, flags);
        json_decref(h);
    }
    uint32_t totals[SCAN_STATE_COUNT];
    for (int st = 0; st < SCAN_STATE_COUNT; st++)
        totals[st] = (uint32_t)c->totals[st];
    json_t *summary = counts_json(totals);
    json_object_set_new(summary, "accept_queue_full", json_integer((json_int_t)info->queue_full_corrected));
    fputs("],\"summary\":", stdout);
    json_dumpf(summary, stdout, flags);
    json_decref(summary);
    if (diffs) {
        json_t *local = diffs_json(v, diffs);
        fputs(",\"local\":", stdout);
        json_dumpf(local, stdout, flags);
        json_decref(local);
    }
    fputs("}\n", stdout);
}

void scan_output_ndjson_line(const struct scan_cli_view *v, const struct scan_result *r)
{
    char addr[64], banner[SCAN_BANNER_MAX * 4 + 1];
    size_t banner_len = text_escape(r->banner, r->banner_len < SCAN_BANNER_MAX ? r->banner_len : SCAN_BANNER_MAX,
                                    banner, sizeof banner);
    json_t *o = result_json(v, r->port, r->proto, r->state, r->reason, r->icmp_type, r->icmp_code,
                            r->reply_ttl, r->rtt_us, r->error, banner, banner_len);
    json_object_set_new(o, "address", json_string(scan_address_format(&r->target, addr, sizeof addr)));
    const char *name = target_set_name(v->collect->targets, &r->target);
    json_object_set_new(o, "name", name ? json_text(name) : json_null());
    json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(o);
}

/* ---- --local ---- */

static const struct scan_kept *kept_find(const struct scan_collect *c, uint64_t target, uint16_t port,
                                         uint8_t proto)
{
    size_t lo = 0, hi = c->kept_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct scan_kept *k = &c->kept[mid];
        if (k->target < target || (k->target == target && (k->port < port || (k->port == port && k->proto < proto))))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->kept_count && c->kept[lo].target == target && c->kept[lo].port == port &&
           c->kept[lo].proto == proto ? &c->kept[lo] : NULL;
}

static bool is_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static bool accepts_on(const struct socket_entry *s, const struct scan_address *a)
{
    if (s->family == a->family) {
        size_t n = a->family == AF_INET ? 4 : 16;
        return is_zero(s->local_addr, n) || memcmp(s->local_addr, a->bytes, n) == 0;
    }
    return a->family == AF_INET && s->family == AF_INET6 && !s->v6only && is_zero(s->local_addr, 16);
}

static void describe_listener(const struct inspect_result *res, size_t i, char *buf, size_t size)
{
    const struct socket_entry *s = &res->sockets.items[i];
    char addr[64];
    socket_address_text(s->family, s->local_addr, addr, sizeof addr);
    const struct process_info *p = res->processes_looked_up && res->holder_count[i]
                                   ? inspect_process(res, res->holders[res->holder_start[i]].pid) : NULL;
    if (p)
        snprintf(buf, size, s->family == AF_INET6 ? "[%s]:%u held by %s (pid %u)" : "%s:%u held by %s (pid %u)",
                 addr, s->local_port, p->comm, p->pid);
    else
        snprintf(buf, size, s->family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr, s->local_port);
}

static int add_diff(struct local_diffs *out, enum local_diff_kind kind, uint64_t target, uint16_t port,
                    uint8_t proto, uint8_t state, uint8_t reason)
{
    if (out->count == out->capacity) {
        size_t capacity = out->capacity ? out->capacity * 2 : 16;
        struct local_diff *items = realloc(out->items, capacity * sizeof *items);
        if (!items)
            return -ENOMEM;
        out->items = items;
        out->capacity = capacity;
    }
    struct local_diff *d = &out->items[out->count++];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->target = target;
    d->port = port;
    d->proto = proto;
    d->state = state;
    d->reason = reason;
    return 0;
}

static int compare_pass(const struct scan_cli_view *v, const struct scan_pass *pass,
                        const struct host_addresses *host, struct local_diffs *out, struct pr_error *err);

int scan_local_compare(const struct scan_cli_view *v, const struct host_addresses *host,
                       struct local_diffs *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < v->pass_count; i++) {
        int rc = compare_pass(v, &v->passes[i], host, out, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int compare_pass(const struct scan_cli_view *v, const struct scan_pass *pass,
                        const struct host_addresses *host, struct local_diffs *out, struct pr_error *err)
{
    const struct scan_collect *c = v->collect;
    uint8_t proto = pass->engine->proto;
    struct inspect_options opt = { .processes = true };
    opt.query.protos = 1u << proto;
    opt.query.states = 1u << (proto == REGISTRY_PROTO_TCP ? SOCKET_STATE_LISTEN : SOCKET_STATE_CLOSE);
    struct inspect_result res;
    int rc = inspect_run(&opt, &res, err);
    if (rc < 0)
        return rc;
    uint64_t total = c->targets->total;
    for (uint64_t t = 0; t < total && t < 65536 && rc == 0; t++) {
        struct scan_address a;
        target_set_get(c->targets, t, &a);
        if (!host_addresses_has(host, &a))
            continue;
        for (size_t pi = 0; pi < pass->port_count && rc == 0; pi++) {
            uint16_t port = pass->ports[pi];
            out->compared++;
            const struct scan_kept *k = kept_find(c, t, port, proto);
            uint8_t state = k ? k->state : SCAN_STATE_CLOSED;
            uint8_t reason = k ? k->reason : SCAN_REASON_NONE;
            ssize_t accepting = -1, elsewhere = -1;
            for (size_t i = 0; i < res.sockets.count; i++) {
                const struct socket_entry *s = &res.sockets.items[i];
                if (s->local_port != port)
                    continue;
                if (accepts_on(s, &a))
                    accepting = (ssize_t)i;
                else if (elsewhere < 0)
                    elsewhere = (ssize_t)i;
            }
            bool open = state == SCAN_STATE_OPEN || state == SCAN_STATE_OPEN_FILTERED;
            if (open && accepting < 0 && state == SCAN_STATE_OPEN) {
                rc = add_diff(out, LOCAL_DIFF_OPEN_WITHOUT_LISTENER, t, port, proto, state, reason);
                if (rc == 0)
                    snprintf(out->items[out->count - 1].explanation, sizeof out->items[0].explanation,
                             "open, but no socket of this namespace accepts on it: forwarded (DNAT, a "
                             "container port mapping or a transparent proxy)");
            } else if (!open && accepting >= 0 && state != SCAN_STATE_ERROR) {
                rc = add_diff(out, LOCAL_DIFF_LISTENER_NOT_REACHED, t, port, proto, state, reason);
                if (rc == 0) {
                    struct local_diff *d = &out->items[out->count - 1];
                    describe_listener(&res, (size_t)accepting, d->listener, sizeof d->listener);
                    snprintf(d->explanation, sizeof d->explanation, "%s listens, but the probe was %s: %s",
                             d->listener, state == SCAN_STATE_CLOSED ? "refused" : "not answered",
                             state == SCAN_STATE_CLOSED ? "rejected by the firewall"
                                                        : "dropped by the firewall");
                }
            } else if (!open && elsewhere >= 0 && accepting < 0) {
                rc = add_diff(out, LOCAL_DIFF_BOUND_ELSEWHERE, t, port, proto, state, reason);
                if (rc == 0) {
                    struct local_diff *d = &out->items[out->count - 1];
                    describe_listener(&res, (size_t)elsewhere, d->listener, sizeof d->listener);
                    snprintf(d->explanation, sizeof d->explanation, "bound to another address only (%s), "
                             "so not reachable on this one", d->listener);
                }
            }
        }
    }
    inspect_result_free(&res);
    if (rc < 0)
        return pr_error_set(err, rc, "out of memory");
    return 0;
}

void local_diffs_free(struct local_diffs *diffs)
{
    free(diffs->items);
    memset(diffs, 0, sizeof *diffs);
}
