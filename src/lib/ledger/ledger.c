/* ledger.c — the ledger's core: open and close, the clock, errors as values, transactions,
 * events, reads by id and lists, hosts and the policy. Requests and assignments, leases,
 * tokens and the port maps live in files of their own. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ledger/ledger_body.h"
#include "ledger/ledger_internal.h"
#include "util/proto.h"

void ledger_error_clear(struct ledger_error *lerr)
{
    if (!lerr)
        return;
    json_decref(lerr->conflict);
    memset(lerr, 0, sizeof *lerr);
}

int ledger_fail(struct ledger_error *lerr, enum ledger_error_kind kind, const char *code, const char *field,
                const char *fmt, ...)
{
    if (!lerr)
        return -1;
    lerr->kind = kind;
    snprintf(lerr->code, sizeof lerr->code, "%s", code ? code : "");
    snprintf(lerr->field, sizeof lerr->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lerr->message, sizeof lerr->message, fmt, ap);
    va_end(ap);
    return -1;
}

int ledger_store_fail(struct ledger_error *lerr, const struct pr_error *err, const char *what)
{
    switch (err->code) {
    case -ENOENT:
        return ledger_fail(lerr, LEDGER_NOT_FOUND, "not-found", "", "%s", err->message);
    case -EEXIST:
        return ledger_fail(lerr, LEDGER_CONFLICT, "exists", "", "%s: %s", what, err->message);
    case -EBUSY:
        return ledger_fail(lerr, LEDGER_UNAVAILABLE, "busy", "", "%s: the database is busy: %s", what, err->message);
    default:
        return ledger_fail(lerr, LEDGER_UNAVAILABLE, "database", "", "%s: %s", what, err->message);
    }
}

static const char *const role_names[] = { "none", "reader", "agent", "requester", "admin" };

const char *ledger_role_name(enum ledger_role role)
{
    return role <= LEDGER_ROLE_ADMIN ? role_names[role] : "none";
}

enum ledger_role ledger_role_parse(const char *name)
{
    for (int r = LEDGER_ROLE_READER; r <= LEDGER_ROLE_ADMIN; r++)
        if (name && strcmp(name, role_names[r]) == 0)
            return (enum ledger_role)r;
    return LEDGER_ROLE_NONE;
}

int64_t ledger_now(const struct ledger *ledger)
{
    return (int64_t)time(NULL) + ledger->clock_offset;
}

void ledger_clock_advance(struct ledger *ledger, int64_t seconds)
{
    pthread_mutex_lock(&ledger->write_lock);
    ledger->clock_offset += seconds;
    pthread_mutex_unlock(&ledger->write_lock);
}

void ledger_set_iana_lookup(struct ledger *ledger,
                            size_t (*lookup)(void *user, uint16_t port, uint8_t proto, const char **names, size_t max),
                            void *user)
{
    pthread_mutex_lock(&ledger->write_lock);
    ledger->iana_lookup = lookup;
    ledger->iana_user = user;
    pthread_mutex_unlock(&ledger->write_lock);
}

int ledger_txn_begin(struct ledger *ledger, bool write, struct ledger_txn *txn, struct ledger_error *lerr)
{
    txn->ledger = ledger;
    txn->write = write;
    if (write)
        pthread_mutex_lock(&ledger->write_lock);
    txn->conn = write && ledger->backend->acquire_writer ? ledger->backend->acquire_writer(ledger->store)
                                                         : ledger->backend->acquire(ledger->store);
    struct pr_error err;
    pr_error_clear(&err);
    if (ledger->backend->begin(txn->conn, write, &err) < 0) {
        ledger->backend->release(ledger->store, txn->conn);
        if (write)
            pthread_mutex_unlock(&ledger->write_lock);
        return ledger_store_fail(lerr, &err, "begin");
    }
    if (write && ledger_changes_apply(ledger, txn, lerr) < 0) {
        ledger->backend->rollback(txn->conn);
        ledger->backend->release(ledger->store, txn->conn);
        pthread_mutex_unlock(&ledger->write_lock);
        return -1;
    }
    return 0;
}

int ledger_txn_durable(struct ledger_txn *txn, bool committed, int r, struct ledger_error *lerr)
{
    /* after write_lock is let go: the next writer runs while this commit reaches the disk */
    struct pr_error err;
    pr_error_clear(&err);
    if (committed && txn->ledger->backend->sync && txn->ledger->backend->sync(txn->ledger->store, &err) < 0)
        return ledger_store_fail(lerr, &err, "commit");
    return r;
}

int ledger_txn_end(struct ledger_txn *txn, int r, struct ledger_error *lerr)
{
    struct ledger *ledger = txn->ledger;
    struct pr_error err;
    pr_error_clear(&err);
    bool committed = false;
    if (r == 0 && ledger->backend->commit(txn->conn, &err) < 0) {
        ledger->backend->rollback(txn->conn);
        r = ledger_store_fail(lerr, &err, "commit");
    } else if (r != 0) {
        ledger->backend->rollback(txn->conn);
    } else {
        committed = txn->write;
    }
    ledger->backend->release(ledger->store, txn->conn);
    if (txn->write)
        pthread_mutex_unlock(&ledger->write_lock);
    return ledger_txn_durable(txn, committed, r, lerr);
}

int ledger_txn_end_with_row(struct ledger_txn *txn, int r, json_t *row, json_t **out, struct ledger_error *lerr)
{
    r = ledger_txn_end(txn, r, lerr);
    if (r == 0)
        *out = row;
    else
        json_decref(row);
    return r;
}

int ledger_event(struct ledger_txn *txn, const struct ledger_actor *actor, const char *kind,
                 const char *object_kind, int64_t object_id, const json_t *before, const json_t *after,
                 struct ledger_error *lerr)
{
    json_t *row = json_pack("{s:I, s:s?, s:s?, s:s, s:s, s:I, s:O?, s:O?}", "time",
                            (json_int_t)ledger_now(txn->ledger), "actor", actor ? actor->name : NULL,
                            "request_id", actor ? actor->request_id : NULL, "kind", kind, "object_kind",
                            object_kind, "object_id", (json_int_t)object_id, "before", before, "after", after);
    int64_t id;
    struct pr_error err;
    pr_error_clear(&err);
    int r = txn->ledger->backend->insert(txn->conn, STORE_EVENTS, row, &id, &err);
    json_decref(row);
    return r < 0 ? ledger_store_fail(lerr, &err, "events") : 0;
}

int ledger_txn_get(struct ledger_txn *txn, enum store_kind kind, int64_t id, json_t **row,
                   struct ledger_error *lerr)
{
    struct pr_error err;
    pr_error_clear(&err);
    if (txn->ledger->backend->get(txn->conn, kind, id, row, &err) < 0) {
        if (err.code == -ENOENT)
            return ledger_fail(lerr, LEDGER_NOT_FOUND, "not-found", "", "no %s with id %lld",
                               store_tables[kind].name, (long long)id);
        return ledger_store_fail(lerr, &err, store_tables[kind].name);
    }
    return 0;
}

int ledger_txn_find(struct ledger_txn *txn, enum store_kind kind, const char *column, const char *value,
                    json_t **row, struct ledger_error *lerr)
{
    json_t *v = json_string(value), *rows = NULL;
    struct store_filter f = { column, v, STORE_EQUAL };
    struct pr_error err;
    pr_error_clear(&err);
    int r = txn->ledger->backend->list(txn->conn, kind, &f, 1, 0, 1, &rows, &err);
    json_decref(v);
    if (r < 0)
        return ledger_store_fail(lerr, &err, store_tables[kind].name);
    *row = json_array_size(rows) ? json_incref(json_array_get(rows, 0)) : NULL;
    json_decref(rows);
    return 0;
}

int ledger_check_version(const json_t *row, int64_t if_match, struct ledger_error *lerr)
{
    int64_t version = store_row_int(row, "version", 0);
    if (if_match >= 0 && if_match != version)
        return ledger_fail(lerr, LEDGER_PRECONDITION_FAILED, "version-changed", "",
                           "the object is at version %lld, not %lld: read it again", (long long)version,
                           (long long)if_match);
    return 0;
}

int ledger_txn_update(struct ledger_txn *txn, enum store_kind kind, json_t *row, int64_t if_match,
                      struct ledger_error *lerr)
{
    if (ledger_check_version(row, if_match, lerr) < 0)
        return -1;
    json_object_set_new(row, "version", json_integer((json_int_t)(store_row_int(row, "version", 0) + 1)));
    if (json_object_get(row, "updated"))
        json_object_set_new(row, "updated", json_integer((json_int_t)ledger_now(txn->ledger)));
    struct pr_error err;
    pr_error_clear(&err);
    if (txn->ledger->backend->update(txn->conn, kind, store_row_int(row, "id", 0), row, &err) < 0)
        return ledger_store_fail(lerr, &err, store_tables[kind].name);
    return 0;
}

/* ---- open, close ---- */

int ledger_open(const struct ledger_options *opt, struct ledger **out, struct pr_error *err)
{
    const char *location = NULL;
    const struct store_backend *backend = store_backend_find(opt->db_url, &location);
    if (!backend)
        return pr_error_set(err, -EINVAL, "--db %s: unknown database (sqlite:PATH or postgresql://USER@HOST:PORT/DB)", opt->db_url);
    struct ledger *ledger = calloc(1, sizeof *ledger);
    if (!ledger)
        return pr_error_set(err, -ENOMEM, "out of memory");
    ledger->backend = backend;
    ledger->clock_offset = opt->clock_offset;
    ledger->change_seq = -1;
    ledger->secret_len = opt->secret_len < sizeof ledger->secret ? opt->secret_len : sizeof ledger->secret;
    if (opt->secret)
        memcpy(ledger->secret, opt->secret, ledger->secret_len);
    pthread_mutex_init(&ledger->write_lock, NULL);
    pthread_mutex_init(&ledger->token_cache_lock, NULL);
    int r = backend->open(location, opt->connections ? opt->connections : 2, &ledger->store, err);
    if (r < 0) {
        pthread_mutex_destroy(&ledger->write_lock);
        pthread_mutex_destroy(&ledger->token_cache_lock);
        free(ledger);
        return r;
    }
    struct ledger_txn txn;
    struct ledger_error lerr = { 0 };
    json_t *doc = NULL;
    r = ledger_txn_begin(ledger, true, &txn, &lerr);
    if (r == 0) {
        struct pr_error store_err;
        pr_error_clear(&store_err);
        if (backend->policy_get(txn.conn, &doc, &store_err) < 0)
            r = ledger_store_fail(&lerr, &store_err, "policy");
        ledger->policy_doc = ledger_policy_default();
        if (r == 0 && doc)
            json_object_update(ledger->policy_doc, doc);
        json_decref(doc);
        ledger_policy_apply(&ledger->policy, ledger->policy_doc);
        if (r == 0)
            r = ledger_port_maps_rebuild(ledger, &txn, &lerr);
        r = ledger_txn_end(&txn, r, &lerr);
    }
    if (r < 0) {
        pr_error_set(err, -EIO, "%s", lerr.message);
        ledger_error_clear(&lerr);
        ledger_close(ledger);
        return -EIO;
    }
    *out = ledger;
    return 0;
}

void ledger_close(struct ledger *ledger)
{
    if (!ledger)
        return;
    if (ledger->store)
        ledger->backend->close(ledger->store);
    json_decref(ledger->policy_doc);
    free(ledger->maps);
    free(ledger->quarantines);
    pthread_mutex_destroy(&ledger->write_lock);
    pthread_mutex_destroy(&ledger->token_cache_lock);
    free(ledger);
}

int ledger_ready(struct ledger *ledger, struct ledger_error *lerr)
{
    struct pr_error err;
    pr_error_clear(&err);
    return ledger->backend->ping(ledger->store, &err) < 0 ? ledger_store_fail(lerr, &err, "database") : 0;
}

/* ---- reads ---- */

int ledger_get(struct ledger *ledger, enum store_kind kind, int64_t id, json_t **out, struct ledger_error *lerr)
{
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, false, &txn, lerr) < 0)
        return -1;
    int r = ledger_txn_get(&txn, kind, id, out, lerr);
    if (r == 0 && kind == STORE_TOKENS)
        json_object_del(*out, "hash");
    return ledger_txn_end(&txn, r, lerr);
}

int ledger_list(struct ledger *ledger, enum store_kind kind, const json_t *query, json_t **out,
                struct ledger_error *lerr)
{
    struct store_filter filters[16];
    json_t *values[16];
    size_t n = 0;
    int64_t after = 0;
    unsigned limit = 100;
    const char *key;
    json_t *v;
    int r = 0;
    json_object_foreach((json_t *)query, key, v) {
        const char *text = json_string_value(v);
        if (!text)
            continue;
        char *end;
        if (strcmp(key, "after") == 0 || strcmp(key, "limit") == 0) {
            long long number = strtoll(text, &end, 10);
            if (*text == '\0' || *end || number < 0 || (strcmp(key, "limit") == 0 && (number < 1 || number > STORE_LIST_MAX)))
                return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", key, "%s must be %s", key,
                                   strcmp(key, "limit") == 0 ? "1-1000" : "an id");
            if (strcmp(key, "after") == 0)
                after = number;
            else
                limit = (unsigned)number;
            continue;
        }
        if (kind == STORE_ASSIGNMENTS && strcmp(key, "port") == 0) {
            /* the assignments whose range holds the port: port_lo <= port <= port_hi */
            long long port = strtoll(text, &end, 10);
            if (*text == '\0' || *end || port < 0 || port > 65535) {
                r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", key, "port must be 0-65535");
                break;
            }
            if (n > 14) {
                r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-filter", key, "too many filters");
                break;
            }
            values[n] = json_integer(port);
            filters[n] = (struct store_filter){ "port_lo", values[n], STORE_AT_MOST };
            values[n + 1] = json_integer(port);
            filters[n + 1] = (struct store_filter){ "port_hi", values[n + 1], STORE_AT_LEAST };
            n += 2;
            continue;
        }
        const struct store_column *c = store_tables[kind].columns;
        while (c->name && (strcmp(c->name, key) != 0 || c->type == STORE_JSON || strcmp(key, "hash") == 0))
            c++;
        if (!c->name || n == 16) {
            r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-filter", key, "%s cannot be filtered by %s",
                            store_tables[kind].name, key);
            break;
        }
        if (c->type == STORE_INT) {
            long long number = strtoll(text, &end, 10);
            if (*text == '\0' || *end) {
                r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", key, "%s must be an integer", key);
                break;
            }
            values[n] = json_integer(number);
        } else {
            values[n] = json_string(text);
        }
        filters[n] = (struct store_filter){ c->name, values[n], STORE_EQUAL };
        n++;
    }
    struct ledger_txn txn;
    if (r == 0 && ledger_txn_begin(ledger, false, &txn, lerr) == 0) {
        struct pr_error err;
        pr_error_clear(&err);
        json_t *rows = NULL;
        if (ledger->backend->list(txn.conn, kind, filters, n, after, limit, &rows, &err) < 0)
            r = ledger_store_fail(lerr, &err, store_tables[kind].name);
        r = ledger_txn_end(&txn, r, lerr);
        if (r == 0) {
            size_t i;
            json_t *row;
            if (kind == STORE_TOKENS)
                json_array_foreach(rows, i, row) json_object_del(row, "hash");
            int64_t last = json_array_size(rows) ? store_row_int(json_array_get(rows, json_array_size(rows) - 1), "id", 0) : 0;
            *out = json_pack("{s:o, s:o}", "items", rows, "next_after",
                             json_array_size(rows) == limit ? json_integer((json_int_t)last) : json_null());
        } else {
            json_decref(rows);
        }
    } else if (r == 0) {
        r = -1;
    }
    for (size_t i = 0; i < n; i++)
        json_decref(values[i]);
    return r;
}

/* ---- hosts ---- */

int ledger_host_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                       json_t **out, struct ledger_error *lerr)
{
    if (ledger_body_validate(LEDGER_BODY_HOST, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *existing = NULL;
    int64_t now = ledger_now(ledger), id;
    const char *name = store_row_text(body, "name");
    int r = ledger_txn_find(&txn, STORE_HOSTS, "name", name, &existing, lerr);
    if (r == 0 && existing) {
        r = ledger_fail(lerr, LEDGER_CONFLICT, "exists", "name", "a host named %s exists", name);
        lerr->conflict = existing;
        existing = NULL;
    }
    json_t *addresses = json_object_get(body, "addresses");
    json_t *row = json_pack("{s:s, s:o, s:i, s:I, s:I}", "name", name, "addresses",
                            addresses ? json_deep_copy(addresses) : json_object(),
                            "version", 1, "created", (json_int_t)now, "updated", (json_int_t)now);
    struct pr_error err;
    pr_error_clear(&err);
    if (r == 0 && ledger->backend->insert(txn.conn, STORE_HOSTS, row, &id, &err) < 0)
        r = ledger_store_fail(lerr, &err, "hosts");
    if (r == 0)
        r = ledger_event(&txn, actor, "host.created", "hosts", id, NULL, row, lerr);
    return ledger_txn_end_with_row(&txn, r, row, out, lerr);
}

int ledger_host_update(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                       const json_t *body, int64_t if_match, json_t **out, struct ledger_error *lerr)
{
    if (ledger_body_validate(LEDGER_BODY_HOST_PATCH, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *row = NULL, *before = NULL;
    int r = ledger_txn_get(&txn, STORE_HOSTS, id, &row, lerr);
    if (r == 0) {
        before = json_deep_copy(row);
        json_object_set(row, "addresses", json_object_get(body, "addresses"));
        r = ledger_check_version(row, if_match, lerr);
    }
    /* an assignment bound by an address name moves with it: refused when it would overlap */
    if (r == 0)
        r = ledger_check_host_addresses(&txn, before, row, lerr);
    if (r == 0)
        r = ledger_txn_update(&txn, STORE_HOSTS, row, if_match, lerr);
    if (r == 0)
        r = ledger_event(&txn, actor, "host.updated", "hosts", id, before, row, lerr);
    json_decref(before);
    return ledger_txn_end_with_row(&txn, r, row, out, lerr);
}

int ledger_host_delete(struct ledger *ledger, const struct ledger_actor *actor, int64_t id, int64_t if_match,
                       struct ledger_error *lerr)
{
    /* Deleting a host that an assignment or lease still names (in any state: they keep
     * their history) is a conflict; otherwise its row goes and the event keeps what it was. */
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *row = NULL, *holder = NULL;
    int r = ledger_txn_get(&txn, STORE_HOSTS, id, &row, lerr);
    if (r == 0)
        r = ledger_check_version(row, if_match, lerr);
    if (r == 0)
        r = ledger_txn_find(&txn, STORE_ASSIGNMENTS, "host", store_row_text(row, "name"), &holder, lerr);
    if (r == 0 && !holder)
        r = ledger_txn_find(&txn, STORE_LEASES, "host", store_row_text(row, "name"), &holder, lerr);
    if (r == 0 && !holder && (r = ledger_host_in_group(&txn, store_row_text(row, "name"), &holder, lerr)) == 0 &&
        holder) {
        r = ledger_fail(lerr, LEDGER_CONFLICT, "host-in-use", "", "host %s is a member of group %s",
                        store_row_text(row, "name"), store_row_text(holder, "name"));
        lerr->conflict = holder;
        holder = NULL;
    }
    if (r == 0 && holder) {
        r = ledger_fail(lerr, LEDGER_CONFLICT, "host-in-use", "", "host %s has assignments or leases",
                        store_row_text(row, "name"));
        lerr->conflict = holder;
        holder = NULL;
    }
    struct pr_error err;
    pr_error_clear(&err);
    if (r == 0 && ledger->backend->remove(txn.conn, STORE_HOSTS, id, &err) < 0)
        r = ledger_store_fail(lerr, &err, "hosts");
    if (r == 0)
        r = ledger_event(&txn, actor, "host.deleted", "hosts", id, row, NULL, lerr);
    json_decref(holder);
    json_decref(row);
    return ledger_txn_end(&txn, r, lerr);
}

/* ---- policy ---- */

json_t *ledger_policy_default(void)
{
    /* the kernel's default ip_local_port_range; the IANA user range below it for automatic
     * assignments and leases; 30 days of quarantine (IANA's and Kea's probation idea) */
    return json_pack("{s:s, s:s, s:s, s:[], s:i, s:i, s:i, s:b}", "ephemeral", "32768-60999", "auto_range",
                     "10000-32767", "lease_range", "10000-32767", "excluded", "quarantine_days", 30,
                     "lease_ttl_default", 3600, "lease_ttl_max", 86400, "iana_assigned_allowed", 1);
}

void ledger_policy_apply(struct ledger_policy *policy, const json_t *doc)
{
    bool is_auto;
    memset(policy, 0, sizeof *policy);
    ledger_port_value(json_object_get(doc, "ephemeral"), false, &policy->ephemeral_lo, &policy->ephemeral_hi, &is_auto);
    ledger_port_value(json_object_get(doc, "auto_range"), false, &policy->auto_lo, &policy->auto_hi, &is_auto);
    ledger_port_value(json_object_get(doc, "lease_range"), false, &policy->lease_lo, &policy->lease_hi, &is_auto);
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(doc, "excluded"), i, item) {
        unsigned lo, hi;
        if (ledger_port_value(item, false, &lo, &hi, &is_auto) == 0)
            port_set_add_range(&policy->excluded, (uint16_t)lo, (uint16_t)hi);
    }
    policy->quarantine_days = store_row_int(doc, "quarantine_days", 30);
    policy->lease_ttl_default = store_row_int(doc, "lease_ttl_default", 3600);
    policy->lease_ttl_max = store_row_int(doc, "lease_ttl_max", 86400);
    policy->iana_assigned_allowed = !json_is_false(json_object_get(doc, "iana_assigned_allowed"));
}

const char *ledger_iana_refuses(const struct ledger *ledger, unsigned port, const char *proto, const char *service)
{
    if (ledger->policy.iana_assigned_allowed || !ledger->iana_lookup || !proto)
        return NULL;
    uint8_t registry_proto = strcmp(proto, "tcp") == 0 ? REGISTRY_PROTO_TCP
                           : strcmp(proto, "udp") == 0 ? REGISTRY_PROTO_UDP : 0;
    if (!registry_proto)
        return NULL;   /* IANA's table has tcp, udp, sctp and dccp; the index keeps tcp and udp */
    const char *names[8];
    size_t n = ledger->iana_lookup(ledger->iana_user, (uint16_t)port, registry_proto, names, 8);
    for (size_t i = 0; i < n && service; i++)
        if (strcasecmp(names[i], service) == 0)
            return NULL;   /* the service's own IANA port */
    return n ? names[0] : NULL;
}

const char *ledger_policy_refuses(const struct ledger_policy *policy, unsigned port)
{
    if (policy->ephemeral_lo && port >= policy->ephemeral_lo && port <= policy->ephemeral_hi)
        return "ephemeral";
    if (port_set_has(&policy->excluded, (uint16_t)port))
        return "excluded";
    return NULL;
}

int ledger_policy_get(struct ledger *ledger, json_t **out, struct ledger_error *lerr)
{
    (void)lerr;
    pthread_mutex_lock(&ledger->write_lock);
    *out = json_deep_copy(ledger->policy_doc);
    pthread_mutex_unlock(&ledger->write_lock);
    return 0;
}

int ledger_policy_set(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                      json_t **out, struct ledger_error *lerr)
{
    if (ledger_body_validate(LEDGER_BODY_POLICY, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *doc = json_deep_copy(ledger->policy_doc);
    json_object_update(doc, (json_t *)body);
    struct pr_error err;
    pr_error_clear(&err);
    int r = 0;
    if (ledger->backend->policy_set(txn.conn, doc, &err) < 0)
        r = ledger_store_fail(lerr, &err, "policy");
    if (r == 0)
        r = ledger_event(&txn, actor, "policy.updated", "policy", 0, ledger->policy_doc, doc, lerr);
    if (r == 0 && (r = ledger->backend->commit(txn.conn, &err)) < 0)
        r = ledger_store_fail(lerr, &err, "commit");
    if (r == 0) {
        /* committed: the new policy applies from now on (still under write_lock) */
        json_decref(ledger->policy_doc);
        ledger->policy_doc = json_incref(doc);
        ledger_policy_apply(&ledger->policy, doc);
        *out = doc;
    } else {
        ledger->backend->rollback(txn.conn);
        json_decref(doc);
    }
    ledger->backend->release(ledger->store, txn.conn);
    pthread_mutex_unlock(&ledger->write_lock);
    if (r == 0 && ledger_txn_durable(&txn, true, 0, lerr) < 0) {
        json_decref(*out);
        *out = NULL;
        r = -1;
    }
    return r;
}
