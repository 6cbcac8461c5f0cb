/* server_rate_limit.c — token buckets per client for `--rate-limit`: a bucket holds up to
 * burst requests and refills at rate per second (monotonic clock). Buckets live in a fixed
 * table of 64 shards x 256 slots, found by the key's hash with linear probing, each shard
 * under its own mutex so clients on different shards never wait for each other. When a shard
 * is full the slot used longest ago is given to the new key: a client forgotten that way
 * starts again with a full bucket, which is what a long-idle client has anyway. Written here
 * (50 lines) rather than taken from a library: Debian has no C token-bucket library. */
#include "server/server_rate_limit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE_SHARDS 64u
#define RATE_SLOTS 256u
#define RATE_PROBE 16u
#define RATE_KEY_MAX 80u

struct rate_bucket {
    uint64_t hash;                 /* 0: empty */
    char key[RATE_KEY_MAX];
    double tokens;
    int64_t last_ns;
};

struct rate_shard {
    pthread_mutex_t lock;
    struct rate_bucket buckets[RATE_SLOTS];
};

struct server_rate_limit {
    double rate, burst;
    struct rate_shard shards[RATE_SHARDS];
};

static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct server_rate_limit *server_rate_limit_create(double rate, unsigned burst)
{
    struct server_rate_limit *limit = calloc(1, sizeof *limit);
    if (!limit)
        return NULL;
    limit->rate = rate;
    limit->burst = burst ? (double)burst : fmax(1.0, 2.0 * rate);
    for (unsigned i = 0; i < RATE_SHARDS; i++)
        pthread_mutex_init(&limit->shards[i].lock, NULL);
    return limit;
}

void server_rate_limit_free(struct server_rate_limit *limit)
{
    if (!limit)
        return;
    for (unsigned i = 0; i < RATE_SHARDS; i++)
        pthread_mutex_destroy(&limit->shards[i].lock);
    free(limit);
}

bool server_rate_limit_take(struct server_rate_limit *limit, const char *key, unsigned *retry_after)
{
    uint64_t h = hash_key(key);
    struct rate_shard *shard = &limit->shards[h % RATE_SHARDS];
    int64_t now = now_ns();
    pthread_mutex_lock(&shard->lock);
    struct rate_bucket *bucket = NULL, *empty = NULL, *oldest = NULL;
    for (unsigned k = 0; k < RATE_PROBE && !bucket; k++) {
        struct rate_bucket *b = &shard->buckets[(h / RATE_SHARDS + k) % RATE_SLOTS];
        if (b->hash == h && strncmp(b->key, key, RATE_KEY_MAX - 1) == 0)
            bucket = b;
        else if (b->hash == 0 && !empty)
            empty = b;
        else if (b->hash != 0 && (!oldest || b->last_ns < oldest->last_ns))
            oldest = b;
    }
    if (!bucket) {
        bucket = empty ? empty : oldest;
        bucket->hash = h;
        strncpy(bucket->key, key, RATE_KEY_MAX - 1);
        bucket->key[RATE_KEY_MAX - 1] = '\0';
        bucket->tokens = limit->burst;
        bucket->last_ns = now;
    }
    double elapsed = (double)(now - bucket->last_ns) / 1e9;
    bucket->tokens = fmin(limit->burst, bucket->tokens + elapsed * limit->rate);
    bucket->last_ns = now;
    bool allowed = bucket->tokens >= 1.0;
    if (allowed)
        bucket->tokens -= 1.0;
    else
        *retry_after = (unsigned)fmax(1.0, ceil((1.0 - bucket->tokens) / limit->rate));
    pthread_mutex_unlock(&shard->lock);
    return allowed;
}
