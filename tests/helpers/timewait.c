/* timewait.c — test helper: leave N connections in TIME_WAIT on a server port, the way a server
 * that closes first does. Listens on ADDRESS:PORT (IPv4), makes N connections to itself,
 * closes the server side of each first, then the client side, and keeps the listener open.
 * Usage: timewait ADDRESS PORT N. Prints "port PORT", "pid PID", then "ready"; runs until killed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: timewait ADDRESS PORT N\n");
        return 2;
    }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
        fprintf(stderr, "timewait: bad address %s\n", argv[1]);
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof a;
    if (bind(listener, (struct sockaddr *)&a, len) < 0 || listen(listener, 1024) < 0 ||
        getsockname(listener, (struct sockaddr *)&a, &len) < 0) {
        perror("timewait: listen");
        return 1;
    }
    int n = atoi(argv[3]);
    for (int i = 0; i < n; i++) {
        int client = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(client, (struct sockaddr *)&a, sizeof a) < 0) {
            perror("timewait: connect");
            return 1;
        }
        int server = accept(listener, NULL, NULL);
        if (server < 0) {
            perror("timewait: accept");
            return 1;
        }
        close(server);                  /* the server closes first: it gets the TIME_WAIT */
        char byte;
        while (read(client, &byte, 1) > 0) {
        }
        close(client);
    }
    printf("port %u\npid %ld\nready\n", ntohs(a.sin_port), (long)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
