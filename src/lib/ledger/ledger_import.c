/* ledger_import.c — a port plan (the YAML `plan check` reads) into the registry: loaded and
 * checked by the plan code (plan/plan_yaml.c, plan/plan_check.c: its diagnostics come back
 * with file:line:column), then in ONE write transaction its hosts, groups (from the hosts'
 * `groups:`), services and assignments (one per service, host and port) are created, each
 * checked against what the registry holds as approvals are (409 on a conflict, 422 when the
 * server's policy refuses). `auto` ports are chosen by the ledger's allocator (not the plan's
 * choice: the registry knows what is taken). What exists already identically is kept and not
 * counted, so importing a plan twice changes nothing. A dry run rolls everything back. A
 * service may name hosts and groups the server has and the plan does not define: they join
 * the plan's model (addresses and groups as the server has them) before the check. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ledger/ledger_internal.h"
#include "plan/plan_check.h"
#include "plan/plan_yaml.h"
#include "registry/record.h"

struct importer {
    struct ledger_txn *txn;
    const struct ledger_actor *actor;
    struct plan *plan;
    size_t plan_hosts;                   /* plan->hosts[0..plan_hosts) are the plan's; the rest the server's */
    bool dry_run;
    unsigned hosts, groups, services, assignments;
    struct plan_diagnostics *diag;
};

static json_t *diagnostics_json(const struct plan_diagnostics *diag)
{
    json_t *list = json_array();
    for (size_t i = 0; i < diag->count; i++) {
        const struct plan_diagnostic *d = &diag->items[i];
        /* the plan's own choice for an `auto` port is not what the registry's allocator gives */
        if (d->code && strcmp(d->code, "auto-port") == 0)
            continue;
        json_array_append_new(list, json_pack("{s:s?, s:i, s:i, s:s, s:s, s:s, s:s, s:s?}", "file", d->pos.file,
                                              "line", (int)d->pos.line, "column", (int)d->pos.column, "path",
                                              d->field ? d->field : "", "severity", plan_severity_name(d->severity),
                                              "code", d->code ? d->code : "", "message", d->message, "fix", d->fix));
    }
    return list;
}

/* The host's addresses as the ledger keeps them: name → one address (the first of a name). */
static json_t *host_addresses(struct importer *im, const struct plan_host *h)
{
    json_t *addresses = json_object();
    for (size_t a = 0; a < h->address_count; a++) {
        const struct plan_named_address *na = &h->addresses[a];
        char text[INET6_ADDRSTRLEN];
        inet_ntop(na->family == AF_INET6 ? AF_INET6 : AF_INET, na->bytes, text, sizeof text);
        if (!na->name || !na->name[0] || json_object_get(addresses, na->name)) {
            plan_diagnostics_add(im->diag, PLAN_SEVERITY_WARNING, "import-address-skipped", &na->pos, "addresses",
                                 NULL, NULL, "address %s of host %s (%s:%u:%u) is not imported: the registry keeps "
                                 "one address per name%s", text, h->name, na->pos.file ? na->pos.file : "",
                                 na->pos.line, na->pos.column,
                                 na->name && na->name[0] ? ", the first" : ", and this one has no name");
            continue;
        }
        json_object_set_new(addresses, na->name, json_string(text));
    }
    return addresses;
}

static int insert_row(struct importer *im, enum store_kind kind, json_t *row, const char *event, struct ledger_error *lerr)
{
    int64_t id = 0;
    struct pr_error err;
    pr_error_clear(&err);
    if (im->txn->ledger->backend->insert(im->txn->conn, kind, row, &id, &err) < 0)
        return ledger_store_fail(lerr, &err, store_tables[kind].name);
    return ledger_event(im->txn, im->actor, event, store_tables[kind].name, id, NULL, row, lerr);
}

static int text_compare(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Equal objects, or arrays of names equal as sets (a group's hosts in any order). */
static bool values_equal(const json_t *a, const json_t *b)
{
    if (!json_is_array(a) || !json_is_array(b) || json_array_size(a) != json_array_size(b))
        return json_equal(a, b);
    size_t n = json_array_size(a);
    json_t **x = calloc(n ? n : 1, sizeof *x), **y = calloc(n ? n : 1, sizeof *y);
    bool same = x && y;
    for (size_t i = 0; same && i < n; i++) {
        x[i] = json_array_get(a, i);
        y[i] = json_array_get(b, i);
        same = json_is_string(x[i]) && json_is_string(y[i]);
    }
    if (same) {
        qsort(x, n, sizeof *x, text_compare);
        qsort(y, n, sizeof *y, text_compare);
        for (size_t i = 0; same && i < n; i++)
            same = strcmp(json_string_value(x[i]), json_string_value(y[i])) == 0;
    }
    free(x);
    free(y);
    return same;
}

/* Create row unless one of its name exists: equal in the compared column → kept; else 409. */
static int create_named(struct importer *im, enum store_kind kind, json_t *row, const char *compare,
                        const char *event, unsigned *count, struct ledger_error *lerr)
{
    json_t *existing = NULL;
    const char *name = store_row_text(row, "name");
    if (ledger_txn_find(im->txn, kind, "name", name, &existing, lerr) < 0)
        return -1;
    if (existing) {
        bool same = !compare || values_equal(json_object_get(existing, compare), json_object_get(row, compare));
        if (same) {
            json_decref(existing);
            return 0;
        }
        ledger_fail(lerr, LEDGER_CONFLICT, "exists", "name", "the registry has a %.*s %s with other %s",
                    (int)strlen(store_tables[kind].name) - 1, store_tables[kind].name, name, compare);
        lerr->conflict = existing;
        return -1;
    }
    (*count)++;
    return insert_row(im, kind, row, event, lerr);
}

static int import_hosts_and_groups(struct importer *im, int64_t now, struct ledger_error *lerr)
{
    json_t *groups = json_object();   /* group name → [host names] in plan order */
    int r = 0;
    for (size_t h = 0; h < im->plan->host_count && r == 0; h++) {
        const struct plan_host *host = &im->plan->hosts[h];
        /* the server's own hosts are there already; their groups count (a group's members
         * are compared whole) */
        if (h < im->plan_hosts) {
            json_t *row = json_pack("{s:s, s:o, s:i, s:I, s:I}", "name", host->name, "addresses",
                                    host_addresses(im, host), "version", 1, "created", (json_int_t)now, "updated",
                                    (json_int_t)now);
            r = create_named(im, STORE_HOSTS, row, "addresses", "host.created", &im->hosts, lerr);
            json_decref(row);
        }
        for (size_t g = 0; g < host->group_count; g++) {
            json_t *members = json_object_get(groups, host->groups[g]);
            if (!members)
                json_object_set_new(groups, host->groups[g], members = json_array());
            json_array_append_new(members, json_string(host->name));
        }
    }
    const char *name;
    json_t *members;
    json_object_foreach(groups, name, members) {
        if (r < 0)
            break;
        json_t *row = json_pack("{s:s, s:O, s:i, s:I, s:I}", "name", name, "hosts", members, "version", 1, "created",
                                (json_int_t)now, "updated", (json_int_t)now);
        r = create_named(im, STORE_GROUPS, row, "hosts", "group.created", &im->groups, lerr);
        json_decref(row);
    }
    json_decref(groups);
    return r;
}

/* An active assignment of service on host/proto/port with bind already: kept, not made again. */
static int already_assigned(struct importer *im, const char *service, const char *host, const char *proto,
                            unsigned port, bool any_port, const char *bind, unsigned *found, struct ledger_error *lerr)
{
    json_t *rows = NULL;
    *found = 0;
    if (ledger_txn_list_all(im->txn, STORE_ASSIGNMENTS, "service", service, &rows, lerr) < 0)
        return -1;
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a)
        if (!*found && strcmp(store_row_text(a, "state"), "active") == 0 && strcmp(store_row_text(a, "host"), host) == 0 &&
            strcmp(store_row_text(a, "proto"), proto) == 0 && strcmp(store_row_text(a, "bind"), bind) == 0 &&
            (any_port ? store_row_int(a, "port_lo", 0) == store_row_int(a, "port_hi", -1)
                      : store_row_int(a, "port_lo", 0) == port && store_row_int(a, "port_hi", 0) == port))
            *found = (unsigned)store_row_int(a, "port_lo", 0);
    json_decref(rows);
    return 0;
}

static int import_port(struct importer *im, const struct plan_service *svc, const struct plan_port *port,
                       const json_t *host_rows, int64_t now, struct ledger_error *lerr)
{
    const char *proto = plan_proto_name(port->proto);
    char bind[INET6_ADDRSTRLEN + 8];
    plan_bind_format(&svc->bind, bind, sizeof bind);
    const char *group = svc->host_count == 1 && plan_is_group(im->plan, svc->hosts[0]) ? svc->hosts[0] : NULL;
    /* hosts that have it already (re-import) are left out; the rest get one port */
    json_t *todo = json_array();
    unsigned number = port->automatic ? 0 : port->port, kept = 0;
    size_t i;
    json_t *host;
    int r = 0;
    json_array_foreach(host_rows, i, host) {
        unsigned found = 0;
        r = already_assigned(im, svc->name, store_row_text(host, "name"), proto, number, port->automatic, bind, &found,
                             lerr);
        if (r < 0)
            break;
        if (found)
            kept = found;
        else
            json_array_append(todo, host);
    }
    if (r == 0 && json_array_size(todo)) {
        if (port->automatic && kept)
            number = kept;   /* the port the service already has on its other hosts */
        if (number)
            r = ledger_check_ports(im->txn, todo, proto, number, number, svc->name, bind, lerr);
        else
            r = ledger_pick_auto_port(im->txn, todo, proto, svc->name, bind, &number, lerr);
        if (r < 0 && lerr->field[0])
            snprintf(lerr->field, sizeof lerr->field, "services.%s", svc->name);
    }
    json_array_foreach(todo, i, host) {
        if (r < 0)
            break;
        json_t *row = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s?, s:s, s:n, s:n, s:s?, s:s, s:i, s:I, s:I}",
                                "service", svc->name, "host", store_row_text(host, "name"), "proto", proto, "port_lo",
                                (int)number, "port_hi", (int)number, "bind", bind, "owner", svc->owner, "state",
                                "active", "quarantine_until", "request", "group", group, "exposure",
                                plan_exposure_name(svc->exposure), "version", 1, "created", (json_int_t)now,
                                "updated", (json_int_t)now);
        r = insert_row(im, STORE_ASSIGNMENTS, row, "assignment.created", lerr);
        json_decref(row);
        if (r == 0 && !im->dry_run) {
            struct port_map *map = ledger_port_map(im->txn->ledger, store_row_text(host, "name"), proto);
            if (map) {   /* before commit: a rollback leaves it marked, never wrongly free */
                port_set_add(&map->taken, (uint16_t)number);
                port_set_add(&map->assigned, (uint16_t)number);
            }
        }
        im->assignments += r == 0;
    }
    json_decref(todo);
    return r;
}

static int import_services(struct importer *im, int64_t now, struct ledger_error *lerr)
{
    int r = 0;
    for (size_t s = 0; s < im->plan->service_count && r == 0; s++) {
        const struct plan_service *svc = &im->plan->services[s];
        json_t *row = json_pack("{s:s, s:s?, s:s?, s:i, s:I, s:I}", "name", svc->name, "owner", svc->owner,
                                "description", svc->notes, "version", 1, "created", (json_int_t)now, "updated",
                                (json_int_t)now);
        r = create_named(im, STORE_SERVICES, row, NULL, "service.created", &im->services, lerr);
        json_decref(row);
    }
    /* fixed ports first, so that an auto port never takes one a later service names */
    for (int pass = 0; pass < 2 && r == 0; pass++)
        for (size_t s = 0; s < im->plan->service_count && r == 0; s++) {
            const struct plan_service *svc = &im->plan->services[s];
            size_t *indices = NULL, count = 0;
            if (plan_service_host_indices(im->plan, svc, &indices, &count) < 0)
                return ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
            json_t *names = json_array(), *host_rows = NULL;
            for (size_t h = 0; h < count; h++)
                json_array_append_new(names, json_string(im->plan->hosts[indices[h]].name));
            free(indices);
            r = 0;
            for (size_t h = 0; h < json_array_size(names) && r == 0; h++) {
                json_t *hr = NULL;
                r = ledger_txn_find(im->txn, STORE_HOSTS, "name", json_string_value(json_array_get(names, h)), &hr, lerr);
                if (!host_rows)
                    host_rows = json_array();
                if (hr)
                    json_array_append_new(host_rows, hr);
            }
            for (size_t p = 0; p < svc->port_count && r == 0; p++)
                if (svc->ports[p].automatic == (pass == 1))
                    r = import_port(im, svc, &svc->ports[p], host_rows, now, lerr);
            json_decref(names);
            json_decref(host_rows);
        }
    return r;
}

/* Where the server's hosts are in diagnostics: not in a file (line 0). */
static const char server_hosts_file[] = "(server)";

/* The server's hosts that the plan does not define join its model, with their addresses and
 * the server's groups, so that a service may name them or their groups and the check sees
 * their addresses; hosts the plan does define keep the server's groups too (an import only
 * adds). Between plan_parse_buffer and plan_load_finish, read in a transaction of its own. */
static int add_server_hosts(struct ledger *ledger, struct plan *plan, struct ledger_error *lerr)
{
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, false, &txn, lerr) < 0)
        return -1;
    json_t *hosts = NULL, *groups = NULL;
    int r = ledger_txn_list_all(&txn, STORE_HOSTS, NULL, NULL, &hosts, lerr);
    if (r == 0)
        r = ledger_txn_list_all(&txn, STORE_GROUPS, NULL, NULL, &groups, lerr);
    r = ledger_txn_end(&txn, r, lerr);
    json_t *groups_of = json_object();   /* host name → [group names] */
    size_t i, m;
    json_t *row, *member;
    json_array_foreach(r == 0 ? groups : NULL, i, row) {
        json_array_foreach(json_object_get(row, "hosts"), m, member) {
            const char *host = json_string_value(member);
            if (!host)
                continue;
            json_t *list = json_object_get(groups_of, host);
            if (!list)
                json_object_set_new(groups_of, host, list = json_array());
            json_array_append_new(list, json_string(store_row_text(row, "name")));
        }
    }
    size_t plan_hosts = plan->host_count;
    struct plan_pos pos = { server_hosts_file, 0, 0 };
    json_array_foreach(r == 0 ? hosts : NULL, i, row) {
        const char *name = store_row_text(row, "name");
        struct plan_host *defined = NULL;
        for (size_t h = 0; h < plan_hosts && !defined; h++)
            if (strcmp(plan->hosts[h].name, name) == 0)
                defined = &plan->hosts[h];
        json_t *list = json_object_get(groups_of, name);
        size_t group_count = json_array_size(list);
        if (defined) {
            for (size_t g = 0; g < group_count && r == 0; g++)
                if (plan_host_add_group(plan, defined, json_string_value(json_array_get(list, g))) < 0)
                    r = ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
            continue;
        }
        json_t *addresses = json_object_get(row, "addresses");
        struct plan_named_address *named = calloc(json_object_size(addresses) + 1, sizeof *named);
        const char **group_names = calloc(group_count + 1, sizeof *group_names);
        size_t count = 0;
        const char *address_name;
        json_t *value;
        json_object_foreach(named ? addresses : NULL, address_name, value) {
            const char *text = json_string_value(value);
            struct plan_named_address *a = &named[count];
            a->name = address_name;
            if (text && inet_pton(AF_INET, text, a->bytes) == 1)
                a->family = AF_INET;
            else if (text && inet_pton(AF_INET6, text, a->bytes) == 1)
                a->family = AF_INET6;
            else
                continue;   /* the ledger checked it when it was stored */
            count++;
        }
        for (size_t g = 0; group_names && g < group_count; g++)
            group_names[g] = json_string_value(json_array_get(list, g));
        if (!named || !group_names ||
            plan_add_host(plan, name, named, count, group_names, group_count, &pos) < 0)
            r = ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
        free(named);
        free(group_names);
        if (r < 0)
            break;
    }
    json_decref(groups_of);
    json_decref(hosts);
    json_decref(groups);
    return r;
}

int ledger_import(struct ledger *ledger, const struct ledger_actor *actor, const char *file, const char *text,
                  size_t len, bool dry_run, json_t **out, json_t **diagnostics, struct ledger_error *lerr)
{
    *out = NULL;
    *diagnostics = NULL;
    struct plan plan;
    struct plan_diagnostics diag;
    struct pr_error err;
    plan_init(&plan);
    plan_diagnostics_init(&diag);
    pr_error_clear(&err);
    int r = 0;
    /* parsed, then the server's hosts join it, then finished (references resolved) */
    int loaded = plan_parse_buffer(&plan, file, text, len, &diag, &err);
    size_t plan_hosts = plan.host_count;
    if (loaded < 0 && loaded != -EINVAL)
        r = ledger_fail(lerr, LEDGER_INTERNAL, "plan", "", "%s", err.message);
    if (r == 0)
        r = add_server_hosts(ledger, &plan, lerr);
    if (r == 0) {
        int finished = plan_load_finish(&plan, &diag, &err);
        if (finished < 0 && finished != -EINVAL)
            r = ledger_fail(lerr, LEDGER_INTERNAL, "plan", "", "%s", err.message);
        else if (loaded == 0)
            loaded = finished;
    }
    if (r == 0 && loaded == 0) {
        /* the plan's own rules, with the server's ephemeral range and IANA data */
        struct local_ports facts;
        memset(&facts, 0, sizeof facts);
        facts.have_ephemeral = ledger->policy.ephemeral_lo != 0;
        facts.ephemeral.first = (uint16_t)ledger->policy.ephemeral_lo;
        facts.ephemeral.last = (uint16_t)ledger->policy.ephemeral_hi;
        struct plan_check_context ctx = { .iana_lookup = ledger->iana_lookup, .iana_user = ledger->iana_user,
                                          .local = &facts };
        if (plan_check(&plan, &ctx, &diag, &err) < 0)
            r = ledger_fail(lerr, LEDGER_INTERNAL, "plan", "", "%s", err.message);
    }
    if (r == 0 && diag.errors)
        r = ledger_fail(lerr, LEDGER_UNPROCESSABLE, "plan-errors", "", "the plan has %zu error%s: nothing was imported",
                        diag.errors, diag.errors == 1 ? "" : "s");
    struct ledger_txn txn;
    if (r == 0)
        r = ledger_txn_begin(ledger, true, &txn, lerr);
    if (r == 0) {
        struct importer im = { .txn = &txn, .actor = actor, .plan = &plan, .plan_hosts = plan_hosts,
                               .dry_run = dry_run, .diag = &diag };
        int64_t now = ledger_now(ledger);
        int w = import_hosts_and_groups(&im, now, lerr);
        if (w == 0)
            w = import_services(&im, now, lerr);
        /* a dry run rolls back what it did (ledger_txn_end rolls back on non-zero) */
        w = ledger_txn_end(&txn, w == 0 && dry_run ? 1 : w, lerr);
        r = w == 1 ? 0 : w;
        if (r == 0)
            *out = json_pack("{s:{s:i, s:i, s:i, s:i}, s:b}", "created", "hosts", (int)im.hosts, "groups", (int)im.groups,
                             "services", (int)im.services, "assignments", (int)im.assignments, "dry_run", dry_run);
    }
    plan_diagnostics_sort(&diag);
    *diagnostics = diagnostics_json(&diag);
    plan_diagnostics_free(&diag);
    plan_free(&plan);
    return r;
}
