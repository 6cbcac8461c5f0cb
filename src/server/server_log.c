/* server_log.c — the request log's writer (see server_log.h). Each writer thread takes a slot
 * the first time it logs; a slot has its own lock (taken by the thread and by the flush of
 * the tick, so uncontended), a buffer and the time of its last write. A line goes out at once
 * when the slot's last write is over a millisecond old; otherwise it waits in the buffer for
 * the next line that fills it or for the tick, at most about 100 ms. A line is never split:
 * the buffer is written before a line that would not fit. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/server_log.h"

#define LOG_BUFFER_SIZE 4096   /* PIPE_BUF: a write of it into a pipe is never split by another thread's */
#define LOG_QUIET_NS 1000000   /* a line after a millisecond of quiet is written at once */

struct log_slot {
    pthread_mutex_t lock;
    size_t len;
    int64_t last_write_ns;
    char data[LOG_BUFFER_SIZE];
};

struct server_log {
    int fd;
    unsigned count;
    atomic_uint taken;
    struct log_slot *slots;
};

static _Thread_local struct {
    const struct server_log *log;
    struct log_slot *slot;
} thread_slot;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0)
            return;   /* a log that cannot be written does not fail the request */
        data += n;
        len -= (size_t)n;
    }
}

struct server_log *server_log_create(unsigned threads, int fd)
{
    struct server_log *log = calloc(1, sizeof *log);
    if (!log || !(log->slots = calloc(threads ? threads : 1, sizeof *log->slots))) {
        free(log);
        return NULL;
    }
    log->fd = fd;
    log->count = threads ? threads : 1;
    for (unsigned i = 0; i < log->count; i++)
        pthread_mutex_init(&log->slots[i].lock, NULL);
    return log;
}

static struct log_slot *my_slot(struct server_log *log)
{
    if (thread_slot.log != log) {
        unsigned index = atomic_fetch_add(&log->taken, 1);
        thread_slot.log = log;
        thread_slot.slot = index < log->count ? &log->slots[index] : NULL;
    }
    return thread_slot.slot;
}

void server_log_line(struct server_log *log, const char *line, size_t len)
{
    struct log_slot *slot = my_slot(log);
    if (!slot || len > LOG_BUFFER_SIZE) {
        write_all(log->fd, line, len);
        return;
    }
    int64_t now = now_ns();
    pthread_mutex_lock(&slot->lock);
    if (slot->len == 0 && now - slot->last_write_ns >= LOG_QUIET_NS) {
        write_all(log->fd, line, len);
        slot->last_write_ns = now;
    } else {
        if (slot->len + len > LOG_BUFFER_SIZE) {
            write_all(log->fd, slot->data, slot->len);
            slot->len = 0;
            slot->last_write_ns = now;
        }
        memcpy(slot->data + slot->len, line, len);
        slot->len += len;
    }
    pthread_mutex_unlock(&slot->lock);
}

void server_log_flush(struct server_log *log)
{
    if (!log)
        return;
    for (unsigned i = 0; i < log->count; i++) {
        struct log_slot *slot = &log->slots[i];
        pthread_mutex_lock(&slot->lock);
        if (slot->len) {
            write_all(log->fd, slot->data, slot->len);
            slot->len = 0;
            slot->last_write_ns = now_ns();
        }
        pthread_mutex_unlock(&slot->lock);
    }
}

void server_log_free(struct server_log *log)
{
    if (!log)
        return;
    server_log_flush(log);
    for (unsigned i = 0; i < log->count; i++)
        pthread_mutex_destroy(&log->slots[i].lock);
    free(log->slots);
    free(log);
}
