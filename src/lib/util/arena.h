/* arena.h — a bump allocator for parsed records: many small strings, freed all at once.
 * Parsers copy every field into an arena so a record list owns its text and the input buffer
 * can be released. Blocks are chained; nothing is freed individually. */
#ifndef PORTREG_UTIL_ARENA_H
#define PORTREG_UTIL_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *head;
    size_t block_size;   /* default size of a new block; 0 means 64 KiB */
};

/* Allocate size bytes aligned to 8; NULL on out of memory. */
void *arena_alloc(struct arena *arena, size_t size);
/* Copy len bytes of text and add a NUL; NULL on out of memory. */
char *arena_strndup(struct arena *arena, const char *text, size_t len);
char *arena_strdup(struct arena *arena, const char *text);
void arena_free(struct arena *arena);

#endif
