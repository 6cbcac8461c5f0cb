/* store_postgres.h — what store_postgres.c shares with its schema file: the migrations, in
 * order (migration i brings the schema to version i + 1, as store_sqlite.c's). */
#ifndef PORTREG_STORE_STORE_POSTGRES_H
#define PORTREG_STORE_STORE_POSTGRES_H

#include <stddef.h>

const char *const *store_postgres_migrations(size_t *count);

#endif
