/* scan_xml.c — `portreg scan -oX FILE`: the results in nmap's XML format (nmap.dtd, output
 * version 1.05) so ndiff, importers and XSLT reports read them. Written with libxml2's
 * xmlTextWriter (escaping, encoding) into a temporary file that is renamed into place.
 * The root says scanner="nmap" because the DTD allows no other value; args and version name
 * portreg. Closed ports are summarised in <extraports>, as nmap does; banners are a
 * <script id="banner">, as nmap's banner script writes them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

#include "registry/record.h"
#include "scan_output.h"

/* nmap's reason names for the states we report */
static const char *nmap_reason(uint8_t reason, uint8_t icmp_type, uint8_t icmp_code, char *buf, size_t size)
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
        if (icmp_type == 3 && icmp_code == 1)
            return "host-unreach";
        snprintf(buf, size, "icmp-%u-%u", icmp_type, icmp_code);
        return buf;
    default: return scan_reason_name(reason);
    }
}

/* "1-3,7,9-10" from the ascending port list (nmap's scaninfo services attribute). */
static char *ports_text(const uint16_t *ports, size_t count)
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

#define ATTR(w, name, ...) xmlTextWriterWriteFormatAttribute(w, BAD_CAST name, __VA_ARGS__)

static void write_port(xmlTextWriterPtr w, const struct scan_cli_view *v, const struct scan_kept *k)
{
    char buf[32];
    const struct scan_collect *c = v->collect;
    xmlTextWriterStartElement(w, BAD_CAST "port");
    ATTR(w, "protocol", "%s", registry_proto_name(k->proto));
    ATTR(w, "portid", "%u", k->port);
    xmlTextWriterStartElement(w, BAD_CAST "state");
    ATTR(w, "state", "%s", k->state == SCAN_STATE_ERROR ? "unknown" : scan_state_name(k->state));
    ATTR(w, "reason", "%s", nmap_reason(k->reason, k->icmp_type, k->icmp_code, buf, sizeof buf));
    ATTR(w, "reason_ttl", "%u", k->reply_ttl);
    xmlTextWriterEndElement(w);
    const char *service = scan_cli_service(v, k->port, k->proto);
    if (service) {
        xmlTextWriterStartElement(w, BAD_CAST "service");
        ATTR(w, "name", "%s", service);
        ATTR(w, "method", "%s", "table");
        ATTR(w, "conf", "%s", "3");
        xmlTextWriterEndElement(w);
    }
    if (k->banner_len) {
        /* XML 1.0 cannot carry control characters: keep printable bytes, escape the rest */
        char text[SCAN_BANNER_MAX * 4 + 1];
        size_t o = 0;
        for (size_t i = 0; i < k->banner_len; i++) {
            unsigned char ch = (unsigned char)c->banners[k->banner_offset + i];
            if (ch >= 32 && ch < 127)
                text[o++] = (char)ch;
            else
                o += (size_t)snprintf(text + o, sizeof text - o, "\\x%02x", ch);
        }
        text[o] = '\0';
        xmlTextWriterStartElement(w, BAD_CAST "script");
        ATTR(w, "id", "%s", "banner");
        ATTR(w, "output", "%s", text);
        xmlTextWriterEndElement(w);
    }
    xmlTextWriterEndElement(w);
}

static void write_host(xmlTextWriterPtr w, const struct scan_cli_view *v, const struct scan_run_info *info,
                       uint64_t target, size_t from, size_t to)
{
    const struct scan_collect *c = v->collect;
    struct scan_address a;
    char addr[64];
    target_set_get(c->targets, target, &a);
    xmlTextWriterStartElement(w, BAD_CAST "host");
    ATTR(w, "starttime", "%lld", (long long)info->started);
    ATTR(w, "endtime", "%lld", (long long)(info->started + (time_t)info->elapsed));
    xmlTextWriterStartElement(w, BAD_CAST "status");
    ATTR(w, "state", "%s", "up");
    ATTR(w, "reason", "%s", "user-set");   /* no host discovery, as nmap -Pn */
    ATTR(w, "reason_ttl", "%s", "0");
    xmlTextWriterEndElement(w);
    xmlTextWriterStartElement(w, BAD_CAST "address");
    ATTR(w, "addr", "%s", scan_address_format(&a, addr, sizeof addr));
    ATTR(w, "addrtype", "%s", a.family == AF_INET ? "ipv4" : "ipv6");
    xmlTextWriterEndElement(w);
    xmlTextWriterStartElement(w, BAD_CAST "hostnames");
    xmlTextWriterEndElement(w);
    xmlTextWriterStartElement(w, BAD_CAST "ports");
    uint32_t closed = c->hosts ? c->hosts[target].state[SCAN_STATE_CLOSED] : 0;
    if (closed) {
        xmlTextWriterStartElement(w, BAD_CAST "extraports");
        ATTR(w, "state", "%s", "closed");
        ATTR(w, "count", "%u", closed);
        xmlTextWriterStartElement(w, BAD_CAST "extrareasons");
        ATTR(w, "reason", "%s", v->engine->proto == REGISTRY_PROTO_UDP ? "port-unreach"
                              : strcmp(v->engine->name, "connect") == 0 ? "conn-refused" : "reset");
        ATTR(w, "count", "%u", closed);
        ATTR(w, "proto", "%s", registry_proto_name(v->engine->proto));
        xmlTextWriterEndElement(w);
        xmlTextWriterEndElement(w);
    }
    for (size_t i = from; i < to; i++)
        write_port(w, v, &c->kept[i]);
    xmlTextWriterEndElement(w);   /* ports */
    xmlTextWriterEndElement(w);   /* host */
}

int scan_output_xml(const struct scan_cli_view *v, const struct scan_run_info *info, const char *path,
                    struct pr_error *err)
{
    const struct scan_collect *c = v->collect;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    xmlTextWriterPtr w = xmlNewTextWriterFilename(tmp, 0);
    if (!w) {
        pr_error_set(err, -EIO, "cannot write %s: %s", tmp, strerror(errno ? errno : EIO));
        pr_error_set_path(err, path);
        return -EIO;
    }
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
    xmlTextWriterStartDTD(w, BAD_CAST "nmaprun", NULL, NULL);
    xmlTextWriterEndDTD(w);
    char timestr[64];
    struct tm tm;
    localtime_r(&info->started, &tm);
    strftime(timestr, sizeof timestr, "%a %b %e %H:%M:%S %Y", &tm);
    xmlTextWriterStartElement(w, BAD_CAST "nmaprun");
    ATTR(w, "scanner", "%s", "nmap");
    ATTR(w, "args", "%s", info->args ? info->args : "portreg scan");
    ATTR(w, "start", "%lld", (long long)info->started);
    ATTR(w, "startstr", "%s", timestr);
    ATTR(w, "version", "portreg-%s", PORTREG_VERSION);
    ATTR(w, "xmloutputversion", "%s", "1.05");
    char *services = ports_text(info->ports, info->port_count);
    xmlTextWriterStartElement(w, BAD_CAST "scaninfo");
    ATTR(w, "type", "%s", strcmp(info->engine, "syn") == 0 ? "syn"
                        : strcmp(info->engine, "udp") == 0 ? "udp" : "connect");
    ATTR(w, "protocol", "%s", registry_proto_name(v->engine->proto));
    ATTR(w, "numservices", "%zu", info->port_count);
    ATTR(w, "services", "%s", services ? services : "");
    xmlTextWriterEndElement(w);
    free(services);
    xmlTextWriterStartElement(w, BAD_CAST "verbose");
    ATTR(w, "level", "%s", "0");
    xmlTextWriterEndElement(w);
    xmlTextWriterStartElement(w, BAD_CAST "debugging");
    ATTR(w, "level", "%s", "0");
    xmlTextWriterEndElement(w);
    /* every host with a result, in target order: those with something kept, and the others */
    size_t k = 0;
    uint64_t hosts = 0;
    uint64_t limit = c->hosts ? c->targets->total : 0;
    for (uint64_t t = 0; t < limit || k < c->kept_count;) {
        uint64_t next = k < c->kept_count ? c->kept[k].target : UINT64_MAX;
        if (t < limit && t < next) {
            if (c->hosts[t].state[SCAN_STATE_CLOSED]) {
                write_host(w, v, info, t, k, k);
                hosts++;
            }
            t++;
            continue;
        }
        size_t end = k;
        while (end < c->kept_count && c->kept[end].target == next)
            end++;
        write_host(w, v, info, next, k, end);
        hosts++;
        k = end;
        t = next + 1;
    }
    char summary[128];
    snprintf(summary, sizeof summary, "portreg scan done: %" PRIu64 " IP address%s (%" PRIu64
             " host%s up) scanned in %.2f seconds", c->targets->total, c->targets->total == 1 ? "" : "es",
             hosts, hosts == 1 ? "" : "s", info->elapsed);
    time_t finished = info->started + (time_t)info->elapsed;
    localtime_r(&finished, &tm);
    strftime(timestr, sizeof timestr, "%a %b %e %H:%M:%S %Y", &tm);
    xmlTextWriterStartElement(w, BAD_CAST "runstats");
    xmlTextWriterStartElement(w, BAD_CAST "finished");
    ATTR(w, "time", "%lld", (long long)finished);
    ATTR(w, "timestr", "%s", timestr);
    ATTR(w, "summary", "%s", summary);
    ATTR(w, "elapsed", "%.2f", info->elapsed);
    ATTR(w, "exit", "%s", "success");
    xmlTextWriterEndElement(w);
    xmlTextWriterStartElement(w, BAD_CAST "hosts");
    ATTR(w, "up", "%" PRIu64, hosts);
    ATTR(w, "down", "%" PRIu64, c->targets->total - hosts);
    ATTR(w, "total", "%" PRIu64, c->targets->total);
    xmlTextWriterEndElement(w);
    xmlTextWriterEndElement(w);   /* runstats */
    xmlTextWriterEndElement(w);   /* nmaprun */
    int rc = xmlTextWriterEndDocument(w);
    xmlFreeTextWriter(w);
    if (rc < 0 || rename(tmp, path) < 0) {
        int e = rc < 0 ? EIO : errno;
        unlink(tmp);
        pr_error_set(err, -e, "cannot write the XML: %s", strerror(e));
        pr_error_set_path(err, path);
        return -e;
    }
    return 0;
}
