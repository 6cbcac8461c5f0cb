/* scan_xml.c — `portreg scan -oX FILE`: the results in nmap's XML format (nmap.dtd, output
 * version 1.05) so ndiff, importers and XSLT reports read them. Written with libxml2's
 * xmlTextWriter (escaping, encoding; libxml2 loaded with dlopen, util/xml_loader.h) into a
 * util/file_io.h output: stdout for "-", else a temporary renamed over the file.
 * The root says scanner="nmap" because the DTD allows no other value; args and version name
 * portreg. Closed ports are summarised in <extraports>, as nmap does; banners are a
 * <script id="banner">, as nmap's banner script writes them. */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "registry/record.h"
#include "scan_output.h"
#include "util/file_io.h"
#include "util/xml_loader.h"

/* libxml2 is loaded on demand (util/xml_loader.h); these wrap its writer. */
struct xw {
    const struct xml_api *api;
    xmlTextWriterPtr writer;
};

static void xw_start(struct xw *w, const char *name)
{
    w->api->start_element(w->writer, BAD_CAST name);
}

static void xw_end(struct xw *w)
{
    w->api->end_element(w->writer);
}

__attribute__((format(printf, 3, 4)))
static void xw_attr(struct xw *w, const char *name, const char *fmt, ...)
{
    char value[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    w->api->write_attribute(w->writer, BAD_CAST name, BAD_CAST value);
}

static void write_port(struct xw *w, const struct scan_cli_view *v, const struct scan_kept *k)
{
    char buf[32];
    const struct scan_collect *c = v->collect;
    xw_start(w, "port");
    xw_attr(w, "protocol", "%s", registry_proto_name(k->proto));
    xw_attr(w, "portid", "%u", k->port);
    xw_start(w, "state");
    xw_attr(w, "state", "%s", k->state == SCAN_STATE_ERROR ? "unknown" : scan_state_name(k->state));
    xw_attr(w, "reason", "%s", scan_cli_nmap_reason(k->reason, k->icmp_type, k->icmp_code, buf, sizeof buf));
    xw_attr(w, "reason_ttl", "%u", k->reply_ttl);
    xw_end(w);
    /* method="table" is nmap's lookup in nmap-services: the name nmap writes is that file's
     * ("wms" on 1755, not IANA's "ms-streaming"), "unknown" for a port it does not list, so
     * ndiff of nmap's and portreg's XML shows no false change; the table and JSON keep IANA's */
    const char *nmap_name = scan_cli_nmap_service(v, k->port, k->proto);
    if (nmap_name) {
        xw_start(w, "service");
        xw_attr(w, "name", "%s", nmap_name);
        xw_attr(w, "method", "%s", "table");
        xw_attr(w, "conf", "%s", "3");
        xw_end(w);
    }
    if (k->banner_len) {
        /* kept escaped (util/text_escape.h): no control character, which XML 1.0 cannot
         * carry, and the same text as the table and JSON */
        char text[SCAN_BANNER_MAX * 4 + 1];
        size_t n = k->banner_len < sizeof text - 1 ? k->banner_len : sizeof text - 1;
        memcpy(text, c->banners + k->banner_offset, n);
        text[n] = '\0';
        xw_start(w, "script");
        xw_attr(w, "id", "%s", "banner");
        xw_attr(w, "output", "%s", text);
        xw_end(w);
    }
    xw_end(w);
}

static void write_host(struct xw *w, const struct scan_cli_view *v, const struct scan_run_info *info,
                       uint64_t target, size_t from, size_t to)
{
    const struct scan_collect *c = v->collect;
    struct scan_address a;
    char addr[64];
    target_set_get(c->targets, target, &a);
    xw_start(w, "host");
    xw_attr(w, "starttime", "%lld", (long long)info->started);
    xw_attr(w, "endtime", "%lld", (long long)(info->started + (time_t)info->elapsed));
    xw_start(w, "status");
    xw_attr(w, "state", "%s", "up");
    xw_attr(w, "reason", "%s", "user-set");   /* no host discovery, as nmap -Pn */
    xw_attr(w, "reason_ttl", "%s", "0");
    xw_end(w);
    xw_start(w, "address");
    xw_attr(w, "addr", "%s", scan_address_format(&a, addr, sizeof addr));
    xw_attr(w, "addrtype", "%s", a.family == AF_INET ? "ipv4" : "ipv6");
    xw_end(w);
    xw_start(w, "hostnames");
    const char *name = scan_host_name(v, target);
    if (name) {   /* the name as typed, as nmap writes it */
        xw_start(w, "hostname");
        xw_attr(w, "name", "%s", name);
        xw_attr(w, "type", "%s", "user");
        xw_end(w);
    }
    xw_end(w);
    xw_start(w, "ports");
    uint32_t closed = c->hosts ? c->hosts[target].state[SCAN_STATE_CLOSED] : 0;
    if (closed) {
        /* one <extraports> with the reasons of each protocol, as nmap -sS -sU writes it */
        xw_start(w, "extraports");
        xw_attr(w, "state", "%s", "closed");
        xw_attr(w, "count", "%u", closed);
        for (size_t i = 0; i < v->pass_count; i++) {
            const struct scan_engine *e = v->passes[i].engine;
            uint32_t udp = c->hosts[target].closed_udp;
            uint32_t count = e->proto == REGISTRY_PROTO_UDP ? udp : closed - udp;
            if (!count)
                continue;
            xw_start(w, "extrareasons");
            xw_attr(w, "reason", "%s", scan_cli_closed_reason(e));
            xw_attr(w, "count", "%u", count);
            xw_attr(w, "proto", "%s", registry_proto_name(e->proto));
            xw_end(w);
        }
        xw_end(w);
    }
    for (size_t i = from; i < to; i++)
        if (scan_port_shown(v, &c->kept[i]))
            write_port(w, v, &c->kept[i]);
    xw_end(w);   /* ports */
    xw_end(w);   /* host */
}

int scan_output_xml(const struct scan_cli_view *v, const struct scan_run_info *info, const char *path,
                    struct pr_error *err)
{
    const struct scan_collect *c = v->collect;
    struct xml_api api;
    if (xml_api_load(&api, err) < 0)
        return err ? err->code : -ENOPKG;
    /* "-" is stdout; a file keeps its mode, owner, symlink and links; /dev/stdout or a FIFO
     * is written in place (util/file_io.h) */
    struct file_output out;
    int r = file_output_open(&out, path, FILE_OUTPUT_DASH_IS_STDOUT, err);
    if (r < 0) {
        xml_api_unload(&api);
        return r;
    }
    xmlOutputBufferPtr buffer = api.output_buffer_create_fd(out.fd, NULL);
    struct xw xw = { &api, buffer ? api.new_writer(buffer) : NULL };
    struct xw *w = &xw;
    if (!xw.writer) {
        file_output_discard(&out);
        xml_api_unload(&api);
        pr_error_set_path(err, path);
        return pr_error_set(err, -ENOMEM, "cannot start the XML writer");
    }
    api.set_indent(xw.writer, 1);
    api.start_document(xw.writer, NULL, "UTF-8", NULL);
    api.start_dtd(xw.writer, BAD_CAST "nmaprun", NULL, NULL);
    api.end_dtd(xw.writer);
    char timestr[64];
    scan_cli_time_text(info->started, timestr, sizeof timestr);
    xw_start(w, "nmaprun");
    xw_attr(w, "scanner", "%s", "nmap");
    xw_attr(w, "args", "%s", info->args ? info->args : "portreg scan");
    xw_attr(w, "start", "%lld", (long long)info->started);
    xw_attr(w, "startstr", "%s", timestr);
    xw_attr(w, "version", "portreg-%s", PORTREG_VERSION);
    xw_attr(w, "xmloutputversion", "%s", "1.05");
    for (size_t i = 0; i < v->pass_count; i++) {   /* one <scaninfo> per protocol, as nmap */
        const struct scan_pass *pass = &v->passes[i];
        char *services = scan_ports_text(pass->ports, pass->port_count);
        xw_start(w, "scaninfo");
        xw_attr(w, "type", "%s", strcmp(pass->engine->name, "syn") == 0 ? "syn"
                            : strcmp(pass->engine->name, "udp") == 0 ? "udp" : "connect");
        xw_attr(w, "protocol", "%s", registry_proto_name(pass->engine->proto));
        xw_attr(w, "numservices", "%zu", pass->port_count);
        xw_attr(w, "services", "%s", services ? services : "");
        xw_end(w);
        free(services);
    }
    xw_start(w, "verbose");
    xw_attr(w, "level", "%d", info->verbose);
    xw_end(w);
    xw_start(w, "debugging");
    xw_attr(w, "level", "%s", "0");
    xw_end(w);
    /* every host with a result, in target order: those with something kept, and the others
     * (--open: only those with a port open or open|filtered, as nmap) */
    uint64_t hosts = 0, target;
    size_t from, to;
    struct scan_host_cursor cursor = { 0 };
    while (scan_next_host(v, &cursor, false, &target, &from, &to))
        write_host(w, v, info, target, from, to);
    struct scan_cli_view every = *v;   /* hosts up: those --open did not show too */
    every.only_open = false;
    cursor = (struct scan_host_cursor){ 0 };
    while (scan_next_host(&every, &cursor, false, &target, &from, &to))
        hosts++;
    char summary[128];
    snprintf(summary, sizeof summary, "portreg scan done: %" PRIu64 " IP address%s (%" PRIu64
             " host%s up) scanned in %.2f seconds", c->targets->total, c->targets->total == 1 ? "" : "es",
             hosts, hosts == 1 ? "" : "s", info->elapsed);
    time_t finished = info->started + (time_t)info->elapsed;
    scan_cli_time_text(finished, timestr, sizeof timestr);
    xw_start(w, "runstats");
    xw_start(w, "finished");
    xw_attr(w, "time", "%lld", (long long)finished);
    xw_attr(w, "timestr", "%s", timestr);
    xw_attr(w, "summary", "%s", summary);
    xw_attr(w, "elapsed", "%.2f", info->elapsed);
    xw_attr(w, "exit", "%s", "success");
    xw_end(w);
    xw_start(w, "hosts");
    xw_attr(w, "up", "%" PRIu64, hosts);
    xw_attr(w, "down", "%" PRIu64, c->targets->total - hosts);
    xw_attr(w, "total", "%" PRIu64, c->targets->total);
    xw_end(w);
    xw_end(w);   /* runstats */
    xw_end(w);   /* nmaprun */
    errno = 0;
    int rc = api.end_document(xw.writer);   /* flushes: a write error shows here */
    int e = errno ? errno : EIO;
    api.free_writer(xw.writer);
    xml_api_unload(&api);
    if (rc < 0) {
        file_output_discard(&out);
        pr_error_set_path(err, path);
        return pr_error_set(err, -e, "cannot write the XML: %s", strerror(e));
    }
    return file_output_commit(&out, err);
}
