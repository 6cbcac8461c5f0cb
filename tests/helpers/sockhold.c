/* sockhold.c — test helper: open the sockets named on the command line, print what they are,
 * and hold them until killed. End-to-end tests run it to create real listeners.
 * Usage: sockhold [--fork] [--user UID] [--comm NAME] SPEC...
 *   --comm NAME: the process names itself NAME (prctl PR_SET_NAME, any bytes, first 15 kept),
 *   as any unprivileged process can
 *   SPEC = tcp4|tcp6|udp4|udp6 ":" ADDRESS ":" PORT [":v6only" | ":dual"] [":bound"] [":reuseport"]
 *          [":backlog0"] (listen(fd, 0): one waiting connection fills the accept queue)
 *   (TCP sockets listen unless ":bound"; PORT 0 lets the kernel choose)
 * Prints "socket PROTO ADDRESS PORT INODE" per socket, "pid PID" per holder, then "ready". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_socket(const char *spec)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *kind = strtok(buf, ":");
    char *rest = kind ? kind + strlen(kind) + 1 : NULL;
    if (!kind || !rest)
        return -1;
    /* the address may be [v6] */
    char *address, *after;
    if (*rest == '[') {
        address = rest + 1;
        after = strchr(address, ']');
        if (!after)
            return -1;
        *after++ = '\0';
        if (*after == ':')
            after++;
    } else {
        address = rest;
        after = strchr(rest, ':');
        if (!after)
            return -1;
        *after++ = '\0';
    }
    char *port_text = strtok(after, ":");
    int v6only = -1, bound_only = 0, reuseport = 0, backlog = 128;
    for (char *f = strtok(NULL, ":"); f; f = strtok(NULL, ":")) {
        if (strcmp(f, "v6only") == 0) v6only = 1;
        else if (strcmp(f, "dual") == 0) v6only = 0;
        else if (strcmp(f, "bound") == 0) bound_only = 1;
        else if (strcmp(f, "reuseport") == 0) reuseport = 1;
        else if (strcmp(f, "backlog0") == 0) backlog = 0;
    }
    int tcp = strncmp(kind, "tcp", 3) == 0, six = kind[3] == '6';
    int fd = socket(six ? AF_INET6 : AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (six && v6only >= 0)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (six) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)atoi(port_text ? port_text : "0"));
        if (inet_pton(AF_INET6, address, &a->sin6_addr) != 1)
            return -1;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)atoi(port_text ? port_text : "0"));
        if (inet_pton(AF_INET, address, &a->sin_addr) != 1)
            return -1;
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        perror("sockhold: bind");
        return -1;
    }
    if (tcp && !bound_only && listen(fd, backlog) < 0)
        return -1;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    uint16_t port = six ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    struct stat st;
    fstat(fd, &st);
    printf("socket %s %s %u %lu\n", kind, address, port, (unsigned long)st.st_ino);
    return fd;
}

int main(int argc, char **argv)
{
    int do_fork = 0;
    long user = -1;
    const char *comm = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--fork") == 0)
            do_fork = 1;
        else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            user = atol(argv[++i]);
        else if (strcmp(argv[i], "--comm") == 0 && i + 1 < argc)
            comm = argv[++i];
    }
    if (comm && prctl(PR_SET_NAME, comm) < 0) {
        perror("sockhold: prctl");
        return 1;
    }
    for (; i < argc; i++)
        if (open_socket(argv[i]) < 0) {
            fprintf(stderr, "sockhold: cannot open %s\n", argv[i]);
            return 1;
        }
    if (user >= 0 && setuid((uid_t)user) < 0) {
        perror("sockhold: setuid");
        return 1;
    }
    printf("pid %ld\n", (long)getpid());
    if (do_fork) {
        fflush(stdout);
        pid_t child = fork();
        if (child == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);   /* dies with the parent the test kills */
            for (;;)
                pause();
        }
        printf("pid %ld\n", (long)child);
    }
    printf("ready\n");
    fflush(stdout);
    signal(SIGTERM, SIG_DFL);
    for (;;)
        pause();
}
