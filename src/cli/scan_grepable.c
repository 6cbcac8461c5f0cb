/* scan_grepable.c — `portreg scan -oG FILE`: nmap's grepable output, one line per host:
 *   Host: 127.0.0.1 (localhost)	Status: Up
 *   Host: 127.0.0.1 (localhost)	Ports: 22/open/tcp//ssh///, 80/filtered/tcp//http///	Ignored State: closed (998)
 * Each port is PORT/STATE/PROTO/OWNER/SERVICE/RPC/VERSION/ with nmap-services' name (as -oX);
 * closed ports are the "Ignored State". Written through scan_output_text_file (scan_normal.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "registry/record.h"
#include "scan_output.h"

/* A field may not hold the separators of the format ('/' between port fields, ',' between
 * ports, a tab between fields): nmap writes '|' for '/' in versions; the rest is dropped. */
static void put_field(const char *text, FILE *out)
{
    for (const char *p = text; *p; p++) {
        if (*p == '/')
            fputc('|', out);
        else if (*p != ',' && *p != '\t' && *p != '\n')
            fputc(*p, out);
    }
}

static void write_host(const struct scan_cli_view *v, uint64_t target, size_t from, size_t to, FILE *out)
{
    const struct scan_collect *c = v->collect;
    char addr[64];
    const char *name = scan_host_name(v, target);
    scan_host_address(v, target, addr, sizeof addr);
    char host[320];
    snprintf(host, sizeof host, "Host: %s (%s)", addr, name ? name : "");
    fprintf(out, "%s\tStatus: Up\n%s\t", host, host);
    bool first = true;
    for (size_t i = from; i < to; i++) {
        const struct scan_kept *k = &c->kept[i];
        if (!scan_port_shown(v, k))
            continue;
        const char *service = scan_cli_nmap_service(v, k->port, k->proto);
        fprintf(out, "%s%u/%s/%s//", first ? "Ports: " : ", ", k->port,
                k->state == SCAN_STATE_ERROR ? "unknown" : scan_state_name(k->state), registry_proto_name(k->proto));
        put_field(service ? service : "", out);
        fputs("///", out);
        first = false;
    }
    uint32_t closed = c->hosts ? c->hosts[target].state[SCAN_STATE_CLOSED] : 0;
    if (first)
        fputs("Ports: ", out);
    if (closed)
        fprintf(out, "\tIgnored State: closed (%u)", closed);
    fputc('\n', out);
}

void scan_output_grepable(const struct scan_cli_view *v, const struct scan_run_info *info, FILE *out)
{
    scan_output_nmap_report(v, info, out, write_host);
}
