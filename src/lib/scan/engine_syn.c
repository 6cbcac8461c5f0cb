/* engine_syn.c — the syn engine (half-open scan, as masscan and zmap): raw SYNs whose sequence
 * number is a keyed cookie of (target, port, source port); a SYN-ACK is open, an RST closed, an
 * ICMP unreachable filtered, silence after every retry filtered. Each sender thread owns a
 * source port (reserved with a bound TCP socket), raw TCP and ICMP sockets whose BPF filters
 * pass only replies to that port, a batch sender (sendmmsg) and the probes it has in flight
 * (a hash by cookie plus a deadline heap): memory follows max_inflight, not the probe count. */
#include "scan/engine.h"
#include "scan/syn_packet.h"
#include "scan/timing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "registry/record.h"

#define SYN_SEND_BATCH 128             /* SYNs per sendmmsg */
#define SYN_RECV_BATCH 256             /* replies per recvmmsg */
#define SYN_RECV_SIZE 256              /* outer IP 60 + ICMP 8 + quoted IP 60 + TCP 8, rounded up */
#define SYN_RECV_CONTROL 64
#define SYN_DEFAULT_INFLIGHT 65536     /* whole scan; split over the threads */
#define SYN_DEFAULT_TIMEOUT_MS 1000
#define SYN_MIN_TIMEOUT_US 100000      /* nmap's default min-rtt-timeout */
#define SYN_MAX_THREADS 64
#define SYN_PPS_PER_THREAD 50000.0     /* below rate / this, fewer threads */
#define SYN_RCVBUF (8 << 20)
#define SYN_SNDBUF (4 << 20)
#define SYN_SOURCE_CACHE 64            /* per-thread destination -> source address cache */
#define SYN_NONE UINT32_MAX
#define SYN_ACK_FLAGS (SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK)

enum { FAMILY_V4, FAMILY_V6, FAMILY_COUNT };

static int family_of_index(int index)
{
    return index == FAMILY_V4 ? AF_INET : AF_INET6;
}

static int family_index(int family)
{
    return family == AF_INET ? FAMILY_V4 : FAMILY_V6;
}

static size_t address_len(const struct scan_address *address)
{
    return address->family == AF_INET ? 4 : 16;
}

/* ---- pure pieces (syn_packet.h) ---- */

uint32_t syn_cookie(const struct syn_cookie_key *key, const struct scan_address *target,
                    uint16_t target_port, uint16_t source_port)
{
    uint8_t input[21] = { target->family };
    memcpy(input + 1, target->bytes, address_len(target));
    input[17] = (uint8_t)(target_port >> 8);
    input[18] = (uint8_t)target_port;
    input[19] = (uint8_t)(source_port >> 8);
    input[20] = (uint8_t)source_port;
    return (uint32_t)XXH3_64bits_withSeed(input, sizeof input, key->seed);
}

static uint32_t checksum_add(uint32_t sum, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)bytes[i] << 8 | bytes[i + 1];
    if (len & 1)
        sum += (uint32_t)bytes[len - 1] << 8;
    return sum;
}

uint16_t syn_tcp_checksum(const struct scan_address *source, const struct scan_address *destination,
                          const uint8_t *segment, size_t len)
{
    uint32_t sum = 0;
    sum = checksum_add(sum, source->bytes, address_len(source));
    sum = checksum_add(sum, destination->bytes, address_len(destination));
    sum += IPPROTO_TCP;
    sum += (uint32_t)len;              /* the length fits 16 bits either way */
    sum = checksum_add(sum, segment, len);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *at, uint16_t value)
{
    at[0] = (uint8_t)(value >> 8);
    at[1] = (uint8_t)value;
}

static void put32(uint8_t *at, uint32_t value)
{
    put16(at, (uint16_t)(value >> 16));
    put16(at + 2, (uint16_t)value);
}

static uint16_t get16(const uint8_t *at)
{
    return (uint16_t)(at[0] << 8 | at[1]);
}

static uint32_t get32(const uint8_t *at)
{
    return (uint32_t)get16(at) << 16 | get16(at + 2);
}

void syn_probe_build(uint8_t packet[SYN_PROBE_LEN], const struct scan_address *source,
                     const struct scan_address *target, uint16_t source_port,
                     uint16_t target_port, uint32_t seq)
{
    memset(packet, 0, SYN_PROBE_LEN);
    put16(packet, source_port);
    put16(packet + 2, target_port);
    put32(packet + 4, seq);
    packet[12] = (SYN_PROBE_LEN / 4) << 4;           /* data offset in 32-bit words */
    packet[13] = SYN_TCP_FLAG_SYN;
    put16(packet + 14, SYN_PROBE_WINDOW);
    packet[20] = 2;                                  /* option MSS, length 4 */
    packet[21] = 4;
    put16(packet + 22, SYN_PROBE_MSS);
    put16(packet + 16, syn_tcp_checksum(source, target, packet, SYN_PROBE_LEN));
}

/* The TCP header at segment: our port, the target's port, flags, the acked sequence. */
static int parse_tcp_header(const uint8_t *segment, size_t len, struct syn_reply *reply)
{
    if (len < 20)
        return -EINVAL;
    uint8_t flags = segment[13];
    if (flags & SYN_TCP_FLAG_RST)
        reply->kind = SYN_REPLY_RST;
    else if ((flags & SYN_ACK_FLAGS) == SYN_ACK_FLAGS)
        reply->kind = SYN_REPLY_SYN_ACK;
    else
        return -EINVAL;
    /* An RST answering a SYN carries ACK = seq + 1 (RFC 793); one without ACK cannot be
     * matched to a probe. */
    if (!(flags & SYN_TCP_FLAG_ACK))
        return -EINVAL;
    reply->target_port = get16(segment);
    reply->source_port = get16(segment + 2);
    reply->probe_seq = get32(segment + 8) - 1;
    return 0;
}

int syn_reply_parse_tcp(int family, const uint8_t *packet, size_t len,
                        const struct scan_address *sender6, uint8_t hop_limit,
                        struct syn_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    if (family == AF_INET6) {
        if (!sender6 || sender6->family != AF_INET6)
            return -EINVAL;
        reply->target = *sender6;
        reply->ttl = hop_limit;
        return parse_tcp_header(packet, len, reply);
    }
    if (len < 20 || packet[0] >> 4 != 4)
        return -EINVAL;
    size_t header_len = (size_t)(packet[0] & 0x0f) * 4;
    if (header_len < 20 || len < header_len || packet[9] != IPPROTO_TCP)
        return -EINVAL;
    if (get16(packet + 6) & 0x1fff)                  /* a non-first fragment */
        return -EINVAL;
    reply->target.family = AF_INET;
    memcpy(reply->target.bytes, packet + 12, 4);
    reply->ttl = packet[8];
    return parse_tcp_header(packet + header_len, len - header_len, reply);
}

/* The quoted IP header and the first 8 bytes of our SYN: ports and sequence number. */
static int parse_quoted_probe(int family, const uint8_t *quoted, size_t len,
                              struct syn_reply *reply)
{
    size_t header_len;
    reply->target.family = (uint8_t)family;
    if (family == AF_INET) {
        if (len < 20 || quoted[0] >> 4 != 4)
            return -EINVAL;
        header_len = (size_t)(quoted[0] & 0x0f) * 4;
        if (header_len < 20 || quoted[9] != IPPROTO_TCP)
            return -EINVAL;
        memcpy(reply->target.bytes, quoted + 16, 4);
    } else {
        if (len < 40 || quoted[0] >> 4 != 6 || quoted[6] != IPPROTO_TCP)
            return -EINVAL;
        header_len = 40;
        memcpy(reply->target.bytes, quoted + 24, 16);
    }
    if (len < header_len + 8)
        return -EINVAL;
    const uint8_t *segment = quoted + header_len;
    reply->source_port = get16(segment);
    reply->target_port = get16(segment + 2);
    reply->probe_seq = get32(segment + 4);
    return 0;
}

int syn_reply_parse_icmp(int family, const uint8_t *packet, size_t len, uint8_t hop_limit,
                         struct syn_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    reply->kind = SYN_REPLY_ICMP;
    if (family == AF_INET6) {
        if (len < 8 || packet[0] != ICMP6_DST_UNREACH)
            return -EINVAL;
        reply->icmp_type = packet[0];
        reply->icmp_code = packet[1];
        reply->ttl = hop_limit;
        return parse_quoted_probe(AF_INET6, packet + 8, len - 8, reply);
    }
    if (len < 20 || packet[0] >> 4 != 4)
        return -EINVAL;
    size_t header_len = (size_t)(packet[0] & 0x0f) * 4;
    if (header_len < 20 || len < header_len + 8 || packet[9] != IPPROTO_ICMP)
        return -EINVAL;
    const uint8_t *icmp = packet + header_len;
    if (icmp[0] != 3)                                /* ICMP destination unreachable */
        return -EINVAL;
    reply->icmp_type = icmp[0];
    reply->icmp_code = icmp[1];
    reply->ttl = packet[8];
    return parse_quoted_probe(AF_INET, icmp + 8, len - header_len - 8, reply);
}

bool syn_reply_is_ours(const struct syn_cookie_key *key, const struct syn_reply *reply,
                       uint16_t source_port)
{
    if (reply->source_port != source_port)
        return false;
    return reply->probe_seq == syn_cookie(key, &reply->target, reply->target_port, source_port);
}

static int attach_filter(int fd, struct sock_filter *code, size_t count)
{
    struct sock_fprog program = { .len = (unsigned short)count, .filter = code };
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) < 0)
        return -errno;
    return 0;
}

#define ACCEPT_ALL 0xffffffffu

int syn_filter_attach_tcp(int fd, int family, uint16_t port)
{
    if (family == AF_INET6) {
        /* A raw IPv6 socket sees the packet from the TCP header on. */
        struct sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2),                        /* destination port */
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 5),
            BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),                       /* flags */
            BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SYN_TCP_FLAG_RST, 2, 0),
            BPF_STMT(BPF_ALU | BPF_AND | BPF_K, SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, ACCEPT_ALL),
            BPF_STMT(BPF_RET | BPF_K, 0),
        };
        return attach_filter(fd, code, sizeof code / sizeof code[0]);
    }
    /* IPv4 from the IP header on: skip its variable length with X = 4 * IHL. */
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),                            /* fragment offset */
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 8, 0),
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),                            /* destination port */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 5),
        BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13),                           /* flags */
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SYN_TCP_FLAG_RST, 2, 0),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, ACCEPT_ALL),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    return attach_filter(fd, code, sizeof code / sizeof code[0]);
}

int syn_filter_attach_icmp(int fd, int family, uint16_t port)
{
    if (family == AF_INET6) {
        /* From the ICMPv6 header: type, then the quoted IPv6 header at 8 (next header at
         * 8 + 6), then our SYN's source port at 8 + 40. */
        struct sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP6_DST_UNREACH, 0, 5),
            BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 3),
            BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 48),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, ACCEPT_ALL),
            BPF_STMT(BPF_RET | BPF_K, 0),
        };
        return attach_filter(fd, code, sizeof code / sizeof code[0]);
    }
    /* From the outer IPv4 header: X = its length; ICMP type at X; the quoted header at X + 8
     * (protocol at X + 17); then X += the quoted header's length and our port is at X + 8. */
    struct sock_filter code[] = {
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, 10),
        BPF_STMT(BPF_LD | BPF_B | BPF_IND, 17),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 8),
        BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x0f),
        BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 2),
        BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
        BPF_STMT(BPF_MISC | BPF_TAX, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 8),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, ACCEPT_ALL),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    return attach_filter(fd, code, sizeof code / sizeof code[0]);
}

/* ---- probes in flight: slots, a hash by cookie, a min-heap by deadline ---- */

struct syn_slot {
    struct scan_address target;
    uint16_t port;
    uint8_t attempts;                  /* sends so far */
    uint32_t cookie;
    uint32_t heap_pos;                 /* SYN_NONE when not waiting */
    uint64_t sent_ns, deadline_ns;
    uint8_t packet[SYN_PROBE_LEN];     /* resent as is */
};

struct syn_inflight {
    struct syn_slot *slots;
    uint32_t capacity, used;
    uint32_t *free_list;
    uint32_t free_count;
    uint32_t *table;                   /* open addressing by cookie; SYN_NONE = empty */
    uint32_t table_mask;
    uint32_t *heap;
    uint32_t heap_count;
};

static int inflight_init(struct syn_inflight *f, uint32_t capacity)
{
    memset(f, 0, sizeof *f);
    uint32_t table_size = 16;
    while (table_size < capacity * 2)
        table_size *= 2;
    f->slots = calloc(capacity, sizeof *f->slots);
    f->free_list = calloc(capacity, sizeof *f->free_list);
    f->table = malloc(table_size * sizeof *f->table);
    f->heap = calloc(capacity, sizeof *f->heap);
    if (!f->slots || !f->free_list || !f->table || !f->heap)
        return -ENOMEM;
    f->capacity = capacity;
    f->table_mask = table_size - 1;
    memset(f->table, 0xff, table_size * sizeof *f->table);
    for (uint32_t i = 0; i < capacity; i++)
        f->free_list[i] = capacity - 1 - i;
    f->free_count = capacity;
    return 0;
}

static void inflight_destroy(struct syn_inflight *f)
{
    free(f->slots);
    free(f->free_list);
    free(f->table);
    free(f->heap);
    memset(f, 0, sizeof *f);
}

static uint32_t table_find(const struct syn_inflight *f, const struct scan_address *target,
                           uint16_t port, uint32_t cookie)
{
    for (uint32_t h = cookie & f->table_mask;; h = (h + 1) & f->table_mask) {
        uint32_t index = f->table[h];
        if (index == SYN_NONE)
            return SYN_NONE;
        const struct syn_slot *slot = &f->slots[index];
        if (slot->cookie == cookie && slot->port == port &&
            scan_address_equal(&slot->target, target))
            return index;
    }
}

static void table_insert(struct syn_inflight *f, uint32_t index)
{
    uint32_t h = f->slots[index].cookie & f->table_mask;
    while (f->table[h] != SYN_NONE)
        h = (h + 1) & f->table_mask;
    f->table[h] = index;
}

/* Linear probing with backward-shift deletion: no tombstones, so lookups stay short. */
static void table_remove(struct syn_inflight *f, uint32_t index)
{
    uint32_t hole = f->slots[index].cookie & f->table_mask;
    while (f->table[hole] != index)
        hole = (hole + 1) & f->table_mask;
    f->table[hole] = SYN_NONE;
    for (uint32_t next = (hole + 1) & f->table_mask; f->table[next] != SYN_NONE;
         next = (next + 1) & f->table_mask) {
        uint32_t home = f->slots[f->table[next]].cookie & f->table_mask;
        /* Move the entry into the hole unless its home lies cyclically in (hole, next]. */
        bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (stays)
            continue;
        f->table[hole] = f->table[next];
        f->table[next] = SYN_NONE;
        hole = next;
    }
}

static bool heap_less(const struct syn_inflight *f, uint32_t a, uint32_t b)
{
    return f->slots[f->heap[a]].deadline_ns < f->slots[f->heap[b]].deadline_ns;
}

static void heap_swap(struct syn_inflight *f, uint32_t a, uint32_t b)
{
    uint32_t t = f->heap[a];
    f->heap[a] = f->heap[b];
    f->heap[b] = t;
    f->slots[f->heap[a]].heap_pos = a;
    f->slots[f->heap[b]].heap_pos = b;
}

static void heap_sift_up(struct syn_inflight *f, uint32_t pos)
{
    while (pos > 0 && heap_less(f, pos, (pos - 1) / 2)) {
        heap_swap(f, pos, (pos - 1) / 2);
        pos = (pos - 1) / 2;
    }
}

static void heap_sift_down(struct syn_inflight *f, uint32_t pos)
{
    for (;;) {
        uint32_t smallest = pos, left = 2 * pos + 1, right = 2 * pos + 2;
        if (left < f->heap_count && heap_less(f, left, smallest))
            smallest = left;
        if (right < f->heap_count && heap_less(f, right, smallest))
            smallest = right;
        if (smallest == pos)
            return;
        heap_swap(f, pos, smallest);
        pos = smallest;
    }
}

static void heap_push(struct syn_inflight *f, uint32_t index)
{
    f->heap[f->heap_count] = index;
    f->slots[index].heap_pos = f->heap_count;
    f->heap_count++;
    heap_sift_up(f, f->heap_count - 1);
}

static void heap_remove(struct syn_inflight *f, uint32_t index)
{
    uint32_t pos = f->slots[index].heap_pos;
    if (pos == SYN_NONE)
        return;
    f->heap_count--;
    if (pos != f->heap_count) {
        heap_swap(f, pos, f->heap_count);
        heap_sift_down(f, pos);
        heap_sift_up(f, pos);
    }
    f->slots[index].heap_pos = SYN_NONE;
}

static uint32_t inflight_take(struct syn_inflight *f)
{
    if (f->free_count == 0)
        return SYN_NONE;
    uint32_t index = f->free_list[--f->free_count];
    f->used++;
    f->slots[index].heap_pos = SYN_NONE;
    f->slots[index].attempts = 0;
    return index;
}

/* Forget a probe whose result was reported: no later reply can match it. */
static void inflight_release(struct syn_inflight *f, uint32_t index)
{
    heap_remove(f, index);
    table_remove(f, index);
    f->free_list[f->free_count++] = index;
    f->used--;
}

/* ---- one sender thread ---- */

struct syn_source_entry {
    struct scan_address destination, source;
    int error;                         /* negative errno of the route lookup */
    bool valid;
};

struct syn_batch {
    uint32_t slots[SYN_SEND_BATCH];
    uint32_t count;
    struct mmsghdr messages[SYN_SEND_BATCH];
    struct iovec iov[SYN_SEND_BATCH];
    struct sockaddr_storage names[SYN_SEND_BATCH];
};

struct syn_receive {
    struct mmsghdr messages[SYN_RECV_BATCH];
    struct iovec iov[SYN_RECV_BATCH];
    struct sockaddr_in6 names[SYN_RECV_BATCH];
    uint8_t buffers[SYN_RECV_BATCH][SYN_RECV_SIZE];
    uint8_t control[SYN_RECV_BATCH][SYN_RECV_CONTROL];
};

struct syn_scan;

struct syn_thread {
    struct syn_scan *scan;
    uint32_t index;
    uint16_t source_port;
    int reserve_fd;                    /* a bound TCP socket: keeps the port ours */
    int raw_fd[FAMILY_COUNT];          /* -1 when the family is not scanned */
    int icmp_fd[FAMILY_COUNT];
    int route_fd[FAMILY_COUNT];        /* UDP socket connected to ask for a source address */
    int family_error[FAMILY_COUNT];    /* errno when a scanned family has no raw socket here */
    struct syn_inflight inflight;
    struct scan_rtt rtt;
    struct scan_rate rate;
    struct syn_batch batch[FAMILY_COUNT];
    struct syn_receive receive;
    struct syn_source_entry sources[SYN_SOURCE_CACHE];
    uint64_t next_k;                   /* next probe of this thread: k = index + n * threads */
    pthread_t pthread;
    bool started;
};

struct syn_scan {
    const struct scan_job *job;
    struct scan_sink *sink;
    struct syn_cookie_key key;
    uint32_t thread_count;
    uint32_t attempts_max;             /* 1 + retries */
    struct syn_thread **threads;
};

static void report(struct syn_thread *t, const struct scan_address *target, uint16_t port,
                   enum scan_state state, enum scan_reason reason, int error)
{
    struct scan_result result;
    memset(&result, 0, offsetof(struct scan_result, banner));
    result.target = *target;
    result.port = port;
    result.proto = REGISTRY_PROTO_TCP;
    result.state = (uint8_t)state;
    result.reason = (uint8_t)reason;
    result.error = error;
    scan_sink_emit(t->scan->sink, &result);
}

/* The address the kernel puts in our SYN's IP header for this destination (a connected UDP
 * socket asks the routing table), cached per destination. */
static int source_for(struct syn_thread *t, const struct scan_address *destination,
                      struct scan_address *source)
{
    uint32_t h = (uint32_t)XXH3_64bits(destination->bytes, address_len(destination));
    struct syn_source_entry *entry = &t->sources[h % SYN_SOURCE_CACHE];
    if (entry->valid && scan_address_equal(&entry->destination, destination)) {
        *source = entry->source;
        return entry->error;
    }
    int fi = family_index(destination->family);
    if (t->route_fd[fi] < 0) {
        t->route_fd[fi] = socket(destination->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (t->route_fd[fi] < 0)
            return -errno;
    }
    struct sockaddr_storage peer, local;
    socklen_t peer_len = scan_address_to_sockaddr(destination, 9, &peer);
    socklen_t local_len = sizeof local;
    entry->valid = true;
    entry->destination = *destination;
    entry->error = 0;
    memset(&entry->source, 0, sizeof entry->source);
    entry->source.family = destination->family;
    if (connect(t->route_fd[fi], (struct sockaddr *)&peer, peer_len) < 0)
        entry->error = -errno;
    else if (getsockname(t->route_fd[fi], (struct sockaddr *)&local, &local_len) < 0)
        entry->error = -errno;
    else if (destination->family == AF_INET)
        memcpy(entry->source.bytes, &((struct sockaddr_in *)&local)->sin_addr, 4);
    else
        memcpy(entry->source.bytes, &((struct sockaddr_in6 *)&local)->sin6_addr, 16);
    *source = entry->source;
    return entry->error;
}

static void report_send_error(struct syn_thread *t, uint32_t index, int error)
{
    struct syn_slot *slot = &t->inflight.slots[index];
    enum scan_reason reason = error == EHOSTUNREACH || error == ENETUNREACH
                                  ? SCAN_REASON_HOST_UNREACHABLE : SCAN_REASON_LOCAL_ERROR;
    report(t, &slot->target, slot->port, SCAN_STATE_ERROR, reason, error);
    inflight_release(&t->inflight, index);
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
                           .tv_nsec = (long)(ns % 1000000000u) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Send the queued SYNs of one family. A full queue (ENOBUFS, EAGAIN) waits and resends; any
 * other failure is that probe's result. Sent probes wait in the heap for their deadline. */
static void batch_flush(struct syn_thread *t, int fi)
{
    struct syn_batch *b = &t->batch[fi];
    struct syn_inflight *f = &t->inflight;
    for (uint32_t i = 0; i < b->count; i++) {
        struct syn_slot *slot = &f->slots[b->slots[i]];
        socklen_t name_len = scan_address_to_sockaddr(&slot->target, 0, &b->names[i]);
        b->iov[i] = (struct iovec){ .iov_base = slot->packet, .iov_len = SYN_PROBE_LEN };
        b->messages[i].msg_hdr = (struct msghdr){
            .msg_name = &b->names[i], .msg_namelen = name_len,
            .msg_iov = &b->iov[i], .msg_iovlen = 1,
        };
    }
    uint64_t backoff_ns = 20000;
    uint32_t done = 0;
    while (done < b->count) {
        uint64_t before = scan_now_ns();
        int sent = sendmmsg(t->raw_fd[fi], b->messages + done, b->count - done, 0);
        if (sent > 0) {
            uint64_t first = 0, again = 0;
            for (uint32_t i = done; i < done + (uint32_t)sent; i++) {
                uint32_t index = b->slots[i];
                struct syn_slot *slot = &f->slots[index];
                if (slot->attempts++ == 0)
                    first++;
                else
                    again++;
                slot->sent_ns = before;
                uint64_t timeout_us = scan_rtt_timeout(&t->rtt, &slot->target);
                slot->deadline_ns = before + timeout_us * 1000;
                heap_push(f, index);
            }
            if (t->scan->sink->progress) {
                atomic_fetch_add(&t->scan->sink->progress->sent, first);
                atomic_fetch_add(&t->scan->sink->progress->retries, again);
            }
            done += (uint32_t)sent;
            backoff_ns = 20000;
            continue;
        }
        int error = sent < 0 ? errno : EIO;
        if (error == EINTR)
            continue;
        if (error == ENOBUFS || error == EAGAIN || error == ENOMEM) {
            sleep_ns(backoff_ns);
            if (backoff_ns < 10000000)
                backoff_ns *= 2;
            continue;
        }
        report_send_error(t, b->slots[done], error);
        done++;
    }
    b->count = 0;
}

static void batch_add(struct syn_thread *t, uint32_t index)
{
    int fi = family_index(t->inflight.slots[index].target.family);
    struct syn_batch *b = &t->batch[fi];
    b->slots[b->count++] = index;
    if (b->count == SYN_SEND_BATCH)
        batch_flush(t, fi);
}

static void batch_flush_all(struct syn_thread *t)
{
    for (int fi = 0; fi < FAMILY_COUNT; fi++)
        if (t->batch[fi].count)
            batch_flush(t, fi);
}

/* Probes whose deadline passed: resend while attempts remain (each resend takes a token of the
 * rate), else report them filtered. Returns how many it handled. */
static uint32_t expire_probes(struct syn_thread *t, uint64_t now)
{
    struct syn_inflight *f = &t->inflight;
    uint32_t handled = 0;
    while (f->heap_count > 0) {
        uint32_t index = f->heap[0];
        struct syn_slot *slot = &f->slots[index];
        if (slot->deadline_ns > now)
            break;
        if (slot->attempts < t->scan->attempts_max) {
            if (scan_rate_take(&t->rate, 1, now) == 0)
                break;
            heap_remove(f, index);
            batch_add(t, index);
        } else {
            report(t, &slot->target, slot->port, SCAN_STATE_FILTERED, SCAN_REASON_TIMEOUT, 0);
            inflight_release(f, index);
        }
        handled++;
    }
    return handled;
}

/* Queue up to one batch of new probes (as the rate and the in-flight room allow). */
static uint32_t queue_new_probes(struct syn_thread *t, uint64_t now)
{
    const struct scan_job *job = t->scan->job;
    uint64_t remaining = job->probe_count > t->next_k
        ? (job->probe_count - t->next_k + t->scan->thread_count - 1) / t->scan->thread_count : 0;
    uint32_t want = SYN_SEND_BATCH;
    if (want > remaining)
        want = (uint32_t)remaining;
    if (want > t->inflight.free_count)
        want = t->inflight.free_count;
    if (want == 0)
        return 0;
    want = scan_rate_take(&t->rate, want, now);
    for (uint32_t i = 0; i < want; i++) {
        uint32_t index = inflight_take(&t->inflight);
        struct syn_slot *slot = &t->inflight.slots[index];
        scan_job_probe(job, t->next_k, &slot->target, &slot->port);
        t->next_k += t->scan->thread_count;
        slot->cookie = syn_cookie(&t->scan->key, &slot->target, slot->port, t->source_port);
        table_insert(&t->inflight, index);
        struct scan_address source;
        int error = -t->family_error[family_index(slot->target.family)];
        if (error == 0)
            error = source_for(t, &slot->target, &source);
        if (error < 0) {
            if (t->scan->sink->progress)
                atomic_fetch_add(&t->scan->sink->progress->sent, 1);
            report_send_error(t, index, -error);
            continue;
        }
        syn_probe_build(slot->packet, &source, &slot->target, t->source_port, slot->port,
                        slot->cookie);
        batch_add(t, index);
    }
    return want;
}

static void handle_reply(struct syn_thread *t, const struct syn_reply *reply, uint64_t now)
{
    if (!syn_reply_is_ours(&t->scan->key, reply, t->source_port))
        return;
    struct syn_inflight *f = &t->inflight;
    uint32_t index = table_find(f, &reply->target, reply->target_port, reply->probe_seq);
    if (index == SYN_NONE)
        return;                        /* a duplicate, or an answer after the probe's result */
    struct syn_slot *slot = &f->slots[index];
    struct scan_result result;
    memset(&result, 0, offsetof(struct scan_result, banner));
    result.target = slot->target;
    result.port = slot->port;
    result.proto = REGISTRY_PROTO_TCP;
    result.reply_ttl = reply->ttl;
    uint64_t rtt_ns = now > slot->sent_ns ? now - slot->sent_ns : 0;
    result.rtt_us = rtt_ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(rtt_ns / 1000);
    if (slot->attempts == 1)           /* Karn: a resent probe's answer is ambiguous */
        scan_rtt_sample(&t->rtt, &slot->target, result.rtt_us);
    switch (reply->kind) {
    case SYN_REPLY_SYN_ACK:
        result.state = SCAN_STATE_OPEN;
        result.reason = SCAN_REASON_SYN_ACK;
        break;
    case SYN_REPLY_RST:
        result.state = SCAN_STATE_CLOSED;
        result.reason = SCAN_REASON_RST;
        break;
    default:
        result.state = SCAN_STATE_FILTERED;
        result.reason = SCAN_REASON_ICMP;
        result.icmp_type = reply->icmp_type;
        result.icmp_code = reply->icmp_code;
        break;
    }
    scan_sink_emit(t->scan->sink, &result);
    inflight_release(f, index);
}

static uint8_t hop_limit_of(const struct msghdr *message)
{
    struct msghdr *m = (struct msghdr *)message;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
            int value;
            memcpy(&value, CMSG_DATA(c), sizeof value);
            return (uint8_t)value;
        }
    }
    return 0;
}

/* Read every queued reply of one socket. Returns how many packets it read. */
static uint32_t drain_socket(struct syn_thread *t, int fd, int family, bool icmp)
{
    struct syn_receive *r = &t->receive;
    uint32_t total = 0;
    for (;;) {
        for (uint32_t i = 0; i < SYN_RECV_BATCH; i++) {
            r->iov[i] = (struct iovec){ .iov_base = r->buffers[i], .iov_len = SYN_RECV_SIZE };
            r->messages[i].msg_hdr = (struct msghdr){
                .msg_name = &r->names[i], .msg_namelen = sizeof r->names[i],
                .msg_iov = &r->iov[i], .msg_iovlen = 1,
                .msg_control = family == AF_INET6 ? r->control[i] : NULL,
                .msg_controllen = family == AF_INET6 ? SYN_RECV_CONTROL : 0,
            };
        }
        int got = recvmmsg(fd, r->messages, SYN_RECV_BATCH, MSG_DONTWAIT, NULL);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return total;              /* EAGAIN: empty; anything else: nothing to read */
        }
        uint64_t now = scan_now_ns();
        for (int i = 0; i < got; i++) {
            const struct msghdr *m = &r->messages[i].msg_hdr;
            size_t len = r->messages[i].msg_len;
            struct syn_reply reply;
            int parsed;
            if (family == AF_INET6) {
                uint8_t hop = hop_limit_of(m);
                if (icmp) {
                    parsed = syn_reply_parse_icmp(AF_INET6, r->buffers[i], len, hop, &reply);
                } else {
                    struct scan_address sender = { .family = AF_INET6 };
                    memcpy(sender.bytes, &r->names[i].sin6_addr, 16);
                    parsed = syn_reply_parse_tcp(AF_INET6, r->buffers[i], len, &sender, hop,
                                                 &reply);
                }
            } else if (icmp) {
                parsed = syn_reply_parse_icmp(AF_INET, r->buffers[i], len, 0, &reply);
            } else {
                parsed = syn_reply_parse_tcp(AF_INET, r->buffers[i], len, NULL, 0, &reply);
            }
            if (parsed == 0)
                handle_reply(t, &reply, now);
        }
        total += (uint32_t)got;
        if (got < SYN_RECV_BATCH)
            return total;
    }
}

static uint32_t drain_replies(struct syn_thread *t)
{
    uint32_t total = 0;
    for (int fi = 0; fi < FAMILY_COUNT; fi++) {
        if (t->raw_fd[fi] >= 0)
            total += drain_socket(t, t->raw_fd[fi], family_of_index(fi), false);
        if (t->icmp_fd[fi] >= 0)
            total += drain_socket(t, t->icmp_fd[fi], family_of_index(fi), true);
    }
    return total;
}

/* Sleep until a reply arrives, the next deadline passes or the rate allows another probe. */
static void wait_for_work(struct syn_thread *t, bool can_send_new)
{
    uint64_t now = scan_now_ns();
    uint64_t wait_ns = 100000000;      /* an upper bound: wake up and look again */
    struct syn_inflight *f = &t->inflight;
    if (f->heap_count > 0) {
        uint64_t deadline = f->slots[f->heap[0]].deadline_ns;
        uint64_t until = deadline > now ? deadline - now : scan_rate_wait_ns(&t->rate, now);
        if (until < wait_ns)
            wait_ns = until;
    }
    if (can_send_new) {
        uint64_t until = scan_rate_wait_ns(&t->rate, now);
        if (until < wait_ns)
            wait_ns = until;
    }
    struct pollfd fds[2 * FAMILY_COUNT];
    nfds_t count = 0;
    for (int fi = 0; fi < FAMILY_COUNT; fi++) {
        if (t->raw_fd[fi] >= 0)
            fds[count++] = (struct pollfd){ .fd = t->raw_fd[fi], .events = POLLIN };
        if (t->icmp_fd[fi] >= 0)
            fds[count++] = (struct pollfd){ .fd = t->icmp_fd[fi], .events = POLLIN };
    }
    struct timespec ts = { .tv_sec = (time_t)(wait_ns / 1000000000u),
                           .tv_nsec = (long)(wait_ns % 1000000000u) };
    ppoll(fds, count, &ts, NULL);
}

static void *syn_thread_main(void *arg)
{
    struct syn_thread *t = arg;
    const struct scan_job *job = t->scan->job;
    for (;;) {
        uint64_t now = scan_now_ns();
        uint32_t work = expire_probes(t, now);
        work += queue_new_probes(t, now);
        batch_flush_all(t);
        work += drain_replies(t);
        bool more_new = t->next_k < job->probe_count;
        if (!more_new && t->inflight.used == 0)
            break;
        if (work == 0)
            wait_for_work(t, more_new && t->inflight.free_count > 0);
    }
    return NULL;
}

/* ---- setup ---- */

static void set_buffer(int fd, int force_option, int option, int size)
{
    if (setsockopt(fd, SOL_SOCKET, force_option, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, option, &size, sizeof size);
}

/* A TCP socket bound to an ephemeral port: the kernel will not hand this port to another
 * socket while we scan from it. Dual-stack when IPv6 exists. */
static int reserve_source_port(int *fd_out, uint16_t *port_out)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_storage address;
    socklen_t len;
    memset(&address, 0, sizeof address);
    if (fd >= 0) {
        int off = 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        ((struct sockaddr_in6 *)&address)->sin6_family = AF_INET6;
        len = sizeof(struct sockaddr_in6);
    } else {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        ((struct sockaddr_in *)&address)->sin_family = AF_INET;
        len = sizeof(struct sockaddr_in);
    }
    if (bind(fd, (struct sockaddr *)&address, len) < 0 ||
        getsockname(fd, (struct sockaddr *)&address, &len) < 0) {
        int error = -errno;
        close(fd);
        return error;
    }
    *fd_out = fd;
    *port_out = ntohs(((struct sockaddr_in *)&address)->sin_port); /* same offset in both */
    return 0;
}

static int open_raw(int family, int protocol, uint16_t port, int *fd_out)
{
    int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return -errno;
    int error = protocol == IPPROTO_TCP ? syn_filter_attach_tcp(fd, family, port)
                                        : syn_filter_attach_icmp(fd, family, port);
    if (error == 0 && family == AF_INET6) {
        int on = 1;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0)
            error = -errno;
        if (protocol == IPPROTO_ICMPV6) {
            struct icmp6_filter filter;
            ICMP6_FILTER_SETBLOCKALL(&filter);
            ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filter);
            if (error == 0 &&
                setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) < 0)
                error = -errno;
        }
    }
    if (error < 0) {
        close(fd);
        return error;
    }
    set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF,
               protocol == IPPROTO_TCP ? SYN_RCVBUF : SYN_RCVBUF / 8);
    if (protocol == IPPROTO_TCP)
        set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, SYN_SNDBUF);
    *fd_out = fd;
    return 0;
}

static void thread_destroy(struct syn_thread *t)
{
    if (!t)
        return;
    for (int fi = 0; fi < FAMILY_COUNT; fi++) {
        if (t->raw_fd[fi] >= 0)
            close(t->raw_fd[fi]);
        if (t->icmp_fd[fi] >= 0)
            close(t->icmp_fd[fi]);
        if (t->route_fd[fi] >= 0)
            close(t->route_fd[fi]);
    }
    if (t->reserve_fd >= 0)
        close(t->reserve_fd);
    inflight_destroy(&t->inflight);
    free(t);
}

static int thread_create(struct syn_scan *scan, uint32_t index, const bool families[FAMILY_COUNT],
                         uint32_t inflight, uint32_t timeout_us, double rate,
                         struct syn_thread **out, struct pr_error *err)
{
    struct syn_thread *t = calloc(1, sizeof *t);
    if (!t)
        return pr_error_set(err, -ENOMEM, "syn scan: out of memory");
    t->scan = scan;
    t->index = index;
    t->next_k = index;
    t->reserve_fd = -1;
    for (int fi = 0; fi < FAMILY_COUNT; fi++)
        t->raw_fd[fi] = t->icmp_fd[fi] = t->route_fd[fi] = -1;
    *out = t;
    if (inflight_init(&t->inflight, inflight) < 0)
        return pr_error_set(err, -ENOMEM, "syn scan: out of memory for %u probes in flight",
                            inflight);
    int error = reserve_source_port(&t->reserve_fd, &t->source_port);
    if (error < 0)
        return pr_error_set(err, error, "syn scan: cannot reserve a source port: %s",
                            strerror(-error));
    for (int fi = 0; fi < FAMILY_COUNT; fi++) {
        if (!families[fi])
            continue;
        int family = family_of_index(fi);
        error = open_raw(family, IPPROTO_TCP, t->source_port, &t->raw_fd[fi]);
        if (error == 0)
            error = open_raw(family, family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6,
                             t->source_port, &t->icmp_fd[fi]);
        if (error == -EAFNOSUPPORT) {
            /* No IPv6 (or IPv4) on this host: its probes are local errors, the rest runs. */
            t->family_error[fi] = EAFNOSUPPORT;
            continue;
        }
        if (error < 0)
            return pr_error_set(err, error, "syn scan: cannot open a raw %s socket: %s",
                                family == AF_INET ? "IPv4" : "IPv6", strerror(-error));
    }
    uint32_t min_us, initial_us, max_us;
    scan_job_rtt_bounds(scan->job, timeout_us / 1000, SYN_MIN_TIMEOUT_US, &min_us, &initial_us, &max_us);
    scan_rtt_init(&t->rtt, min_us, initial_us, max_us);
    scan_rate_init(&t->rate, rate, scan_now_ns());
    return 0;
}

static int syn_usable(struct pr_error *err)
{
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        if (errno == EPERM || errno == EACCES)
            return pr_error_set(err, -EPERM, "the syn engine needs root or CAP_NET_RAW");
        return pr_error_set(err, -errno, "the syn engine cannot open a raw socket: %s",
                            strerror(errno));
    }
    close(fd);
    return 0;
}

static int syn_run(const struct scan_job *job, struct scan_sink *sink, struct pr_error *err)
{
    if (job->probe_count == 0)
        return 0;
    int error = syn_usable(err);
    if (error < 0)
        return error;

    /* Ranges are sorted by family, so the first and last say which families are scanned. */
    const struct target_set *targets = job->targets;
    bool families[FAMILY_COUNT] = { false, false };
    if (targets->count > 0) {
        families[family_index(targets->ranges[0].first.family)] = true;
        families[family_index(targets->ranges[targets->count - 1].first.family)] = true;
    }

    uint32_t threads = job->threads ? job->threads : scan_cpu_count();
    if (job->rate_pps > 0) {
        double wanted = job->rate_pps / SYN_PPS_PER_THREAD + 1;
        if ((double)threads > wanted)
            threads = (uint32_t)wanted;
    }
    if (threads > SYN_MAX_THREADS)
        threads = SYN_MAX_THREADS;
    if ((uint64_t)threads > job->probe_count)
        threads = (uint32_t)job->probe_count;
    if (threads == 0)
        threads = 1;
    /* an explicit --max-inflight (-T0..-T2: 1) is kept, below a batch too: no more threads
     * than probes allowed in flight, and each thread's share of them */
    if (job->max_inflight && threads > job->max_inflight)
        threads = job->max_inflight;
    uint32_t inflight = (job->max_inflight ? job->max_inflight : SYN_DEFAULT_INFLIGHT) / threads;
    if (inflight < SYN_SEND_BATCH && !job->max_inflight)
        inflight = SYN_SEND_BATCH;
    if (inflight == 0)
        inflight = 1;
    uint32_t timeout_ms = job->timeout_ms ? job->timeout_ms : SYN_DEFAULT_TIMEOUT_MS;

    struct syn_scan scan = {
        .job = job,
        .sink = sink,
        .thread_count = threads,
        .attempts_max = 1 + SCAN_JOB_RETRIES(job),
    };
    if (getrandom(&scan.key.seed, sizeof scan.key.seed, 0) != (ssize_t)sizeof scan.key.seed)
        return pr_error_set(err, -errno, "syn scan: no random key: %s", strerror(errno));
    scan.threads = calloc(threads, sizeof *scan.threads);
    if (!scan.threads)
        return pr_error_set(err, -ENOMEM, "syn scan: out of memory");

    for (uint32_t i = 0; i < threads && error == 0; i++)
        error = thread_create(&scan, i, families, inflight, timeout_ms * 1000,
                              job->rate_pps / threads, &scan.threads[i], err);
    if (error == 0) {
        /* The caller is sender 0 (the threads start in its network namespace); a sender whose
         * thread cannot start runs here afterwards, so every probe still gets its result. */
        for (uint32_t i = 1; i < threads; i++)
            scan.threads[i]->started = pthread_create(&scan.threads[i]->pthread, NULL,
                                                      syn_thread_main, scan.threads[i]) == 0;
        syn_thread_main(scan.threads[0]);
        for (uint32_t i = 1; i < threads; i++)
            if (!scan.threads[i]->started)
                syn_thread_main(scan.threads[i]);
    }
    for (uint32_t i = 0; i < threads; i++) {
        if (scan.threads[i] && scan.threads[i]->started)
            pthread_join(scan.threads[i]->pthread, NULL);
        thread_destroy(scan.threads[i]);
    }
    free(scan.threads);
    return error;
}

const struct scan_engine scan_engine_syn = {
    .name = "syn",
    .proto = REGISTRY_PROTO_TCP,
    .summary = "half-open scan with raw SYNs (needs root or CAP_NET_RAW)",
    .usable = syn_usable,
    .run = syn_run,
};
