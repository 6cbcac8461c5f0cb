/* collect.c — the compact store of a scan's results (see collect.h). */
#include "scan/collect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry/record.h"
#include "util/text_escape.h"

int scan_collect_init(struct scan_collect *c, const struct target_set *targets)
{
    memset(c, 0, sizeof *c);
    c->targets = targets;
    if (targets->total <= SCAN_COLLECT_MAX_HOSTS) {
        c->hosts = calloc(targets->total ? targets->total : 1, sizeof *c->hosts);
        if (!c->hosts)
            return -ENOMEM;
    }
    return 0;
}

int scan_collect_add(struct scan_collect *c, const struct scan_result *r)
{
    uint64_t target = 0;
    if (!target_set_find(c->targets, &r->target, &target))
        return -ENOENT;
    unsigned state = r->state < SCAN_STATE_COUNT ? r->state : SCAN_STATE_ERROR;
    c->totals[state]++;
    c->results++;
    if (c->hosts) {
        c->hosts[target].state[state]++;
        if (state == SCAN_STATE_CLOSED && r->proto == REGISTRY_PROTO_UDP)
            c->hosts[target].closed_udp++;
    }
    if (state == SCAN_STATE_CLOSED)
        return 0;
    if (c->kept_count == c->kept_capacity) {
        size_t capacity = c->kept_capacity ? c->kept_capacity * 2 : 256;
        struct scan_kept *kept = realloc(c->kept, capacity * sizeof *kept);
        if (!kept)
            return -ENOMEM;
        c->kept = kept;
        c->kept_capacity = capacity;
    }
    struct scan_kept *k = &c->kept[c->kept_count++];
    memset(k, 0, sizeof *k);
    k->target = target;
    k->rtt_us = r->rtt_us;
    k->port = r->port;
    k->proto = r->proto;
    k->state = (uint8_t)state;
    k->reason = r->reason;
    k->icmp_type = r->icmp_type;
    k->icmp_code = r->icmp_code;
    k->reply_ttl = r->reply_ttl;
    k->error = (int16_t)r->error;
    if (r->banner_len) {
        /* kept escaped (util/text_escape.h): the table, JSON and XML show the same text, and
         * no byte a server sent reaches a terminal or a document raw */
        size_t raw = r->banner_len < SCAN_BANNER_MAX ? r->banner_len : SCAN_BANNER_MAX;
        size_t len = text_escape_length(r->banner, raw);
        if (c->banners_len + len + 1 > c->banners_capacity) {
            size_t capacity = c->banners_capacity ? c->banners_capacity * 2 : 4096;
            while (capacity < c->banners_len + len + 1)
                capacity *= 2;
            char *banners = realloc(c->banners, capacity);
            if (!banners)
                return -ENOMEM;
            c->banners = banners;
            c->banners_capacity = capacity;
        }
        text_escape(r->banner, raw, c->banners + c->banners_len, len + 1);
        k->banner_offset = (uint32_t)c->banners_len;
        k->banner_len = (uint16_t)len;
        c->banners_len += len;
    }
    return 0;
}

static int compare_kept(const void *a, const void *b)
{
    const struct scan_kept *x = a, *y = b;
    if (x->target != y->target)
        return x->target < y->target ? -1 : 1;
    if (x->port != y->port)
        return x->port - y->port;
    return x->proto - y->proto;
}

void scan_collect_sort(struct scan_collect *c)
{
    if (c->kept_count)   /* qsort(NULL, 0) is undefined behaviour */
        qsort(c->kept, c->kept_count, sizeof *c->kept, compare_kept);
}

void scan_collect_free(struct scan_collect *c)
{
    free(c->kept);
    free(c->banners);
    free(c->hosts);
    memset(c, 0, sizeof *c);
}
