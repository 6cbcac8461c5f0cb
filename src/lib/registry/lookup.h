/* lookup.h — answer `portreg lookup` queries against an open registry index.
 * A query is a port spec ("3306", "6000-6010", "53/udp", "T:80,U:53", "22,ssh"), a service
 * name or alias ("mysql", "mysql/tcp"), or a keyword search over names and descriptions.
 * Results are record ids, ordered by port then protocol, without duplicates. */
#ifndef PORTREG_REGISTRY_LOOKUP_H
#define PORTREG_REGISTRY_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/index.h"
#include "util/error.h"
#include "util/portspec.h"

enum lookup_kind {
    LOOKUP_KIND_PORTS,    /* a port spec */
    LOOKUP_KIND_NAME,     /* a service name or alias */
    LOOKUP_KIND_SEARCH,   /* words that must all occur in name, description or notes */
};

struct lookup_query {
    enum lookup_kind kind;
    const char *text;          /* as the user wrote it (not owned) */
    struct portspec spec;      /* LOOKUP_KIND_PORTS */
    char name[256];            /* LOOKUP_KIND_NAME */
    uint8_t proto;             /* protocol from "/proto" or --proto; REGISTRY_PROTO_ANY = all */
    bool single_port;          /* the spec is exactly one port */
};

struct lookup_result {
    uint32_t *records;
    size_t count, capacity;
    bool found;                /* at least one record is an assignment (not Reserved etc.) */
};

/* Parse text; proto_filter (REGISTRY_PROTO_ANY for none) applies unless the text names its
 * own protocol. Names in a port spec ("22,ssh") are resolved through ix.
 * -EINVAL with err->column (1-based) and a message naming the problem. */
int lookup_query_parse(const struct registry_index *ix, const char *text, uint8_t proto_filter,
                       struct lookup_query *query, struct pr_error *err);
int lookup_query_search(const char *words, uint8_t proto_filter, struct lookup_query *query,
                        struct pr_error *err);
void lookup_query_free(struct lookup_query *query);

int lookup_run(const struct registry_index *ix, const struct lookup_query *query,
               struct lookup_result *result);
void lookup_result_free(struct lookup_result *result);

#endif
