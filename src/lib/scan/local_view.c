/* local_view.c — this host's addresses and listeners, for the scanner (see local_view.h). */
#include "scan/local_view.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "net/sockdiag.h"
#include "registry/record.h"

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

static bool is_zero(const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bytes[i])
            return false;
    return true;
}

bool local_listening_port(struct local_listening_ports *cache, uint16_t port)
{
    if (!cache->loaded) {
        cache->loaded = true;
        struct sockdiag_query q = {
            .protos = 1u << REGISTRY_PROTO_TCP,
            .states = 1u << SOCKET_STATE_LISTEN,
        };
        struct socket_list list = { 0 };
        if (sockdiag_dump(&q, &list, NULL) < 0) {
            port_set_add_range(&cache->ports, 0, 65535);   /* unknown: ask every time */
        } else {
            for (size_t i = 0; i < list.count; i++)
                port_set_add(&cache->ports, list.items[i].local_port);
        }
        socket_list_free(&list);
    }
    return port_set_has(&cache->ports, port);
}

/* Does a server socket s accept connections sent to target? */
static bool socket_accepts(const struct socket_entry *s, const struct scan_address *target)
{
    if (s->family == target->family) {
        size_t n = s->family == AF_INET ? 4 : 16;
        return is_zero(s->local_addr, n) || memcmp(s->local_addr, target->bytes, n) == 0;
    }
    /* an IPv4 target reaches a dual-stack [::] socket */
    return target->family == AF_INET && s->family == AF_INET6 && !s->v6only && is_zero(s->local_addr, 16);
}

int local_listener_find(const struct scan_address *target, uint16_t port, uint8_t proto,
                        struct local_listener *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    struct portspec spec = { 0 };
    if (portspec_add(&spec, port, port, proto) < 0)
        return pr_error_set(err, -ENOMEM, "out of memory");
    struct sockdiag_query q = {
        .protos = 1u << proto,
        .states = 1u << (proto == REGISTRY_PROTO_TCP ? SOCKET_STATE_LISTEN : SOCKET_STATE_CLOSE),
        .local_ports = &spec,
    };
    struct socket_list list = { 0 };
    int rc = sockdiag_dump(&q, &list, err);
    portspec_free(&spec);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < list.count; i++) {
        const struct socket_entry *s = &list.items[i];
        if (socket_accepts(s, target)) {
            out->accepts = true;
            out->socket = *s;
            /* the kernel drops SYNs once more connections wait than the backlog allows */
            out->queue_full = proto == REGISTRY_PROTO_TCP && s->recv_queue > s->send_queue;
            if (out->queue_full)
                break;
        } else if (!out->accepts) {
            out->elsewhere = true;
            out->socket = *s;
        }
    }
    if (out->accepts)
        out->elsewhere = false;
    socket_list_free(&list);
    return 0;
}
