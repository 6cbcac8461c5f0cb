/* server_offload.h — a fixed pool of worker threads that run jobs off libmicrohttpd's request
 * threads: a lease request parks its connection (MHD_suspend_connection) and a worker runs it,
 * so many leases are inside the server at once and the ledger batches them in one commit. */
#ifndef PORTREG_SERVER_OFFLOAD_H
#define PORTREG_SERVER_OFFLOAD_H

struct server_offload;

/* Start threads workers; NULL when out of memory or threads could not start. */
struct server_offload *server_offload_create(unsigned threads);
/* Queue fn(arg) for a worker: 0, or -ENOMEM. */
int server_offload_submit(struct server_offload *pool, void (*fn)(void *), void *arg);
/* Run what is queued, stop the workers and free the pool (NULL: nothing). */
void server_offload_free(struct server_offload *pool);

#endif
