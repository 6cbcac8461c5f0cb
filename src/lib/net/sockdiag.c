/* sockdiag.c — TCP/UDP/SCTP sockets of the current network namespace from NETLINK_SOCK_DIAG
 * (see sockdiag.h). One inet_diag_req_v2 dump per (protocol, family) over one libmnl socket;
 * the state mask goes in idiag_states and the local-port ranges become an inet_diag bytecode
 * program (INET_DIAG_REQ_BYTECODE), so the kernel drops unwanted sockets. Replies arrive in
 * 32 KiB batches and are parsed in place into the caller's growing socket_list. */
#include "net/sockdiag.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "util/proto.h"

/* Netlink fills one dump skb of at most ~32 KiB per recvmsg() (and only when asked), so a
 * bigger SO_RCVBUF buys nothing; a 64 KiB buffer always holds a whole batch. */
#define SOCKDIAG_RECV_BUFFER_SIZE (64u * 1024u)
/* A port range costs 20 bytes of bytecode and two comparisons per socket in the kernel; past
 * this many (after merging) the ranges are applied in user space only. */
#define SOCKDIAG_BYTECODE_MAX_RANGES 1024u
/* Bytes of bytecode per range: S_GE + operand, S_LE + operand, then a 4-byte JMP. */
#define SOCKDIAG_BYTECODE_BLOCK 16u
#define SOCKDIAG_BYTECODE_JUMP 4u

/* SCTP association states (include/net/sctp/constants.h, enum sctp_state). */
enum sockdiag_sctp_state {
    SOCKDIAG_SCTP_CLOSED = 0,
    SOCKDIAG_SCTP_COOKIE_WAIT = 1,
    SOCKDIAG_SCTP_COOKIE_ECHOED = 2,
    SOCKDIAG_SCTP_ESTABLISHED = 3,
    SOCKDIAG_SCTP_SHUTDOWN_PENDING = 4,
    SOCKDIAG_SCTP_SHUTDOWN_SENT = 5,
    SOCKDIAG_SCTP_SHUTDOWN_RECEIVED = 6,
    SOCKDIAG_SCTP_SHUTDOWN_ACK_SENT = 7,
};

/* The local ports one protocol's dump keeps: sorted, merged, non-overlapping. */
struct sockdiag_port_filter {
    struct portspec_range *ranges;  /* NULL with count 0: every port */
    size_t count;
};

/* What the message callback needs while one dump runs. */
struct sockdiag_dump_state {
    struct socket_list *out;
    const struct sockdiag_port_filter *ports;  /* NULL: every local port */
    uint32_t user_space_states;                /* 0: the kernel filtered states already */
    uint64_t netns;
    uint8_t proto;                             /* enum registry_proto */
    bool compat;                               /* replies of a TCPDIAG_GETSOCK request */
    int error;                                 /* negative errno from a callback */
};

static void sockdiag_free_pointer(void *pointer) { free(*(void **)pointer); }
#define SOCKDIAG_CLEANUP_FREE __attribute__((cleanup(sockdiag_free_pointer)))

static void sockdiag_close_netlink(struct mnl_socket **netlink)
{
    if (*netlink)
        mnl_socket_close(*netlink);
}

static const char *sockdiag_proto_text(uint8_t proto)
{
    return registry_proto_name((enum registry_proto)proto);
}

static int sockdiag_ip_protocol(uint8_t proto)
{
    switch (proto) {
    case REGISTRY_PROTO_TCP: return IPPROTO_TCP;
    case REGISTRY_PROTO_UDP: return IPPROTO_UDP;
    case REGISTRY_PROTO_SCTP: return IPPROTO_SCTP;
    default: return -1;
    }
}

/* ---- reply parsing (pure) ---- */

static uint8_t sockdiag_sctp_association_state(uint8_t sctp_state)
{
    switch (sctp_state) {
    case SOCKDIAG_SCTP_CLOSED: return SOCKET_STATE_CLOSE;
    case SOCKDIAG_SCTP_COOKIE_WAIT:
    case SOCKDIAG_SCTP_COOKIE_ECHOED: return SOCKET_STATE_SYN_SENT;
    case SOCKDIAG_SCTP_ESTABLISHED: return SOCKET_STATE_ESTABLISHED;
    case SOCKDIAG_SCTP_SHUTDOWN_PENDING:
    case SOCKDIAG_SCTP_SHUTDOWN_SENT: return SOCKET_STATE_FIN_WAIT1;
    case SOCKDIAG_SCTP_SHUTDOWN_RECEIVED: return SOCKET_STATE_CLOSE_WAIT;
    case SOCKDIAG_SCTP_SHUTDOWN_ACK_SENT: return SOCKET_STATE_LAST_ACK;
    default: return 0;   /* unknown: socket_state_name() says "UNKNOWN" */
    }
}

/* Walk the attributes in attrs[0..len): v6only from INET_DIAG_SKV6ONLY, and whether this is
 * an SCTP association (INET_DIAG_PEERS is only sent for those). -EINVAL when malformed. */
static int sockdiag_parse_attributes(const uint8_t *attrs, size_t len, bool *v6only,
                                     bool *has_peers)
{
    size_t offset = 0;
    while (offset < len) {
        struct nlattr attr;
        if (len - offset < sizeof attr)
            return -EINVAL;
        memcpy(&attr, attrs + offset, sizeof attr);
        if (attr.nla_len < sizeof attr || attr.nla_len > len - offset)
            return -EINVAL;
        size_t payload_len = attr.nla_len - sizeof attr;
        switch (attr.nla_type & NLA_TYPE_MASK) {
        case INET_DIAG_SKV6ONLY:
            if (payload_len < 1)
                return -EINVAL;
            *v6only = attrs[offset + sizeof attr] != 0;
            break;
        case INET_DIAG_PEERS:
            *has_peers = true;
            break;
        default:
            break;
        }
        size_t step = NLA_ALIGN((size_t)attr.nla_len);
        if (step >= len - offset)   /* the last attribute may lack its padding */
            break;
        offset += step;
    }
    return 0;
}

int sockdiag_parse_message(const void *msg, size_t len, uint8_t proto, struct socket_entry *out)
{
    const uint8_t *bytes = msg;
    struct nlmsghdr header;
    struct inet_diag_msg diag;

    memset(out, 0, sizeof *out);
    if (proto != REGISTRY_PROTO_TCP && proto != REGISTRY_PROTO_UDP &&
        proto != REGISTRY_PROTO_SCTP)
        return -EINVAL;
    if (!msg || len < sizeof header)
        return -EINVAL;
    memcpy(&header, bytes, sizeof header);
    if (header.nlmsg_len < sizeof header || header.nlmsg_len > len)
        return -EINVAL;
    /* TCPDIAG_GETSOCK: the same inet_diag_msg, in reply to the one-walk TCP request */
    if (header.nlmsg_type != SOCK_DIAG_BY_FAMILY && header.nlmsg_type != TCPDIAG_GETSOCK)
        return 0;
    size_t message_len = header.nlmsg_len;
    size_t diag_offset = NLMSG_HDRLEN;
    if (message_len < diag_offset || message_len - diag_offset < sizeof diag)
        return -EINVAL;
    memcpy(&diag, bytes + diag_offset, sizeof diag);
    if (diag.idiag_family != AF_INET && diag.idiag_family != AF_INET6)
        return -EINVAL;

    bool v6only = false, has_peers = false;
    size_t attrs_offset = diag_offset + NLMSG_ALIGN(sizeof diag);
    if (attrs_offset < message_len) {
        int ret = sockdiag_parse_attributes(bytes + attrs_offset, message_len - attrs_offset,
                                            &v6only, &has_peers);
        if (ret < 0)
            return ret;
    }

    out->proto = proto;
    out->family = diag.idiag_family;
    out->state = diag.idiag_state;
    if (proto == REGISTRY_PROTO_SCTP && has_peers)
        out->state = sockdiag_sctp_association_state(diag.idiag_state);
    out->v6only = diag.idiag_family == AF_INET6 && v6only;
    size_t address_len = diag.idiag_family == AF_INET6 ? 16 : 4;
    memcpy(out->local_addr, diag.id.idiag_src, address_len);
    memcpy(out->peer_addr, diag.id.idiag_dst, address_len);
    out->local_port = ntohs(diag.id.idiag_sport);
    out->peer_port = ntohs(diag.id.idiag_dport);
    out->bound_ifindex = diag.id.idiag_if;
    out->uid = diag.idiag_uid;
    out->inode = diag.idiag_inode;
    out->cookie = (uint64_t)diag.id.idiag_cookie[0] | (uint64_t)diag.id.idiag_cookie[1] << 32;
    out->recv_queue = diag.idiag_rqueue;
    out->send_queue = diag.idiag_wqueue;
    return 1;
}

/* ---- local-port filter: merged ranges and the kernel bytecode ---- */

static int sockdiag_compare_ranges(const void *a, const void *b)
{
    const struct portspec_range *left = a, *right = b;
    if (left->first != right->first)
        return left->first < right->first ? -1 : 1;
    return (left->last > right->last) - (left->last < right->last);
}

/* The ranges of spec that apply to proto, sorted and merged into storage (spec->count slots).
 * A result covering 0-65535 means no filter (count 0, ranges NULL); a protocol with no
 * range at all gets count 0 with ranges == storage: nothing to dump. */
static void sockdiag_port_filter_build(const struct portspec *spec, uint8_t proto,
                                       struct portspec_range *storage,
                                       struct sockdiag_port_filter *filter)
{
    size_t count = 0;
    for (size_t i = 0; i < spec->count; i++)
        if (spec->ranges[i].proto == REGISTRY_PROTO_ANY || spec->ranges[i].proto == proto)
            storage[count++] = spec->ranges[i];
    qsort(storage, count, sizeof *storage, sockdiag_compare_ranges);
    size_t merged = 0;
    for (size_t i = 0; i < count; i++) {
        if (merged > 0 && (uint32_t)storage[i].first <= (uint32_t)storage[merged - 1].last + 1) {
            if (storage[i].last > storage[merged - 1].last)
                storage[merged - 1].last = storage[i].last;
            continue;
        }
        storage[merged++] = storage[i];
    }
    filter->ranges = storage;
    filter->count = merged;
    if (merged == 1 && storage[0].first == 0 && storage[0].last == UINT16_MAX) {
        filter->ranges = NULL;
        filter->count = 0;
    }
}

static bool sockdiag_port_filter_matches(const struct sockdiag_port_filter *filter, uint16_t port)
{
    size_t low = 0, high = filter->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (port < filter->ranges[middle].first)
            high = middle;
        else if (port > filter->ranges[middle].last)
            low = middle + 1;
        else
            return true;
    }
    return false;
}

static size_t sockdiag_bytecode_size(size_t ranges)
{
    return ranges * (SOCKDIAG_BYTECODE_BLOCK + SOCKDIAG_BYTECODE_JUMP) - SOCKDIAG_BYTECODE_JUMP;
}

/* An OR of "first <= sport <= last" over the ranges. The kernel runs a program from offset
 * 0; an op moves by .yes bytes when its condition holds and by .no otherwise (a JMP always
 * takes .no); the socket passes when the walk ends exactly at the end, and fails past it.
 * Each range is [S_GE first][S_LE last] and every range but the last is followed by a JMP to
 * the end. A failed comparison jumps to the next range — 20 bytes on from S_GE, 12 from
 * S_LE — which from the last range lands 4 bytes past the end: rejected. Every .no target
 * is on the .yes chain, as inet_diag_bc_audit() requires. */
static void sockdiag_bytecode_build(const struct sockdiag_port_filter *filter,
                                    struct inet_diag_bc_op *program)
{
    size_t total = sockdiag_bytecode_size(filter->count);
    size_t op = 0;
    for (size_t i = 0; i < filter->count; i++) {
        program[op++] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_GE, 8, 20 };
        program[op++] = (struct inet_diag_bc_op){ 0, 0, filter->ranges[i].first };
        program[op++] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_LE, 8, 12 };
        program[op++] = (struct inet_diag_bc_op){ 0, 0, filter->ranges[i].last };
        if (i + 1 < filter->count) {
            size_t jump_offset = op * sizeof *program;
            program[op++] = (struct inet_diag_bc_op){ INET_DIAG_BC_JMP, 4,
                                                      (unsigned short)(total - jump_offset) };
        }
    }
}

/* ---- the dump ---- */

static int sockdiag_on_message(const struct nlmsghdr *header, void *data)
{
    struct sockdiag_dump_state *state = data;
    if (header->nlmsg_type != (state->compat ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY))
        return MNL_CB_OK;
    struct socket_entry *entry = socket_list_append(state->out);
    if (!entry) {
        state->error = -ENOMEM;
        return MNL_CB_ERROR;
    }
    int ret = sockdiag_parse_message(header, header->nlmsg_len, state->proto, entry);
    bool keep = ret == 1;
    /* Safety net: the kernel applied the bytecode already (sctp_diag does not). */
    if (keep && state->ports)
        keep = sockdiag_port_filter_matches(state->ports, entry->local_port);
    if (keep && state->user_space_states)
        keep = entry->state < 32 && (state->user_space_states & (1u << entry->state)) != 0;
    if (!keep) {
        state->out->count--;
        if (ret < 0) {
            state->error = -EBADMSG;
            return MNL_CB_ERROR;
        }
        return MNL_CB_OK;
    }
    entry->netns = state->netns;
    return MNL_CB_OK;
}

/* NLMSG_DONE carries the dump's result as an int (negative errno on failure). */
static int sockdiag_on_done(const struct nlmsghdr *header, void *data)
{
    struct sockdiag_dump_state *state = data;
    int result = 0;
    if (header->nlmsg_len >= NLMSG_HDRLEN + sizeof result)
        memcpy(&result, mnl_nlmsg_get_payload(header), sizeof result);
    if (result < 0) {
        state->error = result;
        return MNL_CB_ERROR;
    }
    return MNL_CB_STOP;
}

static int sockdiag_on_error(const struct nlmsghdr *header, void *data)
{
    struct sockdiag_dump_state *state = data;
    struct nlmsgerr message;
    if (header->nlmsg_len < NLMSG_HDRLEN + sizeof message) {
        state->error = -EBADMSG;
        return MNL_CB_ERROR;
    }
    memcpy(&message, mnl_nlmsg_get_payload(header), sizeof message);
    if (message.error == 0)
        return MNL_CB_STOP;
    state->error = message.error < 0 ? message.error : -message.error;
    return MNL_CB_ERROR;
}

/* Send one dump request and read its replies into state->out. Returns 0 or -errno. */
static int sockdiag_dump_one(struct mnl_socket *netlink, uint32_t sequence, uint8_t family,
                             const struct inet_diag_req_v2 *request_template,
                             const struct inet_diag_bc_op *bytecode, size_t bytecode_len,
                             void *request_buffer, void *receive_buffer,
                             struct sockdiag_dump_state *state)
{
    struct nlmsghdr *header = mnl_nlmsg_put_header(request_buffer);
    header->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    header->nlmsg_seq = sequence;
    if (family == AF_UNSPEC) {
        /* The old TCPDIAG_GETSOCK request is the only one the kernel runs with AF_UNSPEC
         * (inet_diag_dump_compat): one walk of the TCP tables yields both families, where a
         * SOCK_DIAG_BY_FAMILY request per family walks every socket twice. */
        header->nlmsg_type = TCPDIAG_GETSOCK;
        struct inet_diag_req *request = mnl_nlmsg_put_extra_header(header, sizeof *request);
        request->idiag_family = AF_INET;
        request->idiag_ext = request_template->idiag_ext;
        request->id = request_template->id;
        request->idiag_states = request_template->idiag_states;
        state->compat = true;
    } else {
        header->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        struct inet_diag_req_v2 *request = mnl_nlmsg_put_extra_header(header, sizeof *request);
        *request = *request_template;
        request->sdiag_family = family;
        state->compat = false;
    }
    if (bytecode_len)
        mnl_attr_put(header, INET_DIAG_REQ_BYTECODE, bytecode_len, bytecode);
    if (mnl_socket_sendto(netlink, header, header->nlmsg_len) < 0)
        return -errno;

    mnl_cb_t control_callbacks[NLMSG_MIN_TYPE] = {
        [NLMSG_ERROR] = sockdiag_on_error,
        [NLMSG_DONE] = sockdiag_on_done,
    };
    unsigned portid = mnl_socket_get_portid(netlink);
    for (;;) {
        ssize_t received = mnl_socket_recvfrom(netlink, receive_buffer,
                                               SOCKDIAG_RECV_BUFFER_SIZE);
        if (received < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        state->error = 0;
        errno = 0;
        int ret = mnl_cb_run2(receive_buffer, (size_t)received, sequence, portid,
                              sockdiag_on_message, state, control_callbacks, NLMSG_MIN_TYPE);
        if (ret == MNL_CB_ERROR)
            return state->error ? state->error : (errno ? -errno : -EBADMSG);
        if (ret == MNL_CB_STOP)
            return 0;
    }
}

static const char *sockdiag_family_text(uint8_t family)
{
    return family == AF_INET6 ? "ipv6" : "ipv4";
}

/* tcp_in_one_walk: TCP of both families with one TCPDIAG_GETSOCK dump (see sockdiag_dump_one). */
static int sockdiag_dump_serial_with(const struct sockdiag_query *q, struct socket_list *out,
                                     bool tcp_in_one_walk, struct pr_error *err)
{
    static const uint8_t protos_in_order[] = {
        REGISTRY_PROTO_TCP, REGISTRY_PROTO_UDP, REGISTRY_PROTO_SCTP,
    };
    const unsigned supported = 1u << REGISTRY_PROTO_TCP | 1u << REGISTRY_PROTO_UDP |
                               1u << REGISTRY_PROTO_SCTP;
    unsigned protos = q->protos ? q->protos
                                : (1u << REGISTRY_PROTO_TCP | 1u << REGISTRY_PROTO_UDP);
    if (protos & ~supported)
        return pr_error_set(err, -EINVAL, "sock_diag: unsupported protocol mask 0x%x "
                            "(tcp, udp and sctp only)", protos);
    uint32_t states = q->states ? q->states : SOCKET_STATE_ALL;
    bool ipv4 = q->ipv4 || !q->ipv6, ipv6 = q->ipv6 || !q->ipv4;

    size_t spec_count = q->local_ports ? q->local_ports->count : 0;
    if (q->local_ports && spec_count == 0)
        return 0;   /* an empty port spec matches no socket */
    size_t max_bytecode_ranges = spec_count < SOCKDIAG_BYTECODE_MAX_RANGES
                                     ? spec_count : SOCKDIAG_BYTECODE_MAX_RANGES;
    size_t bytecode_capacity = max_bytecode_ranges ? sockdiag_bytecode_size(max_bytecode_ranges)
                                                   : 0;
    SOCKDIAG_CLEANUP_FREE struct portspec_range *range_storage = NULL;
    SOCKDIAG_CLEANUP_FREE struct inet_diag_bc_op *bytecode = NULL;
    if (spec_count) {
        range_storage = malloc(spec_count * sizeof *range_storage);
        bytecode = malloc(bytecode_capacity);
        if (!range_storage || !bytecode)
            return pr_error_set(err, -ENOMEM, "sock_diag: out of memory");
    }
    /* room for either request: the old inet_diag_req (one-walk TCP) is the larger */
    size_t header_size = sizeof(struct inet_diag_req) > sizeof(struct inet_diag_req_v2)
                             ? sizeof(struct inet_diag_req) : sizeof(struct inet_diag_req_v2);
    size_t request_size = MNL_ALIGN(NLMSG_HDRLEN + header_size) + MNL_ATTR_HDRLEN +
                          MNL_ALIGN(bytecode_capacity);
    SOCKDIAG_CLEANUP_FREE void *request_buffer = calloc(1, request_size);
    SOCKDIAG_CLEANUP_FREE void *receive_buffer = malloc(SOCKDIAG_RECV_BUFFER_SIZE);
    if (!request_buffer || !receive_buffer)
        return pr_error_set(err, -ENOMEM, "sock_diag: out of memory");

    __attribute__((cleanup(sockdiag_close_netlink))) struct mnl_socket *netlink =
        mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
    if (!netlink)
        return pr_error_set(err, -errno, "sock_diag: cannot open a NETLINK_SOCK_DIAG socket: %s",
                            strerror(errno));
    if (mnl_socket_bind(netlink, 0, MNL_SOCKET_AUTOPID) < 0)
        return pr_error_set(err, -errno, "sock_diag: cannot bind the netlink socket: %s",
                            strerror(errno));

    size_t count_at_start = out->count;
    uint32_t sequence = 1;
    for (size_t p = 0; p < sizeof protos_in_order; p++) {
        uint8_t proto = protos_in_order[p];
        if (!(protos & 1u << proto))
            continue;
        /* UDP sockets are only ever ESTABLISHED (connected) or CLOSE (unconnected). */
        if (proto == REGISTRY_PROTO_UDP &&
            !(states & (1u << SOCKET_STATE_ESTABLISHED | 1u << SOCKET_STATE_CLOSE)))
            continue;

        struct sockdiag_port_filter filter = { NULL, 0 };
        if (q->local_ports) {
            sockdiag_port_filter_build(q->local_ports, proto, range_storage, &filter);
            if (filter.ranges && filter.count == 0)
                continue;   /* no range names this protocol */
        }
        size_t bytecode_len = 0;
        if (filter.count && filter.count <= SOCKDIAG_BYTECODE_MAX_RANGES) {
            sockdiag_bytecode_build(&filter, bytecode);
            bytecode_len = sockdiag_bytecode_size(filter.count);
        }

        struct inet_diag_req_v2 request = {
            .sdiag_protocol = (uint8_t)sockdiag_ip_protocol(proto),
            .idiag_ext = 0,   /* INET_DIAG_SKV6ONLY comes with every LISTEN/CLOSE AF_INET6 socket */
            .idiag_states = states,   /* bits the model lacks (13: bound-inactive) pass through */
        };
        struct sockdiag_dump_state state = {
            .out = out,
            .ports = filter.count ? &filter : NULL,
            /* sctp_diag ignores the state mask per socket and the bytecode */
            .user_space_states = proto == REGISTRY_PROTO_SCTP ? states : 0,
            .netns = q->netns,
            .proto = proto,
        };
        bool one_walk = tcp_in_one_walk && proto == REGISTRY_PROTO_TCP && ipv4 && ipv6;
        for (int f = 0; f < 2; f++) {
            uint8_t family = one_walk ? AF_UNSPEC : f == 0 ? AF_INET : AF_INET6;
            if (one_walk && f == 1)
                break;
            if ((family == AF_INET && !ipv4) || (family == AF_INET6 && !ipv6))
                continue;
            size_t count_before = out->count;
            int ret = sockdiag_dump_one(netlink, sequence++, family, &request, bytecode,
                                        bytecode_len, request_buffer, receive_buffer, &state);
            if (ret == -ENOENT && proto == REGISTRY_PROTO_SCTP) {
                out->count = count_before;   /* no sctp_diag in this kernel */
                break;
            }
            if (ret < 0) {
                out->count = count_at_start;
                return pr_error_set(err, ret, "sock_diag: %s/%s dump failed: %s",
                                    sockdiag_proto_text(proto), sockdiag_family_text(family),
                                    strerror(-ret));
            }
        }
    }
    return 0;
}

static int sockdiag_dump_serial(const struct sockdiag_query *q, struct socket_list *out,
                                struct pr_error *err)
{
    return sockdiag_dump_serial_with(q, out, false, err);
}

/* The IPv6 half of a dump, run in a second thread (see sockdiag_dump). */
struct sockdiag_family_job {
    struct sockdiag_query query;
    struct socket_list list;
    struct pr_error err;
    int result;
};

static void *sockdiag_family_job_run(void *job_ptr)
{
    struct sockdiag_family_job *job = job_ptr;
    job->result = sockdiag_dump_serial(&job->query, &job->list, &job->err);
    return NULL;
}

/* Each family's dump walks the kernel's whole socket tables (a listener of the other family
 * is visited and skipped). For a port filter TCP, where the 100k listeners are, is dumped for
 * both families in one walk (TCPDIAG_GETSOCK) and UDP and SCTP run on a second thread;
 * otherwise the IPv6 dumps run on the second thread. Each thread has its own netlink socket. */
int sockdiag_dump(const struct sockdiag_query *q, struct socket_list *out, struct pr_error *err)
{
    bool ipv4 = q->ipv4 || !q->ipv6, ipv6 = q->ipv6 || !q->ipv4;
    if (!(ipv4 && ipv6))
        return sockdiag_dump_serial(q, out, err);
    unsigned protos = q->protos ? q->protos : (1u << REGISTRY_PROTO_TCP | 1u << REGISTRY_PROTO_UDP);
    /* With a port filter (who, check) the kernel's walk is the cost and few sockets come back:
     * TCP in one walk for both families here, the other protocols (small tables) on a thread.
     * Without one (ls) parsing 100k replies is the cost: IPv4 here and IPv6 on a thread. */
    bool tcp = (protos & 1u << REGISTRY_PROTO_TCP) != 0 && q->local_ports;
    struct sockdiag_family_job job = { .query = *q };
    struct sockdiag_query here = *q;
    if (tcp) {
        job.query.protos = protos & ~(1u << REGISTRY_PROTO_TCP);
        here.protos = 1u << REGISTRY_PROTO_TCP;
    } else {
        job.query.ipv4 = false;
        job.query.ipv6 = true;
        here.ipv4 = true;
        here.ipv6 = false;
    }
    bool job_needed = !tcp || job.query.protos != 0;
    pthread_t thread;
    if (job_needed && pthread_create(&thread, NULL, sockdiag_family_job_run, &job) != 0) {
        struct sockdiag_query both = *q;
        return sockdiag_dump_serial_with(&both, out, true, err);   /* one after the other */
    }
    size_t count_at_start = out->count;
    int r = sockdiag_dump_serial_with(&here, out, tcp, err);
    if (!job_needed)
        return r;
    pthread_join(thread, NULL);
    if (r == 0 && job.result < 0) {
        if (err)
            *err = job.err;
        r = job.result;
    }
    for (size_t i = 0; r == 0 && i < job.list.count; i++) {
        struct socket_entry *e = socket_list_append(out);
        if (!e)
            r = pr_error_set(err, -ENOMEM, "sock_diag: out of memory");
        else
            *e = job.list.items[i];
    }
    if (r < 0)
        out->count = count_at_start;
    socket_list_free(&job.list);
    return r;
}
