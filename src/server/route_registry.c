/* route_registry.c — GET /api/v1/registry/{port or name} and /api/v1/registry?search=WORDS:
 * the document `portreg lookup --json` prints, built by the same library call
 * (registry_json.c's lookup_answer_json). The index was verified whole at start, so threads
 * only read it. */
#include <errno.h>

#include "doctor/lookup_facts.h"
#include "registry/registry_json.h"
#include "server/server_http.h"

static void answer(struct server_request *req, struct server_response *resp, const char *text, bool search)
{
    const struct registry_index *ix = req->opt->registry;
    if (!ix) {
        respond_error(resp, 503, "no-registry", "", "the server has no registry index");
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
        respond_json(resp, 200, json_pack("{s:o}", "queries", answers));
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
