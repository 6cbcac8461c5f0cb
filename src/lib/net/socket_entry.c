/* socket_entry.c — socket list growth, state names as ss spells them, address text. */
#include "net/socket_entry.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util/proto.h"

struct socket_entry *socket_list_append(struct socket_list *list)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 1024;
        struct socket_entry *items = realloc(list->items, capacity * sizeof *items);
        if (!items)
            return NULL;
        list->items = items;
        list->capacity = capacity;
    }
    struct socket_entry *e = &list->items[list->count++];
    memset(e, 0, sizeof *e);
    return e;
}

void socket_list_free(struct socket_list *list)
{
    free(list->items);
    memset(list, 0, sizeof *list);
}

static const char *const state_names[] = {
    [SOCKET_STATE_ESTABLISHED] = "ESTAB",      [SOCKET_STATE_SYN_SENT] = "SYN-SENT",
    [SOCKET_STATE_SYN_RECV] = "SYN-RECV",      [SOCKET_STATE_FIN_WAIT1] = "FIN-WAIT-1",
    [SOCKET_STATE_FIN_WAIT2] = "FIN-WAIT-2",   [SOCKET_STATE_TIME_WAIT] = "TIME-WAIT",
    [SOCKET_STATE_CLOSE] = "UNCONN",           [SOCKET_STATE_CLOSE_WAIT] = "CLOSE-WAIT",
    [SOCKET_STATE_LAST_ACK] = "LAST-ACK",      [SOCKET_STATE_LISTEN] = "LISTEN",
    [SOCKET_STATE_CLOSING] = "CLOSING",        [SOCKET_STATE_NEW_SYN_RECV] = "NEW-SYN-RECV",
};

const char *socket_state_name(uint8_t proto, uint8_t state)
{
    (void)proto;
    if (state < sizeof state_names / sizeof state_names[0] && state_names[state])
        return state_names[state];
    return "UNKNOWN";
}

uint32_t socket_state_parse(const char *name)
{
    static const struct { const char *name; uint32_t mask; } aliases[] = {
        { "established", 1u << SOCKET_STATE_ESTABLISHED },
        { "listening", 1u << SOCKET_STATE_LISTEN },
        { "unconnected", 1u << SOCKET_STATE_CLOSE },
        { "close", 1u << SOCKET_STATE_CLOSE },
        { "all", SOCKET_STATE_ALL },
        { "connected", SOCKET_STATE_ALL & ~((1u << SOCKET_STATE_LISTEN) | (1u << SOCKET_STATE_CLOSE)) },
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].name) == 0)
            return aliases[i].mask;
    for (unsigned s = 1; s < sizeof state_names / sizeof state_names[0]; s++)
        if (state_names[s] && strcasecmp(name, state_names[s]) == 0)
            return 1u << s;
    return 0;
}

const char *socket_address_text(uint8_t family, const uint8_t addr[16], char *buf, size_t size)
{
    if (family == AF_INET && size >= INET_ADDRSTRLEN) {
        /* by hand: glibc's inet_ntop formats IPv4 through sprintf, the hot spot of a listing */
        char *at = buf;
        for (int i = 0; i < 4; i++) {
            unsigned v = addr[i];
            if (v >= 100)
                *at++ = (char)('0' + v / 100);
            if (v >= 10)
                *at++ = (char)('0' + v / 10 % 10);
            *at++ = (char)('0' + v % 10);
            *at++ = i < 3 ? '.' : '\0';
        }
        return buf;
    }
    if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)size))
        snprintf(buf, size, "?");
    return buf;
}
