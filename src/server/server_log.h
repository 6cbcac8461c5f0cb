/* server_log.h — the request log's writer: one line per request to stderr, written at once
 * when requests are few and gathered per thread when they come faster than one a millisecond
 * (then flushed when a buffer fills and by the server's 100 ms tick), as nginx's buffered
 * access_log does: under load one write(2) carries many lines. */
#ifndef PORTREG_SERVER_SERVER_LOG_H
#define PORTREG_SERVER_SERVER_LOG_H

#include <stddef.h>

struct server_log;

/* A log for up to threads writer threads (more write each line at once); NULL on ENOMEM. */
struct server_log *server_log_create(unsigned threads, int fd);
/* Write or gather line[0..len) (whole lines, ending in '\n'). Thread-safe. */
void server_log_line(struct server_log *log, const char *line, size_t len);
/* Write every gathered line (the tick, and at the end). */
void server_log_flush(struct server_log *log);
/* Flush and free. */
void server_log_free(struct server_log *log);

#endif
