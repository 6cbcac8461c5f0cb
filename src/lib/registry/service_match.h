/* service_match.h — does a process plausibly run the service IANA registered for its port?
 * "mysqld" runs "mysql", "sshd" runs "ssh", "postgres" runs "postgresql" (a shared prefix or
 * one name inside the other), plus the well-known programs whose names say nothing about the
 * protocol (dnsmasq, unbound and systemd-resolve run "domain"; master and exim4 run "smtp").
 * Used by `ls` (the mismatch flag) and `audit` (registry-mismatch) so both agree. */
#ifndef PORTREG_REGISTRY_SERVICE_MATCH_H
#define PORTREG_REGISTRY_SERVICE_MATCH_H

#include <stdbool.h>
#include <stdint.h>

/* True when comm (a /proc/PID/comm, may be "") may run service; an unknown comm makes no
 * claim and matches. */
bool service_matches_command(const char *service, const char *comm);
/* Ports where any program may serve the registered protocol (http, https, http-alt...):
 * a different program there says nothing. */
bool service_is_generic(const char *service);

#endif
