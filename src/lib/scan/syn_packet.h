/* syn_packet.h — the syn engine's pure pieces: the SYN cookie (a keyed XXH3 of target address,
 * target port and source port, sent as the sequence number, so a reply proves which probe it
 * answers without any state), building a probe, parsing replies (TCP SYN-ACK/RST, ICMP and
 * ICMPv6 destination-unreachable quoting a probe) and the classic BPF filters that keep every
 * other packet of the host in the kernel. Defined in engine_syn.c; declared here for tests. */
#ifndef PORTREG_SCAN_SYN_PACKET_H
#define PORTREG_SCAN_SYN_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/scan_result.h"

/* A probe: a 20-byte TCP header plus the MSS option (as nmap sends), no IP header (the kernel
 * builds it for a raw socket without IP_HDRINCL). */
#define SYN_PROBE_LEN 24
#define SYN_PROBE_WINDOW 1024
#define SYN_PROBE_MSS 1460

#define SYN_TCP_FLAG_FIN 0x01
#define SYN_TCP_FLAG_SYN 0x02
#define SYN_TCP_FLAG_RST 0x04
#define SYN_TCP_FLAG_ACK 0x10

struct syn_cookie_key {
    uint64_t seed;                     /* random per scan; never leaves the process */
};

/* The sequence number of the probe to target:target_port from source_port. */
uint32_t syn_cookie(const struct syn_cookie_key *key, const struct scan_address *target,
                    uint16_t target_port, uint16_t source_port);

/* The TCP checksum (RFC 793 pseudo-header for IPv4, RFC 8200 for IPv6) of segment, whose
 * checksum field must be zero; returned in host order, ready for htons(). */
uint16_t syn_tcp_checksum(const struct scan_address *source, const struct scan_address *destination,
                          const uint8_t *segment, size_t len);

/* Write the SYN probe (header, MSS option, checksum) into packet. */
void syn_probe_build(uint8_t packet[SYN_PROBE_LEN], const struct scan_address *source,
                     const struct scan_address *target, uint16_t source_port,
                     uint16_t target_port, uint32_t seq);

enum syn_reply_kind {
    SYN_REPLY_SYN_ACK,
    SYN_REPLY_RST,
    SYN_REPLY_ICMP,                    /* destination unreachable quoting one of our SYNs */
};

/* A reply, reduced to what decides which probe it answers and what it says. */
struct syn_reply {
    uint8_t kind;                      /* enum syn_reply_kind */
    struct scan_address target;        /* the probed address (the quoted one for ICMP) */
    uint16_t target_port;
    uint16_t source_port;              /* our port */
    uint32_t probe_seq;                /* the probe's sequence number: ack - 1, or quoted seq */
    uint8_t ttl;                       /* TTL / hop limit of the reply; 0 when unknown */
    uint8_t icmp_type, icmp_code;
};

/* A packet read from a raw TCP socket: IPv4 from the IP header on; IPv6 from the TCP header
 * on, with the sender and hop limit from recvmsg (hop_limit 0 when unknown).
 * 0 for a SYN-ACK or an RST; -EINVAL for anything else (truncated, a fragment, a SYN...). */
int syn_reply_parse_tcp(int family, const uint8_t *packet, size_t len,
                        const struct scan_address *sender6, uint8_t hop_limit,
                        struct syn_reply *reply);
/* A packet read from a raw ICMP (IPv4, from the IP header) or ICMPv6 socket (from the ICMPv6
 * header): 0 for a destination unreachable that quotes a TCP segment; -EINVAL otherwise. */
int syn_reply_parse_icmp(int family, const uint8_t *packet, size_t len, uint8_t hop_limit,
                         struct syn_reply *reply);
/* True when reply answers a probe this scan sent from source_port: the port matches and the
 * probe's sequence number is the cookie of (target, target port, source port). */
bool syn_reply_is_ours(const struct syn_cookie_key *key, const struct syn_reply *reply,
                       uint16_t source_port);

/* Attach the classic BPF filter to fd that passes only what a raw TCP socket of family needs:
 * segments to port with SYN+ACK or RST set (IPv4: not a non-first fragment). 0 or -errno. */
int syn_filter_attach_tcp(int fd, int family, uint16_t port);
/* The same for a raw ICMP / ICMPv6 socket: destination unreachable quoting a TCP segment
 * sent from port. */
int syn_filter_attach_icmp(int fd, int family, uint16_t port);

#endif
