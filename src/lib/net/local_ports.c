/* local_ports.c — placeholder until written. */
#include <errno.h>
