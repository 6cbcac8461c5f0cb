/* local_view.c — this host's addresses, for the scanner (see local_view.h). */
#include "scan/local_view.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int host_addresses_read(struct host_addresses *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    struct ifaddrs *list;
    if (getifaddrs(&list) < 0)
        return pr_error_set(err, -errno, "cannot list this host's addresses: %s", strerror(errno));
    size_t n = 0;
    for (struct ifaddrs *i = list; i; i = i->ifa_next)
        n += i->ifa_addr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6);
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items) {
        freeifaddrs(list);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        struct scan_address *a = &out->items[out->count];
        if (i->ifa_addr->sa_family == AF_INET) {
            a->family = AF_INET;
            memcpy(a->bytes, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
            out->count++;
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            a->family = AF_INET6;
            memcpy(a->bytes, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
            out->count++;
        }
    }
    freeifaddrs(list);
    return 0;
}

bool host_addresses_has(const struct host_addresses *host, const struct scan_address *address)
{
    if (scan_address_is_loopback(address))
        return true;
    for (size_t i = 0; i < host->count; i++)
        if (scan_address_equal(&host->items[i], address))
            return true;
    return false;
}

bool host_addresses_cover(const struct host_addresses *host, const struct target_set *targets)
{
    for (size_t r = 0; r < targets->count; r++) {
        const struct target_range *range = &targets->ranges[r];
        bool single = scan_address_equal(&range->first, &range->last);
        bool loopback4 = range->first.family == AF_INET && range->first.bytes[0] == 127 &&
                         range->last.bytes[0] == 127;
        if (loopback4 || (single && host_addresses_has(host, &range->first)))
            continue;
        return false;
    }
    return true;
}

void host_addresses_free(struct host_addresses *host)
{
    free(host->items);
    memset(host, 0, sizeof *host);
}
