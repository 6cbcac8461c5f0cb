/* server_offload.c — the worker pool of server_offload.h: a mutex, a condition and a linked
 * queue (GLib's GThreadPool would do the same, but the server links no GLib; this is 80 lines
 * of pthreads). Workers run jobs in the order they came; free lets them empty the queue. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "server/server_offload.h"

struct offload_job {
    void (*fn)(void *);
    void *arg;
    struct offload_job *next;
};

struct server_offload {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct offload_job *head, *tail;
    bool stopping;
    unsigned thread_count;
    pthread_t *threads;
};

static void *offload_worker(void *cls)
{
    struct server_offload *pool = cls;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->head && !pool->stopping)
            pthread_cond_wait(&pool->wake, &pool->lock);
        struct offload_job *job = pool->head;
        if (!job)
            break;   /* stopping and nothing left */
        pool->head = job->next;
        if (!pool->head)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->lock);
        job->fn(job->arg);
        free(job);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

struct server_offload *server_offload_create(unsigned threads)
{
    struct server_offload *pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->threads = calloc(threads, sizeof *pool->threads);
    if (!pool->threads) {
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&pool->threads[i], NULL, offload_worker, pool) != 0) {
            server_offload_free(pool);
            return NULL;
        }
        pool->thread_count++;
    }
    return pool;
}

int server_offload_submit(struct server_offload *pool, void (*fn)(void *), void *arg)
{
    struct offload_job *job = malloc(sizeof *job);
    if (!job)
        return -ENOMEM;
    *job = (struct offload_job){ fn, arg, NULL };
    pthread_mutex_lock(&pool->lock);
    if (pool->tail)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

void server_offload_free(struct server_offload *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned i = 0; i < pool->thread_count; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    free(pool->threads);
    free(pool);
}
