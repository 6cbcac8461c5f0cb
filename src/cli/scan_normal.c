/* scan_normal.c — `portreg scan -oN FILE`: nmap's normal output ("scan report for localhost
 * (127.0.0.1)", "Not shown: 997 closed tcp ports (conn-refused)", a PORT STATE SERVICE table,
 * REASON with --reason), with nmap-services' names as -oX; and the one way -oN and -oG files
 * are written: into a memory stream, then through util/file_io.h (atomic replace, "-" is
 * stdout), as -oX. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/record.h"
#include "scan_output.h"
#include "util/file_io.h"

/* Filtered or open|filtered ports of one host beyond this many are a "Not shown" count. */
#define NORMAL_LIST_LIMIT 25

struct normal_row {
    char port[16], state[16], service[64], reason[64];
    const struct scan_kept *kept;
};

static bool row_collapsed(const struct scan_kept *k, const uint32_t *count_by_state)
{
    return (k->state == SCAN_STATE_FILTERED || k->state == SCAN_STATE_OPEN_FILTERED) &&
           count_by_state[k->state] > NORMAL_LIST_LIMIT;
}

/* "Not shown: 998 closed tcp ports (reset), 30 filtered tcp ports (no-response)" */
static void not_shown_line(const struct scan_cli_view *v, uint64_t target, size_t from, size_t to,
                           const uint32_t *count_by_state, FILE *out)
{
    const struct scan_collect *c = v->collect;
    bool first = true;
    if (c->hosts) {
        for (size_t i = 0; i < v->pass_count; i++) {
            const struct scan_engine *e = v->passes[i].engine;
            uint32_t closed = c->hosts[target].state[SCAN_STATE_CLOSED], udp = c->hosts[target].closed_udp;
            uint32_t n = e->proto == REGISTRY_PROTO_UDP ? udp : closed - udp;
            if (!n)
                continue;
            fprintf(out, "%s%u closed %s port%s (%s)", first ? "Not shown: " : ", ", n,
                    registry_proto_name(e->proto), n == 1 ? "" : "s", scan_cli_closed_reason(e));
            first = false;
        }
    }
    static const uint8_t collapsible[] = { SCAN_STATE_FILTERED, SCAN_STATE_OPEN_FILTERED };
    for (size_t s = 0; s < sizeof collapsible; s++) {
        if (count_by_state[collapsible[s]] <= NORMAL_LIST_LIMIT || (v->only_open && collapsible[s] == SCAN_STATE_FILTERED))
            continue;
        for (uint8_t proto = 0; proto < REGISTRY_PROTO_COUNT; proto++) {
            uint32_t n = 0;
            const struct scan_kept *example = NULL;
            for (size_t i = from; i < to; i++)
                if (c->kept[i].state == collapsible[s] && c->kept[i].proto == proto) {
                    n++;
                    example = &c->kept[i];
                }
            if (!n)
                continue;
            char buf[32];
            fprintf(out, "%s%u %s %s port%s (%s)", first ? "Not shown: " : ", ", n, scan_state_name(collapsible[s]),
                    registry_proto_name(proto), n == 1 ? "" : "s",
                    scan_cli_nmap_reason(example->reason, example->icmp_type, example->icmp_code, buf, sizeof buf));
            first = false;
        }
    }
    if (!first)
        fputc('\n', out);
}

static void write_host(const struct scan_cli_view *v, uint64_t target, size_t from, size_t to, FILE *out)
{
    const struct scan_collect *c = v->collect;
    char addr[64];
    const char *name = scan_host_name(v, target);
    scan_host_address(v, target, addr, sizeof addr);
    if (name)
        fprintf(out, "portreg scan report for %s (%s)\n", name, addr);
    else
        fprintf(out, "portreg scan report for %s\n", addr);
    uint32_t best_rtt = 0;
    uint32_t count_by_state[SCAN_STATE_COUNT] = { 0 };
    for (size_t i = from; i < to; i++) {
        const struct scan_kept *k = &c->kept[i];
        if (k->rtt_us && (!best_rtt || k->rtt_us < best_rtt))
            best_rtt = k->rtt_us;
        if (scan_port_shown(v, k))
            count_by_state[k->state]++;
    }
    if (best_rtt)
        fprintf(out, "Host is up (%.6fs latency).\n", best_rtt / 1e6);
    else
        fprintf(out, "Host is up.\n");
    size_t rows = 0;
    for (size_t i = from; i < to; i++)
        rows += scan_port_shown(v, &c->kept[i]) && !row_collapsed(&c->kept[i], count_by_state);
    if (rows == 0 && c->hosts) {
        uint32_t all = 0;
        for (int st = 0; st < SCAN_STATE_COUNT; st++)
            all += c->hosts[target].state[st];
        fprintf(out, "All %u scanned ports on %s%s%s%s are in ignored states.\n", all, name ? name : addr,
                name ? " (" : "", name ? addr : "", name ? ")" : "");
    }
    not_shown_line(v, target, from, to, count_by_state, out);
    if (rows == 0) {
        fputc('\n', out);
        return;
    }
    struct normal_row *row = calloc(rows, sizeof *row);
    size_t width[4] = { strlen("PORT"), strlen("STATE"), strlen("SERVICE"), strlen("REASON") };
    size_t n = 0;
    for (size_t i = from; i < to && row; i++) {
        const struct scan_kept *k = &c->kept[i];
        if (!scan_port_shown(v, k) || row_collapsed(k, count_by_state))
            continue;
        struct normal_row *r = &row[n++];
        r->kept = k;
        snprintf(r->port, sizeof r->port, "%u/%s", k->port, registry_proto_name(k->proto));
        snprintf(r->state, sizeof r->state, "%s", k->state == SCAN_STATE_ERROR ? "unknown" : scan_state_name(k->state));
        const char *service = scan_cli_nmap_service(v, k->port, k->proto);
        snprintf(r->service, sizeof r->service, "%s", service ? service : "unknown");
        char buf[32];
        const char *why = scan_cli_nmap_reason(k->reason, k->icmp_type, k->icmp_code, buf, sizeof buf);
        if (k->reply_ttl)
            snprintf(r->reason, sizeof r->reason, "%s ttl %u", why, k->reply_ttl);
        else
            snprintf(r->reason, sizeof r->reason, "%s", why);
        size_t len[4] = { strlen(r->port), strlen(r->state), strlen(r->service), strlen(r->reason) };
        for (int col = 0; col < 4; col++)
            if (len[col] > width[col])
                width[col] = len[col];
    }
    if (!row) {
        fputs("(out of memory: the ports are not listed)\n\n", out);
        return;
    }
    if (v->reason)
        fprintf(out, "%-*s %-*s %-*s REASON\n", (int)width[0], "PORT", (int)width[1], "STATE", (int)width[2],
                "SERVICE");
    else
        fprintf(out, "%-*s %-*s SERVICE\n", (int)width[0], "PORT", (int)width[1], "STATE");
    for (size_t i = 0; i < n; i++) {
        const struct normal_row *r = &row[i];
        if (v->reason)
            fprintf(out, "%-*s %-*s %-*s %s\n", (int)width[0], r->port, (int)width[1], r->state, (int)width[2],
                    r->service, r->reason);
        else
            fprintf(out, "%-*s %-*s %s\n", (int)width[0], r->port, (int)width[1], r->state, r->service);
        if (r->kept->banner_len)   /* as nmap's banner script */
            fprintf(out, "|_banner: %.*s\n", (int)r->kept->banner_len, c->banners + r->kept->banner_offset);
    }
    free(row);
    fputc('\n', out);
}

void scan_output_normal(const struct scan_cli_view *v, const struct scan_run_info *info, FILE *out)
{
    scan_output_nmap_report(v, info, out, write_host);
}

int scan_output_text_file(const struct scan_cli_view *v, const struct scan_run_info *info, const char *path,
                          void (*writer)(const struct scan_cli_view *, const struct scan_run_info *, FILE *),
                          struct pr_error *err)
{
    char *text = NULL;
    size_t size = 0;
    FILE *memory = open_memstream(&text, &size);
    if (!memory) {
        pr_error_set_path(err, path);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    writer(v, info, memory);
    if (fclose(memory) != 0) {
        free(text);
        pr_error_set_path(err, path);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    if (strcmp(path, "-") == 0)
        fflush(stdout);   /* what the table or JSON wrote so far comes first */
    struct file_output file;
    int rc = file_output_open(&file, path, FILE_OUTPUT_DASH_IS_STDOUT, err);
    if (rc == 0) {
        rc = file_output_write(&file, text, size, err);
        if (rc == 0)
            rc = file_output_commit(&file, err);
        else
            file_output_discard(&file);
    }
    free(text);
    return rc;
}
