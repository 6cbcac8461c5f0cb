/* cmd_check.c — `portreg check [ADDR:]PORT[/PROTO]`: would a new bind succeed? The sockets on
 * the port (inspect_run, this namespace, every state, with processes) go through the bind-rule
 * simulator (doctor/bindsim.h), a trial bind confirms it (doctor/trial_bind.h, --no-try skips),
 * and the answer is rendered as text or one JSON document. Exit 0 free, 1 blocked or unknown
 * (or a warning with --strict), 2 bad input, 3 failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "doctor/bindsim.h"
#include "doctor/trial_bind.h"
#include "net/exposure.h"
#include "net/host_facts.h"
#include "registry/record.h"
#include "socket_view.h"
#include "util/capabilities.h"

static const char check_usage[] =
    "usage: portreg check [options] [ADDR:]PORT[/PROTO]\n\n"
    "Would a new socket bound to ADDR:PORT succeed? If not: which sockets and processes block\n"
    "it, the kernel rule that applies, and what to do. PORT alone means [::] dual-stack (every\n"
    "IPv4 and IPv6 address, as most servers bind); PROTO is tcp (default) or udp.\n"
    "ADDR: 127.0.0.1, 0.0.0.0, [::1], [::].\n\n";
static const char check_usage_tail[] =
    "Exit status: 0 free, 1 blocked or undecided (or a warning with --strict), 2 bad input,\n"
    "3 failure.\n";

enum { OPT_REUSEADDR = 256, OPT_REUSEPORT, OPT_V6ONLY, OPT_DUAL_STACK, OPT_USER, OPT_DEVICE,
       OPT_NO_TRY, OPT_STRICT, OPT_JSON };
const struct cli_option cli_check_options[] = {
    { "reuseaddr", 0, CLI_OPTION_NO_VALUE, NULL, "the new socket sets SO_REUSEADDR", OPT_REUSEADDR, 0 },
    { "reuseport", 0, CLI_OPTION_NO_VALUE, NULL, "the new socket sets SO_REUSEPORT", OPT_REUSEPORT, 0 },
    { "v6only", 0, CLI_OPTION_NO_VALUE, NULL, "IPv6 only (IPV6_V6ONLY); the default follows\nnet.ipv6.bindv6only", OPT_V6ONLY, 0 },
    { "dual-stack", 0, CLI_OPTION_NO_VALUE, NULL, "IPv6 and IPv4 (IPV6_V6ONLY off)", OPT_DUAL_STACK, 0 },
    { "user", 0, CLI_OPTION_REQUIRED_VALUE, "USER", "the user the service runs as (default: you)", OPT_USER, 0 },
    { "device", 0, CLI_OPTION_REQUIRED_VALUE, "IF", "the new socket is bound to interface IF (SO_BINDTODEVICE)", OPT_DEVICE, 0 },
    { "no-try", 0, CLI_OPTION_NO_VALUE, NULL, "do not confirm with a trial bind", OPT_NO_TRY, 0 },
    { "strict", 0, CLI_OPTION_NO_VALUE, NULL, "exit 1 on warnings too", OPT_STRICT, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", OPT_JSON, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

struct check_request {
    struct bindsim_plan plan;
    bool v6only_given, dual_stack_given, address_given;
    const char *device_name;
};

static bool ipv6_available(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static int parse_port(const char *text, uint16_t *port)
{
    char *end;
    if (!*text || *text == '-' || *text == '+')
        return -1;
    unsigned long value = strtoul(text, &end, 10);
    if (*end || value == 0 || value > 65535)
        return -1;
    *port = (uint16_t)value;
    return 0;
}

/* "[ADDR:]PORT[/PROTO]" into req->plan (address, family, port, proto). */
static int parse_target(const char *arg, struct check_request *req)
{
    char buf[256];
    if (strlen(arg) >= sizeof buf)
        return cli_error(CLI_EXIT_USAGE, "check", "%.40s...: too long", arg);
    snprintf(buf, sizeof buf, "%s", arg);
    struct bindsim_plan *plan = &req->plan;
    plan->proto = REGISTRY_PROTO_TCP;
    char *slash = strrchr(buf, '/');
    if (slash) {
        *slash = '\0';
        if (strcmp(slash + 1, "tcp") == 0)
            plan->proto = REGISTRY_PROTO_TCP;
        else if (strcmp(slash + 1, "udp") == 0)
            plan->proto = REGISTRY_PROTO_UDP;
        else
            return cli_error(CLI_EXIT_USAGE, "check", "%s: protocol \"%s\": tcp or udp", arg, slash + 1);
    }
    const char *port_text = buf;
    if (buf[0] == '[') {
        char *close_bracket = strchr(buf, ']');
        if (!close_bracket || close_bracket[1] != ':')
            return cli_error(CLI_EXIT_USAGE, "check", "%s: write an IPv6 address as [ADDR]:PORT", arg);
        *close_bracket = '\0';
        if (inet_pton(AF_INET6, buf + 1, plan->address) != 1)
            return cli_error(CLI_EXIT_USAGE, "check", "%s: \"%s\" is not an IPv6 address", arg, buf + 1);
        plan->family = AF_INET6;
        port_text = close_bracket + 2;
        req->address_given = true;
    } else {
        char *colon = strrchr(buf, ':');
        if (colon) {
            *colon = '\0';
            if (strchr(buf, ':'))
                return cli_error(CLI_EXIT_USAGE, "check", "%s: write an IPv6 address as [ADDR]:PORT", arg);
            if (inet_pton(AF_INET, buf, plan->address) != 1)
                return cli_error(CLI_EXIT_USAGE, "check", "%s: \"%s\" is not an IPv4 address", arg, buf);
            plan->family = AF_INET;
            port_text = colon + 1;
            req->address_given = true;
        } else {
            /* PORT alone: a server on every address, [::] dual-stack where IPv6 exists */
            plan->family = ipv6_available() ? AF_INET6 : AF_INET;
        }
    }
    if (parse_port(port_text, &plan->port) < 0)
        return cli_error(CLI_EXIT_USAGE, "check", "%s: \"%s\" is not a port: ports are 1-65535", arg, port_text);
    return CLI_EXIT_OK;
}

struct check_outcome {
    struct bindsim_result sim;
    bool tried;
    struct trial_bind_result trial;
    enum bindsim_verdict verdict;     /* the final answer */
    int agrees;                       /* 1, 0, -1 = not comparable */
};

static const char *errno_name(int e)
{
    const char *name = e ? strerrorname_np(e) : NULL;
    return name ? name : "?";
}

static void json_socket_list_item(const struct socket_view_context *v, size_t i, struct json_writer *w)
{
    json_writer_key_literal(w, "socket");
    socket_view_json(v, i, w);
}

static void print_json(const struct cli_context *ctx, const struct check_request *req,
                       const struct socket_view_context *v, const struct check_outcome *o)
{
    const struct bindsim_plan *plan = &req->plan;
    const struct inspect_result *res = v->res;
    struct json_writer *w = malloc(sizeof *w);
    if (!w)
        abort();
    json_writer_init(w, stdout, ctx->stdout_is_tty);
    json_writer_object_begin(w);
    json_writer_key_literal(w, "check");
    json_writer_object_begin(w);
    char addr[INET6_ADDRSTRLEN];
    inet_ntop(plan->family, plan->address, addr, sizeof addr);
    json_writer_key_literal(w, "proto");
    json_writer_string(w, registry_proto_name(plan->proto));
    json_writer_key_literal(w, "family");
    json_writer_string(w, plan->family == AF_INET6 ? "ipv6" : "ipv4");
    json_writer_key_literal(w, "address");
    json_writer_string(w, addr);
    json_writer_key_literal(w, "port");
    json_writer_uint(w, plan->port);
    json_writer_key_literal(w, "v6only");
    if (plan->family == AF_INET6)
        json_writer_bool(w, plan->v6only);
    else
        json_writer_null(w);
    json_writer_key_literal(w, "reuseaddr");
    json_writer_bool(w, plan->reuseaddr);
    json_writer_key_literal(w, "reuseport");
    json_writer_bool(w, plan->reuseport);
    json_writer_key_literal(w, "uid");
    json_writer_uint(w, plan->uid);
    json_writer_key_literal(w, "device");
    json_writer_string(w, req->device_name);
    json_writer_object_end(w);

    json_writer_key_literal(w, "verdict");
    json_writer_string(w, bindsim_verdict_id(o->verdict));
    json_writer_key_literal(w, "reason");
    json_writer_string(w, o->verdict == BINDSIM_FREE ? NULL
                          : o->tried && o->trial.bind_errno == EACCES ? "privileged-port"
                          : o->tried && o->trial.bind_errno && o->trial.bind_errno != EADDRINUSE ? "bind-error"
                          : o->tried && o->trial.bind_errno == EADDRINUSE && o->sim.verdict == BINDSIM_FREE
                              ? "address-in-use"
                          : bindsim_reason_id(&o->sim));
    json_writer_key_literal(w, "simulation");
    json_writer_object_begin(w);
    json_writer_key_literal(w, "verdict");
    json_writer_string(w, bindsim_verdict_id(o->sim.verdict));
    json_writer_key_literal(w, "sockets_considered");
    json_writer_uint(w, o->sim.considered);
    json_writer_object_end(w);
    json_writer_key_literal(w, "trial");
    if (!o->tried) {
        json_writer_null(w);
    } else {
        json_writer_object_begin(w);
        json_writer_key_literal(w, "verdict");
        json_writer_string(w, bindsim_verdict_id(trial_bind_verdict(&o->trial)));
        json_writer_key_literal(w, "errno");
        json_writer_string(w, o->trial.bind_errno ? errno_name(o->trial.bind_errno) : NULL);
        json_writer_key_literal(w, "step");
        json_writer_string(w, o->trial.step);
        json_writer_key_literal(w, "uid");
        json_writer_uint(w, o->trial.uid);
        json_writer_key_literal(w, "as_planned_uid");
        json_writer_bool(w, o->trial.as_planned_uid);
        json_writer_key_literal(w, "without_capabilities");
        json_writer_bool(w, o->trial.without_capabilities);
        json_writer_key_literal(w, "agrees");
        if (o->agrees < 0)
            json_writer_null(w);
        else
            json_writer_bool(w, o->agrees == 1);
        json_writer_object_end(w);
    }
    json_writer_key_literal(w, "blockers");
    json_writer_array_begin(w);
    for (size_t k = 0; k < o->sim.conflict_count; k++) {
        const struct bindsim_conflict *c = &o->sim.conflicts[k];
        char sentence[1024];
        json_writer_object_begin(w);
        json_writer_key_literal(w, "rule");
        json_writer_string(w, bindsim_rule_id(c->rule));
        json_writer_key_literal(w, "overlap");
        json_writer_string(w, bindsim_overlap_id(c->overlap));
        json_writer_key_literal(w, "certain");
        json_writer_bool(w, c->certain);
        json_writer_key_literal(w, "shares_if_reuseaddr");
        json_writer_bool(w, c->shares_if_reuseaddr);
        json_writer_key_literal(w, "shares_if_reuseport");
        json_writer_bool(w, c->shares_if_reuseport);
        json_writer_key_literal(w, "explanation");
        json_writer_string(w, bindsim_conflict_sentence(plan, &res->sockets.items[c->socket_index], c,
                                                        sentence, sizeof sentence));
        json_socket_list_item(v, c->socket_index, w);
        json_writer_object_end(w);
    }
    json_writer_array_end(w);
    json_writer_key_literal(w, "shared");
    json_writer_array_begin(w);
    for (size_t k = 0; k < o->sim.shared_count; k++) {
        json_writer_object_begin(w);
        json_writer_key_literal(w, "reason");
        json_writer_string(w, bindsim_share_id(o->sim.shared[k].reason));
        json_socket_list_item(v, o->sim.shared[k].socket_index, w);
        json_writer_object_end(w);
    }
    json_writer_array_end(w);
    json_writer_key_literal(w, "fixes");
    json_writer_array_begin(w);
    for (size_t k = 0; k < o->sim.fix_count; k++) {
        json_writer_object_begin(w);
        json_writer_key_literal(w, "id");
        json_writer_string(w, bindsim_fix_id(o->sim.fixes[k].kind));
        json_writer_key_literal(w, "message");
        json_writer_string(w, o->sim.fixes[k].message);
        json_writer_object_end(w);
    }
    json_writer_array_end(w);
    json_writer_key_literal(w, "warnings");
    json_writer_array_begin(w);
    for (size_t k = 0; k < o->sim.warning_count; k++) {
        json_writer_object_begin(w);
        json_writer_key_literal(w, "id");
        json_writer_string(w, bindsim_warning_id(o->sim.warnings[k].kind));
        json_writer_key_literal(w, "message");
        json_writer_string(w, o->sim.warnings[k].message);
        json_writer_object_end(w);
    }
    json_writer_array_end(w);
    json_writer_object_end(w);
    json_writer_end_document(w);
    free(w);
}

/* "tcp LISTEN 0.0.0.0:8080  812/nginx (nginx.service)  uid 0 (root)"; a TIME-WAIT socket has
 * no process and no user: "tcp TIME-WAIT 127.0.0.1:8080  no process (kernel-held)  no user" */
static void format_socket_line(const struct socket_view_context *v, size_t i, char *buf, size_t size)
{
    const struct socket_entry *s = &v->res->sockets.items[i];
    char endpoint[128], processes[128], unit[160], user[96];
    socket_view_endpoint(s, false, endpoint, sizeof endpoint);
    socket_view_processes(v, i, processes, sizeof processes);
    socket_view_unit(v, i, unit, sizeof unit);
    bool owned = socket_view_has_owner(s);
    if (owned)
        snprintf(user, sizeof user, "uid %u (%s)", s->uid, uid_name(v->cache, s->uid));
    else
        snprintf(user, sizeof user, "no user");
    snprintf(buf, size, "%s %s %s  %s%s%s%s  %s", registry_proto_name(s->proto),
             socket_state_name(s->proto, s->state), endpoint,
             strcmp(processes, "-") ? processes
             : owned ? "no process (kernel-held or not visible)" : "no process (kernel-held)",
             strcmp(unit, "-") ? " (" : "", strcmp(unit, "-") ? unit : "", strcmp(unit, "-") ? ")" : "", user);
}

/* Sockets listed under a heading, one paragraph per distinct text: 50 TIME-WAIT sockets left by
 * connections from different peers read the same and are shown once, with their count. */
static void print_socket_paragraphs(const struct cli_context *ctx, const char *heading,
                                    const char *const *texts, size_t n)
{
    if (n == 0)
        return;
    printf("\n%s%s:%s\n", cli_bold(ctx), heading, cli_reset(ctx));
    size_t *group = calloc(n, sizeof *group), *count = calloc(n, sizeof *count);
    if (!group || !count)
        abort();   /* the CLI cannot render anything without memory */
    size_t groups = 0;
    for (size_t k = 0; k < n; k++) {
        size_t g = 0;
        while (g < groups && strcmp(texts[group[g]], texts[k]) != 0)
            g++;
        if (g == groups)
            group[groups++] = k;
        count[g]++;
    }
    for (size_t g = 0; g < groups; g++) {
        const char *text = texts[group[g]];
        const char *newline = strchr(text, '\n');
        size_t first_line = newline ? (size_t)(newline - text) : strlen(text);
        printf("  %.*s", (int)first_line, text);
        if (count[g] > 1)
            printf("  %s(%zu sockets)%s", cli_bold(ctx), count[g], cli_reset(ctx));
        printf("%s\n", newline ? newline : "");
    }
    free(group);
    free(count);
}

static void print_text(const struct cli_context *ctx, const struct check_request *req,
                       const struct socket_view_context *v, const struct check_outcome *o)
{
    const struct bindsim_plan *plan = &req->plan;
    char endpoint[80];
    bindsim_plan_endpoint(plan, endpoint, sizeof endpoint);
    const char *color = o->verdict == BINDSIM_FREE ? cli_green(ctx) : cli_yellow(ctx);
    bool privileged = o->verdict == BINDSIM_BLOCKED &&
                      (o->tried ? o->trial.bind_errno == EACCES : o->sim.privileged_port);
    const char *word = o->verdict == BINDSIM_FREE ? "free"
                       : privileged ? "blocked: privileged port"
                       : o->verdict == BINDSIM_BLOCKED ? "blocked" : "undecided";
    printf("%s%s %s%s%s%s%s%s%s) as uid %u: %s%s%s\n", cli_bold(ctx), registry_proto_name(plan->proto), endpoint,
           cli_reset(ctx), plan->family == AF_INET6 ? (plan->v6only ? " (IPv6 only" : " (dual-stack") : " (IPv4",
           plan->reuseaddr ? ", SO_REUSEADDR" : "", plan->reuseport ? ", SO_REUSEPORT" : "",
           req->device_name ? ", device " : "", req->device_name ? req->device_name : "", plan->uid,
           color, word, cli_reset(ctx));
    if (o->verdict == BINDSIM_FREE)
        printf("  bind() would succeed");
    else if (privileged)
        printf("  bind() would fail with EACCES: port %u is below net.ipv4.ip_unprivileged_port_start and uid %u "
               "has no CAP_NET_BIND_SERVICE", plan->port, plan->uid);
    else if (o->verdict == BINDSIM_BLOCKED)
        printf("  bind() would fail%s", o->tried && o->trial.bind_errno
                                            ? "" : " with EADDRINUSE");
    else
        printf("  the outcome depends on flags of existing sockets the kernel does not report");
    if (!o->tried)
        printf(" (simulated; no trial bind)\n");
    else if (o->trial.bind_errno && o->trial.bind_errno != EADDRINUSE && o->agrees != 1)
        printf(": the trial %s failed with %s (%s)\n", o->trial.step, errno_name(o->trial.bind_errno),
               strerror(o->trial.bind_errno));
    else if (o->agrees == 1)
        printf(": simulation and trial bind agree%s%s\n",
               o->trial.bind_errno ? o->trial.bind_errno == EACCES ? " (EACCES)" : " (EADDRINUSE)" : "",
               o->trial.without_capabilities ? ", the trial ran as that uid without root's capabilities" : "");
    else if (o->agrees == 0)
        printf(": the trial bind %s, the simulation said %s\n",
               o->trial.bind_errno ? "failed with EADDRINUSE" : "succeeded", bindsim_verdict_id(o->sim.verdict));
    else
        printf(": decided by the trial bind (%s)\n", o->trial.bind_errno ? "EADDRINUSE" : "it succeeded");
    if (o->tried && !o->trial.as_planned_uid)
        printf("  note: the trial ran as uid %u, not uid %u (needs root to create a socket as another user)\n",
               o->trial.uid, plan->uid);

    char **texts = calloc(o->sim.conflict_count + o->sim.shared_count + 1, sizeof *texts);
    if (!texts)
        abort();
    for (size_t k = 0; k < o->sim.conflict_count; k++) {
        const struct bindsim_conflict *c = &o->sim.conflicts[k];
        char line[1024], sentence[1024];
        format_socket_line(v, c->socket_index, line, sizeof line);
        bindsim_conflict_sentence(plan, &v->res->sockets.items[c->socket_index], c, sentence, sizeof sentence);
        if (asprintf(&texts[k], "%s\n    %s%s%s: %s", line, cli_dim(ctx), c->certain ? bindsim_rule_id(c->rule) : "maybe",
                     cli_reset(ctx), sentence) < 0)
            abort();
    }
    /* after a "free" verdict nothing blocks: the kernel's trial bind succeeded where the
     * simulation expected these sockets to be in the way */
    print_socket_paragraphs(ctx, o->verdict == BINDSIM_FREE
                                     ? "sockets the simulation expected to block (the trial bind succeeded)"
                                 : o->sim.conflict_count == 1 ? "blocking socket" : "blocking sockets",
                            (const char *const *)texts, o->sim.conflict_count);
    for (size_t k = 0; k < o->sim.conflict_count; k++)
        free(texts[k]);
    for (size_t k = 0; k < o->sim.shared_count; k++) {
        char line[1024];
        format_socket_line(v, o->sim.shared[k].socket_index, line, sizeof line);
        const char *why = o->sim.shared[k].reason == BINDSIM_SHARE_DEVICE
                              ? "bound to another device (SO_BINDTODEVICE on both sides)"
                          : o->sim.shared[k].reason == BINDSIM_SHARE_REUSEADDR
                              ? "SO_REUSEADDR on both, and it does not listen"
                              : "SO_REUSEPORT on both, same uid";
        if (asprintf(&texts[k], "%s\n    %s", line, why) < 0)
            abort();
    }
    print_socket_paragraphs(ctx, "shares the port (does not block)", (const char *const *)texts,
                            o->sim.shared_count);
    for (size_t k = 0; k < o->sim.shared_count; k++)
        free(texts[k]);
    free(texts);
    if (o->sim.fix_count && (o->verdict != BINDSIM_FREE || o->sim.privileged_port)) {
        printf("\n%sfixes:%s\n", cli_bold(ctx), cli_reset(ctx));
        for (size_t k = 0; k < o->sim.fix_count; k++)
            printf("  - %s\n", o->sim.fixes[k].message);
    }
    if (o->sim.warning_count) {
        printf("\n%swarnings:%s\n", cli_bold(ctx), cli_reset(ctx));
        for (size_t k = 0; k < o->sim.warning_count; k++)
            printf("  - %s\n", o->sim.warnings[k].message);
    }
}

/* The final verdict from the simulation and the trial; the kernel has the last word. */
static void decide(struct check_outcome *o)
{
    o->verdict = o->sim.verdict;
    o->agrees = -1;
    if (!o->tried)
        return;
    enum bindsim_verdict trial = trial_bind_verdict(&o->trial);
    if (trial == BINDSIM_UNKNOWN) {
        o->verdict = BINDSIM_BLOCKED;   /* bind() fails, for a reason outside the address rules */
        if (o->trial.bind_errno == EACCES)
            o->agrees = o->sim.privileged_port;   /* the one such reason the simulator judges */
        return;
    }
    if (o->sim.privileged_port) {
        o->agrees = 0;   /* said EACCES, the kernel let it through (or said EADDRINUSE) */
        o->verdict = trial;
        return;
    }
    if (o->sim.verdict != BINDSIM_UNKNOWN)
        o->agrees = o->sim.verdict == trial;
    o->verdict = trial;
}

static bool warning_counts_for_strict(enum bindsim_warning_kind kind)
{
    return kind != BINDSIM_WARN_FLAGS_UNSEEN;
}

static int run_check(const struct cli_context *ctx, struct check_request *req, bool try_bind, bool json,
                     bool strict)
{
    struct bindsim_plan *plan = &req->plan;
    struct portspec ports = { 0 };
    if (portspec_add(&ports, plan->port, plan->port, plan->proto) < 0)
        return cli_error(CLI_EXIT_FAILURE, "check", "out of memory");
    struct inspect_options opt = { .processes = true };
    opt.query.protos = 1u << plan->proto;
    opt.query.states = SOCKET_STATE_ALL;
    opt.query.local_ports = &ports;
    struct inspect_result res;
    struct pr_error err;
    pr_error_clear(&err);
    if (inspect_run(&opt, &res, &err) < 0) {
        portspec_free(&ports);
        return cli_error_from(cli_exit_for_error(err.code), "check", &err);
    }
    struct registry_index *ix = NULL;
    struct local_ports host_ports;
    cli_prepare_socket_view(ctx, &ix, &host_ports);
    struct socket_view_context view = { &res, ix, &host_ports, socket_view_cache_new() };

    struct socket_entry probe = { .proto = plan->proto, .local_port = plan->port };
    struct host_facts facts;
    host_facts_read(NULL, &facts);
    uint64_t self_capabilities = 0;
    capabilities_read_effective(NULL, 0, &self_capabilities, NULL);
    struct bindsim_host host = {
        .ports = &host_ports,
        .unprivileged_port_start = facts.unprivileged_port_start,
        .can_bind_privileged = capabilities_planned_user_has(plan->uid, (uint32_t)geteuid(), self_capabilities,
                                                             CAPABILITY_NET_BIND_SERVICE),
        .iana_service = socket_view_service(&view, &probe),
        .tcp_fin_timeout = facts.tcp_fin_timeout,
    };
    struct check_outcome outcome = { 0 };
    int rc = CLI_EXIT_OK;
    if (bindsim_check(plan, res.sockets.items, res.sockets.count, &host, &outcome.sim, &err) < 0) {
        rc = cli_error_from(cli_exit_for_error(err.code), "check", &err);
        goto out;
    }
    if (try_bind) {
        if (trial_bind_run(plan, &outcome.trial, &err) < 0) {
            rc = cli_error_from(CLI_EXIT_FAILURE, "check", &err);
            goto out;
        }
        outcome.tried = true;
    }
    decide(&outcome);
    if (json)
        print_json(ctx, req, &view, &outcome);
    else
        print_text(ctx, req, &view, &outcome);
    if (outcome.agrees == 0)
        cli_warning("check: the simulation said %s but the kernel's trial bind %s: this is a bug in "
                    "portreg's rules, please report it with the output of --json",
                    outcome.sim.privileged_port ? "blocked: privileged port" : bindsim_verdict_id(outcome.sim.verdict),
                    outcome.trial.bind_errno ? "failed with EADDRINUSE" : "succeeded");
    socket_view_warn_unattributed(&view, "check");
    rc = outcome.verdict == BINDSIM_FREE ? CLI_EXIT_OK : CLI_EXIT_NO;
    if (strict && rc == CLI_EXIT_OK)
        for (size_t k = 0; k < outcome.sim.warning_count; k++)
            if (warning_counts_for_strict(outcome.sim.warnings[k].kind))
                rc = CLI_EXIT_NO;
out:
    bindsim_result_free(&outcome.sim);
    socket_view_cache_free(view.cache);
    inspect_result_free(&res);
    registry_index_close(ix);
    portspec_free(&ports);
    return rc;
}

int cmd_check(int argc, char **argv, struct cli_context *ctx)
{
    struct check_request req;
    memset(&req, 0, sizeof req);
    req.plan.uid = (uint32_t)geteuid();
    bool try_bind = true, json = false, strict = false;
    int c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "check", cli_check_options, argc, argv, 0);
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_REUSEADDR: req.plan.reuseaddr = true; break;
        case OPT_REUSEPORT: req.plan.reuseport = true; break;
        case OPT_V6ONLY: req.v6only_given = true; break;
        case OPT_DUAL_STACK: req.dual_stack_given = true; break;
        case OPT_USER:
            if (cli_parse_user_option("check", optarg, &req.plan.uid) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case OPT_DEVICE:
            req.device_name = optarg;
            req.plan.device_ifindex = if_nametoindex(optarg);
            if (!req.plan.device_ifindex)
                return cli_error(CLI_EXIT_USAGE, "check", "--device \"%s\": no such network interface", optarg);
            break;
        case OPT_NO_TRY: try_bind = false; break;
        case OPT_STRICT: strict = true; break;
        case OPT_JSON: json = true; break;
        case 'h': cli_options_print_help(stdout, check_usage, cli_check_options, check_usage_tail); return CLI_EXIT_OK;
        default:
            return cli_options_error(&parser);
        }
    }
    if (optind >= argc)
        return cli_usage_error("check", "give [ADDR:]PORT[/PROTO], e.g. 8080, 127.0.0.1:8080, [::]:53/udp");
    if (optind + 1 < argc)
        return cli_usage_error("check", "unexpected argument '%s'", argv[optind + 1]);
    if (req.v6only_given && req.dual_stack_given)
        return cli_usage_error("check", "--v6only and --dual-stack exclude each other");
    int rc = parse_target(argv[optind], &req);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (req.plan.family == AF_INET && (req.v6only_given || req.dual_stack_given))
        return cli_error(CLI_EXIT_USAGE, "check", "%s: --v6only and --dual-stack apply to IPv6 addresses only",
                         argv[optind]);
    bool address_v6only;
    if (bindsim_address_decides_v6only(&req.plan, &address_v6only)) {
        /* a specific IPv6 address is IPv6-only whatever the flag; a v4-mapped one is IPv4 */
        if (address_v6only && req.dual_stack_given)
            return cli_error(CLI_EXIT_USAGE, "check", "%s: --dual-stack: a specific IPv6 address is always "
                             "IPv6-only (only [::] can take IPv4 too)", argv[optind]);
        if (!address_v6only && req.v6only_given)
            return cli_error(CLI_EXIT_USAGE, "check", "%s: --v6only: a v4-mapped address is an IPv4 address "
                             "and cannot be bound IPv6-only", argv[optind]);
        req.plan.v6only = address_v6only;
    } else if (req.plan.family == AF_INET6) {
        struct host_facts facts;
        host_facts_read(NULL, &facts);
        req.plan.v6only = req.v6only_given ? true : req.dual_stack_given ? false : facts.bindv6only == 1;
    }
    return run_check(ctx, &req, try_bind, json, strict);
}
