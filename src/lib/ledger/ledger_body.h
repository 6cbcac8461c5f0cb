/* ledger_body.h — validation of the JSON bodies the API accepts, by field table: unknown
 * fields, wrong types, out-of-range ports and ranges are refused with the field named. One
 * entry point from bytes (ledger_body_parse) so the fuzzer sees what the server sees. */
#ifndef PORTREG_LEDGER_LEDGER_BODY_H
#define PORTREG_LEDGER_LEDGER_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ledger/ledger.h"

enum ledger_body_kind {
    LEDGER_BODY_HOST = 0,        /* POST /hosts */
    LEDGER_BODY_HOST_PATCH,      /* PATCH /hosts/{id} */
    LEDGER_BODY_REQUEST,         /* POST /requests */
    LEDGER_BODY_LEASE,           /* POST /leases */
    LEDGER_BODY_RENEW,           /* POST /leases/{id}/renew */
    LEDGER_BODY_DEASSIGN,        /* POST /assignments/{id}/deassign */
    LEDGER_BODY_POLICY,          /* PUT /policy */
    LEDGER_BODY_EMPTY,           /* actions without fields: {} or no body */
    LEDGER_BODY_GROUP,           /* POST /groups */
    LEDGER_BODY_GROUP_PATCH,     /* PATCH /groups/{id} */
    LEDGER_BODY_SERVICE,         /* POST /services */
    LEDGER_BODY_SERVICE_PATCH,   /* PATCH /services/{id} */
    LEDGER_BODY_DECISION,        /* approve, reject, withdraw: {"reason"?} */
    LEDGER_BODY_KIND_COUNT,
};

/* Parse data (a JSON object, no duplicate keys) and validate it for kind. *out owned. */
int ledger_body_parse(enum ledger_body_kind kind, const char *data, size_t len, json_t **out,
                      struct ledger_error *lerr);
/* Validate an already parsed body. */
int ledger_body_validate(enum ledger_body_kind kind, const json_t *body, struct ledger_error *lerr);

/* A port field: an integer 1-65535, "auto" (when allow_auto) or "LO-HI". */
int ledger_port_value(const json_t *value, bool allow_auto, unsigned *lo, unsigned *hi, bool *is_auto);
/* "tcp", "udp", "sctp", "dccp". */
bool ledger_proto_valid(const char *proto);
/* A host or service name: 1-253 of [A-Za-z0-9._-], not starting with '-' or '.'. */
bool ledger_name_valid(const char *name);

#endif
