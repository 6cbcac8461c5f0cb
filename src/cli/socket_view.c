/* socket_view.c — column texts and JSON of one inspected socket (see socket_view.h). */
#include "socket_view.h"

#include <net/if.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "net/exposure.h"
#include "registry/service_match.h"
#include "registry/record.h"
#include "util/text_escape.h"

struct socket_view_cache {
    struct { uint32_t uid; char name[64]; } users[64];
    size_t user_count;
    bool service_valid;           /* rows come sorted by port: the last answer is often reused */
    uint16_t service_port;
    uint8_t service_proto;
    const char *service;          /* NULL or service_text */
    char service_text[256];       /* the registered name, escaped: registry files come from outside */
};

struct socket_view_cache *socket_view_cache_new(void)
{
    struct socket_view_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        abort();   /* the CLI cannot render anything without memory */
    return cache;
}

void socket_view_cache_free(struct socket_view_cache *cache)
{
    free(cache);
}

const char *uid_name(struct socket_view_cache *cache, uint32_t uid)
{
    for (size_t i = 0; i < cache->user_count; i++)
        if (cache->users[i].uid == uid)
            return cache->users[i].name;
    size_t slot = cache->user_count < 64 ? cache->user_count++ : uid % 64;
    cache->users[slot].uid = uid;
    struct passwd pw, *found = NULL;
    char buf[1024];
    if (getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &found) == 0 && found)
        text_escape(pw.pw_name, strlen(pw.pw_name), cache->users[slot].name, sizeof cache->users[slot].name);
    else
        snprintf(cache->users[slot].name, sizeof cache->users[slot].name, "%u", uid);
    return cache->users[slot].name;
}

/* Small appenders: a listing formats a million fields, and snprintf was its hot spot. */
static char *append_text(char *at, const char *end, const char *text)
{
    while (*text && at < end - 1)
        *at++ = *text++;
    *at = '\0';
    return at;
}

static char *append_number(char *at, const char *end, uint64_t value)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n > 0 && at < end - 1)
        *at++ = digits[--n];
    *at = '\0';
    return at;
}

bool socket_view_has_owner(const struct socket_entry *s)
{
    /* the kernel reports uid 0 and inode 0 for these: no process or user owns them */
    return s->state != SOCKET_STATE_TIME_WAIT && s->state != SOCKET_STATE_NEW_SYN_RECV &&
           !(s->state == SOCKET_STATE_SYN_RECV && s->inode == 0);
}

const char *socket_view_user(const struct socket_view_context *v, const struct socket_entry *s)
{
    return socket_view_has_owner(s) ? uid_name(v->cache, s->uid) : "-";
}

const char *socket_view_netns(const struct socket_view_context *v, uint64_t inode, char *buf, size_t size)
{
    const struct inspect_result *res = v->res;
    const struct inspected_netns *ns = inspect_netns(res, inode);
    if (ns && ns->name[0])
        return ns->name;
    /* the host's namespace is init's (pid 1); when pid 1's could not be seen (not root), the
     * caller's own stands for it */
    uint64_t host = res->netns_count ? res->netns[0].inode : 0;
    for (size_t k = 0; k < res->netns_count; k++)
        if (res->netns[k].pid == 1)
            host = res->netns[k].inode;
    if (inode == host) {
        snprintf(buf, size, "host");
        return buf;
    }
    append_number(buf, buf + size, inode);
    return buf;
}

const char *socket_view_endpoint(const struct socket_entry *s, bool peer, char *buf, size_t size)
{
    const uint8_t *addr = peer ? s->peer_addr : s->local_addr;
    uint16_t port = peer ? s->peer_port : s->local_port;
    static const uint8_t zero[16] = { 0 };
    const char *end = buf + size;
    if (peer && port == 0 && memcmp(addr, zero, 16) == 0) {
        append_text(buf, end, "*:*");
        return buf;
    }
    char text[64];
    socket_address_text(s->family, addr, text, sizeof text);
    char *at = buf;
    if (s->family == AF_INET6)
        at = append_text(at, end, "[");
    at = append_text(at, end, text);
    if (s->family == AF_INET6)
        at = append_text(at, end, "]");
    char name[IF_NAMESIZE];
    if (!peer && s->bound_ifindex && if_indextoname(s->bound_ifindex, name)) {
        at = append_text(at, end, "%");
        at = append_text(at, end, name);
    }
    at = append_text(at, end, ":");
    append_number(at, end, port);
    return buf;
}

const char *socket_view_processes(const struct socket_view_context *v, size_t i, char *buf, size_t size)
{
    const struct inspect_result *res = v->res;
    if (!res->processes_looked_up || res->holder_count[i] == 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    const struct socket_holder *h = &res->holders[res->holder_start[i]];
    const struct process_info *p = inspect_process(res, h->pid);
    /* holders of one socket are sorted by pid; count distinct pids beyond the first */
    unsigned others = 0;
    for (uint32_t k = 1; k < res->holder_count[i]; k++)
        if (h[k].pid != h[k - 1].pid)
            others++;
    const char *end = buf + size;
    char *at = append_number(buf, end, h->pid);
    at = append_text(at, end, "/");
    at = append_text(at, end, p && p->comm[0] ? p->comm : "?");
    if (others) {
        at = append_text(at, end, " +");
        append_number(at, end, others);
    }
    return buf;
}

static const struct cgroup_identity *socket_cgroup(const struct socket_view_context *v, size_t i)
{
    const struct inspect_result *res = v->res;
    if (res->processes_looked_up && res->holder_count[i]) {
        const struct process_info *p = inspect_process(res, res->holders[res->holder_start[i]].pid);
        if (p)
            return &p->cgroup;
    }
    const struct inspected_netns *ns = inspect_netns(res, res->sockets.items[i].netns);
    return ns && ns != &res->netns[0] ? &ns->owner : NULL;
}

const char *socket_view_unit(const struct socket_view_context *v, size_t i, char *buf, size_t size)
{
    const struct cgroup_identity *cg = socket_cgroup(v, i);
    if (cg && cg->container_id[0])
        snprintf(buf, size, "%s:%.12s", cg->container_runtime, cg->container_id);
    else if (cg && cg->pod_uid[0])
        snprintf(buf, size, "pod:%s", cg->pod_uid);
    else if (cg && cg->unit[0])   /* escaped when read; cut between characters and escapes */
        snprintf(buf, size, "%.*s", (int)text_escaped_prefix(cg->unit, strlen(cg->unit), size - 1), cg->unit);
    else
        snprintf(buf, size, "-");
    return buf;
}

static const char *registry_service_of(const struct registry_index *registry, uint16_t port,
                                       uint8_t proto)
{
    size_t n;
    const uint32_t *ids = registry_index_port_records(registry, port, &n);
    for (size_t k = 0; ids && k < n; k++) {
        struct registry_record rec;
        if (registry_index_record(registry, ids[k], &rec) && rec.status == REGISTRY_STATUS_ASSIGNED &&
            rec.service[0] && (rec.proto == proto || rec.proto == REGISTRY_PROTO_ANY))
            return rec.service;
    }
    return NULL;
}

const char *socket_view_service(const struct socket_view_context *v, const struct socket_entry *s)
{
    if (!v->registry)
        return NULL;
    struct socket_view_cache *c = v->cache;
    if (!c->service_valid || c->service_port != s->local_port || c->service_proto != s->proto) {
        const char *name = registry_service_of(v->registry, s->local_port, s->proto);
        c->service = NULL;
        if (name) {
            text_escape(name, strlen(name), c->service_text, sizeof c->service_text);
            c->service = c->service_text;
        }
        c->service_port = s->local_port;
        c->service_proto = s->proto;
        c->service_valid = true;
    }
    return c->service;
}

bool socket_view_service_mismatch(const struct socket_view_context *v, size_t i, const char *service)
{
    const struct inspect_result *res = v->res;
    const struct socket_entry *s = &res->sockets.items[i];
    /* only a server socket on a registered system port says something about who should hold it */
    if (!service || s->local_port >= 1024 || !res->processes_looked_up || res->holder_count[i] == 0 ||
        !(s->state == SOCKET_STATE_LISTEN || (s->proto == REGISTRY_PROTO_UDP && s->state == SOCKET_STATE_CLOSE)))
        return false;
    const struct process_info *p = inspect_process(res, res->holders[res->holder_start[i]].pid);
    return p && !service_is_generic(service) && !service_matches_command(service, p->comm);
}

void socket_view_json(const struct socket_view_context *v, size_t i, struct json_writer *w)
{
    const struct inspect_result *res = v->res;
    const struct socket_entry *s = &res->sockets.items[i];
    char addr[64];
    json_writer_object_begin(w);
    json_writer_key_literal(w, "proto");
    json_writer_string(w, registry_proto_name(s->proto));
    json_writer_key_literal(w, "family");
    json_writer_string(w, s->family == AF_INET6 ? "ipv6" : "ipv4");
    json_writer_key_literal(w, "state");
    json_writer_string(w, socket_state_name(s->proto, s->state));
    json_writer_key_literal(w, "local_address");
    json_writer_string(w, socket_address_text(s->family, s->local_addr, addr, sizeof addr));
    json_writer_key_literal(w, "local_port");
    json_writer_uint(w, s->local_port);
    json_writer_key_literal(w, "peer_address");
    json_writer_string(w, socket_address_text(s->family, s->peer_addr, addr, sizeof addr));
    json_writer_key_literal(w, "peer_port");
    json_writer_uint(w, s->peer_port);
    json_writer_key(w, "v6only");
    if (s->family == AF_INET6)
        json_writer_bool(w, s->v6only);
    else
        json_writer_null(w);
    json_writer_key_literal(w, "device");
    char dev[IF_NAMESIZE];
    json_writer_string(w, s->bound_ifindex && if_indextoname(s->bound_ifindex, dev) ? dev : NULL);
    json_writer_key_literal(w, "inode");
    json_writer_uint(w, s->inode);
    json_writer_key_literal(w, "uid");
    if (socket_view_has_owner(s))
        json_writer_uint(w, s->uid);
    else
        json_writer_null(w);   /* TIME-WAIT, SYN-RECV: the kernel's, no user's */
    json_writer_key_literal(w, "user");
    json_writer_string(w, socket_view_has_owner(s) ? uid_name(v->cache, s->uid) : NULL);
    json_writer_key_literal(w, "netns");
    json_writer_uint(w, s->netns);
    const struct inspected_netns *ns = inspect_netns(res, s->netns);
    json_writer_key_literal(w, "netns_name");
    json_writer_string(w, ns && ns->name[0] ? ns->name : NULL);
    json_writer_key_literal(w, "recv_queue");
    json_writer_uint(w, s->recv_queue);
    json_writer_key_literal(w, "send_queue");
    json_writer_uint(w, s->send_queue);

    json_writer_key_literal(w, "processes");
    if (!res->processes_looked_up) {
        json_writer_null(w);
    } else {
        json_writer_array_begin(w);
        for (uint32_t k = 0; k < res->holder_count[i]; k++) {
            const struct socket_holder *h = &res->holders[res->holder_start[i] + k];
            const struct process_info *p = inspect_process(res, h->pid);
            json_writer_object_begin(w);
            json_writer_key_literal(w, "pid");
            json_writer_uint(w, h->pid);
            json_writer_key_literal(w, "name");
            json_writer_string(w, p && p->comm[0] ? p->comm : NULL);
            json_writer_key_literal(w, "fd");
            json_writer_int(w, h->fd);
            json_writer_key_literal(w, "uid");
            if (p && p->uid != UINT32_MAX)   /* UINT32_MAX: status was not readable */
                json_writer_uint(w, p->uid);
            else
                json_writer_null(w);
            json_writer_object_end(w);
        }
        json_writer_array_end(w);
    }
    const struct cgroup_identity *cg = socket_cgroup(v, i);
    json_writer_key_literal(w, "unit");
    json_writer_string(w, cg && cg->unit[0] ? cg->unit : NULL);
    json_writer_key_literal(w, "container");
    if (cg && (cg->container_id[0] || cg->pod_uid[0])) {
        json_writer_object_begin(w);
        json_writer_key_literal(w, "runtime");
        json_writer_string(w, cg->container_runtime[0] ? cg->container_runtime : NULL);
        json_writer_key_literal(w, "id");
        json_writer_string(w, cg->container_id[0] ? cg->container_id : NULL);
        json_writer_key_literal(w, "pod_uid");
        json_writer_string(w, cg->pod_uid[0] ? cg->pod_uid : NULL);
        json_writer_object_end(w);
    } else {
        json_writer_null(w);
    }
    const char *service = socket_view_service(v, s);
    json_writer_key_literal(w, "service");
    json_writer_string(w, service);
    json_writer_key_literal(w, "service_mismatch");
    json_writer_bool(w, socket_view_service_mismatch(v, i, service));
    json_writer_key_literal(w, "exposure");
    json_writer_string(w, socket_exposure_id(socket_exposure_of(s)));
    json_writer_key_literal(w, "ephemeral");
    if (v->host && v->host->have_ephemeral)
        json_writer_bool(w, local_ports_is_ephemeral(v->host, s->local_port) &&
                                !local_ports_is_reserved(v->host, s->local_port));
    else
        json_writer_null(w);
    json_writer_object_end(w);
}

#include <sys/ioctl.h>
#include <unistd.h>

enum socket_column {
    COL_PROTO, COL_STATE, COL_LOCAL, COL_PEER, COL_PROCESS, COL_USER, COL_UNIT, COL_SERVICE,
    COL_EXPOSURE, COL_NETNS, COL_COUNT
};

static const char *const column_headers[COL_COUNT] = {
    "PROTO", "STATE", "LOCAL", "PEER", "PROCESS", "USER", "UNIT/CONTAINER", "SERVICE", "EXPOSURE", "NETNS",
};

/* Columns dropped first when the terminal is too narrow: least useful first. */
static const enum socket_column drop_order[] = { COL_NETNS, COL_USER, COL_EXPOSURE, COL_UNIT, COL_SERVICE, COL_PEER };

/* One row's cells: pointers to constant text or to the row's own buffers. */
struct socket_row {
    const char *cell[COL_COUNT];
    char proto[8], local[96], peer[96], process[96], unit[160], service[96], netns[24];
};

static void fill_row(const struct socket_view_context *v, size_t i, struct socket_row *row)
{
    const struct socket_entry *s = &v->res->sockets.items[i];
    char *end = append_text(row->proto, row->proto + sizeof row->proto, registry_proto_name(s->proto));
    if (s->family == AF_INET6)
        append_text(end, row->proto + sizeof row->proto, "6");
    row->cell[COL_PROTO] = row->proto;
    row->cell[COL_STATE] = socket_state_name(s->proto, s->state);
    row->cell[COL_LOCAL] = socket_view_endpoint(s, false, row->local, sizeof row->local);
    row->cell[COL_PEER] = socket_view_endpoint(s, true, row->peer, sizeof row->peer);
    row->cell[COL_PROCESS] = socket_view_processes(v, i, row->process, sizeof row->process);
    row->cell[COL_USER] = socket_view_user(v, s);
    row->cell[COL_UNIT] = socket_view_unit(v, i, row->unit, sizeof row->unit);
    const char *service = socket_view_service(v, s);
    if (service && socket_view_service_mismatch(v, i, service)) {
        end = append_text(row->service, row->service + sizeof row->service, service);
        append_text(end, row->service + sizeof row->service, " (!)");
        row->cell[COL_SERVICE] = row->service;
    } else {
        row->cell[COL_SERVICE] = service ? service : "-";
    }
    row->cell[COL_EXPOSURE] = socket_exposure_id(socket_exposure_of(s));
    row->cell[COL_NETNS] = socket_view_netns(v, s->netns, row->netns, sizeof row->netns);
}

static unsigned terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *columns = getenv("COLUMNS");
    return columns && atoi(columns) > 0 ? (unsigned)atoi(columns) : 80;
}

void socket_view_print_table(const struct socket_view_context *v, const struct cli_context *ctx,
                             const struct socket_table_options *opt)
{
    bool shown[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++)
        shown[c] = true;
    shown[COL_PEER] = opt->show_peer;
    shown[COL_NETNS] = opt->show_netns;
    struct socket_row row;
    size_t n = v->res->sockets.count;

    if (!ctx->stdout_is_tty) {
        /* streamed, no per-cell copies: this path prints 100k rows */
        for (size_t i = 0; i < n; i++) {
            fill_row(v, i, &row);
            bool first = true;
            for (int c = 0; c < COL_COUNT; c++) {
                if (!shown[c])
                    continue;
                if (!first)
                    putc_unlocked('\t', stdout);
                fputs_unlocked(row.cell[c], stdout);
                first = false;
            }
            putc_unlocked('\n', stdout);
        }
        return;
    }

    /* TTY: measure every column, then drop the least useful ones until the rest fits */
    size_t width[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++)
        width[c] = strlen(column_headers[c]);
    for (size_t i = 0; i < n; i++) {
        fill_row(v, i, &row);
        for (int c = 0; c < COL_COUNT; c++)
            if (strlen(row.cell[c]) > width[c])
                width[c] = strlen(row.cell[c]);
    }
    unsigned columns = terminal_width();
    for (size_t d = 0; d < sizeof drop_order / sizeof drop_order[0]; d++) {
        /* with --all-netns, NETNS is what tells another namespace's listener from this one's:
         * never dropped (the others go; a table still too wide wraps) */
        if (drop_order[d] == COL_NETNS && opt->show_netns)
            continue;
        size_t total = 0;
        for (int c = 0; c < COL_COUNT; c++)
            if (shown[c])
                total += width[c] + 2;
        if (total <= columns)
            break;
        shown[drop_order[d]] = false;
    }
    const char *header[COL_COUNT];
    unsigned visible = 0;
    for (int c = 0; c < COL_COUNT; c++)
        if (shown[c])
            header[visible++] = column_headers[c];
    struct cli_table *table = cli_table_new(visible, header);
    for (size_t i = 0; i < n; i++) {
        fill_row(v, i, &row);
        const char *cells[COL_COUNT];
        unsigned k = 0;
        for (int c = 0; c < COL_COUNT; c++)
            if (shown[c])
                cells[k++] = row.cell[c];
        cli_table_add_row(table, cells);
    }
    cli_table_print(table, ctx, stdout);
    cli_table_free(table);
}

static void write_summary(const struct socket_view_context *v, struct json_writer *w)
{
    const struct inspect_result *res = v->res;
    json_writer_object_begin(w);
    json_writer_key_literal(w, "sockets");
    json_writer_uint(w, res->sockets.count);
    json_writer_key_literal(w, "processes_looked_up");
    json_writer_bool(w, res->processes_looked_up);
    json_writer_key_literal(w, "unattributed");
    json_writer_uint(w, res->unattributed);
    json_writer_key_literal(w, "processes_denied");
    json_writer_uint(w, res->procmap.processes_denied);
    json_writer_key_literal(w, "process_method");
    json_writer_string(w, res->procmap.method_used == PROCMAP_METHOD_BPF    ? "bpf"
                          : res->procmap.method_used == PROCMAP_METHOD_PROC ? "proc"
                                                                            : NULL);   /* none ran */
    json_writer_key_literal(w, "netns");
    json_writer_array_begin(w);
    for (size_t k = 0; k < res->netns_count; k++) {
        const struct inspected_netns *ns = &res->netns[k];
        json_writer_object_begin(w);
        json_writer_key_literal(w, "inode");
        json_writer_uint(w, ns->inode);
        json_writer_key_literal(w, "name");
        json_writer_string(w, ns->name[0] ? ns->name : NULL);
        json_writer_key_literal(w, "pid");
        if (ns->pid)
            json_writer_uint(w, ns->pid);
        else
            json_writer_null(w);
        json_writer_key_literal(w, "entered");
        json_writer_bool(w, ns->entered);
        json_writer_object_end(w);
    }
    json_writer_array_end(w);
    json_writer_key_literal(w, "netns_failed");
    json_writer_uint(w, res->netns_failed);
    json_writer_object_end(w);
}

void socket_view_print_json(const struct socket_view_context *v, const struct cli_context *ctx,
                            bool ndjson)
{
    struct json_writer w;
    size_t n = v->res->sockets.count;
    json_writer_init(&w, stdout, !ndjson && ctx->stdout_is_tty);
    if (ndjson) {
        for (size_t i = 0; i < n; i++) {
            socket_view_json(v, i, &w);
            json_writer_end_document(&w);
        }
        return;
    }
    json_writer_object_begin(&w);
    json_writer_key_literal(&w, "sockets");
    json_writer_array_begin(&w);
    for (size_t i = 0; i < n; i++)
        socket_view_json(v, i, &w);
    json_writer_array_end(&w);
    json_writer_key_literal(&w, "summary");
    write_summary(v, &w);
    json_writer_object_end(&w);
    json_writer_end_document(&w);
}

void socket_view_warn_unattributed(const struct socket_view_context *v, const char *command)
{
    const struct inspect_result *res = v->res;
    if (!res->processes_looked_up || res->unattributed == 0 || res->procmap.processes_denied == 0)
        return;
    fprintf(stderr,
            "portreg: %s: %zu socket%s not attributed to a process: the open files of %u "
            "process%s were not readable (run as root, or with CAP_SYS_PTRACE and "
            "CAP_DAC_READ_SEARCH)\n",
            command, res->unattributed, res->unattributed == 1 ? "" : "s",
            res->procmap.processes_denied, res->procmap.processes_denied == 1 ? "" : "es");
}
