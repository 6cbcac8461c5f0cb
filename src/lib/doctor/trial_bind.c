/* trial_bind.c — the trial bind (see trial_bind.h). The socket is created while the thread's
 * filesystem uid is the planned uid (the kernel stamps sk_uid from it), then the fsuid is put
 * back; flags are set as the plan says, including IPV6_V6ONLY off explicitly for dual-stack. */
#include "doctor/trial_bind.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <unistd.h>

#include "registry/record.h"

static int create_socket_as(const struct bindsim_plan *plan, struct trial_bind_result *out)
{
    int type = (plan->proto == REGISTRY_PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC;
    uid_t previous = (uid_t)setfsuid((uid_t)-1);
    bool switched = false;
    if (plan->uid != previous) {
        setfsuid((uid_t)plan->uid);
        switched = (uint32_t)setfsuid((uid_t)-1) == plan->uid;
    }
    int fd = socket(plan->family, type, 0);
    int saved = errno;
    if (switched)
        setfsuid(previous);
    out->uid = switched ? plan->uid : (uint32_t)previous;
    out->as_planned_uid = out->uid == plan->uid;
    errno = saved;
    return fd;
}

static int set_flag(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value);
}

int trial_bind_run(const struct bindsim_plan *plan, struct trial_bind_result *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    int fd = create_socket_as(plan, out);
    if (fd < 0) {
        int e = errno;
        if (e == EAFNOSUPPORT)
            return pr_error_set(err, -e, "this host has no %s sockets", plan->family == AF_INET6 ? "IPv6" : "IPv4");
        out->bind_errno = e;
        out->step = "socket";
        return 0;
    }
    int rc = 0;
    if (plan->reuseaddr)
        rc = set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (rc == 0 && plan->reuseport)
        rc = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (rc == 0 && plan->family == AF_INET6)
        rc = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, plan->v6only ? 1 : 0);
    if (rc == 0 && plan->device_ifindex)
        rc = set_flag(fd, SOL_SOCKET, SO_BINDTOIFINDEX, (int)plan->device_ifindex);
    if (rc < 0) {
        out->bind_errno = errno;
        out->step = "setsockopt";
        close(fd);
        return 0;
    }
    if (plan->family == AF_INET6) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(plan->port) };
        memcpy(&a.sin6_addr, plan->address, 16);
        rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(plan->port) };
        memcpy(&a.sin_addr, plan->address, 4);
        rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    }
    if (rc < 0) {
        out->bind_errno = errno;
        out->step = "bind";
    }
    close(fd);
    return 0;
}

enum bindsim_verdict trial_bind_verdict(const struct trial_bind_result *r)
{
    if (r->bind_errno == 0)
        return BINDSIM_FREE;
    return r->bind_errno == EADDRINUSE ? BINDSIM_BLOCKED : BINDSIM_UNKNOWN;
}
