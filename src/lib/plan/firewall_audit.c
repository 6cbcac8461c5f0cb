/* firewall_audit.c — the live nftables ruleset (libnftables JSON, read with jansson) evaluated
 * for every listening socket (see firewall_audit.h). For a new connection (family, protocol,
 * port) from outside, each input base chain is walked rule by rule: every match is MATCH,
 * NOMATCH or MAYBE (what cannot be evaluated); a MAYBE accept counts as an accept and a MAYBE
 * drop as no drop, so the audit errs towards "reachable" and says it is uncertain. A packet
 * must be accepted by every base chain on the hook, so chain outcomes are intersected. */
#include "plan/firewall_audit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/sockdiag.h"
#include "plan/firewall_gen.h"
#include "registry/record.h"
#include "util/nft_loader.h"

enum match_result { NOMATCH, MATCH, MAYBE };
enum verdict { VERDICT_NONE, VERDICT_ACCEPT, VERDICT_DROP, VERDICT_JUMP, VERDICT_GOTO,
               VERDICT_RETURN, VERDICT_UNKNOWN };

/* ---- the ruleset as parsed ---- */

struct rs_chain {
    const char *family, *table, *name;
    const char *hook, *type;         /* NULL for a regular chain */
    int priority;
    bool policy_accept;
    json_t **rules;                  /* each rule's "expr" array */
    size_t rule_count;
};

struct ruleset {
    json_t *root;
    json_t *sets;                    /* array of "set"/"map" objects */
    struct rs_chain *chains;
    size_t chain_count;
};

/* A connection to evaluate. */
struct query {
    uint8_t family;                  /* AF_INET / AF_INET6 */
    uint8_t proto;                   /* TCP / UDP */
    uint16_t port;
    bool has_daddr;                  /* the listener is bound to daddr (not a wildcard) */
    uint8_t daddr[16];
};

/* A chain's (or the whole hook's) answer for one query. */
struct outcome {
    enum firewall_reach reach;       /* BLOCKED, SOURCES, ANY or UNKNOWN */
    struct plan_cidr *sources;       /* malloc'd, SOURCES */
    size_t source_count;
    bool uncertain;
};

struct audit_ctx {
    struct ruleset rs;
    struct firewall_audit_result *res;
    struct pr_error *err;
};

static const char *str_member(const json_t *object, const char *key)
{
    const json_t *v = json_object_get(object, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int add_note(struct firewall_audit_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int add_note(struct firewall_audit_result *res, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < res->note_count; i++)
        if (strcmp(res->notes[i], text) == 0)
            return 0;
    const char **notes = realloc(res->notes, (res->note_count + 1) * sizeof *notes);
    if (!notes)
        return -ENOMEM;
    res->notes = notes;
    notes[res->note_count] = arena_strdup(&res->arena, text);
    if (!notes[res->note_count])
        return -ENOMEM;
    res->note_count++;
    return 0;
}

static void ruleset_free(struct ruleset *rs)
{
    for (size_t i = 0; i < rs->chain_count; i++)
        free(rs->chains[i].rules);
    free(rs->chains);
    json_decref(rs->sets);
    json_decref(rs->root);
    memset(rs, 0, sizeof *rs);
}

static struct rs_chain *chain_find(struct ruleset *rs, const char *family, const char *table,
                                   const char *name)
{
    for (size_t i = 0; i < rs->chain_count; i++) {
        struct rs_chain *c = &rs->chains[i];
        if (strcmp(c->family, family) == 0 && strcmp(c->table, table) == 0 &&
            strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

/* Parse libnftables' JSON ("nftables": [ {metainfo}, {table}, {chain}, {set}, {rule} ... ]). */
static int ruleset_parse(const char *text, struct ruleset *rs, struct pr_error *err)
{
    memset(rs, 0, sizeof *rs);
    json_error_t jerr;
    rs->root = json_loads(text, 0, &jerr);
    if (!rs->root)
        return pr_error_set_at(err, -EINVAL, (unsigned)jerr.line, (unsigned)jerr.column,
                               "nftables JSON: %s", jerr.text);
    json_t *items = json_object_get(rs->root, "nftables");
    if (!json_is_array(items)) {
        ruleset_free(rs);
        pr_error_set(err, -EINVAL, "not an nftables JSON ruleset: no \"nftables\" array");
        pr_error_set_path(err, "nftables");
        return -EINVAL;
    }
    rs->sets = json_array();
    if (!rs->sets)
        goto nomem;
    size_t index;
    json_t *item;
    /* chains first, then rules, whatever the order in the document */
    json_array_foreach(items, index, item) {
        json_t *chain = json_object_get(item, "chain");
        json_t *set = json_object_get(item, "set");
        if (!set)
            set = json_object_get(item, "map");
        if (set && json_array_append(rs->sets, set) < 0)
            goto nomem;
        if (!json_is_object(chain))
            continue;
        const char *family = str_member(chain, "family"), *table = str_member(chain, "table"),
                   *name = str_member(chain, "name");
        if (!family || !table || !name)
            continue;
        struct rs_chain *chains = realloc(rs->chains, (rs->chain_count + 1) * sizeof *chains);
        if (!chains)
            goto nomem;
        rs->chains = chains;
        struct rs_chain *c = &chains[rs->chain_count++];
        memset(c, 0, sizeof *c);
        c->family = family;
        c->table = table;
        c->name = name;
        c->hook = str_member(chain, "hook");
        c->type = str_member(chain, "type");
        c->priority = (int)json_integer_value(json_object_get(chain, "prio"));
        const char *policy = str_member(chain, "policy");
        c->policy_accept = !policy || strcmp(policy, "drop") != 0;
    }
    json_array_foreach(items, index, item) {
        json_t *rule = json_object_get(item, "rule");
        if (!json_is_object(rule))
            continue;
        const char *family = str_member(rule, "family"), *table = str_member(rule, "table"),
                   *name = str_member(rule, "chain");
        json_t *expr = json_object_get(rule, "expr");
        struct rs_chain *c = family && table && name ? chain_find(rs, family, table, name) : NULL;
        if (!c || !json_is_array(expr))
            continue;
        json_t **rules = realloc(c->rules, (c->rule_count + 1) * sizeof *rules);
        if (!rules)
            goto nomem;
        c->rules = rules;
        rules[c->rule_count++] = expr;
    }
    return 0;
nomem:
    ruleset_free(rs);
    return pr_error_set(err, -ENOMEM, "out of memory");
}

/* The elements of a named set of table (family, table). */
static json_t *set_elements(const struct ruleset *rs, const char *family, const char *table,
                            const char *name, bool *owned)
{
    size_t i;
    json_t *set;
    json_array_foreach(rs->sets, i, set) {
        const char *f = str_member(set, "family"), *t = str_member(set, "table"),
                   *n = str_member(set, "name");
        if (f && t && n && strcmp(f, family) == 0 && strcmp(t, table) == 0 && strcmp(n, name) == 0) {
            json_t *elem = json_object_get(set, "elem");
            if (elem)
                return elem;
            *owned = true;             /* an empty set has no "elem" */
            return json_array();
        }
    }
    return NULL;
}

/* ---- evaluating values ---- */

/* The element list a right-hand side denotes: "@name", {"set": [...]}, [...] or one value.
 * *owned is set when the caller must json_decref the result. */
static json_t *right_elements(const struct ruleset *rs, const struct rs_chain *chain,
                              json_t *right, bool *owned)
{
    *owned = false;
    if (json_is_string(right) && json_string_value(right)[0] == '@') {
        return set_elements(rs, chain->family, chain->table, json_string_value(right) + 1, owned);
    }
    json_t *set = json_is_object(right) ? json_object_get(right, "set") : NULL;
    if (json_is_array(set))
        return set;
    if (json_is_array(right))
        return right;
    json_t *one = json_array();
    if (!one)
        return NULL;
    json_array_append(one, right);
    *owned = true;
    return one;
}

/* An element may be wrapped as {"elem": {"val": X, ...}}. */
static json_t *unwrap_elem(json_t *e)
{
    json_t *inner = json_is_object(e) ? json_object_get(e, "elem") : NULL;
    json_t *val = inner ? json_object_get(inner, "val") : NULL;
    return val ? val : e;
}

/* Is port in the value? MAYBE when an element is not a number or a numeric range. */
static enum match_result port_in_value(const struct ruleset *rs, const struct rs_chain *chain,
                                       json_t *right, uint16_t port)
{
    bool owned;
    json_t *elems = right_elements(rs, chain, right, &owned);
    if (!elems)
        return MAYBE;
    enum match_result result = NOMATCH;
    size_t i;
    json_t *e;
    json_array_foreach(elems, i, e) {
        e = unwrap_elem(e);
        json_t *range = json_is_object(e) ? json_object_get(e, "range") : NULL;
        if (json_is_integer(e)) {
            if (json_integer_value(e) == port)
                result = MATCH;
        } else if (json_is_array(range) && json_is_integer(json_array_get(range, 0)) &&
                   json_is_integer(json_array_get(range, 1))) {
            if (json_integer_value(json_array_get(range, 0)) <= port &&
                port <= json_integer_value(json_array_get(range, 1)))
                result = MATCH;
        } else if (result == NOMATCH) {
            result = MAYBE;            /* a service name, a concatenation... */
        }
        if (result == MATCH)
            break;
    }
    if (owned)
        json_decref(elems);
    return result;
}

static enum match_result compare_port(const struct ruleset *rs, const struct rs_chain *chain,
                                      const char *op, json_t *right, uint16_t port)
{
    if (strcmp(op, "==") == 0 || strcmp(op, "in") == 0)
        return port_in_value(rs, chain, right, port);
    if (strcmp(op, "!=") == 0) {
        enum match_result m = port_in_value(rs, chain, right, port);
        return m == MAYBE ? MAYBE : m == MATCH ? NOMATCH : MATCH;
    }
    if (!json_is_integer(right))
        return MAYBE;
    json_int_t v = json_integer_value(right);
    bool r;
    if (strcmp(op, "<") == 0)
        r = port < v;
    else if (strcmp(op, "<=") == 0)
        r = port <= v;
    else if (strcmp(op, ">") == 0)
        r = port > v;
    else if (strcmp(op, ">=") == 0)
        r = port >= v;
    else
        return MAYBE;
    return r ? MATCH : NOMATCH;
}

/* Does a string value (or set of strings) contain want? MAYBE when not all strings. */
static enum match_result strings_contain(json_t *right, const char *want, const char *alias)
{
    json_t *list = right;
    json_t *set = json_is_object(right) ? json_object_get(right, "set") : NULL;
    if (set)
        list = set;
    if (json_is_string(list)) {
        const char *s = json_string_value(list);
        return strcmp(s, want) == 0 || (alias && strcmp(s, alias) == 0) ? MATCH : NOMATCH;
    }
    if (!json_is_array(list))
        return MAYBE;
    size_t i;
    json_t *e;
    enum match_result result = NOMATCH;
    json_array_foreach(list, i, e) {
        if (!json_is_string(e))
            result = MAYBE;
        else if (strcmp(json_string_value(e), want) == 0 ||
                 (alias && strcmp(json_string_value(e), alias) == 0))
            return MATCH;
    }
    return result;
}

static enum match_result apply_op(const char *op, enum match_result member)
{
    if (strcmp(op, "==") == 0 || strcmp(op, "in") == 0)
        return member;
    if (strcmp(op, "!=") == 0)
        return member == MAYBE ? MAYBE : member == MATCH ? NOMATCH : MATCH;
    return MAYBE;
}

static bool parse_cidr(const char *address, json_int_t len, struct plan_cidr *out)
{
    memset(out, 0, sizeof *out);
    out->family = strchr(address, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(out->family, address, out->bytes) != 1)
        return false;
    json_int_t full = out->family == AF_INET ? 32 : 128;
    out->prefix = (uint8_t)(len < 0 || len > full ? full : len);
    firewall_cidr_normalize(out);
    return true;
}

/* The source CIDRs of an saddr match's right side; false when one is not an address or prefix
 * (an address range, a concatenation). */
static bool source_cidrs(const struct ruleset *rs, const struct rs_chain *chain, json_t *right,
                         struct plan_cidr **cidrs, size_t *count)
{
    bool owned;
    json_t *elems = right_elements(rs, chain, right, &owned);
    *cidrs = NULL;
    *count = 0;
    if (!elems)
        return false;
    bool ok = true;
    *cidrs = calloc(json_array_size(elems) + 1, sizeof **cidrs);
    if (!*cidrs)
        ok = false;
    size_t i;
    json_t *e;
    json_array_foreach(elems, i, e) {
        if (!ok)
            break;
        e = unwrap_elem(e);
        json_t *prefix = json_is_object(e) ? json_object_get(e, "prefix") : NULL;
        if (json_is_string(e))
            ok = parse_cidr(json_string_value(e), -1, &(*cidrs)[*count]);
        else if (prefix && json_is_string(json_object_get(prefix, "addr")))
            ok = parse_cidr(json_string_value(json_object_get(prefix, "addr")),
                            json_integer_value(json_object_get(prefix, "len")), &(*cidrs)[*count]);
        else
            ok = false;
        if (ok)
            (*count)++;
    }
    if (owned)
        json_decref(elems);
    if (!ok) {
        free(*cidrs);
        *cidrs = NULL;
        *count = 0;
    }
    return ok;
}

/* Transport protocols other than tcp/udp: a match on their header never matches ours. */
static bool other_transport(const char *protocol)
{
    static const char *const names[] = { "icmp", "icmpv6", "igmp", "sctp", "dccp", "esp", "ah",
                                         "comp", "udplite", "gre", "arp" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(protocol, names[i]) == 0)
            return true;
    return false;
}

/* Rule-level state while its matches are evaluated. */
struct rule_eval {
    enum match_result match;         /* the conjunction so far */
    struct plan_cidr *sources;       /* saddr constraint, NULL = any source */
    size_t source_count;
    bool has_source;
    bool port_known;                 /* a dport match was found (for "opened ports") */
    uint8_t port_proto;              /* its protocol, 0 for th without l4proto */
    json_t *port_value;
    const char *port_op;
};

static void conjoin(struct rule_eval *r, enum match_result m)
{
    if (m == NOMATCH || r->match == NOMATCH)
        r->match = NOMATCH;
    else if (m == MAYBE)
        r->match = MAYBE;
}

static void eval_match(const struct audit_ctx *ctx, const struct rs_chain *chain,
                       const struct query *q, json_t *match, struct rule_eval *r)
{
    const char *op = str_member(match, "op");
    json_t *left = json_object_get(match, "left"), *right = json_object_get(match, "right");
    if (!op || !left || !right) {
        conjoin(r, MAYBE);
        return;
    }
    const char *proto_name = q->proto == REGISTRY_PROTO_UDP ? "udp" : "tcp";
    json_t *payload = json_object_get(left, "payload");
    json_t *meta = json_object_get(left, "meta");
    json_t *ct = json_object_get(left, "ct");
    if (payload) {
        const char *protocol = str_member(payload, "protocol"), *field = str_member(payload, "field");
        if (!protocol || !field) {
            conjoin(r, MAYBE);
            return;
        }
        if (strcmp(protocol, "tcp") == 0 || strcmp(protocol, "udp") == 0 ||
            strcmp(protocol, "th") == 0) {
            if (strcmp(protocol, "th") != 0 && strcmp(protocol, proto_name) != 0) {
                conjoin(r, NOMATCH);   /* the implicit l4proto dependency */
                return;
            }
            if (strcmp(field, "dport") != 0) {
                conjoin(r, MAYBE);     /* sport, flags: not evaluated */
                return;
            }
            r->port_known = true;
            r->port_proto = strcmp(protocol, "th") == 0 ? r->port_proto
                                                        : (uint8_t)(strcmp(protocol, "udp") == 0
                                                                        ? REGISTRY_PROTO_UDP
                                                                        : REGISTRY_PROTO_TCP);
            r->port_value = right;
            r->port_op = op;
            conjoin(r, compare_port(&ctx->rs, chain, op, right, q->port));
            return;
        }
        if (strcmp(protocol, "ip") == 0 || strcmp(protocol, "ip6") == 0) {
            uint8_t family = strcmp(protocol, "ip") == 0 ? AF_INET : AF_INET6;
            if (family != q->family) {
                conjoin(r, NOMATCH);
                return;
            }
            if (strcmp(field, "saddr") == 0) {
                struct plan_cidr *cidrs;
                size_t count;
                if ((strcmp(op, "==") != 0 && strcmp(op, "in") != 0) || r->has_source ||
                    !source_cidrs(&ctx->rs, chain, right, &cidrs, &count)) {
                    conjoin(r, MAYBE);
                    return;
                }
                r->sources = cidrs;
                r->source_count = count;
                r->has_source = true;
                if (count == 0)
                    conjoin(r, NOMATCH);   /* an empty set matches nothing */
                return;
            }
            if (strcmp(field, "daddr") == 0) {
                /* a listener bound to one address gets packets for it only: exact; a wildcard
                 * listener's packets may or may not be for these addresses */
                struct plan_cidr *cidrs;
                size_t count;
                if (!q->has_daddr || (strcmp(op, "==") != 0 && strcmp(op, "in") != 0 &&
                                      strcmp(op, "!=") != 0) ||
                    !source_cidrs(&ctx->rs, chain, right, &cidrs, &count)) {
                    conjoin(r, MAYBE);
                    return;
                }
                struct plan_cidr self = { .family = q->family,
                                          .prefix = q->family == AF_INET ? 32 : 128 };
                memcpy(self.bytes, q->daddr, 16);
                bool in = false;
                for (size_t i = 0; i < count && !in; i++)
                    in = cidrs[i].family == q->family && firewall_cidr_contains(&cidrs[i], &self);
                free(cidrs);
                conjoin(r, (strcmp(op, "!=") == 0) != in ? MATCH : NOMATCH);
                return;
            }
            if (strcmp(field, "protocol") == 0 || strcmp(field, "nexthdr") == 0) {
                conjoin(r, apply_op(op, strings_contain(right, proto_name, NULL)));
                return;
            }
            conjoin(r, MAYBE);
            return;
        }
        conjoin(r, other_transport(protocol) ? NOMATCH : MAYBE);
        return;
    }
    if (meta) {
        const char *key = str_member(meta, "key");
        if (!key) {
            conjoin(r, MAYBE);
        } else if (strcmp(key, "l4proto") == 0) {
            conjoin(r, apply_op(op, strings_contain(right, proto_name, NULL)));
            if (r->match != NOMATCH && !r->port_proto)
                r->port_proto = q->proto;
        } else if (strcmp(key, "nfproto") == 0) {
            conjoin(r, apply_op(op, strings_contain(right, q->family == AF_INET ? "ipv4" : "ipv6",
                                                    NULL)));
        } else if (strcmp(key, "iif") == 0 || strcmp(key, "iifname") == 0) {
            /* outside traffic never arrives on lo; any other interface may carry it */
            enum match_result lo = strings_contain(right, "lo", NULL);
            if (strcmp(op, "==") == 0 || strcmp(op, "in") == 0)
                conjoin(r, lo == MATCH && json_is_string(right) ? NOMATCH : MAYBE);
            else
                conjoin(r, lo == MATCH && json_is_string(right) ? MATCH : MAYBE);
        } else {
            conjoin(r, MAYBE);
        }
        return;
    }
    if (ct) {
        const char *key = str_member(ct, "key");
        if (key && strcmp(key, "state") == 0) {
            /* a new connection is in state "new" */
            enum match_result has_new = strings_contain(right, "new", NULL);
            if (strcmp(op, "==") == 0 || strcmp(op, "in") == 0)
                conjoin(r, has_new);
            else if (strcmp(op, "!=") == 0)
                conjoin(r, has_new == MAYBE ? MAYBE : has_new == MATCH ? NOMATCH : MATCH);
            else
                conjoin(r, MAYBE);
            return;
        }
        conjoin(r, MAYBE);
        return;
    }
    conjoin(r, MAYBE);                 /* fib, socket, bitwise, concatenations... */
}

/* The verdict of a verdict expression, or VERDICT_NONE when e is not one. */
static enum verdict verdict_of(json_t *e, const char **target)
{
    *target = NULL;
    if (json_object_get(e, "accept"))
        return VERDICT_ACCEPT;
    if (json_object_get(e, "drop") || json_object_get(e, "reject"))
        return VERDICT_DROP;
    if (json_object_get(e, "return"))
        return VERDICT_RETURN;
    if (json_object_get(e, "continue"))
        return VERDICT_NONE;
    json_t *jump = json_object_get(e, "jump"), *go = json_object_get(e, "goto");
    if (jump || go) {
        *target = str_member(jump ? jump : go, "target");
        return jump ? VERDICT_JUMP : VERDICT_GOTO;
    }
    if (json_object_get(e, "queue"))
        return VERDICT_UNKNOWN;
    return VERDICT_NONE;
}

/* A verdict map: `ct state vmap { ... }` and `tcp dport vmap { ... }` are evaluated. */
static enum verdict eval_vmap(const struct audit_ctx *ctx, const struct rs_chain *chain,
                              const struct query *q, json_t *vmap, const char **target)
{
    *target = NULL;
    json_t *key = json_object_get(vmap, "key"), *data = json_object_get(vmap, "data");
    bool owned;
    json_t *elems = data ? right_elements(&ctx->rs, chain, data, &owned) : NULL;
    if (!elems)
        return VERDICT_UNKNOWN;
    json_t *payload = json_object_get(key, "payload"), *ct = json_object_get(key, "ct");
    const char *proto_name = q->proto == REGISTRY_PROTO_UDP ? "udp" : "tcp";
    enum verdict v = VERDICT_UNKNOWN;
    bool ct_state = ct && str_member(ct, "key") && strcmp(str_member(ct, "key"), "state") == 0;
    const char *protocol = payload ? str_member(payload, "protocol") : NULL;
    const char *field = payload ? str_member(payload, "field") : NULL;
    bool dport = protocol && field && strcmp(field, "dport") == 0 &&
                 (strcmp(protocol, "tcp") == 0 || strcmp(protocol, "udp") == 0);
    if (dport && strcmp(protocol, proto_name) != 0) {
        v = VERDICT_NONE;              /* the other protocol's map */
    } else if (ct_state || dport) {
        v = VERDICT_NONE;              /* no element: the rule does nothing */
        size_t i;
        json_t *pair;
        json_array_foreach(elems, i, pair) {
            json_t *k = json_array_get(pair, 0), *verdict = json_array_get(pair, 1);
            if (!k || !verdict) {
                v = VERDICT_UNKNOWN;
                break;
            }
            enum match_result m = ct_state ? strings_contain(k, "new", NULL)
                                           : compare_port(&ctx->rs, chain, "==", k, q->port);
            if (m == NOMATCH)
                continue;
            v = m == MAYBE ? VERDICT_UNKNOWN : verdict_of(verdict, target);
            break;
        }
    }
    if (owned)
        json_decref(elems);
    return v;
}

/* ---- walking chains ----
 * A packet's path is a stack of chains, as nft keeps it: `jump` pushes the target (its end,
 * or a `return`, resumes the caller after the jump), `goto` replaces the current chain (its
 * end resumes the caller's caller), and the end of (or a `return` in) the base chain applies
 * the base chain's policy. A verdict under a condition the audit cannot settle for every
 * source (MAYBE, or an saddr match) forks the walk: both paths are followed and their
 * outcomes united (a path taken only by sources S is cut down to S). */

#define WALK_DEPTH_MAX 16u       /* nft's own limit on nested jumps */
#define WALK_FORKS_MAX 256u      /* conditional branches per query before "unknown" */

struct walk_frame {
    const struct rs_chain *chain;
    size_t next;                     /* the next rule to evaluate */
};

struct walk {
    const struct rs_chain *base;
    struct walk_frame stack[WALK_DEPTH_MAX];
    size_t depth;                    /* frames in use; stack[depth - 1] is the current chain */
    struct outcome out;              /* sources accepted so far, uncertainty */
};

static int sources_append(struct outcome *o, const struct plan_cidr *cidrs, size_t count)
{
    if (!count)
        return 0;
    struct plan_cidr *items = realloc(o->sources, (o->source_count + count) * sizeof *items);
    if (!items)
        return -ENOMEM;
    memcpy(items + o->source_count, cidrs, count * sizeof *items);
    o->sources = items;
    o->source_count += count;
    return 0;
}

static int walk_copy(const struct walk *from, struct walk *to)
{
    *to = *from;
    to->out.sources = NULL;
    to->out.source_count = 0;
    return sources_append(&to->out, from->out.sources, from->out.source_count);
}

/* into = into ∪ other (either path may be taken): any > unknown > sources > blocked. Frees
 * other's sources. */
static int outcome_union(struct outcome *into, struct outcome *other)
{
    into->uncertain |= other->uncertain;
    int rc = 0;
    if (into->reach == FIREWALL_REACH_ANY || other->reach == FIREWALL_REACH_ANY) {
        into->reach = FIREWALL_REACH_ANY;
    } else if (into->reach == FIREWALL_REACH_UNKNOWN || other->reach == FIREWALL_REACH_UNKNOWN) {
        into->reach = FIREWALL_REACH_UNKNOWN;
    } else if (other->reach == FIREWALL_REACH_SOURCES) {
        into->reach = FIREWALL_REACH_SOURCES;
        rc = sources_append(into, other->sources, other->source_count);
    }
    if (into->reach == FIREWALL_REACH_ANY || into->reach == FIREWALL_REACH_UNKNOWN ||
        into->reach == FIREWALL_REACH_BLOCKED) {
        free(into->sources);
        into->sources = NULL;
        into->source_count = 0;
    }
    free(other->sources);
    other->sources = NULL;
    other->source_count = 0;
    return rc;
}

static int cidrs_intersect(struct outcome *into, const struct plan_cidr *other, size_t count);

/* The outcome of a path only packets from cidrs take: cut down to them. */
static int outcome_restrict(struct outcome *o, const struct plan_cidr *cidrs, size_t count)
{
    if (o->reach == FIREWALL_REACH_ANY) {
        o->reach = FIREWALL_REACH_SOURCES;
        free(o->sources);
        o->sources = NULL;
        o->source_count = 0;
        return sources_append(o, cidrs, count);
    }
    if (o->reach == FIREWALL_REACH_SOURCES) {
        if (cidrs_intersect(o, cidrs, count) < 0)
            return -ENOMEM;
        if (o->source_count == 0)
            o->reach = FIREWALL_REACH_BLOCKED;
    }
    return 0;
}

/* Where the packet stands at the end of the walk: the base chain's policy applies. */
static void walk_finish_policy(struct walk *w)
{
    if (w->base->policy_accept)
        w->out.reach = FIREWALL_REACH_ANY;
    else
        w->out.reach = w->out.source_count ? FIREWALL_REACH_SOURCES : FIREWALL_REACH_BLOCKED;
}

/* Apply a return, jump or goto to w's stack; false (with a note) when it cannot be followed:
 * a missing target (*missing) or too deep a nesting. */
static int walk_transfer(const struct audit_ctx *ctx, struct walk *w, enum verdict v,
                         const char *target, bool *followed)
{
    *followed = false;
    const struct rs_chain *here = w->stack[w->depth - 1].chain;
    if (v == VERDICT_RETURN) {
        w->depth--;
        *followed = true;
        return 0;
    }
    const struct rs_chain *sub = target ? chain_find((struct ruleset *)&ctx->rs, here->family,
                                                     here->table, target)
                                        : NULL;
    if (!sub)
        return add_note(ctx->res, "%s %s %s: %s to %s (missing) not evaluated", here->family,
                        here->table, here->name, v == VERDICT_JUMP ? "jump" : "goto",
                        target ? target : "?");
    if (v == VERDICT_GOTO) {
        w->stack[w->depth - 1] = (struct walk_frame){ sub, 0 };
        *followed = true;
        return 0;
    }
    if (w->depth >= WALK_DEPTH_MAX)
        return add_note(ctx->res, "%s %s %s: jump to %s nested deeper than %u chains not "
                        "evaluated", here->family, here->table, here->name, target,
                        WALK_DEPTH_MAX);
    w->stack[w->depth++] = (struct walk_frame){ sub, 0 };
    *followed = true;
    return 0;
}

/* Evaluate one rule: its conjunction of matches, its saddr constraint and its verdict. */
static void eval_rule(const struct audit_ctx *ctx, const struct rs_chain *chain,
                      const struct query *q, json_t *expr, struct rule_eval *r,
                      enum verdict *v, const char **target)
{
    *r = (struct rule_eval){ .match = MATCH };
    *v = VERDICT_NONE;
    *target = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(expr, i, e) {
        json_t *match = json_object_get(e, "match");
        json_t *vmap = json_object_get(e, "vmap");
        if (match) {
            eval_match(ctx, chain, q, match, r);
        } else if (vmap) {
            if (r->match != NOMATCH)
                *v = eval_vmap(ctx, chain, q, vmap, target);
        } else if (json_object_get(e, "limit") || json_object_get(e, "quota") ||
                   json_object_get(e, "xt")) {
            conjoin(r, MAYBE);         /* rate limits, iptables-nft compat matches */
        } else {
            const char *t = NULL;
            enum verdict ev = verdict_of(e, &t);
            if (ev != VERDICT_NONE) {
                *v = ev;
                *target = t;
            }
        }
        if (r->match == NOMATCH)
            break;
    }
}

/* Walk from w's current place to a final outcome (into *result, w consumed). */
static int walk_run(const struct audit_ctx *ctx, const struct query *q, struct walk *w,
                    unsigned *forks, struct outcome *result)
{
    int rc = 0;
    for (;;) {
        if (w->depth == 0) {
            walk_finish_policy(w);
            break;
        }
        struct walk_frame *top = &w->stack[w->depth - 1];
        if (top->next >= top->chain->rule_count) {
            w->depth--;                /* the end of a jumped-to chain returns to its caller */
            continue;
        }
        const struct rs_chain *chain = top->chain;
        json_t *expr = chain->rules[top->next++];
        struct rule_eval r;
        enum verdict v;
        const char *target;
        eval_rule(ctx, chain, q, expr, &r, &v, &target);
        bool certain = r.match == MATCH && !r.has_source;
        if (r.match == NOMATCH || v == VERDICT_NONE) {
            free(r.sources);
            continue;
        }
        if (v == VERDICT_ACCEPT) {
            if (r.match == MAYBE)
                w->out.uncertain = true;
            if (r.has_source) {
                rc = sources_append(&w->out, r.sources, r.source_count);
                free(r.sources);
                if (rc < 0)
                    break;
                continue;
            }
            w->out.reach = FIREWALL_REACH_ANY;
            break;
        }
        if (v == VERDICT_DROP || v == VERDICT_UNKNOWN) {
            free(r.sources);
            if (!certain) {
                w->out.uncertain = true;   /* may stop some: reported as reachable */
                continue;
            }
            if (v == VERDICT_UNKNOWN)
                w->out.reach = FIREWALL_REACH_UNKNOWN;
            else
                w->out.reach = w->out.source_count ? FIREWALL_REACH_SOURCES
                                                   : FIREWALL_REACH_BLOCKED;
            break;
        }
        /* return, jump or goto */
        if (certain) {
            bool followed;
            free(r.sources);
            if ((rc = walk_transfer(ctx, w, v, target, &followed)) < 0)
                break;
            if (!followed)
                w->out.uncertain = true;
            continue;
        }
        /* conditional: follow both paths */
        if (++*forks > WALK_FORKS_MAX) {
            free(r.sources);
            rc = add_note(ctx->res, "%s %s %s: more than %u conditional jumps and returns for "
                          "one port: not evaluated", chain->family, chain->table, chain->name,
                          WALK_FORKS_MAX);
            w->out.reach = FIREWALL_REACH_UNKNOWN;
            w->out.uncertain = true;
            break;
        }
        struct walk taken;
        if ((rc = walk_copy(w, &taken)) < 0) {
            free(r.sources);
            break;
        }
        bool followed = false;
        struct outcome a = { .reach = FIREWALL_REACH_BLOCKED };
        rc = walk_transfer(ctx, &taken, v, target, &followed);
        if (rc == 0 && followed)
            rc = walk_run(ctx, q, &taken, forks, &a);
        else
            free(taken.out.sources);
        if (rc == 0 && followed && r.has_source && r.match == MATCH)
            rc = outcome_restrict(&a, r.sources, r.source_count);
        size_t accepted_before = w->out.source_count;
        struct outcome b = { .reach = FIREWALL_REACH_BLOCKED };
        if (rc == 0)
            rc = walk_run(ctx, q, w, forks, &b);   /* the path not taken; consumes w */
        else
            free(w->out.sources);
        w->out = (struct outcome){ 0 };
        /* exact only when the condition is a source set and the other path adds nothing */
        bool exact = followed && r.has_source && r.match == MATCH &&
                     (b.reach == FIREWALL_REACH_BLOCKED ||
                      (b.reach == FIREWALL_REACH_SOURCES && b.source_count == accepted_before));
        free(r.sources);
        if (rc == 0 && followed)
            rc = outcome_union(&b, &a);
        free(a.sources);
        b.uncertain |= !exact;
        *result = b;
        return rc;
    }
    *result = w->out;
    w->out = (struct outcome){ 0 };
    if (result->reach != FIREWALL_REACH_SOURCES) {
        free(result->sources);
        result->sources = NULL;
        result->source_count = 0;
    }
    return rc;
}

/* One base chain's outcome for q. */
static int walk_base_chain(const struct audit_ctx *ctx, const struct rs_chain *chain,
                           const struct query *q, struct outcome *out)
{
    struct walk w = { .base = chain, .depth = 1, .out = { .reach = FIREWALL_REACH_BLOCKED } };
    w.stack[0] = (struct walk_frame){ chain, 0 };
    unsigned forks = 0;
    return walk_run(ctx, q, &w, &forks, out);
}

static bool chain_is_input(const struct rs_chain *c, uint8_t family)
{
    if (!c->hook || strcmp(c->hook, "input") != 0 || (c->type && strcmp(c->type, "filter") != 0))
        return false;
    if (strcmp(c->family, "inet") == 0)
        return true;
    return strcmp(c->family, family == AF_INET ? "ip" : "ip6") == 0;
}

/* Intersect two CIDR lists (exact for CIDRs: either one contains the other or they are
 * disjoint). */
static int cidrs_intersect(struct outcome *into, const struct plan_cidr *other, size_t count)
{
    struct outcome result = { 0 };
    for (size_t i = 0; i < into->source_count; i++)
        for (size_t j = 0; j < count; j++) {
            const struct plan_cidr *pick = NULL;
            if (firewall_cidr_contains(&into->sources[i], &other[j]))
                pick = &other[j];
            else if (firewall_cidr_contains(&other[j], &into->sources[i]))
                pick = &into->sources[i];
            if (pick && sources_append(&result, pick, 1) < 0) {
                free(result.sources);
                return -ENOMEM;
            }
        }
    free(into->sources);
    into->sources = result.sources;
    into->source_count = result.source_count;
    return 0;
}

/* Every input base chain must accept: combine their outcomes. */
static int evaluate_query(const struct audit_ctx *ctx, const struct query *q, struct outcome *total)
{
    memset(total, 0, sizeof *total);
    total->reach = FIREWALL_REACH_ANY;    /* no chain: nothing filters */
    for (size_t c = 0; c < ctx->rs.chain_count; c++) {
        const struct rs_chain *chain = &ctx->rs.chains[c];
        if (!chain_is_input(chain, q->family))
            continue;
        struct outcome chain_out;
        int rc = walk_base_chain(ctx, chain, q, &chain_out);
        if (rc < 0) {
            free(chain_out.sources);
            return rc;
        }
        if (chain_out.reach == FIREWALL_REACH_ANY) {
            free(chain_out.sources);
            chain_out.sources = NULL;
            chain_out.source_count = 0;
        }
        total->uncertain |= chain_out.uncertain;
        /* combine: blocked wins; unknown next; sources intersect; any is neutral */
        if (total->reach == FIREWALL_REACH_BLOCKED || chain_out.reach == FIREWALL_REACH_BLOCKED) {
            total->reach = FIREWALL_REACH_BLOCKED;
        } else if (chain_out.reach == FIREWALL_REACH_UNKNOWN || total->reach == FIREWALL_REACH_UNKNOWN) {
            total->reach = FIREWALL_REACH_UNKNOWN;
        } else if (chain_out.reach == FIREWALL_REACH_SOURCES) {
            if (total->reach == FIREWALL_REACH_ANY) {
                total->reach = FIREWALL_REACH_SOURCES;
                total->sources = chain_out.sources;
                total->source_count = chain_out.source_count;
                chain_out.sources = NULL;
            } else if (cidrs_intersect(total, chain_out.sources, chain_out.source_count) < 0) {
                free(chain_out.sources);
                return -ENOMEM;
            }
            if (total->reach == FIREWALL_REACH_SOURCES && total->source_count == 0)
                total->reach = FIREWALL_REACH_BLOCKED;
        }
        free(chain_out.sources);
    }
    if (total->reach != FIREWALL_REACH_SOURCES) {
        free(total->sources);
        total->sources = NULL;
        total->source_count = 0;
    }
    return 0;
}

/* ---- opened ports: every accept on a dport in an input chain (and chains it jumps to) ---- */

/* Whether a payload protocol belongs to one address family only: ip and icmp are IPv4's, ip6
 * and icmpv6 IPv6's. */
static bool family_only(const char *protocol, uint8_t *family)
{
    if (strcmp(protocol, "ip") == 0 || strcmp(protocol, "icmp") == 0) {
        *family = AF_INET;
        return true;
    }
    if (strcmp(protocol, "ip6") == 0 || strcmp(protocol, "icmpv6") == 0) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

struct open_range {
    uint8_t proto;
    uint16_t first, last;
    bool ipv4, ipv6, any_source;
    const char *table, *chain;
};

static int collect_open_ports_in(const struct audit_ctx *ctx, const struct rs_chain *chain,
                                 bool ipv4, bool ipv6, unsigned depth, struct open_range **ranges,
                                 size_t *count)
{
    for (size_t i = 0; i < chain->rule_count; i++) {
        json_t *expr = chain->rules[i];
        size_t k;
        json_t *e;
        json_t *port_value = NULL;
        const char *port_op = NULL, *target = NULL;
        uint8_t proto = 0;
        bool l4_tcp = false, l4_udp = false, v4 = ipv4, v6 = ipv6, any_source = true, skip = false;
        uint8_t only = 0;
        enum verdict v = VERDICT_NONE;
        json_array_foreach(expr, k, e) {
            json_t *match = json_object_get(e, "match");
            if (!match) {
                enum verdict ev = verdict_of(e, &target);
                if (ev != VERDICT_NONE)
                    v = ev;
                continue;
            }
            json_t *left = json_object_get(match, "left"), *right = json_object_get(match, "right");
            json_t *payload = json_object_get(left, "payload"), *meta = json_object_get(left, "meta");
            const char *protocol = payload ? str_member(payload, "protocol") : NULL;
            const char *field = payload ? str_member(payload, "field") : NULL;
            const char *key = meta ? str_member(meta, "key") : NULL;
            if (protocol && field && strcmp(field, "dport") == 0 &&
                (!strcmp(protocol, "tcp") || !strcmp(protocol, "udp") || !strcmp(protocol, "th"))) {
                port_value = right;
                port_op = str_member(match, "op");
                proto = !strcmp(protocol, "tcp") ? REGISTRY_PROTO_TCP
                        : !strcmp(protocol, "udp") ? REGISTRY_PROTO_UDP : 0;
            } else if (protocol && family_only(protocol, &only)) {
                /* any ip6 match (saddr, daddr, nexthdr, ...) leaves IPv4 out, and ip IPv6 */
                v4 = v4 && only == AF_INET;
                v6 = v6 && only == AF_INET6;
                if (field && strcmp(field, "saddr") == 0)
                    any_source = false;
            } else if (key && strcmp(key, "nfproto") == 0) {
                v4 = v4 && strings_contain(right, "ipv4", NULL) != NOMATCH;
                v6 = v6 && strings_contain(right, "ipv6", NULL) != NOMATCH;
            } else if (key && strcmp(key, "l4proto") == 0) {
                l4_tcp = strings_contain(right, "tcp", NULL) == MATCH;
                l4_udp = strings_contain(right, "udp", NULL) == MATCH;
            } else if (key && (!strcmp(key, "iif") || !strcmp(key, "iifname")) &&
                       json_is_string(right) && !strcmp(json_string_value(right), "lo")) {
                skip = true;           /* loopback only */
            }
        }
        if (skip)
            continue;
        if ((v == VERDICT_JUMP || v == VERDICT_GOTO) && target && depth + 1 < WALK_DEPTH_MAX) {
            const struct rs_chain *sub = chain_find((struct ruleset *)&ctx->rs, chain->family,
                                                    chain->table, target);
            if (sub) {
                int rc = collect_open_ports_in(ctx, sub, v4, v6, depth + 1, ranges, count);
                if (rc < 0)
                    return rc;
            }
            continue;
        }
        if (v != VERDICT_ACCEPT || !port_value || !port_op ||
            (strcmp(port_op, "==") != 0 && strcmp(port_op, "in") != 0))
            continue;
        bool owned;
        json_t *elems = right_elements(&ctx->rs, chain, port_value, &owned);
        if (!elems)
            continue;
        size_t j;
        json_t *el;
        json_array_foreach(elems, j, el) {
            el = unwrap_elem(el);
            json_int_t first, last;
            json_t *range = json_is_object(el) ? json_object_get(el, "range") : NULL;
            if (json_is_integer(el)) {
                first = last = json_integer_value(el);
            } else if (json_is_array(range) && json_is_integer(json_array_get(range, 0)) &&
                       json_is_integer(json_array_get(range, 1))) {
                first = json_integer_value(json_array_get(range, 0));
                last = json_integer_value(json_array_get(range, 1));
            } else {
                continue;
            }
            if (first < 0 || last > 65535 || first > last)
                continue;
            uint8_t protos[2];
            size_t n = 0;
            if (proto)
                protos[n++] = proto;
            else {
                if (l4_tcp)
                    protos[n++] = REGISTRY_PROTO_TCP;
                if (l4_udp)
                    protos[n++] = REGISTRY_PROTO_UDP;
            }
            for (size_t p = 0; p < n; p++) {
                struct open_range *items = realloc(*ranges, (*count + 1) * sizeof *items);
                if (!items) {
                    if (owned)
                        json_decref(elems);
                    return -ENOMEM;
                }
                *ranges = items;
                items[(*count)++] = (struct open_range){
                    .proto = protos[p], .first = (uint16_t)first, .last = (uint16_t)last,
                    .ipv4 = v4, .ipv6 = v6, .any_source = any_source,
                    .table = chain->table, .chain = chain->name };
            }
        }
        if (owned)
            json_decref(elems);
    }
    return 0;
}

/* ---- listeners ---- */

static bool address_is_loopback(uint8_t family, const uint8_t a[16])
{
    if (family == AF_INET)
        return a[0] == 127;
    static const uint8_t v6_loopback[16] = { [15] = 1 };
    static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };
    if (memcmp(a, v6_loopback, 16) == 0)
        return true;
    return memcmp(a, v4_mapped, 12) == 0 && a[12] == 127;
}

static bool address_is_any(uint8_t family, const uint8_t a[16])
{
    static const uint8_t zero[16];
    return memcmp(a, zero, family == AF_INET ? 4 : 16) == 0;
}

static int listener_compare(const void *x, const void *y)
{
    const struct firewall_audit_listener *a = x, *b = y;
    if (a->proto != b->proto)
        return (int)a->proto - (int)b->proto;
    if (a->port != b->port)
        return (int)a->port - (int)b->port;
    if (a->family != b->family)
        return a->family == AF_INET ? -1 : 1;
    return memcmp(a->address, b->address, 16);
}

/* Which service of the plan declares (proto, port) on host; exposure out. */
static const struct plan_service *plan_service_for(const struct plan *plan,
                                                   const struct plan_host *host, uint8_t proto,
                                                   uint16_t port)
{
    for (size_t s = 0; s < plan->service_count; s++) {
        const struct plan_service *service = &plan->services[s];
        bool on_host = false;
        for (size_t h = 0; h < service->host_count && !on_host; h++) {
            const char *name = service->hosts[h];
            on_host = strcmp(host->name, name) == 0;
            for (size_t g = 0; g < host->group_count && !on_host; g++)
                on_host = strcmp(host->groups[g], name) == 0;
        }
        if (!on_host)
            continue;
        for (size_t p = 0; p < service->port_count; p++)
            if (service->ports[p].proto == proto && service->ports[p].port == port)
                return service;
    }
    return NULL;
}

static int evaluate_listener(const struct audit_ctx *ctx, const struct socket_entry *s,
                             unsigned lo_index, struct firewall_audit_listener *l)
{
    memset(l, 0, sizeof *l);
    l->proto = s->proto;
    l->family = s->family;
    l->v6only = s->v6only;
    memcpy(l->address, s->local_addr, 16);
    l->port = s->local_port;
    l->inode = s->inode;
    if (address_is_loopback(s->family, s->local_addr) ||
        (lo_index && s->bound_ifindex == lo_index)) {
        l->reach = FIREWALL_REACH_LOOPBACK_ONLY;
        return 0;
    }
    /* [::] without v6only also takes IPv4 */
    uint8_t families[2];
    size_t n = 0;
    families[n++] = s->family;
    if (s->family == AF_INET6 && !s->v6only && address_is_any(AF_INET6, s->local_addr))
        families[n++] = AF_INET;
    struct outcome combined = { .reach = FIREWALL_REACH_BLOCKED };
    for (size_t i = 0; i < n; i++) {
        struct query q = { .family = families[i], .proto = s->proto, .port = s->local_port };
        if (!address_is_any(s->family, s->local_addr)) {
            q.has_daddr = true;
            memcpy(q.daddr, s->local_addr, 16);
        }
        struct outcome o;
        int rc = evaluate_query(ctx, &q, &o);
        if (rc < 0) {
            free(combined.sources);
            return rc;
        }
        combined.uncertain |= o.uncertain;
        /* union over the families: any > unknown > sources > blocked */
        if (o.reach == FIREWALL_REACH_ANY || combined.reach == FIREWALL_REACH_ANY) {
            combined.reach = FIREWALL_REACH_ANY;
        } else if (o.reach == FIREWALL_REACH_UNKNOWN || combined.reach == FIREWALL_REACH_UNKNOWN) {
            combined.reach = FIREWALL_REACH_UNKNOWN;
        } else if (o.reach == FIREWALL_REACH_SOURCES) {
            combined.reach = FIREWALL_REACH_SOURCES;
            if (sources_append(&combined, o.sources, o.source_count) < 0) {
                free(o.sources);
                free(combined.sources);
                return -ENOMEM;
            }
        }
        free(o.sources);
    }
    l->reach = combined.reach;
    l->uncertain = combined.uncertain;
    if (combined.reach == FIREWALL_REACH_SOURCES && combined.source_count) {
        l->sources = arena_alloc(&ctx->res->arena, combined.source_count * sizeof *l->sources);
        if (!l->sources) {
            free(combined.sources);
            return -ENOMEM;
        }
        memcpy(l->sources, combined.sources, combined.source_count * sizeof *l->sources);
        l->source_count = combined.source_count;
    }
    free(combined.sources);
    return 0;
}

static int read_live_ruleset(char **json, struct pr_error *err)
{
    struct nft_api api;
    int r = nft_api_load(&api, err);
    if (r < 0)
        return r;
    r = nft_api_run(&api, "list ruleset", false, NFT_CTX_OUTPUT_JSON, json, err);
    nft_api_unload(&api);
    if (r == -EPERM || (r < 0 && geteuid() != 0))
        return pr_error_set(err, -EPERM,
                            "reading the nftables ruleset needs CAP_NET_ADMIN (run as root)");
    return r;
}

/* Legacy iptables tables are invisible to libnftables: say so when any is loaded. */
static int note_legacy_iptables(struct firewall_audit_result *res)
{
    static const char *const files[] = { "/proc/net/ip_tables_names", "/proc/net/ip6_tables_names" };
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f)
            continue;
        char line[64];
        bool any = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        if (any)
            return add_note(res, "legacy iptables tables are loaded (%s): their rules are not "
                                 "evaluated", files[i]);
    }
    return 0;
}

static int fill_result(struct audit_ctx *ctx, const struct firewall_audit_options *opt,
                       const struct socket_list *sockets)
{
    struct firewall_audit_result *res = ctx->res;
    const struct plan_host *plan_host = NULL;
    if (opt->plan) {
        char hostname[256] = "";
        const char *host = opt->host;
        if (!host) {
            if (gethostname(hostname, sizeof hostname - 1) < 0)
                return pr_error_set(ctx->err, -errno, "gethostname: %s", strerror(errno));
            char *dot = strchr(hostname, '.');
            if (dot)
                *dot = '\0';
            host = hostname;
        }
        for (size_t i = 0; i < opt->plan->host_count && !plan_host; i++)
            if (strcmp(opt->plan->hosts[i].name, host) == 0)
                plan_host = &opt->plan->hosts[i];
        if (!plan_host)
            return pr_error_set(ctx->err, -ENOENT, "host '%s' is not in the plan", host);
        res->host = arena_strdup(&res->arena, host);
        if (!res->host)
            return -ENOMEM;
    }

    /* the chains, for the report */
    for (size_t c = 0; c < ctx->rs.chain_count; c++) {
        const struct rs_chain *chain = &ctx->rs.chains[c];
        if (chain->hook && (strcmp(chain->hook, "prerouting") == 0 ||
                            strcmp(chain->hook, "ingress") == 0) &&
            chain->rule_count && (!chain->type || strcmp(chain->type, "filter") == 0)) {
            int rc = add_note(res, "%s %s %s: %s chain not evaluated (it may drop before input)",
                              chain->family, chain->table, chain->name, chain->hook);
            if (rc < 0)
                return rc;
        }
        if (!chain_is_input(chain, AF_INET) && !chain_is_input(chain, AF_INET6))
            continue;
        struct firewall_audit_chain *chains =
            realloc(res->chains, (res->chain_count + 1) * sizeof *chains);
        if (!chains)
            return -ENOMEM;
        res->chains = chains;
        chains[res->chain_count++] = (struct firewall_audit_chain){
            .family = arena_strdup(&res->arena, chain->family),
            .table = arena_strdup(&res->arena, chain->table),
            .name = arena_strdup(&res->arena, chain->name),
            .priority = chain->priority, .policy_accept = chain->policy_accept,
            .rule_count = chain->rule_count };
        if (!chains[res->chain_count - 1].family || !chains[res->chain_count - 1].table ||
            !chains[res->chain_count - 1].name)
            return -ENOMEM;
    }

    unsigned lo_index = if_nametoindex("lo");
    res->listeners = calloc(sockets->count + 1, sizeof *res->listeners);
    if (!res->listeners)
        return -ENOMEM;
    for (size_t i = 0; i < sockets->count; i++) {
        const struct socket_entry *s = &sockets->items[i];
        bool listening = (s->proto == REGISTRY_PROTO_TCP && s->state == SOCKET_STATE_LISTEN) ||
                         (s->proto == REGISTRY_PROTO_UDP && s->state == SOCKET_STATE_CLOSE);
        if (!listening || s->local_port == 0)
            continue;
        struct firewall_audit_listener *l = &res->listeners[res->listener_count];
        int rc = evaluate_listener(ctx, s, lo_index, l);
        if (rc < 0)
            return rc;
        res->listener_count++;
        bool reachable = l->reach == FIREWALL_REACH_ANY || l->reach == FIREWALL_REACH_SOURCES;
        res->reachable_count += reachable;
        if (plan_host) {
            const struct plan_service *service =
                plan_service_for(opt->plan, plan_host, l->proto, l->port);
            l->service = service ? arena_strdup(&res->arena, service->name) : NULL;
            if (service && !l->service)
                return -ENOMEM;
            l->declared = service && service->exposure != PLAN_EXPOSURE_LOOPBACK;
            l->undeclared_exposure = reachable && !l->declared;
            res->undeclared_count += l->undeclared_exposure;
        }
    }
    if (res->listener_count > 1)
        qsort(res->listeners, res->listener_count, sizeof *res->listeners, listener_compare);

    /* opened ports without a listener reachable from outside */
    struct open_range *ranges = NULL;
    size_t range_count = 0;
    int rc = 0;
    for (size_t c = 0; c < ctx->rs.chain_count && rc == 0; c++) {
        const struct rs_chain *chain = &ctx->rs.chains[c];
        bool v4 = chain_is_input(chain, AF_INET), v6 = chain_is_input(chain, AF_INET6);
        if (v4 || v6)
            rc = collect_open_ports_in(ctx, chain, v4, v6, 0, &ranges, &range_count);
    }
    for (size_t i = 0; i < range_count && rc == 0; i++) {
        const struct open_range *o = &ranges[i];
        /* listened: some listener (not loopback-only) serves a family the accept opens; an
         * ip6-only accept is not covered by an IPv4 listener (nor the other way round) */
        bool listened = false;
        for (size_t j = 0; j < res->listener_count && !listened; j++) {
            const struct firewall_audit_listener *l = &res->listeners[j];
            if (l->proto != o->proto || l->port < o->first || l->port > o->last ||
                l->reach == FIREWALL_REACH_LOOPBACK_ONLY)
                continue;
            bool serves4 = l->family == AF_INET ||
                           (!l->v6only && address_is_any(AF_INET6, l->address));
            bool serves6 = l->family == AF_INET6;
            listened = (o->ipv4 && serves4) || (o->ipv6 && serves6);
        }
        bool duplicate = false;
        for (size_t j = 0; j < res->open_without_listener_count && !duplicate; j++) {
            const struct firewall_audit_open_port *p = &res->open_without_listener[j];
            duplicate = p->proto == o->proto && p->first == o->first && p->last == o->last &&
                        strcmp(p->table, o->table) == 0 && strcmp(p->chain, o->chain) == 0;
        }
        if (listened || duplicate)
            continue;
        struct firewall_audit_open_port *items = realloc(
            res->open_without_listener, (res->open_without_listener_count + 1) * sizeof *items);
        if (!items) {
            rc = -ENOMEM;
            break;
        }
        res->open_without_listener = items;
        items[res->open_without_listener_count++] = (struct firewall_audit_open_port){
            .proto = o->proto, .first = o->first, .last = o->last, .ipv4 = o->ipv4,
            .ipv6 = o->ipv6, .any_source = o->any_source,
            .table = arena_strdup(&res->arena, o->table),
            .chain = arena_strdup(&res->arena, o->chain) };
        if (!items[res->open_without_listener_count - 1].table ||
            !items[res->open_without_listener_count - 1].chain)
            rc = -ENOMEM;
    }
    free(ranges);
    return rc;
}

int firewall_audit_run(const struct firewall_audit_options *opt,
                       struct firewall_audit_result *res, struct pr_error *err)
{
    memset(res, 0, sizeof *res);
    struct audit_ctx ctx = { .res = res, .err = err };
    char *live = NULL;
    int rc;
    if (!opt->ruleset_json) {
        if ((rc = read_live_ruleset(&live, err)) < 0)
            return rc;
    }
    rc = ruleset_parse(opt->ruleset_json ? opt->ruleset_json : live, &ctx.rs, err);
    free(live);
    if (rc < 0)
        return rc;
    struct socket_list dumped = { 0 };
    const struct socket_list *sockets = opt->sockets;
    if (!sockets) {
        struct sockdiag_query q = {
            .protos = (1u << REGISTRY_PROTO_TCP) | (1u << REGISTRY_PROTO_UDP),
            .states = (1u << SOCKET_STATE_LISTEN) | (1u << SOCKET_STATE_CLOSE) };
        if ((rc = sockdiag_dump(&q, &dumped, err)) < 0)
            goto out;
        sockets = &dumped;
    }
    if (!opt->ruleset_json && (rc = note_legacy_iptables(res)) < 0)
        goto out;
    rc = fill_result(&ctx, opt, sockets);
out:
    socket_list_free(&dumped);
    ruleset_free(&ctx.rs);
    if (rc == -ENOMEM)
        pr_error_set(err, rc, "out of memory");
    if (rc < 0)
        firewall_audit_result_free(res);
    return rc;
}

void firewall_audit_result_free(struct firewall_audit_result *res)
{
    free(res->chains);
    free(res->listeners);
    free(res->open_without_listener);
    free(res->notes);
    arena_free(&res->arena);
    memset(res, 0, sizeof *res);
}

const char *firewall_reach_name(enum firewall_reach reach)
{
    switch (reach) {
    case FIREWALL_REACH_LOOPBACK_ONLY: return "loopback-only";
    case FIREWALL_REACH_BLOCKED: return "blocked";
    case FIREWALL_REACH_SOURCES: return "sources";
    case FIREWALL_REACH_ANY: return "any";
    case FIREWALL_REACH_UNKNOWN: return "unknown";
    }
    return "unknown";
}
