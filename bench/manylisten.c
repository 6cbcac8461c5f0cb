/* manylisten.c — benchmark helper: hold COUNT TCP listeners on ADDRESS, ports FIRST.., then
 * print "ready PID" and sleep until killed. bench/inspector.sh runs five of these (the open
 * file limit here is 20,000 per process). Usage: manylisten ADDRESS FIRST_PORT COUNT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: manylisten ADDRESS FIRST_PORT COUNT\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1)
        return 2;
    int first = atoi(argv[2]), count = atoi(argv[3]);
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        a.sin_port = htons((uint16_t)(first + i));
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0) {
            fprintf(stderr, "manylisten: socket %d (%s:%d): ", i, argv[1], first + i);
            perror("");
            return 1;
        }
    }
    printf("ready %ld\n", (long)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
