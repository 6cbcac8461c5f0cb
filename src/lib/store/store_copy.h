/* store_copy.h — copy one registry database into another, empty one (serve export-db). */
#ifndef PORTREG_STORE_STORE_COPY_H
#define PORTREG_STORE_STORE_COPY_H

#include "store/store.h"

/* Every row of every table (ids kept) and the policy of from into to, in one transaction of
 * to; -EEXIST naming the table when to already has rows (nothing written). *counts (owned):
 * {"hosts": N, …, "policy": true|false}. Both stores are open (migrated) already. */
int store_copy(const struct store_backend *from_backend, struct store *from_store,
               const struct store_backend *to_backend, struct store *to_store, json_t **counts,
               struct pr_error *err);

#endif
