/* nmap_services.c — placeholder until written. */
#include <errno.h>
