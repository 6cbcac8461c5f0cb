/* bindcase.c — test helper for `portreg check`: create sockets in the exact situation a case
 * needs (SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY, SO_BINDTODEVICE, another uid, a TIME_WAIT or
 * FIN_WAIT2 left by a real connection the server closed first), print them, hold them.
 * Usage: bindcase SPEC...   SPEC = tcp4|tcp6|udp4|udp6 ":" ADDR ":" PORT {":" FLAG}
 *   FLAG = bound | reuseaddr | reuseport | v6only | dual | dev=IF | uid=N | timewait | finwait */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <unistd.h>

struct case_spec {
    int family, type;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool bound_only, reuseaddr, reuseport, timewait, finwait;
    int v6only;                 /* -1: leave the default */
    unsigned ifindex;
    long uid;                   /* -1: ours */
};

static int fail(const char *what, const char *spec)
{
    fprintf(stderr, "bindcase: %s: %s: %s\n", spec, what, strerror(errno));
    return -1;
}

static int parse_spec(const char *text, struct case_spec *c)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    memset(c, 0, sizeof *c);
    c->v6only = -1;
    c->uid = -1;
    char *kind = buf, *rest = strchr(buf, ':');
    if (!rest)
        return -1;
    *rest++ = '\0';
    c->type = strncmp(kind, "tcp", 3) == 0 ? SOCK_STREAM : SOCK_DGRAM;
    c->family = kind[3] == '6' ? AF_INET6 : AF_INET;
    char *address = rest, *after;
    if (*rest == '[') {
        address = rest + 1;
        after = strchr(address, ']');
        if (!after || after[1] != ':')
            return -1;
        *after = '\0';
        after += 2;
    } else {
        after = strchr(rest, ':');
        if (!after)
            return -1;
        *after++ = '\0';
    }
    char *save = NULL;
    char *port = strtok_r(after, ":", &save);
    if (!port)
        return -1;
    if (c->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&c->addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)atoi(port));
        if (inet_pton(AF_INET6, address, &a->sin6_addr) != 1)
            return -1;
        c->addr_len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&c->addr;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)atoi(port));
        if (inet_pton(AF_INET, address, &a->sin_addr) != 1)
            return -1;
        c->addr_len = sizeof *a;
    }
    for (char *f = strtok_r(NULL, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
        if (strcmp(f, "bound") == 0) c->bound_only = true;
        else if (strcmp(f, "reuseaddr") == 0) c->reuseaddr = true;
        else if (strcmp(f, "reuseport") == 0) c->reuseport = true;
        else if (strcmp(f, "v6only") == 0) c->v6only = 1;
        else if (strcmp(f, "dual") == 0) c->v6only = 0;
        else if (strcmp(f, "timewait") == 0) c->timewait = true;
        else if (strcmp(f, "finwait") == 0) c->finwait = true;
        else if (strncmp(f, "dev=", 4) == 0) {
            c->ifindex = if_nametoindex(f + 4);
            if (!c->ifindex)
                return -1;
        } else if (strncmp(f, "uid=", 4) == 0) c->uid = atol(f + 4);
        else return -1;
    }
    return 0;
}

static int open_bound(const struct case_spec *c, const char *spec)
{
    uid_t previous = (uid_t)setfsuid((uid_t)-1);
    if (c->uid >= 0)
        setfsuid((uid_t)c->uid);
    int fd = socket(c->family, c->type, 0);
    if (c->uid >= 0)
        setfsuid(previous);
    if (fd < 0)
        return fail("socket", spec);
    int one = 1;
    if (c->reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return fail("SO_REUSEADDR", spec);
    if (c->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        return fail("SO_REUSEPORT", spec);
    if (c->v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &c->v6only, sizeof c->v6only) < 0)
        return fail("IPV6_V6ONLY", spec);
    int ifindex = (int)c->ifindex;
    if (ifindex && setsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &ifindex, sizeof ifindex) < 0)
        return fail("SO_BINDTOIFINDEX", spec);
    if (bind(fd, (const struct sockaddr *)&c->addr, c->addr_len) < 0)
        return fail("bind", spec);
    return fd;
}

/* A connection the server side closes first: TIME_WAIT (client closes too) or FIN_WAIT2
 * (client keeps its end open) stays on the server's address and port. */
static int make_closed_connection(const struct case_spec *c, int listener, const char *spec, int *client_out)
{
    struct sockaddr_storage target;
    socklen_t len = sizeof target;
    if (getsockname(listener, (struct sockaddr *)&target, &len) < 0)
        return fail("getsockname", spec);
    if (c->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&target;
        if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
            a->sin6_addr = in6addr_loopback;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&target;
        if (a->sin_addr.s_addr == htonl(INADDR_ANY))
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    int client = socket(c->family, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (struct sockaddr *)&target, len) < 0)
        return fail("connect", spec);
    int server = accept(listener, NULL, NULL);
    if (server < 0)
        return fail("accept", spec);
    close(server);                 /* the server closes first */
    usleep(50000);
    if (c->finwait) {
        *client_out = client;      /* keep CLOSE_WAIT on the client: FIN_WAIT2 on the server */
    } else {
        close(client);
        *client_out = -1;
    }
    usleep(50000);
    close(listener);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bindcase SPEC...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct case_spec c;
        if (parse_spec(argv[i], &c) < 0) {
            fprintf(stderr, "bindcase: %s: bad spec\n", argv[i]);
            return 2;
        }
        int fd = open_bound(&c, argv[i]);
        if (fd < 0)
            return 1;
        if (c.type == SOCK_STREAM && !c.bound_only && listen(fd, 16) < 0)
            return fail("listen", argv[i]) ? 1 : 1;
        struct sockaddr_storage got;
        socklen_t len = sizeof got;
        getsockname(fd, (struct sockaddr *)&got, &len);
        unsigned port = ntohs(c.family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                   : ((struct sockaddr_in *)&got)->sin_port);
        if (c.timewait || c.finwait) {
            int client;
            if (make_closed_connection(&c, fd, argv[i], &client) < 0)
                return 1;
        }
        printf("socket %s %u\n", argv[i], port);
    }
    printf("pid %d\nready\n", (int)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
