/* fuzz_sockdiag.c — libFuzzer harness for sockdiag_parse_message() (src/lib/net/sockdiag.c).
 * Input: one byte choosing the protocol (value % 4: 0 = an invalid one, 1 TCP, 2 UDP, 3 SCTP),
 * then a netlink batch as recvmsg() returns it, copied into an exactly sized heap buffer so
 * ASan sees any read past it. Each message of the batch is parsed in turn; a parsed entry must
 * be self-consistent and a refused one must leave the entry zeroed. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>

#include "net/sockdiag.h"
#include "registry/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz_is_zero(const void *bytes, size_t size)
{
    const uint8_t *p = bytes;
    for (size_t i = 0; i < size; i++)
        if (p[i])
            return false;
    return true;
}

static void fuzz_check_entry(int r, uint8_t proto, const struct socket_entry *e)
{
    if (r != 1 && r != 0 && r != -22 /* -EINVAL */)
        abort();
    if (r != 1) {
        if (!fuzz_is_zero(e, sizeof *e))
            abort();
        return;
    }
    if (e->proto != proto || (e->family != AF_INET && e->family != AF_INET6) || e->netns != 0)
        abort();
    if (e->family == AF_INET &&
        (e->v6only || !fuzz_is_zero(e->local_addr + 4, 12) || !fuzz_is_zero(e->peer_addr + 4, 12)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const uint8_t protos[4] = {
        REGISTRY_PROTO_ANY, REGISTRY_PROTO_TCP, REGISTRY_PROTO_UDP, REGISTRY_PROTO_SCTP,
    };
    uint8_t proto = protos[data[0] % 4];
    size_t len = size - 1;
    uint8_t *batch = malloc(len ? len : 1);
    if (!batch)
        return 0;
    memcpy(batch, data + 1, len);

    size_t offset = 0;
    do {
        struct socket_entry entry;
        memset(&entry, 0x5a, sizeof entry);
        int r = sockdiag_parse_message(batch + offset, len - offset, proto, &entry);
        fuzz_check_entry(r, proto, &entry);
        if (r < 0 || len - offset < sizeof(struct nlmsghdr))
            break;
        struct nlmsghdr header;
        memcpy(&header, batch + offset, sizeof header);
        size_t step = NLMSG_ALIGN((size_t)header.nlmsg_len);
        if (step == 0 || step >= len - offset)
            break;
        offset += step;
    } while (offset < len);

    free(batch);
    return 0;
}
