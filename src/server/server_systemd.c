/* server_systemd.c — socket activation and sd_notify for portreg serve (see server_systemd.h).
 * libsystemd's own sd_listen_fds/sd_notify are used (loaded with dlopen) rather than a copy of
 * the protocol: they check LISTEN_PID, handle abstract NOTIFY_SOCKET addresses and credentials. */
#include "server/server_systemd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server/server.h"
#include "util/systemd_loader.h"

/* process-wide: loaded at most once, kept until exit (the main thread alone calls in) */
static struct systemd_api systemd_api;
static bool systemd_api_loaded;

static int systemd_api_get(struct pr_error *err)
{
    if (systemd_api_loaded)
        return 0;
    int r = systemd_api_load(&systemd_api, err);
    if (r == 0)
        systemd_api_loaded = true;
    return r;
}

static void socket_name(int fd, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    memset(&ss, 0, sizeof ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(out, size, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

int server_systemd_listen_fds(int *fds, const char **names, size_t max, size_t *count,
                              struct pr_error *err)
{
    static char name_text[SERVER_LISTEN_MAX][INET6_ADDRSTRLEN + 8];
    *count = 0;
    const char *listen_fds = getenv("LISTEN_FDS");
    if (!listen_fds || !*listen_fds)
        return 0;
    int r = systemd_api_get(err);
    if (r < 0)
        return r;
    int n = systemd_api.listen_fds(1);   /* 1: unset LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES */
    if (n < 0)
        return pr_error_set(err, n, "sd_listen_fds: %s", strerror(-n));
    if ((size_t)n > max || (size_t)n > SERVER_LISTEN_MAX)
        return pr_error_set(err, -EINVAL, "systemd passed %d sockets; portreg serve takes at most %zu", n,
                            max < SERVER_LISTEN_MAX ? max : (size_t)SERVER_LISTEN_MAX);
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        if (systemd_api.is_socket(fd, AF_INET, SOCK_STREAM, 1) <= 0 &&
            systemd_api.is_socket(fd, AF_INET6, SOCK_STREAM, 1) <= 0)
            return pr_error_set(err, -EINVAL, "systemd passed fd %d, which is not a listening TCP socket "
                                "(the socket unit needs ListenStream=ADDR:PORT)", fd);
        /* libmicrohttpd's epoll loop accepts until EAGAIN: the socket must not block */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
            return pr_error_set(err, -errno, "fd %d: %s", fd, strerror(errno));
        socket_name(fd, name_text[i], sizeof name_text[i]);
        fds[i] = fd;
        names[i] = name_text[i];
    }
    *count = (size_t)n;
    return 0;
}

int server_systemd_notify(const char *state, struct pr_error *err)
{
    const char *socket_path = getenv("NOTIFY_SOCKET");
    if (!socket_path || !*socket_path)
        return 0;
    int r = systemd_api_get(err);
    if (r < 0)
        return r;
    r = systemd_api.notify(0, state);
    if (r < 0)
        return pr_error_set(err, r, "sd_notify: %s", strerror(-r));
    return 0;
}
