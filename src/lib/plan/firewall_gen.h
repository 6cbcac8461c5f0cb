/* firewall_gen.h — firewall rules compiled from the port plan for one host.
 * firewall_rules_build() derives the model (per service: the ports it opens and the source
 * networks allowed, sorted and deduplicated; warnings for what it left out), and output formats
 * chosen by name (zmap-style structs of callbacks: nft, firewalld, ufw, iptables) render it as
 * a set of named text files. Default deny inbound; only declared exposures are opened. */
#ifndef PORTREG_PLAN_FIREWALL_GEN_H
#define PORTREG_PLAN_FIREWALL_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan/plan.h"
#include "util/arena.h"
#include "util/error.h"

struct firewall_port {
    uint16_t port;
    uint8_t proto;                   /* REGISTRY_PROTO_TCP or _UDP */
};

/* One service's opening: every port from every source. */
struct firewall_service_rule {
    const char *service;             /* the plan's name */
    const char *ident;               /* [A-Za-z0-9_] form, unique in the rules: nft set names */
    const char *description;         /* the plan's notes or "owner: X", "" */
    enum plan_exposure exposure;     /* PUBLIC or INTERNAL (loopback services open nothing) */
    struct firewall_port *ports;     /* sorted by proto then port, unique */
    size_t port_count;
    bool any_source;                 /* from anywhere; sources is empty then */
    struct plan_cidr *sources;       /* sorted (IPv4 first), host bits cleared, unique */
    size_t source_count;
    bool any_destination;            /* bound to every address (bind: any); else only the
                                      * addresses it binds are opened: destinations */
    struct plan_cidr *destinations;  /* /32 and /128, sorted (IPv4 first), unique */
    size_t destination_count;
    struct plan_pos pos;
};

/* Something of the plan that opened nothing, and why. */
struct firewall_warning {
    const char *service;             /* "" when not about one service */
    const char *message;
    struct plan_pos pos;
};

struct firewall_rules {
    struct arena arena;              /* strings, ports and sources (services, warnings: malloc) */
    const char *host;
    const char *plan_name;           /* the plan's first file, "" when built in memory */
    struct firewall_service_rule *services;   /* sorted by service name */
    size_t service_count;
    struct firewall_warning *warnings;
    size_t warning_count;
};

/* The rules for host (a plan host name). -ENOENT naming the host when the plan has no such
 * host; -EINVAL naming the place when a source names no network, host or group. */
int firewall_rules_build(const struct plan *plan, const char *host, struct firewall_rules *out,
                         struct pr_error *err);
void firewall_rules_free(struct firewall_rules *rules);

/* Counts of the IPv4 / IPv6 sources of a rule. */
size_t firewall_rule_source_count(const struct firewall_service_rule *rule, uint8_t family);
/* Counts of the IPv4 / IPv6 destination addresses of a rule (0 when any_destination). */
size_t firewall_rule_destination_count(const struct firewall_service_rule *rule, uint8_t family);
/* Whether a rule opens anything for family: a source and a destination of that family (or
 * any). */
bool firewall_rule_opens_family(const struct firewall_service_rule *rule, uint8_t family);

/* ---- output formats ---- */

struct firewall_file {
    char *name;                      /* "portreg.nft", "commands.sh", "portreg-nginx.xml" */
    char *text;                      /* NUL-terminated */
    size_t length;
};

struct firewall_output {
    struct firewall_file *files;
    size_t file_count;
};

struct firewall_format {
    const char *name;                /* "nft", "firewalld", "ufw", "iptables" */
    const char *summary;             /* one line for --help */
    /* Append this format's files to out (deterministic text). */
    int (*render)(const struct firewall_rules *rules, struct firewall_output *out,
                  struct pr_error *err);
};

extern const struct firewall_format firewall_format_nft;
extern const struct firewall_format firewall_format_firewalld;
extern const struct firewall_format firewall_format_ufw;
extern const struct firewall_format firewall_format_iptables;

/* By name; NULL when unknown. */
const struct firewall_format *firewall_format_find(const char *name);
/* The formats in display order, NULL-terminated. */
extern const struct firewall_format *const firewall_formats[];

/* Render with the named format: -EINVAL naming the format when unknown. On failure out is left
 * empty. */
int firewall_render(const struct firewall_rules *rules, const char *format,
                    struct firewall_output *out, struct pr_error *err);
/* The file called name, or NULL. */
const struct firewall_file *firewall_output_file(const struct firewall_output *out,
                                                 const char *name);
void firewall_output_free(struct firewall_output *out);

/* Does outer contain inner (same family, prefix no longer, same leading bits)? */
bool firewall_cidr_contains(const struct plan_cidr *outer, const struct plan_cidr *inner);
/* Clear the bits past the prefix. */
void firewall_cidr_normalize(struct plan_cidr *cidr);

/* "10.1.0.0/16", "2001:db8::/32", "192.0.2.7" (a full-length prefix is printed bare). */
const char *firewall_cidr_text(const struct plan_cidr *cidr, char *buf, size_t size);

#endif
