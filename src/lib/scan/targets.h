/* targets.h — the scan's target list: IPv4/IPv6 addresses, CIDR blocks, ranges
 * ("10.0.0.1-20", "10.0.0.1-10.0.1.5", "2001:db8::1-ff"), host names (every A and AAAA record),
 * files of targets (-iL) and exclusions. Stored as sorted, merged address ranges with prefix
 * counts, so the n-th address is found by binary search and no per-address memory is used:
 * a /16 costs the same as one host. An IPv4-mapped IPv6 address (::ffff:10.0.0.1, or a range
 * inside ::ffff:0:0/96) is the IPv4 address: it is stored, filtered and scanned as IPv4, so no
 * host is probed twice; a wider IPv6 range leaves that block out (--exclude ::/0 keeps IPv4). */
#ifndef PORTREG_SCAN_TARGETS_H
#define PORTREG_SCAN_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/scan_result.h"
#include "util/error.h"

/* At most this many addresses in one scan (an IPv6 /64 is refused with a clear error). */
#define TARGET_SET_MAX_ADDRESSES (UINT64_C(1) << 32)

struct target_range {
    struct scan_address first, last;   /* inclusive, same family */
    uint64_t before;                   /* addresses in the ranges before this one */
};

/* An address a host name resolved to, and the name as the user typed it ("localhost"), so the
 * report says "localhost (127.0.0.1)" as nmap does. */
struct target_name {
    struct scan_address address;
    uint32_t sequence;                 /* the order given: the first name of an address wins */
    char *name;
};

struct target_set {
    struct target_range *ranges;       /* sorted by (family, first), merged, after finish */
    size_t count, capacity;
    struct target_range *excluded;     /* applied by target_set_finish() */
    size_t excluded_count, excluded_capacity;
    uint64_t total;                    /* addresses after finish */
    int family_filter;                 /* AF_UNSPEC, AF_INET or AF_INET6 (-4 / -6); set it before
                                        * adding names: they are resolved for it alone */
    bool numeric_only;                 /* refuse host names (-EINVAL) instead of resolving
                                        * them: no DNS (the fuzzer, a --no-resolve option) */
    struct target_name *names;         /* sorted by address after finish */
    size_t name_count, name_capacity;
    bool finished;
};

void target_set_init(struct target_set *set);
/* Add one target spec: an address, CIDR (host bits may be set: 10.0.0.5/24 is the /24), range
 * ("10.0.0.1-20" last octet, "2001:db8::1-ff" last group, "a-b" full), or host name (resolved
 * with getaddrinfo for family_filter; every address it returns; "name/24" applies the prefix to
 * each). Several specs may be given separated by commas or blanks ("a,b c,"); empty items are
 * skipped but an empty spec is an error. -EINVAL with a message naming the item ("bad target
 * \"10.0.0.300\": octet 300 is out of range") and err->line 1, err->column at the offending
 * character; -ENOENT when a name does not resolve; -E2BIG when one item holds more than
 * TARGET_SET_MAX_ADDRESSES. On error nothing of spec is added. */
int target_set_add(struct target_set *set, const char *spec, struct pr_error *err);
/* Add every spec of a file ("-" is stdin): separated by blanks, commas or newlines; '#' starts a
 * comment. Errors carry path, line and column; on error nothing of the file is added. */
int target_set_add_file(struct target_set *set, const char *path, struct pr_error *err);
/* The same for a file's content already in memory (text[0..len), need not be NUL-terminated;
 * a NUL byte is an error). Errors carry line and column but no path. */
int target_set_add_text(struct target_set *set, const char *text, size_t len,
                        struct pr_error *err);
/* Exclude a spec (same forms as target_set_add; a comma-separated list is allowed). Exclusions
 * have no size limit ("--exclude ::/0" is fine). */
int target_set_exclude(struct target_set *set, const char *spec, struct pr_error *err);
/* Sort, merge, subtract exclusions, apply the family filter, count. -ENOENT when empty ("no
 * targets left after exclusions"), -E2BIG when the total passes TARGET_SET_MAX_ADDRESSES (exactly
 * 2^32, e.g. 0.0.0.0/0, is allowed). Adding after finish is allowed; finish again. */
int target_set_finish(struct target_set *set, struct pr_error *err);
/* The index-th address (0 <= index < set->total) of a finished set: IPv4 first, ascending.
 * A binary search over the ranges (~20 ns with 2,000 ranges). */
void target_set_get(const struct target_set *set, uint64_t index, struct scan_address *out);
/* Index of address in a finished set, or false when it is not a target (index may be NULL).
 * An IPv4-mapped address is looked up as its IPv4 address. */
bool target_set_find(const struct target_set *set, const struct scan_address *address,
                     uint64_t *index);
/* The host name address was given as (the first one typed), or NULL for a numeric target. */
const char *target_set_name(const struct target_set *set, const struct scan_address *address);
void target_set_free(struct target_set *set);

#endif
