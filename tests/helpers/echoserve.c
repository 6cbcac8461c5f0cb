/* echoserve.c — test helper: services that answer, for the scanner's tests. TCP specs accept
 * and send a greeting ("SSH-2.0-portreg-test\r\n"), then close; UDP specs echo every datagram.
 * Usage: echoserve [--greeting TEXT] SPEC...   (TEXT: the bytes TCP clients get instead)
 *   SPEC = tcp4|tcp6|udp4|udp6 ":" ADDRESS ":" PORT (0 = any;
 * an IPv6 ADDRESS in brackets). Prints "socket PROTO ADDRESS PORT" per socket, "pid PID",
 * "ready"; serves until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SOCKETS 512

static int open_spec(const char *spec, int *is_tcp)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *colon = strchr(buf, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    char *address = colon + 1, *port_text;
    if (*address == '[') {
        address++;
        char *end = strchr(address, ']');
        if (!end || end[1] != ':')
            return -1;
        *end = '\0';
        port_text = end + 2;
    } else {
        port_text = strrchr(address, ':');
        if (!port_text)
            return -1;
        *port_text++ = '\0';
    }
    *is_tcp = strncmp(buf, "tcp", 3) == 0;
    int six = buf[3] == '6';
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (six) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)atoi(port_text));
        if (inet_pton(AF_INET6, address, &a->sin6_addr) != 1)
            return -1;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)atoi(port_text));
        if (inet_pton(AF_INET, address, &a->sin_addr) != 1)
            return -1;
        len = sizeof *a;
    }
    int fd = socket(six ? AF_INET6 : AF_INET, *is_tcp ? SOCK_STREAM : SOCK_DGRAM, 0), one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (six)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (*is_tcp && listen(fd, 4096) < 0)) {
        perror("echoserve: bind");
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    unsigned port = six ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    printf("socket %s %s %u\n", buf, address, port);
    return fd;
}

int main(int argc, char **argv)
{
    struct pollfd fds[MAX_SOCKETS];
    int tcp[MAX_SOCKETS];
    int n = 0, first = 1;
    const char *greeting = "SSH-2.0-portreg-test\r\n";
    if (argc > 2 && strcmp(argv[1], "--greeting") == 0) {
        greeting = argv[2];
        first = 3;
    }
    size_t greeting_len = strlen(greeting);
    for (int i = first; i < argc && n < MAX_SOCKETS; i++, n++) {
        fds[n].fd = open_spec(argv[i], &tcp[n]);
        fds[n].events = POLLIN;
        if (fds[n].fd < 0) {
            fprintf(stderr, "echoserve: cannot open %s\n", argv[i]);
            return 1;
        }
    }
    printf("pid %ld\nready\n", (long)getpid());
    fflush(stdout);
    for (;;) {
        if (poll(fds, (nfds_t)n, -1) < 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (!(fds[i].revents & POLLIN))
                continue;
            if (tcp[i]) {
                int c = accept(fds[i].fd, NULL, NULL);
                if (c >= 0) {
                    ssize_t w = write(c, greeting, greeting_len);
                    (void)w;
                    close(c);
                }
            } else {
                char buf[2048];
                struct sockaddr_storage from;
                socklen_t len = sizeof from;
                ssize_t got = recvfrom(fds[i].fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
                if (got >= 0)
                    sendto(fds[i].fd, buf, (size_t)got, 0, (struct sockaddr *)&from, len);
            }
        }
    }
}
