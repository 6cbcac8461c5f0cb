/* engine_udp.c — the "udp" scan engine, unprivileged: one connected UDP socket per in-flight
 * probe with IP_RECVERR/IPV6_RECVERR, watched by one epoll per thread. A datagram back is open,
 * ICMP port unreachable (from the socket's error queue) closed, another unreachable filtered,
 * silence after the retries open|filtered. Payloads by port (udp_payloads.h); hosts whose ICMP
 * errors are rate-limited are paced (see "ICMP rate limits" below). */
#include "scan/udp_payloads.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/errqueue.h>

#include "registry/record.h"
#include "scan/engine.h"
#include "scan/timing.h"
#include "util/file_io.h"

/* ===================================================================== payloads ===== */

uint16_t udp_payload_dns_id(uint32_t cookie)
{
    return (uint16_t)(cookie ^ (cookie >> 16));
}

/* A query for the root's name servers (". IN NS", recursion not desired): every DNS server,
 * authoritative or resolver, answers it (with data, a referral or REFUSED). */
static size_t udp_payload_dns_make(uint8_t *buf, uint32_t cookie)
{
    static const uint8_t query[17] = {
        0, 0,          /* id, filled below */
        0x00, 0x00,    /* flags: standard query, RD=0 */
        0, 1, 0, 0,    /* qdcount 1, ancount 0 */
        0, 0, 0, 0,    /* nscount 0, arcount 0 */
        0,             /* qname: the root */
        0, 2,          /* qtype NS */
        0, 1,          /* qclass IN */
    };
    memcpy(buf, query, sizeof query);
    uint16_t id = udp_payload_dns_id(cookie);
    buf[0] = (uint8_t)(id >> 8);
    buf[1] = (uint8_t)id;
    return sizeof query;
}

static bool udp_payload_dns_validate(const uint8_t *reply, size_t len, uint32_t cookie)
{
    if (len < 12)
        return false;
    uint16_t id = (uint16_t)(reply[0] << 8 | reply[1]);
    bool is_response = (reply[2] & 0x80) != 0;
    unsigned opcode = (reply[2] >> 3) & 0xf;
    return id == udp_payload_dns_id(cookie) && is_response && opcode == 0;
}

/* NTPv4 client request (mode 3): 48 bytes, the cookie as transmit timestamp, which a server
 * copies into the origin timestamp of its mode-4 reply (RFC 5905). */
static size_t udp_payload_ntp_make(uint8_t *buf, uint32_t cookie)
{
    memset(buf, 0, 48);
    buf[0] = 0x23;                     /* LI 0, VN 4, mode 3 */
    buf[40] = (uint8_t)(cookie >> 24);
    buf[41] = (uint8_t)(cookie >> 16);
    buf[42] = (uint8_t)(cookie >> 8);
    buf[43] = (uint8_t)cookie;
    buf[44] = 'p';                     /* fraction: a constant mark */
    buf[45] = 'r';
    return 48;
}

static bool udp_payload_ntp_validate(const uint8_t *reply, size_t len, uint32_t cookie)
{
    uint8_t request[48];
    udp_payload_ntp_make(request, cookie);
    return len >= 48 && (reply[0] & 7) == 4 && memcmp(reply + 24, request + 40, 8) == 0;
}

/* SNMPv1 get-request for sysDescr.0 (1.3.6.1.2.1.1.1.0) with community "public", BER-encoded.
 * The request-id has four significant bytes so the encoding length never changes. */
int32_t udp_payload_snmp_request_id(uint32_t cookie)
{
    return (int32_t)(0x01000000u + cookie % 0x7f000000u);
}

static size_t udp_payload_snmp_make(uint8_t *buf, uint32_t cookie)
{
    static const uint8_t message[43] = {
        0x30, 0x29,                                      /* SEQUENCE, 41 bytes */
        0x02, 0x01, 0x00,                                /* version: 0 (v1) */
        0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c',        /* community */
        0xa0, 0x1c,                                      /* GetRequest-PDU, 28 bytes */
        0x02, 0x04, 0, 0, 0, 0,                          /* request-id, filled below */
        0x02, 0x01, 0x00,                                /* error-status */
        0x02, 0x01, 0x00,                                /* error-index */
        0x30, 0x0e,                                      /* variable-bindings */
        0x30, 0x0c,                                      /* one binding */
        0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 1, 0,           /* OID 1.3.6.1.2.1.1.1.0 */
        0x05, 0x00,                                      /* NULL */
    };
    memcpy(buf, message, sizeof message);
    uint32_t id = (uint32_t)udp_payload_snmp_request_id(cookie);
    buf[17] = (uint8_t)(id >> 24);
    buf[18] = (uint8_t)(id >> 16);
    buf[19] = (uint8_t)(id >> 8);
    buf[20] = (uint8_t)id;
    return sizeof message;
}

/* One BER TLV: definite lengths up to 2 length bytes, which covers any UDP datagram. */
struct ber_reader {
    const uint8_t *at;
    size_t left;
};

static bool ber_next(struct ber_reader *in, uint8_t *tag, struct ber_reader *content)
{
    if (in->left < 2)
        return false;
    *tag = in->at[0];
    size_t length = in->at[1], header = 2;
    if (length & 0x80) {
        size_t bytes = length & 0x7f;
        if (bytes < 1 || bytes > 2 || in->left < 2 + bytes)
            return false;
        length = 0;
        for (size_t i = 0; i < bytes; i++)
            length = length << 8 | in->at[2 + i];
        header += bytes;
    }
    if (length > in->left - header)
        return false;
    content->at = in->at + header;
    content->left = length;
    in->at += header + length;
    in->left -= header + length;
    return true;
}

/* A signed INTEGER of 1 to 4 bytes (two's complement). */
static bool ber_integer(const struct ber_reader *content, int64_t *value)
{
    if (content->left < 1 || content->left > 4)
        return false;
    uint64_t raw = 0;
    for (size_t i = 0; i < content->left; i++)
        raw = raw << 8 | content->at[i];
    if (content->at[0] & 0x80)
        raw |= ~UINT64_C(0) << (8 * content->left);
    *value = (int64_t)raw;
    return true;
}

/* A GetResponse-PDU (tag 0xa2) with our request-id, in a v1/v2c message. */
static bool udp_payload_snmp_validate(const uint8_t *reply, size_t len, uint32_t cookie)
{
    struct ber_reader in = { reply, len }, message, field;
    uint8_t tag;
    int64_t value;
    if (!ber_next(&in, &tag, &message) || tag != 0x30)
        return false;
    if (!ber_next(&message, &tag, &field) || tag != 0x02 || !ber_integer(&field, &value) ||
        (value != 0 && value != 1))
        return false;
    if (!ber_next(&message, &tag, &field) || tag != 0x04)
        return false;
    struct ber_reader pdu;
    if (!ber_next(&message, &tag, &pdu) || tag != 0xa2)
        return false;
    if (!ber_next(&pdu, &tag, &field) || tag != 0x02 || !ber_integer(&field, &value))
        return false;
    return value == udp_payload_snmp_request_id(cookie);
}

/* Any port without a payload of its own: an empty datagram, which any UDP service may answer. */
static size_t udp_payload_empty_make(uint8_t *buf, uint32_t cookie)
{
    (void)buf;
    (void)cookie;
    return 0;
}

static bool udp_payload_any_validate(const uint8_t *reply, size_t len, uint32_t cookie)
{
    (void)reply;
    (void)len;
    (void)cookie;
    return true;
}

const struct udp_payload udp_payloads[] = {
    { "dns", { 53 }, udp_payload_dns_make, udp_payload_dns_validate },
    { "ntp", { 123 }, udp_payload_ntp_make, udp_payload_ntp_validate },
    { "snmp", { 161 }, udp_payload_snmp_make, udp_payload_snmp_validate },
    { "empty", { 0 }, udp_payload_empty_make, udp_payload_any_validate },
};
const size_t udp_payload_count = sizeof udp_payloads / sizeof udp_payloads[0];

const struct udp_payload *udp_payload_for_port(uint16_t port)
{
    for (size_t i = 0; i + 1 < udp_payload_count; i++)
        for (size_t j = 0; j < 4 && udp_payloads[i].ports[j]; j++)
            if (udp_payloads[i].ports[j] == port)
                return &udp_payloads[i];
    return &udp_payloads[udp_payload_count - 1];
}

const struct udp_payload *udp_payload_find(const char *name)
{
    for (size_t i = 0; i < udp_payload_count; i++)
        if (strcmp(udp_payloads[i].name, name) == 0)
            return &udp_payloads[i];
    return NULL;
}

/* ============================================================== ICMP rate limits ===== *
 * A target's kernel drops ICMP errors past its limits, and a dropped port unreachable looks
 * like silence. Linux (6.18, measured): per peer a burst of 6 then 1/s for IPv4
 * (net.ipv4.icmp_ratelimit = 1000 ms) and 10/s for IPv6 (net.ipv6.icmp.ratelimit = 100 ms),
 * plus a global 1000/s (icmp_msgs_per_sec, burst 50); our own addresses (routed through lo)
 * are exempt from both.
 * So the engine paces a host once it sees evidence of drops:
 *  - an answer that only came to a resend (nmap's signal);
 *  - a silence from a host that sent us ICMP errors within UDP_PACE_MAX_NS of that probe
 *    (a host that answers some ports with ICMP and not others is most likely limited);
 *  - for loopback targets (whose limiter is our own kernel) instead of the previous rule: our
 *    kernel's drop counters grew (OutRateLimitGlobal/Host in /proc/net/snmp,
 *    Icmp6OutRateLimit* in /proc/net/snmp6). Loopback and our own addresses share one pace.
 * Each new drop seen under the host's current pace doubles its interval between sends (from
 * UDP_PACE_BASE_NS up to UDP_PACE_MAX_NS, the IPv4 default's 1/s; the loopback pace is at
 * most UDP_PACE_LOOPBACK_NS) and starts a new pace
 * generation. A silence heard under an older generation is not counted against the retries
 * (up to UDP_PACE_EXTRA_TRIES extra sends): the probe is asked again at the slower pace before
 * anything is called open|filtered. A host that never sends ICMP is never slowed down. */

#define UDP_PACE_SLOTS 4096
#define UDP_PACE_LOCKS 64
#define UDP_PACE_LOOPBACK_SLOT 0
#define UDP_PACE_BASE_NS (5 * 1000 * 1000ull)
#define UDP_PACE_MAX_NS (1000 * 1000 * 1000ull)
/* Loopback and our own addresses: only the global limit (icmp_msgs_per_sec, 1000/s) can apply,
 * so one probe per millisecond is always enough; slower would make a full scan take hours when
 * the namespace's drop counters grow for another reason. */
#define UDP_PACE_LOOPBACK_NS (1000 * 1000ull)
#define UDP_PACE_EXTRA_TRIES 12

struct udp_pace {
    uint64_t interval_ns;              /* 0 = not paced */
    uint64_t next_send_ns;
    uint64_t last_icmp_ns;             /* the last ICMP error from this host; 0 = none yet */
    uint32_t generation;
};

struct udp_pace_table {
    pthread_mutex_t locks[UDP_PACE_LOCKS];
    struct udp_pace slots[UDP_PACE_SLOTS];
};

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint32_t udp_pace_slot_of(const struct scan_address *host)
{
    if (scan_address_is_loopback(host))
        return UDP_PACE_LOOPBACK_SLOT;
    uint64_t h = host->family;
    size_t n = host->family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < n; i++)
        h = h * 131 + host->bytes[i];
    uint32_t slot = (uint32_t)(splitmix64(h) % (UDP_PACE_SLOTS - 1)) + 1;
    return slot;
}

static pthread_mutex_t *udp_pace_lock(struct udp_pace_table *table, uint32_t slot)
{
    return &table->locks[slot % UDP_PACE_LOCKS];
}

/* When the next probe to this slot may go (>= now), and the generation it goes under. */
static uint64_t udp_pace_reserve(struct udp_pace_table *table, uint32_t slot, uint64_t now,
                                 uint32_t *generation)
{
    pthread_mutex_t *lock = udp_pace_lock(table, slot);
    pthread_mutex_lock(lock);
    struct udp_pace *pace = &table->slots[slot];
    uint64_t at = now;
    if (pace->interval_ns) {
        if (pace->next_send_ns > at)
            at = pace->next_send_ns;
        pace->next_send_ns = at + pace->interval_ns;
    }
    *generation = pace->generation;
    pthread_mutex_unlock(lock);
    return at;
}

/* A drop was seen. Slow down once per generation: drops from probes sent under an older pace
 * say nothing about the current one (unless forced: the kernel counted new drops). */
static void udp_pace_drop(struct udp_pace_table *table, uint32_t slot, uint32_t probe_generation,
                          bool forced, uint64_t now)
{
    pthread_mutex_t *lock = udp_pace_lock(table, slot);
    pthread_mutex_lock(lock);
    struct udp_pace *pace = &table->slots[slot];
    uint64_t base = slot == UDP_PACE_LOOPBACK_SLOT ? UDP_PACE_LOOPBACK_NS : UDP_PACE_BASE_NS;
    uint64_t max = slot == UDP_PACE_LOOPBACK_SLOT ? UDP_PACE_LOOPBACK_NS : UDP_PACE_MAX_NS;
    if ((forced || probe_generation == pace->generation) && pace->interval_ns < max) {
        pace->interval_ns = pace->interval_ns ? pace->interval_ns * 2 : base;
        if (pace->interval_ns > max)
            pace->interval_ns = max;
        pace->generation++;
        if (pace->next_send_ns < now + pace->interval_ns)
            pace->next_send_ns = now + pace->interval_ns;
    }
    pthread_mutex_unlock(lock);
}

static uint32_t udp_pace_generation(struct udp_pace_table *table, uint32_t slot)
{
    pthread_mutex_t *lock = udp_pace_lock(table, slot);
    pthread_mutex_lock(lock);
    uint32_t generation = table->slots[slot].generation;
    pthread_mutex_unlock(lock);
    return generation;
}

static void udp_pace_icmp_seen(struct udp_pace_table *table, uint32_t slot, uint64_t now)
{
    pthread_mutex_t *lock = udp_pace_lock(table, slot);
    pthread_mutex_lock(lock);
    table->slots[slot].last_icmp_ns = now;
    pthread_mutex_unlock(lock);
}

/* Did the host send an ICMP error near the time a probe sent at sent_ns went out? */
static bool udp_pace_icmp_near(struct udp_pace_table *table, uint32_t slot, uint64_t sent_ns)
{
    pthread_mutex_t *lock = udp_pace_lock(table, slot);
    pthread_mutex_lock(lock);
    uint64_t last = table->slots[slot].last_icmp_ns;
    pthread_mutex_unlock(lock);
    return last != 0 && last + UDP_PACE_MAX_NS >= sent_ns;
}

/* Sum of the named counters in a /proc/net/snmp-style text: "Icmp: names\nIcmp: values" rows
 * (snmp) or "name value" rows (snmp6). */
static uint64_t udp_sum_snmp_counters(const char *text, const char *const *names)
{
    uint64_t sum = 0;
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *next = end ? end + 1 : NULL;
        if (len > 5 && strncmp(line, "Icmp:", 5) == 0 && next && strncmp(next, "Icmp:", 5) == 0) {
            /* header row then value row: walk both token by token */
            const char *h = line + 5, *v = next + 5;
            for (;;) {
                while (*h == ' ')
                    h++;
                while (*v == ' ')
                    v++;
                if (*h == '\n' || !*h || *v == '\n' || !*v)
                    break;
                size_t hl = strcspn(h, " \n"), vl = strcspn(v, " \n");
                for (size_t i = 0; names[i]; i++)
                    if (strlen(names[i]) == hl && strncmp(h, names[i], hl) == 0)
                        sum += strtoull(v, NULL, 10);
                h += hl;
                v += vl;
            }
            end = strchr(next, '\n');
            next = end ? end + 1 : NULL;
        } else {
            for (size_t i = 0; names[i]; i++) {
                size_t nl = strlen(names[i]);
                if (len > nl && strncmp(line, names[i], nl) == 0 &&
                    (line[nl] == ' ' || line[nl] == '\t'))
                    sum += strtoull(line + nl, NULL, 10);
            }
        }
        line = next;
    }
    return sum;
}

/* ICMP errors this network namespace's kernel did not send because of its rate limits. */
static uint64_t udp_local_icmp_ratelimited(void)
{
    static const char *const v4[] = { "OutRateLimitGlobal", "OutRateLimitHost", NULL };
    static const char *const v6[] = { "Icmp6OutRateLimitHost", "Icmp6OutRateLimitGlobal", NULL };
    uint64_t sum = 0;
    struct file_buffer buf;
    if (file_read_all("/proc/net/snmp", &buf, NULL) == 0) {
        sum += udp_sum_snmp_counters(buf.data, v4);
        file_buffer_free(&buf);
    }
    if (file_read_all("/proc/net/snmp6", &buf, NULL) == 0) {
        sum += udp_sum_snmp_counters(buf.data, v6);
        file_buffer_free(&buf);
    }
    return sum;
}

struct udp_local_icmp_watch {
    pthread_mutex_t lock;
    uint64_t seen;                     /* the counters' sum at the last read */
    uint64_t read_ns;                  /* when it was read */
};

/* True when our kernel dropped ICMP errors since the previous read. A read taken after
 * after_ns is reused (a loopback ICMP error is sent within microseconds of the probe). */
static bool udp_local_icmp_dropped(struct udp_local_icmp_watch *watch, uint64_t after_ns)
{
    bool dropped = false;
    pthread_mutex_lock(&watch->lock);
    if (watch->read_ns <= after_ns) {
        uint64_t now_count = udp_local_icmp_ratelimited();
        watch->read_ns = scan_now_ns();
        if (now_count > watch->seen) {
            watch->seen = now_count;
            dropped = true;
        }
    }
    pthread_mutex_unlock(&watch->lock);
    return dropped;
}

/* ======================================================================= engine ===== */

#define UDP_DEFAULT_TIMEOUT_MS 1000
#define UDP_MIN_TIMEOUT_US 100000u     /* nmap's --min-rtt-timeout default */
#define UDP_DEFAULT_INFLIGHT 2048
#define UDP_FD_RESERVE 64              /* descriptors left for the rest of the process */
#define UDP_LOCAL_ERROR_TRIES 8        /* local failures of one probe before it is an error */
#define UDP_MAX_THREADS 64
#define UDP_EVENTS 256
#define UDP_RECV_MAX 2048
#define NO_HEAP UINT32_MAX

enum udp_probe_state { PROBE_FREE, PROBE_WAITING, PROBE_SENT };

struct udp_probe {
    struct scan_address target;
    uint16_t port;
    uint8_t state;                     /* enum udp_probe_state */
    uint8_t attempts;                  /* datagrams sent */
    uint8_t silences;                  /* timeouts that counted against the retries */
    uint8_t local_failures;
    int fd;                            /* -1 until the socket exists */
    uint32_t cookie;
    uint32_t pace_slot, pace_generation;
    uint32_t heap_index;
    uint64_t timer_ns;                 /* WAITING: send then; SENT: give up then */
    uint64_t sent_ns;                  /* the last send */
    const struct udp_payload *payload;
};

struct udp_scan {
    const struct scan_job *job;
    struct scan_sink *sink;
    _Atomic uint64_t next_probe;
    uint32_t retries, timeout_us, initial_timeout_us, min_timeout_us, inflight_per_thread;
    double rate_per_thread;
    struct udp_pace_table *pace;
    struct udp_local_icmp_watch watch;
};

struct udp_worker {
    struct udp_scan *scan;
    pthread_t thread;
    bool started;
    int epoll_fd;
    struct udp_probe *probes;
    uint32_t capacity, active;
    uint32_t *free_slots, free_count;
    uint32_t *heap, heap_count;        /* min-heap of probe indices by timer_ns */
    bool exhausted;
    uint8_t sampled_slots[UDP_PACE_SLOTS / 8]; /* hosts (by pace slot) with an RTT sample */
    int fatal;                         /* negative errno when the loop had to stop */
    struct scan_rtt rtt;
    struct scan_rate rate;
};

/* ---- the timer heap ---- */

static void heap_set(struct udp_worker *w, uint32_t position, uint32_t probe)
{
    w->heap[position] = probe;
    w->probes[probe].heap_index = position;
}

static void heap_sift_up(struct udp_worker *w, uint32_t position)
{
    uint32_t probe = w->heap[position];
    uint64_t key = w->probes[probe].timer_ns;
    while (position > 0) {
        uint32_t parent = (position - 1) / 2;
        if (w->probes[w->heap[parent]].timer_ns <= key)
            break;
        heap_set(w, position, w->heap[parent]);
        position = parent;
    }
    heap_set(w, position, probe);
}

static void heap_sift_down(struct udp_worker *w, uint32_t position)
{
    uint32_t probe = w->heap[position];
    uint64_t key = w->probes[probe].timer_ns;
    for (;;) {
        uint32_t child = 2 * position + 1;
        if (child >= w->heap_count)
            break;
        if (child + 1 < w->heap_count &&
            w->probes[w->heap[child + 1]].timer_ns < w->probes[w->heap[child]].timer_ns)
            child++;
        if (w->probes[w->heap[child]].timer_ns >= key)
            break;
        heap_set(w, position, w->heap[child]);
        position = child;
    }
    heap_set(w, position, probe);
}

static void heap_remove(struct udp_worker *w, uint32_t probe)
{
    uint32_t position = w->probes[probe].heap_index;
    if (position == NO_HEAP)
        return;
    w->probes[probe].heap_index = NO_HEAP;
    uint32_t last = w->heap[--w->heap_count];
    if (position == w->heap_count)
        return;
    heap_set(w, position, last);
    heap_sift_up(w, position);
    heap_sift_down(w, w->probes[last].heap_index);
}

static void heap_schedule(struct udp_worker *w, uint32_t probe, uint64_t at_ns)
{
    heap_remove(w, probe);
    w->probes[probe].timer_ns = at_ns;
    heap_set(w, w->heap_count++, probe);
    heap_sift_up(w, w->heap_count - 1);
}

/* ---- results ---- */

struct udp_outcome {
    uint8_t state, reason, icmp_type, icmp_code, ttl;
    int error;
    const uint8_t *reply;
    size_t reply_len;
};

/* How long to wait for an answer to this probe's last send. */
static uint32_t udp_probe_timeout_us(const struct udp_worker *w, const struct udp_probe *p)
{
    uint32_t timeout_us = scan_rtt_timeout(&w->rtt, &p->target);
    if (timeout_us < w->scan->min_timeout_us)
        timeout_us = w->scan->min_timeout_us;
    if (timeout_us > w->scan->timeout_us)
        timeout_us = w->scan->timeout_us;
    return timeout_us;
}

/* The first probes go out before any round trip is known, with the initial (longest)
 * timeout; once a host's first sample comes in, its probes get the timeout that implies.
 * (Only that host's: another may still be resolving its neighbour entry.) */
static void udp_worker_rekey_timeouts(struct udp_worker *w, uint32_t slot)
{
    for (uint32_t i = 0; i < w->capacity; i++) {
        struct udp_probe *p = &w->probes[i];
        if (p->state != PROBE_SENT || p->pace_slot != slot)
            continue;
        uint64_t deadline = p->sent_ns + (uint64_t)udp_probe_timeout_us(w, p) * 1000;
        if (deadline < p->timer_ns)
            heap_schedule(w, i, deadline);
    }
}

static void udp_probe_finish(struct udp_worker *w, uint32_t index, const struct udp_outcome *o,
                             uint64_t now)
{
    struct udp_probe *p = &w->probes[index];
    struct scan_result result;
    memset(&result, 0, sizeof result);
    result.target = p->target;
    result.port = p->port;
    result.proto = REGISTRY_PROTO_UDP;
    result.state = o->state;
    result.reason = o->reason;
    result.icmp_type = o->icmp_type;
    result.icmp_code = o->icmp_code;
    result.reply_ttl = o->ttl;
    result.error = o->error;
    uint32_t rekey_slot = UINT32_MAX;
    bool answered = o->reason == SCAN_REASON_UDP_RESPONSE || o->reason == SCAN_REASON_ICMP;
    if (answered && p->attempts > 0 && now > p->sent_ns) {
        uint64_t rtt_us = (now - p->sent_ns) / 1000;
        result.rtt_us = rtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_us;
        if (p->attempts == 1) {        /* Karn: a resend's answer is ambiguous */
            scan_rtt_sample(&w->rtt, &p->target, result.rtt_us);
            uint32_t slot = p->pace_slot;
            if (!(w->sampled_slots[slot / 8] & (1u << (slot % 8)))) {
                w->sampled_slots[slot / 8] |= (uint8_t)(1u << (slot % 8));
                rekey_slot = slot;
            }
        }
        else                           /* silence, then an answer: an ICMP or reply was lost */
            udp_pace_drop(w->scan->pace, p->pace_slot, p->pace_generation, false, now);
    }
    if (o->reason == SCAN_REASON_ICMP)
        udp_pace_icmp_seen(w->scan->pace, p->pace_slot, now);
    if (o->reply && w->scan->job->banners) {
        size_t n = o->reply_len < SCAN_BANNER_MAX ? o->reply_len : SCAN_BANNER_MAX;
        memcpy(result.banner, o->reply, n);
        result.banner_len = (uint16_t)n;
    }
    scan_sink_emit(w->scan->sink, &result);

    heap_remove(w, index);
    if (p->fd >= 0)
        close(p->fd);                  /* also leaves the epoll set */
    p->fd = -1;
    p->state = PROBE_FREE;
    w->free_slots[w->free_count++] = index;
    w->active--;
    if (rekey_slot != UINT32_MAX)
        udp_worker_rekey_timeouts(w, rekey_slot);
}

static void udp_probe_finish_simple(struct udp_worker *w, uint32_t index, uint8_t state,
                                    uint8_t reason, int error, uint64_t now)
{
    struct udp_outcome o = { .state = state, .reason = reason, .error = error };
    udp_probe_finish(w, index, &o, now);
}

/* ---- ICMP errors ---- */

/* What an ICMP error says about the port: closed (port unreachable), filtered (any other
 * destination unreachable) or nothing (fragmentation needed / packet too big, time exceeded,
 * parameter problem: the probe may still get through, so keep waiting). */
static int udp_icmp_state(uint8_t origin, uint8_t type, uint8_t code)
{
    if (origin == SO_EE_ORIGIN_ICMP && type == 3)
        return code == 3 ? SCAN_STATE_CLOSED : code == 4 ? -1 : SCAN_STATE_FILTERED;
    if (origin == SO_EE_ORIGIN_ICMP6 && type == 1)
        return code == 4 ? SCAN_STATE_CLOSED : SCAN_STATE_FILTERED;
    return -1;
}

/* Drain the error queue. Returns 1 with o filled when an ICMP error decides the port, 0 when
 * nothing did, or a positive errno for a local error (origin LOCAL). */
static int udp_read_error_queue(int fd, struct udp_outcome *o)
{
    int verdict = 0;
    for (;;) {
        uint8_t data[64];
        union {
            char buf[512];
            struct cmsghdr align;
        } control;
        struct iovec iov = { data, sizeof data };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = control.buf, .msg_controllen = sizeof control.buf };
        if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            return verdict;            /* EAGAIN: queue empty */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
            bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
            if ((!v4 && !v6) || verdict == 1)
                continue;
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(c), sizeof ee);
            if (ee.ee_origin == SO_EE_ORIGIN_LOCAL) {
                verdict = ee.ee_errno ? (int)ee.ee_errno : EIO;
                continue;
            }
            int state = udp_icmp_state(ee.ee_origin, ee.ee_type, ee.ee_code);
            if (state < 0)
                continue;
            o->state = (uint8_t)state;
            o->reason = SCAN_REASON_ICMP;
            o->icmp_type = ee.ee_type;
            o->icmp_code = ee.ee_code;
            verdict = 1;
        }
    }
}

/* ---- sending ---- */

static int udp_probe_open_socket(struct udp_worker *w, struct udp_probe *p, uint32_t index)
{
    struct sockaddr_storage to, local;
    socklen_t to_len = scan_address_to_sockaddr(&p->target, p->port, &to);
    bool v6 = p->target.family == AF_INET6;
    /* A connected socket whose ephemeral port equals the target port on the same address
     * would talk to itself: take another port (a few tries). */
    for (int attempt = 0; attempt < 4; attempt++) {
        int fd = socket(p->target.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        int on = 1;
        if (setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVERR : IP_RECVERR, &on,
                       sizeof on) < 0 ||
            setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVHOPLIMIT : IP_RECVTTL, &on,
                       sizeof on) < 0 ||
            connect(fd, (struct sockaddr *)&to, to_len) < 0) {
            int saved = errno;
            close(fd);
            return -saved;
        }
        socklen_t local_len = sizeof local;
        if (getsockname(fd, (struct sockaddr *)&local, &local_len) == 0 && local_len == to_len) {
            if (memcmp(&local, &to, to_len) == 0) {
                close(fd);
                continue;
            }
            /* The kernel picked the target itself as source: one of our own addresses,
             * answered by our own kernel, whose ICMP limits are the loopback slot's. */
            const void *ours = v6 ? (const void *)&((struct sockaddr_in6 *)&local)->sin6_addr
                                  : (const void *)&((struct sockaddr_in *)&local)->sin_addr;
            if (memcmp(ours, p->target.bytes, v6 ? 16 : 4) == 0)
                p->pace_slot = UDP_PACE_LOOPBACK_SLOT;
        }
        struct epoll_event event = { .events = EPOLLIN, .data.u32 = index };
        if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &event) < 0) {
            int saved = errno;
            close(fd);
            return -saved;
        }
        p->fd = fd;
        return 0;
    }
    return -EADDRINUSE;
}

static bool udp_errno_is_unreachable(int e)
{
    return e == ENETUNREACH || e == EHOSTUNREACH;
}

/* A local failure (EMFILE, ENOBUFS, EADDRNOTAVAIL, EPERM from our own firewall...): try again
 * later with a growing back-off; only a persistent one is reported, as an error. */
static void udp_probe_local_failure(struct udp_worker *w, uint32_t index, int error,
                                    uint64_t now)
{
    struct udp_probe *p = &w->probes[index];
    if (++p->local_failures >= UDP_LOCAL_ERROR_TRIES) {
        udp_probe_finish_simple(w, index, SCAN_STATE_ERROR, SCAN_REASON_LOCAL_ERROR, error, now);
        return;
    }
    p->state = PROBE_WAITING;
    heap_schedule(w, index, now + (UINT64_C(1000000) << p->local_failures)); /* 2 ms .. 128 ms */
}

/* A socket call failed with e: a refusal is a closed port (the ICMP's details were not
 * there to read), no route is filtered, anything else is a local failure. */
static void udp_probe_finish_errno(struct udp_worker *w, uint32_t index, int e, uint64_t now)
{
    if (e == ECONNREFUSED) {
        bool v6 = w->probes[index].target.family == AF_INET6;
        struct udp_outcome closed = { .state = SCAN_STATE_CLOSED, .reason = SCAN_REASON_ICMP,
                                      .icmp_type = v6 ? 1 : 3, .icmp_code = v6 ? 4 : 3 };
        udp_probe_finish(w, index, &closed, now);
    } else if (udp_errno_is_unreachable(e)) {
        udp_probe_finish_simple(w, index, SCAN_STATE_FILTERED, SCAN_REASON_HOST_UNREACHABLE, e,
                                now);
    } else {
        udp_probe_local_failure(w, index, e, now);
    }
}

static void udp_probe_handle_readable(struct udp_worker *w, uint32_t index, uint64_t now);

/* Send (or resend) now. */
static void udp_probe_send(struct udp_worker *w, uint32_t index, uint64_t now)
{
    struct udp_probe *p = &w->probes[index];
    if (p->fd < 0) {
        int r = udp_probe_open_socket(w, p, index);
        if (r < 0) {
            if (r == -ECONNREFUSED)    /* not a connect() answer for UDP: a local failure */
                udp_probe_local_failure(w, index, -r, now);
            else
                udp_probe_finish_errno(w, index, -r, now);
            return;
        }
    }
    uint8_t datagram[UDP_PAYLOAD_MAX];
    size_t len = p->payload->make(datagram, p->cookie);
    if (send(p->fd, datagram, len, 0) < 0) {
        int e = errno;
        /* ECONNREFUSED here is the pending error of an earlier attempt's ICMP: its details
         * are still in the error queue. */
        if (e == ECONNREFUSED) {
            udp_probe_handle_readable(w, index, now);
            if (w->probes[index].state != PROBE_FREE && w->probes[index].heap_index == NO_HEAP)
                udp_probe_finish_errno(w, index, e, now);
            return;
        }
        udp_probe_finish_errno(w, index, e, now);
        return;
    }
    p->attempts++;
    p->sent_ns = now;
    p->local_failures = 0;
    struct scan_progress *progress = w->scan->sink->progress;
    if (progress)
        atomic_fetch_add(p->attempts == 1 ? &progress->sent : &progress->retries, 1);
    p->state = PROBE_SENT;
    heap_schedule(w, index, now + (uint64_t)udp_probe_timeout_us(w, p) * 1000);
}

/* Send now, or wait for the host's pace (and keep the generation the send goes under). */
static void udp_probe_dispatch(struct udp_worker *w, uint32_t index, uint64_t now)
{
    struct udp_probe *p = &w->probes[index];
    uint64_t at = udp_pace_reserve(w->scan->pace, p->pace_slot, now, &p->pace_generation);
    if (at <= now) {
        udp_probe_send(w, index, now);
    } else {
        p->state = PROBE_WAITING;
        heap_schedule(w, index, at);
    }
}

/* The timeout passed with no answer. */
static void udp_probe_silence(struct udp_worker *w, uint32_t index, uint64_t now)
{
    struct udp_probe *p = &w->probes[index];
    struct udp_scan *scan = w->scan;
    if (p->pace_slot == UDP_PACE_LOOPBACK_SLOT) {
        if (udp_local_icmp_dropped(&scan->watch, p->sent_ns + 1000000))
            udp_pace_drop(scan->pace, p->pace_slot, p->pace_generation, true, now);
    } else if (udp_pace_icmp_near(scan->pace, p->pace_slot, p->sent_ns)) {
        udp_pace_drop(scan->pace, p->pace_slot, p->pace_generation, false, now);
    }
    /* Heard under a pace since found too fast: the ICMP may have been dropped, ask again. */
    bool stale = p->pace_generation != udp_pace_generation(scan->pace, p->pace_slot);
    if (!stale)
        p->silences++;
    if (p->silences <= scan->retries && p->attempts < 1 + scan->retries + UDP_PACE_EXTRA_TRIES) {
        /* resend at the host's pace; the timer loop takes a rate token for it */
        p->state = PROBE_WAITING;
        heap_schedule(w, index, udp_pace_reserve(scan->pace, p->pace_slot, now,
                                                 &p->pace_generation));
        return;
    }
    udp_probe_finish_simple(w, index, SCAN_STATE_OPEN_FILTERED, SCAN_REASON_TIMEOUT, 0, now);
}

/* ---- receiving ---- */

static void udp_probe_handle_readable(struct udp_worker *w, uint32_t index, uint64_t now)
{
    struct udp_probe *p = &w->probes[index];
    struct udp_outcome o = { 0 };

    /* A datagram first: any datagram from the target means open. */
    uint8_t reply[UDP_RECV_MAX];
    union {
        char buf[128];
        struct cmsghdr align;
    } control;
    struct iovec iov = { reply, sizeof reply };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    int error_queue = udp_read_error_queue(p->fd, &o);
    ssize_t n = recvmsg(p->fd, &msg, MSG_DONTWAIT);
    int recv_errno = n < 0 ? errno : 0;
    if (n >= 0) {
        struct udp_outcome open = { .state = SCAN_STATE_OPEN,
                                    .reason = SCAN_REASON_UDP_RESPONSE, .reply = reply,
                                    .reply_len = (size_t)n };
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            int ttl;
            if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL) ||
                (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
                memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
                open.ttl = (uint8_t)ttl;
            }
        }
        udp_probe_finish(w, index, &open, now);
        return;
    }
    if (error_queue == 1) {
        udp_probe_finish(w, index, &o, now);
    } else if (recv_errno != EAGAIN && recv_errno != EWOULDBLOCK && recv_errno != EINTR) {
        udp_probe_finish_errno(w, index, recv_errno, now);
    } else if (error_queue > 1) {       /* a local error on the way out: send again later */
        udp_probe_local_failure(w, index, error_queue, now);
    }
    /* else: nothing decisive (e.g. packet too big); the timer still runs */
}

/* ---- the loop ---- */

static bool udp_take_token(struct udp_worker *w, uint64_t now)
{
    return w->scan->rate_per_thread <= 0 || scan_rate_take(&w->rate, 1, now) == 1;
}

static void udp_worker_start_probes(struct udp_worker *w, uint64_t now)
{
    const struct scan_job *job = w->scan->job;
    while (!w->exhausted && w->free_count > 0) {
        if (!udp_take_token(w, now))
            return;
        uint64_t k = atomic_fetch_add(&w->scan->next_probe, 1);
        if (k >= job->probe_count) {
            w->exhausted = true;
            return;
        }
        uint32_t index = w->free_slots[--w->free_count];
        struct udp_probe *p = &w->probes[index];
        memset(p, 0, sizeof *p);
        p->fd = -1;
        p->heap_index = NO_HEAP;
        scan_job_probe(job, k, &p->target, &p->port);
        p->payload = udp_payload_for_port(p->port);
        p->cookie = (uint32_t)splitmix64(job->seed ^ (k * 0x100000001b3ull));
        p->pace_slot = udp_pace_slot_of(&p->target);
        p->state = PROBE_WAITING;
        w->active++;
        /* The socket first: connecting it tells whether the target is one of our own
         * addresses (the pace slot). A failure is retried by the send path. */
        int r = udp_probe_open_socket(w, p, index);
        if (r < 0) {
            if (r == -ECONNREFUSED)
                udp_probe_local_failure(w, index, -r, now);
            else
                udp_probe_finish_errno(w, index, -r, now);
            continue;
        }
        udp_probe_dispatch(w, index, now);
    }
}

static void udp_worker_fire_timers(struct udp_worker *w, uint64_t now)
{
    while (w->heap_count > 0) {
        uint32_t index = w->heap[0];
        struct udp_probe *p = &w->probes[index];
        if (p->timer_ns > now)
            return;
        if (p->state == PROBE_SENT) {
            udp_probe_silence(w, index, now);
        } else if (udp_take_token(w, now)) {
            heap_remove(w, index);
            udp_probe_send(w, index, now);
        } else {
            heap_schedule(w, index, now + scan_rate_wait_ns(&w->rate, now) + 1000);
        }
    }
}

static void *udp_worker_loop(void *arg)
{
    struct udp_worker *w = arg;
    struct epoll_event events[UDP_EVENTS];
    for (;;) {
        uint64_t now = scan_now_ns();
        udp_worker_fire_timers(w, now);
        udp_worker_start_probes(w, now);
        if (w->exhausted && w->active == 0)
            break;
        struct timespec wait = { 0, 0 }, *wait_ptr = NULL;
        uint64_t wait_ns = UINT64_MAX;
        if (w->heap_count > 0)
            wait_ns = w->probes[w->heap[0]].timer_ns > now ? w->probes[w->heap[0]].timer_ns - now
                                                            : 0;
        if (!w->exhausted && w->free_count > 0 && w->scan->rate_per_thread > 0) {
            uint64_t token_ns = scan_rate_wait_ns(&w->rate, now) + 1000;
            if (token_ns < wait_ns)
                wait_ns = token_ns;
        }
        if (wait_ns != UINT64_MAX) {
            wait.tv_sec = (time_t)(wait_ns / 1000000000u);
            wait.tv_nsec = (long)(wait_ns % 1000000000u);
            wait_ptr = &wait;
        }
        int n = epoll_pwait2(w->epoll_fd, events, UDP_EVENTS, wait_ptr, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            w->fatal = -errno;
            break;
        }
        now = scan_now_ns();
        for (int i = 0; i < n; i++) {
            uint32_t index = events[i].data.u32;
            if (index < w->capacity && w->probes[index].state != PROBE_FREE &&
                w->probes[index].fd >= 0)
                udp_probe_handle_readable(w, index, now);
        }
    }
    /* Only after a failed epoll_wait: every probe still held gets its one result. */
    uint64_t now = scan_now_ns();
    for (uint32_t i = 0; i < w->capacity; i++)
        if (w->probes[i].state != PROBE_FREE)
            udp_probe_finish_simple(w, i, SCAN_STATE_ERROR, SCAN_REASON_LOCAL_ERROR,
                                    -w->fatal, now);
    return NULL;
}

static void udp_worker_free(struct udp_worker *w)
{
    if (!w)
        return;
    if (w->epoll_fd >= 0)
        close(w->epoll_fd);
    free(w->probes);
    free(w->free_slots);
    free(w->heap);
    free(w);
}

static struct udp_worker *udp_worker_new(struct udp_scan *scan, uint64_t now)
{
    struct udp_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->scan = scan;
    w->capacity = scan->inflight_per_thread;
    w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    w->probes = calloc(w->capacity, sizeof *w->probes);
    w->free_slots = calloc(w->capacity, sizeof *w->free_slots);
    w->heap = calloc(w->capacity, sizeof *w->heap);
    if (w->epoll_fd < 0 || !w->probes || !w->free_slots || !w->heap) {
        udp_worker_free(w);
        return NULL;
    }
    for (uint32_t i = 0; i < w->capacity; i++) {
        w->probes[i].fd = -1;
        w->probes[i].heap_index = NO_HEAP;
        w->free_slots[i] = w->capacity - 1 - i;
    }
    w->free_count = w->capacity;
    scan_rtt_init(&w->rtt, scan->min_timeout_us, scan->initial_timeout_us, scan->timeout_us);
    scan_rate_init(&w->rate, scan->rate_per_thread, now);
    return w;
}

/* Raise the soft descriptor limit to the hard one and return how many more descriptors this
 * process may open, keeping UDP_FD_RESERVE for everything else. */
static uint64_t udp_descriptor_budget(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
        return 256;
    if (limit.rlim_cur < limit.rlim_max) {
        struct rlimit raised = { limit.rlim_max, limit.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit.rlim_cur = limit.rlim_max;
    }
    uint64_t open_now = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (dir) {
        while (readdir(dir))
            open_now++;
        closedir(dir);
    }
    uint64_t soft = limit.rlim_cur == RLIM_INFINITY ? (1u << 20) : (uint64_t)limit.rlim_cur;
    uint64_t used = open_now + UDP_FD_RESERVE;
    return soft > used + 16 ? soft - used : 16;
}

static int udp_usable(struct pr_error *err)
{
    (void)err;
    return 0;                          /* plain sockets: no privilege needed */
}

static int udp_run(const struct scan_job *job, struct scan_sink *sink, struct pr_error *err)
{
    if (job->probe_count == 0)
        return 0;
    struct udp_scan scan;
    memset(&scan, 0, sizeof scan);
    scan.job = job;
    scan.sink = sink;
    atomic_init(&scan.next_probe, 0);
    scan.retries = SCAN_JOB_RETRIES(job);
    if (scan.retries > 100)
        scan.retries = 100;
    scan_job_rtt_bounds(job, UDP_DEFAULT_TIMEOUT_MS, UDP_MIN_TIMEOUT_US, &scan.min_timeout_us,
                        &scan.initial_timeout_us, &scan.timeout_us);

    uint64_t threads = job->threads ? job->threads : scan_cpu_count();
    if (threads > UDP_MAX_THREADS)
        threads = UDP_MAX_THREADS;
    if (threads > job->probe_count)
        threads = job->probe_count;
    uint64_t inflight = job->max_inflight ? job->max_inflight : UDP_DEFAULT_INFLIGHT;
    uint64_t budget = udp_descriptor_budget();
    if (inflight > budget)
        inflight = budget;
    if (inflight < threads)
        threads = inflight;
    scan.inflight_per_thread = (uint32_t)(inflight / threads);
    scan.rate_per_thread = job->rate_pps > 0 ? job->rate_pps / (double)threads : 0;

    scan.pace = calloc(1, sizeof *scan.pace);
    if (!scan.pace)
        return pr_error_set(err, -ENOMEM, "udp scan: out of memory");
    for (size_t i = 0; i < UDP_PACE_LOCKS; i++)
        pthread_mutex_init(&scan.pace->locks[i], NULL);
    pthread_mutex_init(&scan.watch.lock, NULL);
    scan.watch.seen = udp_local_icmp_ratelimited();
    scan.watch.read_ns = scan_now_ns();

    struct udp_worker *workers[UDP_MAX_THREADS] = { 0 };
    uint64_t now = scan_now_ns();
    int result = 0;
    uint32_t started = 0;
    for (uint64_t i = 0; i < threads; i++) {
        workers[i] = udp_worker_new(&scan, now);
        if (!workers[i]) {
            result = pr_error_set(err, -ENOMEM, "udp scan: cannot set up a worker: %s",
                                  strerror(errno ? errno : ENOMEM));
            break;
        }
    }
    if (result == 0) {
        for (uint64_t i = 0; i < threads; i++) {
            if (pthread_create(&workers[i]->thread, NULL, udp_worker_loop, workers[i]) == 0) {
                workers[i]->started = true;
                started++;
            }
        }
        if (started == 0)
            result = pr_error_set(err, -EAGAIN, "udp scan: cannot start a thread");
        /* Threads that did not start leave their share to the others (one shared counter). */
        for (uint64_t i = 0; i < threads; i++)
            if (workers[i]->started)
                pthread_join(workers[i]->thread, NULL);
        for (uint64_t i = 0; i < threads && result == 0; i++)
            if (workers[i]->fatal)
                result = pr_error_set(err, workers[i]->fatal, "udp scan: epoll_wait: %s",
                                      strerror(-workers[i]->fatal));
    }
    for (uint64_t i = 0; i < threads; i++)
        udp_worker_free(workers[i]);
    for (size_t i = 0; i < UDP_PACE_LOCKS; i++)
        pthread_mutex_destroy(&scan.pace->locks[i]);
    pthread_mutex_destroy(&scan.watch.lock);
    free(scan.pace);
    return result;
}

const struct scan_engine scan_engine_udp = {
    .name = "udp",
    .proto = REGISTRY_PROTO_UDP,
    .summary = "UDP probes (DNS, NTP, SNMP payloads; empty datagram elsewhere), no privileges",
    .usable = udp_usable,
    .run = udp_run,
};
