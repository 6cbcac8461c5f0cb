/* server_rate_limit.h — `portreg serve --rate-limit N`: a token bucket per client (its token
 * id, or its address without a token), server_rate_limit.c. */
#ifndef PORTREG_SERVER_SERVER_RATE_LIMIT_H
#define PORTREG_SERVER_SERVER_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct server_rate_limit;

/* rate: requests per second per client; burst: the bucket's size (0: 2 x rate, at least 1). */
struct server_rate_limit *server_rate_limit_create(double rate, unsigned burst);
void server_rate_limit_free(struct server_rate_limit *limit);
/* Take one request from key's bucket: true when allowed; else false and *retry_after the
 * whole seconds until the bucket has a request again (at least 1). */
bool server_rate_limit_take(struct server_rate_limit *limit, const char *key, unsigned *retry_after);

#endif
