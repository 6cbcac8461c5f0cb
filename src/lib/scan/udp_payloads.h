/* udp_payloads.h — the udp engine's probe payloads, chosen by destination port as zmap's probe
 * modules are: a table of { name, ports, make, validate }. A service only answers a request it
 * understands, so a DNS server gets a DNS query, an NTP server a client request and an SNMP
 * agent a get-request; every other port gets an empty datagram. `make` writes the datagram for
 * a probe cookie (DNS id, NTP transmit time, SNMP request-id); `validate` says whether a reply
 * answers it. The engine counts any datagram as open; validate is for callers and tests. */
#ifndef PORTREG_SCAN_UDP_PAYLOADS_H
#define PORTREG_SCAN_UDP_PAYLOADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest datagram any payload writes. */
#define UDP_PAYLOAD_MAX 64

struct udp_payload {
    const char *name;                  /* "dns", "ntp", "snmp", "empty" */
    uint16_t ports[4];                 /* ports it is sent to; 0 ends the list */
    /* Write the datagram for cookie into buf (UDP_PAYLOAD_MAX bytes); returns its length. */
    size_t (*make)(uint8_t *buf, uint32_t cookie);
    /* True when reply (len bytes) is a well-formed answer to the datagram made with cookie. */
    bool (*validate)(const uint8_t *reply, size_t len, uint32_t cookie);
};

/* The table, last entry the generic empty datagram (no ports). */
extern const struct udp_payload udp_payloads[];
extern const size_t udp_payload_count;

/* The payload sent to port: a specific one, else the empty datagram. Never NULL. */
const struct udp_payload *udp_payload_for_port(uint16_t port);
/* By name ("dns"...); NULL when unknown. */
const struct udp_payload *udp_payload_find(const char *name);

/* The fields the payloads derive from a cookie (tests rebuild them). */
uint16_t udp_payload_dns_id(uint32_t cookie);
int32_t udp_payload_snmp_request_id(uint32_t cookie);

#endif
