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
#include "registry/record.h"

struct uid_name_cache {
    struct { uint32_t uid; char name[64]; } items[64];
    size_t count;
};

struct uid_name_cache *uid_name_cache_new(void)
{
    return calloc(1, sizeof(struct uid_name_cache));
}

const char *uid_name(struct uid_name_cache *cache, uint32_t uid)
{
    for (size_t i = 0; i < cache->count; i++)
        if (cache->items[i].uid == uid)
            return cache->items[i].name;
    size_t slot = cache->count < 64 ? cache->count++ : uid % 64;
    cache->items[slot].uid = uid;
    struct passwd pw, *found = NULL;
    char buf[1024];
    if (getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &found) == 0 && found)
        snprintf(cache->items[slot].name, sizeof cache->items[slot].name, "%s", pw.pw_name);
    else
        snprintf(cache->items[slot].name, sizeof cache->items[slot].name, "%u", uid);
    return cache->items[slot].name;
}

void uid_name_cache_free(struct uid_name_cache *cache)
{
    free(cache);
}

const char *socket_view_endpoint(const struct socket_entry *s, bool peer, char *buf, size_t size)
{
    const uint8_t *addr = peer ? s->peer_addr : s->local_addr;
    uint16_t port = peer ? s->peer_port : s->local_port;
    static const uint8_t zero[16] = { 0 };
    if (peer && port == 0 && memcmp(addr, zero, 16) == 0) {
        snprintf(buf, size, "*:*");
        return buf;
    }
    char text[64], dev[IF_NAMESIZE + 2] = "";
    socket_address_text(s->family, addr, text, sizeof text);
    if (!peer && s->bound_ifindex) {
        char name[IF_NAMESIZE];
        if (if_indextoname(s->bound_ifindex, name))
            snprintf(dev, sizeof dev, "%%%s", name);
    }
    if (s->family == AF_INET6)
        snprintf(buf, size, "[%s]%s:%u", text, dev, port);
    else
        snprintf(buf, size, "%s%s:%u", text, dev, port);
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
    if (others)
        snprintf(buf, size, "%u/%s +%u", h->pid, p && p->comm[0] ? p->comm : "?", others);
    else
        snprintf(buf, size, "%u/%s", h->pid, p && p->comm[0] ? p->comm : "?");
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
    else if (cg && cg->unit[0])
        snprintf(buf, size, "%s", cg->unit);
    else
        snprintf(buf, size, "-");
    return buf;
}

const char *socket_view_service(const struct socket_view_context *v, const struct socket_entry *s)
{
    if (!v->registry)
        return NULL;
    size_t n;
    const uint32_t *ids = registry_index_port_records(v->registry, s->local_port, &n);
    for (size_t k = 0; ids && k < n; k++) {
        struct registry_record rec;
        if (registry_index_record(v->registry, ids[k], &rec) && rec.status == REGISTRY_STATUS_ASSIGNED &&
            rec.service[0] && (rec.proto == s->proto || rec.proto == REGISTRY_PROTO_ANY))
            return rec.service;
    }
    return NULL;
}

/* "mysqld" runs "mysql", "sshd" runs "ssh", "postgres" runs "postgresql": the command and the
 * service name share their first four letters, or one contains the other. */
static bool command_matches_service(const char *comm, const char *service)
{
    if (!comm[0])
        return true;   /* unknown command: no claim */
    if (strcasestr(comm, service) || strcasestr(service, comm))
        return true;
    size_t n = strlen(service) < 4 ? strlen(service) : 4;
    return strncasecmp(comm, service, n) == 0;
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
    return p && !command_matches_service(p->comm, service);
}

void socket_view_json(const struct socket_view_context *v, size_t i, struct json_writer *w)
{
    const struct inspect_result *res = v->res;
    const struct socket_entry *s = &res->sockets.items[i];
    char addr[64];
    json_writer_object_begin(w);
    json_writer_key(w, "proto");
    json_writer_string(w, registry_proto_name(s->proto));
    json_writer_key(w, "family");
    json_writer_string(w, s->family == AF_INET6 ? "ipv6" : "ipv4");
    json_writer_key(w, "state");
    json_writer_string(w, socket_state_name(s->proto, s->state));
    json_writer_key(w, "local_address");
    json_writer_string(w, socket_address_text(s->family, s->local_addr, addr, sizeof addr));
    json_writer_key(w, "local_port");
    json_writer_uint(w, s->local_port);
    json_writer_key(w, "peer_address");
    json_writer_string(w, socket_address_text(s->family, s->peer_addr, addr, sizeof addr));
    json_writer_key(w, "peer_port");
    json_writer_uint(w, s->peer_port);
    json_writer_key(w, "v6only");
    if (s->family == AF_INET6)
        json_writer_bool(w, s->v6only);
    else
        json_writer_null(w);
    json_writer_key(w, "device");
    char dev[IF_NAMESIZE];
    json_writer_string(w, s->bound_ifindex && if_indextoname(s->bound_ifindex, dev) ? dev : NULL);
    json_writer_key(w, "inode");
    json_writer_uint(w, s->inode);
    json_writer_key(w, "uid");
    json_writer_uint(w, s->uid);
    json_writer_key(w, "user");
    json_writer_string(w, uid_name(v->users, s->uid));
    json_writer_key(w, "netns");
    json_writer_uint(w, s->netns);
    const struct inspected_netns *ns = inspect_netns(res, s->netns);
    json_writer_key(w, "netns_name");
    json_writer_string(w, ns && ns->name[0] ? ns->name : NULL);
    json_writer_key(w, "recv_queue");
    json_writer_uint(w, s->recv_queue);
    json_writer_key(w, "send_queue");
    json_writer_uint(w, s->send_queue);

    json_writer_key(w, "processes");
    if (!res->processes_looked_up) {
        json_writer_null(w);
    } else {
        json_writer_array_begin(w);
        for (uint32_t k = 0; k < res->holder_count[i]; k++) {
            const struct socket_holder *h = &res->holders[res->holder_start[i] + k];
            const struct process_info *p = inspect_process(res, h->pid);
            json_writer_object_begin(w);
            json_writer_key(w, "pid");
            json_writer_uint(w, h->pid);
            json_writer_key(w, "name");
            json_writer_string(w, p && p->comm[0] ? p->comm : NULL);
            json_writer_key(w, "fd");
            json_writer_int(w, h->fd);
            json_writer_key(w, "uid");
            if (p && p->uid != UINT32_MAX)   /* UINT32_MAX: status was not readable */
                json_writer_uint(w, p->uid);
            else
                json_writer_null(w);
            json_writer_object_end(w);
        }
        json_writer_array_end(w);
    }
    const struct cgroup_identity *cg = socket_cgroup(v, i);
    json_writer_key(w, "unit");
    json_writer_string(w, cg && cg->unit[0] ? cg->unit : NULL);
    json_writer_key(w, "container");
    if (cg && (cg->container_id[0] || cg->pod_uid[0])) {
        json_writer_object_begin(w);
        json_writer_key(w, "runtime");
        json_writer_string(w, cg->container_runtime[0] ? cg->container_runtime : NULL);
        json_writer_key(w, "id");
        json_writer_string(w, cg->container_id[0] ? cg->container_id : NULL);
        json_writer_key(w, "pod_uid");
        json_writer_string(w, cg->pod_uid[0] ? cg->pod_uid : NULL);
        json_writer_object_end(w);
    } else {
        json_writer_null(w);
    }
    const char *service = socket_view_service(v, s);
    json_writer_key(w, "service");
    json_writer_string(w, service);
    json_writer_key(w, "service_mismatch");
    json_writer_bool(w, socket_view_service_mismatch(v, i, service));
    json_writer_key(w, "exposure");
    json_writer_string(w, socket_exposure_id(socket_exposure_of(s)));
    json_writer_key(w, "ephemeral");
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

static void fill_row(const struct socket_view_context *v, size_t i, char cells[COL_COUNT][160])
{
    const struct socket_entry *s = &v->res->sockets.items[i];
    char family_proto[16];
    snprintf(family_proto, sizeof family_proto, "%s%s", registry_proto_name(s->proto),
             s->family == AF_INET6 ? "6" : "");
    snprintf(cells[COL_PROTO], 160, "%s", family_proto);
    snprintf(cells[COL_STATE], 160, "%s", socket_state_name(s->proto, s->state));
    socket_view_endpoint(s, false, cells[COL_LOCAL], 160);
    socket_view_endpoint(s, true, cells[COL_PEER], 160);
    socket_view_processes(v, i, cells[COL_PROCESS], 160);
    snprintf(cells[COL_USER], 160, "%s", uid_name(v->users, s->uid));
    socket_view_unit(v, i, cells[COL_UNIT], 160);
    const char *service = socket_view_service(v, s);
    snprintf(cells[COL_SERVICE], 160, "%s%s", service ? service : "-",
             socket_view_service_mismatch(v, i, service) ? " (!)" : "");
    enum socket_exposure e = socket_exposure_of(s);
    snprintf(cells[COL_EXPOSURE], 160, "%s", socket_exposure_id(e));
    const struct inspected_netns *ns = inspect_netns(v->res, s->netns);
    if (ns && ns->name[0])
        snprintf(cells[COL_NETNS], 160, "%.150s", ns->name);
    else
        snprintf(cells[COL_NETNS], 160, "%lu", (unsigned long)s->netns);
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
    char (*cells)[160] = malloc(sizeof(char[COL_COUNT][160]));
    if (!cells)
        abort();
    size_t n = v->res->sockets.count;

    if (!ctx->stdout_is_tty) {
        /* streamed, no per-cell copies: this path prints 100k rows */
        for (size_t i = 0; i < n; i++) {
            fill_row(v, i, (char (*)[160])cells);
            bool first = true;
            for (int c = 0; c < COL_COUNT; c++) {
                if (!shown[c])
                    continue;
                if (!first)
                    putc_unlocked('\t', stdout);
                fputs(cells[c], stdout);
                first = false;
            }
            putc_unlocked('\n', stdout);
        }
        free(cells);
        return;
    }

    /* TTY: measure every column, then drop the least useful ones until the rest fits */
    size_t width[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++)
        width[c] = strlen(column_headers[c]);
    for (size_t i = 0; i < n; i++) {
        fill_row(v, i, (char (*)[160])cells);
        for (int c = 0; c < COL_COUNT; c++)
            if (strlen(cells[c]) > width[c])
                width[c] = strlen(cells[c]);
    }
    unsigned columns = terminal_width();
    for (size_t d = 0; d < sizeof drop_order / sizeof drop_order[0]; d++) {
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
        fill_row(v, i, (char (*)[160])cells);
        const char *row[COL_COUNT];
        unsigned k = 0;
        for (int c = 0; c < COL_COUNT; c++)
            if (shown[c])
                row[k++] = cells[c];
        cli_table_add_row(table, row);
    }
    cli_table_print(table, ctx, stdout);
    cli_table_free(table);
    free(cells);
}

static void write_summary(const struct socket_view_context *v, struct json_writer *w)
{
    const struct inspect_result *res = v->res;
    json_writer_object_begin(w);
    json_writer_key(w, "sockets");
    json_writer_uint(w, res->sockets.count);
    json_writer_key(w, "processes_looked_up");
    json_writer_bool(w, res->processes_looked_up);
    json_writer_key(w, "unattributed");
    json_writer_uint(w, res->unattributed);
    json_writer_key(w, "processes_denied");
    json_writer_uint(w, res->procmap.processes_denied);
    json_writer_key(w, "process_method");
    json_writer_string(w, res->procmap.method_used == PROCMAP_METHOD_BPF    ? "bpf"
                          : res->procmap.method_used == PROCMAP_METHOD_PROC ? "proc"
                                                                            : NULL);   /* none ran */
    json_writer_key(w, "netns");
    json_writer_array_begin(w);
    for (size_t k = 0; k < res->netns_count; k++) {
        const struct inspected_netns *ns = &res->netns[k];
        json_writer_object_begin(w);
        json_writer_key(w, "inode");
        json_writer_uint(w, ns->inode);
        json_writer_key(w, "name");
        json_writer_string(w, ns->name[0] ? ns->name : NULL);
        json_writer_key(w, "pid");
        if (ns->pid)
            json_writer_uint(w, ns->pid);
        else
            json_writer_null(w);
        json_writer_key(w, "entered");
        json_writer_bool(w, ns->entered);
        json_writer_object_end(w);
    }
    json_writer_array_end(w);
    json_writer_key(w, "netns_failed");
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
    json_writer_key(&w, "sockets");
    json_writer_array_begin(&w);
    for (size_t i = 0; i < n; i++)
        socket_view_json(v, i, &w);
    json_writer_array_end(&w);
    json_writer_key(&w, "summary");
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
