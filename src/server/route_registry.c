/* route_registry.c — GET /api/v1/registry/{port or name} and /api/v1/registry?search=WORDS:
 * the document `portreg lookup --json` prints, built by the same library call
 * (registry_json.c's lookup_answer_json), over the index the request started with (a SIGHUP
 * may load another meanwhile: server_registry.c). Every loaded index was verified whole, so
 * threads only read it. A document depends only on the query, the index and the host's port
 * facts, so its serialised text is cached per query (bounded), for that index and those facts. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/lookup_facts.h"
#include "registry/registry_json.h"
#include "server/server_http.h"

/* The document cache: an open-addressing table of serialised answers keyed by "q:QUERY" or
 * "s:WORDS", valid for one (index generation, host facts) pair: another index (a reload)
 * empties it. The generation's id, not the index's address: a new index may be mapped where
 * the old one was.
 * Full (slots half used, or REGISTRY_CACHE_BYTES of text) it is emptied and refills: the
 * working set of a registry server is a few hot ports. Readers copy an answer out under the
 * read lock, so an entry can be freed while a response built from it is being sent. */
#define REGISTRY_CACHE_SLOTS 8192u                 /* a power of two */
#define REGISTRY_CACHE_BYTES (16u * 1024 * 1024)
#define REGISTRY_CACHE_ENTRY_MAX (256u * 1024)      /* larger answers (wide searches) are built each time */

struct cached_document {
    char *key;
    char *text;
    size_t len;
};

static struct {
    pthread_rwlock_t lock;
    uint64_t generation;                   /* server_registry_generation id; 0: none yet */
    const struct local_ports *host_ports;
    size_t used, bytes;
    struct cached_document slots[REGISTRY_CACHE_SLOTS];
} document_cache = { .lock = PTHREAD_RWLOCK_INITIALIZER };

static size_t cache_slot(const char *key)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h & (REGISTRY_CACHE_SLOTS - 1));
}

/* Under the write lock. */
static void cache_empty(void)
{
    for (size_t i = 0; i < REGISTRY_CACHE_SLOTS; i++) {
        free(document_cache.slots[i].key);
        free(document_cache.slots[i].text);
        document_cache.slots[i] = (struct cached_document){ 0 };
    }
    document_cache.used = document_cache.bytes = 0;
}

/* A copy of the cached answer for key (malloc'd), or NULL. */
static char *cache_get(const struct server_request *req, const char *key, size_t *len)
{
    char *copy = NULL;
    pthread_rwlock_rdlock(&document_cache.lock);
    if (document_cache.generation == req->registry_generation->id && document_cache.host_ports == req->opt->host_ports) {
        for (size_t i = cache_slot(key);; i = (i + 1) & (REGISTRY_CACHE_SLOTS - 1)) {
            const struct cached_document *d = &document_cache.slots[i];
            if (!d->key)
                break;
            if (strcmp(d->key, key) == 0) {
                if ((copy = malloc(d->len + 1)) != NULL) {
                    memcpy(copy, d->text, d->len + 1);
                    *len = d->len;
                }
                break;
            }
        }
    }
    pthread_rwlock_unlock(&document_cache.lock);
    return copy;
}

static void cache_put(const struct server_request *req, const char *key, const char *text, size_t len)
{
    if (len > REGISTRY_CACHE_ENTRY_MAX)
        return;
    pthread_rwlock_wrlock(&document_cache.lock);
    if (document_cache.generation != req->registry_generation->id || document_cache.host_ports != req->opt->host_ports ||
        document_cache.used >= REGISTRY_CACHE_SLOTS / 2 || document_cache.bytes + len > REGISTRY_CACHE_BYTES) {
        cache_empty();
        document_cache.generation = req->registry_generation->id;
        document_cache.host_ports = req->opt->host_ports;
    }
    size_t i = cache_slot(key);
    while (document_cache.slots[i].key && strcmp(document_cache.slots[i].key, key) != 0)
        i = (i + 1) & (REGISTRY_CACHE_SLOTS - 1);
    struct cached_document *d = &document_cache.slots[i];
    if (!d->key) {
        char *key_copy = strdup(key), *text_copy = malloc(len + 1);
        if (key_copy && text_copy) {
            memcpy(text_copy, text, len + 1);
            *d = (struct cached_document){ key_copy, text_copy, len };
            document_cache.used++;
            document_cache.bytes += len;
        } else {
            free(key_copy);
            free(text_copy);
        }
    }
    pthread_rwlock_unlock(&document_cache.lock);
}

static void answer(struct server_request *req, struct server_response *resp, const char *text, bool search)
{
    const struct registry_index *ix = req->registry;
    if (!ix) {
        respond_error(resp, 503, "no-registry", "", "the server has no registry index");
        return;
    }
    char key[300];
    int key_len = snprintf(key, sizeof key, "%c:%s", search ? 's' : 'q', text);
    bool cacheable = key_len > 0 && (size_t)key_len < sizeof key;
    size_t cached_len;
    char *cached = cacheable ? cache_get(req, key, &cached_len) : NULL;
    if (cached) {
        respond_raw(resp, cached, cached_len, "application/json");
        return;
    }
    struct lookup_query query;
    struct lookup_result result = { 0 };
    struct pr_error err;
    pr_error_clear(&err);
    int r = search ? lookup_query_search(text, REGISTRY_PROTO_ANY, &query, &err)
                   : lookup_query_parse(ix, text, REGISTRY_PROTO_ANY, &query, &err);
    if (r < 0) {
        respond_error(resp, r == -EINVAL ? 400 : 500, "bad-query", search ? "search" : "query", err.message);
        lookup_query_free(&query);
        return;
    }
    if (lookup_run(ix, &query, &result) < 0) {
        respond_error(resp, 500, "out-of-memory", "", "out of memory");
    } else {
        json_t *answers = json_array();
        struct lookup_host_facts facts;
        bool have_facts = lookup_host_facts_for_query(req->opt->host_ports, &query, &facts);
        json_array_append_new(answers, lookup_answer_json(ix, &query, &result, have_facts ? &facts : NULL));
        json_t *document = json_pack("{s:o}", "queries", answers);
        size_t len = 0;
        char *serialised = document ? server_json_text(document, &len) : NULL;
        json_decref(document);
        if (serialised) {
            if (cacheable)
                cache_put(req, key, serialised, len);
            respond_raw(resp, serialised, len, "application/json");
        } else {
            respond_error(resp, 500, "out-of-memory", "", "out of memory");
        }
    }
    lookup_result_free(&result);
    lookup_query_free(&query);
}

static void get_registry_entry(struct server_request *req, struct server_response *resp)
{
    answer(req, resp, req->params[0], false);
}

static void get_registry_search(struct server_request *req, struct server_response *resp)
{
    const char *words = json_string_value(json_object_get(req->query, "search"));
    if (!words || !words[0]) {
        respond_error(resp, 400, "missing-field", "search", "give ?search=WORDS or /api/v1/registry/PORT-OR-NAME");
        return;
    }
    answer(req, resp, words, true);
}

const struct server_route route_registry[] = {
    { "GET", "/api/v1/registry/{query}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_registry_entry },
    { "GET", "/api/v1/registry", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_registry_search },
    { NULL, NULL, 0, 0, NULL },
};
