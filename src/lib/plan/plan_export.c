/* plan_export.c — the export modules of plan_export.h. Every module writes to a FILE (the CLI's
 * stdout, or an open_memstream for plan_export), so output is streamed and deterministic:
 * ports sorted by number, hosts and services in plan order. CSVs follow RFC 4180 (CRLF line
 * ends, a field quoted when it holds a comma, quote or line break, quotes doubled). */
#include "plan/plan_export.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "registry/record.h"

/* NetBox's Service.description holds at most 200 characters. */
#define NETBOX_DESCRIPTION_MAX 200u

/* ---- shared helpers ---- */

static bool port_unresolved(const struct plan_port *port)
{
    return port->automatic && port->port == 0;
}

/* Index of services[i] among the services of its own file (field paths count per file). */
static size_t service_index_in_file(const struct plan *plan, size_t i)
{
    const char *file = plan->services[i].pos.file;
    size_t n = 0;
    for (size_t j = 0; j < i; j++) {
        const char *other = plan->services[j].pos.file;
        if ((file == NULL && other == NULL) || (file && other && strcmp(file, other) == 0))
            n++;
    }
    return n;
}

/* One "auto-unresolved" warning per port that has no number yet: the port-based formats skip
 * it. plan_check resolves them (deterministically), so the CLI normally runs it first. */
static int warn_unresolved(const struct plan *plan, const char *format,
                           struct plan_diagnostics *warnings, struct pr_error *err)
{
    if (!warnings)
        return 0;
    for (size_t i = 0; i < plan->service_count; i++) {
        const struct plan_service *s = &plan->services[i];
        for (size_t j = 0; j < s->port_count; j++) {
            const struct plan_port *p = &s->ports[j];
            if (!port_unresolved(p))
                continue;
            char field[96];
            if (s->port_singular)
                snprintf(field, sizeof field, "services[%zu].port", service_index_in_file(plan, i));
            else
                snprintf(field, sizeof field, "services[%zu].ports[%zu]",
                         service_index_in_file(plan, i), j);
            if (plan_diagnostics_add(warnings, PLAN_SEVERITY_WARNING, "auto-unresolved", &p->pos,
                                     field, NULL, "run `portreg plan check` to choose the port",
                                     "service %s: port auto/%s has no number yet; left out of "
                                     "the %s export", s->name, plan_proto_name(p->proto),
                                     format) < 0)
                return pr_error_set(err, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* Every resolved port of the plan, sorted by port, protocol, then plan order. */
struct port_row {
    const struct plan_service *service;
    const struct plan_port *port;
    size_t order;
};

static int port_row_compare(const void *a, const void *b)
{
    const struct port_row *x = a, *y = b;
    if (x->port->port != y->port->port)
        return x->port->port < y->port->port ? -1 : 1;
    if (x->port->proto != y->port->proto)
        return x->port->proto < y->port->proto ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int port_rows(const struct plan *plan, struct port_row **rows, size_t *count,
                     struct pr_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < plan->service_count; i++)
        total += plan->services[i].port_count;
    *rows = calloc(total ? total : 1, sizeof **rows);
    if (!*rows)
        return pr_error_set(err, -ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < plan->service_count; i++)
        for (size_t j = 0; j < plan->services[i].port_count; j++)
            if (!port_unresolved(&plan->services[i].ports[j])) {
                (*rows)[n] = (struct port_row){ &plan->services[i], &plan->services[i].ports[j], n };
                n++;
            }
    qsort(*rows, n, sizeof **rows, port_row_compare);
    *count = n;
    return 0;
}

/* Text for a one-line comment or a description: control bytes become spaces. */
static void write_one_line(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++)
        fputc((unsigned char)*p < 32 || *p == 127 ? ' ' : *p, out);
}

/* "owner; notes", either part may be absent; "" when both are. Control bytes kept (CSV
 * quotes them; services flattens them). Returns a malloc'd string or NULL. */
static char *owner_and_notes(const struct plan_service *s)
{
    const char *owner = s->owner && s->owner[0] ? s->owner : NULL;
    const char *notes = s->notes && s->notes[0] ? s->notes : NULL;
    char *text = NULL;
    int rc;
    if (owner && notes)
        rc = asprintf(&text, "%s; %s", owner, notes);
    else
        rc = asprintf(&text, "%s", owner ? owner : notes ? notes : "");
    return rc < 0 ? NULL : text;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF. */
static void csv_field(FILE *out, const char *text, bool last)
{
    if (strpbrk(text, ",\"\r\n")) {
        fputc('"', out);
        for (const char *p = text; *p; p++) {
            if (*p == '"')
                fputc('"', out);
            fputc(*p, out);
        }
        fputc('"', out);
    } else {
        fputs(text, out);
    }
    fputs(last ? "\r\n" : ",", out);
}

static int finish(FILE *out, struct pr_error *err)
{
    return ferror(out) ? pr_error_set(err, -EIO, "write failed") : 0;
}

static const char *plan_files_text(const struct plan *plan, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < plan->file_count && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", plan->files[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    if (!buf[0])
        snprintf(buf, size, "(unnamed)");
    return buf;
}

/* ---- services(5) ---- */

/* The IANA names of a service become aliases when they name exactly one port of that
 * protocol: `getent services postgresql` then finds the plan's port. */
static size_t ports_of_proto(const struct plan_service *s, uint8_t proto)
{
    size_t n = 0;
    for (size_t j = 0; j < s->port_count; j++)
        n += s->ports[j].proto == proto;
    return n;
}

static int write_services(FILE *out, const struct plan *plan, struct plan_diagnostics *warnings,
                          struct pr_error *err)
{
    int rc = warn_unresolved(plan, "services", warnings, err);
    if (rc < 0)
        return rc;
    struct port_row *rows;
    size_t count;
    if ((rc = port_rows(plan, &rows, &count, err)) < 0)
        return rc;
    char files[1024];
    fprintf(out, "# services(5) entries of the port plan %s\n",
            plan_files_text(plan, files, sizeof files));
    fprintf(out, "# written by portreg plan export; one line per port, sorted by port\n");
    for (size_t i = 0; i < count; i++) {
        const struct plan_service *s = rows[i].service;
        const struct plan_port *p = rows[i].port;
        char left[512];
        int used = snprintf(left, sizeof left, "%-15s %u/%s", s->name, p->port,
                            plan_proto_name(p->proto));
        if (ports_of_proto(s, p->proto) == 1)
            for (size_t k = 0; k < s->iana_count && used > 0 && (size_t)used < sizeof left; k++)
                if (strcmp(s->iana_names[k], s->name) != 0)
                    used += snprintf(left + used, sizeof left - (size_t)used, " %s",
                                     s->iana_names[k]);
        char *comment = owner_and_notes(s);
        if (!comment) {
            free(rows);
            return pr_error_set(err, -ENOMEM, "out of memory");
        }
        if (comment[0]) {
            fprintf(out, "%-31s # ", left);
            write_one_line(out, comment);
            fputc('\n', out);
        } else {
            fprintf(out, "%s\n", left);
        }
        free(comment);
    }
    free(rows);
    return finish(out, err);
}

/* ---- IANA CSV ---- */

static const char iana_header[] =
    "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,"
    "Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\r\n";

/* "hosts: web1, db; bind: any; exposure: public; iana: http, https" */
static char *iana_notes(const struct plan_service *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    fputs("hosts: ", f);
    for (size_t i = 0; i < s->host_count; i++)
        fprintf(f, "%s%s", i ? ", " : "", s->hosts[i]);
    char bind[INET6_ADDRSTRLEN + 32];
    fprintf(f, "; bind: %s; exposure: %s", plan_bind_format(&s->bind, bind, sizeof bind),
            plan_exposure_name(s->exposure));
    for (size_t i = 0; i < s->iana_count; i++)
        fprintf(f, "%s%s", i ? ", " : "; iana: ", s->iana_names[i]);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}

static int write_iana_csv(FILE *out, const struct plan *plan, struct plan_diagnostics *warnings,
                          struct pr_error *err)
{
    int rc = warn_unresolved(plan, "iana-csv", warnings, err);
    if (rc < 0)
        return rc;
    struct port_row *rows;
    size_t count;
    if ((rc = port_rows(plan, &rows, &count, err)) < 0)
        return rc;
    fputs(iana_header, out);
    for (size_t i = 0; i < count; i++) {
        const struct plan_service *s = rows[i].service;
        char port[8];
        snprintf(port, sizeof port, "%u", rows[i].port->port);
        char *notes = iana_notes(s);
        if (!notes) {
            free(rows);
            return pr_error_set(err, -ENOMEM, "out of memory");
        }
        csv_field(out, s->name, false);
        csv_field(out, port, false);
        csv_field(out, plan_proto_name(rows[i].port->proto), false);
        csv_field(out, s->notes ? s->notes : "", false);    /* Description */
        csv_field(out, s->owner ? s->owner : "", false);    /* Assignee */
        for (int k = 0; k < 6; k++)                          /* Contact .. Unauthorized Use */
            csv_field(out, "", false);
        csv_field(out, notes, true);                         /* Assignment Notes */
        free(notes);
    }
    free(rows);
    return finish(out, err);
}

/* ---- JSON: the plan with the YAML's field names (JSON is YAML, so plan_load reads it) ---- */

static json_t *range_json(const struct plan_range *r)
{
    char text[16];
    if (r->first == r->last)
        snprintf(text, sizeof text, "%u", r->first);
    else
        snprintf(text, sizeof text, "%u-%u", r->first, r->last);
    return json_string(text);
}

static json_t *address_json(uint8_t family, const uint8_t bytes[16])
{
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, bytes, text, sizeof text))
        snprintf(text, sizeof text, "?");
    return json_string(text);
}

static json_t *cidr_json(const struct plan_cidr *c)
{
    char text[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN + 8];
    if (!inet_ntop(c->family == AF_INET6 ? AF_INET6 : AF_INET, c->bytes, text, sizeof text))
        snprintf(text, sizeof text, "?");
    snprintf(out, sizeof out, "%s/%u", text, c->prefix);
    return json_string(out);
}

static json_t *strings_json(const char *const *items, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

/* Named addresses as {"NAME": [ADDRESS...]} in order of first appearance; unnamed ones as a
 * plain list (the YAML's two spellings). Always lists, so readers see one type. */
static json_t *addresses_json(const struct plan_host *h)
{
    bool named = false;
    for (size_t i = 0; i < h->address_count; i++)
        named |= h->addresses[i].name && h->addresses[i].name[0];
    if (!named) {
        json_t *a = json_array();
        for (size_t i = 0; i < h->address_count; i++)
            json_array_append_new(a, address_json(h->addresses[i].family, h->addresses[i].bytes));
        return a;
    }
    json_t *o = json_object();
    for (size_t i = 0; i < h->address_count; i++) {
        const char *name = h->addresses[i].name ? h->addresses[i].name : "";
        json_t *list = json_object_get(o, name);
        if (!list) {
            list = json_array();
            json_object_set_new(o, name, list);
        }
        json_array_append_new(list, address_json(h->addresses[i].family, h->addresses[i].bytes));
    }
    return o;
}

static json_t *host_json(const struct plan_host *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(h->name));
    json_object_set_new(o, "addresses", addresses_json(h));
    json_object_set_new(o, "groups", strings_json(h->groups, h->group_count));
    if (h->has_local)
        json_object_set_new(o, "local", json_boolean(h->local));
    if (h->has_ephemeral)
        json_object_set_new(o, "ephemeral", range_json(&(struct plan_range){
                                                .first = h->ephemeral_first,
                                                .last = h->ephemeral_last }));
    if (h->reserved_count) {
        json_t *a = json_array();
        for (size_t i = 0; i < h->reserved_count; i++)
            json_array_append_new(a, range_json(&h->reserved[i]));
        json_object_set_new(o, "reserved", a);
    }
    return o;
}

static json_t *port_json(const struct plan_port *p)
{
    char text[24];
    if (port_unresolved(p))
        snprintf(text, sizeof text, "auto/%s", plan_proto_name(p->proto));
    else
        snprintf(text, sizeof text, "%u/%s", p->port, plan_proto_name(p->proto));
    return json_string(text);
}

static json_t *source_json(const struct plan_source *src)
{
    switch (src->kind) {
    case PLAN_SOURCE_ANY: return json_string("any");
    case PLAN_SOURCE_CIDR: return cidr_json(&src->cidr);
    case PLAN_SOURCE_NETWORK:
    case PLAN_SOURCE_HOST: return json_string(src->name ? src->name : "");
    }
    return json_null();
}

static json_t *service_json(const struct plan_service *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "hosts", strings_json(s->hosts, s->host_count));
    json_t *ports = json_array();
    for (size_t i = 0; i < s->port_count; i++)
        json_array_append_new(ports, port_json(&s->ports[i]));
    json_object_set_new(o, "ports", ports);
    char bind[INET6_ADDRSTRLEN + 32];
    json_object_set_new(o, "bind", json_string(plan_bind_format(&s->bind, bind, sizeof bind)));
    json_object_set_new(o, "exposure", json_string(plan_exposure_name(s->exposure)));
    json_t *sources = json_array();
    for (size_t i = 0; i < s->source_count; i++)
        json_array_append_new(sources, source_json(&s->sources[i]));
    json_object_set_new(o, "sources", sources);
    if (s->owner)
        json_object_set_new(o, "owner", json_string(s->owner));
    if (s->notes)
        json_object_set_new(o, "notes", json_string(s->notes));
    if (s->iana_count)
        json_object_set_new(o, "iana", strings_json(s->iana_names, s->iana_count));
    return o;
}

static json_t *plan_json(const struct plan *plan)
{
    json_t *doc = json_object();
    json_t *policy = json_object();
    json_object_set_new(policy, "static", range_json(&plan->policy.static_range));
    json_object_set_new(policy, "auto", range_json(&plan->policy.auto_range));
    json_t *exclude = json_array();
    for (size_t i = 0; i < plan->policy.excluded_count; i++)
        json_array_append_new(exclude, range_json(&plan->policy.excluded[i]));
    json_object_set_new(policy, "exclude", exclude);
    json_object_set_new(policy, "allow_iana_assigned",
                        json_boolean(plan->policy.allow_iana_assigned));
    json_object_set_new(doc, "policy", policy);
    json_t *networks = json_object();
    for (size_t i = 0; i < plan->network_count; i++) {
        const struct plan_network *n = &plan->networks[i];
        json_t *cidrs = json_array();
        for (size_t k = 0; k < n->cidr_count; k++)
            json_array_append_new(cidrs, cidr_json(&n->cidrs[k]));
        json_object_set_new(networks, n->name, cidrs);
    }
    json_object_set_new(doc, "networks", networks);
    json_t *hosts = json_array();
    for (size_t i = 0; i < plan->host_count; i++)
        json_array_append_new(hosts, host_json(&plan->hosts[i]));
    json_object_set_new(doc, "hosts", hosts);
    json_t *services = json_array();
    for (size_t i = 0; i < plan->service_count; i++)
        json_array_append_new(services, service_json(&plan->services[i]));
    json_object_set_new(doc, "services", services);
    return doc;
}

static int write_json(FILE *out, const struct plan *plan, struct plan_diagnostics *warnings,
                      struct pr_error *err)
{
    (void)warnings;   /* nothing is left out: an unresolved port stays "auto/PROTO" */
    json_t *doc = plan_json(plan);
    if (!doc)
        return pr_error_set(err, -ENOMEM, "out of memory");
    int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (rc != 0)
        return pr_error_set(err, -ENOMEM, "cannot write the plan as JSON");
    fputc('\n', out);
    return finish(out, err);
}

/* ---- NetBox ----
 * Columns of NetBox's ServiceImportForm (netbox/ipam/forms/bulk_import.py). Since NetBox 4.3
 * a service belongs to a parent object: parent_object_type ("dcim.device") + parent (the
 * device by name) or parent_object_id; "netbox-csv" writes those. Up to NetBox 4.2 the form
 * had device / virtual_machine instead ("netbox-csv-pre-4.3", `--netbox-columns pre-4.3`).
 * Both: name, protocol (ServiceProtocolChoices "tcp", "udp", "sctp"), ports (an array of
 * integers written "80,443"), description. One row per service, host and protocol (a NetBox
 * service has one protocol). */

/* Truncate to at most max bytes without splitting a UTF-8 sequence. */
static void truncate_utf8(char *text, size_t max)
{
    size_t len = strlen(text);
    if (len <= max)
        return;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0u) == 0x80u)
        cut--;
    text[cut] = '\0';
}

static int port_compare(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return x < y ? -1 : x > y;
}

static int write_netbox_rows(FILE *out, const struct plan *plan, bool parent_columns,
                             struct plan_diagnostics *warnings, struct pr_error *err)
{
    int rc = warn_unresolved(plan, "netbox-csv", warnings, err);
    if (rc < 0)
        return rc;
    fputs(parent_columns ? "parent_object_type,parent,name,protocol,ports,description\r\n"
                         : "device,name,protocol,ports,description\r\n", out);
    for (size_t h = 0; h < plan->host_count; h++) {
        const struct plan_host *host = &plan->hosts[h];
        for (size_t i = 0; i < plan->service_count; i++) {
            const struct plan_service *s = &plan->services[i];
            if (!plan_service_on_host(plan, s, host))
                continue;
            static const uint8_t protos[] = { REGISTRY_PROTO_TCP, REGISTRY_PROTO_UDP };
            for (size_t k = 0; k < sizeof protos; k++) {
                uint16_t ports[64];
                size_t n = 0;
                for (size_t j = 0; j < s->port_count && n < sizeof ports / sizeof ports[0]; j++)
                    if (s->ports[j].proto == protos[k] && !port_unresolved(&s->ports[j]))
                        ports[n++] = s->ports[j].port;
                if (n == 0)
                    continue;
                qsort(ports, n, sizeof ports[0], port_compare);
                char list[64 * 6 + 1];
                size_t used = 0;
                for (size_t j = 0; j < n; j++)
                    if (j == 0 || ports[j] != ports[j - 1])
                        used += (size_t)snprintf(list + used, sizeof list - used, "%s%u",
                                                 used ? "," : "", ports[j]);
                char *description = owner_and_notes(s);
                if (!description)
                    return pr_error_set(err, -ENOMEM, "out of memory");
                truncate_utf8(description, NETBOX_DESCRIPTION_MAX);
                if (parent_columns)
                    csv_field(out, "dcim.device", false);
                csv_field(out, host->name, false);
                csv_field(out, s->name, false);
                csv_field(out, plan_proto_name(protos[k]), false);
                csv_field(out, list, false);
                csv_field(out, description, true);
                free(description);
            }
        }
    }
    return finish(out, err);
}

/* NetBox 4.3 and later: parent_object_type,parent,... */
static int write_netbox_csv(FILE *out, const struct plan *plan, struct plan_diagnostics *warnings,
                            struct pr_error *err)
{
    return write_netbox_rows(out, plan, true, warnings, err);
}

/* NetBox up to 4.2: device,... */
static int write_netbox_csv_pre_4_3(FILE *out, const struct plan *plan,
                                    struct plan_diagnostics *warnings, struct pr_error *err)
{
    return write_netbox_rows(out, plan, false, warnings, err);
}

/* ---- the module table ---- */

static const struct plan_export_format formats[] = {
    { "services", "services(5) lines: NAME PORT/PROTO [ALIASES] # OWNER; NOTES",
      write_services },
    { "iana-csv", "IANA's service-names-port-numbers.csv columns, one row per port",
      write_iana_csv },
    { "json", "the whole plan as JSON, field names as in the YAML", write_json },
    { "netbox-csv", "NetBox 4.3+ bulk import of services: parent_object_type,parent,name,"
      "protocol,ports,description", write_netbox_csv },
    { "netbox-csv-pre-4.3", "NetBox up to 4.2: device,name,protocol,ports,description",
      write_netbox_csv_pre_4_3 },
};

const struct plan_export_format *plan_export_formats(size_t *count)
{
    *count = sizeof formats / sizeof formats[0];
    return formats;
}

const struct plan_export_format *plan_export_find(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, name) == 0)
            return &formats[i];
    return NULL;
}

int plan_export(const struct plan *plan, const char *format, char **text, size_t *len,
                struct plan_diagnostics *warnings, struct pr_error *err)
{
    *text = NULL;
    *len = 0;
    const struct plan_export_format *module = plan_export_find(format ? format : "");
    if (!module) {
        char names[256];
        size_t used = 0;
        for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                     i ? ", " : "", formats[i].name);
        return pr_error_set(err, -EINVAL, "unknown export format '%s' (valid: %s)",
                            format ? format : "", names);
    }
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out)
        return pr_error_set(err, -errno, "open_memstream: %s", strerror(errno));
    int rc = module->write(out, plan, warnings, err);
    if (fclose(out) != 0 && rc == 0)
        rc = pr_error_set(err, -ENOMEM, "out of memory");
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = size;
    return 0;
}
