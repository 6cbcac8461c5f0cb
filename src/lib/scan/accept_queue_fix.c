/* accept_queue_fix.c — open ports behind a full accept queue, from the socket table (see
 * accept_queue_fix.h). Was the CLI sink's; here every front end (CLI, server) gets it. */
#include "scan/accept_queue_fix.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "registry/record.h"
#include "util/portspec.h"

static int fix_dump(const struct accept_queue_fix *fix, const struct sockdiag_query *q,
                    struct socket_list *out, struct pr_error *err)
{
    if (fix->dump)
        return fix->dump(fix->dump_user, q, out, err);
    return sockdiag_dump(q, out, err);
}

void accept_queue_fix_init(struct accept_queue_fix *fix, const struct host_addresses *host,
                           accept_queue_dump_fn dump, void *dump_user)
{
    memset(fix, 0, sizeof *fix);
    fix->host = host;
    fix->dump = dump;
    fix->dump_user = dump_user;
}

/* True when a TCP listener held port when the set was loaded (or it could not be read): a
 * scan of a firewalled local address asks about thousands of silent ports, and only those
 * with a listener need a per-port dump. */
static bool fix_listening(struct accept_queue_fix *fix, uint16_t port)
{
    if (!fix->listening_loaded) {
        fix->listening_loaded = true;
        port_set_clear(&fix->listening);
        struct sockdiag_query q = {
            .protos = 1u << REGISTRY_PROTO_TCP,
            .states = 1u << SOCKET_STATE_LISTEN,
        };
        struct socket_list list = { 0 };
        if (fix_dump(fix, &q, &list, NULL) < 0) {
            port_set_add_range(&fix->listening, 0, 65535);   /* unknown: ask every time */
        } else {
            for (size_t i = 0; i < list.count; i++)
                port_set_add(&fix->listening, list.items[i].local_port);
        }
        socket_list_free(&list);
    }
    return port_set_has(&fix->listening, port);
}

static bool is_zero(const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bytes[i])
            return false;
    return true;
}

/* Does a server socket s accept connections sent to target? */
static bool socket_accepts(const struct socket_entry *s, const struct scan_address *target)
{
    if (s->family == target->family) {
        size_t n = s->family == AF_INET ? 4 : 16;
        return is_zero(s->local_addr, n) || memcmp(s->local_addr, target->bytes, n) == 0;
    }
    /* an IPv4 target reaches a dual-stack [::] socket */
    return target->family == AF_INET && s->family == AF_INET6 && !s->v6only &&
           is_zero(s->local_addr, 16);
}

int accept_queue_listener_find(const struct accept_queue_fix *fix,
                               const struct scan_address *target, uint16_t port, uint8_t proto,
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
    int rc = fix_dump(fix, &q, &list, err);
    portspec_free(&spec);
    if (rc < 0) {
        socket_list_free(&list);
        return rc;
    }
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

bool accept_queue_fix_apply(struct accept_queue_fix *fix, struct scan_result *r)
{
    if (r->state != SCAN_STATE_FILTERED || r->reason != SCAN_REASON_TIMEOUT ||
        r->proto != REGISTRY_PROTO_TCP || !fix->host || !host_addresses_has(fix->host, &r->target) ||
        !fix_listening(fix, r->port))
        return false;
    struct local_listener l;
    if (accept_queue_listener_find(fix, &r->target, r->port, r->proto, &l, NULL) < 0 ||
        !l.accepts || !l.queue_full)
        return false;
    r->state = SCAN_STATE_OPEN;
    r->reason = SCAN_REASON_ACCEPT_QUEUE_FULL;
    fix->corrected++;
    return true;
}
