/* ledger_plan.c — the registry as a port plan: hosts (with their groups), the policy and the
 * active assignments written as the YAML `plan check` reads (plan/plan_yaml.c), so the plan
 * export is that text and every other export (services(5), IANA CSV, NetBox CSV, an nft ruleset
 * for one host) is the code of `portreg plan export` and `firewall generate` run on the model
 * the plan loader builds from it: one writer, and the exports can never drift from the plan.
 * Services: the assignments of one service with the same bind, exposure and ports on several
 * hosts are one plan service; a service with several shapes gets NAME, NAME-2, NAME-3... */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_internal.h"
#include "plan/firewall_gen.h"
#include "plan/plan_export.h"
#include "plan/plan_yaml.h"

/* Every row of kind (filters: one column = value, or none), in id order, paging the store. */
int ledger_txn_list_all(struct ledger_txn *txn, enum store_kind kind, const char *column, const char *value,
                        json_t **rows, struct ledger_error *lerr)
{
    *rows = json_array();
    int64_t after = 0;
    json_t *v = value ? json_string(value) : NULL;
    struct store_filter f = { column, v, STORE_EQUAL };
    for (;;) {
        json_t *page = NULL;
        struct pr_error err;
        pr_error_clear(&err);
        if (txn->ledger->backend->list(txn->conn, kind, &f, column ? 1 : 0, after, STORE_LIST_MAX, &page, &err) < 0) {
            json_decref(v);
            return ledger_store_fail(lerr, &err, store_tables[kind].name);
        }
        size_t n = json_array_size(page);
        if (n)
            after = store_row_int(json_array_get(page, n - 1), "id", after);
        json_array_extend(*rows, page);
        json_decref(page);
        if (n < STORE_LIST_MAX)
            break;
    }
    json_decref(v);
    return 0;
}

/* A YAML double-quoted scalar: JSON's string syntax is a subset of it (jansson writes it, so
 * any text — quotes, newlines, non-ASCII — comes out valid). */
static void yaml_string(FILE *out, const char *text)
{
    json_t *s = json_string(text ? text : "");
    char *quoted = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    fputs(quoted ? quoted : "\"\"", out);
    free(quoted);
    json_decref(s);
}

static const char *plan_exposure(const json_t *assignment)
{
    const char *e = store_row_text(assignment, "exposure"), *bind = store_row_text(assignment, "bind");
    if (e && (strcmp(e, "public") == 0 || strcmp(e, "internal") == 0 || strcmp(e, "loopback") == 0))
        return e;
    return bind && strcmp(bind, "loopback") == 0 ? "loopback" : "internal";
}

/* The shape of one service on one host: bind, exposure and "port/proto" list. */
static json_t *shape_of(const json_t *assignments)
{
    json_t *ports = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(assignments, i, a) {
        for (int64_t p = store_row_int(a, "port_lo", 0); p <= store_row_int(a, "port_hi", -1); p++) {
            char text[32];
            snprintf(text, sizeof text, "%lld/%s", (long long)p, store_row_text(a, "proto"));
            json_array_append_new(ports, json_string(text));
        }
    }
    const json_t *first = json_array_get(assignments, 0);
    return json_pack("{s:s, s:s, s:o}", "bind", store_row_text(first, "bind"), "exposure", plan_exposure(first),
                     "ports", ports);
}

static void write_policy(FILE *out, const json_t *policy)
{
    fputs("policy:\n  static: 1-65535\n", out);
    fprintf(out, "  auto: %s\n", json_string_value(json_object_get(policy, "auto_range")));
    json_t *excluded = json_object_get(policy, "excluded");
    if (json_array_size(excluded)) {
        fputs("  exclude: [", out);
        size_t i;
        json_t *band;
        json_array_foreach(excluded, i, band) fprintf(out, "%s%s", i ? ", " : "", json_string_value(band));
        fputs("]\n", out);
    }
    json_t *iana = json_object_get(policy, "iana_assigned_allowed");
    fprintf(out, "  allow_iana_assigned: %s\n", iana && json_is_false(iana) ? "false" : "true");
}

static void write_hosts(FILE *out, const json_t *hosts, const json_t *groups)
{
    if (!json_array_size(hosts))
        return;
    fputs("hosts:\n", out);
    size_t i, j, k;
    json_t *h, *g, *member;
    json_array_foreach(hosts, i, h) {
        fputs("  - name: ", out);
        yaml_string(out, store_row_text(h, "name"));
        fputc('\n', out);
        const char *name;
        json_t *address;
        bool first = true;
        json_object_foreach(json_object_get(h, "addresses"), name, address) {
            fputs(first ? "    addresses: {" : ", ", out);
            yaml_string(out, name);
            fputs(": ", out);
            yaml_string(out, json_string_value(address));
            first = false;
        }
        if (!first)
            fputs("}\n", out);
        first = true;
        json_array_foreach(groups, j, g) json_array_foreach(json_object_get(g, "hosts"), k, member)
            if (strcmp(json_string_value(member), store_row_text(h, "name")) == 0) {
                fputs(first ? "    groups: [" : ", ", out);
                yaml_string(out, store_row_text(g, "name"));
                first = false;
            }
        if (!first)
            fputs("]\n", out);
    }
}

/* services: name → {host → [assignments]} built from the active assignments, then shapes. */
static void write_services(FILE *out, const json_t *assignments, const json_t *services)
{
    json_t *by_service = json_object();
    size_t i;
    json_t *a;
    json_array_foreach(assignments, i, a) {
        const char *service = store_row_text(a, "service");
        json_t *hosts = json_object_get(by_service, service);
        if (!hosts)
            json_object_set_new(by_service, service, hosts = json_object());
        /* one service on one host with two binds is two shapes: key by host and bind */
        char key[512];
        snprintf(key, sizeof key, "%s\n%s", store_row_text(a, "host"), store_row_text(a, "bind"));
        json_t *list = json_object_get(hosts, key);
        if (!list)
            json_object_set_new(hosts, key, list = json_array());
        json_array_append(list, a);
    }
    if (json_object_size(by_service))
        fputs("services:\n", out);
    const char *service;
    json_t *hosts;
    json_object_foreach(by_service, service, hosts) {
        /* shapes: [{bind, exposure, ports, hosts: [...]}] in the order first seen */
        json_t *shapes = json_array();
        const char *key;
        json_t *list;
        json_object_foreach(hosts, key, list) {
            json_t *shape = shape_of(list), *same = NULL;
            size_t s;
            json_t *known;
            json_array_foreach(shapes, s, known) {
                json_t *bare = json_deep_copy(known);
                json_object_del(bare, "hosts");
                if (json_equal(bare, shape))
                    same = known;
                json_decref(bare);
                if (same)
                    break;
            }
            if (!same) {
                same = shape;
                json_object_set_new(same, "hosts", json_array());
                json_array_append(shapes, same);
            }
            json_array_append_new(json_object_get(same, "hosts"), json_string(store_row_text(json_array_get(list, 0), "host")));
            json_decref(shape);
        }
        const json_t *catalog = NULL;
        json_t *row;
        json_array_foreach(services, i, row)
            if (strcmp(store_row_text(row, "name"), service) == 0)
                catalog = row;
        size_t s;
        json_t *shape;
        json_array_foreach(shapes, s, shape) {
            char name[300];
            if (s == 0)
                snprintf(name, sizeof name, "%s", service);
            else
                snprintf(name, sizeof name, "%s-%zu", service, s + 1);
            fputs("  - name: ", out);
            yaml_string(out, name);
            fputs("\n    hosts: [", out);
            size_t h;
            json_t *host;
            json_array_foreach(json_object_get(shape, "hosts"), h, host) {
                fputs(h ? ", " : "", out);
                yaml_string(out, json_string_value(host));
            }
            fputs("]\n    ports: [", out);
            json_t *port;
            json_array_foreach(json_object_get(shape, "ports"), h, port) fprintf(out, "%s%s", h ? ", " : "", json_string_value(port));
            fputs("]\n    bind: ", out);
            yaml_string(out, store_row_text(shape, "bind"));
            fprintf(out, "\n    exposure: %s\n", store_row_text(shape, "exposure"));
            const char *owner = catalog && store_row_text(catalog, "owner") ? store_row_text(catalog, "owner") : NULL;
            if (!owner) {
                json_t *first_list = NULL;
                const char *k2;
                json_object_foreach(hosts, k2, first_list) break;
                owner = store_row_text(json_array_get(first_list, 0), "owner");
            }
            if (owner) {
                fputs("    owner: ", out);
                yaml_string(out, owner);
                fputc('\n', out);
            }
            if (catalog && store_row_text(catalog, "description")) {
                fputs("    notes: ", out);
                yaml_string(out, store_row_text(catalog, "description"));
                fputc('\n', out);
            }
        }
        json_decref(shapes);
    }
    json_decref(by_service);
}

int ledger_plan_yaml(struct ledger *ledger, char **text, size_t *len, struct ledger_error *lerr)
{
    *text = NULL;
    *len = 0;
    json_t *policy = NULL;
    ledger_policy_get(ledger, &policy, lerr);
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, false, &txn, lerr) < 0) {
        json_decref(policy);
        return -1;
    }
    json_t *hosts = NULL, *groups = NULL, *services = NULL, *assignments = NULL;
    int r = ledger_txn_list_all(&txn, STORE_HOSTS, NULL, NULL, &hosts, lerr);
    if (r == 0)
        r = ledger_txn_list_all(&txn, STORE_GROUPS, NULL, NULL, &groups, lerr);
    if (r == 0)
        r = ledger_txn_list_all(&txn, STORE_SERVICES, NULL, NULL, &services, lerr);
    if (r == 0)
        r = ledger_txn_list_all(&txn, STORE_ASSIGNMENTS, "state", "active", &assignments, lerr);
    r = ledger_txn_end(&txn, r, lerr);
    FILE *out = r == 0 ? open_memstream(text, len) : NULL;
    if (r == 0 && !out)
        r = ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
    if (r == 0) {
        fputs("# The port plan of a portreg registry server (GET /api/v1/exports/plan): its hosts,\n"
              "# groups, policy and active assignments. `portreg plan check` reads it.\n", out);
        write_policy(out, policy);
        write_hosts(out, hosts, groups);
        write_services(out, assignments, services);
        if (fclose(out) != 0)
            r = ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
    }
    if (r < 0) {
        free(*text);
        *text = NULL;
    }
    json_decref(policy);
    json_decref(hosts);
    json_decref(groups);
    json_decref(services);
    json_decref(assignments);
    return r;
}

int ledger_export(struct ledger *ledger, const char *format, const char *host, char **text, size_t *len,
                  const char **content_type, struct ledger_error *lerr)
{
    static const char *const formats[] = { "plan", "services", "iana-csv", "netbox-csv", "netbox-csv-pre-4.3",
                                           "nft", NULL };
    size_t f = 0;
    while (formats[f] && strcmp(formats[f], format) != 0)
        f++;
    if (!formats[f])
        return ledger_fail(lerr, LEDGER_NOT_FOUND, "unknown-format", "format",
                           "no export %s: plan, services, iana-csv, netbox-csv, netbox-csv-pre-4.3 or nft", format);
    if (strcmp(format, "nft") == 0 && !host)
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "missing-field", "host", "the nft export is for one host: ?host=NAME");
    char *yaml = NULL;
    size_t yaml_len = 0;
    if (ledger_plan_yaml(ledger, &yaml, &yaml_len, lerr) < 0)
        return -1;
    if (strcmp(format, "plan") == 0) {
        *text = yaml;
        *len = yaml_len;
        *content_type = "application/yaml";
        return 0;
    }
    struct plan plan;
    struct plan_diagnostics diag;
    struct pr_error err;
    plan_init(&plan);
    plan_diagnostics_init(&diag);
    pr_error_clear(&err);
    int r = 0;
    if (plan_load_buffer(&plan, "registry", yaml, yaml_len, &diag, &err) < 0) {
        const char *why = diag.count ? diag.items[0].message : err.message;
        r = ledger_fail(lerr, LEDGER_INTERNAL, "plan", "", "the registry's plan does not load: %s", why);
    } else if (strcmp(format, "nft") == 0) {
        struct firewall_rules rules;
        struct firewall_output files = { 0 };
        memset(&rules, 0, sizeof rules);
        if (firewall_rules_build(&plan, host, &rules, &err) < 0)
            r = ledger_fail(lerr, err.code == -ENOENT ? LEDGER_NOT_FOUND : LEDGER_UNPROCESSABLE, "nft", "host", "%s",
                            err.message);
        else if (firewall_render(&rules, "nft", &files, &err) < 0)
            r = ledger_fail(lerr, LEDGER_INTERNAL, "nft", "", "%s", err.message);
        else if (files.file_count) {
            *len = files.files[0].length;
            *text = files.files[0].text;
            files.files[0].text = NULL;
            *content_type = "text/plain; charset=utf-8";
        }
        firewall_output_free(&files);
        firewall_rules_free(&rules);
    } else {
        if (plan_export(&plan, format, text, len, NULL, &err) < 0)
            r = ledger_fail(lerr, LEDGER_INTERNAL, "export", "", "%s", err.message);
        *content_type = strstr(format, "csv") ? "text/csv; charset=utf-8" : "text/plain; charset=utf-8";
    }
    plan_diagnostics_free(&diag);
    plan_free(&plan);
    free(yaml);
    return r;
}
