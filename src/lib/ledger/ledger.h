/* ledger.h — the registry server's domain: hosts, requests → assignments, quarantine,
 * leases, tokens, policy and the append-only events, over a store (store/store.h). No HTTP
 * and no printing: JSON objects in and out, errors as values with HTTP-like kinds. Every
 * write is one store transaction that re-checks conflicts inside it (the store serialises
 * writers) and appends its events with the caller's request id. */
#ifndef PORTREG_LEDGER_LEDGER_H
#define PORTREG_LEDGER_LEDGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/error.h"

enum ledger_error_kind {
    LEDGER_OK = 0,
    LEDGER_BAD_REQUEST,          /* 400: field names the bad field */
    LEDGER_UNAUTHORIZED,         /* 401 */
    LEDGER_FORBIDDEN,            /* 403 */
    LEDGER_NOT_FOUND,            /* 404 */
    LEDGER_CONFLICT,             /* 409: conflict holds the conflicting object */
    LEDGER_PRECONDITION_FAILED,  /* 412: If-Match named another version */
    LEDGER_UNPROCESSABLE,        /* 422: well-formed but against the policy */
    LEDGER_UNAVAILABLE,          /* 503: the database does not answer */
    LEDGER_INTERNAL,             /* 500 */
};

struct ledger_error {
    enum ledger_error_kind kind;
    char code[48];               /* stable: "unknown-field", "port-taken", "quarantined" */
    char field[128];             /* the request body's field, "" */
    char message[512];
    json_t *conflict;            /* LEDGER_CONFLICT: the object in the way (owned) */
};

void ledger_error_clear(struct ledger_error *lerr);
/* Fill lerr and return -1. */
int ledger_fail(struct ledger_error *lerr, enum ledger_error_kind kind, const char *code,
                const char *field, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* In order of power: a route needs a role at least as high. An agent reads as a reader and
 * may report observations for its own host (ledger_actor.host) only. */
enum ledger_role { LEDGER_ROLE_NONE = 0, LEDGER_ROLE_READER, LEDGER_ROLE_AGENT, LEDGER_ROLE_REQUESTER,
                   LEDGER_ROLE_ADMIN };
const char *ledger_role_name(enum ledger_role role);
enum ledger_role ledger_role_parse(const char *name);

/* Who asks, for events: the token's name and role, the HTTP request id. */
struct ledger_actor {
    char name[128];
    enum ledger_role role;
    int64_t token_id;
    const char *request_id;
    char host[254];              /* an agent token's host; "" for other roles */
};

struct ledger_options {
    const char *db_url;          /* "sqlite:PATH" */
    unsigned connections;        /* pool size: one per server thread (+1) */
    int64_t clock_offset;        /* seconds added to the clock (tests of quarantine, expiry) */
    const uint8_t *secret;       /* token HMAC key */
    size_t secret_len;
};

struct ledger;

/* Open the store (migrations applied), load the policy and rebuild the port maps. */
int ledger_open(const struct ledger_options *opt, struct ledger **out, struct pr_error *err);
void ledger_close(struct ledger *ledger);
int64_t ledger_now(const struct ledger *ledger);
/* 0 when the database answers. */
int ledger_ready(struct ledger *ledger, struct ledger_error *lerr);

/* Rows by state: {"assignments": {"active": N, ...}, "leases": {...}, "requests": {...}},
 * every state present (0 when none); for the server's /metrics. */
int ledger_stats(struct ledger *ledger, json_t **out, struct ledger_error *lerr);

/* Objects (hosts, requests, assignments, leases, events: by id and as lists filtered by
 * query, an object of column → string value; "after" and "limit" page; on assignments
 * "port" is the ones whose port_lo..port_hi holds that port). */
int ledger_get(struct ledger *ledger, enum store_kind kind, int64_t id, json_t **out,
               struct ledger_error *lerr);
int ledger_list(struct ledger *ledger, enum store_kind kind, const json_t *query, json_t **out,
                struct ledger_error *lerr);

/* Hosts: {"name", "addresses": {"internal": "10.0.0.1", ...}}. if_match < 0: no check. An
 * update that would make an assignment bound by an address name overlap another is a
 * conflict (field "addresses") and changes nothing. */
int ledger_host_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                       json_t **out, struct ledger_error *lerr);
int ledger_host_update(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                       const json_t *body, int64_t if_match, json_t **out, struct ledger_error *lerr);
int ledger_host_delete(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                       int64_t if_match, struct ledger_error *lerr);

/* Groups {"name", "hosts": [host names]} and services {"name", "owner"?, "description"?}:
 * create (409 exists), PATCH (groups: {"hosts"}; services: {"owner", "description"}), DELETE
 * (409 while an active or quarantined assignment or a submitted request names it). */
int ledger_group_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                        json_t **out, struct ledger_error *lerr);
int ledger_group_update(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                        const json_t *body, int64_t if_match, json_t **out, struct ledger_error *lerr);
int ledger_group_delete(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                        int64_t if_match, struct ledger_error *lerr);
int ledger_service_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                          json_t **out, struct ledger_error *lerr);
int ledger_service_update(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                          const json_t *body, int64_t if_match, json_t **out, struct ledger_error *lerr);
int ledger_service_delete(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                          int64_t if_match, struct ledger_error *lerr);

/* Requests: submit, then approve (creates the assignments in the same transaction) | reject |
 * withdraw. action is "approve", "reject" or "withdraw"; body (NULL or {"reason"?}) gives the
 * decision's reason, kept as decision_reason. */
int ledger_request_submit(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                          json_t **out, struct ledger_error *lerr);
int ledger_request_action(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                          const char *action, const json_t *body, int64_t if_match, json_t **out,
                          struct ledger_error *lerr);

/* A direct assignment (admin): the body of a request (host | hosts | group), checked as an
 * approval is, recorded as a request approved by actor. *out: the assignment when the body
 * named "host", else {"items": [assignments], "request": id}. */
int ledger_assignment_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                             json_t **out, struct ledger_error *lerr);

/* Assignments: "deassign" (→ quarantined until now + policy days, or body's "days") and
 * "revoke". */
int ledger_assignment_action(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                             const char *action, const json_t *body, int64_t if_match, json_t **out,
                             struct ledger_error *lerr);

/* Leases: {service, host, proto?, range?: "LO-HI", port?: N, ttl?}. A free port at once;
 * idempotency_key (may be NULL) returns the lease it made before (*replayed = true). */
int ledger_lease_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                        const char *idempotency_key, json_t **out, bool *replayed,
                        struct ledger_error *lerr);
/* "renew" ({ttl?}) or "release". */
int ledger_lease_action(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                        const char *action, const json_t *body, json_t **out, struct ledger_error *lerr);
/* Expired leases → state expired, at most limit of them; *count reclaimed. */
int ledger_reclaim_leases(struct ledger *ledger, unsigned limit, unsigned *count, struct ledger_error *lerr);

/* The state of every port of host/proto, 2 bits a port (ledger_portmap.c): port p in byte
 * p / 4 at bits 2 * (p % 4); 0 free, 1 assigned, 2 leased, 3 quarantined or refused by the
 * policy (ephemeral, excluded, port 0). counts[v]: how many ports have value v. Unknown host:
 * LEDGER_NOT_FOUND. From memory: ended quarantines are freed first. */
#define LEDGER_PORTMAP_BYTES 16384u
int ledger_portmap(struct ledger *ledger, const char *host, const char *proto, uint8_t out[LEDGER_PORTMAP_BYTES],
                   unsigned counts[4], struct ledger_error *lerr);
/* Would a request of body (POST /requests' fields) be refused now? Nothing is written
 * (ledger_check.c). *out: {"free": bool, "hosts", "proto", "port", "bind"} and, when not free,
 * "refusal": {"code", "message", "field", "conflict"?} (taken, quarantined, the policy). A body
 * that is not a request, an unknown host, group or address name: -1 with lerr. */
int ledger_check_request(struct ledger *ledger, const json_t *body, json_t **out, struct ledger_error *lerr);
/* The registry as a port plan in the YAML `plan check` reads (ledger_plan.c): hosts with
 * their groups, the policy, the active assignments as services. *text malloc'd. */
int ledger_plan_yaml(struct ledger *ledger, char **text, size_t *len, struct ledger_error *lerr);
/* An export by format: "plan" (that YAML), "services", "iana-csv", "netbox-csv" (plan export's
 * modules), "nft" (firewall generate's nft ruleset of host, required). *text malloc'd;
 * *content_type static. Unknown format: LEDGER_NOT_FOUND. */
int ledger_export(struct ledger *ledger, const char *format, const char *host, char **text, size_t *len,
                  const char **content_type, struct ledger_error *lerr);
/* Import a port plan (YAML text, file names it in diagnostics) in one write transaction
 * (ledger_import.c): *out {"created": {"hosts","groups","services","assignments"}, "dry_run"};
 * *diagnostics (always, owned) the plan code's findings [{"file","line","column","path",
 * "severity","code","message","fix"}]. A plan with errors: LEDGER_UNPROCESSABLE, nothing
 * changed; a conflict with the registry: LEDGER_CONFLICT; dry_run: checked, nothing kept. */
int ledger_import(struct ledger *ledger, const struct ledger_actor *actor, const char *file, const char *text,
                  size_t len, bool dry_run, json_t **out, json_t **diagnostics, struct ledger_error *lerr);
/* IANA's assignments for the policy's iana_assigned_allowed and for imports' plan check
 * (lookup: plan_check.h's plan_iana_lookup_fn, e.g. plan_iana_lookup_registry over an index). */
void ledger_set_iana_lookup(struct ledger *ledger,
                            size_t (*lookup)(void *user, uint16_t port, uint8_t proto, const char **names, size_t max),
                            void *user);
/* Move the clock (tests: a quarantine's end without a restart). */
void ledger_clock_advance(struct ledger *ledger, int64_t seconds);

/* Policy: the whole document; set validates and replaces it (admin). */
int ledger_policy_get(struct ledger *ledger, json_t **out, struct ledger_error *lerr);
int ledger_policy_set(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                      json_t **out, struct ledger_error *lerr);

/* Tokens: "portreg_" + 30 random base62 characters + 6 of their CRC32 (leak scanners check
 * it); only HMAC-SHA256(secret, token) is stored. expires_days 0: never. token_out receives
 * the token, shown once. */
#define LEDGER_TOKEN_LENGTH 44
int ledger_token_create(struct ledger *ledger, enum ledger_role role, const char *name, unsigned expires_days,
                        char token_out[LEDGER_TOKEN_LENGTH + 1], json_t **row, struct pr_error *err);
/* The same for a role bound to a host (agent tokens: host required, a host name). */
int ledger_token_create_for_host(struct ledger *ledger, enum ledger_role role, const char *host, const char *name,
                                 unsigned expires_days, char token_out[LEDGER_TOKEN_LENGTH + 1], json_t **row,
                                 struct pr_error *err);
/* Check a presented token: format and checksum, then the keyed hash; fills actor. */
int ledger_token_authenticate(struct ledger *ledger, const char *token, struct ledger_actor *actor,
                              struct ledger_error *lerr);
/* Format and checksum only (no database). */
bool ledger_token_well_formed(const char *token);
/* The server secret in state_dir/serve.secret (32 random bytes, 0600), created when missing. */
int ledger_secret_load(const char *state_dir, uint8_t secret[32], struct pr_error *err);

#endif
