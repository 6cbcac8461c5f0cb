/* ledger_body.c — field tables for every body the API accepts and the one validator over
 * them. The tables are the contract docs/API.md documents: a field not in the table is a 400
 * naming it, so a typo never passes silently. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_body.h"

enum body_type {
    BODY_STRING,          /* max = longest length */
    BODY_NAME,            /* ledger_name_valid */
    BODY_INTEGER,         /* min..max */
    BODY_PORT,            /* ledger_port_value, "auto" allowed */
    BODY_RANGE,           /* "LO-HI" or one port */
    BODY_PROTO,
    BODY_ADDRESSES,       /* {"name": "address literal"} */
    BODY_NAME_ARRAY,      /* ["host", ...] */
    BODY_RANGE_ARRAY,     /* ["LO-HI", ...] */
    BODY_BOOL,
};

struct body_field {
    const char *name;
    enum body_type type;
    bool required;
    long long min, max;
};

#define BODY_END { NULL, 0, false, 0, 0 }

static const struct body_field host_fields[] = {
    { "name", BODY_NAME, true, 0, 0 }, { "addresses", BODY_ADDRESSES, false, 0, 0 }, BODY_END,
};
static const struct body_field host_patch_fields[] = {
    { "addresses", BODY_ADDRESSES, true, 0, 0 }, BODY_END,
};
static const struct body_field request_fields[] = {
    { "service", BODY_NAME, true, 0, 0 }, { "host", BODY_NAME, false, 0, 0 },
    { "hosts", BODY_NAME_ARRAY, false, 0, 0 }, { "group", BODY_NAME, false, 0, 0 },
    { "proto", BODY_PROTO, false, 0, 0 }, { "port", BODY_PORT, true, 0, 0 }, { "bind", BODY_STRING, false, 0, 64 },
    { "exposure", BODY_STRING, false, 0, 32 }, { "owner", BODY_STRING, false, 0, 128 },
    { "reason", BODY_STRING, false, 0, 2000 }, BODY_END,
};
static const struct body_field lease_fields[] = {
    { "service", BODY_NAME, true, 0, 0 }, { "host", BODY_NAME, true, 0, 0 },
    { "proto", BODY_PROTO, false, 0, 0 }, { "range", BODY_RANGE, false, 0, 0 },
    { "port", BODY_INTEGER, false, 1, 65535 }, { "ttl", BODY_INTEGER, false, 1, 366LL * 86400 },
    { "holder", BODY_STRING, false, 0, 128 }, BODY_END,
};
static const struct body_field renew_fields[] = {
    { "ttl", BODY_INTEGER, false, 1, 366LL * 86400 }, BODY_END,
};
static const struct body_field decision_fields[] = {
    { "reason", BODY_STRING, false, 0, 2000 }, BODY_END,
};
static const struct body_field deassign_fields[] = {
    { "days", BODY_INTEGER, false, 0, 3650 }, { "reason", BODY_STRING, false, 0, 2000 },
    { "force", BODY_BOOL, false, 0, 0 }, BODY_END,
};
static const struct body_field policy_fields[] = {
    { "ephemeral", BODY_RANGE, false, 0, 0 }, { "auto_range", BODY_RANGE, false, 0, 0 },
    { "lease_range", BODY_RANGE, false, 0, 0 }, { "excluded", BODY_RANGE_ARRAY, false, 0, 0 },
    { "quarantine_days", BODY_INTEGER, false, 0, 3650 },
    { "lease_ttl_default", BODY_INTEGER, false, 1, 366LL * 86400 },
    { "lease_ttl_max", BODY_INTEGER, false, 1, 366LL * 86400 },
    { "iana_assigned_allowed", BODY_BOOL, false, 0, 0 }, BODY_END,
};
static const struct body_field empty_fields[] = { BODY_END };
static const struct body_field group_fields[] = {
    { "name", BODY_NAME, true, 0, 0 }, { "hosts", BODY_NAME_ARRAY, true, 0, 0 }, BODY_END,
};
static const struct body_field group_patch_fields[] = {
    { "hosts", BODY_NAME_ARRAY, true, 0, 0 }, BODY_END,
};
static const struct body_field service_fields[] = {
    { "name", BODY_NAME, true, 0, 0 }, { "owner", BODY_STRING, false, 0, 128 },
    { "description", BODY_STRING, false, 0, 2000 }, BODY_END,
};
static const struct body_field service_patch_fields[] = {
    { "owner", BODY_STRING, false, 0, 128 }, { "description", BODY_STRING, false, 0, 2000 }, BODY_END,
};

static const struct body_field *const body_tables[LEDGER_BODY_KIND_COUNT] = {
    [LEDGER_BODY_HOST] = host_fields,
    [LEDGER_BODY_HOST_PATCH] = host_patch_fields,
    [LEDGER_BODY_REQUEST] = request_fields,
    [LEDGER_BODY_LEASE] = lease_fields,
    [LEDGER_BODY_RENEW] = renew_fields,
    [LEDGER_BODY_DEASSIGN] = deassign_fields,
    [LEDGER_BODY_DECISION] = decision_fields,
    [LEDGER_BODY_POLICY] = policy_fields,
    [LEDGER_BODY_EMPTY] = empty_fields,
    [LEDGER_BODY_GROUP] = group_fields,
    [LEDGER_BODY_GROUP_PATCH] = group_patch_fields,
    [LEDGER_BODY_SERVICE] = service_fields,
    [LEDGER_BODY_SERVICE_PATCH] = service_patch_fields,
};

bool ledger_proto_valid(const char *proto)
{
    return proto && (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0 || strcmp(proto, "sctp") == 0 ||
                     strcmp(proto, "dccp") == 0);
}

bool ledger_name_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > 253 || name[0] == '-' || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* "N" or "LO-HI" with 1 <= LO <= HI <= 65535, digits only. */
static bool parse_port_text(const char *text, unsigned *lo, unsigned *hi)
{
    unsigned values[2] = { 0, 0 };
    int count = 0;
    const char *p = text;
    while (count < 2) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned long v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 6) {
            v = v * 10 + (unsigned long)(*p++ - '0');
            digits++;
        }
        if (v < 1 || v > 65535)
            return false;
        values[count++] = (unsigned)v;
        if (*p == '\0')
            break;
        if (*p != '-' || count == 2)
            return false;
        p++;
    }
    if (*p != '\0')
        return false;
    *lo = values[0];
    *hi = count == 2 ? values[1] : values[0];
    return *lo <= *hi;
}

int ledger_port_value(const json_t *value, bool allow_auto, unsigned *lo, unsigned *hi, bool *is_auto)
{
    *is_auto = false;
    if (json_is_integer(value)) {
        json_int_t v = json_integer_value(value);
        if (v < 1 || v > 65535)
            return -ERANGE;
        *lo = *hi = (unsigned)v;
        return 0;
    }
    const char *text = json_string_value(value);
    if (!text)
        return -EINVAL;
    if (allow_auto && strcmp(text, "auto") == 0) {
        *is_auto = true;
        *lo = *hi = 0;
        return 0;
    }
    return parse_port_text(text, lo, hi) ? 0 : -ERANGE;
}

static bool address_literal_valid(const char *text)
{
    unsigned char buf[16];
    return text && (inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1);
}

static int check_field(const struct body_field *f, const json_t *v, struct ledger_error *lerr)
{
    unsigned lo, hi;
    bool is_auto;
    switch (f->type) {
    case BODY_STRING:
        if (!json_is_string(v))
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "wrong-type", f->name, "%s must be a string", f->name);
        if ((long long)json_string_length(v) > f->max)
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "too-long", f->name, "%s is longer than %lld bytes",
                               f->name, f->max);
        if (strlen(json_string_value(v)) != json_string_length(v))
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", f->name, "%s contains a NUL byte", f->name);
        return 0;
    case BODY_NAME:
        if (!json_is_string(v) || !ledger_name_valid(json_string_value(v)) ||
            strlen(json_string_value(v)) != json_string_length(v))
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-name", f->name,
                               "%s must be 1-253 characters of letters, digits, '.', '-', '_'", f->name);
        return 0;
    case BODY_INTEGER:
        if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "out-of-range", f->name,
                               "%s must be an integer from %lld to %lld", f->name, f->min, f->max);
        return 0;
    case BODY_PORT:
    case BODY_RANGE:
        if (ledger_port_value(v, f->type == BODY_PORT, &lo, &hi, &is_auto) < 0)
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-port", f->name,
                               "%s must be a port 1-65535%s or \"LO-HI\" with LO <= HI", f->name,
                               f->type == BODY_PORT ? ", \"auto\"" : "");
        return 0;
    case BODY_PROTO:
        if (!json_is_string(v) || !ledger_proto_valid(json_string_value(v)))
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-proto", f->name, "%s must be tcp, udp, sctp or dccp",
                               f->name);
        return 0;
    case BODY_ADDRESSES: {
        if (!json_is_object(v) || json_object_size(v) > 64)
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "wrong-type", f->name,
                               "%s must be an object of up to 64 name: address", f->name);
        const char *key;
        json_t *address;
        json_object_foreach((json_t *)v, key, address) {
            char field[128];
            snprintf(field, sizeof field, "%s.%.64s", f->name, key);
            /* digits and dots alone read as an address literal (a bind of "10" or "1.2" is one
             * to the database's portreg_scopes): never a name */
            if (!ledger_name_valid(key) || strcmp(key, "any") == 0 || strcmp(key, "loopback") == 0 ||
                key[strspn(key, "0123456789.")] == '\0')
                return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-name", field,
                                   "an address name is letters, digits, '.', '-', '_', not digits and dots alone "
                                   "(not any or loopback)");
            if (!address_literal_valid(json_string_value(address)))
                return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-address", field,
                                   "%s is not an IPv4 or IPv6 address", field);
        }
        return 0;
    }
    case BODY_BOOL:
        if (!json_is_boolean(v))
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "wrong-type", f->name, "%s must be true or false", f->name);
        return 0;
    case BODY_NAME_ARRAY:
    case BODY_RANGE_ARRAY: {
        if (!json_is_array(v) || json_array_size(v) > 256 || (f->type == BODY_NAME_ARRAY && json_array_size(v) == 0))
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "wrong-type", f->name,
                               "%s must be an array of 1 to 256 entries", f->name);
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            bool ok = f->type == BODY_NAME_ARRAY
                ? json_is_string(item) && ledger_name_valid(json_string_value(item))
                : ledger_port_value(item, false, &lo, &hi, &is_auto) == 0;
            if (!ok)
                return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", f->name, "%s[%zu] is not a %s",
                                   f->name, i, f->type == BODY_NAME_ARRAY ? "name" : "port or range");
        }
        return 0;
    }
    }
    return 0;
}

int ledger_body_validate(enum ledger_body_kind kind, const json_t *body, struct ledger_error *lerr)
{
    if (kind >= LEDGER_BODY_KIND_COUNT)
        return ledger_fail(lerr, LEDGER_INTERNAL, "internal", "", "unknown body kind");
    const struct body_field *fields = body_tables[kind];
    if (!json_is_object(body))
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "not-an-object", "", "the body must be a JSON object");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key, value) {
        const struct body_field *f = fields;
        while (f->name && strcmp(f->name, key) != 0)
            f++;
        if (!f->name) {
            /* the field is named even when its name is empty (a client's error still points
             * somewhere): "(empty)" */
            char shown[100];
            snprintf(shown, sizeof shown, "%.96s", key[0] ? key : "(empty)");
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-field", shown, "unknown field \"%s\"", shown);
        }
        if (check_field(f, value, lerr) < 0)
            return -1;
    }
    for (const struct body_field *f = fields; f->name; f++)
        if (f->required && !json_object_get(body, f->name))
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "missing-field", f->name, "%s is required", f->name);
    return 0;
}

int ledger_body_parse(enum ledger_body_kind kind, const char *data, size_t len, json_t **out,
                      struct ledger_error *lerr)
{
    *out = NULL;
    json_error_t jerr;
    json_t *body = len == 0 ? json_object() : json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-json", "", "the body is not JSON: %s (line %d, column %d)",
                           jerr.text, jerr.line, jerr.column);
    if (ledger_body_validate(kind, body, lerr) < 0) {
        json_decref(body);
        return -1;
    }
    *out = body;
    return 0;
}
