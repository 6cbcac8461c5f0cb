/* cmd_remote.c — `portreg remote SUBCOMMAND`: the command-line client of portreg serve. Parses
 * the options (remote_options.c), builds the request body with jansson, sends it through the
 * library's client (remote/remote_client.h) and shows the answer (remote_view.c) or prints the
 * server's JSON with --json. Exit codes: 0, 1 no (404/409), 2 bad input, 3 no answer/auth/5xx. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "remote/remote_client.h"
#include "remote_options.h"
#include "remote_view.h"
#include "util/file_io.h"
#include "util/text_escape.h"

#define REMOTE_VALUES_MAX 64   /* repeated --host and --address */
#define REMOTE_IMPORT_MAX (16u * 1024u * 1024u)

struct remote_args {
    const char *value[OPT_REMOTE_DRY_RUN - OPT_REMOTE_SERVER + 1];   /* by id - 256: the last one given */
    const char *output;
    const char *hosts[REMOTE_VALUES_MAX];
    size_t host_count;
    const char *addresses[REMOTE_VALUES_MAX];
    size_t address_count;
    bool json, dry_run, force;
    char **operands;
    int operand_count;
};

struct remote_session {
    struct cli_context *ctx;
    char command[64];              /* "remote request", for messages */
    const char *server, *token, *cacert;   /* options (before or after the subcommand) */
    bool json;
    struct remote_config cfg;
    struct remote_client *client;
};

static const char *arg(const struct remote_args *a, int id)
{
    return a->value[id - OPT_REMOTE_SERVER];
}

/* ---- talking to the server ---- */

/* Open the client on first use: the configuration is checked then, after the options. */
static int session_open(struct remote_session *s)
{
    if (s->client)
        return CLI_EXIT_OK;
    struct pr_error err;
    pr_error_clear(&err);
    if (remote_config_init(&s->cfg, s->server, s->token, s->cacert, getenv("PORTREG_SERVER"),
                           getenv("PORTREG_TOKEN"), getenv("PORTREG_CACERT"), &err) < 0)
        return cli_error_from(CLI_EXIT_USAGE, s->command, &err);
    if (remote_client_open(&s->client, &s->cfg, &err) < 0)
        return remote_view_call_error(s->command, &err, s->cfg.server_from);
    return CLI_EXIT_OK;
}

/* One exchange. body is stolen (NULL: none). On CLI_EXIT_OK resp holds a 2xx answer; otherwise
 * the error was reported (and with --json the server's error document printed) and resp is
 * empty. */
static int exchange(struct remote_session *s, const char *method, const char *path, json_t *body,
                    const char *idempotency_key, struct remote_response *resp)
{
    memset(resp, 0, sizeof *resp);
    int rc = session_open(s);
    if (rc != CLI_EXIT_OK) {
        json_decref(body);
        return rc;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (body && !text)
        return cli_error(CLI_EXIT_FAILURE, s->command, "out of memory");
    struct remote_request request = {
        .method = method, .path = path, .body = text, .body_len = text ? strlen(text) : 0,
        .idempotency_key = idempotency_key,
    };
    struct pr_error err;
    pr_error_clear(&err);
    int r = remote_call(s->client, &request, resp, &err);
    free(text);
    if (r < 0) {
        remote_response_free(resp);
        return remote_view_call_error(s->command, &err, s->cfg.server_from);
    }
    if (remote_status_outcome(resp->status) == REMOTE_OK)
        return CLI_EXIT_OK;
    if (s->json && resp->json)
        cli_print_json(s->ctx, json_incref(resp->json));
    rc = remote_view_answer_error(s->command, method, path, resp, s->cfg.token[0] != '\0');
    remote_response_free(resp);
    return rc;
}

/* ---- arguments ---- */

static bool parse_number(const char *text, long long min, long long max, long long *out)
{
    if (!text || *text < '0' || *text > '9')
        return false;
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || *end || value < min || value > max)
        return false;
    *out = value;
    return true;
}

/* An object id operand: digits only, so it cannot change the path. */
static int id_operand(struct remote_session *s, const struct remote_args *a, const char *noun, long long *id)
{
    if (a->operand_count < 1)
        return cli_usage_error(s->command, "give the %s's ID", noun);
    if (a->operand_count > 1)
        return cli_usage_error(s->command, "unexpected argument '%s'", a->operands[1]);
    if (!parse_number(a->operands[0], 1, INT64_MAX, id))
        return cli_usage_error(s->command, "\"%s\" is not a %s ID (a positive number)", a->operands[0], noun);
    return CLI_EXIT_OK;
}

static int set_integer(struct remote_session *s, json_t *body, const char *key, const char *option,
                       const char *text, long long min, long long max)
{
    long long value;
    if (!text)
        return CLI_EXIT_OK;
    if (!parse_number(text, min, max, &value))
        return cli_usage_error(s->command, "--%s: \"%s\" is not a number %lld-%lld", option, text, min, max);
    json_object_set_new(body, key, json_integer(value));
    return CLI_EXIT_OK;
}

static void set_string(json_t *body, const char *key, const char *text)
{
    if (text)
        json_object_set_new(body, key, json_string(text));
}

/* A port as the API takes it: a number, or the text ("auto", "LO-HI") for the server to judge. */
static json_t *port_value(const char *text)
{
    long long value;
    if (parse_number(text, 0, 9999999, &value))
        return json_integer(value);
    return json_string(text);
}

/* json_string() refuses text that is not UTF-8: say so instead of sending a body without it */
static int check_utf8(struct remote_session *s, const struct remote_args *a)
{
    for (size_t i = 0; i < sizeof a->value / sizeof a->value[0]; i++)
        if (a->value[i] && !text_utf8_valid(a->value[i], strlen(a->value[i])))
            return cli_usage_error(s->command, "an option's value is not UTF-8");
    for (int i = 0; i < a->operand_count; i++)
        if (!text_utf8_valid(a->operands[i], strlen(a->operands[i])))
            return cli_usage_error(s->command, "an argument is not UTF-8");
    for (size_t i = 0; i < a->host_count; i++)
        if (!text_utf8_valid(a->hosts[i], strlen(a->hosts[i])))
            return cli_usage_error(s->command, "--host is not UTF-8");
    for (size_t i = 0; i < a->address_count; i++)
        if (!text_utf8_valid(a->addresses[i], strlen(a->addresses[i])))
            return cli_usage_error(s->command, "--address is not UTF-8");
    return CLI_EXIT_OK;
}

static int build_query(struct remote_session *s, char *path, size_t size, const struct remote_args *a,
                       const int *ids, const char *const *names)
{
    struct pr_error err;
    for (size_t i = 0; ids[i]; i++) {
        const char *value = arg(a, ids[i]);
        if (value && remote_query_append(path, size, names[i], value, &err) < 0)
            return cli_error_from(CLI_EXIT_USAGE, s->command, &err);
    }
    return CLI_EXIT_OK;
}

/* ---- showing answers ---- */

static int show_object(struct remote_session *s, enum remote_kind kind, struct remote_response *resp)
{
    if (!resp->json) {
        remote_response_free(resp);
        return cli_error(CLI_EXIT_FAILURE, s->command, "the server's answer is not JSON");
    }
    if (s->json) {
        cli_print_json(s->ctx, json_incref(resp->json));
    } else if (json_is_object(resp->json) && json_is_array(json_object_get(resp->json, "items"))) {
        remote_view_table(s->ctx, kind, json_object_get(resp->json, "items"));
    } else if (json_is_array(resp->json)) {
        remote_view_table(s->ctx, kind, resp->json);
    } else if (json_is_object(resp->json)) {
        remote_view_object(s->ctx, kind, resp->json);
    } else {
        remote_response_free(resp);
        return cli_error(CLI_EXIT_FAILURE, s->command, "the server's answer is not a JSON object");
    }
    remote_response_free(resp);
    return CLI_EXIT_OK;
}

/* GET a collection, every page (or one page of --limit), and show the items. */
static int list_collection(struct remote_session *s, enum remote_kind kind, const char *base_path,
                           const char *after, const char *limit)
{
    struct pr_error err;
    json_t *all = json_array();
    json_t *next_after = json_null();
    char after_text[32];
    snprintf(after_text, sizeof after_text, "%s", after ? after : "");
    int rc = CLI_EXIT_OK;
    for (;;) {
        char path[4096];
        snprintf(path, sizeof path, "%s", base_path);
        if (remote_query_append(path, sizeof path, "limit", limit ? limit : "1000", &err) < 0 ||
            (after_text[0] && remote_query_append(path, sizeof path, "after", after_text, &err) < 0)) {
            rc = cli_error_from(CLI_EXIT_USAGE, s->command, &err);
            break;
        }
        struct remote_response resp;
        rc = exchange(s, "GET", path, NULL, NULL, &resp);
        if (rc != CLI_EXIT_OK)
            break;
        json_t *items = json_object_get(resp.json, "items");
        if (!json_is_array(items)) {
            remote_response_free(&resp);
            rc = cli_error(CLI_EXIT_FAILURE, s->command, "the server's answer has no \"items\" list");
            break;
        }
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
            json_array_append(all, item);
        json_decref(next_after);
        next_after = json_incref(json_object_get(resp.json, "next_after"));
        if (!next_after)
            next_after = json_null();
        remote_response_free(&resp);
        if (limit || !json_is_integer(next_after))
            break;
        snprintf(after_text, sizeof after_text, "%" JSON_INTEGER_FORMAT, json_integer_value(next_after));
    }
    if (rc == CLI_EXIT_OK) {
        if (s->json)
            cli_print_json(s->ctx, json_pack("{s:O, s:O}", "items", all, "next_after", next_after));
        else
            remote_view_table(s->ctx, kind, all);
    }
    json_decref(all);
    json_decref(next_after);
    return rc;
}

/* ---- subcommands ---- */

static int no_operands(struct remote_session *s, const struct remote_args *a)
{
    if (a->operand_count > 0)
        return cli_usage_error(s->command, "unexpected argument '%s'", a->operands[0]);
    return CLI_EXIT_OK;
}

/* request and assign: the same body */
static int assignment_body(struct remote_session *s, const struct remote_args *a, json_t **out)
{
    if (a->operand_count < 1)
        return cli_usage_error(s->command, "give the SERVICE");
    if (a->operand_count > 1)
        return cli_usage_error(s->command, "unexpected argument '%s'", a->operands[1]);
    const char *group = arg(a, OPT_REMOTE_GROUP);
    if (a->host_count && group)
        return cli_usage_error(s->command, "give --host or --group, not both");
    if (!a->host_count && !group)
        return cli_usage_error(s->command, "give --host HOST (repeatable) or --group GROUP");
    if (!arg(a, OPT_REMOTE_PORT))
        return cli_usage_error(s->command, "give --port PORT, LO-HI%s", strcmp(s->command, "remote request") == 0
                                                                           ? " or auto" : "");
    json_t *body = json_object();
    set_string(body, "service", a->operands[0]);
    if (a->host_count == 1) {
        set_string(body, "host", a->hosts[0]);
    } else if (a->host_count > 1) {
        json_t *hosts = json_array();
        for (size_t i = 0; i < a->host_count; i++)
            json_array_append_new(hosts, json_string(a->hosts[i]));
        json_object_set_new(body, "hosts", hosts);
    }
    set_string(body, "group", group);
    json_object_set_new(body, "port", port_value(arg(a, OPT_REMOTE_PORT)));
    set_string(body, "proto", arg(a, OPT_REMOTE_PROTO));
    set_string(body, "bind", arg(a, OPT_REMOTE_BIND));
    set_string(body, "exposure", arg(a, OPT_REMOTE_EXPOSURE));
    set_string(body, "owner", arg(a, OPT_REMOTE_OWNER));
    set_string(body, "reason", arg(a, OPT_REMOTE_REASON));
    *out = body;
    return CLI_EXIT_OK;
}

static int run_request(struct remote_session *s, struct remote_args *a)
{
    json_t *body;
    int rc = assignment_body(s, a, &body);
    struct remote_response resp;
    if (rc == CLI_EXIT_OK && (rc = exchange(s, "POST", "/api/v1/requests", body, NULL, &resp)) == CLI_EXIT_OK)
        rc = show_object(s, REMOTE_KIND_REQUESTS, &resp);
    return rc;
}

static int run_assign(struct remote_session *s, struct remote_args *a)
{
    json_t *body;
    int rc = assignment_body(s, a, &body);
    struct remote_response resp;
    if (rc == CLI_EXIT_OK && (rc = exchange(s, "POST", "/api/v1/assignments", body, NULL, &resp)) == CLI_EXIT_OK)
        rc = show_object(s, REMOTE_KIND_ASSIGNMENTS, &resp);
    return rc;
}

/* POST /api/v1/KIND/ID/ACTION with body (stolen) and show the object answered. */
static int object_action(struct remote_session *s, const struct remote_args *a, const char *kind_path,
                         const char *noun, const char *action, json_t *body, enum remote_kind kind)
{
    long long id;
    int rc = id_operand(s, a, noun, &id);
    if (rc != CLI_EXIT_OK) {
        json_decref(body);
        return rc;
    }
    char path[256];
    snprintf(path, sizeof path, "/api/v1/%s/%lld/%s", kind_path, id, action);
    struct remote_response resp;
    rc = exchange(s, "POST", path, body ? body : json_object(), NULL, &resp);
    return rc == CLI_EXIT_OK ? show_object(s, kind, &resp) : rc;
}

static int run_approve(struct remote_session *s, struct remote_args *a)
{
    return object_action(s, a, "requests", "request", "approve", NULL, REMOTE_KIND_REQUESTS);
}

static int run_reject(struct remote_session *s, struct remote_args *a)
{
    json_t *body = json_object();
    set_string(body, "reason", arg(a, OPT_REMOTE_REASON));
    return object_action(s, a, "requests", "request", "reject", body, REMOTE_KIND_REQUESTS);
}

static int run_withdraw(struct remote_session *s, struct remote_args *a)
{
    return object_action(s, a, "requests", "request", "withdraw", NULL, REMOTE_KIND_REQUESTS);
}

static int run_deassign(struct remote_session *s, struct remote_args *a)
{
    json_t *body = json_object();
    int rc = set_integer(s, body, "days", "days", arg(a, OPT_REMOTE_DAYS), 0, 3650);
    set_string(body, "reason", arg(a, OPT_REMOTE_REASON));
    if (a->force)
        json_object_set_new(body, "force", json_true());
    if (rc != CLI_EXIT_OK) {
        json_decref(body);
        return rc;
    }
    return object_action(s, a, "assignments", "assignment", "deassign", body, REMOTE_KIND_ASSIGNMENTS);
}

static int run_revoke(struct remote_session *s, struct remote_args *a)
{
    return object_action(s, a, "assignments", "assignment", "revoke", NULL, REMOTE_KIND_ASSIGNMENTS);
}

static int run_lease(struct remote_session *s, struct remote_args *a)
{
    if (a->operand_count < 1)
        return cli_usage_error(s->command, "give the SERVICE");
    if (a->operand_count > 1)
        return cli_usage_error(s->command, "unexpected argument '%s'", a->operands[1]);
    if (a->host_count != 1)
        return cli_usage_error(s->command, a->host_count ? "a lease is on one host: give --host once"
                                                         : "give --host HOST");
    if (arg(a, OPT_REMOTE_RANGE) && arg(a, OPT_REMOTE_PORT))
        return cli_usage_error(s->command, "give --range or --port, not both");
    json_t *body = json_object();
    set_string(body, "service", a->operands[0]);
    set_string(body, "host", a->hosts[0]);
    set_string(body, "proto", arg(a, OPT_REMOTE_PROTO));
    set_string(body, "range", arg(a, OPT_REMOTE_RANGE));
    set_string(body, "holder", arg(a, OPT_REMOTE_HOLDER));
    int rc = set_integer(s, body, "port", "port", arg(a, OPT_REMOTE_PORT), 1, 65535);
    if (rc == CLI_EXIT_OK)
        rc = set_integer(s, body, "ttl", "ttl", arg(a, OPT_REMOTE_TTL), 1, 366LL * 86400);
    if (rc != CLI_EXIT_OK) {
        json_decref(body);
        return rc;
    }
    struct remote_response resp;
    rc = exchange(s, "POST", "/api/v1/leases", body, arg(a, OPT_REMOTE_IDEMPOTENCY_KEY), &resp);
    return rc == CLI_EXIT_OK ? show_object(s, REMOTE_KIND_LEASES, &resp) : rc;
}

static int run_renew(struct remote_session *s, struct remote_args *a)
{
    json_t *body = json_object();
    int rc = set_integer(s, body, "ttl", "ttl", arg(a, OPT_REMOTE_TTL), 1, 366LL * 86400);
    if (rc != CLI_EXIT_OK) {
        json_decref(body);
        return rc;
    }
    return object_action(s, a, "leases", "lease", "renew", body, REMOTE_KIND_LEASES);
}

static int run_release(struct remote_session *s, struct remote_args *a)
{
    return object_action(s, a, "leases", "lease", "release", NULL, REMOTE_KIND_LEASES);
}

static int run_requests(struct remote_session *s, struct remote_args *a)
{
    static const int ids[] = { OPT_REMOTE_STATE, OPT_REMOTE_SERVICE, OPT_REMOTE_OWNER, OPT_REMOTE_PROTO, 0 };
    static const char *const names[] = { "state", "service", "owner", "proto" };
    char path[4096] = "/api/v1/requests";
    int rc = no_operands(s, a);
    if (rc == CLI_EXIT_OK)
        rc = build_query(s, path, sizeof path, a, ids, names);
    return rc == CLI_EXIT_OK ? list_collection(s, REMOTE_KIND_REQUESTS, path, NULL, NULL) : rc;
}

static int run_assignments(struct remote_session *s, struct remote_args *a)
{
    static const int ids[] = { OPT_REMOTE_HOST, OPT_REMOTE_SERVICE, OPT_REMOTE_STATE, OPT_REMOTE_PROTO,
                               OPT_REMOTE_OWNER, OPT_REMOTE_REQUEST, 0 };
    static const char *const names[] = { "host", "service", "state", "proto", "owner", "request" };
    char path[4096] = "/api/v1/assignments";
    if (a->host_count > 1)
        return cli_usage_error(s->command, "give --host once");
    a->value[OPT_REMOTE_HOST - OPT_REMOTE_SERVER] = a->host_count ? a->hosts[0] : NULL;
    long long port = 0;
    const char *port_text = arg(a, OPT_REMOTE_PORT);
    if (port_text && !parse_number(port_text, 1, 65535, &port))
        return cli_usage_error(s->command, "--port: \"%s\" is not a port 1-65535", port_text);
    int rc = no_operands(s, a);
    if (rc == CLI_EXIT_OK)
        rc = build_query(s, path, sizeof path, a, ids, names);
    /* --port N: the server answers the ranges that hold N (port_lo <= N <= port_hi) */
    char port_query[8];
    snprintf(port_query, sizeof port_query, "%lld", port);
    struct pr_error err;
    if (rc == CLI_EXIT_OK && port_text && remote_query_append(path, sizeof path, "port", port_query, &err) < 0)
        rc = cli_error_from(CLI_EXIT_USAGE, s->command, &err);
    return rc == CLI_EXIT_OK ? list_collection(s, REMOTE_KIND_ASSIGNMENTS, path, NULL, NULL) : rc;
}

static int run_leases(struct remote_session *s, struct remote_args *a)
{
    static const int ids[] = { OPT_REMOTE_HOST, OPT_REMOTE_SERVICE, OPT_REMOTE_STATE, OPT_REMOTE_PROTO,
                               OPT_REMOTE_HOLDER, 0 };
    static const char *const names[] = { "host", "service", "state", "proto", "holder" };
    char path[4096] = "/api/v1/leases";
    if (a->host_count > 1)
        return cli_usage_error(s->command, "give --host once");
    a->value[OPT_REMOTE_HOST - OPT_REMOTE_SERVER] = a->host_count ? a->hosts[0] : NULL;
    int rc = no_operands(s, a);
    if (rc == CLI_EXIT_OK)
        rc = build_query(s, path, sizeof path, a, ids, names);
    return rc == CLI_EXIT_OK ? list_collection(s, REMOTE_KIND_LEASES, path, NULL, NULL) : rc;
}

static int run_events(struct remote_session *s, struct remote_args *a)
{
    static const int ids[] = { OPT_REMOTE_KIND, OPT_REMOTE_REQUEST_ID, OPT_REMOTE_ACTOR, 0 };
    static const char *const names[] = { "kind", "request_id", "actor" };
    char path[4096] = "/api/v1/events";
    long long number;
    const char *after = arg(a, OPT_REMOTE_AFTER), *limit = arg(a, OPT_REMOTE_LIMIT);
    if (after && !parse_number(after, 0, INT64_MAX, &number))
        return cli_usage_error(s->command, "--after: \"%s\" is not an event ID", after);
    if (limit && !parse_number(limit, 1, 1000, &number))
        return cli_usage_error(s->command, "--limit: \"%s\" is not a number 1-1000", limit);
    int rc = no_operands(s, a);
    if (rc == CLI_EXIT_OK)
        rc = build_query(s, path, sizeof path, a, ids, names);
    const char *object = arg(a, OPT_REMOTE_OBJECT);
    if (rc == CLI_EXIT_OK && object) {
        char kind[128];
        const char *slash = strchr(object, '/');
        size_t kind_len = slash ? (size_t)(slash - object) : strlen(object);
        if (kind_len == 0 || kind_len >= sizeof kind || (slash && !parse_number(slash + 1, 1, INT64_MAX, &number)))
            return cli_usage_error(s->command, "--object: \"%s\" is not KIND or KIND/ID (assignments/3)", object);
        memcpy(kind, object, kind_len);
        kind[kind_len] = '\0';
        struct pr_error err;
        if (remote_query_append(path, sizeof path, "object_kind", kind, &err) < 0 ||
            (slash && remote_query_append(path, sizeof path, "object_id", slash + 1, &err) < 0))
            return cli_error_from(CLI_EXIT_USAGE, s->command, &err);
    }
    return rc == CLI_EXIT_OK ? list_collection(s, REMOTE_KIND_EVENTS, path, after, limit) : rc;
}

static int run_hosts(struct remote_session *s, struct remote_args *a)
{
    static const int ids[] = { OPT_REMOTE_NAME, 0 };
    static const char *const names[] = { "name" };
    char path[4096] = "/api/v1/hosts";
    int rc = no_operands(s, a);
    if (rc == CLI_EXIT_OK)
        rc = build_query(s, path, sizeof path, a, ids, names);
    return rc == CLI_EXIT_OK ? list_collection(s, REMOTE_KIND_HOSTS, path, NULL, NULL) : rc;
}

static int run_host_add(struct remote_session *s, struct remote_args *a)
{
    if (a->operand_count < 1)
        return cli_usage_error(s->command, "give the host's NAME");
    if (a->operand_count > 1)
        return cli_usage_error(s->command, "unexpected argument '%s'", a->operands[1]);
    json_t *addresses = json_object();
    for (size_t i = 0; i < a->address_count; i++) {
        const char *eq = strchr(a->addresses[i], '=');
        if (!eq || eq == a->addresses[i] || !eq[1]) {
            json_decref(addresses);
            return cli_usage_error(s->command, "--address \"%s\" is not NAME=ADDRESS (internal=10.0.0.5)",
                                   a->addresses[i]);
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - a->addresses[i]), a->addresses[i]);
        json_object_set_new(addresses, name, json_string(eq + 1));
    }
    json_t *body = json_object();
    set_string(body, "name", a->operands[0]);
    if (a->address_count)
        json_object_set_new(body, "addresses", addresses);
    else
        json_decref(addresses);
    struct remote_response resp;
    int rc = exchange(s, "POST", "/api/v1/hosts", body, NULL, &resp);
    return rc == CLI_EXIT_OK ? show_object(s, REMOTE_KIND_HOSTS, &resp) : rc;
}

static int run_policy(struct remote_session *s, struct remote_args *a)
{
    int rc = no_operands(s, a);
    struct remote_response resp;
    if (rc != CLI_EXIT_OK || (rc = exchange(s, "GET", "/api/v1/policy", NULL, NULL, &resp)) != CLI_EXIT_OK)
        return rc;
    if (s->json)
        cli_print_json(s->ctx, json_incref(resp.json));
    else if (json_is_object(resp.json))
        remote_view_policy(s->ctx, resp.json);
    else
        rc = cli_error(CLI_EXIT_FAILURE, s->command, "the server's answer is not a JSON object");
    remote_response_free(&resp);
    return rc;
}

static int run_import(struct remote_session *s, struct remote_args *a)
{
    if (a->operand_count != 1)
        return a->operand_count ? cli_usage_error(s->command, "unexpected argument '%s'", a->operands[1])
                                : cli_usage_error(s->command, "give the plan file (- for standard input)");
    const char *given = a->operands[0];
    const char *file = strcmp(given, "-") == 0 ? "/dev/stdin" : given;
    struct file_buffer plan = { 0 };
    struct pr_error err;
    pr_error_clear(&err);
    if (file_read_all_limited(file, REMOTE_IMPORT_MAX, &plan, &err) < 0) {
        pr_error_set_path(&err, given);
        return cli_error_from(cli_exit_for_input_error(err.code), s->command, &err);
    }
    int rc = session_open(s);
    if (rc != CLI_EXIT_OK) {
        file_buffer_free(&plan);
        return rc;
    }
    /* the server places its diagnostics in the file named here: the path as the user gave it */
    char path[1024] = "/api/v1/import";
    if ((a->dry_run && remote_query_append(path, sizeof path, "dry_run", "1", &err) < 0) ||
        remote_query_append(path, sizeof path, "file", given, &err) < 0) {
        file_buffer_free(&plan);
        return cli_error_from(CLI_EXIT_USAGE, s->command, &err);
    }
    struct remote_request request = {
        .method = "POST", .path = path,
        .content_type = "application/yaml", .body = plan.data, .body_len = plan.size,
    };
    struct remote_response resp;
    int r = remote_call(s->client, &request, &resp, &err);
    file_buffer_free(&plan);
    if (r < 0) {
        remote_response_free(&resp);
        return remote_view_call_error(s->command, &err, s->cfg.server_from);
    }
    json_t *diagnostics = json_object_get(resp.json, "diagnostics");
    if (remote_status_outcome(resp.status) != REMOTE_OK) {
        if (s->json && resp.json)
            cli_print_json(s->ctx, json_incref(resp.json));
        if (resp.error.diagnostics) {
            remote_view_diagnostics(stderr, resp.error.diagnostics, given);
            json_decref(resp.error.diagnostics);   /* printed with the file name given */
            resp.error.diagnostics = NULL;
        }
        rc = remote_view_answer_error(s->command, "POST", "/api/v1/import", &resp, s->cfg.token[0] != '\0');
    } else if (s->json) {
        cli_print_json(s->ctx, json_incref(resp.json));
    } else {
        if (json_is_array(diagnostics))
            remote_view_diagnostics(stderr, diagnostics, given);
        json_t *created = json_object_get(resp.json, "created");
        const char *key;
        json_t *value;
        if (s->ctx->stdout_is_tty)
            printf("%s%s", a->dry_run ? "would create (dry run, nothing changed):" : "created:",
                   json_object_size(created) ? "" : " nothing\n");
        size_t i = 0, n = json_object_size(created);
        json_object_foreach(created, key, value) {
            long long count = json_is_integer(value) ? (long long)json_integer_value(value)
                              : json_is_array(value) ? (long long)json_array_size(value) : 0;
            char name[128];
            text_escape(key, strlen(key), name, sizeof name);
            if (s->ctx->stdout_is_tty)
                printf(" %lld %s%s", count, name, ++i < n ? "," : "\n");
            else
                printf("%s\t%lld\n", name, count);
        }
    }
    remote_response_free(&resp);
    return rc;
}

static int run_export(struct remote_session *s, struct remote_args *a)
{
    static const char *const formats[] = { "services", "iana-csv", "nft", "netbox-csv", "netbox-csv-pre-4.3", "plan" };
    if (s->json)
        return cli_usage_error(s->command, "an export is the format's own text: --json does not apply");
    if (a->operand_count != 1)
        return a->operand_count ? cli_usage_error(s->command, "unexpected argument '%s'", a->operands[1])
                                : cli_usage_error(s->command, "give the FORMAT: services, iana-csv, nft, "
                                                              "netbox-csv, netbox-csv-pre-4.3 or plan");
    const char *format = a->operands[0];
    bool known = false;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        known = known || strcmp(format, formats[i]) == 0;
    if (!known)
        return cli_usage_error(s->command, "\"%s\" is not services, iana-csv, nft, netbox-csv, "
                                                 "netbox-csv-pre-4.3 or plan", format);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/exports/%s", format);
    struct remote_response resp;
    int rc = exchange(s, "GET", path, NULL, NULL, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct pr_error err;
    pr_error_clear(&err);
    if (a->output && strcmp(a->output, "-") != 0) {
        if (file_write_atomic(a->output, resp.body, resp.body_len, &err) < 0)
            rc = cli_error_from(cli_exit_for_output_error(err.code), s->command, &err);
    } else if (s->ctx->stdout_is_tty) {
        /* on a terminal, the server's text is escaped line by line */
        for (size_t at = 0; at < resp.body_len;) {
            const char *line = resp.body + at;
            const char *newline = memchr(line, '\n', resp.body_len - at);
            size_t len = newline ? (size_t)(newline - line) : resp.body_len - at;
            char *escaped = text_escape_dup(line, len);
            printf("%s\n", escaped ? escaped : "");
            free(escaped);
            at += len + 1;
        }
    } else {
        fwrite(resp.body, 1, resp.body_len, stdout);
    }
    remote_response_free(&resp);
    return rc;
}

/* ---- the fleet: drift, observations, scans ---- */

static int run_drift(struct remote_session *s, struct remote_args *a)
{
    if (a->operand_count)
        return cli_usage_error(s->command, "unexpected argument '%s'", a->operands[0]);
    if (a->host_count > 1)
        return cli_usage_error(s->command, "give --host once (or none: the whole fleet)");
    char path[512] = "/api/v1/drift";
    struct pr_error err;
    if (a->host_count && remote_query_append(path, sizeof path, "host", a->hosts[0], &err) < 0)
        return cli_error_from(CLI_EXIT_USAGE, s->command, &err);
    struct remote_response resp;
    int rc = exchange(s, "GET", path, NULL, NULL, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!json_is_object(resp.json)) {
        remote_response_free(&resp);
        return cli_error(CLI_EXIT_FAILURE, s->command, "the server's answer is not a JSON object");
    }
    if (s->json)
        cli_print_json(s->ctx, json_incref(resp.json));
    else
        remote_view_drift(s->ctx, resp.json);
    bool drift = json_integer_value(json_object_get(resp.json, "drift")) > 0;
    remote_response_free(&resp);
    return drift ? CLI_EXIT_NO : CLI_EXIT_OK;
}

static int run_observations(struct remote_session *s, struct remote_args *a)
{
    if (a->operand_count > 1)
        return cli_usage_error(s->command, "unexpected argument '%s'", a->operands[1]);
    char path[512] = "/api/v1/observations";
    if (a->operand_count) {
        const char *host = a->operands[0];
        for (const char *p = host; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
                  *p == '-' || *p == '_'))
                return cli_usage_error(s->command, "\"%s\" is not a host name", host);
        snprintf(path, sizeof path, "/api/v1/observations/%s", host);
    }
    struct remote_response resp;
    int rc = exchange(s, "GET", path, NULL, NULL, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (s->json)
        cli_print_json(s->ctx, json_incref(resp.json));
    else
        remote_view_observations(s->ctx, resp.json);
    remote_response_free(&resp);
    return CLI_EXIT_OK;
}

static int run_observe_scan(struct remote_session *s, struct remote_args *a)
{
    if (a->operand_count != 1)
        return a->operand_count ? cli_usage_error(s->command, "unexpected argument '%s'", a->operands[1])
                                : cli_usage_error(s->command, "give the scan's JSON file (- for standard input)");
    const char *given = a->operands[0];
    struct file_buffer scan = { 0 };
    struct pr_error err;
    pr_error_clear(&err);
    if (file_read_all_limited(strcmp(given, "-") == 0 ? "/dev/stdin" : given, REMOTE_IMPORT_MAX, &scan, &err) < 0) {
        pr_error_set_path(&err, given);
        return cli_error_from(cli_exit_for_input_error(err.code), s->command, &err);
    }
    json_error_t jerr;
    json_t *doc = json_loadb(scan.data, scan.size, 0, &jerr);
    file_buffer_free(&scan);
    if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "hosts"))) {
        json_decref(doc);
        return cli_error(CLI_EXIT_USAGE, s->command, "%s: not the JSON of `portreg scan --json`", given);
    }
    struct remote_response resp;
    int rc = exchange(s, "POST", "/api/v1/scans", doc, NULL, &resp);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (s->json) {
        cli_print_json(s->ctx, json_incref(resp.json));
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(resp.json, "hosts"), i, v) {
            char name[256];
            text_escape(json_string_value(v) ? json_string_value(v) : "", json_string_length(v), name, sizeof name);
            printf("%s\t%s\n", "host", name);
        }
        json_array_foreach(json_object_get(resp.json, "unmatched"), i, v) {
            char name[256];
            text_escape(json_string_value(v) ? json_string_value(v) : "", json_string_length(v), name, sizeof name);
            printf("%s\t%s\n", "unmatched", name);
        }
    }
    remote_response_free(&resp);
    return CLI_EXIT_OK;
}

/* ---- dispatch ---- */

typedef int remote_run_fn(struct remote_session *s, struct remote_args *a);

static const struct {
    const char *name;
    remote_run_fn *run;
} remote_runs[] = {
    { "request", run_request }, { "requests", run_requests }, { "approve", run_approve },
    { "reject", run_reject }, { "withdraw", run_withdraw }, { "assign", run_assign },
    { "assignments", run_assignments }, { "deassign", run_deassign }, { "revoke", run_revoke },
    { "lease", run_lease }, { "renew", run_renew }, { "release", run_release }, { "leases", run_leases },
    { "events", run_events }, { "hosts", run_hosts }, { "host add", run_host_add }, { "policy", run_policy },
    { "import", run_import }, { "export", run_export }, { "drift", run_drift },
    { "observations", run_observations }, { "observe-scan", run_observe_scan },
};

static void print_remote_help(FILE *out)
{
    fputs(cli_remote_usage_head, out);
    for (const struct remote_subcommand_help *h = remote_subcommand_helps; h->name; h++)
        fprintf(out, "  %-12s %s\n", h->name, h->summary);
    fputs("\noptions (before or after the subcommand):\n", out);
    cli_options_print(out, cli_remote_options);
    fputs(cli_remote_usage_tail, out);
}

static void print_subcommand_help(FILE *out, const struct remote_subcommand_help *h)
{
    fprintf(out, "usage: portreg remote %s %s\n\n%c%s.\n", h->name, h->operands,
            h->summary[0] >= 'a' && h->summary[0] <= 'z' ? h->summary[0] - 'a' + 'A' : h->summary[0], h->summary + 1);
    if (h->description)
        fprintf(out, "%s\n", h->description);
    fprintf(out, "\noptions:\n");
    cli_options_print(out, h->options);
    fputs("\nand --server URL, --token TOKEN, --cacert FILE, --json (see 'portreg remote --help').\n", out);
    fputs(cli_remote_usage_tail, out);
}

/* Options before the subcommand and after it are the same common ones: collect both. */
static int common_option(struct remote_session *s, int opt)
{
    switch (opt) {
    case OPT_REMOTE_SERVER: s->server = optarg; return 1;
    case OPT_REMOTE_TOKEN: s->token = optarg; return 1;
    case OPT_REMOTE_CACERT: s->cacert = optarg; return 1;
    case OPT_REMOTE_JSON: s->json = true; return 1;
    default: return 0;
    }
}

int cmd_remote(int argc, char **argv, struct cli_context *ctx)
{
    struct remote_session s = { .ctx = ctx };
    snprintf(s.command, sizeof s.command, "remote");
    int opt;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "remote", cli_remote_options, argc, argv, CLI_OPTIONS_STOP_AT_OPERAND);
    while ((opt = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        if (common_option(&s, opt))
            continue;
        if (opt == 'h') {
            print_remote_help(stdout);
            return CLI_EXIT_OK;
        }
        return cli_options_error(&parser);
    }
    if (optind >= argc) {
        print_remote_help(stderr);
        return CLI_EXIT_USAGE;
    }
    int first = optind, words = 1;
    char name[32];
    snprintf(name, sizeof name, "%s", argv[first]);
    if (strcmp(name, "host") == 0) {
        if (first + 1 >= argc || strcmp(argv[first + 1], "add") != 0)
            return cli_usage_error("remote", "'remote host' has one subcommand: add (and 'remote hosts' lists them)");
        snprintf(name, sizeof name, "host add");
        words = 2;
    }
    const struct remote_subcommand_help *help = NULL;
    for (const struct remote_subcommand_help *h = remote_subcommand_helps; h->name; h++)
        if (strcmp(h->name, name) == 0)
            help = h;
    remote_run_fn *run = NULL;
    for (size_t i = 0; i < sizeof remote_runs / sizeof remote_runs[0]; i++)
        if (strcmp(remote_runs[i].name, name) == 0)
            run = remote_runs[i].run;
    if (!help || !run)
        return cli_usage_error("remote", "'%s' is not a remote subcommand", argv[first]);
    snprintf(s.command, sizeof s.command, "remote %s", name);

    struct remote_args a = { 0 };
    int sub_argc = argc - first - words + 1;
    char **sub_argv = argv + first + words - 1;
    optind = 0;
    cli_options_begin(&parser, s.command, help->options, sub_argc, sub_argv, 0);
    while ((opt = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        if (common_option(&s, opt))
            continue;
        switch (opt) {
        case 'h':
            print_subcommand_help(stdout, help);
            return CLI_EXIT_OK;
        case OPT_REMOTE_OUTPUT:
            a.output = optarg;
            break;
        case OPT_REMOTE_DRY_RUN:
            a.dry_run = true;
            break;
        case OPT_REMOTE_FORCE:
            a.force = true;
            break;
        case OPT_REMOTE_HOST:
            if (a.host_count == REMOTE_VALUES_MAX)
                return cli_usage_error(s.command, "at most %d --host", REMOTE_VALUES_MAX);
            a.hosts[a.host_count++] = optarg;
            break;
        case OPT_REMOTE_ADDRESS:
            if (a.address_count == REMOTE_VALUES_MAX)
                return cli_usage_error(s.command, "at most %d --address", REMOTE_VALUES_MAX);
            a.addresses[a.address_count++] = optarg;
            break;
        case CLI_OPTIONS_ERROR:
            return cli_options_error(&parser);
        default:
            if (opt >= OPT_REMOTE_SERVER && opt <= OPT_REMOTE_DRY_RUN) {
                a.value[opt - OPT_REMOTE_SERVER] = optarg;
                break;
            }
            return cli_options_error(&parser);
        }
    }
    a.json = s.json;
    a.operands = sub_argv + optind;
    a.operand_count = sub_argc - optind;
    int rc = check_utf8(&s, &a);
    if (rc == CLI_EXIT_OK)
        rc = run(&s, &a);
    remote_client_close(s.client);
    return rc;
}
