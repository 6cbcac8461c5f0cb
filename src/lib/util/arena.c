/* arena.c — bump allocator (see arena.h). Blocks grow to fit oversized requests. */
#include "util/arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_block {
    struct arena_block *next;
    size_t size, used;
    _Alignas(8) unsigned char data[];
};

void *arena_alloc(struct arena *arena, size_t size)
{
    size = (size + 7u) & ~(size_t)7u;
    struct arena_block *block = arena->head;
    if (!block || block->size - block->used < size) {
        size_t want = arena->block_size ? arena->block_size : 64u * 1024u;
        if (want < size)
            want = size;
        block = malloc(sizeof *block + want);
        if (!block)
            return NULL;
        block->size = want;
        block->used = 0;
        block->next = arena->head;
        arena->head = block;
    }
    void *p = block->data + block->used;
    block->used += size;
    return p;
}

char *arena_strndup(struct arena *arena, const char *text, size_t len)
{
    char *copy = arena_alloc(arena, len + 1);
    if (!copy)
        return NULL;
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';
    return copy;
}

char *arena_strdup(struct arena *arena, const char *text)
{
    return arena_strndup(arena, text, strlen(text));
}

void arena_free(struct arena *arena)
{
    struct arena_block *block = arena->head;
    while (block) {
        struct arena_block *next = block->next;
        free(block);
        block = next;
    }
    arena->head = NULL;
}
