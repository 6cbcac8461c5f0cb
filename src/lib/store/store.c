/* store.c — the schema every backend keeps (tables and columns, the ledger's vocabulary) and
 * the backend table: a --db URL's scheme picks the backend, as scan_engine_find picks an
 * engine: sqlite:PATH, postgresql://... (also postgres://, as libpq accepts). */
#include <string.h>

#include "store/store.h"

extern const struct store_backend store_backend_sqlite;
extern const struct store_backend store_backend_postgres;

static const struct store_backend *const store_backends[] = { &store_backend_sqlite, &store_backend_postgres, NULL };

static const struct store_column host_columns[] = {
    { "name", STORE_TEXT }, { "addresses", STORE_JSON }, { "version", STORE_INT },
    { "created", STORE_INT }, { "updated", STORE_INT }, { NULL, 0 },
};
static const struct store_column group_columns[] = {
    { "name", STORE_TEXT }, { "hosts", STORE_JSON }, { "version", STORE_INT },
    { "created", STORE_INT }, { "updated", STORE_INT }, { NULL, 0 },
};
static const struct store_column service_columns[] = {
    { "name", STORE_TEXT }, { "owner", STORE_TEXT }, { "description", STORE_TEXT },
    { "version", STORE_INT }, { "created", STORE_INT }, { "updated", STORE_INT }, { NULL, 0 },
};
static const struct store_column request_columns[] = {
    { "service", STORE_TEXT }, { "hosts", STORE_JSON }, { "proto", STORE_TEXT },
    { "port", STORE_JSON }, { "bind", STORE_TEXT }, { "exposure", STORE_TEXT },
    { "owner", STORE_TEXT }, { "reason", STORE_TEXT }, { "state", STORE_TEXT },
    { "group", STORE_TEXT }, { "requested_by", STORE_TEXT }, { "decided_by", STORE_TEXT },
    { "decision_reason", STORE_TEXT }, { "assignments", STORE_JSON },
    { "version", STORE_INT }, { "created", STORE_INT }, { "updated", STORE_INT }, { NULL, 0 },
};
static const struct store_column assignment_columns[] = {
    { "service", STORE_TEXT }, { "host", STORE_TEXT }, { "proto", STORE_TEXT },
    { "port_lo", STORE_INT }, { "port_hi", STORE_INT }, { "bind", STORE_TEXT },
    { "owner", STORE_TEXT }, { "state", STORE_TEXT }, { "quarantine_until", STORE_INT },
    { "request", STORE_INT }, { "group", STORE_TEXT }, { "exposure", STORE_TEXT }, { "version", STORE_INT }, { "created", STORE_INT },
    { "updated", STORE_INT }, { NULL, 0 },
};
static const struct store_column lease_columns[] = {
    { "service", STORE_TEXT }, { "host", STORE_TEXT }, { "proto", STORE_TEXT },
    { "port", STORE_INT }, { "expires_at", STORE_INT }, { "idempotency_key", STORE_TEXT },
    { "state", STORE_TEXT }, { "holder", STORE_TEXT }, { "requested_by", STORE_TEXT },
    { "version", STORE_INT },
    { "created", STORE_INT }, { "updated", STORE_INT }, { NULL, 0 },
};
static const struct store_column token_columns[] = {
    { "name", STORE_TEXT }, { "role", STORE_TEXT }, { "hash", STORE_TEXT },
    { "created", STORE_INT }, { "expires", STORE_INT }, { "last_used", STORE_INT },
    { "host", STORE_TEXT }, { NULL, 0 },
};
static const struct store_column event_columns[] = {
    { "time", STORE_INT }, { "actor", STORE_TEXT }, { "request_id", STORE_TEXT },
    { "kind", STORE_TEXT }, { "object_kind", STORE_TEXT }, { "object_id", STORE_INT },
    { "before", STORE_JSON }, { "after", STORE_JSON }, { NULL, 0 },
};

/* The latest report of a host's agent: listeners as the contract's LISTENER objects; quiet:
 * "proto/port" → consecutive reports without a listener, for the host's quarantined ports. */
static const struct store_column observation_columns[] = {
    { "host", STORE_TEXT }, { "seq", STORE_INT }, { "agent", STORE_JSON }, { "interval_s", STORE_INT },
    { "ephemeral", STORE_JSON }, { "reserved", STORE_TEXT }, { "listeners", STORE_JSON },
    { "findings", STORE_JSON }, { "quiet", STORE_JSON }, { "reports", STORE_INT },
    { "last_seen", STORE_INT }, { "version", STORE_INT }, { "created", STORE_INT }, { "updated", STORE_INT },
    { NULL, 0 },
};
/* The latest scan that covered a host: open and filtered ports [{"proto","port","address"}]. */
static const struct store_column scan_columns[] = {
    { "host", STORE_TEXT }, { "time", STORE_INT }, { "scanner", STORE_TEXT }, { "addresses", STORE_JSON },
    { "open", STORE_JSON }, { "filtered", STORE_JSON }, { "version", STORE_INT }, { "created", STORE_INT },
    { "updated", STORE_INT }, { NULL, 0 },
};

const struct store_table store_tables[STORE_KIND_COUNT] = {
    [STORE_HOSTS] = { "hosts", host_columns },
    [STORE_GROUPS] = { "groups", group_columns },
    [STORE_SERVICES] = { "services", service_columns },
    [STORE_REQUESTS] = { "requests", request_columns },
    [STORE_ASSIGNMENTS] = { "assignments", assignment_columns },
    [STORE_LEASES] = { "leases", lease_columns },
    [STORE_TOKENS] = { "tokens", token_columns },
    [STORE_EVENTS] = { "events", event_columns },
    [STORE_OBSERVATIONS] = { "observations", observation_columns },
    [STORE_SCANS] = { "scans", scan_columns },
};

const struct store_backend *store_backend_find(const char *url, const char **location)
{
    const char *colon = url ? strchr(url, ':') : NULL;
    if (!colon)
        return NULL;
    size_t len = (size_t)(colon - url);
    if (len == 8 && memcmp(url, "postgres", 8) == 0)
        len = 10, url = "postgresql";   /* libpq's other spelling */
    for (size_t i = 0; store_backends[i]; i++)
        if (strlen(store_backends[i]->scheme) == len && memcmp(url, store_backends[i]->scheme, len) == 0) {
            *location = colon + 1;
            return store_backends[i];
        }
    return NULL;
}

const char *store_compare_sql(enum store_compare compare)
{
    return compare == STORE_AT_MOST ? "<=" : compare == STORE_AT_LEAST ? ">=" : "=";
}

bool store_column_known(enum store_kind kind, const char *name, enum store_column_type *type)
{
    if (strcmp(name, "id") == 0) {
        *type = STORE_INT;
        return true;
    }
    for (const struct store_column *c = store_tables[kind].columns; c->name; c++)
        if (strcmp(c->name, name) == 0) {
            *type = c->type;
            return true;
        }
    return false;
}

int64_t store_row_int(const json_t *row, const char *column, int64_t fallback)
{
    json_t *v = json_object_get(row, column);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : fallback;
}

const char *store_row_text(const json_t *row, const char *column)
{
    return json_string_value(json_object_get(row, column));
}
