/* service_match.c — service name vs command name, with a table of well-known programs. */
#include "registry/service_match.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

struct known_programs {
    const char *service;
    const char *programs[10];   /* command-name prefixes */
};

static const struct known_programs known[] = {
    { "domain", { "named", "dnsmasq", "unbound", "systemd-resolve", "coredns", "pdns", "knot",
                  "kresd", "bind" } },
    { "ssh", { "sshd", "dropbear", "teleport" } },
    { "smtp", { "master", "exim", "sendmail", "postfix", "smtpd", "opensmtpd" } },
    { "submission", { "master", "exim", "sendmail", "postfix", "smtpd", "opensmtpd" } },
    { "submissions", { "master", "exim", "sendmail", "postfix", "smtpd", "opensmtpd" } },
    { "ntp", { "chronyd", "ntpd", "systemd-timesyn", "openntpd" } },
    { "bootps", { "dhcpd", "dnsmasq", "kea-dhcp4", "systemd-network", "NetworkManager" } },
    { "bootpc", { "dhclient", "dhcpcd", "systemd-network", "NetworkManager", "udhcpc" } },
    { "imap", { "dovecot", "imap" } },
    { "imaps", { "dovecot", "imap" } },
    { "pop3", { "dovecot", "pop3" } },
    { "pop3s", { "dovecot", "pop3" } },
    { "sunrpc", { "rpcbind", "portmap" } },
    { "microsoft-ds", { "smbd" } },
    { "netbios-ssn", { "smbd" } },
    { "ldap", { "slapd" } },
    { "ldaps", { "slapd" } },
    { "postgresql", { "postgres" } },
    { "mysql", { "mysqld", "mariadbd" } },
};

static const char *const generic[] = {
    "http", "https", "www-http", "http-alt", "http-proxy", "webcache", "http-mgmt",
};

bool service_is_generic(const char *service)
{
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcasecmp(service, generic[i]) == 0)
            return true;
    return false;
}

bool service_matches_command(const char *service, const char *comm)
{
    if (!comm || !comm[0] || !service || !service[0])
        return true;
    if (strcasestr(comm, service) || strcasestr(service, comm))
        return true;
    size_t n = strlen(service) < 4 ? strlen(service) : 4;
    if (strncasecmp(comm, service, n) == 0)
        return true;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcasecmp(service, known[i].service) != 0)
            continue;
        for (size_t k = 0; k < 10 && known[i].programs[k]; k++)
            if (strncasecmp(comm, known[i].programs[k], strlen(known[i].programs[k])) == 0)
                return true;
    }
    return false;
}
