/* server_registry.c — the swappable, reference-counted registry index (server_registry.h).
 * Taking a reference reads the current pointer and counts it under a read lock (so a swap,
 * under the write lock, cannot free the generation between the two); the holder keeps one
 * reference of its own, dropped when it swaps; the last release closes the index. */
#include <stdlib.h>

#include "plan/plan_check.h"
#include "server/server_registry.h"

struct server_registry {
    pthread_rwlock_t lock;
    struct server_registry_generation *current;   /* holds one reference; NULL: no index */
    uint64_t last_id;
};

/* The request this thread serves (server.c pins it around a handler). */
static _Thread_local struct server_registry_generation *pinned_generation;

static struct server_registry_generation *generation_new(struct registry_index *ix, uint64_t id)
{
    struct server_registry_generation *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->ix = ix;
    g->id = id;
    g->entries = registry_index_record_count(ix);
    atomic_init(&g->refs, 1);
    pthread_mutex_init(&g->map_lock, NULL);
    return g;
}

struct server_registry *server_registry_create(struct registry_index *ix)
{
    struct server_registry *holder = calloc(1, sizeof *holder);
    if (!holder) {
        registry_index_close(ix);
        return NULL;
    }
    pthread_rwlock_init(&holder->lock, NULL);
    if (ix && !server_registry_replace(holder, ix, NULL)) {
        free(holder);
        return NULL;
    }
    return holder;
}

void server_registry_free(struct server_registry *holder)
{
    if (!holder)
        return;
    server_registry_release(holder->current);
    pthread_rwlock_destroy(&holder->lock);
    free(holder);
}

struct server_registry_generation *server_registry_acquire(struct server_registry *holder)
{
    if (!holder)
        return NULL;
    pthread_rwlock_rdlock(&holder->lock);
    struct server_registry_generation *g = holder->current;
    if (g)
        atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    pthread_rwlock_unlock(&holder->lock);
    return g;
}

void server_registry_release(struct server_registry_generation *g)
{
    if (!g || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
        return;
    registry_index_close(g->ix);
    free(g->map_gzip);
    pthread_mutex_destroy(&g->map_lock);
    free(g);
}

bool server_registry_replace(struct server_registry *holder, struct registry_index *ix, uint64_t *id)
{
    pthread_rwlock_wrlock(&holder->lock);
    struct server_registry_generation *g = generation_new(ix, holder->last_id + 1);
    struct server_registry_generation *old = NULL;
    if (g) {
        old = holder->current;
        holder->current = g;
        holder->last_id = g->id;
    }
    pthread_rwlock_unlock(&holder->lock);
    if (!g) {
        registry_index_close(ix);
        return false;
    }
    if (id)
        *id = g->id;
    server_registry_release(old);   /* the holder's reference; requests still holding it keep it */
    return true;
}

void server_registry_pin(struct server_registry_generation *generation)
{
    pinned_generation = generation;
}

size_t server_registry_iana_lookup(void *user, uint16_t port, uint8_t proto, const char **names, size_t max)
{
    struct server_registry *holder = user;
    struct server_registry_generation *g = pinned_generation;
    if (!g && holder) {
        /* not a request thread: the main thread, the only one that replaces, so the current
         * generation stays while it looks */
        pthread_rwlock_rdlock(&holder->lock);
        g = holder->current;
        pthread_rwlock_unlock(&holder->lock);
    }
    return g ? plan_iana_lookup_registry(g->ix, port, proto, names, max) : 0;
}
