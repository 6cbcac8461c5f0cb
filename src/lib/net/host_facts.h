/* host_facts.h — the bind-related sysctls of this host's network namespace, read under a proc
 * root so tests can point it at a fixture tree: net.ipv4.ip_unprivileged_port_start,
 * net.ipv4.tcp_fin_timeout and net.ipv6.bindv6only. Consumers: check and plan (their
 * warnings and the privileged-port verdict). */
#ifndef PORTREG_NET_HOST_FACTS_H
#define PORTREG_NET_HOST_FACTS_H

#include "util/error.h"

struct host_facts {
    int unprivileged_port_start;   /* -1 when unknown */
    int tcp_fin_timeout;           /* seconds; -1 when unknown */
    int bindv6only;                /* 0 or 1; -1 when unknown (no IPv6) */
};

/* One integer sysctl, name relative to PROC/sys ("net/ipv4/tcp_fin_timeout"); proc_root NULL
 * = "/proc". 0 with *value; -ENOENT when absent; -EINVAL when the file holds no integer. */
int host_sysctl_read_int(const char *proc_root, const char *name, int *value, struct pr_error *err);
/* All three; what cannot be read is -1 (never fails: these only refine warnings). */
void host_facts_read(const char *proc_root, struct host_facts *out);

#endif
