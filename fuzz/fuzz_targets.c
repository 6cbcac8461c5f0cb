/* fuzz_targets.c — libFuzzer harness for the target list (src/lib/scan/targets.c), numeric only
 * (numeric_only: no DNS). The input is split at its first 0xff byte: the head is fed as a target
 * spec (target_set_add) and as -iL content (target_set_add_text), the tail as exclusions. Then
 * finish, and check the promises: errors carry a position and add nothing, ranges are sorted,
 * disjoint and non-adjacent, total is the sum of range sizes, get(i) is found at index i,
 * nothing excluded is found, and no range breaks the size limit. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "scan/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef unsigned __int128 u128;

static u128 value_of(const struct scan_address *a)
{
    u128 v = 0;
    for (int i = 0; i < (a->family == AF_INET ? 4 : 16); i++)
        v = v << 8 | a->bytes[i];
    return v;
}

/* A parse error must say where, and leave the set as it was. */
static void check_add_result(int r, const struct pr_error *err, size_t count_before,
                             size_t count_after)
{
    if (r == 0)
        return;
    if (r != err->code || !err->message[0] || err->line == 0 || err->column == 0)
        __builtin_trap();
    if (r != -EINVAL && r != -E2BIG && r != -ENOMEM)
        __builtin_trap();
    if (count_after != count_before)
        __builtin_trap();
}

/* get/find over indices spread through the set (every index of a small set). */
static void check_finished(const struct target_set *set)
{
    u128 sum = 0;
    for (size_t i = 0; i < set->count; i++) {
        const struct target_range *range = &set->ranges[i];
        uint8_t family = range->first.family;
        if ((family != AF_INET && family != AF_INET6) || range->last.family != family)
            __builtin_trap();
        if (set->family_filter != AF_UNSPEC && family != set->family_filter)
            __builtin_trap();
        u128 first = value_of(&range->first), last = value_of(&range->last);
        if (last < first || range->before != (uint64_t)sum)
            __builtin_trap();
        if (i > 0) {
            const struct target_range *prev = &set->ranges[i - 1];
            /* sorted, disjoint and merged: a gap of at least one address in between */
            if (prev->first.family == family && value_of(&prev->last) + 1 >= first)
                __builtin_trap();
            if (prev->first.family > family)
                __builtin_trap();
        }
        sum += last - first + 1;
    }
    if (sum != set->total || set->total == 0 || set->total > TARGET_SET_MAX_ADDRESSES)
        __builtin_trap();

    uint64_t step = set->total <= 4096 ? 1 : set->total / 4096;
    for (uint64_t i = 0; i < set->total; i += step) {
        struct scan_address got;
        uint64_t index = UINT64_MAX;
        target_set_get(set, i, &got);
        if (!target_set_find(set, &got, &index) || index != i)
            __builtin_trap();
        /* with the excluded ranges: no target is one of them */
        for (size_t e = 0; e < set->excluded_count && e < 64; e++) {
            const struct target_range *cut = &set->excluded[e];
            if (cut->first.family == got.family && value_of(&cut->first) <= value_of(&got) &&
                value_of(&got) <= value_of(&cut->last))
                __builtin_trap();
        }
    }
    struct scan_address last;
    uint64_t index = 0;
    target_set_get(set, set->total - 1, &last);
    if (!target_set_find(set, &last, &index) || index != set->total - 1)
        __builtin_trap();
}

static void fuzz_one(const char *spec, const char *text, size_t text_len, const char *excl,
                     int family_filter)
{
    struct target_set set;
    target_set_init(&set);
    set.numeric_only = true;
    set.family_filter = family_filter;
    struct pr_error err = { 0 };

    size_t before = set.count;
    int r = target_set_add(&set, spec, &err);
    check_add_result(r, &err, before, set.count);
    if (r == -ENOMEM)
        goto out;

    before = set.count;
    memset(&err, 0, sizeof err);
    r = target_set_add_text(&set, text, text_len, &err);
    check_add_result(r, &err, before, set.count);

    before = set.excluded_count;
    memset(&err, 0, sizeof err);
    r = target_set_exclude(&set, excl, &err);
    if (r != 0 && (r != err.code || err.column == 0 || set.excluded_count != before ||
                   r == -E2BIG))           /* exclusions have no size limit */
        __builtin_trap();

    memset(&err, 0, sizeof err);
    r = target_set_finish(&set, &err);
    if (r == 0) {
        if (!set.finished)
            __builtin_trap();
        check_finished(&set);
        /* finishing again changes nothing */
        uint64_t total = set.total;
        if (target_set_finish(&set, &err) != 0 || set.total != total)
            __builtin_trap();
    } else if ((r != -ENOENT && r != -E2BIG && r != -ENOMEM) || set.finished ||
               !err.message[0]) {
        __builtin_trap();
    }
out:
    target_set_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = memchr(data, 0xff, size);
    size_t head = split ? (size_t)(split - data) : size;
    size_t tail = split ? size - head - 1 : 0;
    char *spec = malloc(head + 1), *excl = malloc(tail + 1);
    if (!spec || !excl) {
        free(spec);
        free(excl);
        return 0;
    }
    memcpy(spec, data, head);
    spec[head] = '\0';          /* a NUL inside ends the spec early, as a C string would */
    if (tail)
        memcpy(excl, split + 1, tail);
    excl[tail] = '\0';
    /* The last byte picks the family filter, so -4 / -6 are fuzzed too. */
    int family = size == 0 ? AF_UNSPEC : (data[size - 1] % 3 == 1 ? AF_INET
                                          : data[size - 1] % 3 == 2 ? AF_INET6 : AF_UNSPEC);
    fuzz_one(spec, (const char *)data, head, excl, family);
    free(spec);
    free(excl);
    return 0;
}
