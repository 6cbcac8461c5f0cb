/* socket_view.h — how the inspector's sockets are shown, shared by `ls` and `who`: the text of
 * each column (address, process, user, unit/container, IANA service, exposure) and one socket
 * as a JSON object through the streaming writer. Field names are stable (portreg-ls(1)). */
#ifndef PORTREG_CLI_SOCKET_VIEW_H
#define PORTREG_CLI_SOCKET_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "net/inspect.h"
#include "net/local_ports.h"
#include "registry/index.h"
#include "util/json_writer.h"

struct socket_view_cache;

struct socket_view_context {
    const struct inspect_result *res;
    const struct registry_index *registry;   /* NULL: no SERVICE column */
    const struct local_ports *host;
    struct socket_view_cache *cache;         /* user names, the last port's service */
};

/* Caches for a listing of many rows: uid → user name, (port, protocol) → IANA service. */
struct socket_view_cache *socket_view_cache_new(void);
void socket_view_cache_free(struct socket_view_cache *cache);
const char *uid_name(struct socket_view_cache *cache, uint32_t uid);

/* False for sockets the kernel holds for no one (TIME-WAIT, SYN-RECV request sockets): the
 * kernel reports uid 0 for them, which is not root's. */
bool socket_view_has_owner(const struct socket_entry *s);
/* The USER column: the owner's name, or "-" for a socket no user owns. */
const char *socket_view_user(const struct socket_view_context *v, const struct socket_entry *s);
/* The NETNS column: the /run/netns name, "host" for the host's namespace (init's; the caller's
 * own when init's was not visible), else the inode in decimal. */
const char *socket_view_netns(const struct socket_view_context *v, uint64_t inode, char *buf, size_t size);

/* "127.0.0.1:22", "[::]:80", "0.0.0.0%eth0:53", "*:*" for an unconnected peer. */
const char *socket_view_endpoint(const struct socket_entry *s, bool peer, char *buf, size_t size);
/* "812/nginx", "812/nginx +3", "-" */
const char *socket_view_processes(const struct socket_view_context *v, size_t i, char *buf, size_t size);
/* The systemd unit or "docker:0123456789ab" / "pod:UID" of the first holder, or of the
 * namespace's owner; "-" when none. */
const char *socket_view_unit(const struct socket_view_context *v, size_t i, char *buf, size_t size);
/* IANA service registered for the local port and protocol, or NULL. */
const char *socket_view_service(const struct socket_view_context *v, const struct socket_entry *s);
/* True when a holder's command is clearly not the registered service (see the man page). */
bool socket_view_service_mismatch(const struct socket_view_context *v, size_t i, const char *service);

void socket_view_json(const struct socket_view_context *v, size_t i, struct json_writer *w);



#include "cli.h"

struct socket_table_options {
    bool show_peer;      /* a PEER column (when not only listening sockets are shown) */
    bool show_netns;     /* a NETNS column (--all-netns) */
};

/* The sockets as a table (TTY: aligned, header, columns dropped to fit the terminal width;
 * piped: every column, tab-separated, no header). */
void socket_view_print_table(const struct socket_view_context *v, const struct cli_context *ctx,
                             const struct socket_table_options *opt);
/* One JSON document {"sockets": [...], "summary": {...}}, or with ndjson one socket per line. */
void socket_view_print_json(const struct socket_view_context *v, const struct cli_context *ctx,
                            bool ndjson);
/* "N sockets could not be attributed ..." on stderr when processes were asked for and some
 * file tables were not readable. */
void socket_view_warn_unattributed(const struct socket_view_context *v, const char *command);

enum socket_sort { SORT_PORT, SORT_PROCESS, SORT_ADDRESS };
/* Reorder sockets (and their holder ranges) by key; -ENOMEM. (cmd_ls.c) */
int cli_sort_sockets(struct inspect_result *res, enum socket_sort key);
/* --port SPEC with service names resolved through the registry (opened into *ix on first
 * use); prints the error and returns CLI_EXIT_USAGE on bad input. (cmd_ls.c) */
int cli_parse_port_option(const struct cli_context *ctx, const char *command, const char *text,
                          struct portspec *spec, struct registry_index **ix);
/* The same for an option of another name ("-p"), or for an operand (option NULL: the
 * message names the word typed alone, as `who -1024x` does). */
int cli_parse_port_spec(const struct cli_context *ctx, const char *command, const char *option,
                        const char *text, struct portspec *spec, struct registry_index **ix);
/* --method auto|bpf|proc. (cmd_ls.c) */
int cli_parse_method_option(const char *command, const char *text, enum procmap_method *method);
/* The registry (unless *ix is already open; a failure leaves *ix NULL and the SERVICE column
 * empty) and this host's port sysctls, for the view of a listing. (cmd_ls.c) */
void cli_prepare_socket_view(const struct cli_context *ctx, struct registry_index **ix,
                             struct local_ports *host);
/* --user NAME|UID. (cmd_ls.c) */
int cli_parse_user_option(const char *command, const char *text, uint32_t *uid);
#endif
