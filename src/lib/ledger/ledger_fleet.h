/* ledger_fleet.h — what hosts really run against what the registry says (issue 11): agent
 * reports (POST /observations, docs/agent protocol: full, delta, heartbeat), network scans,
 * host liveness and drift. The body parser and the drift computation are pure functions over
 * JSON (unit-tested and fuzzed); the rest are ledger transactions. */
#ifndef PORTREG_LEDGER_LEDGER_FLEET_H
#define PORTREG_LEDGER_LEDGER_FLEET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

#define LEDGER_OBSERVATION_MAX_BYTES (8u * 1024 * 1024)  /* decompressed body: above is 413 */
#define LEDGER_STALE_INTERVALS 3          /* a host is stale after this many missed intervals */
#define LEDGER_LEASE_GRACE_INTERVALS 2    /* a lease nobody listens on is drift after this */
#define LEDGER_QUIET_REPORTS 3            /* clean reports before a quarantined port is free */
#define LEDGER_DEFAULT_INTERVAL 30

/* Inflate a gzip body (zlib) into *out (malloc'd, NUL-terminated), at most max bytes:
 * -1 with LEDGER_BAD_REQUEST (code "bad-gzip") or code "too-large" (the route answers 413). */
int ledger_gunzip(const char *data, size_t len, size_t max, char **out, size_t *out_len, struct ledger_error *lerr);
/* Parse and validate a report (the contract's full / delta / heartbeat): 400 naming the JSON
 * field ("listeners[2].local_port"). *out owned. */
int ledger_observation_parse(const char *data, size_t len, json_t **out, struct ledger_error *lerr);
int ledger_observation_validate(const json_t *body, struct ledger_error *lerr);
/* A listener's key "proto|address|port|netns" (buf of 320). */
const char *ledger_listener_key(const json_t *listener, char *buf, size_t size);

/* Store a report: actor an agent of body's host or an admin (else 403 field "host"); host
 * unknown 404; delta/heartbeat whose base is not the stored seq 409 code "resync".
 * *out {"host","seq","listeners":N}. */
int ledger_observation_report(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                              json_t **out, struct ledger_error *lerr);
/* The latest observations: host NULL → {"items":[...]} of every host, else that host's row
 * (404 when none). Each with "stale" and "age_s". */
int ledger_observations_get(struct ledger *ledger, const char *host, json_t **out, struct ledger_error *lerr);
/* Store a scan (`portreg scan --json`'s document): per host whose addresses include a scanned
 * address, its open and filtered ports. *out {"hosts":[names], "unmatched":[addresses]}. */
int ledger_scan_report(struct ledger *ledger, const struct ledger_actor *actor, const json_t *scan, json_t **out,
                       struct ledger_error *lerr);
/* Drift of one host (host) or of every host (NULL): {"hosts":[{host, agent, scan, items,
 * counts}], "counts":{kind:N}, "drift":N, "stale":[names]}. */
int ledger_drift(struct ledger *ledger, const char *host, json_t **out, struct ledger_error *lerr);

/* The pure part of drift, for one host: host_row (hosts), its assignments (active and
 * quarantined), leases (active), observation row or NULL, scan row or NULL, known service
 * names (array of strings), at time now. Returns {"host","agent","scan","items","counts"}. */
json_t *ledger_drift_host(const json_t *host_row, const json_t *assignments, const json_t *leases,
                          const json_t *observation, const json_t *scan, const json_t *services, int64_t now);
/* Drift kinds, in the order of `plan diff`'s columns then the registry's own. */
extern const char *const ledger_drift_kinds[];
/* Is the observation stale at now (no report for LEDGER_STALE_INTERVALS intervals)? */
bool ledger_observation_stale(const json_t *observation, int64_t now);

/* Deassign (ledger_requests.c): inside txn, the listeners of host's agent on proto [lo, hi]
 * (an array, empty when none or the host has no agent or a stale one; NULL on error); and,
 * for a quarantine just made, *hold_until the earliest end the agent's clean reports allow
 * (0: no agent, or a stale one). */
struct ledger_txn;
/* After a deassign (quarantine until `until` by date): remember that date in the host's
 * observation, so that the agent's clean reports let the port go at it, not at the hold. */
int ledger_observation_quarantined(struct ledger_txn *txn, const json_t *assignment, int64_t until,
                                   struct ledger_error *lerr);
int ledger_observed_listeners(struct ledger_txn *txn, const char *host, const char *proto, unsigned lo, unsigned hi,
                              json_t **listeners, int64_t *hold_until, struct ledger_error *lerr);

#endif
